//! What a scoring run saw besides its verdicts: the input accounting, the session counters,
//! which layer of the nomenclature named the records, and the templates behind template states
//! (`DIR/run.json`, read back by `logsieve report`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::normalize::miner::Miner;
use crate::normalize::Coverage;
use crate::read::{InputStats, RunStats};
use crate::session::SessionStats;

/// One input's line accounting, as the report shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InputRow {
    /// The input as named.
    pub file: String,
    /// Lines read.
    pub read: u64,
    /// Lines that gave a record.
    pub parsed: u64,
    /// Lines skipped, by reason.
    pub skipped: BTreeMap<String, u64>,
    /// Records without a usable timestamp.
    pub without_timestamp: u64,
    /// Why reading stopped early, if it did.
    pub error: Option<String>,
}

impl From<&InputStats> for InputRow {
    fn from(i: &InputStats) -> Self {
        InputRow {
            file: i.file.clone(),
            read: i.read,
            parsed: i.parsed,
            skipped: i.skipped.clone(),
            without_timestamp: i.without_timestamp,
            error: i.error.clone(),
        }
    }
}

/// What a scoring run saw besides its verdicts: `DIR/run.json`, read back by `logsieve report`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunInfo {
    /// The logsieve version that scored.
    pub logsieve: String,
    /// The model path as given to `score`.
    pub model: String,
    /// Per input.
    pub inputs: Vec<InputRow>,
    /// All inputs.
    pub total: InputRow,
    /// Session counters.
    pub sessions: SessionStats,
    /// Which layer named the records.
    pub coverage: Coverage,
    /// The message template behind each template state (`<process>:<template name>`) the run
    /// saw or the model knows, as the scoring normalizer's miner held it at the end: the report
    /// shows the whole message a state's name abbreviates.
    pub templates: BTreeMap<String, String>,
}

impl RunInfo {
    /// The run's facts, from the reader's and the sessionizer's counters.
    pub fn new(model: &str, run: &RunStats, sessions: SessionStats, coverage: Coverage) -> Self {
        RunInfo {
            logsieve: env!("CARGO_PKG_VERSION").to_owned(),
            model: model.to_owned(),
            inputs: run.inputs.iter().map(InputRow::from).collect(),
            total: InputRow::from(&run.total),
            sessions,
            coverage,
            templates: BTreeMap::new(),
        }
    }

    /// Fills [`RunInfo::templates`] for those of `states` it does not describe yet, from the
    /// miner that named them.
    pub fn describe<'s>(&mut self, states: impl IntoIterator<Item = &'s str>, miner: &Miner) {
        for name in states {
            if self.templates.contains_key(name) {
                continue;
            }
            if let Some(t) = template_of(name, miner) {
                self.templates.insert(name.to_owned(), t.to_owned());
            }
        }
    }

    /// Fills [`RunInfo::templates`] for those of `states` that a model's `--templates` names
    /// (event ids of sequences).
    pub fn describe_ids<'s>(&mut self, states: impl IntoIterator<Item = &'s str>, templates: &BTreeMap<String, String>) {
        for name in states {
            if let Some(t) = templates.get(name) {
                self.templates.entry(name.to_owned()).or_insert_with(|| t.clone());
            }
        }
    }

    /// Writes `DIR/run.json`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join("run.json");
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        std::fs::write(&path, text + "\n").map_err(|source| Error::Write { path: path.display().to_string(), source })
    }

    /// Reads `DIR/run.json`.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join("run.json");
        let name = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Open { path: name.clone(), source })?;
        serde_json::from_str(&text).map_err(|e| Error::Input { path: name, line: e.line() as u64, message: e.to_string() })
    }
}

/// The message template a template state (`<process>:<template name>`) names, if `miner` holds it.
fn template_of<'m>(state: &str, miner: &'m Miner) -> Option<&'m str> {
    let (_, name) = state.rsplit_once(':')?;
    miner.named(name).map(|t| t.template)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_states_are_described_by_the_miner_that_named_them() {
        let mut miner = Miner::default();
        let name = miner.add("Deleting block blk_1 file /data/blk_1").name.to_owned();
        assert_eq!(name, "deleting-block-file");
        miner.add("Deleting block blk_2 file /data/blk_2");
        let mut info = RunInfo::default();
        let state = format!("dfs.FSDataset:{name}");
        let others = ["authentication.login.failure", "E5", "sshd:x", "sshd.0", "GET:/*:4xx"];
        info.describe(std::iter::once(state.as_str()).chain(others), &miner);
        assert_eq!(info.templates.len(), 1, "{:?}", info.templates);
        assert_eq!(info.templates[&state], "Deleting block <*> file <*>");
        // What is described already stays: the scoring run's miner goes first.
        info.templates.insert(state.clone(), "as scored".into());
        info.describe([state.as_str()], &miner);
        assert_eq!(info.templates[&state], "as scored");
    }
}

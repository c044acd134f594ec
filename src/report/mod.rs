//! The report stage: `DIR/report.html`, one self-contained page (no network; plots are inline
//! SVG drawn with plotters) that a reviewer reads first.
//!
//! It shows the input summary, the score of every session over log time (or input order) with the
//! threshold, the score histogram of the new sessions against the held-out training sessions, the
//! states whose frequency moved most between training and the new logs, which layer of the
//! nomenclature named the records, and the most anomalous sessions with their state sequence
//! (unseen windows marked), new values, reasons in plain words and the raw input lines behind
//! them. Everything taken from the logs is escaped: a line holding `<script>` stays text.
//!
//! `score` writes the page together with `run.json` (the input accounting); `logsieve report DIR`
//! draws it again from `scores.jsonl`, `run.json` and the model, reading the raw lines again.

use std::io::Write;
use std::path::Path;

mod causes;
mod collector;
mod findings;
mod page;
mod plots;
mod run;

pub use crate::normalize::Coverage;
pub use causes::{cause, Cause};
pub use collector::{marks, pick, Collector, Listed};
pub use page::{esc, write_page};
pub use run::{InputRow, RunInfo};

use crate::error::{Error, Result};

/// At most this many sessions are listed in the table.
const TOP: usize = 50;
/// At most this many points are kept for the timeline (halved by stride when full).
const POINTS: usize = 20_000;
/// Raw lines shown per listed session.
const RAW_LINES: usize = 30;
/// Reasons shown before the rest is folded away.
const REASONS: usize = 6;
/// Raw lines are cut to this many characters.
const RAW_CHARS: usize = 400;
/// At most this many findings about entities are listed (each is one entity, event and time
/// bucket, so there are far fewer than sessions).
const FINDINGS: usize = 5_000;
/// At most this many distinct causes are counted (new values can be many).
const CAUSES: usize = 10_000;

/// `logsieve report DIR`: draws `DIR/report.html` again from `DIR/scores.jsonl`, `DIR/run.json`
/// and the model (`model`, else the one `run.json` names). Returns the page's path.
pub fn rebuild(dir: &Path, model: Option<&Path>, out: Option<&Path>) -> Result<std::path::PathBuf> {
    let info = RunInfo::load(dir)?;
    let model_path = model.map(Path::to_path_buf).unwrap_or_else(|| info.model.clone().into());
    let model = crate::model::file::load(&model_path)?;
    let single = match info.inputs.as_slice() {
        [one] => one.file.clone(),
        _ => "-".to_owned(),
    };
    let mut c = Collector::default();
    crate::output::for_each_row(&dir.join("scores.jsonl"), |row| {
        c.push_row(&row, &single);
        Ok(())
    })?;
    c.attach_raw_lines();
    let mut info = RunInfo { model: model_path.display().to_string(), ..info };
    // A run.json from before templates were kept: the model's miner describes what it knows.
    if let Some(miner) = &model.miner {
        info.describe(c.states().chain(model.states.iter().map(String::as_str)), miner);
    }
    if !model.templates.is_empty() {
        info.describe_ids(c.states().chain(model.states.iter().map(String::as_str)), &model.templates);
    }
    let path = out.map(Path::to_path_buf).unwrap_or_else(|| dir.join("report.html"));
    write_file(&path, &c, &model, &info, &dir.join("scores.jsonl"))?;
    Ok(path)
}

/// Writes the report page to `path` ([`write_page`]); `scores` is the `scores.jsonl` the page
/// names in its `allow` commands.
pub fn write_file(path: &Path, c: &Collector, model: &crate::model::Model, info: &RunInfo, scores: &Path) -> Result<()> {
    let error = |source| Error::Write { path: path.display().to_string(), source };
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(error)?);
    write_page(&mut out, c, model, info, scores).map_err(error)?;
    out.flush().map_err(error)
}

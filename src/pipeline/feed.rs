//! What `train`, `score` and `watch` share: the options from flags and config file, the model
//! loaded for scoring, and feeding the inputs through normalize and sessionize.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use regex::Regex;

use super::for_each_event;
use crate::activity::Act;
use crate::cli::{InputArgs, SessionArgs, TrainArgs};
use crate::error::{Error, Result};
use crate::model::{compile_key, file, Model, TrainOptions, TrainParams};
use crate::normalize::rules::RuleSet;
use crate::normalize::{Coverage, Normalizer};
use crate::read::RunStats;
use crate::session::step::{Stepped, Stepper};
use crate::session::{LineRef, Session, SessionConfig, SessionStats, Sessionizer, States};

impl SessionArgs {
    /// Applies the session flags over a configuration and its session key.
    pub(super) fn apply(&self, cfg: &mut SessionConfig, key: &mut Option<String>) {
        if let Some(k) = &self.session_key {
            *key = Some(k.clone());
        }
        if let Some(t) = self.idle_timeout {
            cfg.idle_timeout = t;
        }
        if let Some(t) = self.end_grace {
            cfg.end_grace = t;
        }
        if let Some(n) = self.max_open_sessions {
            cfg.max_open = n;
        }
        if let Some(n) = self.window {
            cfg.window.events = n;
        }
        if let Some(s) = self.window_secs {
            cfg.window.seconds = Some(s);
        }
        if let Some(s) = self.window_step {
            cfg.window.step = Some(s);
        }
    }
}

/// Reads `--templates FILE`: one message template per line, line N for event id N (as
/// `HDFS_templates.csv` ships them), or loghub's `EventId,EventTemplate` CSV (an id `E5` is
/// also known as `5`).
pub(super) fn read_templates(path: &Path) -> Result<BTreeMap<String, String>> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| Error::Open { path: name.clone(), source })?;
    let mut out = BTreeMap::new();
    let mut lines = text.lines().peekable();
    if lines.peek().is_some_and(|l| l.trim_start_matches('\u{feff}').starts_with("EventId,")) {
        let mut reader = csv::ReaderBuilder::new().from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        let headers = reader.headers().map_err(|e| Error::Input { path: name.clone(), line: 1, message: e.to_string() })?.clone();
        let col = |n: &str| headers.iter().position(|h| h == n);
        let (Some(id), Some(tpl)) = (col("EventId"), col("EventTemplate")) else {
            return Err(Error::Input { path: name, line: 1, message: "a CSV of templates needs EventId and EventTemplate columns".into() });
        };
        for row in reader.records() {
            let row =
                row.map_err(|e| Error::Input { path: name.clone(), line: e.position().map_or(0, |p| p.line()), message: e.to_string() })?;
            let (Some(k), Some(t)) = (row.get(id), row.get(tpl)) else { continue };
            if let Some(digits) = k.strip_prefix('E').filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())) {
                out.insert(digits.to_owned(), t.to_owned());
            }
            out.insert(k.to_owned(), t.to_owned());
        }
    } else {
        for (i, line) in text.lines().enumerate() {
            if !line.trim().is_empty() {
                out.insert((i + 1).to_string(), line.trim().to_owned());
            }
        }
    }
    if out.is_empty() {
        return Err(Error::Input { path: name, line: 0, message: "no templates in the file".into() });
    }
    Ok(out)
}

impl TrainArgs {
    /// The training options: the config file's (or the defaults), the flags over them, checked;
    /// and whether the window length was given (by flag or config).
    pub(super) fn params(&self) -> Result<(TrainParams, bool)> {
        let mut ngram_given = self.ngram.is_some();
        let mut options = match &self.config {
            Some(path) => {
                let name = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|source| Error::Open { path: name.clone(), source })?;
                let table: toml::Table = toml::from_str(&text).map_err(|e| Error::Usage(format!("{name}: {e}")))?;
                ngram_given |= table.contains_key("ngram");
                toml::from_str::<TrainOptions>(&text).map_err(|e| Error::Usage(format!("{name}: {e}")))?
            }
            None => TrainOptions::default(),
        };

        self.session.apply(&mut options.session, &mut options.session_key);
        if let Some(n) = self.ngram {
            options.ngram = usize::from(n);
        }
        if let Some(r) = self.max_fpr {
            options.max_fpr = r;
        }
        if let Some(c) = self.contamination {
            options.contamination = c;
        }
        for e in &self.entity {
            if !options.entities.contains(e) {
                options.entities.push(e.clone());
            }
        }
        if let Some(b) = self.rate_bucket {
            options.rate_bucket = b;
        }
        Ok((options.check()?, ngram_given))
    }
}

/// How feeding cuts sessions and what it follows.
pub(super) struct Options<'a> {
    /// The session key regex (`--session-key`), if any.
    pub key: Option<&'a Regex>,
    /// Parameter fields learned.
    pub params: &'a [String],
    /// Entity fields followed across sessions.
    pub entities: &'a [String],
    /// How sessions are cut.
    pub session: &'a SessionConfig,
}

/// What feeding the inputs through normalize and sessionize gave.
pub(super) struct Fed {
    pub run: RunStats,
    pub sessions: SessionStats,
    pub events: u64,
    /// Which layer named each record's state.
    pub coverage: Coverage,
    /// The input files, as lines refer to them.
    pub files: Vec<String>,
}

/// Reads the inputs, normalizes each record, and hands each closed session to `sink`. Gives the
/// normalizer back (its miner has learnt the messages).
#[allow(clippy::too_many_arguments)]
pub(super) fn feed(
    input: &InputArgs,
    normalizer: Normalizer,
    states: &mut States,
    options: &Options<'_>,
    templates: &BTreeMap<String, String>,
    mut sink: impl FnMut(Session, &States, &[String]) -> Result<()>,
    mut observe: impl FnMut(&Act),
) -> Result<(Fed, Normalizer)> {
    let mut sessionizer = Sessionizer::new(options.session.clone());
    let mut stepper = Stepper::new(options.key, options.params).with_templates(templates).with_entities(options.entities);
    let mut files: Vec<String> = Vec::new();
    // The first error from `sink` (see `hand_on`).
    let mut failed: Option<Error> = None;
    let mut sequences = 0u64;
    let (run, normalizer) = for_each_event(input, normalizer, |rec, event, origin| {
        if files.last().map(String::as_str) != Some(origin.file) {
            files.push(origin.file.to_owned());
        }
        let line = LineRef { file: (files.len() - 1) as u32, line: origin.line };
        match stepper.step_event(rec, event, origin, line, states) {
            Stepped::Sequence(s) => {
                sequences += 1;
                sink(s, states, &files)?;
            }
            Stepped::Step(step) => {
                if let Some(act) = &stepper.act {
                    observe(act);
                }
                sessionizer.push(&stepper.keys, origin.file, step, &mut hand_on(&mut sink, states, &files, &mut failed));
                if let Some(e) = failed.take() {
                    return Err(e);
                }
            }
            Stepped::Unkeyed => {}
        }
        Ok(())
    })?;
    sessionizer.finish(&mut hand_on(&mut sink, states, &files, &mut failed));
    if let Some(e) = failed {
        return Err(e);
    }
    let mut stats = sessionizer.stats();
    stats.sessions += sequences;
    let mut coverage = stepper.coverage;
    coverage.skipped = run.total.skipped_total();
    let fed = Fed { run, sessions: stats, events: stepper.events, coverage, files };
    Ok((fed, normalizer))
}

/// The sessionizer's callback: each session goes to `sink` as it closes (a burst of closes, at the
/// end of the input or a jump in log time, would otherwise hold every one of them at once,
/// unpacked). The first error is kept in `failed`, and nothing is handed on after it.
fn hand_on<'a>(
    sink: &'a mut impl FnMut(Session, &States, &[String]) -> Result<()>,
    states: &'a States,
    files: &'a [String],
    failed: &'a mut Option<Error>,
) -> impl FnMut(Session) + 'a {
    move |s| {
        if failed.is_none() {
            *failed = sink(s, states, files).err();
        }
    }
}

/// The session counters on stderr (unless quiet); `key` is the session key in use, and whether
/// the run gave it (else it is the model's, from training).
pub(super) fn report_sessions(fed: &Fed, quiet: bool, key: Option<(&str, bool)>) {
    if quiet {
        return;
    }
    let s = &fed.sessions;
    eprintln!(
        "logsieve: {} records, {} sessions ({} windows, {} timed out, {} evicted at the cap of open sessions; at most {} open)",
        fed.events, s.sessions, s.windows, s.timed_out, s.evicted, s.peak_open
    );
    if s.dropped_events > 0 {
        eprintln!("logsieve: {} events beyond the per-session cap were counted but not kept", s.dropped_events);
    }
    if let Some((key, given)) = key {
        if fed.coverage.unkeyed > 0 {
            let whose = if given { "--session-key" } else { "the model's, from training" };
            eprintln!(
                "logsieve: {} records did not match the session key `{}` ({whose}) and are in no session",
                fed.coverage.unkeyed,
                crate::error::printable(key)
            );
        }
    }
}

/// What scoring needs besides the input: the model, how to cut sessions, the entity key and a
/// normalizer carrying the model's template miner.
pub(super) struct Scoring {
    pub model: Model,
    pub config: SessionConfig,
    pub key: Option<Regex>,
    pub normalizer: Normalizer,
}

impl Scoring {
    /// Loads the model and applies the session flags over its settings; warns when the rule
    /// packs differ from the model's.
    pub fn load(path: &Path, session: &SessionArgs, rules: Option<&Path>, quiet: bool) -> Result<Self> {
        let model = file::load(path)?;
        let mut config = model.options.session.clone();
        let mut key_text = model.options.session_key.clone();
        session.apply(&mut config, &mut key_text);
        config.check()?;
        let key = compile_key(key_text.as_deref())?;
        let rules = Arc::new(RuleSet::load(rules)?);
        let normalizer = Normalizer::with_miner(rules, model.miner.clone().unwrap_or_default());
        if normalizer.rules_digest() != model.info.rules && !quiet {
            eprintln!("logsieve: warning: the rule packs differ from the model's ({}): states may not match; retrain", model.info.rules);
        }
        Ok(Scoring { model, config, key, normalizer })
    }
}

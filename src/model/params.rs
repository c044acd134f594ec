//! Training options and their checks, in linfa's `ParamGuard` style: [`TrainOptions`] is what a
//! config file and the flags give; [`TrainOptions::check`] validates every range once and gives
//! [`TrainParams`], the only thing training accepts. Nothing downstream clamps again.

use std::ops::Deref;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::session::SessionConfig;

/// Training options (`--config FILE`, TOML, and flags); saved in the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainOptions {
    /// Window length of the n-gram database (3 or 4 are usual for logs; 1 to 10).
    pub ngram: usize,
    /// Target false-positive rate of the threshold, on held-out clean sessions.
    pub max_fpr: f64,
    /// A window held by less than this share of the training sessions is rare (t-stide), with a
    /// weight graded by how few held it.
    pub rare_share: f64,
    /// The expected share of anomalous sessions in the training period: at most this share is
    /// set aside as anomalous before the final fit, and an error state held by fewer than this
    /// share of the sessions stays evidence.
    pub contamination: f64,
    /// Folds for cross-fitting the calibration (at least 2; at most one per session).
    pub folds: usize,
    /// Parameter fields whose values are learned (`source_ip` is learned as its network,
    /// `source_net`).
    pub params: Vec<String>,
    /// Regex whose first capture group is the session key (instead of the rule packs' keys).
    pub session_key: Option<String>,
    /// How sessions and windows are cut.
    pub session: SessionConfig,
    /// Pure sequences (system calls, event ids: `--format sequences`): windows count by their
    /// share of a session's windows, transitions by their mean surprisal, count vectors by which
    /// states occur; set by `train` when every record it read was a sequence.
    pub sequences: bool,
    /// Training chose `ngram` (pure sequences without `--ngram`), by held-out likelihood.
    pub choose_ngram: bool,
    /// Count vectors say which states occur (set by training for pure sequences with varied
    /// sets of states).
    pub presence_vectors: bool,
    /// Fields whose values are entities followed across sessions, with their own rates
    /// (`source_ip` and `user`; `--entity` adds more).
    pub entities: Vec<String>,
    /// Length of the time buckets of the entity rates, in seconds of log time.
    pub rate_bucket: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            ngram: 3,
            max_fpr: 0.001,
            rare_share: 0.001,
            contamination: 0.05,
            folds: 5,
            params: ["user", "target_user", "method", "logon_type", "source_ip"].map(String::from).to_vec(),
            session_key: None,
            session: SessionConfig::default(),
            sequences: false,
            choose_ngram: false,
            presence_vectors: false,
            entities: crate::activity::DEFAULT_ENTITIES.map(String::from).to_vec(),
            rate_bucket: crate::activity::DEFAULT_BUCKET_SECS,
        }
    }
}

/// An option out of its range, named as the flag (and config key) that sets it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{option} {problem}")]
pub struct ParamsError {
    /// The flag, e.g. `--max-fpr`.
    pub option: &'static str,
    /// What is wrong, with the value given.
    pub problem: String,
}

fn bad(option: &'static str, problem: String) -> ParamsError {
    ParamsError { option, problem }
}

/// Training options that passed [`TrainOptions::check`], with the session-key regex compiled.
#[derive(Debug, Clone)]
pub struct TrainParams {
    options: TrainOptions,
    key: Option<Regex>,
}

impl Deref for TrainParams {
    type Target = TrainOptions;
    fn deref(&self) -> &TrainOptions {
        &self.options
    }
}

impl TrainParams {
    /// The compiled `--session-key`, if any.
    pub fn key(&self) -> Option<&Regex> {
        self.key.as_ref()
    }

    /// Follows these entity fields too (those the rule packs declare), after the others.
    pub fn with_entities(mut self, fields: &[String]) -> Self {
        for f in fields {
            if !self.options.entities.contains(f) {
                self.options.entities.push(f.clone());
            }
        }
        self
    }

    /// The options, to save.
    pub fn into_options(self) -> TrainOptions {
        self.options
    }

    /// For pure sequences: their scoring, and training chooses the window length unless it was
    /// given.
    pub fn for_sequences(mut self, ngram_given: bool) -> Self {
        self.options.sequences = true;
        self.options.choose_ngram = !ngram_given;
        self
    }
}

/// How many training sessions must lie as close as a session's count vector for it to count as
/// near (the kNN component), when the clean period may hold anomalous sessions: one or two of
/// them must not vouch for a vector alone.
const NEIGHBOURS: u64 = 5;

impl TrainOptions {
    /// The k of the kNN component: 5, or 1 for a period trusted as clean
    /// (`contamination` 0).
    pub fn neighbours(&self) -> u64 {
        if self.contamination > 0.0 {
            NEIGHBOURS
        } else {
            1
        }
    }

    /// Checks every option's range: the one place where options are validated.
    pub fn check(self) -> Result<TrainParams, ParamsError> {
        if !(1..=crate::model::components::MAX_N).contains(&self.ngram) {
            return Err(bad("--ngram", format!("must be 1 to {}, not {}", crate::model::components::MAX_N, self.ngram)));
        }
        if !(self.max_fpr > 0.0 && self.max_fpr < 1.0) {
            return Err(bad("--max-fpr", format!("must be between 0 and 1, not {}", self.max_fpr)));
        }
        if !(0.0..1.0).contains(&self.rare_share) {
            return Err(bad("rare_share", format!("must be at least 0 and below 1, not {}", self.rare_share)));
        }
        if !(0.0..0.5).contains(&self.contamination) {
            return Err(bad("--contamination", format!("must be at least 0 and below 0.5, not {}", self.contamination)));
        }
        if self.folds < 2 {
            return Err(bad("folds", format!("must be at least 2, not {}", self.folds)));
        }
        if let Some(p) = self.params.iter().find(|p| p.trim().is_empty()) {
            return Err(bad("params", format!("names an empty field ({p:?})")));
        }
        if let Some(p) = self.entities.iter().find(|p| p.trim().is_empty()) {
            return Err(bad("--entity", format!("names an empty field ({p:?})")));
        }
        if !(1..=86_400).contains(&self.rate_bucket) {
            return Err(bad("--rate-bucket", format!("must be 1 to 86400 seconds, not {}", self.rate_bucket)));
        }
        self.session.check()?;
        let key = compile_key(self.session_key.as_deref())?;
        Ok(TrainParams { options: self, key })
    }
}

/// Compiles a `--session-key` regex.
pub fn compile_key(key: Option<&str>) -> Result<Option<Regex>, ParamsError> {
    let Some(k) = key else { return Ok(None) };
    Regex::new(k).map(Some).map_err(|e| {
        // The regex crate draws the pattern and a caret over several lines; its last line says
        // what is wrong.
        let text = e.to_string();
        let what = text.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or("").trim_start_matches("error: ").to_owned();
        bad("--session-key", format!("is not a valid regex: {what}"))
    })
}

impl SessionConfig {
    /// Checks the session settings' ranges (training checks them; scoring and `watch` check the
    /// model's settings with their overrides).
    pub fn check(&self) -> Result<(), ParamsError> {
        let positive =
            |option, v: f64| if v.is_finite() && v > 0.0 { Ok(()) } else { Err(bad(option, format!("must be above 0, not {v}"))) };
        positive("--idle-timeout", self.idle_timeout)?;
        if !(self.end_grace.is_finite() && self.end_grace >= 0.0) {
            return Err(bad("--end-grace", format!("must be 0 or more, not {}", self.end_grace)));
        }
        if self.max_open == 0 {
            return Err(bad("--max-open-sessions", "must be at least 1".into()));
        }
        if self.max_events == 0 {
            return Err(bad("max_events", "must be at least 1".into()));
        }
        let w = &self.window;
        if w.events == 0 {
            return Err(bad("--window", "must be at least 1 event".into()));
        }
        let size = match w.seconds {
            Some(s) => {
                positive("--window-secs", s)?;
                s
            }
            None => w.events as f64,
        };
        if let Some(step) = w.step {
            positive("--window-step", step)?;
            if step > size {
                return Err(bad("--window-step", format!("must not exceed the window ({size}), not {step}")));
            }
            if w.seconds.is_none() && step.fract() != 0.0 {
                return Err(bad("--window-step", format!("counts events in count windows: a whole number, not {step}")));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::WindowSpec;

    #[test]
    fn defaults_pass_and_each_range_is_checked_once() {
        assert!(TrainOptions::default().check().is_ok());
        let cases: Vec<(TrainOptions, &str)> = vec![
            (TrainOptions { ngram: 0, ..Default::default() }, "--ngram must be 1 to 10, not 0"),
            (TrainOptions { ngram: 11, ..Default::default() }, "--ngram must be 1 to 10, not 11"),
            (TrainOptions { max_fpr: 1.0, ..Default::default() }, "--max-fpr must be between 0 and 1, not 1"),
            (TrainOptions { max_fpr: f64::NAN, ..Default::default() }, "--max-fpr must be between 0 and 1, not NaN"),
            (TrainOptions { rare_share: -0.1, ..Default::default() }, "rare_share must be at least 0"),
            (TrainOptions { folds: 1, ..Default::default() }, "folds must be at least 2, not 1"),
            (TrainOptions { params: vec![" ".into()], ..Default::default() }, "params names an empty field"),
            (TrainOptions { session_key: Some("(".into()), ..Default::default() }, "--session-key is not a valid regex: unclosed group"),
        ];
        for (o, want) in cases {
            let err = o.check().unwrap_err().to_string();
            assert!(err.starts_with(want), "{err} (wanted {want})");
        }
        let session = |s: SessionConfig| TrainOptions { session: s, ..Default::default() }.check().map(|_| ()).map_err(|e| e.to_string());
        let d = SessionConfig::default();
        assert!(session(SessionConfig { idle_timeout: 0.0, ..d.clone() }).unwrap_err().starts_with("--idle-timeout must be above 0"));
        assert!(session(SessionConfig { end_grace: -1.0, ..d.clone() }).unwrap_err().starts_with("--end-grace"));
        assert!(session(SessionConfig { max_open: 0, ..d.clone() }).unwrap_err().starts_with("--max-open-sessions"));
        let w = |events, seconds, step| SessionConfig { window: WindowSpec { events, seconds, step }, ..d.clone() };
        assert!(session(w(0, None, None)).unwrap_err().starts_with("--window must be at least 1"));
        assert!(session(w(20, Some(0.0), None)).unwrap_err().starts_with("--window-secs"));
        assert!(session(w(20, None, Some(30.0))).unwrap_err().starts_with("--window-step must not exceed the window (20)"));
        assert!(session(w(20, None, Some(2.5))).unwrap_err().contains("whole number"));
        assert!(session(w(20, Some(60.0), Some(2.5))).is_ok());
        assert!(session(w(20, None, Some(5.0))).is_ok());
    }

    #[test]
    fn checked_params_carry_the_compiled_key() {
        let p = TrainOptions { session_key: Some(r"blk_-?\d+".into()), ..Default::default() }.check().unwrap();
        assert!(p.key().is_some_and(|k| k.is_match("blk_-12")));
        assert_eq!(p.ngram, 3);
        assert_eq!(p.into_options().session_key.as_deref(), Some(r"blk_-?\d+"));
    }
}

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

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

mod page;
mod plots;

pub use page::{esc, render};

use crate::error::{Error, Result};
use crate::model::Verdict;
use crate::normalize::miner::Miner;
use crate::output::iso;
use crate::read::{InputStats, RunStats};
use crate::session::{Session, SessionStats, States};

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
/// At most this many distinct causes are counted (new values can be many).
const CAUSES: usize = 10_000;

/// Which layer of the nomenclature named each record's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Coverage {
    /// Records a rule pack mapped to a standard event name.
    pub standard: u64,
    /// Records the generic layer gave a standard name (failure/success wording).
    pub generic: u64,
    /// Records a rule pack gave an entity key (and lifecycle role) but no standard name: their
    /// state is the message template (HDFS blocks, OpenStack instances).
    pub entity: u64,
    /// Records no rule matched, named by their message template (`<process>.<template id>`).
    pub template: u64,
    /// Pre-parsed sequence lines (`--format sequences`): states given by the input.
    pub sequence: u64,
    /// Lines skipped by the reader and parsers (counted with their reasons in the input table).
    pub skipped: u64,
    /// Records left out of sessions because `--session-key` matched nothing on them.
    pub unkeyed: u64,
}

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
    /// The message template behind each template state (`<process>.<template id>`) the run saw
    /// or the model knows, as the scoring normalizer's miner held it at the end: the report
    /// shows what an opaque state name stands for.
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

/// The message template a template state (`<process>.<template id>`) names, if `miner` holds it.
fn template_of<'m>(state: &str, miner: &'m Miner) -> Option<&'m str> {
    let (_, id) = state.rsplit_once('.')?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    miner.template(id.parse().ok()?)
}

/// What the report calls a reason when it groups anomalous sessions by cause: the reason without
/// its position in the session, so sessions flagged for the same window, state or value fall
/// together; with the one state it is about, for an unseen state. `None` for a review
/// allowance, which flags nothing.
pub fn cause(
    kind: &str,
    component: &str,
    states: &[&str],
    field: Option<&str>,
    value: Option<&str>,
    text: &str,
) -> Option<(String, Option<String>)> {
    let chain = states.join(" → ");
    let state = match (kind, states) {
        ("unseen_state", [one]) => Some((*one).to_owned()),
        _ => None,
    };
    let words = match kind {
        "allowed" => return None,
        "unseen_window" => format!("window never seen in training: {chain}"),
        "rare_window" => format!("rare window: {chain}"),
        "unseen_state" => format!("state never seen in training: {chain}"),
        "new_value" => format!("new value {}={}", field.unwrap_or("?"), value.unwrap_or("?")),
        "count_deviation" if component == "pca" => "event counts outside the normal subspace (PCA)".to_owned(),
        "count_deviation" => "event counts far from every training session (kNN)".to_owned(),
        // The other kinds (unlikely transitions, unseen pairs) carry no position in their text.
        _ => text.to_owned(),
    };
    Some((words, state))
}

/// Anomalous sessions that share one [`cause`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cause {
    /// How many anomalous sessions give it.
    pub sessions: u64,
    /// The highest-scoring of them.
    pub key: String,
    /// Its score.
    pub score: f64,
    /// The state it is about, for an unseen state.
    pub state: Option<String>,
}

/// A session kept for the table.
#[derive(Debug, Clone, Default)]
pub struct Listed {
    /// Entity key, window name or sequence id.
    pub key: String,
    /// Combined score.
    pub score: f64,
    /// Verdict.
    pub anomalous: bool,
    /// First event's log time (ISO 8601).
    pub start: Option<String>,
    /// Last event's log time.
    pub end: Option<String>,
    /// The state sequence (at most 500).
    pub events: Vec<String>,
    /// Which events are in an unseen or rare window, or are an unseen state.
    pub marked: Vec<bool>,
    /// Reasons in plain words.
    pub reasons: Vec<String>,
    /// New parameter values, `field=value`.
    pub values: Vec<String>,
    /// The input lines the table shows (see [`pick`]): index of the event in the session,
    /// file, 1-based line.
    pub lines: Vec<(usize, String, u64)>,
    /// How many input lines the session has.
    pub total_lines: usize,
    /// The raw text of `lines`, read back from the inputs after scoring.
    pub raw: Vec<Option<String>>,
}

impl Listed {
    /// The table entry of a session just scored.
    pub fn from_session(s: &Session, v: &Verdict, names: &States, files: &[String]) -> Self {
        let marked = marks(
            s.states.len(),
            v.reasons.iter().map(|r| Mark {
                kind: r.kind,
                position: r.position,
                states: r.states.len(),
                padding: r.states.iter().filter(|x| *x == "^" || *x == "$").count(),
            }),
        );
        let file = |i: u32| files.get(i as usize).cloned().unwrap_or_else(|| "-".into());
        Listed {
            key: s.key.clone(),
            score: v.score,
            anomalous: v.anomalous,
            start: iso(s.start),
            end: iso(s.end),
            events: s.states.iter().take(500).map(|&i| names.name(i).to_owned()).collect(),
            reasons: v.reasons.iter().map(|r| r.text.clone()).collect(),
            values: v
                .reasons
                .iter()
                .filter(|r| r.kind == "new_value")
                .filter_map(|r| Some(format!("{}={}", r.field.as_deref()?, r.value.as_deref()?)))
                .collect(),
            ..Listed::default()
        }
        .with_lines(marked, s.lines.len(), |i| Some((file(s.lines[i].file), s.lines[i].line)))
    }

    /// Sets the marked events and picks the input lines to show ([`pick`]; `line(i)` is the i-th
    /// line's file and number); at most 500 events stay marked, as at most 500 are shown.
    fn with_lines(mut self, mut marked: Vec<bool>, total: usize, line: impl Fn(usize) -> Option<(String, u64)>) -> Self {
        self.lines = pick(total, &marked).into_iter().filter_map(|i| line(i).map(|(f, n)| (i, f, n))).collect();
        self.total_lines = total;
        marked.truncate(500);
        self.marked = marked;
        self
    }
}

/// Which of a session's `n` input lines the table shows: those behind the marked events first,
/// then the first ones, at most 30, in order.
pub fn pick(n: usize, marked: &[bool]) -> Vec<usize> {
    let mut pick: Vec<usize> = marked.iter().enumerate().filter(|(i, m)| **m && *i < n).map(|(i, _)| i).take(RAW_LINES - 3).collect();
    pick.extend(0..n.min(RAW_LINES));
    pick.sort_unstable();
    pick.dedup();
    // The first lines give way to the marked ones.
    while pick.len() > RAW_LINES {
        let Some(k) = pick.iter().rposition(|&i| !marked.get(i).copied().unwrap_or(false)) else { break };
        pick.remove(k);
    }
    pick
}

/// One reason as the table needs it.
pub struct Mark<'a> {
    /// Reason kind (`unseen_window`, `unseen_state`, ...).
    pub kind: &'a str,
    /// Index of the first event involved.
    pub position: Option<usize>,
    /// States involved, with the `^`/`$` padding.
    pub states: usize,
    /// Of which padding.
    pub padding: usize,
}

/// Which events the reasons point at: a window's states, or one unseen state.
pub fn marks<'a>(events: usize, reasons: impl Iterator<Item = Mark<'a>>) -> Vec<bool> {
    let mut marked = vec![false; events];
    for r in reasons {
        if let Some(p) = r.position {
            let n = if r.kind == "unseen_state" { 1 } else { r.states.saturating_sub(r.padding).max(1) };
            for m in marked.iter_mut().skip(p).take(n) {
                *m = true;
            }
        }
    }
    marked
}

/// What the report is drawn from, gathered while scoring (or from `scores.jsonl`) with bounded
/// memory.
pub struct Collector {
    scores: Vec<f64>,
    points: Vec<(f64, f64)>,
    stride: u64,
    seen: u64,
    timed: bool,
    top: Vec<Listed>,
    counts: HashMap<String, u64>,
    events: u64,
    sessions: u64,
    anomalous: u64,
    max_score: f64,
    threshold: Option<f64>,
    causes: HashMap<String, Cause>,
    /// Causes not kept once [`CAUSES`] distinct ones were held, counted per session.
    causes_dropped: u64,
}

impl Default for Collector {
    fn default() -> Self {
        Collector {
            scores: Vec::new(),
            points: Vec::new(),
            stride: 1,
            seen: 0,
            timed: true,
            top: Vec::new(),
            counts: HashMap::new(),
            events: 0,
            sessions: 0,
            anomalous: 0,
            max_score: 0.0,
            threshold: None,
            causes: HashMap::new(),
            causes_dropped: 0,
        }
    }
}

impl Collector {
    /// Takes note of one scored session: `start_secs` is its first event's log time in seconds
    /// since the epoch (UTC); `causes` are its reasons as [`cause`] words them (looked at only
    /// when the session is anomalous); `listed` builds its table entry, called only when it
    /// ranks.
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        key: &str,
        score: f64,
        anomalous: bool,
        start_secs: Option<f64>,
        events: &[&str],
        causes: impl Iterator<Item = (String, Option<String>)>,
        listed: impl FnOnce() -> Listed,
    ) {
        self.sessions += 1;
        self.anomalous += u64::from(anomalous);
        if anomalous {
            let mut seen: Vec<(String, Option<String>)> = causes.collect();
            seen.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            seen.dedup_by(|a, b| a.0 == b.0);
            for (c, state) in seen {
                let full = self.causes.len() >= CAUSES;
                match self.causes.get_mut(&c) {
                    Some(g) => {
                        g.sessions += 1;
                        if score > g.score || (score == g.score && key < g.key.as_str()) {
                            g.key = key.to_owned();
                            g.score = score;
                        }
                    }
                    None if full => self.causes_dropped += 1,
                    None => {
                        self.causes.insert(c, Cause { sessions: 1, key: key.to_owned(), score, state });
                    }
                }
            }
        }
        self.events += events.len() as u64;
        self.max_score = self.max_score.max(score);
        for &e in events {
            match self.counts.get_mut(e) {
                Some(n) => *n += 1,
                None => {
                    self.counts.insert(e.to_owned(), 1);
                }
            }
        }
        if self.scores.len() < 1_000_000 {
            self.scores.push(score);
        }
        self.seen += 1;
        if self.seen % self.stride == 0 {
            let x = match start_secs {
                Some(t) if self.timed => t,
                _ => {
                    // A session without log time: the timeline goes by input order from here on,
                    // and the points placed by time so far are dropped.
                    if self.timed {
                        self.timed = false;
                        self.points.clear();
                    }
                    self.seen as f64
                }
            };
            self.points.push((x, score));
            if self.points.len() >= POINTS {
                self.stride *= 2;
                let kept: Vec<(f64, f64)> = self.points.iter().step_by(2).copied().collect();
                self.points = kept;
            }
        }
        let ranks = |l: &Listed| score > l.score || (score == l.score && key < l.key.as_str());
        if self.top.len() < TOP || self.top.last().is_some_and(ranks) {
            self.top.push(listed());
            self.top.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.key.cmp(&b.key)));
            self.top.truncate(TOP);
        }
    }

    /// The states of the sessions seen.
    pub fn states(&self) -> impl Iterator<Item = &str> {
        self.counts.keys().map(String::as_str)
    }

    /// The causes given by most anomalous sessions, most first (ties by the cause's words).
    fn top_causes(&self, n: usize) -> Vec<(&str, &Cause)> {
        let mut v: Vec<(&str, &Cause)> = self.causes.iter().map(|(k, c)| (k.as_str(), c)).collect();
        v.sort_by(|a, b| b.1.sessions.cmp(&a.1.sessions).then_with(|| b.1.score.total_cmp(&a.1.score)).then(a.0.cmp(b.0)));
        v.truncate(n);
        v
    }

    /// Takes note of one row of `scores.jsonl` (as `logsieve report` reads it back); `single`
    /// names the input when the rows give bare line numbers.
    pub fn push_row<'a>(&mut self, row: &'a serde_json::Value, single: &str) -> std::result::Result<(), String> {
        let key = row["session"].as_str().ok_or("no \"session\"")?;
        let score = row["score"].as_f64().ok_or("no numeric \"score\"")?;
        let anomalous = row["anomalous"].as_bool().ok_or("no \"anomalous\"")?;
        if let Some(t) = row["threshold"].as_f64() {
            self.threshold = Some(t);
        }
        let events: Vec<&str> = row["events"].as_array().ok_or("no \"events\" array")?.iter().filter_map(|e| e.as_str()).collect();
        let start = row["start"].as_str().map(str::to_owned);
        let start_secs = start.as_deref().and_then(parse_iso);
        let reasons = row["reasons"].as_array().map(Vec::as_slice).unwrap_or_default();
        let causes = reasons.iter().filter_map(|r| {
            let states: Vec<&str> =
                r["states"].as_array().map(Vec::as_slice).unwrap_or_default().iter().filter_map(|s| s.as_str()).collect();
            cause(
                r["kind"].as_str().unwrap_or(""),
                r["component"].as_str().unwrap_or(""),
                &states,
                r["field"].as_str(),
                r["value"].as_str(),
                r["text"].as_str().unwrap_or(""),
            )
        });
        let listed = || {
            let mark = |r: &'a serde_json::Value| {
                let states = r["states"].as_array().map(Vec::as_slice).unwrap_or_default();
                Mark {
                    kind: r["kind"].as_str().unwrap_or(""),
                    position: r["position"].as_u64().map(|p| p as usize),
                    states: states.len(),
                    padding: states.iter().filter(|s| *s == "^" || *s == "$").count(),
                }
            };
            let marked = marks(events.len(), reasons.iter().map(mark));
            let all = row["lines"].as_array().map(Vec::as_slice).unwrap_or_default();
            let line = |i: usize| match &all[i] {
                serde_json::Value::Number(n) => Some((single.to_owned(), n.as_u64()?)),
                serde_json::Value::String(s) => {
                    let (f, n) = s.rsplit_once(':')?;
                    Some((f.to_owned(), n.parse().ok()?))
                }
                _ => None,
            };
            Listed {
                key: key.to_owned(),
                score,
                anomalous,
                start: start.clone(),
                end: row["end"].as_str().map(str::to_owned),
                events: events.iter().take(500).map(|e| (*e).to_owned()).collect(),
                reasons: reasons.iter().filter_map(|r| r["text"].as_str().map(str::to_owned)).collect(),
                values: reasons
                    .iter()
                    .filter(|r| r["kind"] == "new_value")
                    .filter_map(|r| Some(format!("{}={}", r["field"].as_str()?, r["value"].as_str()?)))
                    .collect(),
                ..Listed::default()
            }
            .with_lines(marked, all.len(), line)
        };
        self.push(key, score, anomalous, start_secs, &events, causes, listed);
        Ok(())
    }

    /// Reads the raw text of the listed sessions' first lines back from the inputs (each file
    /// once, up to the last line needed). An input that cannot be read again (stdin, a file
    /// gone since) leaves its lines without text; the references stay.
    pub fn attach_raw_lines(&mut self) {
        let mut wanted: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for l in &self.top {
            for (_, f, n) in &l.lines {
                wanted.entry(f.clone()).or_default().push(*n);
            }
        }
        let mut found: HashMap<(String, u64), String> = HashMap::new();
        for (file, mut numbers) in wanted {
            if file == "-" {
                continue;
            }
            numbers.sort_unstable();
            numbers.dedup();
            let Ok(mut src) = crate::read::open(&crate::read::Input::Path(file.clone().into())) else { continue };
            let mut next = numbers.iter().peekable();
            while let Some(&&want) = next.peek() {
                let Ok(Some(line)) = src.lines.next_line() else { break };
                if line.number == want {
                    let text: String = line.text.chars().take(RAW_CHARS).collect();
                    found.insert((file.clone(), want), text);
                    next.next();
                }
            }
        }
        for l in &mut self.top {
            l.raw = l.lines.iter().map(|(_, f, n)| found.get(&(f.clone(), *n)).cloned()).collect();
        }
    }
}

/// Seconds since the epoch of an ISO 8601 time as the outputs write it (with an offset, or
/// zone-less and taken as UTC, as the scorer does).
fn parse_iso(s: &str) -> Option<f64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis() as f64 / 1000.0);
    }
    let t = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    Some(t.and_utc().timestamp_millis() as f64 / 1000.0)
}

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
    crate::output::for_each_row(&dir.join("scores.jsonl"), |row| c.push_row(row, &single))?;
    c.attach_raw_lines();
    let mut info = RunInfo { model: model_path.display().to_string(), ..info };
    // A run.json from before templates were kept: the model's miner describes what it knows.
    if let Some(miner) = &model.miner {
        info.describe(c.states().chain(model.states.iter().map(String::as_str)), miner);
    }
    let path = out.map(Path::to_path_buf).unwrap_or_else(|| dir.join("report.html"));
    std::fs::write(&path, render(&c, &model, &info, &dir.join("scores.jsonl")))
        .map_err(|source| Error::Write { path: path.display().to_string(), source })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picked_lines_put_the_marked_ones_first() {
        let mut marked = vec![false; 300];
        for i in [9, 10, 11, 221, 222, 223] {
            marked[i] = true;
        }
        let p = pick(300, &marked);
        assert_eq!(p.len(), 30);
        assert!([9, 10, 11, 221, 222, 223].iter().all(|i| p.contains(i)), "{p:?}");
        assert_eq!(&p[..3], &[0, 1, 2]);
        assert!(p.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(pick(2, &marked), vec![0, 1]);
        assert_eq!(pick(0, &[]), Vec::<usize>::new());
        let all = vec![true; 100];
        assert_eq!(pick(100, &all), (0..30).collect::<Vec<_>>());
    }

    fn row(key: &str, score: f64, anomalous: bool, reasons: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"session": key, "score": score, "anomalous": anomalous, "events": ["x", "y", "z", "x", "y", "z"],
            "reasons": reasons, "lines": [1, 2, 3, 4, 5, 6]})
    }

    #[test]
    fn anomalous_sessions_group_by_cause_wherever_it_occurs() {
        let window = |at: u64| {
            serde_json::json!({"kind": "unseen_window", "component": "ngram", "states": ["x", "y", "z"], "position": at,
            "text": format!("window never seen in training: x → y → z (at event {})", at + 1)})
        };
        let mut c = Collector::default();
        let a = serde_json::json!([window(0), window(3),
            {"kind": "unseen_state", "component": "cooccurrence", "states": ["z"], "position": 2, "text": "state never seen in training: z (at event 3)"}]);
        c.push_row(&row("a", 10.0, true, a), "f").unwrap();
        let b = serde_json::json!([window(0), {"kind": "new_value", "component": "values", "field": "user", "value": "eve", "text": "new value user=eve (2 values known for user)"}]);
        c.push_row(&row("b", 12.0, true, b), "f").unwrap();
        // Below the threshold, or allowed by review: no cause of an anomaly.
        c.push_row(&row("c", 3.0, false, serde_json::json!([window(0)])), "f").unwrap();
        let allowed = serde_json::json!([{"kind": "allowed", "component": "review", "text": "marked normal"}]);
        c.push_row(&row("d", 20.0, false, allowed), "f").unwrap();
        let got: Vec<(&str, u64, &str, Option<&str>)> =
            c.top_causes(10).into_iter().map(|(w, g)| (w, g.sessions, g.key.as_str(), g.state.as_deref())).collect();
        assert_eq!(
            got,
            vec![
                ("window never seen in training: x → y → z", 2, "b", None),
                ("new value user=eve", 1, "b", None),
                ("state never seen in training: z", 1, "a", Some("z")),
            ]
        );
        assert_eq!(c.top_causes(1).len(), 1);
        // Distinct causes are bounded; the rest are counted.
        for i in 0..CAUSES + 5 {
            let r = serde_json::json!([{"kind": "new_value", "component": "values", "field": "ip", "value": i.to_string(), "text": "new"}]);
            c.push_row(&row(&format!("s{i}"), 9.0, true, r), "f").unwrap();
        }
        assert_eq!(c.causes.len(), CAUSES);
        assert_eq!(c.causes_dropped, 8);
    }

    #[test]
    fn template_states_are_described_by_the_miner_that_named_them() {
        let mut miner = Miner::default();
        let id = miner.add("Deleting block blk_1 file /data/blk_1").id;
        miner.add("Deleting block blk_2 file /data/blk_2");
        let mut info = RunInfo::default();
        let state = format!("dfs.FSDataset.{id}");
        info.describe([state.as_str(), "authentication.login.failure", "E5", "sshd.x", "sshd.99"], &miner);
        assert_eq!(info.templates.len(), 1, "{:?}", info.templates);
        assert_eq!(info.templates[&state], "Deleting block <*> file <*>");
        // What is described already stays: the scoring run's miner goes first.
        info.templates.insert(state.clone(), "as scored".into());
        info.describe([state.as_str()], &miner);
        assert_eq!(info.templates[&state], "as scored");
    }

    #[test]
    fn iso_times_read_back_as_the_scorer_placed_them() {
        assert_eq!(parse_iso("2008-11-09T20:35:20"), Some(1_226_262_920.0));
        assert_eq!(parse_iso("2008-11-09T21:35:20+01:00"), Some(1_226_262_920.0));
        assert_eq!(parse_iso("2008-11-09T20:35:20.500"), Some(1_226_262_920.5));
        assert_eq!(parse_iso("yesterday"), None);
    }
}

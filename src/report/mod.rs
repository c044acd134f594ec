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
        }
    }
}

impl Collector {
    /// Takes note of one scored session: `start_secs` is its first event's log time in seconds
    /// since the epoch (UTC); `listed` builds its table entry, called only when it ranks.
    pub fn push(
        &mut self,
        key: &str,
        score: f64,
        anomalous: bool,
        start_secs: Option<f64>,
        events: &[&str],
        listed: impl FnOnce() -> Listed,
    ) {
        self.sessions += 1;
        self.anomalous += u64::from(anomalous);
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
        self.push(key, score, anomalous, start_secs, &events, listed);
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
    let info = RunInfo { model: model_path.display().to_string(), ..info };
    let path = out.map(Path::to_path_buf).unwrap_or_else(|| dir.join("report.html"));
    std::fs::write(&path, render(&c, &model, &info)).map_err(|source| Error::Write { path: path.display().to_string(), source })?;
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

    #[test]
    fn iso_times_read_back_as_the_scorer_placed_them() {
        assert_eq!(parse_iso("2008-11-09T20:35:20"), Some(1_226_262_920.0));
        assert_eq!(parse_iso("2008-11-09T21:35:20+01:00"), Some(1_226_262_920.0));
        assert_eq!(parse_iso("2008-11-09T20:35:20.500"), Some(1_226_262_920.5));
        assert_eq!(parse_iso("yesterday"), None);
    }
}

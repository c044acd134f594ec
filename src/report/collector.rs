//! What the report is drawn from, gathered while scoring (or from `scores.jsonl`) with bounded
//! memory: the sessions for the table, the timeline's points, the score histogram, state counts
//! and the causes of the anomalous sessions.

use std::collections::{BTreeMap, HashMap};

use super::causes::{cause, Cause};
use super::{CAUSES, FINDINGS, POINTS, RAW_CHARS, RAW_LINES, TOP};
use crate::model::{Reason, ReasonKind, Verdict};
use crate::output::{iso, ScoreRow};
use crate::session::{Closed, Session, States};

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
    /// For a finding about an entity: which (`source 192.0.2.7`, `user root`).
    pub entity: Option<String>,
    /// For a finding: how much it asks to be read first (a brute force that got in, then a value
    /// new to its context, then counts).
    pub urgency: u8,
    /// For a burst: the event's counts per bucket against the learned band.
    pub rate: Option<RateSeries>,
}

/// A burst's counts per time bucket against the clean period's band.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RateSeries {
    /// The standard event.
    pub act: String,
    /// (bucket start, seconds since the epoch; count).
    pub series: Vec<(i64, u64)>,
    /// The clean period's busiest count and the least count that is a finding.
    pub band: (u64, u64),
}

impl Listed {
    /// The table entry of a session just scored.
    pub fn from_session(s: &Session, v: &Verdict, names: &States, files: &[String]) -> Self {
        let file = |i: u32| files.get(i as usize).cloned().unwrap_or_else(|| "-".into());
        let lines = s.lines.to_vec();
        Listed {
            key: s.key.clone(),
            score: v.score,
            anomalous: v.anomalous,
            start: iso(s.start),
            end: iso(s.end),
            events: s.states.iter().take(500).map(|&i| names.name(i).to_owned()).collect(),
            ..Listed::default()
        }
        .with_reasons(&v.reasons)
        .with_lines(marks(s.states.len(), &v.reasons), s.lines.len(), |i| lines.get(i).map(|l| (file(l.file), l.line)))
    }

    /// The table entry of a row of `scores.jsonl`; `single` names the input of bare line numbers.
    pub fn from_row(row: &ScoreRow<'_>, single: &str) -> Self {
        Listed {
            key: row.session.clone().into_owned(),
            score: row.score,
            anomalous: row.anomalous,
            start: row.start.clone(),
            end: row.end.clone(),
            events: row.events.iter().take(500).map(|e| e.clone().into_owned()).collect(),
            ..Listed::default()
        }
        .with_reasons(&row.reasons)
        .with_lines(marks(row.events.len(), &row.reasons), row.lines.len(), |i| row.lines.get(i, single))
    }

    /// Sets the reasons in words and the new values.
    fn with_reasons(mut self, reasons: &[Reason]) -> Self {
        self.reasons = reasons.iter().map(|r| r.text.clone()).collect();
        self.entity = reasons.iter().find_map(crate::activity::entity_of);
        self.urgency = reasons
            .iter()
            .map(|r| match r.kind {
                ReasonKind::FailuresThenSuccess => 3,
                ReasonKind::NewInContext => 2,
                ReasonKind::RateBurst | ReasonKind::Breadth | ReasonKind::Silence => 1,
                _ => 0,
            })
            .max()
            .unwrap_or(0);
        self.rate = reasons.iter().find_map(|r| {
            let band = r.band?;
            (!r.series.is_empty()).then(|| RateSeries {
                act: r.states.first().cloned().unwrap_or_default(),
                series: r.series.clone(),
                band,
            })
        });
        self.values = reasons.iter().filter_map(|r| r.new_value().map(|(f, v)| format!("{f}={v}"))).collect();
        self
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

/// Which events the reasons point at (see [`crate::model::marked_events`]).
pub fn marks(events: usize, reasons: &[Reason]) -> Vec<bool> {
    crate::model::marked_events(events, reasons)
}

/// Session scores the histogram is drawn from, at most: past it, a uniform sample of all.
const SCORES: usize = 100_000;

/// What the report is drawn from; see the module docs.
pub struct Collector {
    /// Every session's score, or past [`SCORES`] sessions a uniform sample of them (the
    /// histogram shows shares of sessions).
    pub(super) scores: Vec<f64>,
    pub(super) points: Vec<(f64, f64)>,
    pub(super) stride: u64,
    pub(super) seen: u64,
    pub(super) timed: bool,
    pub(super) top: Vec<Listed>,
    pub(super) counts: HashMap<String, u64>,
    pub(super) events: u64,
    pub(super) sessions: u64,
    pub(super) anomalous: u64,
    pub(super) max_score: f64,
    pub(super) threshold: Option<f64>,
    pub(super) causes: HashMap<String, Cause>,
    /// Causes not kept once [`CAUSES`] distinct ones were held, counted per session.
    pub(super) causes_dropped: u64,
    /// Every finding about an entity (up to [`FINDINGS`]).
    pub(super) findings: Vec<Listed>,
    /// Findings beyond [`FINDINGS`], counted.
    pub(super) findings_dropped: u64,
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
            findings: Vec::new(),
            findings_dropped: 0,
        }
    }
}

impl Collector {
    /// Keeps `score`, the `seen + 1`-th, in the sample of [`SCORES`] (reservoir sampling, with
    /// a fixed hash of the session's number as the draw, so a run gives the same report again).
    fn sample_score(&mut self, score: f64) {
        if self.scores.len() < SCORES {
            // Near the sample's size, grow to it and no further: doubling would leave room for
            // 131,072 scores.
            if self.scores.len() == self.scores.capacity() && self.scores.len() * 2 > SCORES {
                self.scores.reserve_exact(SCORES - self.scores.len());
            }
            self.scores.push(score);
            return;
        }
        // splitmix64's finaliser: a draw in 0..=seen for the session numbered `seen`.
        let mut z = self.seen.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let j = z % (self.seen + 1);
        if let Some(slot) = usize::try_from(j).ok().and_then(|j| self.scores.get_mut(j)) {
            *slot = score;
        }
    }

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
        self.sample_score(score);
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

    /// Takes note of a finding about an entity (not a session: it is kept apart from the
    /// sessions' statistics, and every one is listed).
    pub fn push_finding(&mut self, listed: Listed) {
        if self.findings.len() < FINDINGS {
            self.findings.push(listed);
        } else {
            self.findings_dropped += 1;
        }
    }

    /// The states of the sessions seen.
    pub fn states(&self) -> impl Iterator<Item = &str> {
        self.counts.keys().map(String::as_str)
    }

    /// The causes given by most anomalous sessions, most first (ties by the cause's words).
    pub(super) fn top_causes(&self, n: usize) -> Vec<(&str, &Cause)> {
        let mut v: Vec<(&str, &Cause)> = self.causes.iter().map(|(k, c)| (k.as_str(), c)).collect();
        v.sort_by(|a, b| b.1.sessions.cmp(&a.1.sessions).then_with(|| b.1.score.total_cmp(&a.1.score)).then(a.0.cmp(b.0)));
        v.truncate(n);
        v
    }

    /// Takes note of one row of `scores.jsonl` (as `logsieve report` reads it back); `single`
    /// names the input when the rows give bare line numbers.
    pub fn push_row(&mut self, row: &ScoreRow<'_>, single: &str) {
        if row.threshold.is_some() {
            self.threshold = row.threshold;
        }
        let events: Vec<&str> = row.events.iter().map(|e| e.as_ref()).collect();
        let start_secs = row.start.as_deref().and_then(parse_iso);
        if row.closed == Closed::Entity {
            self.push_finding(Listed::from_row(row, single));
            return;
        }
        let causes = row.reasons.iter().filter_map(cause);
        self.push(&row.session, row.score, row.anomalous, start_secs, &events, causes, || Listed::from_row(row, single));
    }

    /// Reads the raw text of the listed sessions' first lines back from the inputs (each file
    /// once, up to the last line needed). An input that cannot be read again (stdin, a file
    /// gone since) leaves its lines without text; the references stay.
    pub fn attach_raw_lines(&mut self) {
        let mut wanted: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for l in self.top.iter().chain(&self.findings) {
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
        for l in self.top.iter_mut().chain(self.findings.iter_mut()) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Component, ReasonKind, Source};

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
    fn the_histogram_keeps_a_bounded_uniform_sample_of_scores() {
        let mut c = Collector::default();
        // The first 120k sessions score 0, the next 180k score 1: 60% of all score 1.
        for i in 0..300_000u64 {
            c.sample_score(if i < 120_000 { 0.0 } else { 1.0 });
            c.seen += 1;
        }
        assert_eq!(c.scores.len(), SCORES);
        assert_eq!(c.scores.capacity(), SCORES, "grown to the sample's size, not past it");
        let share = c.scores.iter().filter(|&&s| s == 1.0).count() as f64 / SCORES as f64;
        // A uniform sample of 100k has a standard error of 0.15 points: 1 point is 6 of them.
        assert!((share - 0.6).abs() < 0.01, "{share}");
    }

    fn row(key: &str, score: f64, anomalous: bool, reasons: serde_json::Value) -> ScoreRow<'static> {
        let v = serde_json::json!({"session": key, "score": score, "anomalous": anomalous, "events": ["x", "y", "z", "x", "y", "z"],
            "reasons": reasons, "lines": [1, 2, 3, 4, 5, 6]});
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn anomalous_sessions_group_by_cause_wherever_it_occurs() {
        let window = |at: u64| {
            serde_json::json!({"kind": "unseen_window", "component": "ngram", "p": 0.01, "states": ["x", "y", "z"], "position": at,
            "text": format!("window never seen in training: x → y → z (at event {})", at + 1)})
        };
        let mut c = Collector::default();
        let a = serde_json::json!([window(0), window(3),
            {"kind": "unseen_state", "component": "cooccurrence", "p": 0.01, "states": ["z"], "position": 2, "text": "state never seen in training: z (at event 3)"}]);
        c.push_row(&row("a", 10.0, true, a), "f");
        let b = serde_json::json!([window(0), {"kind": "new_value", "component": "values", "p": 0.01, "field": "user", "value": "eve", "text": "new value user=eve (2 values known for user)"}]);
        c.push_row(&row("b", 12.0, true, b), "f");
        // Below the threshold, or allowed by review: no cause of an anomaly.
        c.push_row(&row("c", 3.0, false, serde_json::json!([window(0)])), "f");
        let allowed = serde_json::json!([{"kind": "allowed", "component": "review", "p": 1.0, "text": "marked normal"}]);
        c.push_row(&row("d", 20.0, false, allowed), "f");
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
            let r = serde_json::json!([{"kind": "new_value", "component": "values", "p": 0.01, "field": "ip", "value": i.to_string(), "text": "new"}]);
            c.push_row(&row(&format!("s{i}"), 9.0, true, r), "f");
        }
        assert_eq!(c.causes.len(), CAUSES);
        assert_eq!(c.causes_dropped, 8);
    }

    #[test]
    fn reasons_mark_their_events_without_the_padding() {
        let reason = |kind, states: &[&str], position| Reason {
            states: states.iter().map(|s| s.to_string()).collect(),
            position: Some(position),
            ..Reason::new(kind, Source::Component(Component::Ngram), 0.1, String::new())
        };
        let r = [reason(ReasonKind::UnseenWindow, &["^", "^", "a"], 0), reason(ReasonKind::UnseenState, &["c"], 4)];
        assert_eq!(marks(6, &r), [true, false, false, false, true, false]);
    }

    #[test]
    fn iso_times_read_back_as_the_scorer_placed_them() {
        assert_eq!(parse_iso("2008-11-09T20:35:20"), Some(1_226_262_920.0));
        assert_eq!(parse_iso("2008-11-09T21:35:20+01:00"), Some(1_226_262_920.0));
        assert_eq!(parse_iso("2008-11-09T20:35:20.500"), Some(1_226_262_920.5));
        assert_eq!(parse_iso("yesterday"), None);
    }
}

//! One row of `scores.jsonl`: written by `score` and `watch`, read back by `eval`, `allow` and
//! `report DIR` through the same type, so the contract lives in one place.

use std::borrow::Cow;
use std::fs::File;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Error, Result};
use crate::fasthash::HashMap;
use crate::model::{Component, ComponentScore, PerComponent, Reason, Verdict};
use crate::record::Timestamp;
use crate::session::{Closed, LineRef, Session, States};

/// Input lines of a session: bare 1-based numbers when the run read one input, `file:line`
/// otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Lines {
    /// Line numbers in the run's one input.
    Numbers(Vec<u64>),
    /// `file:line` references.
    Refs(Vec<String>),
}

impl Default for Lines {
    fn default() -> Self {
        Lines::Numbers(Vec::new())
    }
}

impl Lines {
    /// The lines of `refs`; `files` names the inputs, and with `several` the lines name them.
    pub fn of(refs: impl IntoIterator<Item = LineRef>, files: &[String], several: bool) -> Self {
        if several {
            Lines::Refs(refs.into_iter().map(|l| line_ref(&l, files)).collect())
        } else {
            Lines::Numbers(refs.into_iter().map(|l| l.line).collect())
        }
    }

    /// How many lines.
    pub fn len(&self) -> usize {
        match self {
            Lines::Numbers(v) => v.len(),
            Lines::Refs(v) => v.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The i-th line as (file, number); `single` names the file of a bare number. `None` for a
    /// reference that does not end in `:number`.
    pub fn get(&self, i: usize, single: &str) -> Option<(String, u64)> {
        match self {
            Lines::Numbers(v) => Some((single.to_owned(), *v.get(i)?)),
            Lines::Refs(v) => {
                let (f, n) = v.get(i)?.rsplit_once(':')?;
                Some((f.to_owned(), n.parse().ok()?))
            }
        }
    }
}

/// An input line as written in outputs: `file:line`.
pub(crate) fn line_ref(l: &LineRef, files: &[String]) -> String {
    format!("{}:{}", files.get(l.file as usize).map(String::as_str).unwrap_or("-"), l.line)
}

/// One line of `scores.jsonl`. Reading accepts the rows of other tools too: only `session`,
/// `score` and `anomalous` are required, and a numeric session id is read as its text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreRow<'a> {
    /// The entity key, window name or sequence id.
    #[serde(deserialize_with = "session_key")]
    pub session: Cow<'a, str>,
    /// Combined score.
    pub score: f64,
    /// Verdict.
    pub anomalous: bool,
    /// The model's threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// Log time of the first event, if any had one.
    #[serde(default)]
    pub start: Option<String>,
    /// Log time of the last event.
    #[serde(default)]
    pub end: Option<String>,
    /// States in order.
    #[serde(default)]
    pub events: Vec<Cow<'a, str>>,
    /// Why.
    #[serde(default)]
    pub reasons: Cow<'a, [Reason]>,
    /// Input lines.
    #[serde(default)]
    pub lines: Lines,
    /// The input lines behind the reasons: the events of unseen or rare windows, unseen and error
    /// states, and where new values came in (same form as `lines`).
    #[serde(default)]
    pub reason_lines: Lines,
    /// Each component's raw score and p-value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<PerComponent<ComponentScore>>,
    /// How the session was cut.
    #[serde(default = "closed_default")]
    pub closed: Closed,
    /// Events beyond the per-session cap.
    #[serde(default)]
    pub dropped: u64,
}

fn closed_default() -> Closed {
    Closed::EndOfInput
}

fn session_key<'de, 'a, D: Deserializer<'de>>(d: D) -> std::result::Result<Cow<'a, str>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Key {
        Text(String),
        Number(serde_json::Number),
    }
    Ok(Cow::Owned(match Key::deserialize(d)? {
        Key::Text(s) => s,
        Key::Number(n) => n.to_string(),
    }))
}

/// A log time as ISO 8601 text.
pub(crate) fn iso(t: Option<Timestamp>) -> Option<String> {
    t.map(|t| {
        let mut b = Vec::with_capacity(32);
        t.write_iso(&mut b);
        String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    })
}

/// Six significant decimals: enough to rank, and stable text.
fn round(x: f64) -> f64 {
    if x.is_finite() {
        (x * 1e6).round() / 1e6
    } else {
        x
    }
}

/// The JSON of the parts of a row that `scores.parquet` stores as JSON text, serialised once for
/// both files (see [`ScoreRow::write_json`]).
#[derive(Debug, Default)]
pub struct JsonParts {
    /// `reasons`.
    pub reasons: String,
    /// `lines`.
    pub lines: String,
    /// `reason_lines`.
    pub reason_lines: String,
    /// `components` (`null` when the row has none).
    pub components: String,
    /// The JSON of component scores met before, by their exact values: most sessions of a log
    /// repeat another's state sequence and so its scores, and writing the 14 numbers was a third
    /// of the writing thread's serialising.
    seen_components: HashMap<ComponentKey, String>,
}

/// Component scores as a key: each component and the bits of its two numbers.
type ComponentKey = [(Component, u64, u64); Component::COUNT];

/// The most component-score texts [`JsonParts`] keeps; then it starts again empty.
const MAX_SEEN_COMPONENTS: usize = 4096;

impl JsonParts {
    /// Leaves the JSON of `components` in `self.components`.
    fn fill_components(&mut self, components: Option<&PerComponent<ComponentScore>>) -> serde_json::Result<()> {
        let Some(c) = components else {
            self.components = "null".to_owned();
            return Ok(());
        };
        let key = c.0.map(|s| (s.name, s.raw.to_bits(), s.p.to_bits()));
        if let Some(text) = self.seen_components.get(&key) {
            self.components.clone_from(text);
            return Ok(());
        }
        self.components = serde_json::to_string(c)?;
        if self.seen_components.len() >= MAX_SEEN_COMPONENTS {
            self.seen_components.clear();
        }
        self.seen_components.insert(key, self.components.clone());
        Ok(())
    }
}

impl ScoreRow<'_> {
    /// Writes the row as one `scores.jsonl` line (without its newline) into `out`, the same
    /// bytes as serde's derived serialisation, and leaves the JSON of its parts in `parts`.
    pub fn write_json(&self, out: &mut Vec<u8>, parts: &mut JsonParts) -> serde_json::Result<()> {
        fn fill<T: Serialize + ?Sized>(text: &mut String, value: &T) -> serde_json::Result<()> {
            *text = serde_json::to_string(value)?;
            Ok(())
        }
        fill(&mut parts.reasons, &*self.reasons)?;
        fill(&mut parts.lines, &self.lines)?;
        fill(&mut parts.reason_lines, &self.reason_lines)?;
        parts.fill_components(self.components.as_ref())?;
        let field = |out: &mut Vec<u8>, name: &str, first: bool| {
            out.extend_from_slice(if first { b"{\"" } else { b",\"" });
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":");
        };
        field(out, "session", true);
        serde_json::to_writer(&mut *out, &self.session)?;
        field(out, "score", false);
        serde_json::to_writer(&mut *out, &self.score)?;
        field(out, "anomalous", false);
        serde_json::to_writer(&mut *out, &self.anomalous)?;
        if let Some(t) = self.threshold {
            field(out, "threshold", false);
            serde_json::to_writer(&mut *out, &t)?;
        }
        field(out, "start", false);
        serde_json::to_writer(&mut *out, &self.start)?;
        field(out, "end", false);
        serde_json::to_writer(&mut *out, &self.end)?;
        field(out, "events", false);
        serde_json::to_writer(&mut *out, &self.events)?;
        field(out, "reasons", false);
        out.extend_from_slice(parts.reasons.as_bytes());
        field(out, "lines", false);
        out.extend_from_slice(parts.lines.as_bytes());
        field(out, "reason_lines", false);
        out.extend_from_slice(parts.reason_lines.as_bytes());
        if self.components.is_some() {
            field(out, "components", false);
            out.extend_from_slice(parts.components.as_bytes());
        }
        field(out, "closed", false);
        serde_json::to_writer(&mut *out, &self.closed)?;
        field(out, "dropped", false);
        serde_json::to_writer(&mut *out, &self.dropped)?;
        out.push(b'}');
        Ok(())
    }
}

impl<'a> ScoreRow<'a> {
    /// The row of a scored session. `files` names the inputs read so far; with `several` inputs
    /// in the run, lines are written `file:line`.
    pub fn new(s: &'a Session, v: &'a Verdict, threshold: f64, states: &'a States, files: &[String], several: bool) -> Self {
        ScoreRow {
            session: Cow::Borrowed(&s.key),
            score: round(v.score),
            anomalous: v.anomalous,
            threshold: Some(round(threshold)),
            start: iso(s.start),
            end: iso(s.end),
            events: s.states.iter().map(|&i| Cow::Borrowed(states.name(i))).collect(),
            reasons: Cow::Borrowed(&v.reasons),
            lines: Lines::of(&s.lines, files, several),
            reason_lines: Lines::of(reason_lines(s, &v.reasons), files, several),
            components: Some(v.components),
            closed: s.closed,
            dropped: s.dropped,
        }
    }
}

/// The input lines behind a session's reasons, in input order: the events the reasons mark, and
/// the events new values came with.
pub fn reason_lines(s: &Session, reasons: &[Reason]) -> Vec<LineRef> {
    if s.closed == Closed::Sequence {
        // One line holds the whole session.
        return if reasons.iter().any(|r| r.position.is_some() || r.new_value().is_some()) { s.lines.to_vec() } else { Vec::new() };
    }
    let mut marked = crate::model::marked_events(s.states.len(), reasons);
    for (f, v) in reasons.iter().filter_map(Reason::new_value) {
        if let Some(k) = s.params.iter().position(|(pf, pv)| pf == f && pv == v) {
            if let Some(m) = s.param_at.get(k).and_then(|&at| marked.get_mut(at)) {
                *m = true;
            }
        }
    }
    let mut out: Vec<LineRef> = marked.iter().zip(&s.lines).filter(|(m, _)| **m).map(|(_, l)| l).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Reads a `scores.jsonl`: each non-empty line is parsed as a [`ScoreRow`] and handed to `each`;
/// a line that is not a row, or that `each` refuses (its message), is an error naming the file
/// and line.
pub fn for_each_row(path: &Path, mut each: impl FnMut(ScoreRow<'_>) -> std::result::Result<(), String>) -> Result<()> {
    use std::io::BufRead;
    let name = path.display().to_string();
    let file = File::open(path).map_err(|source| Error::Open { path: name.clone(), source })?;
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let bad = |message: String| Error::Input { path: name.clone(), line: i as u64 + 1, message };
        let line = line.map_err(|e| bad(e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        let row: ScoreRow<'_> = serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
        each(row).map_err(bad)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_written_as_serde_writes_them() {
        let reasons = r#"[{"kind": "unseen_window", "component": "ngram", "p": 0.01, "states": ["x", "y\"z"], "position": 3,
            "text": "window never seen in training: x → y\"z (at event 4)"}]"#;
        let components = r#"[{"name":"ngram","raw":0.0,"p":1.0},{"name":"transition","raw":2.544797704,"p":0.1850083209115227},
            {"name":"cooccurrence","raw":0.0,"p":1.0},{"name":"values","raw":0.0,"p":1.0},{"name":"pca","raw":0.001548374,"p":0.095},
            {"name":"knn","raw":0.0,"p":1.0},{"name":"errors","raw":1.0,"p":1e-9}]"#;
        let rows = [
            r#"{"session":"a","score":1.5,"anomalous":true}"#.to_owned(),
            format!(
                r#"{{"session":"sshd@h:1 \"quoted\"\n","score":1e-7,"anomalous":false,"threshold":3.25,"start":"2024-03-01T10:00:00",
                "end":null,"events":["a","b"],"reasons":{reasons},"lines":["f:1","g:2"],"reason_lines":[1,2],"components":{components},
                "closed":"timeout","dropped":3}}"#
            ),
            format!(r#"{{"session":"w#3","score":0.0,"anomalous":false,"events":[],"reasons":{reasons},"lines":[7]}}"#),
            // Scores one bit apart, and -0 against 0: remembered texts are kept apart by value.
            format!(
                r#"{{"session":"b","score":1.0,"anomalous":false,"components":{}}}"#,
                components.replace("0.095", "0.09500000000000001")
            ),
            format!(
                r#"{{"session":"c","score":1.0,"anomalous":false,"components":{}}}"#,
                components.replace(r#""raw":0.0,"p":1.0},{"name":"transition""#, r#""raw":-0.0,"p":1.0},{"name":"transition""#)
            ),
        ];
        // One `JsonParts` for all rows, twice over, as a writer keeps it.
        let mut parts = JsonParts::default();
        for text in rows.iter().chain(&rows) {
            let row: ScoreRow<'_> = serde_json::from_str(text).unwrap();
            let mut out = Vec::new();
            row.write_json(&mut out, &mut parts).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&row).unwrap());
            assert_eq!(parts.reasons, serde_json::to_string(&row.reasons).unwrap());
            assert_eq!(parts.lines, serde_json::to_string(&row.lines).unwrap());
            assert_eq!(parts.reason_lines, serde_json::to_string(&row.reason_lines).unwrap());
            assert_eq!(parts.components, serde_json::to_string(&row.components).unwrap());
        }
    }

    #[test]
    fn rows_of_other_tools_need_only_session_score_and_verdict() {
        let r: ScoreRow<'_> = serde_json::from_str(r#"{"session":17,"score":1.5,"anomalous":true}"#).unwrap();
        assert_eq!((r.session.as_ref(), r.score, r.anomalous, r.closed), ("17", 1.5, true, Closed::EndOfInput));
        assert!(r.lines.is_empty() && r.reasons.is_empty() && r.components.is_none());
        let err = serde_json::from_str::<ScoreRow<'_>>(r#"{"session":"a","score":"high","anomalous":true}"#).unwrap_err();
        assert!(err.to_string().contains("invalid type"), "{err}");
    }

    #[test]
    fn lines_read_back_as_written() {
        let files = ["a.log".to_owned(), "dir/b:c.log".to_owned()];
        let refs = [LineRef { file: 0, line: 3 }, LineRef { file: 1, line: 9 }];
        let text = serde_json::to_string(&Lines::of(refs, &files, true)).unwrap();
        assert_eq!(text, r#"["a.log:3","dir/b:c.log:9"]"#);
        let back: Lines = serde_json::from_str(&text).unwrap();
        assert_eq!(back.get(1, "-"), Some(("dir/b:c.log".to_owned(), 9)));
        let bare: Lines = serde_json::from_str("[4,5]").unwrap();
        assert_eq!((bare.len(), bare.get(0, "x.log")), (2, Some(("x.log".to_owned(), 4))));
        assert_eq!(bare.get(2, "x.log"), None);
    }
}

//! Machine-readable verdicts: `scores.jsonl` (one object per session, written as sessions close)
//! and `scores.parquet` (polars, written in row groups so memory stays flat).
//!
//! Fields (both files): `session`, `score`, `anomalous`, `threshold`, `start`, `end`, `events`
//! (the state sequence), `reasons`, `lines` (1-based input lines; `file:line` strings when there
//! are several inputs), plus `components` (each component's raw score and p-value), `closed`
//! (how the session was cut) and `dropped` (events beyond the per-session cap). In Parquet,
//! `events` is one space-separated string and `reasons`, `lines` and `components` are JSON text.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::{ComponentScore, Reason, Verdict};
use crate::record::Timestamp;
use crate::session::{LineRef, Session, States};

/// Rows buffered before a Parquet row group is written.
const ROW_GROUP: usize = 10_000;

/// One line of `scores.jsonl`.
#[derive(Debug, Serialize)]
pub struct Row<'a> {
    /// The entity key, window name or sequence id.
    pub session: &'a str,
    /// Combined score.
    pub score: f64,
    /// Verdict.
    pub anomalous: bool,
    /// The model's threshold.
    pub threshold: f64,
    /// Log time of the first event, if any had one.
    pub start: Option<String>,
    /// Log time of the last event.
    pub end: Option<String>,
    /// States in order.
    pub events: Vec<&'a str>,
    /// Why.
    pub reasons: &'a [Reason],
    /// Input lines.
    pub lines: serde_json::Value,
    /// Each component's raw score and p-value.
    pub components: &'a [ComponentScore; 6],
    /// How the session was cut.
    pub closed: &'static str,
    /// Events beyond the per-session cap.
    pub dropped: u64,
}

/// A log time as ISO 8601 text.
pub(crate) fn iso(t: Option<Timestamp>) -> Option<String> {
    t.map(|t| {
        let mut b = Vec::new();
        t.write_iso(&mut b);
        String::from_utf8_lossy(&b).into_owned()
    })
}

/// Builds the output row of a scored session. `files` names the inputs read so far; with
/// `several` inputs in the run, lines are written `file:line`.
pub fn row<'a>(s: &'a Session, v: &'a Verdict, threshold: f64, states: &'a States, files: &[String], several: bool) -> Row<'a> {
    let lines = if several {
        serde_json::Value::from(s.lines.iter().map(|l| line_ref(l, files)).collect::<Vec<_>>())
    } else {
        serde_json::Value::from(s.lines.iter().map(|l| l.line).collect::<Vec<_>>())
    };
    Row {
        session: &s.key,
        score: round(v.score),
        anomalous: v.anomalous,
        threshold: round(threshold),
        start: iso(s.start),
        end: iso(s.end),
        events: s.states.iter().map(|&i| states.name(i)).collect(),
        reasons: &v.reasons,
        lines,
        components: &v.components,
        closed: s.closed.as_str(),
        dropped: s.dropped,
    }
}

/// An input line as written in outputs: `file:line`.
pub(crate) fn line_ref(l: &LineRef, files: &[String]) -> String {
    format!("{}:{}", files.get(l.file as usize).map(String::as_str).unwrap_or("-"), l.line)
}

/// Reads a `scores.jsonl`: each non-empty line is parsed and handed to `each`; a line that is not
/// JSON, or that `each` refuses (its message), is an error naming the file and line.
pub fn for_each_row(path: &Path, mut each: impl FnMut(&serde_json::Value) -> std::result::Result<(), String>) -> Result<()> {
    use std::io::BufRead;
    let name = path.display().to_string();
    let file = File::open(path).map_err(|source| Error::Open { path: name.clone(), source })?;
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let bad = |message: String| Error::Input { path: name.clone(), line: i as u64 + 1, message };
        let line = line.map_err(|e| bad(e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        let row: serde_json::Value = serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
        each(&row).map_err(bad)?;
    }
    Ok(())
}

/// Six significant decimals: enough to rank, and stable text.
fn round(x: f64) -> f64 {
    if x.is_finite() {
        (x * 1e6).round() / 1e6
    } else {
        x
    }
}

#[derive(Default)]
struct Columns {
    session: Vec<String>,
    score: Vec<f64>,
    anomalous: Vec<bool>,
    threshold: Vec<f64>,
    start: Vec<Option<String>>,
    end: Vec<Option<String>>,
    events: Vec<String>,
    n_events: Vec<u64>,
    reasons: Vec<String>,
    lines: Vec<String>,
    components: Vec<String>,
    closed: Vec<String>,
}

impl Columns {
    fn frame(&mut self) -> PolarsResult<DataFrame> {
        let c = std::mem::take(self);
        let height = c.session.len();
        DataFrame::new(
            height,
            vec![
                Column::new("session".into(), c.session),
                Column::new("score".into(), c.score),
                Column::new("anomalous".into(), c.anomalous),
                Column::new("threshold".into(), c.threshold),
                Column::new("start".into(), c.start),
                Column::new("end".into(), c.end),
                Column::new("events".into(), c.events),
                Column::new("n_events".into(), c.n_events),
                Column::new("reasons".into(), c.reasons),
                Column::new("lines".into(), c.lines),
                Column::new("components".into(), c.components),
                Column::new("closed".into(), c.closed),
            ],
        )
    }
}

/// Writes `scores.jsonl` and `scores.parquet` in a directory.
pub struct ScoreWriter {
    jsonl: BufWriter<File>,
    jsonl_path: PathBuf,
    parquet_path: PathBuf,
    parquet: Option<polars::io::parquet::write::BatchedWriter<File>>,
    rows: Columns,
    line: Vec<u8>,
}

impl ScoreWriter {
    /// Creates the directory and both files.
    pub fn create(dir: &Path) -> Result<Self> {
        let werr = |p: &Path| {
            let path = p.display().to_string();
            move |source| Error::Write { path, source }
        };
        std::fs::create_dir_all(dir).map_err(werr(dir))?;
        let jsonl_path = dir.join("scores.jsonl");
        let jsonl = BufWriter::with_capacity(256 * 1024, File::create(&jsonl_path).map_err(werr(&jsonl_path))?);
        Ok(ScoreWriter {
            jsonl,
            jsonl_path,
            parquet_path: dir.join("scores.parquet"),
            parquet: None,
            rows: Columns::default(),
            line: Vec::new(),
        })
    }

    fn parquet_err(&self, e: PolarsError) -> Error {
        Error::Write { path: self.parquet_path.display().to_string(), source: std::io::Error::other(e.to_string()) }
    }

    /// Writes one row.
    pub fn push(&mut self, row: &Row<'_>) -> Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, row)
            .map_err(|e| Error::Write { path: self.jsonl_path.display().to_string(), source: e.into() })?;
        self.line.push(b'\n');
        self.jsonl.write_all(&self.line).map_err(|source| Error::Write { path: self.jsonl_path.display().to_string(), source })?;
        let r = &mut self.rows;
        r.session.push(row.session.to_owned());
        r.score.push(row.score);
        r.anomalous.push(row.anomalous);
        r.threshold.push(row.threshold);
        r.start.push(row.start.clone());
        r.end.push(row.end.clone());
        r.events.push(row.events.join(" "));
        r.n_events.push(row.events.len() as u64);
        r.reasons.push(serde_json::to_string(row.reasons).unwrap_or_default());
        r.lines.push(row.lines.to_string());
        r.components.push(serde_json::to_string(row.components).unwrap_or_default());
        r.closed.push(row.closed.to_owned());
        if r.session.len() >= ROW_GROUP {
            self.flush_rows()?;
        }
        Ok(())
    }

    fn flush_rows(&mut self) -> Result<()> {
        let df = self.rows.frame().map_err(|e| self.parquet_err(e))?;
        if self.parquet.is_none() {
            let file = File::create(&self.parquet_path)
                .map_err(|source| Error::Write { path: self.parquet_path.display().to_string(), source })?;
            // Statistics of long text columns (reasons) are cut short: the footer keeps them for
            // every row group, and untruncated they made memory grow with the input.
            let stats = StatisticsOptions {
                min_value: true,
                max_value: true,
                distinct_count: false,
                null_count: true,
                binary_statistics_truncate_length: Some(32),
            };
            let w = ParquetWriter::new(file)
                .with_statistics(stats)
                .set_parallel(false)
                .batched(df.schema())
                .map_err(|e| self.parquet_err(e))?;
            self.parquet = Some(w);
        }
        if df.height() > 0 {
            let res = self.parquet.as_mut().map(|w| w.write_batch(&df)).unwrap_or(Ok(()));
            res.map_err(|e| self.parquet_err(e))?;
        }
        Ok(())
    }

    /// Flushes both files.
    pub fn finish(mut self) -> Result<()> {
        self.jsonl.flush().map_err(|source| Error::Write { path: self.jsonl_path.display().to_string(), source })?;
        self.flush_rows()?;
        if let Some(w) = self.parquet.take() {
            w.finish().map_err(|e| self.parquet_err(e))?;
        }
        Ok(())
    }
}

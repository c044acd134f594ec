//! Machine-readable verdicts: `scores.jsonl` (one object per session, written as sessions close)
//! and `scores.parquet` (polars, written in row groups so memory stays flat).
//!
//! Fields (both files): `session`, `score`, `anomalous`, `threshold`, `start`, `end`, `events`
//! (the state sequence), `reasons`, `lines` (1-based input lines; `file:line` strings when there
//! are several inputs), `reason_lines` (the lines behind the reasons, in the same form), plus `components` (each component's raw score and p-value), `closed`
//! (how the session was cut) and `dropped` (events beyond the per-session cap). In Parquet,
//! `events` is one space-separated string and `reasons`, `lines`, `reason_lines` and
//! `components` are JSON text.
//!
//! [`events`] writes normalized events as Parquet (`normalize --output parquet DIR`).

pub mod ecs;
pub mod events;
mod row;
mod staging;

pub(crate) use row::iso;
pub use row::{for_each_row, JsonParts, Lines, ScoreRow};
pub use staging::Staging;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::model::Verdict;
use crate::session::{Session, States};

/// Rows buffered before a Parquet row group is written.
const ROW_GROUP: usize = 10_000;
/// Bytes of row text (the JSON line) buffered before a row group is written, whatever the rows:
/// sessions of thousands of events make large rows, and memory stays bounded by this.
const ROW_GROUP_BYTES: usize = 4 << 20;

/// The columns of the rows buffered for the next row group. Text goes straight into polars'
/// string builders: a `String` per cell, copied again into the column, was a third of the
/// writing thread's allocations.
struct Columns {
    rows: usize,
    session: StringChunkedBuilder,
    score: Vec<f64>,
    anomalous: Vec<bool>,
    threshold: Vec<f64>,
    start: StringChunkedBuilder,
    end: StringChunkedBuilder,
    events: StringChunkedBuilder,
    n_events: Vec<u64>,
    reasons: StringChunkedBuilder,
    lines: StringChunkedBuilder,
    reason_lines: StringChunkedBuilder,
    components: StringChunkedBuilder,
    closed: StringChunkedBuilder,
}

impl Columns {
    /// Empty columns with room for `rows` rows.
    fn new(rows: usize) -> Self {
        let text = |name: &str| StringChunkedBuilder::new(name.into(), rows);
        Columns {
            rows: 0,
            session: text("session"),
            score: Vec::new(),
            anomalous: Vec::new(),
            threshold: Vec::new(),
            start: text("start"),
            end: text("end"),
            events: text("events"),
            n_events: Vec::new(),
            reasons: text("reasons"),
            lines: text("lines"),
            reason_lines: text("reason_lines"),
            components: text("components"),
            closed: text("closed"),
        }
    }

    fn frame(&mut self) -> PolarsResult<DataFrame> {
        let c = std::mem::replace(self, Columns::new(0));
        let text = |b: StringChunkedBuilder| b.finish().into_series().into_column();
        DataFrame::new(
            c.rows,
            vec![
                text(c.session),
                Column::new("score".into(), c.score),
                Column::new("anomalous".into(), c.anomalous),
                Column::new("threshold".into(), c.threshold),
                text(c.start),
                text(c.end),
                text(c.events),
                Column::new("n_events".into(), c.n_events),
                text(c.reasons),
                text(c.lines),
                text(c.reason_lines),
                text(c.components),
                text(c.closed),
            ],
        )
    }
}

/// A Parquet file written one row group at a time (polars' batched writer), created at the
/// first row group so that the schema comes from the data.
pub(crate) struct ParquetSink {
    path: PathBuf,
    writer: Option<polars::io::parquet::write::BatchedWriter<File>>,
}

impl ParquetSink {
    pub(crate) fn new(path: PathBuf) -> Self {
        ParquetSink { path, writer: None }
    }

    /// A polars error as a write error naming the file.
    pub(crate) fn error(&self, e: PolarsError) -> Error {
        Error::Write { path: self.path.display().to_string(), source: std::io::Error::other(e.to_string()) }
    }

    /// Writes `df` as a row group (creating the file first if need be).
    pub(crate) fn write(&mut self, df: &DataFrame) -> Result<()> {
        if self.writer.is_none() {
            let file = File::create(&self.path).map_err(|source| Error::Write { path: self.path.display().to_string(), source })?;
            // Statistics of long text columns (reasons, messages) are cut short: the footer keeps
            // them for every row group, and untruncated they made memory grow with the input.
            let stats = StatisticsOptions {
                min_value: true,
                max_value: true,
                distinct_count: false,
                null_count: true,
                binary_statistics_truncate_length: Some(32),
            };
            let w = ParquetWriter::new(file).with_statistics(stats).set_parallel(false).batched(df.schema()).map_err(|e| self.error(e))?;
            self.writer = Some(w);
        }
        if df.height() > 0 {
            let res = self.writer.as_mut().map(|w| w.write_batch(df)).unwrap_or(Ok(()));
            res.map_err(|e| self.error(e))?;
        }
        Ok(())
    }

    /// Writes the footer and closes the file.
    pub(crate) fn finish(&mut self) -> Result<()> {
        if let Some(w) = self.writer.take() {
            w.finish().map_err(|e| self.error(e))?;
        }
        Ok(())
    }
}

/// Writes `scores.jsonl` and `scores.parquet` in a directory.
pub struct ScoreWriter {
    jsonl: BufWriter<File>,
    jsonl_path: PathBuf,
    parquet: ParquetSink,
    rows: Columns,
    line: Vec<u8>,
    /// A row's states, joined for the Parquet column.
    events: String,
    /// The row's parts that both files hold as JSON, serialised once.
    parts: JsonParts,
    /// Bytes of the rows buffered since the last row group.
    buffered: usize,
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
            parquet: ParquetSink::new(dir.join("scores.parquet")),
            rows: Columns::new(ROW_GROUP),
            line: Vec::new(),
            events: String::new(),
            parts: JsonParts::default(),
            buffered: 0,
        })
    }

    /// Writes one row.
    pub fn push(&mut self, row: &ScoreRow<'_>) -> Result<()> {
        self.line.clear();
        row.write_json(&mut self.line, &mut self.parts)
            .map_err(|e| Error::Write { path: self.jsonl_path.display().to_string(), source: e.into() })?;
        self.line.push(b'\n');
        self.jsonl.write_all(&self.line).map_err(|source| Error::Write { path: self.jsonl_path.display().to_string(), source })?;
        let r = &mut self.rows;
        r.rows += 1;
        r.session.append_value(&row.session);
        r.score.push(row.score);
        r.anomalous.push(row.anomalous);
        r.threshold.push(row.threshold.unwrap_or_default());
        r.start.append_option(row.start.as_deref());
        r.end.append_option(row.end.as_deref());
        self.events.clear();
        for (i, e) in row.events.iter().enumerate() {
            if i > 0 {
                self.events.push(' ');
            }
            self.events.push_str(e);
        }
        r.events.append_value(&self.events);
        r.n_events.push(row.events.len() as u64);
        let p = &self.parts;
        r.reasons.append_value(&p.reasons);
        r.lines.append_value(&p.lines);
        r.reason_lines.append_value(&p.reason_lines);
        r.components.append_value(&p.components);
        r.closed.append_value(row.closed.as_str());
        self.buffered += self.line.len();
        if r.rows >= ROW_GROUP || self.buffered >= ROW_GROUP_BYTES {
            self.flush_rows()?;
            self.buffered = 0;
        }
        Ok(())
    }

    /// Writes the rows buffered as a row group, then makes room for the next one: made before the
    /// write, the next group's empty columns (about 2.9 MB) were the writer's peak alongside the
    /// group being encoded.
    fn flush_rows(&mut self) -> Result<()> {
        self.write_rows()?;
        self.rows = Columns::new(ROW_GROUP);
        Ok(())
    }

    fn write_rows(&mut self) -> Result<()> {
        let df = self.rows.frame().map_err(|e| self.parquet.error(e))?;
        self.parquet.write(&df)
    }

    /// Flushes both files.
    pub fn finish(mut self) -> Result<()> {
        self.jsonl.flush().map_err(|source| Error::Write { path: self.jsonl_path.display().to_string(), source })?;
        self.write_rows()?;
        self.parquet.finish()
    }
}

/// A scored session handed to a [`ScoreThread`], with the state names and input names that
/// appeared since the last one.
struct Scored {
    session: Session,
    verdict: Verdict,
    new_states: Vec<String>,
    new_files: Vec<String>,
}

/// A [`ScoreWriter`] on a thread of its own: building and serialising the rows (JSON and Parquet)
/// is as much work as scoring them, so `score` hands each session over and goes on. The rows
/// are written in the order the sessions were pushed, so the files are the same as with a
/// `ScoreWriter` on the scoring thread.
pub struct ScoreThread {
    tx: Option<std::sync::mpsc::SyncSender<Vec<Scored>>>,
    handle: Option<std::thread::JoinHandle<Result<()>>>,
    states_sent: usize,
    files_sent: usize,
    /// Sessions gathered for the next hand-over.
    batch: Vec<Scored>,
    /// Their events.
    batch_events: usize,
}

/// Sessions handed to the writing thread at a time: one hand-over per session woke the thread
/// for each.
const SCORED_BATCH: usize = 64;
/// Events handed over at a time, whatever the sessions: the channel holds 16 hand-overs, and
/// when long sessions close together (the end of an input with hundreds of entities at the
/// 10,000-event cap) scoring outruns writing them, so up to 1,024 of them, 40 KB of state ids
/// each, could wait in the channel.
const SCORED_EVENTS: usize = 4096;

impl ScoreThread {
    /// Starts the thread. `states` are the names known so far (ids in order); `threshold` and
    /// `several` are as for [`ScoreRow::new`].
    pub fn spawn(mut writer: ScoreWriter, states: &States, threshold: f64, several: bool) -> Result<Self> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Scored>>(1024 / SCORED_BATCH);
        let mut names = States::from_names(states.names());
        let states_sent = states.names().len();
        let handle = std::thread::Builder::new().name("logsieve-write".into()).spawn(move || {
            let mut files: Vec<String> = Vec::new();
            for m in rx.into_iter().flatten() {
                for n in &m.new_states {
                    names.intern(n);
                }
                files.extend(m.new_files);
                writer.push(&ScoreRow::new(&m.session, &m.verdict, threshold, &names, &files, several))?;
            }
            writer.finish()
        });
        let batch = Vec::with_capacity(SCORED_BATCH);
        Ok(ScoreThread { tx: Some(tx), handle: Some(handle.map_err(Error::Thread)?), states_sent, files_sent: 0, batch, batch_events: 0 })
    }

    /// Hands one scored session over. `states` and `files` are the scoring thread's, which only
    /// grow. A write error on the thread comes back here (or from [`ScoreThread::finish`]).
    pub fn push(&mut self, session: Session, verdict: Verdict, states: &States, files: &[String]) -> Result<()> {
        let new_states = states.names()[self.states_sent..].to_vec();
        self.states_sent = states.names().len();
        let new_files = files[self.files_sent.min(files.len())..].to_vec();
        self.files_sent = files.len();
        self.batch_events += session.states.len();
        self.batch.push(Scored { session, verdict, new_states, new_files });
        if self.batch.len() < SCORED_BATCH && self.batch_events < SCORED_EVENTS {
            return Ok(());
        }
        self.send()
    }

    /// Hands the gathered sessions over.
    fn send(&mut self) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(SCORED_BATCH));
        self.batch_events = 0;
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(batch).is_ok());
        if sent {
            Ok(())
        } else {
            // The thread has ended: only an error ends it early.
            self.join().and(Err(Error::Stopped))
        }
    }

    /// Waits for every row to be written and both files to be closed.
    pub fn finish(mut self) -> Result<()> {
        self.send()?;
        self.join()
    }

    fn join(&mut self) -> Result<()> {
        drop(self.tx.take());
        match self.handle.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::model::{Component, ComponentScore, PerComponent, Reason, ReasonKind, Source};
    use crate::session::LineRef;

    fn verdict(i: u32) -> Verdict {
        let components = PerComponent::from_fn(|name| ComponentScore { name, raw: f64::from(i) / 7.0, p: 1.0 / f64::from(i + 1) });
        let reasons = if i % 3 == 0 {
            let text = format!("state never seen in training: s{i}");
            vec![Reason {
                states: vec![format!("s{i}")],
                position: Some(0),
                ..Reason::new(ReasonKind::UnseenState, Source::Component(Component::Cooccurrence), 0.01, text)
            }]
        } else {
            Vec::new()
        };
        Verdict { score: f64::from(i) / 3.0, anomalous: i % 3 == 0, components, reasons }
    }

    /// Sessions whose states and files appear part-way, as when scoring meets new states and
    /// inputs: the thread must name them as the scoring thread did when it pushed each session.
    fn sessions() -> Vec<(Session, Verdict, States, Vec<String>)> {
        let mut states = States::from_names(&["a".to_owned(), "b".to_owned()]);
        let mut files = vec!["one.log".to_owned()];
        (0..25_000u32)
            .map(|i| {
                if i % 5_000 == 4_999 {
                    states.intern(&format!("new{i}"));
                    files.push(format!("input{i}.log"));
                }
                let last = states.names().len() as u32 - 1;
                let line = LineRef { file: files.len() as u32 - 1, line: u64::from(i) + 1 };
                let s = Session::sequence(format!("k{i}"), vec![0, i % 2, last], line);
                (s, verdict(i), states.clone(), files.clone())
            })
            .collect()
    }

    #[test]
    fn rows_written_on_a_thread_equal_rows_written_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let (direct, threaded) = (dir.path().join("direct"), dir.path().join("threaded"));
        let all = sessions();
        let mut w = ScoreWriter::create(&direct).unwrap();
        for (s, v, states, files) in &all {
            w.push(&ScoreRow::new(s, v, 8.5, states, files, true)).unwrap();
        }
        w.finish().unwrap();
        let mut t = ScoreThread::spawn(ScoreWriter::create(&threaded).unwrap(), &all[0].2, 8.5, true).unwrap();
        for (s, v, states, files) in all {
            t.push(s, v, &states, &files).unwrap();
        }
        t.finish().unwrap();
        for name in ["scores.jsonl", "scores.parquet"] {
            let (a, b) = (std::fs::read(direct.join(name)).unwrap(), std::fs::read(threaded.join(name)).unwrap());
            assert!(a.len() > 100_000, "{name}: {} bytes", a.len());
            assert!(a == b, "{name} differs");
        }
        let text = std::fs::read_to_string(threaded.join("scores.jsonl")).unwrap();
        assert_eq!(text.lines().count(), 25_000);
        assert!(text.lines().last().unwrap().contains("\"input24999.log:25000\""));
    }

    #[test]
    fn large_rows_make_more_row_groups_and_every_row_is_in_the_parquet_file() {
        use polars::prelude::{ParquetReader, SerReader};
        let dir = tempfile::tempdir().unwrap();
        let states = States::from_names(&["a-fairly-long-state-name-of-a-template".to_owned(), "b".to_owned()]);
        let files = vec!["one.log".to_owned()];
        let mut w = ScoreWriter::create(dir.path()).unwrap();
        // 600 sessions of 500 events each: about 20 KB a row, so several groups of 4 MiB.
        for i in 0..600u32 {
            let s = Session::sequence(format!("k{i}"), (0..500).map(|k| k % 2).collect(), LineRef { file: 0, line: u64::from(i) + 1 });
            w.push(&ScoreRow::new(&s, &verdict(i), 8.5, &states, &files, false)).unwrap();
        }
        w.finish().unwrap();
        let mut reader = ParquetReader::new(std::fs::File::open(dir.path().join("scores.parquet")).unwrap());
        let groups = reader.get_metadata().unwrap().row_groups.len();
        assert!(groups >= 2, "{groups} row groups");
        let df = reader.finish().unwrap();
        assert_eq!(df.height(), 600);
        let sessions: Vec<String> = df.column("session").unwrap().str().unwrap().iter().map(|s| s.unwrap_or_default().to_owned()).collect();
        assert_eq!(sessions, (0..600).map(|i| format!("k{i}")).collect::<Vec<_>>());
    }

    #[test]
    fn a_write_error_on_the_thread_comes_back() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let writer = ScoreWriter::create(&out).unwrap();
        // The Parquet file is created at the first row group: a directory in its place fails it.
        std::fs::create_dir(out.join("scores.parquet")).unwrap();
        let all = sessions();
        let mut t = ScoreThread::spawn(writer, &all[0].2, 8.5, false).unwrap();
        let mut failed = None;
        for (s, v, states, files) in all {
            if let Err(e) = t.push(s, v, &states, &files) {
                failed = Some(e);
                break;
            }
        }
        let err = failed.unwrap_or_else(|| t.finish().unwrap_err());
        assert!(err.to_string().contains("scores.parquet"), "{err}");
    }
}

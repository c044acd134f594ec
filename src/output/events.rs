//! Normalized events as Parquet (`normalize --output parquet DIR` writes `DIR/events.parquet`):
//! one row per input record, with flat columns named by their ECS path, so that any engine
//! (Spark, DuckDB, polars) can filter events and partition them by entity without knowing
//! logsieve's rules.
//!
//! Columns, all nullable text unless said otherwise:
//! - `@timestamp` (ISO 8601 as in the JSON output), `event.original`, `message`, `host.hostname`,
//!   `process.name`, `process.pid` (u32), `log.level`, `log.logger`;
//! - `event.action`, `event.category` and `event.type` (ECS arrays, comma-separated),
//!   `event.outcome`;
//! - one column per standard field, named by its ECS field (`user.name`, `source.ip`,
//!   `source.port`, `email.to.address`, `logsieve.original_recipient`, ...; see
//!   [`crate::normalize::vocabulary::FIELDS`]): its first value;
//! - `logsieve.file`, `logsieve.line` (u64), `logsieve.format`, `logsieve.rule`,
//!   `logsieve.template_id` (u32), `logsieve.template`, `logsieve.state` (the state the session
//!   stage uses), `logsieve.session_key` (the entity key the rule names) and `logsieve.lifecycle`
//!   (`start`, `step` or `end`);
//! - for sequences input, `logsieve.session` and `logsieve.events` (space-separated states);
//! - `logsieve.fields`: a JSON object with everything else the event or record holds (other
//!   fields, and the second and later values of a standard field, as an array), so nothing is lost.

use std::path::Path;

use polars::prelude::*;
use serde_json::{Map, Value};

use super::{iso, ParquetSink};
use crate::error::{Error, Result};
use crate::normalize::vocabulary::FIELDS;
use crate::normalize::{Event, Origin};
use crate::record::Record;

/// Rows buffered before a row group is written.
const ROW_GROUP: usize = 32_768;

/// The name of the file written in the output directory.
pub const EVENTS_FILE: &str = "events.parquet";

/// The rows of one row group, column by column.
#[derive(Default)]
struct Columns {
    timestamp: Vec<Option<String>>,
    original: Vec<String>,
    message: Vec<String>,
    host: Vec<Option<String>>,
    process: Vec<Option<String>>,
    pid: Vec<Option<u32>>,
    level: Vec<Option<&'static str>>,
    logger: Vec<Option<String>>,
    action: Vec<Option<&'static str>>,
    category: Vec<Option<String>>,
    kind: Vec<Option<String>>,
    outcome: Vec<Option<&'static str>>,
    /// One per entry of [`FIELDS`], in its order.
    standard: Vec<Vec<Option<String>>>,
    file: Vec<String>,
    line: Vec<u64>,
    format: Vec<&'static str>,
    rule: Vec<Option<String>>,
    template_id: Vec<Option<u32>>,
    template: Vec<Option<String>>,
    state: Vec<Option<String>>,
    session_key: Vec<Option<String>>,
    lifecycle: Vec<Option<&'static str>>,
    session: Vec<Option<String>>,
    events: Vec<Option<String>>,
    fields: Vec<Option<String>>,
}

impl Columns {
    /// Empty columns, with one standard-field column per entry of [`FIELDS`].
    fn new() -> Self {
        Columns { standard: vec![Vec::new(); FIELDS.len()], ..Default::default() }
    }

    fn len(&self) -> usize {
        self.original.len()
    }

    fn frame(&mut self) -> PolarsResult<DataFrame> {
        let c = std::mem::replace(self, Columns::new());
        let height = c.len();
        let mut cols = vec![
            Column::new("@timestamp".into(), c.timestamp),
            Column::new("event.original".into(), c.original),
            Column::new("message".into(), c.message),
            Column::new("host.hostname".into(), c.host),
            Column::new("process.name".into(), c.process),
            Column::new("process.pid".into(), c.pid),
            Column::new("log.level".into(), c.level),
            Column::new("log.logger".into(), c.logger),
            Column::new("event.action".into(), c.action),
            Column::new("event.category".into(), c.category),
            Column::new("event.type".into(), c.kind),
            Column::new("event.outcome".into(), c.outcome),
        ];
        for ((_, ecs), values) in FIELDS.iter().zip(c.standard) {
            cols.push(Column::new((*ecs).into(), values));
        }
        cols.extend([
            Column::new("logsieve.file".into(), c.file),
            Column::new("logsieve.line".into(), c.line),
            Column::new("logsieve.format".into(), c.format),
            Column::new("logsieve.rule".into(), c.rule),
            Column::new("logsieve.template_id".into(), c.template_id),
            Column::new("logsieve.template".into(), c.template),
            Column::new("logsieve.state".into(), c.state),
            Column::new("logsieve.session_key".into(), c.session_key),
            Column::new("logsieve.lifecycle".into(), c.lifecycle),
            Column::new("logsieve.session".into(), c.session),
            Column::new("logsieve.events".into(), c.events),
            Column::new("logsieve.fields".into(), c.fields),
        ]);
        DataFrame::new(height, cols)
    }
}

/// Writes normalized events to `DIR/events.parquet`, a row group per 32,768 events.
pub struct EventWriter {
    sink: ParquetSink,
    rows: Columns,
}

impl EventWriter {
    /// Creates the directory; the file is created with the first row group (or at
    /// [`EventWriter::finish`] when there is no event).
    pub fn create(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Write { path: dir.display().to_string(), source })?;
        Ok(EventWriter { sink: ParquetSink::new(dir.join(EVENTS_FILE)), rows: Columns::new() })
    }

    /// Adds one event (`event` is none for records that were not normalized).
    pub fn push(&mut self, rec: &Record, event: Option<&Event>, origin: &Origin<'_>) -> Result<()> {
        let r = &mut self.rows;
        r.timestamp.push(iso(rec.timestamp));
        r.original.push(origin.original.to_owned());
        r.message.push(rec.message.clone());
        r.host.push(rec.host.clone());
        r.process.push(rec.app.clone());
        r.pid.push(rec.pid);
        r.level.push(rec.severity.map(|s| s.as_str()));
        r.logger.push(rec.component.clone());
        r.file.push(origin.file.to_owned());
        r.line.push(origin.line);
        r.format.push(rec.kind.as_str());
        r.session.push(rec.sequence.as_ref().map(|s| s.id.clone()));
        r.events.push(rec.sequence.as_ref().map(|s| s.events.join(" ")));
        let mut rest = Map::new();
        let action = event.and_then(|e| e.action);
        r.action.push(action.map(|a| a.name));
        r.category.push(action.map(|a| a.category.join(",")));
        r.kind.push(action.map(|a| a.kind.join(",")));
        r.outcome.push(event.and_then(|e| e.outcome));
        r.rule.push(event.and_then(|e| e.rule.clone()));
        r.template_id.push(event.and_then(|e| e.template.as_ref().map(|t| t.0)));
        r.template.push(event.and_then(|e| e.template.as_ref().map(|t| t.1.clone())));
        r.state.push(event.map(|e| e.state.clone()));
        r.session_key.push(event.and_then(|e| e.session_key.clone()));
        r.lifecycle.push(event.and_then(|e| e.role.map(|r| r.as_str())));
        for (i, (short, ecs)) in FIELDS.iter().enumerate() {
            let mut values = match event {
                Some(e) => e.values(short, rec),
                None => rec.field(ecs).map(text).into_iter().collect(),
            };
            let first = if values.is_empty() { None } else { Some(values.remove(0)) };
            if !values.is_empty() {
                let mut all = vec![Value::from(first.clone().unwrap_or_default())];
                all.extend(values.into_iter().map(Value::from));
                rest.insert((*ecs).to_owned(), Value::Array(all));
            }
            r.standard[i].push(first);
        }
        if let Some(e) = event {
            for (k, v) in e.fields.iter().filter(|(k, _)| !FIELDS.iter().any(|(s, _)| s == k)) {
                add(&mut rest, k, Value::from(v.as_str()));
            }
        }
        for (k, v) in &rec.fields {
            if !FIELDS.iter().any(|(_, ecs)| ecs == k) {
                add(&mut rest, k, v.clone());
            }
        }
        r.fields.push((!rest.is_empty()).then(|| Value::Object(rest).to_string()));
        if r.len() >= ROW_GROUP {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let df = self.rows.frame().map_err(|e| self.sink.error(e))?;
        self.sink.write(&df)
    }

    /// Writes what is buffered and the footer. With no event at all the file still holds the
    /// schema, so readers find the columns.
    pub fn finish(mut self) -> Result<()> {
        self.flush()?;
        self.sink.finish()
    }
}

/// A structured field's value as text.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.first().map(text).unwrap_or_default(),
        v => v.to_string(),
    }
}

/// Adds `k: v` to `map`; a key seen before collects its values in an array.
fn add(map: &mut Map<String, Value>, k: &str, v: Value) {
    match map.get_mut(k) {
        None => {
            map.insert(k.to_owned(), v);
        }
        Some(Value::Array(items)) => items.push(v),
        Some(old) => {
            let first = old.take();
            *old = Value::Array(vec![first, v]);
        }
    }
}

/// Events read back from an `events.parquet` (`--format events`), a slice of rows at a time.
pub mod read {
    use std::fs::File;

    use super::*;
    use crate::normalize::rules::Role;
    use crate::normalize::vocabulary::{action, outcome};
    use crate::parse::time::parse_any;
    use crate::record::{RecordKind, Sequence};

    /// How many distinct raw logs the events in `inputs` came from (`logsieve.file`); inputs that
    /// cannot be read count for none here (reading them reports the error).
    pub fn raw_files(inputs: &[crate::read::Input]) -> usize {
        let mut files: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        for input in inputs {
            let crate::read::Input::Path(path) = input else { continue };
            let Ok(file) = File::open(path) else { continue };
            let Ok(df) = ParquetReader::new(file).with_columns(Some(vec!["logsieve.file".into()])).finish() else { continue };
            let Ok(col) = df.column("logsieve.file").and_then(|c| c.cast(&DataType::String)) else { continue };
            if let Ok(s) = col.str() {
                files.extend(s.iter().flatten().map(str::to_owned));
            }
        }
        files.len()
    }

    /// One stored event: the record, the event as normalize named it, and where it came from.
    pub struct Stored {
        /// The record (timestamp, host, process, message, fields).
        pub record: Record,
        /// The event (action, outcome, rule, fields, entity key, lifecycle, state).
        pub event: Event,
        /// The raw input the event came from, as named by normalize.
        pub file: String,
        /// Its 1-based line there.
        pub line: u64,
        /// The line(s) as read.
        pub original: String,
    }

    /// Rows read at once.
    const SLICE: usize = 32_768;

    /// Reads `path` (an `events.parquet` written by `normalize --output parquet`, or any Parquet
    /// file with its columns) and hands each event to `each`, in row order. Only `message` and
    /// `logsieve.state` are required. A row that cannot be read (an unknown `event.action`, a
    /// bad lifecycle) is an error naming the file and row.
    pub fn for_each(path: &Path, mut each: impl FnMut(Stored) -> Result<()>) -> Result<u64> {
        let name = path.display().to_string();
        let open = || File::open(path).map_err(|source| Error::Open { path: name.clone(), source });
        let bad = |row: u64, message: String| Error::Input { path: name.clone(), line: row, message };
        let rows = ParquetReader::new(open()?).num_rows().map_err(|e| bad(0, format!("not a Parquet file of events: {e}")))?;
        let mut offset = 0usize;
        while offset < rows {
            let df = ParquetReader::new(open()?)
                .with_slice(Some((offset, SLICE)))
                .finish()
                .map_err(|e| bad(offset as u64 + 1, e.to_string()))?;
            frame(&df, offset, &name, &mut each)?;
            offset += df.height().max(1);
        }
        Ok(rows as u64)
    }

    /// Reads an Arrow IPC stream of events (the columns of `events.parquet`) from `input`, named
    /// `name` in errors: how events reach `train`/`score -f events` on standard input.
    /// The stream is read whole before its first row is used (polars' stream reader seeks), so
    /// memory grows with it: split a long stream, or write Parquet files.
    pub fn for_each_ipc(mut input: impl std::io::Read, name: &str, mut each: impl FnMut(Stored) -> Result<()>) -> Result<u64> {
        let mut bytes = Vec::new();
        input.read_to_end(&mut bytes).map_err(|source| Error::Open { path: name.to_owned(), source })?;
        let df = IpcStreamReader::new(std::io::Cursor::new(bytes)).finish().map_err(|e| Error::Input {
            path: name.to_owned(),
            line: 0,
            message: format!("not an Arrow IPC stream of events: {e}"),
        })?;
        let mut offset = 0usize;
        while offset < df.height() {
            frame(&df.slice(offset as i64, SLICE), offset, name, &mut each)?;
            offset += SLICE;
        }
        Ok(df.height() as u64)
    }

    /// The events of one frame of rows, the first of them row `offset + 1` of the input `name`.
    fn frame(df: &DataFrame, offset: usize, name: &str, each: &mut impl FnMut(Stored) -> Result<()>) -> Result<()> {
        let name = name.to_owned();
        let bad = |row: u64, message: String| Error::Input { path: name.clone(), line: row, message };
        let strings = |col: &str| -> Result<Option<Vec<Option<String>>>> {
            let Ok(c) = df.column(col) else { return Ok(None) };
            let c = c.cast(&DataType::String).map_err(|e| bad(offset as u64 + 1, format!("column {col}: {e}")))?;
            let s = c.str().map_err(|e| bad(offset as u64 + 1, format!("column {col}: {e}")))?;
            Ok(Some(s.iter().map(|v| v.map(str::to_owned)).collect()))
        };
        let need = |col: &str| -> Result<Vec<Option<String>>> {
            strings(col)?.ok_or_else(|| bad(offset as u64 + 1, format!("no column `{col}`: not a file of normalized events")))
        };
        let n = df.height();
        let opt = |v: Option<Vec<Option<String>>>| v.unwrap_or_else(|| vec![None; n]);
        let message = need("message")?;
        let state = need("logsieve.state")?;
        let [timestamp, original, host, process, pid, level, logger, act, outcomes, file, line, format, rule, tid, template, key, lifecycle, session, events, fields] =
            [
                "@timestamp",
                "event.original",
                "host.hostname",
                "process.name",
                "process.pid",
                "log.level",
                "log.logger",
                "event.action",
                "event.outcome",
                "logsieve.file",
                "logsieve.line",
                "logsieve.format",
                "logsieve.rule",
                "logsieve.template_id",
                "logsieve.template",
                "logsieve.session_key",
                "logsieve.lifecycle",
                "logsieve.session",
                "logsieve.events",
                "logsieve.fields",
            ]
            .map(|c| strings(c).map(opt));
        let (timestamp, original, host, process, pid, level, logger) = (timestamp?, original?, host?, process?, pid?, level?, logger?);
        let (act, outcomes, file, line, format, rule, tid) = (act?, outcomes?, file?, line?, format?, rule?, tid?);
        let (template, key, lifecycle, session, events, fields) = (template?, key?, lifecycle?, session?, events?, fields?);
        let standard: Vec<Vec<Option<String>>> = FIELDS.iter().map(|(_, ecs)| strings(ecs).map(opt)).collect::<Result<_>>()?;
        for i in 0..n {
            let row = (offset + i) as u64 + 1;
            let take = |v: &Vec<Option<String>>| v[i].clone();
            let kind = take(&format).and_then(|f| RecordKind::from_name(&f)).unwrap_or(RecordKind::Plain);
            let mut record = Record::new(kind, take(&message).unwrap_or_default());
            record.timestamp = take(&timestamp).and_then(|t| parse_any(&t, None));
            record.host = take(&host);
            record.app = take(&process);
            record.component = take(&logger);
            record.pid = take(&pid).and_then(|p| p.parse().ok());
            record.severity = take(&level).and_then(|l| l.parse().ok());
            if let (Some(id), Some(evs)) = (take(&session), take(&events)) {
                record.sequence = Some(Sequence { id, events: evs.split_whitespace().map(str::to_owned).collect() });
            }
            let mut event = Event {
                action: match take(&act) {
                    None => None,
                    Some(a) => Some(action(&a).ok_or_else(|| bad(row, format!("unknown event.action {a:?}")))?),
                },
                outcome: match take(&outcomes) {
                    None => None,
                    Some(o) => Some(outcome(&o).ok_or_else(|| bad(row, format!("unknown event.outcome {o:?}")))?),
                },
                rule: take(&rule),
                session_key: take(&key),
                role: match take(&lifecycle) {
                    None => None,
                    Some(r) => Some(Role::from_name(&r).ok_or_else(|| bad(row, format!("unknown logsieve.lifecycle {r:?}")))?),
                },
                template: take(&tid).and_then(|t| t.parse().ok()).map(|t| (t, take(&template).unwrap_or_default())),
                state: take(&state).unwrap_or_default(),
                fields: Vec::new(),
            };
            let rest: Map<String, Value> = match take(&fields) {
                None => Map::new(),
                Some(j) => serde_json::from_str(&j).map_err(|e| bad(row, format!("logsieve.fields is not a JSON object: {e}")))?,
            };
            for ((short, ecs), col) in FIELDS.iter().zip(&standard) {
                match rest.get(*ecs) {
                    Some(Value::Array(all)) => event.fields.extend(all.iter().map(|v| ((*short).to_owned(), text(v)))),
                    _ => event.fields.extend(take(col).map(|v| ((*short).to_owned(), v))),
                }
            }
            record.fields = rest.into_iter().filter(|(k, _)| !FIELDS.iter().any(|(_, ecs)| ecs == k)).collect();
            each(Stored {
                record,
                event,
                file: take(&file).unwrap_or_else(|| name.clone()),
                line: take(&line).and_then(|l| l.parse().ok()).unwrap_or(row),
                original: take(&original).unwrap_or_default(),
            })?;
        }
        Ok(())
    }
}

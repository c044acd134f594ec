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
use crate::record::{value_text as text, Record};

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
        r.outcome.push(event.and_then(|e| e.outcome).map(|o| o.as_str()));
        r.rule.push(event.and_then(|e| e.rule_id()).map(str::to_owned));
        r.template_id.push(event.and_then(|e| e.template.as_ref().map(|t| t.0)));
        r.template.push(event.and_then(|e| e.template.as_ref().map(|t| t.1.to_string())));
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

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

/// The rows of one row group, column by column. Text goes straight into polars' string
/// builders, not into a `String` per cell copied again into the column.
struct Columns {
    rows: usize,
    timestamp: StringChunkedBuilder,
    original: StringChunkedBuilder,
    message: StringChunkedBuilder,
    host: StringChunkedBuilder,
    process: StringChunkedBuilder,
    pid: Vec<Option<u32>>,
    level: StringChunkedBuilder,
    logger: StringChunkedBuilder,
    action: StringChunkedBuilder,
    category: StringChunkedBuilder,
    kind: StringChunkedBuilder,
    outcome: StringChunkedBuilder,
    /// One per entry of [`FIELDS`], in its order.
    standard: Vec<StringChunkedBuilder>,
    file: StringChunkedBuilder,
    line: Vec<u64>,
    format: StringChunkedBuilder,
    rule: StringChunkedBuilder,
    template_id: Vec<Option<u32>>,
    template: StringChunkedBuilder,
    state: StringChunkedBuilder,
    session_key: StringChunkedBuilder,
    lifecycle: StringChunkedBuilder,
    session: StringChunkedBuilder,
    events: StringChunkedBuilder,
    fields: StringChunkedBuilder,
}

impl Columns {
    /// Empty columns, with one standard-field column per entry of [`FIELDS`].
    fn new() -> Self {
        let text = |name: &str| StringChunkedBuilder::new(name.into(), ROW_GROUP);
        Columns {
            rows: 0,
            timestamp: text("@timestamp"),
            original: text("event.original"),
            message: text("message"),
            host: text("host.hostname"),
            process: text("process.name"),
            pid: Vec::new(),
            level: text("log.level"),
            logger: text("log.logger"),
            action: text("event.action"),
            category: text("event.category"),
            kind: text("event.type"),
            outcome: text("event.outcome"),
            standard: FIELDS.iter().map(|(_, ecs)| text(ecs)).collect(),
            file: text("logsieve.file"),
            line: Vec::new(),
            format: text("logsieve.format"),
            rule: text("logsieve.rule"),
            template_id: Vec::new(),
            template: text("logsieve.template"),
            state: text("logsieve.state"),
            session_key: text("logsieve.session_key"),
            lifecycle: text("logsieve.lifecycle"),
            session: text("logsieve.session"),
            events: text("logsieve.events"),
            fields: text("logsieve.fields"),
        }
    }

    fn len(&self) -> usize {
        self.rows
    }

    fn frame(&mut self) -> PolarsResult<DataFrame> {
        let c = std::mem::replace(self, Columns::new());
        let text = |b: StringChunkedBuilder| b.finish().into_series().into_column();
        let mut cols = vec![
            text(c.timestamp),
            text(c.original),
            text(c.message),
            text(c.host),
            text(c.process),
            Column::new("process.pid".into(), c.pid),
            text(c.level),
            text(c.logger),
            text(c.action),
            text(c.category),
            text(c.kind),
            text(c.outcome),
        ];
        cols.extend(c.standard.into_iter().map(text));
        cols.extend([
            text(c.file),
            Column::new("logsieve.line".into(), c.line),
            text(c.format),
            text(c.rule),
            Column::new("logsieve.template_id".into(), c.template_id),
            text(c.template),
            text(c.state),
            text(c.session_key),
            text(c.lifecycle),
            text(c.session),
            text(c.events),
            text(c.fields),
        ]);
        DataFrame::new(c.rows, cols)
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
        r.rows += 1;
        r.timestamp.append_option(iso(rec.timestamp));
        r.original.append_value(origin.original);
        r.message.append_value(&rec.message);
        r.host.append_option(rec.host.as_deref());
        r.process.append_option(rec.app.as_deref());
        r.pid.push(rec.pid);
        r.level.append_option(rec.severity.map(|s| s.as_str()));
        r.logger.append_option(rec.component.as_deref());
        r.file.append_value(origin.file);
        r.line.push(origin.line);
        r.format.append_value(rec.kind.as_str());
        r.session.append_option(rec.sequence.as_ref().map(|s| s.id.as_str()));
        r.events.append_option(rec.sequence.as_ref().map(|s| s.events.join(" ")));
        let mut rest = Map::new();
        let action = event.and_then(|e| e.action);
        r.action.append_option(action.map(|a| a.name));
        r.category.append_option(action.map(|a| a.category.join(",")));
        r.kind.append_option(action.map(|a| a.kind.join(",")));
        r.outcome.append_option(event.and_then(|e| e.outcome).map(|o| o.as_str()));
        r.rule.append_option(event.and_then(|e| e.rule_id()));
        r.template_id.push(event.and_then(|e| e.template.as_ref().map(|t| t.0)));
        r.template.append_option(event.and_then(|e| e.template.as_ref().map(|t| &*t.1)));
        r.state.append_option(event.map(|e| e.state.as_str()));
        r.session_key.append_option(event.and_then(|e| e.session_key.as_deref()));
        r.lifecycle.append_option(event.and_then(|e| e.role.map(|r| r.as_str())));
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
            r.standard[i].append_option(first);
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
        r.fields.append_option((!rest.is_empty()).then(|| Value::Object(rest).to_string()));
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

//! Events read back from an `events.parquet` (`--format events`, written by `normalize --output
//! parquet`), a slice of rows at a time, or from an Arrow IPC stream of the same columns.

use std::fs::File;
use std::path::Path;

use polars::prelude::*;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::normalize::rules::Role;
use crate::normalize::vocabulary::FIELDS;
use crate::normalize::vocabulary::{action, outcome};
use crate::normalize::{DecidedBy, Event};
use crate::parse::time::parse_any;
use crate::record::{value_text as text, Record, RecordKind, Sequence};

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
        let df =
            ParquetReader::new(open()?).with_slice(Some((offset, SLICE))).finish().map_err(|e| bad(offset as u64 + 1, e.to_string()))?;
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
            rule: take(&rule).map(|r| DecidedBy::from_name(&r)),
            session_key: take(&key),
            role: match take(&lifecycle) {
                None => None,
                Some(r) => Some(Role::from_name(&r).ok_or_else(|| bad(row, format!("unknown logsieve.lifecycle {r:?}")))?),
            },
            template: take(&tid).and_then(|t| t.parse().ok()).map(|t| (t, take(&template).unwrap_or_default().into())),
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

//! logsieve: learning-based log anomaly detection.
//!
//! ```text
//! read ─▶ parse ─▶ normalize ─▶ sessionize ─▶ featurize ─▶ model ─▶ score ─▶ report
//! ```
//!
//! - [`read`]: files, globs, stdin, gzip; lines framed on LF and CRLF, invalid UTF-8 kept lossily;
//!   every line counted.
//! - [`parse`]: one line → one [`record::Record`] (timestamp, host, program, pid, severity,
//!   message, structured fields) in syslog, JSON, access/error log, Exchange, `pattern:` and
//!   sequences formats, or auto-detected.
//! - [`normalize`]: a record → an ECS JSON event.
//! - [`session`]: events → sessions by entity key and lifecycle, or windows.
//! - [`model`]: featurize, learn a baseline from clean sessions, score new ones with reasons.
//! - [`output`]: `scores.jsonl` and `scores.parquet`; [`report`]: `report.html`; [`eval`]:
//!   verdicts against labels.
//! - [`pipeline`]: wiring of the stages for each command.

pub mod activity;
pub mod cli;
pub mod error;
pub mod eval;
pub mod fasthash;
pub mod model;
pub mod normalize;
pub mod output;
pub mod parse;
pub mod pipeline;
pub mod read;
pub mod record;
pub mod report;
pub mod session;

pub use error::{Error, Result};

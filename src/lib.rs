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
//! - [`pipeline`]: wiring of the stages for each command.

pub mod cli;
pub mod error;
pub mod normalize;
pub mod parse;
pub mod pipeline;
pub mod read;
pub mod record;

pub use error::{Error, Result};

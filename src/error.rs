//! The crate's error type. Every error about input names the file, and the line when there is one.

use std::io;

use crate::parse::FormatError;

/// What can stop a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input could not be opened.
    #[error("{path}: cannot open: {source}")]
    Open {
        /// The input as named.
        path: String,
        /// The cause.
        source: io::Error,
    },
    /// An input named a directory.
    #[error("{path}: is a directory, not a log file (name its files, or a glob such as '{path}/*.log')")]
    IsDirectory {
        /// The input as named.
        path: String,
    },
    /// Reading an input failed part-way (a truncated gzip stream, an I/O error).
    #[error("{path}: line {line}: read error: {source}")]
    Read {
        /// The input as named.
        path: String,
        /// The 1-based line being read.
        line: u64,
        /// The cause.
        source: io::Error,
    },
    /// A glob matched no file.
    #[error("{0}: no file matches this pattern")]
    NoMatch(String),
    /// A glob that does not compile.
    #[error("{pattern}: bad glob: {message}")]
    Glob {
        /// The glob as given.
        pattern: String,
        /// What is wrong.
        message: String,
    },
    /// A rule pack that cannot be used.
    #[error(transparent)]
    Rules(#[from] crate::normalize::rules::RuleError),
    /// A bad `--format`.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// Writing an output file failed.
    #[error("{path}: cannot write: {source}")]
    Write {
        /// The output path.
        path: String,
        /// The cause.
        source: io::Error,
    },
    /// A bad line in an input that must be well-formed (labels, scores).
    #[error("{path}: line {line}: {message}")]
    Input {
        /// The file.
        path: String,
        /// 1-based line.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A model file that cannot be used.
    #[error(transparent)]
    Model(#[from] crate::model::file::ModelError),
    /// Training could not produce a model.
    #[error(transparent)]
    Train(#[from] crate::model::TrainError),
    /// A bad option (a config file, a missing argument).
    #[error("{0}")]
    Usage(String),
    /// An option out of its range.
    #[error(transparent)]
    Params(#[from] crate::model::ParamsError),
    /// Inputs that cannot be used together, or data that contradicts itself (events normalized
    /// apart, shards of other options).
    #[error("{0}")]
    Data(String),
    /// Writing to stdout failed (other than a closed pipe, which ends the run quietly).
    #[error("writing output: {0}")]
    Stdout(io::Error),
    /// A stage stopped because the one after it had ended early (the reading thread when `sink`
    /// failed, `score` when its writing thread did); that stage's own error is the one reported.
    #[error("stopped: a later stage failed")]
    Stopped,
    /// The system would not start a thread.
    #[error("cannot start a thread: {0}")]
    Thread(io::Error),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Text that came from outside (file names, log content inside a message) made safe for a
/// terminal: control characters other than tab become `\x..` / `\u{..}` escapes, so a crafted
/// name or line cannot move the cursor, recolour or retitle the user's terminal.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() && c != '\t') {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\t' => out.push(c),
            c if c.is_control() && (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn control_characters_are_shown_not_sent() {
        assert_eq!(printable("plain\tname.log"), "plain\tname.log");
        assert_eq!(printable("a\u{1b}[31mb\r\n\u{0}"), "a\\x1b[31mb\\x0d\\x0a\\x00");
        assert_eq!(printable("x\u{9b}y"), "x\\x9by");
    }
}

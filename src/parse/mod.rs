//! The parse stage: one input line → one [`Record`], or a counted [`Skip`].
//!
//! Consumes lines from [`crate::read`]; produces `Record`s for the normalize stage. A
//! [`LineParser`] is made per input file (it carries that file's year inference, Exchange header
//! and auto-detection state) from a [`Format`] chosen on the command line.
//!
//! `--format auto` (the default) tries the format that read the previous line first, then every
//! known header in a fixed order from most to least specific, so a file is read in the format
//! its first lines show and a file that mixes formats is still read line by line. A line no
//! header fits is kept whole as the message of a `plain` record: never dropped, and counted in
//! the summary as "no header recognised".

pub mod apache;
pub mod auto;
pub mod exchange;
pub mod generic;
pub mod header;
pub mod json;
pub mod multiline;
pub mod pattern;
pub mod rfc5424;
pub mod sequences;
pub mod syslog;
pub mod time;

use std::fmt;
use std::str::FromStr;

pub use pattern::{Pattern, PatternError};
pub use time::{YearAnchor, YearInference};

use crate::record::{Record, RecordKind};

/// An input format, as named by `--format`.
#[derive(Debug, Clone)]
pub enum Format {
    /// Sniff per file and per line.
    Auto,
    /// RFC 3164 or RFC 5424 syslog (and journal short output).
    Syslog,
    /// JSON lines: ECS, journald, other objects.
    Json,
    /// Apache/nginx access logs and Apache/nginx error logs.
    Apache,
    /// MS Exchange message tracking CSV.
    Exchange,
    /// Pre-parsed sessions `id,e1 e2 e3`.
    Sequences,
    /// Normalized events as Parquet (`normalize --output parquet`), read by `train` and `score`.
    Events,
    /// `pattern:<header template>`.
    Pattern(Pattern),
}

/// The names `--format` accepts, for messages.
pub const FORMAT_NAMES: &str = "auto, syslog, json, apache, exchange, sequences, events, pattern:<header template>";

/// `--format` named no known format, or a bad template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// An unknown name.
    #[error("unknown format {0:?} (expected one of: {FORMAT_NAMES})")]
    Unknown(String),
    /// A `pattern:` template that does not compile.
    #[error(transparent)]
    Pattern(#[from] PatternError),
}

impl FromStr for Format {
    type Err = FormatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "auto" => Format::Auto,
            "syslog" => Format::Syslog,
            "json" => Format::Json,
            "apache" => Format::Apache,
            "exchange" => Format::Exchange,
            "sequences" => Format::Sequences,
            "events" => Format::Events,
            _ => match s.strip_prefix("pattern:") {
                Some(t) => Format::Pattern(Pattern::compile(t)?),
                None => return Err(FormatError::Unknown(s.to_owned())),
            },
        })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Format::Auto => f.write_str("auto"),
            Format::Syslog => f.write_str("syslog"),
            Format::Json => f.write_str("json"),
            Format::Apache => f.write_str("apache"),
            Format::Exchange => f.write_str("exchange"),
            Format::Sequences => f.write_str("sequences"),
            Format::Events => f.write_str("events"),
            Format::Pattern(p) => write!(f, "pattern:{}", p.template()),
        }
    }
}

/// Why a line gave no record. Each is counted per file and shown in the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Skip {
    /// An empty or whitespace-only line.
    Empty,
    /// A header or comment line of the format (`#Fields:`, `#Software:`).
    Header,
    /// The line is not in the format asked for with `--format`.
    NotFormat(&'static str),
    /// A sequences line with no states.
    NoEvents,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::Empty => f.write_str("empty line"),
            Skip::Header => f.write_str("format header line"),
            Skip::NotFormat(name) => write!(f, "not {name}"),
            Skip::NoEvents => f.write_str("sequence without states"),
        }
    }
}

/// Parses the lines of one input in one format.
#[derive(Debug)]
pub struct LineParser {
    mode: Mode,
    years: YearInference,
    exchange: exchange::ExchangeHeader,
    headers: auto::HeldBuiltins,
}

#[derive(Debug)]
enum Mode {
    Auto(auto::AutoDetect),
    Syslog,
    Json,
    Apache,
    Exchange,
    Sequences,
    Pattern(Box<Pattern>),
}

impl LineParser {
    /// A parser for one input, with the year anchor for year-less stamps.
    pub fn new(format: &Format, years: YearAnchor) -> Self {
        let mode = match format {
            Format::Auto => Mode::Auto(auto::AutoDetect::default()),
            Format::Syslog => Mode::Syslog,
            Format::Json => Mode::Json,
            Format::Apache => Mode::Apache,
            Format::Exchange => Mode::Exchange,
            Format::Sequences => Mode::Sequences,
            // Parquet is not read line by line: the pipeline's line readers refuse `events` before
            // they build a parser. Were one built, a line of it would be JSON at best.
            Format::Events => Mode::Json,
            Format::Pattern(p) => Mode::Pattern(Box::new(p.clone())),
        };
        LineParser { mode, years: YearInference::new(years), exchange: Default::default(), headers: Default::default() }
    }

    /// An auto-detecting parser that takes the built-in headers from `headers` rather than from
    /// the set the parsers alive share.
    pub fn auto_with(headers: std::sync::Arc<auto::Builtins>, years: YearAnchor) -> Self {
        LineParser { headers: auto::HeldBuiltins::of(headers), ..LineParser::new(&Format::Auto, years) }
    }

    /// Parses one line (without its line ending); `line_no` is 1-based.
    pub fn parse(&mut self, line: &str, line_no: u64) -> Result<Record, Skip> {
        if line.trim().is_empty() {
            return Err(Skip::Empty);
        }
        let years = &mut self.years;
        let headers = &mut self.headers;
        match &mut self.mode {
            Mode::Auto(a) => a.parse(line, line_no, &mut auto::Context { years, exchange: &mut self.exchange, headers }),
            Mode::Syslog => rfc5424::parse_rfc5424(line)
                .or_else(|| syslog::parse_rfc3164(line, years))
                .or_else(|| syslog::parse_untimed(headers.get(), line))
                .ok_or(Skip::NotFormat("syslog")),
            Mode::Json => json::parse_json(line, years).ok_or(Skip::NotFormat("a JSON object")),
            Mode::Apache => {
                let h = headers.get();
                apache::parse_access(h, line)
                    .or_else(|| apache::parse_apache_error(h, line))
                    .or_else(|| apache::parse_nginx_error(h, line))
                    .ok_or(Skip::NotFormat("an access or error log line"))
            }
            Mode::Exchange => match self.exchange.parse(line) {
                Some(exchange::ExchangeLine::Row(r)) => Ok(r),
                Some(exchange::ExchangeLine::Header) => Err(Skip::Header),
                None => Err(Skip::NotFormat("an Exchange message tracking row")),
            },
            Mode::Sequences => sequences::parse_sequence(line, line_no).map_err(|_| Skip::NoEvents),
            Mode::Pattern(p) => p.parse(line, years).ok_or(Skip::NotFormat("matching the pattern")),
        }
    }
}

/// Whether a record's header was recognised (anything but `plain`).
pub fn recognised(kind: RecordKind) -> bool {
    kind != RecordKind::Plain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for name in ["auto", "syslog", "json", "apache", "exchange", "sequences", "pattern:<Level> <Content>"] {
            assert_eq!(name.parse::<Format>().unwrap().to_string(), name);
        }
        let e = "sislog".parse::<Format>().unwrap_err();
        assert!(e.to_string().contains("unknown format \"sislog\""), "{e}");
        assert!(matches!("pattern:<Level>".parse::<Format>(), Err(FormatError::Pattern(_))));
    }

    #[test]
    fn explicit_formats_skip_what_they_do_not_read() {
        let mut p = LineParser::new(&Format::Syslog, YearAnchor::Given(2024));
        assert_eq!(p.parse("", 1), Err(Skip::Empty));
        assert_eq!(p.parse("  \t", 2), Err(Skip::Empty));
        assert_eq!(p.parse("{\"a\":1}", 3), Err(Skip::NotFormat("syslog")));
        assert!(p.parse("<13>1 - - - - - - hi", 4).is_ok());
        let mut p = LineParser::new(&Format::Exchange, YearAnchor::Given(2024));
        assert_eq!(p.parse("#Fields: date-time,event-id", 1), Err(Skip::Header));
        assert_eq!(p.parse("2024-01-01T00:00:00Z,RECEIVE", 2).unwrap().message, "RECEIVE");
        let mut p = LineParser::new(&Format::Sequences, YearAnchor::Given(2024));
        assert_eq!(p.parse("blk_1,", 1), Err(Skip::NoEvents));
        assert_eq!(Skip::NotFormat("syslog").to_string(), "not syslog");
    }
}

//! Accounting for every input line: read = parsed + skipped, per input, with the reasons.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::parse::Skip;
use crate::record::{Record, RecordKind};

/// Counts for one input.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct InputStats {
    /// The input as named (`-` for stdin).
    pub file: String,
    /// Lines read.
    pub read: u64,
    /// Lines that gave a record.
    pub parsed: u64,
    /// Lines that gave none, by reason.
    pub skipped: BTreeMap<String, u64>,
    /// Records by the header format that read them (`plain`: no header recognised).
    pub formats: BTreeMap<&'static str, u64>,
    /// Lines that were not valid UTF-8 (kept, decoded lossily).
    pub invalid_utf8: u64,
    /// Records whose header had no timestamp, or one that could not be read.
    pub without_timestamp: u64,
    /// Why reading stopped early, if it did (the lines before it are counted).
    pub error: Option<String>,
}

impl InputStats {
    /// Counts for the named input.
    pub fn new(file: impl Into<String>) -> Self {
        InputStats { file: file.into(), ..Default::default() }
    }

    /// Counts a line that gave a record.
    pub fn record(&mut self, rec: &Record) {
        self.parsed += 1;
        *self.formats.entry(rec.kind.as_str()).or_default() += 1;
        if rec.timestamp.is_none() && rec.kind != RecordKind::Sequence {
            self.without_timestamp += 1;
        }
    }

    /// Counts a line joined onto the record before it (multi-line records).
    pub fn continuation(&mut self) {
        self.parsed += 1;
        *self.formats.entry("continuation").or_default() += 1;
    }

    /// Counts a skipped line.
    pub fn skip(&mut self, why: Skip) {
        *self.skipped.entry(why.to_string()).or_default() += 1;
    }

    /// Lines skipped, all reasons.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    /// Records whose header no parser recognised.
    pub fn unrecognised(&self) -> u64 {
        self.formats.get(RecordKind::Plain.as_str()).copied().unwrap_or(0)
    }

    fn add(&mut self, other: &InputStats) {
        self.read += other.read;
        self.parsed += other.parsed;
        for (k, v) in &other.skipped {
            *self.skipped.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.formats {
            *self.formats.entry(k).or_default() += v;
        }
        self.invalid_utf8 += other.invalid_utf8;
        self.without_timestamp += other.without_timestamp;
    }
}

fn pct(n: u64, of: u64) -> String {
    if of == 0 {
        "0%".into()
    } else {
        format!("{:.1}%", 100.0 * n as f64 / of as f64)
    }
}

impl fmt::Display for InputStats {
    /// One line: `file: 2000 lines read, 2000 parsed (100.0%: rfc3164 2000), 0 skipped`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let formats: Vec<String> = self.formats.iter().map(|(k, v)| format!("{k} {v}")).collect();
        write!(f, "{}: {} lines read, {} parsed ({}", self.file, self.read, self.parsed, pct(self.parsed, self.read))?;
        if !formats.is_empty() {
            write!(f, ": {}", formats.join(", "))?;
        }
        write!(f, "), {} skipped", self.skipped_total())?;
        if !self.skipped.is_empty() {
            let reasons: Vec<String> = self.skipped.iter().map(|(k, v)| format!("{k} {v}")).collect();
            write!(f, " ({})", reasons.join(", "))?;
        }
        if self.unrecognised() > 0 {
            write!(
                f,
                "; no header recognised on {} ({}), kept whole as the message",
                self.unrecognised(),
                pct(self.unrecognised(), self.read)
            )?;
        }
        if self.invalid_utf8 > 0 {
            write!(f, "; {} not valid UTF-8 (kept, decoded lossily)", self.invalid_utf8)?;
        }
        if self.without_timestamp > 0 {
            write!(f, "; {} without a timestamp", self.without_timestamp)?;
        }
        if let Some(e) = &self.error {
            write!(f, "; STOPPED: {e}")?;
        }
        Ok(())
    }
}

/// Counts for a whole run.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct RunStats {
    /// Per input, in the order read.
    pub inputs: Vec<InputStats>,
    /// All inputs together.
    pub total: InputStats,
}

impl RunStats {
    /// Adds a finished input.
    pub fn push(&mut self, input: InputStats) {
        self.total.add(&input);
        if input.error.is_some() {
            self.total.error = Some("some inputs could not be read whole".into());
        }
        self.inputs.push(input);
    }

    /// Whether every line read is accounted for as parsed or skipped.
    pub fn balanced(&self) -> bool {
        self.inputs.iter().all(|i| i.read == i.parsed + i.skipped_total())
    }
}

impl fmt::Display for RunStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for i in &self.inputs {
            writeln!(f, "logsieve: {}", crate::error::printable(&i.to_string()))?;
        }
        if self.inputs.len() > 1 {
            let mut total = self.total.clone();
            total.file = format!("total of {} inputs", self.inputs.len());
            writeln!(f, "logsieve: {}", crate::error::printable(&total.to_string()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_line_accounts_for_everything() {
        let mut s = InputStats::new("x.log");
        s.read = 4;
        let mut rec = Record::new(RecordKind::Rfc3164, "m");
        rec.timestamp = None;
        s.record(&rec);
        s.record(&Record::new(RecordKind::Plain, "p"));
        s.skip(Skip::Empty);
        s.skip(Skip::NotFormat("syslog"));
        let line = s.to_string();
        assert_eq!(
            line,
            "x.log: 4 lines read, 2 parsed (50.0%: plain 1, rfc3164 1), 2 skipped (empty line 1, not syslog 1); no header recognised on 1 (25.0%), kept whole as the message; 2 without a timestamp"
        );
        let mut run = RunStats::default();
        run.push(s.clone());
        run.push(s);
        assert!(run.balanced());
        assert_eq!(run.total.read, 8);
        assert!(run.to_string().contains("total of 2 inputs: 8 lines read"));
    }
}

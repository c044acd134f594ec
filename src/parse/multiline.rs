//! Multi-line records (`--format auto`): a line with no header of its own continues the record
//! before it when it is indented (stack traces, XML dumps), or when that record is one whose
//! format spans lines (Windows event text, procmail's `From` / `Subject:` / `Folder:` entries).
//! Joined lines stay in `event.original` and the message, separated by `\n`, and are counted as
//! `continuation` lines. A record takes at most [`MAX_LINES`] lines and [`MAX_BYTES`] bytes; past
//! that, lines stand alone again.

use crate::record::{Record, RecordKind};

/// Most lines one record may take.
pub const MAX_LINES: u32 = 1000;
/// Most bytes one record's message may take.
pub const MAX_BYTES: usize = 256 * 1024;

/// A record waiting for its continuation lines.
#[derive(Debug)]
pub struct Pending {
    /// The record.
    pub record: Record,
    /// Its line(s) as read.
    pub original: String,
    /// Its first line number.
    pub line: u64,
    lines: u32,
}

/// Joins continuation lines onto the record before them.
#[derive(Debug, Default)]
pub struct Joiner {
    enabled: bool,
    pending: Option<Pending>,
}

fn spans_lines(rec: &Record) -> bool {
    rec.message.contains("Microsoft Windows security auditing") || rec.app.as_deref() == Some("procmail")
}

impl Joiner {
    /// A joiner; a disabled one passes every record straight through.
    pub fn new(enabled: bool) -> Self {
        Joiner { enabled, pending: None }
    }

    /// Offers the next record. Returns the record now complete, if any, and whether `rec` was
    /// joined onto the pending one.
    pub fn push(&mut self, rec: Record, original: &str, line: u64) -> (Option<Pending>, bool) {
        if let (true, Some(p)) = (self.enabled, self.pending.as_mut()) {
            let indented = original.starts_with([' ', '\t']);
            // Inside a multi-line event, `Subject:` or `Logon Type:   10` read as untimed syslog
            // tags; a line with a timestamp of its own always starts a new record.
            let headerless = rec.kind == RecordKind::Plain || (rec.timestamp.is_none() && rec.kind == RecordKind::Rfc3164);
            if headerless
                && (indented || spans_lines(&p.record))
                && p.lines < MAX_LINES
                && p.record.message.len() + original.len() < MAX_BYTES
            {
                p.record.message.push('\n');
                p.record.message.push_str(original);
                p.original.push('\n');
                p.original.push_str(original);
                p.lines += 1;
                return (None, true);
            }
        }
        let fresh = Pending { record: rec, original: original.to_owned(), line, lines: 1 };
        if !self.enabled {
            return (Some(fresh), false);
        }
        (self.pending.replace(fresh), false)
    }

    /// The last record, at end of input.
    pub fn finish(&mut self) -> Option<Pending> {
        self.pending.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(kind: RecordKind, msg: &str) -> Record {
        Record::new(kind, msg)
    }

    #[test]
    fn indented_lines_join_and_others_stand_alone() {
        let mut j = Joiner::new(true);
        assert!(j.push(rec(RecordKind::Rfc3164, "Exception in handler"), "h app: Exception in handler", 1).0.is_none());
        assert!(j.push(rec(RecordKind::Plain, "at foo.bar()"), "\tat foo.bar()", 2).1);
        let (done, joined) = j.push(rec(RecordKind::Plain, "not indented"), "not indented", 3);
        assert!(!joined);
        let done = done.unwrap();
        assert_eq!(
            (done.line, done.record.message.as_str(), done.original.as_str()),
            (1, "Exception in handler\n\tat foo.bar()", "h app: Exception in handler\n\tat foo.bar()")
        );
        assert_eq!(j.finish().unwrap().record.message, "not indented");
        assert!(j.finish().is_none());
    }

    #[test]
    fn windows_events_take_unindented_lines_and_disabled_passes_through() {
        let mut j = Joiner::new(true);
        j.push(rec(RecordKind::Rfc3164, "Security Microsoft Windows security auditing.: [] An account failed to log on."), "x", 1);
        assert!(j.push(rec(RecordKind::Plain, "Subject:"), "Subject:", 3).1);
        assert_eq!(j.finish().unwrap().record.message.lines().count(), 2);
        let mut j = Joiner::new(false);
        let (out, joined) = j.push(rec(RecordKind::Plain, "a"), "a", 1);
        assert!(!joined && out.is_some());
        assert!(j.finish().is_none());
    }

    #[test]
    fn records_are_capped() {
        let mut j = Joiner::new(true);
        j.push(rec(RecordKind::Rfc3164, "start"), "start", 1);
        let mut alone = 0;
        for n in 0..(MAX_LINES as u64 + 10) {
            if !j.push(rec(RecordKind::Plain, "x"), " x", n + 2).1 {
                alone += 1;
            }
        }
        assert!(alone >= 1, "lines past the cap stand alone");
    }
}

//! Pre-parsed sessions, one per line: `id,e1 e2 e3 ...`, or `e1 e2 e3 ...` without an id column
//! (the line number is then the id). States are separated by commas or any whitespace.

use crate::record::{Record, RecordKind, Sequence};

/// Why a line is not a sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceError {
    /// The line names a session but no states.
    NoEvents,
}

/// Parses one line of a sequences file; `line_no` (1-based) is the id when there is no id column.
pub fn parse_sequence(line: &str, line_no: u64) -> Result<Record, SequenceError> {
    let line = line.trim();
    let (id, events) = match line.split_once(',') {
        Some((id, events)) => (id.trim().to_owned(), events),
        None => (line_no.to_string(), line),
    };
    let events: Vec<String> = events
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(|e| e.trim_matches(['[', ']', '"', '\'']))
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
        .collect();
    if events.is_empty() || id.is_empty() {
        return Err(SequenceError::NoEvents);
    }
    let mut rec = Record::new(RecordKind::Sequence, events.join(" "));
    rec.sequence = Some(Sequence { id, events });
    Ok(rec)
}

/// Whether a line looks like a sequences line to auto-detection: an id column, then states that
/// are all numbers or `E<number>` event ids.
pub fn looks_like_sequence(line: &str) -> bool {
    let Some((id, events)) = line.split_once(',') else {
        return false;
    };
    !id.is_empty()
        && !id.contains(' ')
        && events.split(' ').filter(|e| !e.is_empty()).count() > 0
        && events.split(' ').filter(|e| !e.is_empty()).all(|e| {
            let e = e.strip_prefix('E').unwrap_or(e);
            !e.is_empty() && e.len() <= 6 && e.bytes().all(|c| c.is_ascii_digit())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(r: &Record) -> (&str, Vec<&str>) {
        let s = r.sequence.as_ref().unwrap();
        (s.id.as_str(), s.events.iter().map(String::as_str).collect())
    }

    /// Found by the fuzzer (`fuzz/`): a vertical tab between spaces became a state of its own.
    #[test]
    fn any_whitespace_separates_states() {
        let r = parse_sequence("blk_1,5 22 5 \u{b} 11\u{a0}26 \u{c}3", 1).unwrap();
        assert_eq!(events(&r), ("blk_1", vec!["5", "22", "5", "11", "26", "3"]));
    }

    #[test]
    fn sequences_table() {
        let r = parse_sequence("blk_-9041047513394897329,5 5 22 5 11 9", 1).unwrap();
        assert_eq!(events(&r), ("blk_-9041047513394897329", vec!["5", "5", "22", "5", "11", "9"]));
        assert_eq!(r.message, "5 5 22 5 11 9");
        let r = parse_sequence("4172a56c-c781-4307-a81e-3bc3fcf8a47e,1 17 10\r", 2).unwrap();
        assert_eq!(events(&r), ("4172a56c-c781-4307-a81e-3bc3fcf8a47e", vec!["1", "17", "10"]));
        let r = parse_sequence("3 4 4 7", 42).unwrap();
        assert_eq!(events(&r), ("42", vec!["3", "4", "4", "7"]));
        let r = parse_sequence("blk_1,\"['E5', 'E22']\"", 3).unwrap();
        assert_eq!(events(&r), ("blk_1", vec!["E5", "E22"]));
        assert_eq!(parse_sequence("", 1), Err(SequenceError::NoEvents));
        assert_eq!(parse_sequence("blk_1,", 1), Err(SequenceError::NoEvents));
        assert_eq!(parse_sequence(",1 2", 1), Err(SequenceError::NoEvents));
    }

    #[test]
    fn sniffing() {
        assert!(looks_like_sequence("blk_-9041047513394897329,5 5 22 5"));
        assert!(looks_like_sequence("id1,E5 E22 E11"));
        assert!(!looks_like_sequence("BlockId,Label,LinesInFile"));
        assert!(!looks_like_sequence("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: a, b"));
        assert!(!looks_like_sequence("2024-01-07T00:00:07.463Z,192.168.0.1,exchange"));
        assert!(!looks_like_sequence("x,"));
    }
}

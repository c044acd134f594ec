//! Rule decisions remembered by message shape: the rule packs run once per shape, not once per
//! line.
//!
//! A message's *shape* is the message with every ASCII digit written as `0`: `Received block
//! blk_-1608 of size 91178 from /10.250.19.102` and every other block's line of that template
//! have one shape. Most of a log's lines differ from an earlier line only in numbers (pids,
//! ports, addresses, ids, sizes), so most lines meet a shape already decided.
//!
//! The decision is exact, not a guess. A pattern that treats all ten digits alike (no digit in a
//! literal, every class holding all ten or none: `\d+`, `\S+`, `[0-9a-f]`, `[^>]`, word
//! boundaries) takes the same path through a message and through its shape, so it matches both
//! or neither, with the same capture spans; the fields are then cut from the line itself at those
//! spans. A pattern that tells digits apart (`EventID 4625`, `[45]\d\d`, the literal `ssh2`) is
//! *digit-sensitive* and is still run on every line, in its place in the matching order. The
//! miner's templates would not do as a key: a template merges values that rules tell apart (users,
//! event ids), so it cannot give the per-line decision back byte for byte.

use crate::fasthash::HashMap;
use crate::normalize::generic::{self, AddressCandidate};
use regex_syntax::hir::{Class, Hir, HirKind};

/// Whether a pattern tells ASCII digits apart: a digit in a literal, or a class holding some of
/// the ten digits but not all. A pattern that does not parse counts as one that does (it is
/// then run on every line, which is always right).
#[cfg(test)]
pub(crate) fn tells_digits_apart(pattern: &str) -> bool {
    match regex_syntax::Parser::new().parse(pattern) {
        Ok(hir) => digit_sensitive(&hir),
        Err(_) => true,
    }
}

/// For a pattern that tells digits apart, a digit-blind pattern that matches wherever it does:
/// every digit of a literal and every class holding some digits widened to all ten, captures
/// dropped. Whatever the pattern matches in a line, the cover matches too, and the cover matches a
/// line and its shape alike; so a cover that misses a shape rules the pattern out for every line
/// of that shape. `None` for a digit-blind pattern; a pattern that does not parse gets a cover
/// that matches everything.
pub(crate) fn digit_blind_cover(pattern: &str) -> Option<regex::Regex> {
    let everything = || regex::Regex::new("").ok();
    match regex_syntax::Parser::new().parse(pattern) {
        Ok(hir) if !digit_sensitive(&hir) => None,
        Ok(hir) => regex::Regex::new(&widen(&hir).to_string()).ok().or_else(everything),
        Err(_) => everything(),
    }
}

/// `hir` with its digits widened to all ten and its captures dropped (see [`digit_blind_cover`]).
fn widen(hir: &Hir) -> Hir {
    use regex_syntax::hir::{ClassBytes, ClassBytesRange, ClassUnicode, ClassUnicodeRange, Repetition};
    let digits = || Hir::class(Class::Unicode(ClassUnicode::new([ClassUnicodeRange::new('0', '9')])));
    match hir.kind() {
        HirKind::Literal(lit) if lit.0.iter().any(u8::is_ascii_digit) => {
            // Split at the digits (ASCII, so the pieces between stay whole characters).
            let mut parts = Vec::new();
            for piece in lit.0.split_inclusive(u8::is_ascii_digit) {
                match piece.split_last() {
                    Some((last, rest)) if last.is_ascii_digit() => {
                        parts.push(Hir::literal(rest));
                        parts.push(digits());
                    }
                    _ => parts.push(Hir::literal(piece)),
                }
            }
            Hir::concat(parts)
        }
        HirKind::Class(Class::Unicode(c)) if digit_sensitive(hir) => {
            let mut c = c.clone();
            c.union(&ClassUnicode::new([ClassUnicodeRange::new('0', '9')]));
            Hir::class(Class::Unicode(c))
        }
        HirKind::Class(Class::Bytes(c)) if digit_sensitive(hir) => {
            let mut c = c.clone();
            c.union(&ClassBytes::new([ClassBytesRange::new(b'0', b'9')]));
            Hir::class(Class::Bytes(c))
        }
        HirKind::Repetition(r) => Hir::repetition(Repetition { sub: Box::new(widen(&r.sub)), ..r.clone() }),
        HirKind::Capture(c) => widen(&c.sub),
        HirKind::Concat(subs) => Hir::concat(subs.iter().map(widen).collect()),
        HirKind::Alternation(subs) => Hir::alternation(subs.iter().map(widen).collect()),
        _ => hir.clone(),
    }
}

fn digit_sensitive(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => false,
        HirKind::Literal(lit) => lit.0.iter().any(u8::is_ascii_digit),
        HirKind::Class(Class::Unicode(c)) => some_digits(c.ranges().iter().map(|r| (u32::from(r.start()), u32::from(r.end())))),
        HirKind::Class(Class::Bytes(c)) => some_digits(c.ranges().iter().map(|r| (u32::from(r.start()), u32::from(r.end())))),
        HirKind::Repetition(r) => digit_sensitive(&r.sub),
        HirKind::Capture(c) => digit_sensitive(&c.sub),
        HirKind::Concat(subs) | HirKind::Alternation(subs) => subs.iter().any(digit_sensitive),
    }
}

/// Whether a class's ranges (`start..=end`, code points or bytes) hold some of the digits
/// `0`–`9` but not all.
fn some_digits(ranges: impl Iterator<Item = (u32, u32)>) -> bool {
    let held: u32 = ranges
        .map(|(start, end)| {
            let (lo, hi) = (start.max(u32::from(b'0')), end.min(u32::from(b'9')));
            if lo > hi {
                0
            } else {
                hi - lo + 1
            }
        })
        .sum();
    held != 0 && held != 10
}

/// The byte spans of a match's capture groups (`None`: not taking part).
pub(super) type Spans = Box<[Option<(u32, u32)>]>;

/// A decided shape: the first digit-blind candidate that matches it (its position among the
/// candidates and the byte spans of its capture groups), if any, and the digit-sensitive
/// candidates before it that may match a line of the shape (their covers match the shape).
#[derive(Debug, Clone)]
pub(super) struct Decision {
    /// The digit-blind candidate's position and group spans.
    pub blind: Option<(u32, Spans)>,
    /// The positions of the digit-sensitive candidates to run on each line, in order.
    pub sensitive: Box<[u32]>,
}

/// One normalizer's rule decisions by message shape (the message with every ASCII digit written
/// as `0`), per candidate set. Exact: a pattern that treats the ten digits alike matches a line
/// and its shape alike, with the same capture spans, so the decision and the spans of the first
/// line of a shape hold for every line of it, and the fields are cut from each line itself; the
/// patterns that tell digits apart are run on every line. Bounded: past [`Memo::MAX_ENTRIES`] it
/// starts again empty, and messages longer than [`Memo::MAX_LEN`] are not remembered.
#[derive(Debug, Default)]
pub struct Memo {
    /// Candidate set (its id) → shape → decision.
    shapes: HashMap<u64, HashMap<Box<str>, Decision>>,
    entries: usize,
    /// Shape → its address-like spans and their roles (see [`generic::address_candidates`]).
    addresses: HashMap<Box<str>, Box<[AddressCandidate]>>,
    /// The shape of the message at hand.
    shape: String,
    hits: u64,
    misses: u64,
}

impl Memo {
    /// Shapes remembered before the memo is emptied.
    pub const MAX_ENTRIES: usize = 8192;
    /// Longest message (bytes) whose shape is remembered.
    pub const MAX_LEN: usize = 512;

    /// Lines decided from a remembered shape, and lines whose shape was decided anew.
    pub fn counts(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }

    /// Takes the shape of `message` as the one at hand; false when it is too long to remember.
    pub(super) fn take_shape(&mut self, message: &str) -> bool {
        if message.len() > Self::MAX_LEN {
            return false;
        }
        // A byte map the compiler turns into vector code; digits are ASCII, so the shape is
        // UTF-8 as the message is (checked, on ASCII at word speed).
        let mut shape = std::mem::take(&mut self.shape).into_bytes();
        shape.clear();
        shape.extend(message.bytes().map(|b| if b.is_ascii_digit() { b'0' } else { b }));
        self.shape = String::from_utf8(shape).unwrap_or_default();
        true
    }

    /// The source address of `message` ([`generic::source_ip`]), its address-like spans and their
    /// roles remembered by shape: only whether each span is an address is judged on the line.
    pub fn source_ip<'m>(&mut self, message: &'m str) -> Option<&'m str> {
        if message.len() > Self::MAX_LEN {
            return generic::source_ip(message);
        }
        self.take_shape(message);
        if let Some(found) = self.addresses.get(self.shape.as_str()) {
            return generic::pick_source(message, found.iter().copied());
        }
        let found = generic::address_candidates(message);
        if self.addresses.len() >= Self::MAX_ENTRIES {
            self.addresses.clear();
        }
        let source = generic::pick_source(message, found.iter().copied());
        self.addresses.insert(self.shape.as_str().into(), found.into());
        source
    }

    /// The shape at hand.
    pub(super) fn shape(&self) -> &str {
        &self.shape
    }

    /// The decision remembered for the shape at hand.
    pub(super) fn get(&mut self, set: u64) -> Option<&Decision> {
        let found = self.shapes.get(&set).and_then(|m| m.get(self.shape.as_str()));
        if found.is_some() {
            self.hits += 1;
        } else {
            self.misses += 1;
        }
        found
    }

    /// Remembers the decision for the shape at hand.
    pub(super) fn put(&mut self, set: u64, decision: Decision) {
        if self.entries >= Self::MAX_ENTRIES {
            self.shapes.clear();
            self.entries = 0;
        }
        if self.shapes.entry(set).or_default().insert(self.shape.as_str().into(), decision).is_none() {
            self.entries += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_blind_patterns_are_told_from_digit_sensitive_ones() {
        for blind in [
            r"Failed (?P<method>\S+) for (?P<user>\S+) from (?P<source>\S+) port (?P<port>\d+)",
            r"blk_-?\d+",
            r"\bsize (?P<n>[0-9]+)\b",
            r"id=(?P<id>[0-9a-fA-F]+)",
            r"from=<(?P<sender>[^>]*)>",
            r"(?i)accepted \w+ for",
            r"^\s*$",
            r"[[:alnum:]]+|[[:alpha:]]",
        ] {
            assert!(!tells_digits_apart(blind), "{blind}");
        }
        for sensitive in [r"port \d+ ssh2", r"EventID 4625", r"status=[45]\d\d", r"[a-z1]+", r"[^5]", r"(unclosed"] {
            assert!(tells_digits_apart(sensitive), "{sensitive}");
        }
    }

    #[test]
    fn covers_are_digit_blind_and_match_where_their_patterns_do() {
        let cases: [(&str, &[&str]); 6] = [
            (r"port \d+ ssh2", &["port 22 ssh2", "a port 1 ssh2 b"]),
            (r"EventID 4625", &["EventID 4625"]),
            (r"status=(?P<s>[45]\d\d)", &["status=404", "status=500"]),
            (r"(?i)id[a-z1]+x", &["ID1x", "idax"]),
            (r"[^5]é9", &["4é9", "aé9"]),
            (r"^(?:a1|b)+$", &["a1a1b", "b"]),
        ];
        for (pattern, lines) in cases {
            let cover = digit_blind_cover(pattern).unwrap_or_else(|| panic!("{pattern} tells digits apart"));
            assert!(!tells_digits_apart(cover.as_str()), "{pattern}: cover {}", cover.as_str());
            let exact = regex::Regex::new(pattern).unwrap();
            let mut m = Memo::default();
            for line in lines {
                assert!(exact.is_match(line) && cover.is_match(line), "{pattern} on {line}");
                assert!(m.take_shape(line) && cover.is_match(m.shape()), "{pattern} on the shape of {line}");
            }
        }
        assert!(digit_blind_cover(r"blk_-?\d+").is_none());
        // Widened, not loosened: the words and the structure stay.
        let cover = digit_blind_cover(r"^status=[45]\d\d$").unwrap();
        assert!(cover.is_match("status=000") && !cover.is_match("status=0000") && !cover.is_match("state=000"));
    }

    #[test]
    fn source_addresses_remembered_by_shape_are_the_lines_own() {
        assert!(!tells_digits_apart(generic::address_pattern()));
        let long = format!("{} from 192.0.2.1", "x".repeat(Memo::MAX_LEN));
        let lines = [
            "from 300.1.2.3 to 10.0.0.1 via 192.0.2.1",
            "from 100.1.2.3 to 10.0.0.1 via 192.0.2.1",
            "from 300.1.2.3 to 10.0.0.1 via 392.0.2.1",
            "from 300.1.2.3 to 10.0.0.1 via 392.0.2.1",
            "server 10.0.0.1 client 10.0.0.299",
            "server 10.0.0.1 client 10.0.0.29",
            "server 10.0.0.1 client 10.0.0.29",
            "mail to bob@10.0.0.1 x 01.2.3.4",
            "mail to bob@10.0.0.1 x 11.2.3.4",
            "src=2001:db8::1 dst=2001:db8::2",
            "src=2001:db8::g dst=2001:db8::2",
            &long,
        ];
        let mut m = Memo::default();
        // With the rules' shape taken first, as `classify` does, and with a stale shape at hand.
        for take_first in [true, false] {
            for line in lines {
                if take_first {
                    m.take_shape(line);
                }
                assert_eq!(m.source_ip(line), generic::source_ip(line), "{line}");
            }
        }
        assert_eq!(m.source_ip(lines[0]), Some("192.0.2.1"), "not after `to`");
        assert_eq!(m.source_ip(lines[1]), Some("100.1.2.3"));
    }

    #[test]
    fn shapes_write_digits_as_zero_and_keep_everything_else() {
        let mut m = Memo::default();
        assert!(m.take_shape("blk_-1608 of size 91178 from /10.250.19.102:50010 é١"));
        assert_eq!(m.shape, "blk_-0000 of size 00000 from /00.000.00.000:00000 é١");
        assert!(!m.take_shape(&"x".repeat(Memo::MAX_LEN + 1)));
    }

    #[test]
    fn the_memo_is_bounded() {
        let mut m = Memo::default();
        // Shapes with no digit in them, all distinct: `message b`, `message cb`, ...
        let letters = |mut i: usize| {
            let mut s = String::new();
            while i > 0 {
                s.push(char::from(b'a' + (i % 26) as u8));
                i /= 26;
            }
            s
        };
        for i in 0..Memo::MAX_ENTRIES + 10 {
            assert!(m.take_shape(&format!("message {}", letters(i + 1))));
            m.put(1, Decision { blind: None, sensitive: Box::new([]) });
            m.put(1, Decision { blind: None, sensitive: Box::new([]) });
        }
        assert!(m.entries <= Memo::MAX_ENTRIES);
        assert_eq!(m.shapes.values().map(HashMap::len).sum::<usize>(), m.entries);
    }
}

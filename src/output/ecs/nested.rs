//! Writing a flat list of dotted keys as one nested JSON object.

use serde_json::Value;

use crate::fasthash::HashMap;
use crate::record::Timestamp;

/// A value to write.
#[derive(Debug)]
pub enum Leaf<'a> {
    /// A string.
    Str(&'a str),
    /// An unsigned number.
    U64(u64),
    /// A timestamp, written as an ISO 8601 string.
    Time(Timestamp),
    /// Any JSON value.
    Json(&'a Value),
    /// An array of strings.
    Strs(&'a [String]),
    /// An array of static strings.
    Static(&'static [&'static str]),
    /// An object whose keys are written whole (dots and all).
    Map(Vec<(&'a str, Leaf<'a>)>),
}

/// Writes `s` as a JSON string, as serde_json writes it. Most strings (keys, and most messages)
/// hold nothing to escape and are copied whole; serde_json's escaping went byte by byte through
/// each, 12% of `normalize`'s writing thread.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    if needs_escape(s.as_bytes()) {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    } else {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// Whether serde_json would escape any byte of `b`: control characters, `"` and `\`. Checked a
/// block at a time without branching inside it, which the compiler turns into vector code.
fn needs_escape(b: &[u8]) -> bool {
    b.chunks(32).any(|block| block.iter().fold(false, |bad, &c| bad | (c < 0x20) | (c == b'"') | (c == b'\\')))
}

fn write_array<'s>(out: &mut Vec<u8>, items: impl Iterator<Item = &'s str>) {
    out.push(b'[');
    for (i, s) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, s);
    }
    out.push(b']');
}

fn write_leaf(out: &mut Vec<u8>, leaf: &Leaf<'_>) {
    match leaf {
        Leaf::Str(s) => write_str(out, s),
        Leaf::U64(n) => out.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes()),
        Leaf::Time(t) => {
            out.push(b'"');
            t.write_iso(out);
            out.push(b'"');
        }
        Leaf::Json(v) => {
            let _ = serde_json::to_writer(&mut *out, v);
        }
        Leaf::Strs(items) => write_array(out, items.iter().map(String::as_str)),
        Leaf::Static(items) => write_array(out, items.iter().copied()),
        Leaf::Map(entries) => {
            out.push(b'{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, k);
                out.push(b':');
                write_leaf(out, v);
            }
            out.push(b'}');
        }
    }
}

/// The most layouts [`Layouts`] keeps; past it, a new key list's layout is worked out each time.
const MAX_LAYOUTS: usize = 4096;

/// Writes a flat list of dotted keys as one nested object, keys sorted segment by segment. A key
/// that is also the prefix of another (`a` and `a.b`) would need to be both a value and an
/// object, and a repeated key would be written twice: such a leaf, and every repeat but the
/// first, is left out so that keys stay unique. The callers never produce such pairs.
///
/// The object's layout is remembered by its key list. A log's records carry few distinct key
/// lists (one per record format and event kind), so sorting the keys and writing the object's
/// punctuation and key names, a third of `normalize`'s writing thread, is done once per list.
#[derive(Debug, Default)]
pub struct Layouts {
    known: HashMap<Box<[u8]>, Layout>,
    key: Vec<u8>,
}

impl Layouts {
    /// Appends `entries` as one nested object.
    pub fn write(&mut self, out: &mut Vec<u8>, entries: &[(&str, Leaf<'_>)]) {
        // Each key with its length before it, so that no two key lists give one byte string.
        self.key.clear();
        for (k, _) in entries {
            self.key.extend_from_slice(&(k.len() as u64).to_le_bytes());
            self.key.extend_from_slice(k.as_bytes());
        }
        if let Some(layout) = self.known.get(self.key.as_slice()) {
            return layout.write(out, entries);
        }
        let layout = Layout::of(entries.iter().map(|(k, _)| *k));
        layout.write(out, entries);
        if self.known.len() < MAX_LAYOUTS {
            self.known.insert(self.key.as_slice().into(), layout);
        }
    }
}

/// How the object for one key list is written: the leaves in key order, each after the bytes
/// that close and open objects and name its key, then the bytes that close the rest.
#[derive(Debug)]
struct Layout {
    /// The entry written at each step, and where the bytes before it end in `bytes`.
    steps: Vec<(usize, usize)>,
    /// Every step's punctuation and key names, then the closing bytes.
    bytes: Vec<u8>,
}

impl Layout {
    fn of<'k>(keys: impl Iterator<Item = &'k str>) -> Self {
        let mut keys: Vec<(usize, &str)> = keys.enumerate().collect();
        // Ties (a repeated key) go by position, so the first of them is the one kept.
        keys.sort_unstable_by(|a, b| key_order(a.1, b.1).then(a.0.cmp(&b.0)));
        keys.dedup_by(|later, earlier| later.1 == earlier.1);
        let shadowed: Vec<bool> = (0..keys.len())
            .map(|i| {
                let key = keys[i].1;
                keys.get(i + 1)
                    .is_some_and(|next| next.1.len() > key.len() && next.1.starts_with(key) && next.1.as_bytes()[key.len()] == b'.')
            })
            .collect();
        let mut shadow = shadowed.into_iter();
        keys.retain(|_| !shadow.next().unwrap_or(false));

        let mut bytes = vec![b'{'];
        let mut steps = Vec::with_capacity(keys.len());
        let mut open: Vec<&str> = Vec::with_capacity(4);
        let mut path: Vec<&str> = Vec::with_capacity(4);
        let mut first = true;
        for (index, key) in keys {
            let (prefix, name) = match key.rfind('.') {
                Some(i) => (&key[..i], &key[i + 1..]),
                None => ("", key),
            };
            path.clear();
            if !prefix.is_empty() {
                path.extend(prefix.split('.'));
            }
            let common = open.iter().zip(&path).take_while(|(a, b)| a == b).count();
            while open.len() > common {
                open.pop();
                bytes.push(b'}');
                first = false;
            }
            for seg in &path[common..] {
                if !first {
                    bytes.push(b',');
                }
                write_str(&mut bytes, seg);
                bytes.extend_from_slice(b":{");
                open.push(seg);
                first = true;
            }
            if !first {
                bytes.push(b',');
            }
            write_str(&mut bytes, name);
            bytes.push(b':');
            steps.push((index, bytes.len()));
            first = false;
        }
        bytes.extend(std::iter::repeat_n(b'}', open.len() + 1));
        Self { steps, bytes }
    }

    fn write(&self, out: &mut Vec<u8>, entries: &[(&str, Leaf<'_>)]) {
        let mut at = 0;
        for &(index, end) in &self.steps {
            out.extend_from_slice(&self.bytes[at..end]);
            write_leaf(out, &entries[index].1);
            at = end;
        }
        out.extend_from_slice(&self.bytes[at..]);
    }
}

/// Orders dotted keys segment by segment (`a.x` < `a-b`, as `a` < `a-b`) without splitting them:
/// byte order with `.` counted lowest.
fn key_order(a: &str, b: &str) -> std::cmp::Ordering {
    let rank = |c: u8| if c == b'.' { 0u16 } else { u16::from(c) + 1 };
    // Only the first differing byte needs its rank (mapping every byte cost 7% of `normalize`).
    let (a, b) = (a.as_bytes(), b.as_bytes());
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(i) => rank(a[i]).cmp(&rank(b[i])),
        None => a.len().cmp(&b.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(keys: &[&'static str]) -> String {
        let mut out = Vec::new();
        let entries: Vec<(&str, Leaf<'_>)> = keys.iter().map(|k| (*k, Leaf::Str("v"))).collect();
        Layout::of(keys.iter().copied()).write(&mut out, &entries);
        let mut layouts = Layouts::default();
        for _ in 0..2 {
            let mut again = Vec::new();
            layouts.write(&mut again, &entries);
            assert_eq!(again, out, "remembered layout of {keys:?}");
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn nesting() {
        assert_eq!(nested(&[]), "{}");
        assert_eq!(nested(&["b", "a"]), r#"{"a":"v","b":"v"}"#);
        assert_eq!(nested(&["a.b.c", "a.b.d", "a.e", "f"]), r#"{"a":{"b":{"c":"v","d":"v"},"e":"v"},"f":"v"}"#);
        assert_eq!(
            nested(&["x.y", "log.level", "logsieve.line", "log.syslog.priority"]),
            r#"{"log":{"level":"v","syslog":{"priority":"v"}},"logsieve":{"line":"v"},"x":{"y":"v"}}"#
        );
        assert_eq!(nested(&["a", "a.b"]), r#"{"a":{"b":"v"}}"#);
        assert_eq!(nested(&["a.b", "a.b"]), r#"{"a":{"b":"v"}}"#);
        let mut out = Vec::new();
        Layouts::default().write(&mut out, &[("b", Leaf::U64(1)), ("a", Leaf::U64(2)), ("b", Leaf::U64(3))]);
        assert_eq!(out, br#"{"a":2,"b":1}"#, "the first of a repeated key is kept");
        assert_eq!(nested(&["a-b.c", "a.d", "a!.e"]), r#"{"a":{"d":"v"},"a!":{"e":"v"},"a-b":{"c":"v"}}"#);
    }

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        let mut cases: Vec<String> = (0u8..128).map(|b| format!("a{}b", char::from(b))).collect();
        cases.extend(["", "plain text of a log line", "é€用户 \u{7f}", "tab\there", "quote \" and \\ back"].map(str::to_owned));
        cases.push("x".repeat(100) + "\n" + &"y".repeat(40));
        for s in cases {
            let mut out = Vec::new();
            write_str(&mut out, &s);
            assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn key_order_is_byte_order_with_the_dot_lowest() {
        use std::cmp::Ordering::*;
        let keys = ["", "a", "a.b", "a.b.c", "a!", "a-b", "a-b.c", "ab", "b", "log.level", "log.syslog", "logsieve.line", "zz"];
        for x in keys {
            for y in keys {
                let rank = |c: u8| if c == b'.' { 0u16 } else { u16::from(c) + 1 };
                let want = x.bytes().map(rank).cmp(y.bytes().map(rank));
                assert_eq!(key_order(x, y), want, "{x:?} vs {y:?}");
            }
        }
        assert_eq!(key_order("a.x", "a-b"), Less);
        assert_eq!(key_order("a", "a.b"), Less);
        assert_eq!(key_order("a.b", "a.b"), Equal);
    }
}

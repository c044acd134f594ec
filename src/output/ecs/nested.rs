//! Writing a flat list of dotted keys as one nested JSON object.

use serde_json::Value;

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
    Map(Vec<(&'a str, &'a Value)>),
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
                let _ = serde_json::to_writer(&mut *out, v);
            }
            out.push(b'}');
        }
    }
}

/// Writes `entries` (dotted keys) as one nested object, keys sorted segment by segment. A key
/// that is also the prefix of another (`a` and `a.b`) would need to be both a value and an object,
/// and a repeated key would be written twice: such a leaf, and every repeat but one, is left out
/// so that keys stay unique. The callers never produce such pairs.
pub fn write_nested(out: &mut Vec<u8>, mut entries: Vec<(&str, Leaf<'_>)>) {
    // Callers push each key once (record fields a rule already set are left out), so an
    // unstable sort is enough and needs no buffer.
    entries.sort_unstable_by(|a, b| key_order(a.0, b.0));
    entries.dedup_by(|later, earlier| later.0 == earlier.0);
    let shadowed: Vec<bool> = (0..entries.len())
        .map(|i| {
            let key = entries[i].0;
            entries
                .get(i + 1)
                .is_some_and(|next| next.0.len() > key.len() && next.0.starts_with(key) && next.0.as_bytes()[key.len()] == b'.')
        })
        .collect();
    let mut shadow = shadowed.into_iter();
    entries.retain(|_| !shadow.next().unwrap_or(false));

    out.push(b'{');
    let mut open: Vec<&str> = Vec::with_capacity(4);
    let mut path: Vec<&str> = Vec::with_capacity(4);
    let mut first = true;
    for (key, leaf) in &entries {
        let (prefix, name) = match key.rfind('.') {
            Some(i) => (&key[..i], &key[i + 1..]),
            None => ("", *key),
        };
        path.clear();
        if !prefix.is_empty() {
            path.extend(prefix.split('.'));
        }
        let common = open.iter().zip(&path).take_while(|(a, b)| a == b).count();
        while open.len() > common {
            open.pop();
            out.push(b'}');
            first = false;
        }
        for seg in &path[common..] {
            if !first {
                out.push(b',');
            }
            write_str(out, seg);
            out.extend_from_slice(b":{");
            open.push(seg);
            first = true;
        }
        if !first {
            out.push(b',');
        }
        write_str(out, name);
        out.push(b':');
        write_leaf(out, leaf);
        first = false;
    }
    for _ in open {
        out.push(b'}');
    }
    out.push(b'}');
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
        write_nested(&mut out, keys.iter().map(|k| (*k, Leaf::Str("v"))).collect());
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

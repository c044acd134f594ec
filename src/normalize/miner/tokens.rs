//! Tokens as the miner sees them: segments split at delimiters, parameters masked, units and
//! dates recognised, and how a message's token fits (or narrows) a template's constant.

use std::borrow::Cow;

/// Characters that split a token into segments: `uid=0` is the constant `uid=` and a parameter,
/// `ready=true,policy=3` keeps its keys.
pub(super) fn is_delimiter(c: char) -> bool {
    matches!(c, '=' | ',' | ':' | ';' | '(' | ')' | '[' | ']' | '{' | '}' | '"' | '\'')
}

/// A token's segments: runs of delimiters (`false`) and of other characters (`true`, words).
/// Scanned by byte: the delimiters are ASCII, and no byte of a longer character is one, so each
/// run ends where a character does.
pub(super) fn segments(token: &str) -> impl Iterator<Item = (bool, &str)> {
    let delimiter = |b: u8| b.is_ascii() && is_delimiter(char::from(b));
    let mut rest = token;
    std::iter::from_fn(move || {
        let word = !delimiter(*rest.as_bytes().first()?);
        let end = rest.bytes().position(|b| delimiter(b) == word).unwrap_or(rest.len());
        let (seg, tail) = rest.split_at(end);
        rest = tail;
        Some((word, seg))
    })
}

/// A word segment is a parameter when it holds a digit (numbers, addresses, ports, ids, hex,
/// UUIDs, timestamps), unless it is a name ending in one digit (`SOCKS5`, `ssh2`, `IPv6`: three
/// or more letters, then the digit).
pub(super) fn is_parameter(seg: &str) -> bool {
    let b = seg.as_bytes();
    if !b.iter().any(u8::is_ascii_digit) {
        return false;
    }
    let name = b.len() >= 4 && b[b.len() - 1].is_ascii_digit() && b[..b.len() - 1].iter().all(u8::is_ascii_alphabetic);
    !name
}

/// A token with its parameter segments masked as `<*>`; `None` when it has no constant word left
/// (a number, an address, `10.0.0.1:22`, `(1.16`).
pub(super) fn mask(token: &str) -> Option<Cow<'_, str>> {
    if !token.bytes().any(|b| b.is_ascii_digit()) {
        return Some(Cow::Borrowed(token));
    }
    // Beside a parameter, a dotted or slashed word is part of an address (`host.example:5070`,
    // `/path/to:1`).
    let address = |seg: &str| seg.contains(['.', '/']);
    // Most such tokens are parameters whole (numbers, addresses, ids): no copy for them.
    if !segments(token).any(|(word, seg)| word && !is_parameter(seg) && !address(seg)) {
        return None;
    }
    let mut out = String::with_capacity(token.len());
    let mut constant = false;
    for (word, seg) in segments(token) {
        if word && (is_parameter(seg) || address(seg)) {
            out.push_str("<*>");
        } else {
            constant |= word;
            out.push_str(seg);
        }
    }
    constant.then_some(Cow::Owned(out))
}

/// Units that follow a number and belong to it (`0 bytes`, `<1 sec`, `1.16 KB`).
pub(super) fn is_unit(token: &str) -> bool {
    if token.len() > 13 {
        return false;
    }
    const UNITS: &[&str] = &[
        "b",
        "B",
        "byte",
        "bytes",
        "kB",
        "KB",
        "MB",
        "GB",
        "TB",
        "KiB",
        "MiB",
        "GiB",
        "TiB",
        "k",
        "K",
        "M",
        "G",
        "ms",
        "msec",
        "msecs",
        "millis",
        "milliseconds",
        "us",
        "µs",
        "ns",
        "s",
        "sec",
        "secs",
        "second",
        "seconds",
        "min",
        "mins",
        "minute",
        "minutes",
        "h",
        "hr",
        "hrs",
        "hour",
        "hours",
        "%",
    ];
    UNITS.contains(&token.trim_end_matches([',', ';', ')']))
}

/// Whether the constant `slot` at `i` may take the message's `tok` without starting another
/// template: both have the same shape (delimiters and number of words), and it follows a word
/// that introduces a parameter (`for root`, `from host`, `user admin`), it is enclosed in
/// brackets or quotes (`(spawning)`), or it is the value of a `key=value` (`user=root`).
pub(super) fn slot_is_free(tokens: &[Option<String>], i: usize, tok: Option<&str>) -> bool {
    const INTRODUCE: &[&str] = &["for", "from", "by", "to", "user", "of", "at", "on", "in", "with", "via"];
    let (Some(slot), Some(tok)) = (tokens[i].as_deref(), tok) else { return false };
    if !same_shape(slot, tok) {
        return false;
    }
    let after = i > 0 && tokens[i - 1].as_deref().is_some_and(|t| INTRODUCE.iter().any(|w| w.eq_ignore_ascii_case(t)));
    after || is_enclosed(slot) || slot.contains('=')
}

/// A word in brackets or quotes (`(spawning).`, `'sparkDriver'`): a value given.
fn is_enclosed(token: &str) -> bool {
    token.starts_with(is_delimiter) && token.trim_end_matches(['.', ',', ';', ':']).ends_with(is_delimiter)
}

/// Whether two tokens have the same delimiters in the same places, with a word between each.
pub(super) fn same_shape(a: &str, b: &str) -> bool {
    let (mut x, mut y) = (segments(a), segments(b));
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some((true, _)), Some((true, _))) => {}
            (Some((false, p)), Some((false, q))) if p == q => {}
            _ => return false,
        }
    }
}

/// A day or month name (`Sun`, `Jul`, `July`).
pub(super) fn is_date_word(token: &str) -> bool {
    // Most tokens are not: a capital letter and three to ten characters first.
    if !(3..=10).contains(&token.len()) || !token.as_bytes()[0].is_ascii_uppercase() {
        return false;
    }
    const NAMES: &[&str] = &[
        "Mon",
        "Tue",
        "Wed",
        "Thu",
        "Fri",
        "Sat",
        "Sun",
        "Jan",
        "Feb",
        "Mar",
        "Apr",
        "May",
        "Jun",
        "Jul",
        "Aug",
        "Sep",
        "Oct",
        "Nov",
        "Dec",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "January",
        "February",
        "March",
        "April",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    NAMES.contains(&token.trim_end_matches(','))
}

/// How well a message token fits a cluster's constant token: 1 when equal (or when every
/// differing segment is already a parameter of the cluster's), the share of agreeing word
/// segments when both have the same delimiters, else 0.
pub(super) fn fit(slot: &str, tok: Option<&str>) -> f64 {
    let Some(tok) = tok else { return 0.0 };
    if slot == tok {
        return 1.0;
    }
    let (mut words, mut agree) = (0usize, 0usize);
    let (mut a, mut b) = (segments(slot), segments(tok));
    loop {
        match (a.next(), b.next()) {
            (None, None) => break,
            (Some((true, x)), Some((true, y))) => {
                words += 1;
                agree += usize::from(x == y || x == "<*>");
            }
            (Some((false, x)), Some((false, y))) if x == y => {}
            _ => return 0.0,
        }
    }
    if words == 0 {
        0.0
    } else {
        agree as f64 / words as f64
    }
}

/// A cluster's constant token narrowed to what `tok` shares: equal, or the differing word
/// segments become parameters when both have the same delimiters (`wakefulness=Awake` and
/// `wakefulness=Asleep` give `wakefulness=<*>`), else a parameter (`None`).
pub(super) fn generalise(slot: &str, tok: Option<&str>) -> Option<String> {
    let tok = tok?;
    if slot == tok {
        return Some(slot.to_owned());
    }
    fit(slot, Some(tok)).gt(&0.0).then_some(())?;
    let mut out = String::with_capacity(slot.len());
    let mut constant = false;
    for ((word, x), (_, y)) in segments(slot).zip(segments(tok)) {
        if word && x != y {
            out.push_str("<*>");
        } else {
            constant |= word && x != "<*>";
            out.push_str(x);
        }
    }
    constant.then_some(out)
}

/// Words a template state's readable name is built from, at most.
const NAME_WORDS: usize = 6;

/// A readable name from a template's tokens (`None`: a parameter): its first constant words,
/// lower case, joined by `-` (`unexpected-error-trying-to-delete-block`), not ending on `to`,
/// `of`, `for` and the like. Values a message gives
/// are left out: a word after `user`, `for`, `from` or `by`, a word in brackets or quotes, the
/// value of a `key=value`. `message` when no word is left.
pub(super) fn slug<'a>(tokens: impl IntoIterator<Item = Option<&'a str>>) -> String {
    const VALUE_AFTER: &[&str] = &["user", "for", "from", "by"];
    let mut words: Vec<String> = Vec::new();
    let mut previous: Option<&str> = None;
    for tok in tokens {
        if words.len() >= NAME_WORDS {
            break;
        }
        let introduces = |t: &str| VALUE_AFTER.iter().any(|w| w.eq_ignore_ascii_case(t));
        let after = previous.is_some_and(introduces);
        previous = tok;
        let Some(tok) = tok else { continue };
        if (after && !introduces(tok)) || is_enclosed(tok) {
            continue;
        }
        let mut value = false;
        for (word, seg) in segments(tok) {
            if !word {
                value = seg.contains('=');
                continue;
            }
            if value {
                continue;
            }
            for run in seg.split(|c: char| !c.is_ascii_alphabetic()).filter(|r| !r.is_empty()) {
                // A word said twice in a row is named once (`addStoredBlock: addStoredBlock`).
                if words.len() < NAME_WORDS && !words.last().is_some_and(|w| w.eq_ignore_ascii_case(run)) {
                    words.push(run.to_ascii_lowercase());
                }
            }
        }
    }
    // A name does not end on a word that only leads to a value (`served-block-to`).
    const LEADING: &[&str] = &["a", "an", "at", "by", "for", "from", "in", "is", "of", "on", "the", "to", "via", "with"];
    while words.len() > 1 && words.last().is_some_and(|w| LEADING.contains(&w.as_str())) {
        words.pop();
    }
    if words.is_empty() {
        "message".to_owned()
    } else {
        words.join("-")
    }
}

/// Whether `name` could be a name [`slug`] gives (lower-case words joined by `-`, perhaps a
/// number after the last `-` to tell two templates apart).
pub(super) fn is_slug(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.ends_with('-')
        && !name.contains("--")
}

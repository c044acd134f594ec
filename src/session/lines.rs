//! The input lines of a session's events, kept compactly.
//!
//! A session holds one line reference per event, up to the per-session cap (10,000 by default),
//! and a run can hold hundreds of long sessions open at once. As `LineRef`s that is 16 bytes an
//! event; here each is the difference from the session's previous line as a variable-length
//! integer (LEB128 of the zig-zagged difference), which for a session's lines, near each other
//! in its input, takes one to three bytes. A change of input file is marked in the same integer
//! and followed by the file index and the line itself.

use super::LineRef;

/// The lines of one session, in the order of its events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineRefs {
    bytes: Vec<u8>,
    len: usize,
    last: Option<LineRef>,
}

impl LineRefs {
    /// No lines.
    pub fn new() -> Self {
        LineRefs::default()
    }

    /// How many lines.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes held (for tests and sizing).
    pub fn capacity_bytes(&self) -> usize {
        self.bytes.capacity()
    }

    /// Appends a line. `room`, when given, is how many more lines may still come: once the
    /// buffer would double past what they can need (at the bytes per line seen so far), it grows
    /// to that and no further.
    pub fn push(&mut self, l: LineRef, room: Option<usize>) {
        reserve(&mut self.bytes, self.len, room);
        match self.last {
            Some(last) if last.file == l.file => put(&mut self.bytes, zigzag(l.line.wrapping_sub(last.line)) << 1),
            _ => {
                put(&mut self.bytes, (u64::from(l.file) << 1) | 1);
                put(&mut self.bytes, l.line);
            }
        }
        self.last = Some(l);
        self.len += 1;
    }

    /// The lines in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter { bytes: &self.bytes, last: LineRef { file: 0, line: 0 } }
    }

    /// The lines as a vector.
    pub fn to_vec(&self) -> Vec<LineRef> {
        self.iter().collect()
    }
}

impl FromIterator<LineRef> for LineRefs {
    fn from_iter<I: IntoIterator<Item = LineRef>>(iter: I) -> Self {
        let mut out = LineRefs::new();
        for l in iter {
            out.push(l, None);
        }
        out
    }
}

impl<'a> IntoIterator for &'a LineRefs {
    type Item = LineRef;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// The lines of a [`LineRefs`], decoded in order.
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    bytes: &'a [u8],
    last: LineRef,
}

impl Iterator for Iter<'_> {
    type Item = LineRef;
    fn next(&mut self) -> Option<LineRef> {
        let head = take(&mut self.bytes)?;
        self.last = if head & 1 == 1 {
            // The encoder wrote both integers, and the file index from a u32.
            LineRef { file: (head >> 1) as u32, line: take(&mut self.bytes)? }
        } else {
            LineRef { file: self.last.file, line: self.last.line.wrapping_add(unzigzag(head >> 1)) }
        };
        Some(self.last)
    }
}

/// The state ids of a session still open, each a LEB128 integer: a byte for the first 128
/// states of a model, two for the next 16,256. A session at its event cap holds 10,000 to
/// 20,000 bytes instead of the 40,000 of a `Vec<u32>`; the ids are unpacked once, when the
/// session closes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StateIds {
    bytes: Vec<u8>,
    len: usize,
}

impl StateIds {
    /// How many ids.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Bytes held (for tests and sizing).
    #[cfg(test)]
    pub(crate) fn capacity_bytes(&self) -> usize {
        self.bytes.capacity()
    }

    /// Appends an id; `room` as in [`LineRefs::push`].
    pub(crate) fn push(&mut self, id: u32, room: Option<usize>) {
        reserve(&mut self.bytes, self.len, room);
        put(&mut self.bytes, u64::from(id));
        self.len += 1;
    }

    /// The ids in order, in a vector of exactly their number.
    pub(crate) fn to_vec(&self) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.len);
        let mut bytes = &self.bytes[..];
        // The encoder wrote each from a u32.
        while let Some(id) = take(&mut bytes) {
            out.push(id as u32);
        }
        out
    }
}

/// Makes room in `bytes` (holding `len` items) for one more. `room`, when given, is how many
/// more items may still come: once the buffer would double past what they can need (at the bytes
/// per item seen so far), it grows to that and no further.
fn reserve(bytes: &mut Vec<u8>, len: usize, room: Option<usize>) {
    if bytes.len() + 2 * MAX_VARINT > bytes.capacity() {
        if let Some(room) = room.filter(|_| len > 0) {
            let need = (bytes.len() * (room + 1)).div_ceil(len) + 2 * MAX_VARINT;
            if need < bytes.capacity().max(64) {
                bytes.reserve_exact(need);
            }
        }
    }
}

/// Bytes of the longest integer: 64 bits in groups of 7.
const MAX_VARINT: usize = 10;

fn zigzag(d: u64) -> u64 {
    let d = d as i64;
    ((d << 1) ^ (d >> 63)) as u64
}

fn unzigzag(z: u64) -> u64 {
    ((z >> 1) as i64 ^ -((z & 1) as i64)) as u64
}

fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn take(bytes: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(MAX_VARINT) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            *bytes = &bytes[i + 1..];
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(file: u32, line: u64) -> LineRef {
        LineRef { file, line }
    }

    #[test]
    fn round_trips_forward_backward_and_across_files() {
        let refs = vec![r(0, 1), r(0, 3), r(0, 2), r(0, 2), r(1, 7), r(0, 9), r(u32::MAX, u64::MAX), r(u32::MAX, 0), r(3, 1 << 40)];
        let lines: LineRefs = refs.iter().copied().collect();
        assert_eq!(lines.len(), refs.len());
        assert_eq!(lines.to_vec(), refs);
        assert!(LineRefs::new().iter().next().is_none() && LineRefs::new().is_empty());
    }

    #[test]
    fn near_lines_take_a_byte_or_two() {
        // Every other line of a file, then lines 2,000 apart (a session seen once per screenful).
        let near: LineRefs = (1..=1000).map(|i| r(0, 2 * i)).collect();
        assert_eq!(near.bytes.len(), 1 + 1 + 999);
        let far: LineRefs = (1..=1000).map(|i| r(0, 2000 * i)).collect();
        assert!(far.bytes.len() <= 2 + 2 * 1000, "{}", far.bytes.len());
        assert_eq!(far.iter().last(), Some(r(0, 2_000_000)));
    }

    #[test]
    fn growth_stops_near_what_the_remaining_lines_need() {
        let mut lines = LineRefs::new();
        for i in 0..10_000u64 {
            lines.push(r(0, i + 1), Some(10_000 - i as usize - 1));
        }
        assert_eq!(lines.len(), 10_000);
        assert!(lines.capacity_bytes() < 10_000 + 4 * MAX_VARINT + 64, "{}", lines.capacity_bytes());
    }

    #[test]
    fn state_ids_round_trip_in_a_byte_or_two_each() {
        let mut ids = StateIds::default();
        let want: Vec<u32> = (0..1000).map(|i| [0, 127, 128, 16_383, 16_384, u32::MAX][i % 6]).collect();
        for &id in &want {
            ids.push(id, None);
        }
        assert_eq!((ids.len(), ids.to_vec()), (want.len(), want));
        let mut small = StateIds::default();
        for i in 0..10_000u32 {
            small.push(i % 100, Some(10_000 - i as usize - 1));
        }
        assert_eq!(small.to_vec().len(), 10_000);
        assert!(small.capacity_bytes() < 10_000 + 4 * MAX_VARINT + 64, "{}", small.capacity_bytes());
        assert!(StateIds::default().to_vec().is_empty());
    }
}

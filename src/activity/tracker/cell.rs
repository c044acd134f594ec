//! What a tracker's cell is keyed by and what it keeps of the last minute.

use std::collections::VecDeque;

use super::Open;
use crate::record::Timestamp;

/// The log times of an entity's events in the last minute, as runs of events of one time, kept in
/// time order: a log stamped to the second puts many events at one time, and a burst of them no
/// longer costs memory per event. An event earlier than the last joins the run of its time, so a
/// log whose time keeps going back a little (a replayed or looping input, merged files) cannot
/// grow the window past one run per distinct time in it: kept in the order they came, every
/// repeat of a time was a new run, and a looping 10M-line input held 17 MB of them at 3M lines.
#[derive(Debug, Default)]
pub(super) struct Minute {
    /// (milliseconds, time as written, events), by milliseconds.
    pub(super) runs: VecDeque<(i64, Timestamp, u64)>,
    events: u64,
}

impl Minute {
    pub(super) fn clear(&mut self) {
        self.runs.clear();
        self.events = 0;
    }

    pub(super) fn push(&mut self, millis: i64, t: Timestamp) {
        self.events += 1;
        match self.runs.back_mut() {
            Some((m, last, n)) if *m == millis && *last == t => *n += 1,
            Some((m, _, _)) if *m > millis => {
                // Out of order: the run of this time (the same milliseconds written the same
                // way), else a new one in its place.
                let at = self.runs.partition_point(|r| r.0 <= millis);
                let same = (0..at).rev().take_while(|&i| self.runs[i].0 == millis).find(|&i| self.runs[i].1 == t);
                match same {
                    Some(i) => self.runs[i].2 += 1,
                    None => self.runs.insert(at, (millis, t, 1)),
                }
            }
            _ => self.runs.push_back((millis, t, 1)),
        }
    }

    /// Forgets the events at or before `millis`.
    pub(super) fn drop_until(&mut self, millis: i64) {
        while let Some(&(m, _, n)) = self.runs.front() {
            if m > millis {
                break;
            }
            self.runs.pop_front();
            self.events -= n;
        }
    }

    pub(super) fn len(&self) -> u64 {
        self.events
    }

    pub(super) fn first(&self) -> Option<Timestamp> {
        self.runs.front().map(|r| r.1)
    }

    /// The latest time kept.
    pub(super) fn last_millis(&self) -> Option<i64> {
        self.runs.back().map(|r| r.0)
    }
}

/// The open cells by (entity field, entity, event): hashbrown's map, which is looked up by a
/// [`CellRef`] without building the key's strings (three allocations per cell and event, with
/// std's map).
pub(super) type Cells = hashbrown::HashMap<(String, String, String), Open, foldhash::fast::RandomState>;

/// A cell's key, borrowed: it hashes as the owned key does (a tuple hashes its fields in order).
#[derive(Hash)]
pub(super) struct CellRef<'a>(pub(super) &'a str, pub(super) &'a str, pub(super) &'a str);

impl CellRef<'_> {
    pub(super) fn owned(&self) -> (String, String, String) {
        (self.0.to_owned(), self.1.to_owned(), self.2.to_owned())
    }
}

impl hashbrown::Equivalent<(String, String, String)> for CellRef<'_> {
    fn equivalent(&self, key: &(String, String, String)) -> bool {
        self.0 == key.0 && self.1 == key.1 && self.2 == key.2
    }
}

//! The sessionizer: steps → sessions by entity key and lifecycle, and windows of keyless steps.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use crate::fasthash::HashMap;

use super::{millis, Closed, OpenSession, Session, SessionConfig, SessionStats, Step};

struct Open {
    session: OpenSession,
    /// Its deadline and the serial of its last event: where it stands in the deadline order.
    slot: (i64, u64),
    /// Where its entry in the order map is: at `slot`, or (while its deadline only moved later)
    /// at an earlier slot, moved when it comes first. An event then costs no map update when
    /// the log's time goes forward, which is most events.
    queued: (i64, u64),
    ended: bool,
    /// The key, shared with the deadline order: an event moves its session there without
    /// copying the key.
    key: Arc<str>,
}

/// A window stream of keyless events.
#[derive(Default)]
struct Windows {
    /// (serial, log time in ms, event) of the events the next windows may hold.
    buf: VecDeque<(u64, i64, Step)>,
    serial: u64,
    /// The last serial emitted in a window.
    emitted: u64,
    start_ms: Option<i64>,
    last_ms: Option<i64>,
    index: u64,
    /// Count windows: the events of the last window emitted, so the stream's last, partial
    /// window can be filled up to a whole one with them.
    last: Vec<Step>,
}

/// Groups events into sessions and windows; see the module docs.
pub struct Sessionizer {
    config: SessionConfig,
    open: HashMap<String, Open>,
    /// (deadline in ms, serial) → key; the first entry is the next to time out or be evicted.
    order: BTreeMap<(i64, u64), Arc<str>>,
    serial: u64,
    windows: BTreeMap<String, Windows>,
    stats: SessionStats,
}

impl Sessionizer {
    /// A sessionizer with these settings.
    pub fn new(config: SessionConfig) -> Self {
        Sessionizer {
            config,
            open: HashMap::default(),
            order: BTreeMap::new(),
            serial: 0,
            windows: BTreeMap::new(),
            stats: SessionStats::default(),
        }
    }

    /// The open session of an entity key as it stands, if there is one (`watch` scores it
    /// before it closes).
    pub fn open_session(&self, key: &str) -> Option<Session> {
        self.open.get(key).map(|o| o.session.snapshot())
    }

    /// The counters so far.
    pub fn stats(&self) -> SessionStats {
        self.stats
    }

    fn emit(&mut self, mut s: Session, closed: Closed, out: &mut impl FnMut(Session)) {
        s.closed = closed;
        self.stats.sessions += 1;
        self.stats.dropped_events += s.dropped;
        match closed {
            Closed::Evicted => self.stats.evicted += 1,
            Closed::Timeout => self.stats.timed_out += 1,
            Closed::Window => self.stats.windows += 1,
            _ => {}
        }
        out(s);
    }

    /// Closes the sessions whose deadline is before `now_ms`.
    fn expire(&mut self, now_ms: i64, out: &mut impl FnMut(Session)) {
        while let Some((&(deadline, _), _)) = self.order.first_key_value() {
            if deadline >= now_ms {
                break;
            }
            let Some(key) = self.pop_first() else { continue };
            if let Some(o) = self.open.remove(&*key) {
                let closed = if o.ended { Closed::End } else { Closed::Timeout };
                self.emit(o.session.finish(), closed, out);
            }
        }
    }

    /// Takes the first entry of the deadline order: its key when the entry is where its session
    /// stands, else (an entry left behind by a later deadline) `None`, the entry moved to its
    /// session's slot.
    fn pop_first(&mut self) -> Option<Arc<str>> {
        let (slot, key) = self.order.pop_first()?;
        match self.open.get_mut(&*key) {
            Some(o) if o.slot != slot => {
                o.queued = o.slot;
                self.order.insert(o.slot, key);
                None
            }
            _ => Some(key),
        }
    }

    /// The key first in the deadline order, taken out of it (entries left behind are moved on).
    fn pop_earliest(&mut self) -> Option<Arc<str>> {
        while !self.order.is_empty() {
            if let Some(key) = self.pop_first() {
                return Some(key);
            }
        }
        None
    }

    /// Closes the sessions whose deadline has passed at log time `now_ms` (milliseconds since the
    /// epoch, UTC) without an event: `watch` calls it while its input is quiet.
    pub fn advance(&mut self, now_ms: i64, out: &mut impl FnMut(Session)) {
        self.expire(now_ms, out);
    }

    /// Adds an event to the sessions of `keys` (none: the window stream `stream`). Sessions that
    /// close are handed to `out`.
    pub fn push(&mut self, keys: &[String], stream: &str, step: Step, out: &mut impl FnMut(Session)) {
        let now = step.time.as_ref().map(millis);
        if let Some(now) = now {
            self.expire(now, out);
        }
        if keys.is_empty() {
            self.push_window(stream, step, out);
            return;
        }
        for key in keys {
            self.serial += 1;
            let serial = self.serial;
            let grace = |ended: bool, cfg: &SessionConfig| if ended { cfg.end_grace } else { cfg.idle_timeout };
            // A creation event for an entity that has ended: the key was reused (a pid), so the
            // old session closes and a new one opens.
            if step.starts && self.open.get(key.as_str()).is_some_and(|o| o.ended) {
                if let Some(o) = self.open.remove(key.as_str()) {
                    self.order.remove(&o.queued);
                    self.emit(o.session.finish(), Closed::End, out);
                }
            }
            if !self.open.contains_key(key.as_str()) {
                if self.open.len() >= self.config.max_open {
                    if let Some(oldest) = self.pop_earliest() {
                        if let Some(o) = self.open.remove(&*oldest) {
                            self.emit(o.session.finish(), Closed::Evicted, out);
                        }
                    }
                }
                let slot = (i64::MAX, serial);
                let shared: Arc<str> = Arc::from(key.as_str());
                self.open.insert(
                    key.clone(),
                    Open { session: OpenSession::new(key.clone()), slot, queued: slot, ended: false, key: Arc::clone(&shared) },
                );
                self.order.insert(slot, shared);
                self.stats.peak_open = self.stats.peak_open.max(self.open.len() as u64);
            }
            let cap = self.config.max_events;
            let Some(o) = self.open.get_mut(key.as_str()) else { continue };
            o.session.push(&step, cap);
            o.ended |= step.ends;
            // Without log time nothing times out: sessions close at end of input, and an ended
            // one is the first to go when the cap is reached.
            let deadline = match now {
                Some(now) => now.saturating_add((grace(o.ended, &self.config) * 1000.0) as i64),
                None if o.ended => i64::MIN,
                None => i64::MAX,
            };
            o.slot = (deadline, serial);
            // A later slot leaves the entry where it is (see `Open::queued`).
            if o.slot < o.queued {
                self.order.remove(&o.queued);
                o.queued = o.slot;
                self.order.insert(o.slot, Arc::clone(&o.key));
            }
        }
    }

    fn push_window(&mut self, stream: &str, step: Step, out: &mut impl FnMut(Session)) {
        let spec = self.config.window;
        let mut ready = Vec::new();
        {
            let w = self.windows.entry(stream.to_owned()).or_default();
            w.serial += 1;
            let serial = w.serial;
            match spec.seconds {
                Some(secs) => {
                    // A line without a time stays with the window of the last line that had one.
                    let now = step.time.as_ref().map(millis).or(w.last_ms).unwrap_or(0);
                    w.last_ms = Some(now);
                    let size = (secs * 1000.0).max(1.0) as i64;
                    let stride = (spec.step.unwrap_or(secs) * 1000.0).clamp(1.0, size as f64) as i64;
                    let mut start = *w.start_ms.get_or_insert(now);
                    while now >= start + size {
                        let members: Vec<Step> = w.buf.iter().filter(|(_, t, _)| *t < start + size).map(|(_, _, s)| s.clone()).collect();
                        let fresh = w.buf.iter().any(|(n, t, _)| *t < start + size && *n > w.emitted);
                        if fresh {
                            ready.push((w.index, members));
                            w.index += 1;
                            w.emitted = w.buf.iter().filter(|(_, t, _)| *t < start + size).map(|(n, _, _)| *n).max().unwrap_or(w.emitted);
                        }
                        start += stride;
                        // Skip a quiet stretch in one go: the next window is the first that holds
                        // a buffered line or the new one.
                        let next_t = w.buf.iter().map(|(_, t, _)| *t).filter(|t| *t >= start).min().unwrap_or(now);
                        if next_t >= start + size {
                            start += (next_t - start - size) / stride * stride + stride;
                        }
                        while w.buf.front().is_some_and(|(_, t, _)| *t < start) {
                            w.buf.pop_front();
                        }
                    }
                    w.start_ms = Some(start);
                    w.buf.push_back((serial, now, step));
                }
                None => {
                    let size = spec.events.max(1);
                    let stride = spec.step.map(|s| s as usize).unwrap_or(size).clamp(1, size);
                    w.buf.push_back((serial, 0, step));
                    if w.buf.len() >= size {
                        let steps: Vec<Step> = w.buf.iter().map(|(_, _, s)| s.clone()).collect();
                        w.last.clone_from(&steps);
                        ready.push((w.index, steps));
                        w.index += 1;
                        w.emitted = serial;
                        for _ in 0..stride {
                            w.buf.pop_front();
                        }
                    }
                }
            }
        }
        for (index, steps) in ready {
            let s = window_session(stream, index, &steps, self.config.max_events);
            self.emit(s, Closed::Window, out);
        }
    }

    /// Ends the input: every open session and the rest of every window stream are emitted, in a
    /// fixed order (by deadline, then the windows by stream name).
    pub fn finish(&mut self, out: &mut impl FnMut(Session)) {
        while let Some(key) = self.pop_earliest() {
            if let Some(o) = self.open.remove(&*key) {
                let closed = if o.ended { Closed::End } else { Closed::EndOfInput };
                self.emit(o.session.finish(), closed, out);
            }
        }
        let windows = std::mem::take(&mut self.windows);
        let size = self.config.window.events.max(1);
        let by_count = self.config.window.seconds.is_none();
        for (stream, w) in windows {
            if w.buf.iter().any(|(n, _, _)| *n > w.emitted) {
                let mut steps: Vec<Step> = w.buf.into_iter().map(|(_, _, s)| s).collect();
                // The last count window of a stream is cut by the end of the input, not by the
                // window: it takes the latest events of the window before it up to a whole
                // window, so its counts are a window's (a stub of three lines would differ from
                // every training window by its size alone).
                if by_count && steps.len() < size && !w.last.is_empty() {
                    let missing = (size - steps.len()).min(w.last.len());
                    let mut filled: Vec<Step> = w.last[w.last.len() - missing..].to_vec();
                    filled.retain(|st| !steps.iter().any(|x| x.line == st.line));
                    filled.extend(steps);
                    steps = filled;
                }
                let s = window_session(&stream, w.index, &steps, self.config.max_events);
                self.emit(s, Closed::Window, out);
            }
        }
    }
}

fn window_session(stream: &str, index: u64, steps: &[Step], cap: usize) -> Session {
    let mut s = OpenSession::new(format!("{stream}#w{index}"));
    for st in steps {
        s.push(st, cap);
    }
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Timestamp;
    use crate::session::{LineRef, WindowSpec};
    use chrono::NaiveDate;

    fn at(secs: u32) -> Option<Timestamp> {
        let d = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
        Some(Timestamp::naive(d + chrono::Duration::seconds(i64::from(secs))))
    }

    fn step(state: u32, time: Option<Timestamp>, line: u64, ends: bool) -> Step {
        Step { state, time, line: LineRef { file: 0, line }, params: Vec::new(), ends, starts: state == 9 }
    }

    fn run(config: SessionConfig, events: &[(&[&str], u32, Option<Timestamp>, bool)]) -> Vec<Session> {
        let mut s = Sessionizer::new(config);
        let mut out = Vec::new();
        for (i, (keys, state, time, ends)) in events.iter().enumerate() {
            let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
            s.push(&keys, "f", step(*state, *time, i as u64 + 1, *ends), &mut |x| out.push(x));
        }
        s.finish(&mut |x| out.push(x));
        out
    }

    #[test]
    fn sessions_follow_keys_and_close_at_end_after_grace() {
        let ev: &[(&[&str], u32, Option<Timestamp>, bool)] = &[
            (&["a"], 0, at(0), false),
            (&["b"], 0, at(1), false),
            (&["a"], 1, at(2), true),
            (&["a"], 1, at(3), true),
            (&["b"], 2, at(5000), false),
        ];
        let out = run(SessionConfig::default(), ev);
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].key.as_str(), out[0].states.as_slice(), out[0].closed), ("a", &[0, 1, 1][..], Closed::End));
        assert_eq!(out[0].lines.iter().map(|l| l.line).collect::<Vec<_>>(), [1, 3, 4]);
        assert_eq!((out[1].key.as_str(), out[1].states.as_slice(), out[1].closed), ("b", &[0, 2][..], Closed::EndOfInput));
    }

    #[test]
    fn a_start_after_an_end_opens_a_new_session() {
        let ev: &[(&[&str], u32, Option<Timestamp>, bool)] =
            &[(&["p"], 9, at(0), false), (&["p"], 1, at(1), true), (&["p"], 9, at(2), false), (&["p"], 2, at(3), false)];
        let got: Vec<(Vec<u32>, Closed)> = run(SessionConfig::default(), ev).iter().map(|s| (s.states.clone(), s.closed)).collect();
        assert_eq!(got, [(vec![9, 1], Closed::End), (vec![9, 2], Closed::EndOfInput)]);
    }

    #[test]
    fn idle_timeout_is_on_log_time_and_a_line_can_join_several_sessions() {
        let cfg = SessionConfig { idle_timeout: 10.0, ..SessionConfig::default() };
        let ev: &[(&[&str], u32, Option<Timestamp>, bool)] =
            &[(&["a", "b"], 0, at(0), false), (&["a"], 1, at(5), false), (&["a"], 2, at(100), false)];
        let out = run(cfg, ev);
        let got: Vec<(&str, Vec<u32>, Closed)> = out.iter().map(|s| (s.key.as_str(), s.states.clone(), s.closed)).collect();
        assert_eq!(got, [("b", vec![0], Closed::Timeout), ("a", vec![0, 1], Closed::Timeout), ("a", vec![2], Closed::EndOfInput)]);
    }

    #[test]
    fn the_cap_evicts_the_oldest_and_counts_it() {
        let cfg = SessionConfig { max_open: 2, ..SessionConfig::default() };
        let ev: &[(&[&str], u32, Option<Timestamp>, bool)] =
            &[(&["a"], 0, None, false), (&["b"], 0, None, false), (&["a"], 1, None, false), (&["c"], 0, None, false)];
        let mut s = Sessionizer::new(cfg);
        let mut out = Vec::new();
        for (i, (keys, state, time, ends)) in ev.iter().enumerate() {
            let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
            s.push(&keys, "f", step(*state, *time, i as u64 + 1, *ends), &mut |x| out.push(x));
        }
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].key.as_str(), out[0].closed), ("b", Closed::Evicted));
        s.finish(&mut |x| out.push(x));
        assert_eq!(s.stats().evicted, 1);
        assert_eq!(s.stats().sessions, 3);
        assert_eq!(s.stats().peak_open, 2);
    }

    #[test]
    fn a_deadline_moved_later_is_taken_in_its_new_place() {
        // `a`'s deadline moves from 10 to 15 with no update of the order map: the cap evicts `b`
        // (deadline 11), not `a`, and the timeouts come in deadline order, `a` (15) before `c`
        // (16); a clock that goes back moves `e`'s entry earlier (12), so the cap evicts it before
        // `d` (40), and the input ends with `f` (13) before `d`.
        let cfg = SessionConfig { max_open: 2, idle_timeout: 10.0, ..SessionConfig::default() };
        let ev: &[(&[&str], u32, Option<Timestamp>, bool)] = &[
            (&["a"], 0, at(0), false),
            (&["b"], 0, at(1), false),
            (&["a"], 1, at(5), false),
            (&["c"], 0, at(6), false),
            (&["d"], 0, at(30), false),
            (&["e"], 0, at(31), false),
            (&["e"], 1, at(2), false),
            (&["f"], 0, at(3), false),
        ];
        let out = run(cfg, ev);
        let got: Vec<(&str, Closed)> = out.iter().map(|s| (s.key.as_str(), s.closed)).collect();
        let want = [
            ("b", Closed::Evicted),
            ("a", Closed::Timeout),
            ("c", Closed::Timeout),
            ("e", Closed::Evicted),
            ("f", Closed::EndOfInput),
            ("d", Closed::EndOfInput),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn a_session_at_its_event_cap_holds_no_room_beyond_it() {
        let mut open = OpenSession::new("k".into());
        for i in 0..12_000u64 {
            open.push(&step(1, None, i + 1, false), 10_000);
        }
        // State 1 and consecutive lines take a byte each: room for 10,000 and a few more, not
        // 16,384, while the session is open.
        assert!(
            open.states.capacity_bytes() <= 10_100 && open.session.lines.capacity_bytes() <= 10_100,
            "{} {}",
            open.states.capacity_bytes(),
            open.session.lines.capacity_bytes()
        );
        let s = open.finish();
        assert_eq!((s.states.len(), s.lines.len(), s.dropped), (10_000, 10_000, 2_000));
        assert_eq!(s.states.capacity(), 10_000);
    }

    #[test]
    fn keyless_events_form_count_windows_fixed_or_sliding() {
        let ev: Vec<(&[&str], u32, Option<Timestamp>, bool)> = (0..7).map(|i| (&[][..], i, None, false)).collect();
        let fixed = SessionConfig { window: WindowSpec { events: 3, seconds: None, step: None }, ..SessionConfig::default() };
        let out = run(fixed, &ev);
        let got: Vec<Vec<u32>> = out.iter().map(|s| s.states.clone()).collect();
        // The last window, cut by the end of input, is filled up with the window before it.
        assert_eq!(got, [vec![0, 1, 2], vec![3, 4, 5], vec![4, 5, 6]]);
        assert_eq!(out[1].key, "f#w1");
        let sliding = SessionConfig { window: WindowSpec { events: 3, seconds: None, step: Some(2.0) }, ..SessionConfig::default() };
        let got: Vec<Vec<u32>> = run(sliding, &ev).iter().map(|s| s.states.clone()).collect();
        assert_eq!(got, [vec![0, 1, 2], vec![2, 3, 4], vec![4, 5, 6]]);
    }

    #[test]
    fn keyless_events_form_time_windows() {
        let spec = WindowSpec { events: 20, seconds: Some(10.0), step: None };
        let ev: Vec<(&[&str], u32, Option<Timestamp>, bool)> =
            [0u32, 3, 9, 10, 15, 42].iter().enumerate().map(|(i, &t)| (&[][..], i as u32, at(t), false)).collect();
        let got: Vec<Vec<u32>> =
            run(SessionConfig { window: spec, ..SessionConfig::default() }, &ev).iter().map(|s| s.states.clone()).collect();
        assert_eq!(got, [vec![0, 1, 2], vec![3, 4], vec![5]]);
    }
}

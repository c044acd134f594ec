//! The sessionize stage: events → sessions.
//!
//! An event joins the session of its entity key (the key its rule names, or the first capture
//! group of `--session-key`; a line with several keys joins each of their sessions). A session
//! opens at its first event, and closes at its end event (after a short grace period on log time,
//! so the entity's last few lines still join it), after an idle timeout on log time, or at end of
//! input. Events with no key are cut into windows of the input stream, by count or by log time,
//! fixed or sliding. A cap on open sessions bounds memory: when it is reached, the session that
//! would time out first is closed early and counted as evicted.
//!
//! States are interned as `u32` ids by a [`States`] table shared with the model, so a session
//! holds numbers, not strings.
//!
//! [`step`] turns a normalized event into what its sessions take (state, entity keys, parameter
//! values); [`Sessionizer`] (in `sessionizer.rs`) groups those steps into sessions and windows.

mod lines;
mod sessionizer;
pub mod step;

pub use lines::LineRefs;
use lines::StateIds;
pub use sessionizer::Sessionizer;

use crate::fasthash::HashMap;

use serde::{Deserialize, Serialize};

use crate::record::Timestamp;

/// Interned state names. Ids below the model's vocabulary size are states seen in training;
/// states first seen while scoring get the next ids. Each state also carries whether it is an
/// error: any of its events was logged at error level or worse, or its message template reads
/// as one ([`crate::normalize::severity`]).
#[derive(Debug, Clone, Default)]
pub struct States {
    names: Vec<String>,
    ids: HashMap<String, u32>,
    errors: Vec<bool>,
}

impl States {
    /// A table holding `names` as ids `0..names.len()`.
    pub fn from_names(names: &[String]) -> Self {
        let mut s = States::default();
        for n in names {
            s.intern(n);
        }
        s
    }

    /// A table holding `names` as ids `0..names.len()`, those in `errors` (sorted names) marked
    /// as errors.
    pub fn with_errors(names: &[String], errors: &[String]) -> Self {
        let mut s = States::from_names(names);
        for e in errors {
            if let Some(id) = s.get(e) {
                s.mark_error(id);
            }
        }
        s
    }

    /// Marks a state as an error.
    pub fn mark_error(&mut self, id: u32) {
        if let Some(e) = self.errors.get_mut(id as usize) {
            *e = true;
        }
    }

    /// Whether a state is an error.
    pub fn is_error(&self, id: u32) -> bool {
        self.errors.get(id as usize).copied().unwrap_or(false)
    }

    /// The names of the states marked as errors, sorted.
    pub fn error_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.names.iter().zip(&self.errors).filter(|(_, e)| **e).map(|(n, _)| n.clone()).collect();
        v.sort_unstable();
        v
    }

    /// The id of `name`, interning it if new. Past [`MAX_STATES`] names, every new name gets the
    /// id of [`OVERFLOW`] (named `(more states)`): the table stops growing, and the ids of the
    /// padding states stay apart.
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        if self.names.len() >= MAX_STATES {
            return OVERFLOW;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.errors.push(false);
        self.ids.insert(name.to_owned(), id);
        id
    }

    /// The id of `name`, if known.
    pub fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    /// The name of a state id (`^` and `$` for the padding states).
    pub fn name(&self, id: u32) -> &str {
        match id {
            PAD_START => "^",
            PAD_END => "$",
            OVERFLOW => "(more states)",
            _ => self.names.get(id as usize).map(String::as_str).unwrap_or("?"),
        }
    }

    /// All names, by id.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// How many states are interned.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// At most this many state names are interned; ids from `MAX_STATES` up are reserved.
pub const MAX_STATES: usize = (u32::MAX - 16) as usize;
/// The id every state past [`MAX_STATES`] shares.
pub const OVERFLOW: u32 = u32::MAX - 16;
/// The padding state before a session's first state.
pub const PAD_START: u32 = u32::MAX - 1;
/// The padding state after a session's last state.
pub const PAD_END: u32 = u32::MAX - 2;

/// Where an event came from: input index and 1-based line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LineRef {
    /// Index of the input file in the run.
    pub file: u32,
    /// 1-based line number.
    pub line: u64,
}

/// One event as the sessionizer sees it.
#[derive(Debug, Clone)]
pub struct Step {
    /// The state id.
    pub state: u32,
    /// Log time, if the line has one.
    pub time: Option<Timestamp>,
    /// Where it came from.
    pub line: LineRef,
    /// Parameter values (`field`, `value`) the rules extracted.
    pub params: Vec<(String, String)>,
    /// Whether the event ends its entity.
    pub ends: bool,
    /// Whether the event creates its entity (after an end, it starts a new session).
    pub starts: bool,
}

/// How a session was cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Closed {
    /// Its end event was seen.
    End,
    /// It was idle for longer than the timeout.
    Timeout,
    /// The input ended.
    EndOfInput,
    /// The cap on open sessions was reached and it was the oldest.
    Evicted,
    /// A window of keyless events.
    Window,
    /// A whole session from a sequences file.
    Sequence,
    /// Not a session: a finding about an entity (a source, a user) across sessions.
    Entity,
    /// Still open: `watch` printed it because its evidence already crossed the threshold.
    Open,
}

impl Closed {
    /// The name used in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Closed::End => "end",
            Closed::Timeout => "timeout",
            Closed::EndOfInput => "end_of_input",
            Closed::Evicted => "evicted",
            Closed::Window => "window",
            Closed::Sequence => "sequence",
            Closed::Entity => "entity",
            Closed::Open => "open",
        }
    }
}

/// A closed session: the states of one entity (or one window) in order.
#[derive(Debug, Clone)]
pub struct Session {
    /// The entity key (`blk_-123`, an instance id, `sshd@host:pid`), a window name
    /// (`file#w12`), or the id column of a sequences file.
    pub key: String,
    /// State ids in order.
    pub states: Vec<u32>,
    /// Input lines, one per state (a sequences session has its one line).
    pub lines: LineRefs,
    /// Distinct parameter values, in order of first appearance.
    pub params: Vec<(String, String)>,
    /// For each of `params`, the index (into `states`) of the event it first came with.
    pub param_at: Vec<usize>,
    /// Log time of the first and last event that had one.
    pub start: Option<Timestamp>,
    /// See `start`.
    pub end: Option<Timestamp>,
    /// Events beyond the per-session cap that were counted but not kept.
    pub dropped: u64,
    /// How it was cut.
    pub closed: Closed,
}

impl Session {
    pub(crate) fn new(key: String) -> Self {
        Session {
            key,
            states: Vec::new(),
            lines: LineRefs::new(),
            params: Vec::new(),
            param_at: Vec::new(),
            start: None,
            end: None,
            dropped: 0,
            closed: Closed::EndOfInput,
        }
    }

    /// A session from a sequences line: states already in order.
    pub fn sequence(key: String, states: Vec<u32>, line: LineRef) -> Self {
        Session { key, states, lines: std::iter::once(line).collect(), closed: Closed::Sequence, ..Session::new(String::new()) }
    }
}

/// A session still open: a [`Session`] whose state ids are kept compactly (see [`StateIds`])
/// until it closes, since a run can hold hundreds of long sessions open at once.
#[derive(Debug, Clone)]
pub(crate) struct OpenSession {
    /// Everything but the state ids, which stay empty here.
    session: Session,
    states: StateIds,
}

impl OpenSession {
    pub(crate) fn new(key: String) -> Self {
        OpenSession { session: Session::new(key), states: StateIds::default() }
    }

    /// Adds an event; beyond `cap` events it is only counted.
    pub(crate) fn push(&mut self, step: &Step, cap: usize) {
        let s = &mut self.session;
        if let Some(t) = step.time {
            if s.start.is_none() {
                s.start = Some(t);
            }
            s.end = Some(t);
        }
        if self.states.len() >= cap {
            s.dropped += 1;
            return;
        }
        let at = self.states.len();
        // Near the cap, the buffers grow to what the remaining events can need and no further:
        // doubling would leave a session at its 10,000 events holding room for 16,384.
        let room = cap - at - 1;
        self.states.push(step.state, Some(room));
        s.lines.push(step.line, Some(room));
        for p in &step.params {
            if !s.params.contains(p) && s.params.len() < 64 {
                s.params.push(p.clone());
                s.param_at.push(at);
            }
        }
    }

    /// The session as it stands.
    pub(crate) fn snapshot(&self) -> Session {
        Session { states: self.states.to_vec(), ..self.session.clone() }
    }

    /// The session, for closing.
    pub(crate) fn finish(self) -> Session {
        Session { states: self.states.to_vec(), ..self.session }
    }
}

/// How keyless events are cut into windows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WindowSpec {
    /// Events per window (count windows).
    pub events: usize,
    /// Seconds of log time per window; when set, windows are cut by time instead of count.
    pub seconds: Option<f64>,
    /// How far a window moves (events or seconds); equal to the size for fixed windows, smaller
    /// for sliding ones.
    pub step: Option<f64>,
}

impl Default for WindowSpec {
    fn default() -> Self {
        WindowSpec { events: 20, seconds: None, step: None }
    }
}

/// Sessionizer settings (saved in the model, so scoring cuts sessions as training did).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// Close a session after this many seconds of log time without an event.
    pub idle_timeout: f64,
    /// After an end event, close the session once this many seconds pass without another.
    pub end_grace: f64,
    /// At most this many sessions open at once; beyond it the oldest is closed (evicted).
    pub max_open: usize,
    /// At most this many events kept per session (the rest are counted).
    pub max_events: usize,
    /// Windows for events without an entity key.
    pub window: WindowSpec,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig { idle_timeout: 86_400.0, end_grace: 3600.0, max_open: 100_000, max_events: 10_000, window: WindowSpec::default() }
    }
}

/// Counters a run reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionStats {
    /// Sessions emitted.
    pub sessions: u64,
    /// Of which closed by the cap on open sessions.
    pub evicted: u64,
    /// Of which closed by the idle timeout.
    pub timed_out: u64,
    /// Of which were windows of keyless events.
    pub windows: u64,
    /// Events not kept because a session was over its cap.
    pub dropped_events: u64,
    /// Most sessions open at once.
    pub peak_open: u64,
}

/// Milliseconds since the epoch of a log time (zone-less times read as UTC).
pub fn millis(t: &Timestamp) -> i64 {
    let utc = t.local.and_utc().timestamp_millis();
    utc - i64::from(t.offset_secs.unwrap_or(0)) * 1000
}

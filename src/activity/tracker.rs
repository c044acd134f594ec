//! Following entities while scoring: counts per entity and bucket against the baselines, runs of
//! failures that end in a success, and values new to their context. `score` reports each finding
//! once, with its final numbers, when its bucket is over; `watch` reports it the moment it crosses
//! its limit, and again only when it has doubled.

use std::collections::BTreeSet;

use crate::fasthash::{HashMap, HashSet};

mod cell;
use cell::{CellRef, Cells, Minute};

use super::finding::{bucket_time, clock, context_text, minutes, preposition, span, Finding, Kind};
use super::poisson::{improbable, limit, NOVELTY_LEVEL, RATE_LEVEL};
use super::{contexts, kind_name, Act, Baseline, Rate, ALL, LOGIN_SUCCESS, SHORT_SECS};
use crate::record::Timestamp;
use crate::session::{millis, LineRef};

/// At most this many lines are kept per finding (the rest are counted).
const LINES: usize = 200;

/// One entity's count of one event in its current bucket.
#[derive(Debug, Default)]
struct Open {
    bucket: i64,
    count: u64,
    others: BTreeSet<String>,
    lines: Vec<(LineRef, u32)>,
    dropped: u64,
    start: Option<Timestamp>,
    end: Option<Timestamp>,
    /// The count of the bucket before, when it was the one just before.
    before: u64,
    before_lines: Vec<(LineRef, u32)>,
    before_start: Option<Timestamp>,
    /// What was last reported of this bucket (live): count, breadth, count in a minute.
    reported: (u64, u64, u64),
    /// Log times of the events of the last minute (short scale), carried across buckets.
    recent: Minute,
    /// The most events in one sliding minute of this bucket, and when that minute began and
    /// ended.
    peak: (u64, Option<Timestamp>, Option<Timestamp>),
}

/// Follows the entities of a scoring run; findings collect in [`Tracker::findings`].
pub struct Tracker<'m> {
    base: &'m Baseline,
    live: bool,
    open: Cells,
    reported: HashSet<String>,
    latest: i64,
    /// Counts per bucket of the cells that were a burst once.
    history: HashMap<(String, String, String), Vec<(i64, u64)>>,
    /// The input file being followed.
    file: Option<u32>,
    /// The last bucket of each event the whole log always had (a silence when it skips some).
    last_seen: HashMap<String, i64>,
    /// Findings ready to be written.
    pub findings: Vec<Finding>,
}

impl<'m> Tracker<'m> {
    /// A tracker; `live` reports crossings at once (watch).
    pub fn new(base: &'m Baseline, live: bool) -> Self {
        Tracker {
            base,
            live,
            open: Cells::default(),
            reported: HashSet::default(),
            latest: i64::MIN,
            history: HashMap::default(),
            last_seen: HashMap::default(),
            file: None,
            findings: Vec::new(),
        }
    }

    fn rate(&self, kind: &str, act: &str) -> Rate {
        self.base.rates.get(&(kind.to_owned(), act.to_owned())).copied().unwrap_or_default()
    }

    /// One event. Each input file is followed on its own (its lines are in time order, files
    /// need not be): a new file closes the buckets of the one before.
    pub fn observe(&mut self, act: &Act) {
        if self.file != Some(act.line.file) {
            if self.file.is_some() {
                self.finish();
            }
            self.file = Some(act.line.file);
        }
        let secs = self.base.bucket_secs.max(1);
        if let Some(bucket) = act.bucket(secs) {
            if bucket > self.latest {
                if self.latest != i64::MIN {
                    self.close_before(bucket);
                }
                self.latest = bucket;
            }
            self.count(ALL, ALL, act, bucket);
            for (kind, entity) in &act.entities {
                self.count(kind, entity, act, bucket);
            }
            if let Some(&last) = self.last_seen.get(&act.name) {
                if bucket > last + 1 {
                    self.silence(&act.name, last, bucket, Some(act));
                }
            }
            if bucket >= self.last_seen.get(&act.name).copied().unwrap_or(i64::MIN) && self.quiet(&act.name).is_some() {
                self.last_seen.insert(act.name.clone(), bucket);
            }
            if act.name == LOGIN_SUCCESS {
                if let Some(source) = act.field("source_ip") {
                    self.failures_then_success(source, act, bucket);
                }
            }
        }
        for (spec, context, value) in contexts(act) {
            self.in_context(spec, &context, &value, act);
        }
    }

    /// Moves a cell on to `bucket`: its findings (score) are over, its count becomes the one of
    /// the bucket before when that is the one just before. Cells with nothing left go.
    fn roll(&mut self, key: &(String, String, String), bucket: i64) {
        let Some(old) = self.open.remove(key) else { return };
        if old.count > 0 {
            self.close(key, &old);
            let secs = self.base.bucket_secs.max(1) as i64;
            if let Some(h) = self.history.get_mut(key) {
                if h.last().is_none_or(|l| l.0 < old.bucket * secs) {
                    h.push((old.bucket * secs, old.count));
                }
            }
        }
        if old.bucket + 1 == bucket && old.count > 0 {
            let cell =
                Open { bucket, before: old.count, before_lines: old.lines, before_start: old.start, recent: old.recent, ..Open::default() };
            self.open.insert(key.clone(), cell);
        }
    }

    fn count(&mut self, kind: &str, entity: &str, act: &Act, bucket: i64) {
        // Looked up by reference: the key's three strings are copied only for a new cell.
        let probe = CellRef(kind, entity, &act.name);
        // A later bucket starts; so does an earlier one when the log's time went back by more
        // than a bucket (files merged out of order, a clock reset): its events are not added to
        // a bucket they are not in. A late event of the bucket just before counts in this one.
        if self.open.get(&probe).is_some_and(|c| c.bucket < bucket || c.bucket > bucket + 1) {
            self.roll(&probe.owned(), bucket);
        }
        let (_, cell) = self.open.raw_entry_mut().from_key(&probe).or_insert_with(|| (probe.owned(), Open { bucket, ..Open::default() }));
        cell.count += 1;
        if let Some(o) = act.other(kind) {
            if !cell.others.contains(o) {
                cell.others.insert(o.to_owned());
            }
        }
        if cell.lines.len() < LINES {
            cell.lines.push((act.line, act.state));
        } else {
            cell.dropped += 1;
        }
        cell.start = cell.start.or(act.time);
        cell.end = act.time.or(cell.end);
        // The short scale: events in the sliding minute that ends with this one.
        if let (true, Some(t)) = (kind != ALL, act.time) {
            let now = millis(&t);
            // Time went back by more than a minute: the minute ending here starts afresh (the
            // latest events kept are more than a minute after this one, not in its minute). Time
            // going back less joins the window in its place (`Minute::push`).
            if cell.recent.last_millis().is_some_and(|m| m > now + SHORT_SECS * 1000) {
                cell.recent.clear();
            }
            cell.recent.push(now, t);
            cell.recent.drop_until(now - SHORT_SECS * 1000);
            let n = cell.recent.len();
            if n > cell.peak.0 {
                cell.peak = (n, cell.recent.first(), Some(t));
            }
        }
        if self.live {
            let (count, breadth, minute) = (cell.count, cell.others.len() as u64, cell.peak.0);
            let (rc, rb, rm) = cell.reported;
            let rate = self.rate(kind, &act.name);
            let burst = (rc == 0 || count >= 2 * rc) && improbable(count, rate.busiest).is_some();
            let wide = (rb == 0 || breadth >= 2 * rb) && improbable(breadth, rate.breadth).is_some();
            let quick = (rm == 0 || minute >= 2 * rm) && rate.short.is_some_and(|s| improbable(minute, s).is_some());
            if burst || wide || quick {
                let key = probe.owned();
                let cell = self.open.remove(&key).unwrap_or_default();
                let found = self.judge(&key, &cell);
                self.open.insert(key.clone(), cell);
                let burst = found.iter().any(|f| f.kind == Kind::Burst);
                let wide = found.iter().any(|f| f.kind == Kind::Breadth);
                if let Some(cell) = self.open.get_mut(&key) {
                    cell.reported = (if burst { count } else { rc }, if wide { breadth } else { rb }, if burst { minute } else { rm });
                }
                self.findings.extend(found);
            }
        }
    }

    /// The findings of a cell: a burst, a breadth, or both.
    fn judge(&mut self, key: &(String, String, String), cell: &Open) -> Vec<Finding> {
        let (kind, entity, act) = key;
        let rate = self.rate(kind, act);
        let secs_i = self.base.bucket_secs.max(1) as i64;
        // The whole log's burst is news only when no one source explains it: what the others
        // did must be improbable on its own.
        let largest = if kind == ALL { self.largest_source(act, cell.bucket) } else { 0 };
        let bucket = improbable(cell.count - largest.min(cell.count), rate.busiest);
        // Over the busiest minute while the bucket is not (yet) over its busiest: a fast burst.
        let quick = match (bucket, rate.short) {
            (None, Some(short)) => improbable(cell.peak.0, short).map(|p| (p, short)),
            _ => None,
        };
        let burst = bucket.or(quick.map(|q| q.0));
        let series = if burst.is_some() {
            let h = self.history.entry(key.clone()).or_default();
            let at = cell.bucket * secs_i;
            match h.last_mut() {
                Some(last) if last.0 == at => last.1 = cell.count,
                _ => h.push((at, cell.count)),
            }
            h.clone()
        } else {
            Vec::new()
        };
        let secs = self.base.bucket_secs;
        // Written out only for a finding: most cells judged have none.
        let when = || bucket_time(cell.bucket, secs);
        let mut out = Vec::new();
        let finding = |kind_: Kind, p: f64, text: String, key: String| Finding {
            count: cell.count,
            breadth: cell.others.len() as u64,
            lines: cell.lines.clone(),
            dropped: cell.dropped,
            start: cell.start,
            end: cell.end,
            ..Finding::new(key, kind_, p, RATE_LEVEL, text, act.clone(), kind.clone(), entity.clone())
        };
        if let Some(p) = burst {
            let of_any = format!("{} any {}", if kind == "user" { "for" } else { "from" }, kind_name(kind));
            let clean = if rate.busiest == 0 {
                format!("none {of_any}")
            } else {
                format!("at most {} per {} {of_any}", rate.busiest, minutes(secs))
            };
            let text = if let Some((_, short)) = quick {
                let clean = if short == 0 { format!("none {of_any}") } else { format!("at most {short} in any minute {of_any}") };
                let more = if cell.count > cell.peak.0 {
                    format!("; {} in {} by {}", cell.count, minutes(secs), clock(cell.end))
                } else {
                    String::new()
                };
                format!(
                    "{act} {} {entity}: {} within a minute ({}–{}{more}); clean period: {clean}",
                    preposition(kind),
                    cell.peak.0,
                    clock(cell.peak.1),
                    clock(cell.peak.2),
                )
            } else if kind == ALL {
                format!(
                    "{act} in the whole log: {} in {} ({}–{}; at most {largest} from one source); clean period: at most {} per {}",
                    cell.count,
                    minutes(secs),
                    clock(cell.start),
                    clock(cell.end),
                    rate.busiest,
                    minutes(secs)
                )
            } else {
                format!(
                    "{act} {} {entity}: {} in {} ({}–{}); clean period: {clean}",
                    preposition(kind),
                    cell.count,
                    minutes(secs),
                    clock(cell.start),
                    clock(cell.end),
                )
            };
            let mut f = finding(Kind::Burst, p, text, format!("{kind}={entity} {act} {}", when()));
            f.band = Some((rate.busiest, limit(rate.busiest)));
            f.series = series;
            out.push(f);
        }
        let breadth = cell.others.len() as u64;
        if let Some(p) = improbable(breadth, rate.breadth) {
            let what = if kind == "user" { "sources" } else { "users" };
            let sample: Vec<&str> = cell.others.iter().take(5).map(String::as_str).collect();
            let (one, many) = if kind == "user" { ("source", "sources") } else { ("user", "users") };
            let text = format!(
                "{} {entity}: {act} with {breadth} {what} in {} ({}{}); clean period: at most {} {} per {} and {}",
                kind_name(kind),
                minutes(secs),
                sample.join(", "),
                if breadth > 5 { ", ..." } else { "" },
                rate.breadth,
                if rate.breadth == 1 { one } else { many },
                kind_name(kind),
                minutes(secs),
            );
            out.push(finding(Kind::Breadth, p, text, format!("{kind}={entity} {act} {what} {}", when())));
        }
        out
    }

    fn close(&mut self, key: &(String, String, String), cell: &Open) {
        if self.live {
            // Reported as it crossed; once more if it grew since.
            let (rc, rb, rm) = cell.reported;
            if (rc, rb, rm) != (0, 0, 0) && (cell.count > rc || cell.others.len() as u64 > rb) {
                let found = self.judge(key, cell);
                self.findings.extend(found);
            }
        } else {
            let found = self.judge(key, cell);
            self.findings.extend(found);
        }
    }

    /// Moves every cell of a bucket before `bucket` on to it.
    fn close_before(&mut self, bucket: i64) {
        let mut old: Vec<(i64, (String, String, String))> =
            self.open.iter().filter(|(_, c)| c.bucket < bucket).map(|(k, c)| (c.bucket, k.clone())).collect();
        old.sort();
        for (_, k) in old {
            self.roll(&k, bucket);
        }
    }

    fn failures_then_success(&mut self, source: &str, act: &Act, bucket: i64) {
        let Some(cell) = self.open.get(&CellRef("source_ip", source, "authentication.login.failure")) else { return };
        if cell.bucket != bucket {
            return;
        }
        let mut lines = cell.before_lines.clone();
        lines.extend(cell.lines.iter().copied());
        let (failures, start) = (cell.count + cell.before, cell.before_start.or(cell.start));
        let rate = self.rate("source_ip", "authentication.login.failure");
        let Some(p) = improbable(failures, rate.busiest) else { return };
        let id = format!("source_ip={source} failures-then-success {}", bucket_time(bucket, self.base.bucket_secs));
        if !self.reported.insert(id.clone()) {
            return;
        }
        let user = act.field("user").unwrap_or("-");
        lines.truncate(LINES - 1);
        lines.push((act.line, act.state));
        let text = format!(
            "brute force from {source}: {failures} login failures in {}, then a success as {user} at {}; clean period: {}",
            span(start, act.time),
            clock(act.time),
            if rate.busiest == 0 {
                "no login failures from any source".to_owned()
            } else {
                format!("at most {} login failures per {} from any source", rate.busiest, minutes(self.base.bucket_secs))
            }
        );
        self.findings.push(Finding {
            count: failures,
            lines,
            start,
            end: act.time,
            ..Finding::new(id, Kind::FailuresThenSuccess, p, RATE_LEVEL, text, LOGIN_SUCCESS.into(), "source_ip".into(), source.into())
        });
    }

    fn in_context(&mut self, spec: &str, context: &str, value: &str, act: &Act) {
        let Some(c) = self.base.contexts.get(&(spec.to_owned(), context.to_owned())) else { return };
        if c.values.contains_key(value) {
            return;
        }
        let p = c.new_value_chance();
        if p >= NOVELTY_LEVEL {
            return;
        }
        let id = if context.is_empty() { format!("{spec}={value}") } else { format!("{spec} {context}={value}") };
        if !self.reported.insert(id.clone()) {
            return;
        }
        let text = context_text(spec, context, value, c);
        self.findings.push(Finding {
            count: 1,
            lines: vec![(act.line, act.state)],
            start: act.time,
            end: act.time,
            ..Finding::new(id, Kind::NewInContext, p, NOVELTY_LEVEL, text, act.name.clone(), format!("{spec}/{context}"), value.to_owned())
        });
    }

    /// The most events of `act` one source had in `bucket`, among the cells still followed.
    fn largest_source(&self, act: &str, bucket: i64) -> u64 {
        self.open
            .iter()
            .filter(|((k, _, a), _)| k == "source_ip" && a == act)
            .map(|(_, c)| match c.bucket {
                b if b == bucket => c.count,
                b if b == bucket + 1 => c.before,
                _ => 0,
            })
            .max()
            .unwrap_or(0)
    }

    /// The quietest count of an event the whole log always had, when a bucket without it is
    /// improbable (P(0) = e^-quietest below the level).
    fn quiet(&self, act: &str) -> Option<u64> {
        let q = self.rate(ALL, act).quietest;
        ((-(q as f64)).exp() < RATE_LEVEL).then_some(q)
    }

    /// A finding for the buckets strictly between `last` and `next` without `act`.
    fn silence(&mut self, act: &str, last: i64, next: i64, resumed: Option<&Act>) {
        let Some(quietest) = self.quiet(act) else { return };
        let secs = self.base.bucket_secs.max(1);
        let gap = (next - last - 1) as u64;
        let p = (-(quietest as f64) * gap as f64).exp();
        let from = Timestamp::from_unix((last + 1) * secs as i64, 0);
        let to = Timestamp::from_unix(next * secs as i64, 0);
        let text = format!(
            "{act} stopped: none in {} ({}–{}) while the log went on; clean period: at least {quietest} in every {}",
            minutes(gap * secs),
            from.map(|t| t.local.format("%m-%d %H:%M").to_string()).unwrap_or_default(),
            to.map(|t| t.local.format("%H:%M").to_string()).unwrap_or_default(),
            minutes(secs),
        );
        let key = format!("{ALL}={ALL} {act} silence {}", bucket_time(last + 1, secs));
        self.findings.push(Finding {
            lines: resumed.map(|a| vec![(a.line, a.state)]).unwrap_or_default(),
            start: from,
            end: to,
            ..Finding::new(key, Kind::Silence, p, RATE_LEVEL, text, act.to_owned(), ALL.into(), ALL.into())
        });
    }

    /// End of input: the open buckets' findings.
    pub fn finish(&mut self) {
        // Events the whole log always had and that stopped while other events went on, up to
        // the last bucket (which may be cut short by the end of the input).
        let mut stopped: Vec<(String, i64)> =
            self.last_seen.iter().filter(|(_, b)| self.latest > *b + 1).map(|(a, b)| (a.clone(), *b)).collect();
        stopped.sort();
        for (act, last) in stopped {
            self.silence(&act, last, self.latest, None);
        }
        self.last_seen.clear();
        self.latest = i64::MIN;
        let mut keys: Vec<_> = self.open.iter().filter(|(_, c)| c.count > 0).map(|(k, c)| (c.bucket, k.clone())).collect();
        keys.sort();
        for (_, k) in keys {
            if let Some(cell) = self.open.remove(&k) {
                self.close(&k, &cell);
            }
        }
        self.open.clear();
    }
}

#[cfg(test)]
mod tests;

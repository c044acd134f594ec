//! `logsieve watch`: continuous scoring. A reader thread follows a growing file (or reads stdin)
//! and hands lines over a bounded channel; the main thread parses, normalizes and sessionizes
//! them as `score` does and prints JSON lines with the fields of `scores.jsonl`:
//! - an entity finding (a burst of failures from one source, a spraying source, a first sudo by
//!   a user) the moment it crosses its limit, and again only when it has doubled;
//! - an open session the moment its evidence crosses the threshold (`closed: "open"`), and again
//!   when it closes only if it took more events since;
//! - every other session when it closes or times out, if anomalous.
//!
//! While the input is quiet, log time is taken to advance with the wall clock from the last
//! event's time, so an ended or idle session is reported without waiting for the next line.
//! Memory is bounded by the channel, the cap on open sessions and the miner's cap. SIGINT or
//! SIGTERM (or the end of stdin) closes the open sessions, scores them and prints a summary.

use std::collections::{BTreeSet, HashMap};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::feed::Scoring;
use super::{year_anchor, Outcome};
use crate::activity::tracker::Tracker;
use crate::cli::WatchArgs;
use crate::error::{Error, Result};
use crate::model::{Scorer, Verdict};
use crate::normalize::Origin;
use crate::output::ScoreRow;
use crate::parse::multiline::{Joiner, Pending};
use crate::parse::{Format, LineParser};
use crate::read::follow::{follow, read_stdin, Msg};
use crate::read::InputStats;
use crate::session::step::{Stepped, Stepper};
use crate::session::{millis, Closed, LineRef, Session, Sessionizer, States};

/// Lines in flight between the reader thread and the scorer.
const CHANNEL: usize = 4096;

/// `logsieve watch`.
pub fn watch(args: &WatchArgs) -> Result<Outcome> {
    super::read_by_lines(&args.format)?;
    let Scoring { model, config, key, normalizer } = Scoring::load(&args.model, &args.session, args.rules.as_deref(), args.quiet)?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).map_err(|e| Error::Usage(format!("watch: cannot handle signals: {e}")))?;
    }
    let poll = Duration::from_millis(args.poll_ms.clamp(10, 60_000));
    let (tx, rx) = sync_channel(CHANNEL);
    let name = match args.input.as_deref() {
        None | Some("-") => {
            std::thread::spawn(move || read_stdin(tx));
            "-".to_owned()
        }
        Some(path) => {
            let (p, from_end, stop) = (PathBuf::from(path), args.from_end, Arc::clone(&stop));
            std::thread::spawn(move || follow(p, from_end, poll, tx, stop));
            path.to_owned()
        }
    };
    let mut states = States::with_errors(&model.states, &model.errors);
    let matrix = model.vectors.neighbour_matrix();
    let scorer = Scorer::new(&model, &matrix);
    let mut run = Watcher {
        parser: LineParser::new(&args.format, year_anchor(args.year, None)),
        joiner: Joiner::new(matches!(args.format, Format::Auto)),
        stats: InputStats::new(&name),
        normalizer,
        stepper: Stepper::new(key.as_ref(), &model.options.params).with_templates(&model.templates).with_entities(&model.options.entities),
        tracker: Tracker::new(&model.entities, true),
        reported: HashMap::new(),
        findings: 0,
        sessionizer: Sessionizer::new(config),
        files: vec![name.clone()],
        closed: Vec::new(),
        touched: BTreeSet::new(),
        out: io::stdout(),
        all: args.all,
        threshold: model.calibration.threshold,
        scored: 0,
        anomalous: 0,
        number: 0,
        last_log_ms: None,
        last_input: Instant::now(),
    };
    let result = run.pump(&rx, &stop, &scorer, &mut states, poll);
    // Whatever ended the run, the sessions still open are scored and printed.
    let finished = run.finish(&scorer, &mut states);
    result.and(finished)?;
    if !args.quiet {
        let s = run.sessionizer.stats();
        eprintln!(
            "logsieve: watch {}: {} lines read, {} parsed, {} skipped; {} sessions scored ({} timed out, {} evicted), {} anomalous; {} findings about sources and users",
            crate::error::printable(&name),
            run.stats.read,
            run.stats.parsed,
            run.stats.skipped_total(),
            run.scored,
            s.timed_out,
            s.evicted,
            run.anomalous,
            run.findings
        );
    }
    Ok(Outcome::Ok)
}

/// The scoring side of `watch`.
struct Watcher<'a> {
    tracker: Tracker<'a>,
    /// Open sessions already printed, with how many events they had then.
    reported: HashMap<String, usize>,
    findings: u64,
    parser: LineParser,
    joiner: Joiner,
    stats: InputStats,
    /// The model's template miner goes on learning here.
    normalizer: crate::normalize::Normalizer,
    stepper: Stepper<'a>,
    sessionizer: Sessionizer,
    files: Vec<String>,
    closed: Vec<Session>,
    /// Keys of open sessions that took an event since the last emit.
    touched: BTreeSet<String>,
    out: io::Stdout,
    all: bool,
    threshold: f64,
    scored: u64,
    anomalous: u64,
    /// Lines read since the input was last (re)opened.
    number: u64,
    last_log_ms: Option<i64>,
    last_input: Instant,
}

impl Watcher<'_> {
    /// Takes lines until the input ends, reading fails or a signal arrives.
    fn pump(&mut self, rx: &Receiver<Msg>, stop: &AtomicBool, scorer: &Scorer<'_>, states: &mut States, poll: Duration) -> Result<()> {
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            match rx.recv_timeout(poll) {
                Ok(Msg::Line(text)) => {
                    self.last_input = Instant::now();
                    self.number += 1;
                    self.stats.read += 1;
                    match self.parser.parse(&text, self.number) {
                        Ok(rec) => {
                            let (done, joined) = self.joiner.push(rec, &text, self.number);
                            if joined {
                                self.stats.continuation();
                            }
                            if let Some(p) = done {
                                self.record(p, states);
                            }
                        }
                        Err(skip) => self.stats.skip(skip),
                    }
                    self.emit(scorer, states)?;
                }
                Ok(Msg::Skipped(n)) => {
                    self.number = n;
                }
                Ok(Msg::Reopened(why)) => {
                    eprintln!("logsieve: watch: {} was {why}; reading it from the top", crate::error::printable(&self.files[0]));
                    self.number = 0;
                }
                Ok(Msg::Eof) | Err(RecvTimeoutError::Disconnected) => return Ok(()),
                Ok(Msg::Failed(e)) => {
                    self.stats.error = Some(e.to_string());
                    return Err(e);
                }
                Err(RecvTimeoutError::Timeout) => {
                    // Quiet input: the last record can have no more continuation lines coming,
                    // and log time moves on with the clock.
                    if let Some(p) = self.joiner.finish() {
                        self.record(p, states);
                    }
                    if let Some(t) = self.last_log_ms {
                        let now = t.saturating_add(self.last_input.elapsed().as_millis() as i64);
                        let closed = &mut self.closed;
                        self.sessionizer.advance(now, &mut |s| closed.push(s));
                    }
                    self.emit(scorer, states)?;
                }
            }
        }
    }

    /// One parsed record into the sessions.
    fn record(&mut self, p: Pending, states: &mut States) {
        self.stats.record(&p.record);
        let origin = Origin { file: &self.files[0], line: p.line, original: &p.original };
        let line = LineRef { file: 0, line: p.line };
        if let Some(t) = p.record.timestamp.as_ref() {
            self.last_log_ms = Some(millis(t));
        }
        match self.stepper.step(&mut self.normalizer, &p.record, &origin, line, states) {
            Stepped::Sequence(s) => self.closed.push(s),
            Stepped::Step(step) => {
                if let Some(act) = &self.stepper.act {
                    self.tracker.observe(act);
                }
                let closed = &mut self.closed;
                self.sessionizer.push(&self.stepper.keys, &self.files[0], step, &mut |s| closed.push(s));
                self.touched.extend(self.stepper.keys.iter().cloned());
            }
            Stepped::Unkeyed => {}
        }
    }

    /// Prints the entity findings, the open sessions that became anomalous, and the closed
    /// sessions (anomalous ones; all with `--all`; one printed while open only if it grew).
    fn emit(&mut self, scorer: &Scorer<'_>, states: &States) -> Result<()> {
        let findings = std::mem::take(&mut self.tracker.findings);
        let touched = std::mem::take(&mut self.touched);
        if self.closed.is_empty() && findings.is_empty() && touched.is_empty() {
            return Ok(());
        }
        let mut out = self.out.lock();
        let mut print = |s: &Session, v: &Verdict| -> Result<()> {
            let r = ScoreRow::new(s, v, self.threshold, states, &self.files, false);
            serde_json::to_writer(&mut out, &r).map_err(|e| Error::Stdout(e.into()))?;
            out.write_all(b"\n").map_err(Error::Stdout)
        };
        for f in findings {
            let (s, v) = f.into_row(self.threshold);
            self.findings += 1;
            print(&s, &v)?;
        }
        // An open session whose evidence already crosses the threshold is reported now.
        for key in touched {
            if self.reported.contains_key(&key) {
                continue;
            }
            let Some(mut open) = self.sessionizer.open_session(&key) else { continue };
            let v = scorer.score(&open.states, &open.params, states);
            if v.anomalous {
                self.reported.insert(key, open.states.len());
                open.closed = Closed::Open;
                print(&open, &v)?;
            }
        }
        for s in self.closed.drain(..) {
            let v = scorer.score(&s.states, &s.params, states);
            self.scored += 1;
            self.anomalous += u64::from(v.anomalous);
            let shown = self.reported.remove(&s.key);
            let grew = shown.is_none_or(|n| s.states.len() > n);
            if (v.anomalous && grew) || self.all {
                print(&s, &v)?;
            }
        }
        out.flush().map_err(Error::Stdout)
    }

    /// End of the run: the pending record and every open session.
    fn finish(&mut self, scorer: &Scorer<'_>, states: &mut States) -> Result<()> {
        if let Some(p) = self.joiner.finish() {
            self.record(p, states);
        }
        let closed = &mut self.closed;
        self.sessionizer.finish(&mut |s| closed.push(s));
        self.tracker.finish();
        self.emit(scorer, states)
    }
}

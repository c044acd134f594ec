//! `logsieve watch`: continuous scoring. A reader thread follows a growing file (or reads stdin)
//! and hands lines over a bounded channel; the main thread parses, normalizes and sessionizes
//! them as `score` does, scores each session as it closes or times out, and prints anomalous
//! ones at once as JSON lines with the fields of `scores.jsonl`.
//!
//! While the input is quiet, log time is taken to advance with the wall clock from the last
//! event's time, so an ended or idle session is reported without waiting for the next line.
//! Memory is bounded by the channel, the cap on open sessions and the miner's cap. SIGINT or
//! SIGTERM (or the end of stdin) closes the open sessions, scores them and prints a summary.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::learn::{Scoring, Stepped, Stepper};
use super::{year_anchor, Outcome};
use crate::cli::WatchArgs;
use crate::error::{Error, Result};
use crate::model::Scorer;
use crate::normalize::Origin;
use crate::output::row;
use crate::parse::multiline::{Joiner, Pending};
use crate::parse::{Format, LineParser};
use crate::read::InputStats;
use crate::session::{millis, LineRef, Session, Sessionizer, States};

/// Lines in flight between the reader thread and the scorer.
const CHANNEL: usize = 4096;
/// A line longer than this is handed on in pieces (each counted as a line).
const MAX_LINE: usize = 1 << 20;

/// What the reader thread sends.
enum Msg {
    /// One line, without its line ending.
    Line(String),
    /// A followed file was truncated or replaced (rotation): reading starts again at its top.
    Reopened(&'static str),
    /// `--from-end`: this many lines were already in the file, so line numbers continue from it.
    Skipped(u64),
    /// The end of stdin.
    Eof,
    /// Reading failed.
    Failed(Error),
}

/// Follows `path`: reads to the end, then polls for more; starts over when the file is truncated
/// or replaced by a new one (rotation), after reading what the old one still held.
fn follow(path: PathBuf, from_end: bool, poll: Duration, tx: SyncSender<Msg>, stop: Arc<AtomicBool>) {
    let name = path.display().to_string();
    let open = || -> std::result::Result<(BufReader<File>, u64), Error> {
        let meta = std::fs::metadata(&path).map_err(|source| Error::Open { path: name.clone(), source })?;
        if meta.is_dir() {
            return Err(Error::IsDirectory { path: name.clone() });
        }
        let f = File::open(&path).map_err(|source| Error::Open { path: name.clone(), source })?;
        Ok((BufReader::with_capacity(256 * 1024, f), identity(&meta)))
    };
    let (mut reader, mut id) = match open() {
        Ok(r) => r,
        Err(e) => {
            let _ = tx.send(Msg::Failed(e));
            return;
        }
    };
    if from_end {
        // Count the lines already there, so the new ones keep their line numbers in the file.
        let mut lines = 0u64;
        loop {
            let chunk = match reader.fill_buf() {
                Ok([]) => break,
                Ok(c) => c,
                Err(source) => {
                    let _ = tx.send(Msg::Failed(Error::Read { path: name.clone(), line: lines + 1, source }));
                    return;
                }
            };
            lines += memchr::memchr_iter(b'\n', chunk).count() as u64;
            let n = chunk.len();
            reader.consume(n);
        }
        if tx.send(Msg::Skipped(lines)).is_err() {
            return;
        }
    }
    let mut pos = reader.stream_position().unwrap_or(0);
    let mut buf: Vec<u8> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let before = buf.len();
        let got = match (&mut reader).take((MAX_LINE - before.min(MAX_LINE)) as u64 + 1).read_until(b'\n', &mut buf) {
            Ok(n) => n,
            Err(source) => {
                let _ = tx.send(Msg::Failed(Error::Read { path: name.clone(), line: 0, source }));
                return;
            }
        };
        pos += got as u64;
        if buf.ends_with(b"\n") || buf.len() > MAX_LINE {
            if buf.ends_with(b"\n") {
                buf.pop();
                if buf.ends_with(b"\r") {
                    buf.pop();
                }
            }
            let line = String::from_utf8_lossy(&buf).into_owned();
            buf.clear();
            if tx.send(Msg::Line(line)).is_err() {
                return;
            }
            continue;
        }
        if got > 0 {
            // Part of a line that is still being written: wait for its end.
            continue;
        }
        std::thread::sleep(poll);
        let Ok(meta) = std::fs::metadata(&path) else { continue };
        let replaced = identity(&meta) != id;
        if replaced || meta.len() < pos {
            // Rotated (a new file under the name) or truncated: the old file has been read to its
            // end above; start at the top of the current one.
            if let Ok((r, i)) = open() {
                reader = r;
                id = i;
                pos = 0;
                buf.clear();
                if tx.send(Msg::Reopened(if replaced { "replaced (rotated)" } else { "truncated" })).is_err() {
                    return;
                }
            }
        }
    }
}

/// What tells a file from the one that replaces it under the same name.
#[cfg(unix)]
fn identity(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.ino() ^ meta.dev().rotate_left(32)
}

#[cfg(not(unix))]
fn identity(meta: &std::fs::Metadata) -> u64 {
    meta.created().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos() as u64)
}

/// Reads stdin to its end.
fn read_stdin(tx: SyncSender<Msg>) {
    let src = match crate::read::open(&crate::read::Input::Stdin) {
        Ok(s) => s,
        Err(e) => {
            let _ = tx.send(Msg::Failed(e));
            return;
        }
    };
    let mut lines = src.lines;
    loop {
        match lines.next_line() {
            Ok(Some(l)) => {
                if tx.send(Msg::Line(l.text.into_owned())).is_err() {
                    return;
                }
            }
            Ok(None) => break,
            Err(source) => {
                let _ = tx.send(Msg::Failed(Error::Read { path: "-".into(), line: lines.line_number() + 1, source }));
                return;
            }
        }
    }
    let _ = tx.send(Msg::Eof);
}

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
    let mut states = States::from_names(&model.states);
    let matrix = model.vectors.neighbour_matrix();
    let scorer = Scorer::new(&model, &matrix);
    let mut run = Watcher {
        parser: LineParser::new(&args.format, year_anchor(args.year, None)),
        joiner: Joiner::new(matches!(args.format, Format::Auto)),
        stats: InputStats::new(&name),
        stepper: Stepper::new(normalizer, key.as_ref(), &model.options.params),
        sessionizer: Sessionizer::new(config),
        files: vec![name.clone()],
        closed: Vec::new(),
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
            "logsieve: watch {}: {} lines read, {} parsed, {} skipped; {} sessions scored ({} timed out, {} evicted), {} anomalous",
            crate::error::printable(&name),
            run.stats.read,
            run.stats.parsed,
            run.stats.skipped_total(),
            run.scored,
            s.timed_out,
            s.evicted,
            run.anomalous
        );
    }
    Ok(Outcome::Ok)
}

/// The scoring side of `watch`.
struct Watcher<'a> {
    parser: LineParser,
    joiner: Joiner,
    stats: InputStats,
    stepper: Stepper<'a>,
    sessionizer: Sessionizer,
    files: Vec<String>,
    closed: Vec<Session>,
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
        match self.stepper.step(&p.record, &origin, line, states) {
            Stepped::Sequence(s) => self.closed.push(s),
            Stepped::Step(step) => {
                let closed = &mut self.closed;
                self.sessionizer.push(&self.stepper.keys, &self.files[0], step, &mut |s| closed.push(s));
            }
            Stepped::Unkeyed => {}
        }
    }

    /// Scores the closed sessions and prints the anomalous ones (all with `--all`).
    fn emit(&mut self, scorer: &Scorer<'_>, states: &States) -> Result<()> {
        if self.closed.is_empty() {
            return Ok(());
        }
        let mut out = self.out.lock();
        for s in self.closed.drain(..) {
            let v = scorer.score(&s.states, &s.params, states);
            self.scored += 1;
            self.anomalous += u64::from(v.anomalous);
            if v.anomalous || self.all {
                let r = row(&s, &v, self.threshold, states, &self.files, false);
                serde_json::to_writer(&mut out, &r).map_err(|e| Error::Stdout(e.into()))?;
                out.write_all(b"\n").map_err(Error::Stdout)?;
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
        self.emit(scorer, states)
    }
}

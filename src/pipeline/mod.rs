//! Wiring of the stages for each command; no stage logic lives here.

/// `println!` that hands a closed or failing stdout back as [`Error::Stdout`] (a closed pipe ends
/// the run quietly) instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*).map_err($crate::error::Error::Stdout)?
    }};
}

mod allow;
mod demo;
mod eval;
mod feed;
mod model_info;
mod normalize;
mod rules;
mod score;
mod templates;
mod train;
mod watch;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use chrono::{Datelike, Utc};

use crate::cli::{Cli, Command, InputArgs, ModelArgs, ModelCommand, RulesArgs, RulesCommand};
use crate::error::{Error, Result};
use crate::normalize::{Event, Normalizer, Origin};
use crate::parse::multiline::{Joiner, Pending};
use crate::parse::{Format, LineParser, YearAnchor};
use crate::read::{self, InputStats, Progress, RunStats};
use crate::record::Record;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything was read.
    Ok,
    /// Anomalies were found and `--fail-on-anomaly` was given (exit 1).
    Anomalies,
    /// Some input could not be read (exit 2); the rest was processed.
    InputError,
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Ok => ExitCode::SUCCESS,
            Outcome::Anomalies => ExitCode::from(1),
            Outcome::InputError => ExitCode::from(2),
        }
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<Outcome> {
    match cli.command {
        Command::Normalize(args) => normalize::normalize(&args),
        Command::Templates(args) => templates::templates(&args.input),
        Command::Rules(RulesArgs { command: RulesCommand::Test { dir } }) => rules::rules_test(dir.as_deref()),
        Command::Rules(RulesArgs { command: RulesCommand::List { dir } }) => rules::rules_list(dir.as_deref()),
        Command::Train(args) => train::train(&args),
        Command::Merge(args) => train::merge(&args),
        Command::Score(args) => score::score(&args),
        Command::Eval(args) => eval::evaluate(&args),
        Command::Model(ModelArgs { command: ModelCommand::Info { path, json } }) => model_info::model_info(&path, json),
        Command::Allow(args) => allow::allow(&args),
        Command::Report(args) => {
            let path = crate::report::rebuild(&args.dir, args.model.as_deref(), args.output.as_deref())?;
            outln!("{}", path.display());
            Ok(Outcome::Ok)
        }
        Command::Watch(args) => watch::watch(&args),
        Command::Demo(args) => demo::demo(&args),
    }
}

/// The year anchor for an input: `--year`, else its modification time, else now.
fn year_anchor(year: Option<i32>, modified: Option<std::time::SystemTime>) -> YearAnchor {
    match year {
        Some(y) => YearAnchor::Given(y),
        None => {
            let when: chrono::DateTime<Utc> = modified.map(Into::into).unwrap_or_else(Utc::now);
            YearAnchor::LastWritten { year: when.year(), month: when.month() }
        }
    }
}

/// Reads every input, parses each line and hands each record to `sink`, multi-line records
/// joined (`--format auto`). Input errors are reported on stderr and counted, and reading goes on
/// with the next input; an error from `sink` (the output) stops the run.
pub fn for_each_record<F>(args: &InputArgs, mut sink: F) -> Result<RunStats>
where
    F: FnMut(&Record, &Origin<'_>) -> Result<()>,
{
    read_records(args, |p, file| sink(&p.record, &Origin { file, line: p.line, original: &p.original }))
}

/// Records per batch handed from one stage of [`for_each_event`] to the next.
const BATCH: usize = 512;

/// Batches waiting between two stages of [`for_each_event`], at most.
const DEPTH: usize = 2;

/// One record read and parsed on the reading thread, classified on the classifying one (and named
/// on the naming one).
struct Classified {
    pending: Pending,
    file: Arc<str>,
    event: Event,
}

/// [`for_each_record`] with each record normalized by `normalizer` ([`Normalizer::normalize`]),
/// on four threads joined by bounded channels of batches: one reads and parses (the parser's year
/// depends on the order of lines), one classifies (the rule and generic layers keep no state
/// between records, so they run on a normalizer of their own), one names (the template miner and
/// the entities of processes, which depend on order: `normalizer`'s), and the caller's runs
/// `sink`, which holds what else depends on order (sessions, output). Records reach `sink` in
/// input order, so the output is the same as on one thread. An error from `sink` stops the others
/// at their next batch. Gives `normalizer` back, having learned from the inputs.
pub fn for_each_event<F>(args: &InputArgs, mut normalizer: Normalizer, mut sink: F) -> Result<(RunStats, Normalizer)>
where
    F: FnMut(&Record, Event, &Origin<'_>) -> Result<()>,
{
    if matches!(args.format, Format::Events) {
        let run = for_each_stored_event(args, |rec, mut event, origin| {
            normalizer.name(&mut event, rec);
            sink(rec, event, origin)
        })?;
        return Ok((run, normalizer));
    }
    let rules = normalizer.rules();
    let (read_tx, read_rx) = std::sync::mpsc::sync_channel::<Vec<(Pending, Arc<str>)>>(DEPTH);
    let (class_tx, class_rx) = std::sync::mpsc::sync_channel::<Vec<Classified>>(DEPTH);
    let (name_tx, name_rx) = std::sync::mpsc::sync_channel::<Vec<Classified>>(DEPTH);
    std::thread::scope(|scope| {
        // Named, so that profiles and debuggers tell the stages apart.
        let spawn = |name: &str| std::thread::Builder::new().name(format!("logsieve-{name}"));
        let reader = spawn("read").spawn_scoped(scope, move || {
            let mut batch = Vec::with_capacity(BATCH);
            let mut file: Arc<str> = Arc::from("");
            let run = read_records(args, |pending, name| {
                if &*file != name {
                    file = Arc::from(name);
                }
                batch.push((pending, Arc::clone(&file)));
                if batch.len() == BATCH {
                    read_tx.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH))).map_err(|_| Error::Stopped)?;
                }
                Ok(())
            });
            if !batch.is_empty() && run.is_ok() {
                // The receiver has gone only when `sink` failed, and that error is the one reported.
                let _ = read_tx.send(batch);
            }
            run
        });
        let classify = spawn("classify").spawn_scoped(scope, move || {
            let mut classifier = Normalizer::new(rules);
            for batch in read_rx {
                let classified = batch
                    .into_iter()
                    .map(|(pending, file)| {
                        let event = classifier.classify(&pending.record);
                        Classified { pending, file, event }
                    })
                    .collect();
                if class_tx.send(classified).is_err() {
                    break;
                }
            }
        });
        let name = spawn("name").spawn_scoped(scope, move || {
            for mut batch in class_rx {
                for c in &mut batch {
                    normalizer.name(&mut c.event, &c.pending.record);
                }
                if name_tx.send(batch).is_err() {
                    break;
                }
            }
            normalizer
        });
        let mut failed = None;
        'batches: for batch in name_rx.iter() {
            for c in batch {
                let origin = Origin { file: &c.file, line: c.pending.line, original: &c.pending.original };
                if let Err(e) = sink(&c.pending.record, c.event, &origin) {
                    failed = Some(e);
                    break 'batches;
                }
            }
        }
        // Dropping the receiver ends the naming thread, and with it the classifying and reading
        // ones, at their next send.
        drop(name_rx);
        let (reader, classify, name) = match (reader, classify, name) {
            (Ok(r), Ok(c), Ok(n)) => (r, c, n),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return Err(Error::Thread(e)),
        };
        let run = reader.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        classify.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let normalizer = name.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let oversized = normalizer.rules().oversized_sets();
        if oversized > 0 {
            eprintln!(
                "logsieve: warning: {oversized} set(s) of rules were too big to compile as one (many rules given with --rules?); their rules were tried one by one, which is slower"
            );
        }
        match failed {
            Some(e) => Err(e),
            None => run.map(|run| (run, normalizer)),
        }
    })
}

/// [`for_each_event`] for `--format events`: the events as `normalize --output parquet` stored
/// them (or an Arrow IPC stream of the same columns on standard input), with the file and line of
/// the raw input they came from. Every row counts as a line read
/// and parsed; a file that cannot be read is reported like an unreadable log, and the others are
/// still read.
fn for_each_stored_event<F>(args: &InputArgs, mut sink: F) -> Result<RunStats>
where
    F: FnMut(&Record, Event, &Origin<'_>) -> Result<()>,
{
    let inputs = read::expand(&args.inputs)?;
    let mut run = RunStats::default();
    for input in &inputs {
        let name = input.name();
        let mut stats = InputStats::new(&name);
        let mut each = |s: crate::read::events::Stored| {
            stats.read += 1;
            stats.record(&s.record);
            sink(&s.record, s.event, &Origin { file: &s.file, line: s.line, original: &s.original })
        };
        let res = match input {
            read::Input::Stdin => read::events::for_each_ipc(std::io::stdin().lock(), &name, &mut each),
            read::Input::Path(path) => read::events::for_each(path, &mut each),
        };
        match res {
            Ok(_) => {}
            Err(e @ (Error::Usage(_) | Error::Open { .. } | Error::Input { .. })) => {
                eprintln!("logsieve: error: {}", crate::error::printable(&e.to_string()));
                stats.error = Some(e.to_string());
            }
            Err(e) => return Err(e),
        }
        run.push(stats);
    }
    Ok(run)
}

/// `--format events` names Parquet files, which only [`for_each_event`] reads: the readers of
/// lines refuse it rather than parse Parquet bytes as text.
pub(super) fn read_by_lines(format: &Format) -> Result<()> {
    match format {
        Format::Events => Err(Error::Usage("--format events is read by normalize, train and score, not line by line".into())),
        _ => Ok(()),
    }
}

/// The reading loop of [`for_each_record`]: each joined record, owned, with its input's name.
fn read_records<F>(args: &InputArgs, mut sink: F) -> Result<RunStats>
where
    F: FnMut(Pending, &str) -> Result<()>,
{
    read_by_lines(&args.format)?;
    let inputs = read::expand(&args.inputs)?;
    // Each input's parser compiles the built-in headers it needs; what one compiled serves the next.
    let _headers = crate::parse::auto::builtins();
    let mut run = RunStats::default();
    let mut progress = Progress::new(args.quiet);
    for input in &inputs {
        let name = input.name();
        let mut stats = InputStats::new(&name);
        progress.start(&name);
        let mut joiner = Joiner::new(matches!(args.format, Format::Auto));
        let emit = |p: Pending, sink: &mut F| sink(p, &name);
        match read::open(input) {
            Err(e) => {
                eprintln!("logsieve: error: {}", crate::error::printable(&e.to_string()));
                stats.error = Some(e.to_string());
            }
            Ok(mut src) => {
                let mut parser = LineParser::new(&args.format, year_anchor(args.year, src.modified));
                loop {
                    let line = match src.lines.next_line() {
                        Ok(Some(line)) => line,
                        Ok(None) => break,
                        Err(source) => {
                            let e = Error::Read { path: name.clone(), line: src.lines.line_number() + 1, source };
                            eprintln!("logsieve: error: {}", crate::error::printable(&e.to_string()));
                            stats.error = Some(e.to_string());
                            break;
                        }
                    };
                    progress.tick();
                    stats.read += 1;
                    stats.invalid_utf8 += u64::from(line.lossy);
                    match parser.parse(&line.text, line.number) {
                        Ok(rec) => {
                            let (done, joined) = joiner.push(rec, &line.text, line.number);
                            if joined {
                                stats.continuation();
                            }
                            if let Some(p) = done {
                                stats.record(&p.record);
                                emit(p, &mut sink)?;
                            }
                        }
                        Err(skip) => stats.skip(skip),
                    }
                }
            }
        }
        if let Some(p) = joiner.finish() {
            stats.record(&p.record);
            emit(p, &mut sink)?;
        }
        run.push(stats);
    }
    progress.finish();
    Ok(run)
}

/// Prints the summary (unless quiet), writes `--stats`, and says how the run ended.
fn finish(args: &InputArgs, run: &RunStats) -> Result<Outcome> {
    if !args.quiet {
        eprint!("{run}");
    }
    if let Some(path) = &args.stats {
        write_json(path, run)?;
    }
    Ok(if run.inputs.iter().any(|i| i.error.is_some()) { Outcome::InputError } else { Outcome::Ok })
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    let err = |source| Error::Write { path: path.display().to_string(), source };
    let mut text = serde_json::to_vec_pretty(value).map_err(|e| err(e.into()))?;
    text.push(b'\n');
    std::fs::write(path, text).map_err(err)
}

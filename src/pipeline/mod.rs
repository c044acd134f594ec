//! Wiring of the stages for each command; no stage logic lives here.

/// `println!` that hands a closed or failing stdout back as [`Error::Stdout`] (a closed pipe ends
/// the run quietly) instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*).map_err($crate::error::Error::Stdout)?
    }};
}

mod learn;
mod watch;

use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use chrono::{Datelike, Utc};

use crate::cli::{Cli, Command, InputArgs, ModelArgs, ModelCommand, NormalizeArgs, RulesArgs, RulesCommand};
use crate::error::{Error, Result};
use crate::normalize::miner::Miner;
use crate::normalize::rules::RuleSet;
use crate::normalize::{example_problem, write_ecs, Event, Normalizer, Origin};
use crate::output::events::{self, EventWriter};
use crate::parse::multiline::{Joiner, Pending};
use crate::parse::{Format, LineParser, YearAnchor};
use crate::read::{self, InputStats, Progress, RunStats};
use crate::record::{Record, RecordKind};

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
        Command::Normalize(args) => normalize(&args),
        Command::Templates(args) => templates(&args.input),
        Command::Rules(RulesArgs { command: RulesCommand::Test { dir } }) => rules_test(dir.as_deref()),
        Command::Rules(RulesArgs { command: RulesCommand::List { dir } }) => rules_list(dir.as_deref()),
        Command::Train(args) => learn::train(&args),
        Command::Merge(args) => learn::merge(&args),
        Command::Score(args) => learn::score(&args),
        Command::Eval(args) => learn::evaluate(&args),
        Command::Model(ModelArgs { command: ModelCommand::Info { path, json } }) => learn::model_info(&path, json),
        Command::Allow(args) => learn::allow(&args),
        Command::Report(args) => {
            let path = crate::report::rebuild(&args.dir, args.model.as_deref(), args.output.as_deref())?;
            outln!("{}", path.display());
            Ok(Outcome::Ok)
        }
        Command::Watch(args) => watch::watch(&args),
        Command::Demo(args) => learn::demo(&args),
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

/// One record read and parsed on the reading thread, classified on the classifying one.
struct Classified {
    pending: Pending,
    file: Arc<str>,
    event: Event,
}

/// [`for_each_record`] with the rule and generic layers ([`Normalizer::classify`]) applied, on
/// three threads joined by bounded channels of batches: one reads and parses (the parser's year
/// depends on the order of lines), one classifies (the rules keep no state between records), and
/// the caller's runs `sink`, which holds what depends on order (the template miner, sessions,
/// output). Records reach `sink` in input order, so the output is the same as on one thread. An
/// error from `sink` stops the other two at their next batch.
pub fn for_each_event<F>(args: &InputArgs, rules: Arc<RuleSet>, mut sink: F) -> Result<RunStats>
where
    F: FnMut(&Record, Event, &Origin<'_>) -> Result<()>,
{
    if matches!(args.format, Format::Events) {
        return for_each_stored_event(args, sink);
    }
    let (read_tx, read_rx) = std::sync::mpsc::sync_channel::<Vec<(Pending, Arc<str>)>>(4);
    let (class_tx, class_rx) = std::sync::mpsc::sync_channel::<Vec<Classified>>(4);
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
        let mut failed = None;
        'batches: for batch in class_rx.iter() {
            for c in batch {
                let origin = Origin { file: &c.file, line: c.pending.line, original: &c.pending.original };
                if let Err(e) = sink(&c.pending.record, c.event, &origin) {
                    failed = Some(e);
                    break 'batches;
                }
            }
        }
        // Dropping the receiver ends the classifying thread, and with it the reading one, at
        // their next send.
        drop(class_rx);
        let (reader, classify) = match (reader, classify) {
            (Ok(r), Ok(c)) => (r, c),
            (Err(e), _) | (_, Err(e)) => return Err(Error::Thread(e)),
        };
        let run = reader.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        classify.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        match failed {
            Some(e) => Err(e),
            None => run,
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
        let mut each = |s: events::read::Stored| {
            stats.read += 1;
            stats.record(&s.record);
            sink(&s.record, s.event, &Origin { file: &s.file, line: s.line, original: &s.original })
        };
        let res = match input {
            read::Input::Stdin => events::read::for_each_ipc(std::io::stdin().lock(), &name, &mut each),
            read::Input::Path(path) => events::read::for_each(path, &mut each),
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

/// `logsieve normalize`: one ECS JSON object per record on stdout, or the events in a directory
/// (`--output FORMAT DIR`).
fn normalize(args: &NormalizeArgs) -> Result<Outcome> {
    let run = match args.output.as_deref() {
        None => {
            let stdout = io::stdout();
            normalize_into(&args.input, args.model.as_deref(), stdout.lock(), &Error::Stdout)?
        }
        Some([format, dir]) if format == "json" => {
            let dir = Path::new(dir);
            std::fs::create_dir_all(dir).map_err(|source| Error::Write { path: dir.display().to_string(), source })?;
            let path = dir.join("events.jsonl");
            let name = path.display().to_string();
            let file = std::fs::File::create(&path).map_err(|source| Error::Write { path: name.clone(), source })?;
            normalize_into(&args.input, args.model.as_deref(), file, &|source| Error::Write { path: name.clone(), source })?
        }
        Some([format, dir]) if format == "parquet" => normalize_parquet(&args.input, args.model.as_deref(), Path::new(dir))?,
        Some(other) => {
            return Err(Error::Usage(format!("--output takes `json DIR` or `parquet DIR`, not `{}`", other.join(" "))));
        }
    };
    finish(&args.input, &run)
}

/// Writes the inputs' events to `dir/events.parquet`.
fn normalize_parquet(args: &InputArgs, model: Option<&Path>, dir: &Path) -> Result<RunStats> {
    let (rules, mut normalizer) = normalizer_for(args, model)?;
    let mut out = EventWriter::create(dir)?;
    let run = for_each_event(args, rules, |rec, mut event, origin| {
        normalizer.name(&mut event, rec);
        out.push(rec, Some(&event), origin)
    })?;
    out.finish()?;
    Ok(run)
}

/// Writes the inputs' events as ECS JSON lines to `out`; `fail` names a write error.
fn normalize_into(args: &InputArgs, model: Option<&Path>, out: impl Write, fail: &dyn Fn(io::Error) -> Error) -> Result<RunStats> {
    let (rules, mut normalizer) = normalizer_for(args, model)?;
    let mut out = BufWriter::with_capacity(256 * 1024, out);
    let mut buf = Vec::with_capacity(4096);
    let run = for_each_event(args, rules, |rec, mut event, origin| {
        normalizer.name(&mut event, rec);
        buf.clear();
        write_ecs(&mut buf, rec, Some(&event), origin);
        buf.push(b'\n');
        out.write_all(&buf).map_err(fail)
    })?;
    out.flush().map_err(fail)?;
    Ok(run)
}

/// The rules and a normalizer for `normalize`: with a model, its miner goes on from the model's.
fn normalizer_for(args: &InputArgs, model: Option<&Path>) -> Result<(Arc<RuleSet>, Normalizer)> {
    let rules = Arc::new(RuleSet::load(args.rules.as_deref())?);
    let normalizer = match model {
        None => Normalizer::new(Arc::clone(&rules)),
        Some(path) => Normalizer::with_miner(Arc::clone(&rules), crate::model::file::load(path)?.miner.unwrap_or_default()),
    };
    Ok((rules, normalizer))
}

/// `logsieve templates`: the templates the miner finds, most frequent first, with an example.
fn templates(args: &InputArgs) -> Result<Outcome> {
    let mut miner = Miner::default();
    let mut examples: std::collections::HashMap<u32, String> = std::collections::HashMap::new();
    let run = for_each_record(args, |rec, _| {
        if rec.kind != RecordKind::Sequence {
            let id = miner.add(&rec.message).id;
            examples.entry(id).or_insert_with(|| rec.message.chars().take(200).collect());
        }
        Ok(())
    })?;
    let mut rows = miner.templates();
    rows.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let write = |out: &mut BufWriter<_>, text: String| out.write_all(text.as_bytes()).map_err(Error::Stdout);
    write(&mut out, "id\tcount\ttemplate\texample\n".into())?;
    for (id, template, count) in rows {
        let example = examples.get(&id).map(String::as_str).unwrap_or("").replace(['\t', '\n'], " ");
        write(&mut out, format!("{id}\t{count}\t{template}\t{example}\n"))?;
    }
    out.flush().map_err(Error::Stdout)?;
    if !args.quiet {
        eprintln!("logsieve: {} templates ({} evicted)", miner.len(), miner.evicted());
    }
    finish(args, &run)
}

/// `logsieve rules test [DIR]`: every rule's example lines must give the rule's event and fields.
fn rules_test(dir: Option<&Path>) -> Result<Outcome> {
    let set = Arc::new(RuleSet::load(dir)?);
    let mut failures = 0usize;
    let mut checked = 0usize;
    for rule in set.rules() {
        for ex in &rule.examples {
            checked += 1;
            let problem = example_problem(rule, ex, &set);
            if let Some(p) = problem {
                failures += 1;
                outln!("FAIL {} ({}): {p}\n     line: {}", rule.id, rule.pack, ex.line.replace('\n', "\\n"));
            }
        }
    }
    outln!("{} rules, {checked} examples, {failures} failed", set.rules().len());
    Ok(if failures == 0 { Outcome::Ok } else { Outcome::InputError })
}

/// `logsieve rules list`: the rules in matching order.
fn rules_list(dir: Option<&Path>) -> Result<Outcome> {
    let set = RuleSet::load(dir)?;
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for rule in set.rules() {
        writeln!(out, "{}\t{}\t{}", rule.id, rule.pack, rule.action.map(|a| a.name).unwrap_or("(entity only)")).map_err(Error::Stdout)?;
    }
    out.flush().map_err(Error::Stdout)?;
    Ok(Outcome::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(files: &[&str]) -> InputArgs {
        let root = env!("CARGO_MANIFEST_DIR");
        let inputs = files.iter().map(|f| format!("{root}/datasets/loghub/{f}")).collect();
        InputArgs { inputs, format: Format::Auto, year: Some(2024), quiet: true, stats: None, rules: None }
    }

    /// What `normalize` wrote before records were classified on a thread of their own: one
    /// normalizer, record by record.
    fn normalized_on_one_thread(args: &InputArgs) -> Vec<u8> {
        let mut normalizer = Normalizer::new(Arc::new(RuleSet::load(None).unwrap()));
        let mut out = Vec::new();
        for_each_record(args, |rec, origin| {
            let event = normalizer.normalize(rec);
            write_ecs(&mut out, rec, Some(&event), origin);
            out.push(b'\n');
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn events_classified_on_threads_come_out_as_on_one_thread() {
        // Several batches per input, and two inputs, so the file names change mid-stream.
        let args = inputs(&["OpenSSH_2k.log", "HDFS_2k.log", "Linux_2k.log"]);
        let mut out = Vec::new();
        let run = normalize_into(&args, None, &mut out, &Error::Stdout).unwrap();
        assert_eq!(run.total.read, 6000);
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 6000);
        assert!(out == normalized_on_one_thread(&args), "the threaded output differs");
    }

    #[test]
    fn an_output_error_stops_the_threads_and_is_the_one_reported() {
        struct Failing(usize);
        impl Write for Failing {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0 += 1;
                if self.0 > 3 {
                    return Err(io::Error::other("disk full"));
                }
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let args = inputs(&["OpenSSH_2k.log", "Linux_2k.log", "HDFS_2k.log", "BGL_2k.log"]);
        let err = normalize_into(&args, None, Failing(0), &Error::Stdout).unwrap_err();
        assert!(matches!(err, Error::Stdout(ref e) if e.to_string() == "disk full"), "{err}");
    }
}

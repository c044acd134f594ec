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

use crate::cli::{Cli, Command, InputArgs, ModelArgs, ModelCommand, RulesArgs, RulesCommand};
use crate::error::{Error, Result};
use crate::normalize::miner::Miner;
use crate::normalize::rules::RuleSet;
use crate::normalize::{example_problem, write_ecs, Normalizer, Origin};
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
        Command::Normalize(args) => normalize(&args.input),
        Command::Templates(args) => templates(&args.input),
        Command::Rules(RulesArgs { command: RulesCommand::Test { dir } }) => rules_test(dir.as_deref()),
        Command::Rules(RulesArgs { command: RulesCommand::List { dir } }) => rules_list(dir.as_deref()),
        Command::Train(args) => learn::train(&args),
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
    let inputs = read::expand(&args.inputs)?;
    let mut run = RunStats::default();
    let mut progress = Progress::new(args.quiet);
    for input in &inputs {
        let name = input.name();
        let mut stats = InputStats::new(&name);
        progress.start(&name);
        let mut joiner = Joiner::new(matches!(args.format, Format::Auto));
        let emit = |p: Pending, sink: &mut F| sink(&p.record, &Origin { file: &name, line: p.line, original: &p.original });
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

/// `logsieve normalize`: one ECS JSON object per record on stdout.
fn normalize(args: &InputArgs) -> Result<Outcome> {
    let stdout = io::stdout();
    let run = normalize_into(args, stdout.lock(), &Error::Stdout)?;
    finish(args, &run)
}

/// Writes the inputs' events as ECS JSON lines to `out`; `fail` names a write error.
fn normalize_into(args: &InputArgs, out: impl Write, fail: &dyn Fn(io::Error) -> Error) -> Result<RunStats> {
    let mut normalizer = Normalizer::new(Arc::new(RuleSet::load(args.rules.as_deref())?));
    let mut out = BufWriter::with_capacity(256 * 1024, out);
    let mut buf = Vec::with_capacity(4096);
    let run = for_each_record(args, |rec, origin| {
        let event = normalizer.normalize(rec);
        buf.clear();
        write_ecs(&mut buf, rec, Some(&event), origin);
        buf.push(b'\n');
        out.write_all(&buf).map_err(fail)
    })?;
    out.flush().map_err(fail)?;
    Ok(run)
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

//! Wiring of the stages for each command; no stage logic lives here.

use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use chrono::{Datelike, Utc};

use crate::cli::{Cli, Command, InputArgs};
use crate::error::{Error, Result};
use crate::normalize::{write_ecs, Origin};
use crate::parse::{LineParser, YearAnchor};
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
        Command::Normalize(args) => normalize(&args.input),
        Command::Train(_) => {
            Err(Error::NotYetAvailable { command: "train", what: "learning a baseline lands with the learning core (issue #4)" })
        }
        Command::Score(_) => Err(Error::NotYetAvailable { command: "score", what: "scoring lands with the learning core (issue #4)" }),
        Command::Eval(_) => {
            Err(Error::NotYetAvailable { command: "eval", what: "evaluation against labels lands with the learning core (issue #4)" })
        }
        Command::Allow(_) => Err(Error::NotYetAvailable { command: "allow", what: "the review loop lands with issue #5" }),
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

/// Reads every input, parses each line and hands each record to `sink`. Input errors are
/// reported on stderr and counted, and reading goes on with the next input; an error from `sink`
/// (the output) stops the run.
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
        match read::open(input) {
            Err(e) => {
                eprintln!("logsieve: error: {e}");
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
                            eprintln!("logsieve: error: {e}");
                            stats.error = Some(e.to_string());
                            break;
                        }
                    };
                    progress.tick();
                    stats.read += 1;
                    stats.invalid_utf8 += u64::from(line.lossy);
                    match parser.parse(&line.text, line.number) {
                        Ok(rec) => {
                            stats.record(&rec);
                            sink(&rec, &Origin { file: &name, line: line.number, original: &line.text })?;
                        }
                        Err(skip) => stats.skip(skip),
                    }
                }
            }
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
    let mut out = BufWriter::with_capacity(256 * 1024, stdout.lock());
    let mut buf = Vec::with_capacity(4096);
    let run = for_each_record(args, |rec, origin| {
        buf.clear();
        write_ecs(&mut buf, rec, origin);
        buf.push(b'\n');
        out.write_all(&buf).map_err(Error::Stdout)
    })?;
    out.flush().map_err(Error::Stdout)?;
    finish(args, &run)
}

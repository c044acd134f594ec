//! Command-line arguments (clap derive). The contract is ../shared/DESIGN.md's: names may be
//! added, never renamed or dropped.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::parse::Format;

/// The first steps, under the top-level help.
const START_HERE: &str = "\
Start here:
  logsieve train clean/*.log --model site.model       learn normal from a clean period
  logsieve score new.log --model site.model --out run  verdicts, reasons and run/report.html
  logsieve allow --model site.model --session KEY --scores run/scores.jsonl --note 'reviewed'
                                                       mark a reviewed false positive normal
  logsieve watch /var/log/auth.log --model site.model  alert on a live log
  logsieve demo                                        all of it on the bundled HDFS data";

/// Learns what normal looks like in a clean stretch of logs and shows what deviates in new logs.
#[derive(Debug, Parser)]
#[command(name = "logsieve", version, about, propagate_version = true, max_term_width = 100, after_help = START_HERE)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse logs and write one ECS JSON object per input record on stdout.
    Normalize(NormalizeArgs),
    /// List the message templates the miner finds, most frequent first (TSV on stdout).
    Templates(TemplatesArgs),
    /// Check or list the rule packs.
    Rules(RulesArgs),
    /// Learn a baseline from clean logs.
    Train(TrainArgs),
    /// Join shards (`train --shard`, one per partition of the data) into one model.
    Merge(MergeArgs),
    /// Score new logs against a baseline: scores.jsonl and scores.parquet in --out.
    Score(ScoreArgs),
    /// Compare verdicts with labels: precision, recall, F1, FPR and a PR curve.
    Eval(EvalArgs),
    /// Inspect a model file.
    Model(ModelArgs),
    /// Mark reviewed sessions, windows or values normal (kept in the model with a note).
    Allow(AllowArgs),
    /// Draw DIR/report.html again from DIR/scores.jsonl, DIR/run.json and the model.
    Report(ReportArgs),
    /// Follow a growing log (or stdin) and print alerts as JSON lines while it is written
    #[command(after_help = WATCH_ALERTS)]
    Watch(WatchArgs),
    /// The main job on the bundled data: train on clean HDFS logs, score new ones (10 anomalous
    /// blocks among them), compare with the labels, and write the report.
    Demo(DemoArgs),
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse().map_err(|e: crate::parse::FormatError| e.to_string())
}

/// Options shared by every command that reads logs.
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// Log files or globs; `-` or none reads stdin. Gzip is detected by content.
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// Input format: auto, syslog, json, apache, exchange, sequences (`id,e1 e2 ...` per line),
    /// events (the events.parquet of `normalize --output parquet`), or `pattern:<header
    /// template>` (e.g. `pattern:<Date> <Time> <Level> <Component>: <Content>`).
    #[arg(long, short = 'f', default_value = "auto", value_parser = parse_format, value_name = "F")]
    pub format: Format,
    /// Year of the first year-less timestamp (RFC 3164); the default is the year the file was
    /// last modified (for stdin: now), one year earlier if the log starts in a later month.
    #[arg(long, value_name = "YEAR")]
    pub year: Option<i32>,
    /// Do not print the per-file summary on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Also write the per-file line accounting as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub stats: Option<PathBuf>,
    /// A directory of rule packs (*.toml) added to the built-in ones; a rule with a built-in id
    /// replaces it.
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
}

/// `logsieve rules`.
#[derive(Debug, Args)]
pub struct RulesArgs {
    /// What to do with the rules.
    #[command(subcommand)]
    pub command: RulesCommand,
}

/// `logsieve rules ...`.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Check every rule's example lines (built-in packs, plus DIR's); exit 2 if any fails.
    Test {
        /// A directory of extra rule packs.
        dir: Option<PathBuf>,
    },
    /// List the rules in matching order: id, pack, event.
    List {
        /// A directory of extra rule packs.
        dir: Option<PathBuf>,
    },
}

/// `logsieve normalize`.
#[derive(Debug, Args)]
pub struct NormalizeArgs {
    /// Inputs and how to read them.
    #[command(flatten)]
    pub input: InputArgs,
    /// Write the events to a directory instead of stdout: `--output parquet DIR` writes
    /// DIR/events.parquet (flat ECS columns, entity key and lifecycle role included, for Spark and
    /// other engines); `--output json DIR` writes DIR/events.jsonl.
    #[arg(long, num_args = 2, value_names = ["FORMAT", "DIR"])]
    pub output: Option<Vec<String>>,
    /// Go on from this model's template miner, so template states get the ids `score --model`
    /// would give them (for `train`/`score --format events` on the events).
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
}

/// `logsieve templates`.
#[derive(Debug, Args)]
pub struct TemplatesArgs {
    /// Inputs and how to read them.
    #[command(flatten)]
    pub input: InputArgs,
}

/// How sessions are cut (train; score takes the model's unless given).
#[derive(Debug, Clone, Default, Args)]
pub struct SessionArgs {
    /// Regex whose first capture group (or whole match, without a group) is the session key
    /// (overrides the rule packs' keys); a line matching several keys joins each session. Lines it does not match are counted and
    /// left out of sessions.
    #[arg(long, value_name = "REGEX")]
    pub session_key: Option<String>,
    /// Close a session after this many seconds of log time without an event [default: 86400].
    #[arg(long, value_name = "SECS")]
    pub idle_timeout: Option<f64>,
    /// After its end event, close a session once this many seconds of log time pass without
    /// another of its events [default: 3600].
    #[arg(long, value_name = "SECS")]
    pub end_grace: Option<f64>,
    /// At most this many sessions open at once; the oldest is closed early beyond it (counted)
    /// [default: 100000].
    #[arg(long, value_name = "N")]
    pub max_open_sessions: Option<usize>,
    /// Events without an entity key: windows of this many events [default: 20].
    #[arg(long, value_name = "N")]
    pub window: Option<usize>,
    /// Events without an entity key: windows of this many seconds of log time (instead of a
    /// count).
    #[arg(long, value_name = "SECS")]
    pub window_secs: Option<f64>,
    /// Move windows by this much (events, or seconds with --window-secs): sliding windows when
    /// smaller than the window [default: the window size: fixed windows].
    #[arg(long, value_name = "STEP")]
    pub window_step: Option<f64>,
}

/// `logsieve train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Inputs and how to read them.
    #[command(flatten)]
    pub input: InputArgs,
    /// Where to write the model.
    #[arg(long, value_name = "PATH")]
    pub model: PathBuf,
    /// Training options (TOML: ngram, max_fpr, rare_share, folds, params, session_key and a
    /// `[session]` table); flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// How sessions are cut.
    #[command(flatten)]
    pub session: SessionArgs,
    /// Window length of the n-gram database, 1 to 10 [default: 3; for --format sequences, the
    /// length from 2 to 8 that best predicts held-out training sessions].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=10))]
    pub ngram: Option<u16>,
    /// Target false-positive rate on held-out clean sessions [default: 0.001].
    #[arg(long, value_name = "RATE")]
    pub max_fpr: Option<f64>,
    /// The expected share of anomalous sessions in the training period: at most this share of
    /// the training sessions, the most anomalous, is set aside (listed by `model info` and the
    /// report) before the final fit, and an error message held by fewer than this share of the
    /// sessions stays evidence [default: 0.05; 0 trusts the period as clean].
    #[arg(long, value_name = "SHARE")]
    pub contamination: Option<f64>,
    /// Also follow this field's values as entities across sessions, with their own rates (a
    /// standard field's short name: `host`, `recipient`, ...; repeatable). Sources (`source_ip`)
    /// and users (`user`) are always followed.
    #[arg(long, value_name = "FIELD")]
    pub entity: Vec<String>,
    /// Length of the entity rates' time buckets in seconds of log time [default: 300].
    #[arg(long, value_name = "SECS")]
    pub rate_bucket: Option<u64>,
    /// For `--format sequences`: the message template of each event id, one per line (line N
    /// for id N), or loghub's EventId,EventTemplate CSV. The model keeps them: they tell which
    /// ids are errors and give the report their wording.
    #[arg(long, value_name = "FILE")]
    pub templates: Option<PathBuf>,
    /// Write a shard (what this partition of the data teaches) to --model instead of a model;
    /// `logsieve merge` joins shards into the model one process would train on all of them.
    #[arg(long)]
    pub shard: bool,
}

/// `logsieve merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shards written by `train --shard`, in any order.
    #[arg(value_name = "SHARD", required = true)]
    pub shards: Vec<PathBuf>,
    /// Where to write the model.
    #[arg(long, value_name = "PATH")]
    pub model: PathBuf,
    /// Print nothing but errors.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// `logsieve score`.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// Inputs and how to read them.
    #[command(flatten)]
    pub input: InputArgs,
    /// The model to score against.
    #[arg(long, value_name = "PATH")]
    pub model: PathBuf,
    /// Directory for scores.jsonl, scores.parquet and report.html.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// How sessions are cut (default: as in training).
    #[command(flatten)]
    pub session: SessionArgs,
    /// Exit with status 1 when any session is anomalous (or any finding about a source or user).
    #[arg(long)]
    pub fail_on_anomaly: bool,
    /// Write `lines` as `file:line` even when the run reads one raw log (as for one partition of
    /// events drawn from several logs).
    #[arg(long)]
    pub lines_with_file: bool,
    /// Write only the sessions' rows, or only the findings about sources and users (the scale-out
    /// job scores sessions per partition and follows the entities over all events in one task).
    #[arg(long, value_name = "WHAT")]
    pub only: Option<Only>,
    /// Score even when the model does not fit the log (more than 90% of the events in states it
    /// never saw, or its session key matches no record); without it such a run writes nothing
    /// and exits 2.
    #[arg(long)]
    pub force: bool,
}

/// `logsieve eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// scores.jsonl written by `score`.
    #[arg(long, value_name = "FILE")]
    pub scores: PathBuf,
    /// Labels keyed by session: CSV `session,label` (label anomaly/abnormal/1 or
    /// normal/0; a header line is allowed).
    #[arg(long, value_name = "FILE")]
    pub labels: PathBuf,
    /// Where to draw the precision-recall curve (SVG) [default: pr_curve.svg beside --scores].
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Print the figures as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `logsieve model`.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// What to do with the model.
    #[command(subcommand)]
    pub command: ModelCommand,
}

/// `logsieve model ...`.
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Print what a model holds: version, options, training data, components, threshold.
    Info {
        /// The model file.
        path: PathBuf,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `logsieve allow`.
#[derive(Debug, Args)]
pub struct AllowArgs {
    /// The model to update.
    #[arg(long, value_name = "PATH")]
    pub model: PathBuf,
    /// A session key from scores.jsonl whose windows and values become normal.
    #[arg(long, value_name = "KEY")]
    pub session: Vec<String>,
    /// scores.jsonl to look sessions up in.
    #[arg(long, value_name = "FILE")]
    pub scores: Option<PathBuf>,
    /// A window of states, space-separated, to treat as normal.
    #[arg(long, value_name = "STATES")]
    pub window: Vec<String>,
    /// A FIELD=VALUE to treat as normal.
    #[arg(long, value_name = "FIELD=VALUE")]
    pub value: Vec<String>,
    /// Why (kept with the allowance).
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
}

/// `logsieve report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The directory `score --out` wrote.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The model [default: the one the scoring run used, as named in DIR/run.json].
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Where to write the page [default: DIR/report.html].
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// How `watch` alerts (its `--help`).
const WATCH_ALERTS: &str = "How it alerts (each alert a JSON line with the fields of scores.jsonl):
  - a finding about a source or user (a burst of login failures from one address, one address
    trying many users, failures then a success, a first sudo by a user) the moment its count
    crosses its limit (\"closed\": \"entity\"): the count of the last minute against the clean
    period's busiest minute, or of the time bucket against its busiest bucket; again each time it
    has doubled and when its time bucket ends, if it grew;
  - an open session the moment its evidence crosses the threshold (\"closed\": \"open\"), and again
    when it closes only if it took more events since;
  - any other anomalous session when it ends, times out, or the run stops (SIGINT, SIGTERM,
    end of stdin). While the log is quiet, log time moves on with the clock.";

/// What `score --only` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Only {
    /// The sessions' rows.
    Sessions,
    /// The findings about sources and users.
    Entities,
}

/// `logsieve watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// A log file to follow (from its start; rotation and truncation are followed), or `-` /
    /// nothing for stdin (read until end of input).
    #[arg(value_name = "INPUT")]
    pub input: Option<String>,
    /// The model to score against.
    #[arg(long, value_name = "PATH")]
    pub model: PathBuf,
    /// Input format (as for `score`).
    #[arg(long, short = 'f', default_value = "auto", value_parser = parse_format, value_name = "F")]
    pub format: Format,
    /// Year of the first year-less timestamp [default: this year].
    #[arg(long, value_name = "YEAR")]
    pub year: Option<i32>,
    /// A directory of extra rule packs.
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// How sessions are cut (default: as in training).
    #[command(flatten)]
    pub session: SessionArgs,
    /// Print every scored session, not only the anomalous ones.
    #[arg(long)]
    pub all: bool,
    /// Start at the end of the file: only lines written from now on.
    #[arg(long)]
    pub from_end: bool,
    /// How often to look for new lines in a followed file, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 250)]
    pub poll_ms: u64,
    /// Do not print the summary on stderr at the end.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// `logsieve demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The bundled data directory.
    #[arg(long, value_name = "DIR", default_value = "datasets")]
    pub data: PathBuf,
    /// Where to write the model, scores, normalized events and report.
    #[arg(long, value_name = "DIR", default_value = "out/demo")]
    pub out: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn contract_flags_parse() {
        let cli = Cli::try_parse_from([
            "logsieve",
            "score",
            "a.log",
            "--model",
            "m",
            "--out",
            "d",
            "--format",
            "syslog",
            "--session-key",
            "blk_-?\\d+",
            "--fail-on-anomaly",
        ])
        .unwrap();
        assert!(matches!(cli.command, Command::Score(ref s) if s.fail_on_anomaly && s.input.inputs == ["a.log"]));
        let err = Cli::try_parse_from(["logsieve", "normalize", "--format", "nope"]).unwrap_err();
        assert!(err.to_string().contains("unknown format \"nope\""), "{err}");
        let err = Cli::try_parse_from(["logsieve", "normalize", "--format", "pattern:<Date>"]).unwrap_err();
        assert!(err.to_string().contains("no <Content>"), "{err}");
    }
}

//! Command-line arguments (clap derive). The contract is ../shared/DESIGN.md's: names may be
//! added, never renamed or dropped.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::parse::Format;

/// Learns what normal looks like in a clean stretch of logs and shows what deviates in new logs.
#[derive(Debug, Parser)]
#[command(name = "logsieve", version, about, propagate_version = true, max_term_width = 100)]
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
    Templates(NormalizeArgs),
    /// Check or list the rule packs.
    Rules(RulesArgs),
    /// Learn a baseline from clean logs (not yet available).
    Train(TrainArgs),
    /// Score new logs against a baseline and write a report (not yet available).
    Score(ScoreArgs),
    /// Compare verdicts with labels (not yet available).
    Eval(EvalArgs),
    /// Mark reviewed sessions, windows or values normal (not yet available).
    Allow(AllowArgs),
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
    /// Input format: auto, syslog, json, apache, exchange, sequences, or
    /// `pattern:<header template>` (e.g. `pattern:<Date> <Time> <Level> <Component>: <Content>`).
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
    /// Training options (TOML).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Regex whose first capture group is the session key (overrides the rule packs' keys).
    #[arg(long, value_name = "REGEX")]
    pub session_key: Option<String>,
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
    /// Regex whose first capture group is the session key (overrides the rule packs' keys).
    #[arg(long, value_name = "REGEX")]
    pub session_key: Option<String>,
    /// Exit with status 1 when any session is anomalous.
    #[arg(long)]
    pub fail_on_anomaly: bool,
}

/// `logsieve eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// scores.jsonl written by `score`.
    #[arg(long, value_name = "FILE")]
    pub scores: PathBuf,
    /// Labels keyed by session.
    #[arg(long, value_name = "FILE")]
    pub labels: PathBuf,
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

//! `logsieve demo`: the main job on the bundled data.

use super::Outcome;
use crate::cli::{DemoArgs, EvalArgs, InputArgs, ScoreArgs, SessionArgs, TrainArgs};
use crate::error::{Error, Result};
use crate::parse::Format;

/// `logsieve demo`: the main job on the bundled data, with nothing to choose. Trains on the clean
/// half of the HDFS blocks in `datasets/hdfs/demo/train.log`, scores the other blocks
/// (`new.log`, ten anomalous among them), writes their normalized events for the review
/// notebook, compares the verdicts with the labels and says where the report is.
pub fn demo(args: &DemoArgs) -> Result<Outcome> {
    let dir = args.data.join("hdfs").join("demo");
    let path = |name: &str| dir.join(name).display().to_string();
    if !dir.is_dir() {
        return Err(Error::Usage(format!("demo: {} not found: run it from the repository root, or give --data DIR", dir.display())));
    }
    std::fs::create_dir_all(&args.out).map_err(|source| Error::Write { path: args.out.display().to_string(), source })?;
    let model = args.out.join("hdfs.model");
    let input = |file: String| InputArgs { inputs: vec![file], format: Format::Auto, year: None, quiet: false, stats: None, rules: None };
    let session = SessionArgs { session_key: Some(DEMO_KEY.to_owned()), ..SessionArgs::default() };
    eprintln!("== train on the clean period: {}", path("train.log"));
    let trained = super::train::train(&TrainArgs {
        input: input(path("train.log")),
        model: model.clone(),
        config: None,
        session: session.clone(),
        ngram: None,
        max_fpr: None,
        contamination: None,
        entity: Vec::new(),
        rate_bucket: None,
        templates: None,
        shard: false,
    })?;
    eprintln!("== score the new logs: {}", path("new.log"));
    let scored = super::score::score(&ScoreArgs {
        input: input(path("new.log")),
        model: model.clone(),
        out: args.out.clone(),
        session,
        fail_on_anomaly: false,
        lines_with_file: false,
        only: None,
        force: false,
    })?;
    let events = args.out.join("events.jsonl");
    let name = events.display().to_string();
    let file = std::fs::File::create(&events).map_err(|source| Error::Write { path: name.clone(), source })?;
    // Normalized from the model's miner, as `score` did, so the events' template states are
    // named as in scores.jsonl.
    super::normalize::normalize_into(&InputArgs { quiet: true, ..input(path("new.log")) }, Some(&model), file, &|source| Error::Write {
        path: name.clone(),
        source,
    })?;
    eprintln!("== compare the verdicts with the labels: {}", path("labels.csv"));
    super::eval::evaluate(&EvalArgs { scores: args.out.join("scores.jsonl"), labels: dir.join("labels.csv"), plot: None, json: false })?;
    outln!("model:  {}", model.display());
    outln!("events: {}", events.display());
    outln!("report: {}", args.out.join("report.html").display());
    Ok(if trained == Outcome::Ok { scored } else { trained })
}

/// The demo's entity key: HDFS block ids.
pub const DEMO_KEY: &str = r"blk_-?\d+";

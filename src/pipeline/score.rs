//! `logsieve score`: new logs → a verdict per session (`scores.jsonl`, `scores.parquet`), the
//! run's accounting (`run.json`) and the report.

use super::feed::{feed, report_sessions, Scoring};
use super::{finish, Outcome};
use crate::cli::ScoreArgs;
use crate::error::{Error, Result};
use crate::model::Scorer;
use crate::output::{ScoreThread, ScoreWriter};
use crate::parse::Format;
use crate::report::{cause, Collector, Listed, RunInfo};
use crate::session::{millis, States};

/// `logsieve score`.
pub fn score(args: &ScoreArgs) -> Result<Outcome> {
    let Scoring { model, config, key, normalizer } =
        Scoring::load(&args.model, &args.session, args.input.rules.as_deref(), args.input.quiet)?;
    let mut states = States::from_names(&model.states);
    let matrix = model.vectors.neighbour_matrix();
    let scorer = Scorer::new(&model, &matrix);
    let threshold = model.calibration.threshold;
    // Lines name their file when the run reads several raw logs: for stored events, the logs
    // the events came from.
    let inputs = crate::read::expand(&args.input.inputs)?;
    let several = args.lines_with_file
        || match args.input.format {
            Format::Events => crate::read::events::raw_files(&inputs) > 1,
            _ => inputs.len() > 1,
        };
    let mut writer = ScoreThread::spawn(ScoreWriter::create(&args.out)?, &states, threshold, several)?;
    let (mut scored, mut anomalous) = (0u64, 0u64);
    let (mut events, mut unknown) = (0u64, 0u64);
    let known = model.states.len();
    let mut collector = Collector::default();
    let (fed, normalizer) = feed(&args.input, normalizer, &mut states, key.as_ref(), &model.options.params, &config, |s, names, files| {
        events += s.states.len() as u64;
        unknown += s.states.iter().filter(|&&id| id as usize >= known).count() as u64;
        let v = scorer.score(&s.states, &s.params, names);
        let start = s.start.as_ref().map(|t| millis(t) as f64 / 1000.0);
        let state_names: Vec<&str> = s.states.iter().map(|&i| names.name(i)).collect();
        let causes = v.reasons.iter().filter_map(cause);
        collector.push(&s.key, v.score, v.anomalous, start, &state_names, causes, || Listed::from_session(&s, &v, names, files));
        scored += 1;
        anomalous += u64::from(v.anomalous);
        writer.push(s, v, names, files)
    })?;
    if let Some((n, first)) = normalizer.mined_apart() {
        // Template states of such events name other messages than the model's: say so loudly,
        // the verdicts of sessions holding them are not to be trusted.
        eprintln!(
            "logsieve: warning: {n} stored events name templates that contradict the model's (first: {}): normalize the input with `normalize --model {}`",
            crate::error::printable(first),
            args.model.display()
        );
    }
    writer.finish()?;
    let mut info = RunInfo::new(&args.model.display().to_string(), &fed.run, fed.sessions, fed.coverage.clone());
    info.describe(collector.states().chain(model.states.iter().map(String::as_str)), normalizer.miner());
    info.save(&args.out)?;
    collector.attach_raw_lines();
    let report_path = args.out.join("report.html");
    let html = crate::report::render(&collector, &model, &info, &args.out.join("scores.jsonl"));
    std::fs::write(&report_path, html).map_err(|source| Error::Write { path: report_path.display().to_string(), source })?;
    report_sessions(&fed, args.input.quiet, key.is_some());
    if !args.input.quiet {
        eprintln!(
            "logsieve: {scored} sessions scored, {anomalous} anomalous (threshold {threshold:.3}); wrote {}, {} and the report {}",
            args.out.join("scores.jsonl").display(),
            args.out.join("scores.parquet").display(),
            report_path.display()
        );
    }
    if events > 0 && unknown * 2 > events && !args.input.quiet {
        eprintln!(
            "logsieve: warning: {unknown} of {events} events are in states the model never saw: was it trained on this kind of log (and --format)?"
        );
    }
    let outcome = finish(&args.input, &fed.run)?;
    Ok(if outcome == Outcome::Ok && args.fail_on_anomaly && anomalous > 0 { Outcome::Anomalies } else { outcome })
}

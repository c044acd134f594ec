//! `logsieve score`: new logs → a verdict per session (`scores.jsonl`, `scores.parquet`), the
//! run's accounting (`run.json`) and the report.

use std::cell::RefCell;

use super::feed::{feed, report_sessions, Options, Scoring};
use super::{finish, Outcome};
use crate::activity::tracker::Tracker;
use crate::cli::{Only, ScoreArgs};
use crate::error::{Error, Result};
use crate::model::{Scorer, Verdict, VerdictMemo};
use crate::output::{ScoreThread, ScoreWriter, Staging};
use crate::parse::Format;
use crate::report::{cause, Collector, Listed, RunInfo};
use crate::session::{millis, Closed, Session, States};

/// `logsieve score`.
pub fn score(args: &ScoreArgs) -> Result<Outcome> {
    let Scoring { model, config, key, normalizer } =
        Scoring::load(&args.model, &args.session, args.input.rules.as_deref(), args.input.quiet)?;
    let mut states = States::with_errors(&model.states, &model.errors);
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
    let staging = Staging::new(&args.out)?;
    let mut writer = ScoreThread::spawn(ScoreWriter::create(staging.dir())?, &states, threshold, several)?;
    let (mut scored, mut anomalous) = (0u64, 0u64);
    let (mut events, mut unknown) = (0u64, 0u64);
    let known = model.states.len();
    let mut collector = Collector::default();
    let mut findings = 0u64;
    let mut push = |s: Session, v: Verdict, names: &States, files: &[String]| {
        let start = s.start.as_ref().map(|t| millis(t) as f64 / 1000.0);
        let state_names: Vec<&str> = s.states.iter().map(|&i| names.name(i)).collect();
        let causes = v.reasons.iter().filter_map(cause);
        if s.closed == Closed::Entity {
            collector.push_finding(Listed::from_session(&s, &v, names, files));
            findings += 1;
        } else {
            collector.push(&s.key, v.score, v.anomalous, start, &state_names, causes, || Listed::from_session(&s, &v, names, files));
            scored += 1;
            anomalous += u64::from(v.anomalous);
        }
        writer.push(s, v, names, files)
    };
    // Entity findings are written as their buckets end, between the sessions.
    let tracker = RefCell::new(Tracker::new(&model.entities, false));
    let mut verdicts = VerdictMemo::default();
    let (sessions_too, entities_too) = (args.only != Some(Only::Entities), args.only != Some(Only::Sessions));
    let entities = if entities_too { &model.options.entities[..] } else { &[] };
    let options = Options { key: key.as_ref(), params: &model.options.params, entities, session: &config };
    let (fed, normalizer) = feed(
        &args.input,
        normalizer,
        &mut states,
        &options,
        &model.templates,
        |s, names, files| {
            events += s.states.len() as u64;
            unknown += s.states.iter().filter(|&&id| id as usize >= known).count() as u64;
            if sessions_too {
                let v = verdicts.score(&scorer, &s.states, &s.params, names);
                push(s, v, names, files)?;
            }
            for f in std::mem::take(&mut tracker.borrow_mut().findings) {
                let (s, v) = f.into_row(threshold);
                push(s, v, names, files)?;
            }
            Ok(())
        },
        |act| tracker.borrow_mut().observe(act),
    )?;
    let mut tracker = tracker.into_inner();
    tracker.finish();
    for f in tracker.findings.drain(..) {
        let (s, v) = f.into_row(threshold);
        push(s, v, &states, &fed.files)?;
    }
    let key_text = args.session.session_key.clone().or_else(|| model.options.session_key.clone());
    report_sessions(&fed, args.input.quiet, key_text.as_deref().map(|k| (k, args.session.session_key.is_some())));
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
    let outcome = finish(&args.input, &fed.run)?;
    if outcome == Outcome::InputError {
        // A verdict on part of the input passes for a verdict on all of it: nothing is written.
        eprintln!("logsieve: nothing written to {}: an input could not be read (see above)", args.out.display());
        return Ok(outcome);
    }
    let fit = Fit { records: fed.events, sessions: fed.sessions.sessions, events, unknown };
    if let Some(why) = fit.mismatch(key_text.as_deref().filter(|_| args.session.session_key.is_none())) {
        let inputs = &model.info.inputs;
        let mut trained = inputs.iter().take(3).cloned().collect::<Vec<_>>().join(" ");
        if inputs.len() > 3 {
            trained += &format!(" and {} more", inputs.len() - 3);
        }
        if !args.force {
            return Err(Error::Data(format!(
                "{}: the model does not fit this log: {why}. It was trained on {trained}. Train a model on this kind of log (and --format), or give --force to score anyway; nothing was written",
                args.model.display()
            )));
        }
        if !args.input.quiet {
            eprintln!("logsieve: warning: the model does not fit this log: {why} (scored anyway: --force)");
        }
    } else if events > 0 && unknown * 2 > events && !args.input.quiet {
        eprintln!(
            "logsieve: warning: {unknown} of {events} events are in states the model never saw: was it trained on this kind of log (and --format)?"
        );
    }
    let mut info = RunInfo::new(&args.model.display().to_string(), &fed.run, fed.sessions, fed.coverage.clone());
    info.describe(collector.states().chain(model.states.iter().map(String::as_str)), normalizer.miner());
    info.describe_ids(collector.states().chain(model.states.iter().map(String::as_str)), &model.templates);
    info.save(staging.dir())?;
    collector.attach_raw_lines();
    crate::report::write_file(&staging.dir().join("report.html"), &collector, &model, &info, &args.out.join("scores.jsonl"))?;
    staging.commit()?;
    if !args.input.quiet {
        let entity = match findings {
            0 => String::new(),
            1 => "; 1 finding about sources and users".to_owned(),
            n => format!("; {n} findings about sources and users"),
        };
        eprintln!(
            "logsieve: {scored} sessions scored, {anomalous} anomalous (threshold {threshold:.3}){entity}; wrote {}, {} and the report {}",
            args.out.join("scores.jsonl").display(),
            args.out.join("scores.parquet").display(),
            args.out.join("report.html").display()
        );
    }
    Ok(if args.fail_on_anomaly && anomalous + findings > 0 { Outcome::Anomalies } else { outcome })
}

/// How much of a scoring run's input the model knew: enough to tell a model of another kind of
/// log from a log with news in it.
struct Fit {
    records: u64,
    sessions: u64,
    events: u64,
    unknown: u64,
}

impl Fit {
    /// At least this many events before the share of unknown ones is judged.
    const EVENTS: u64 = 100;
    /// More than this share of events in states the model never saw: another kind of log. A log
    /// with news in it (an attack, a fault) still has most of its events in known states.
    const UNKNOWN: f64 = 0.9;

    /// Why the model does not fit the input, if it does not; `model_key` is the model's own
    /// session key when the run did not give one.
    fn mismatch(&self, model_key: Option<&str>) -> Option<String> {
        if let Some(key) = model_key {
            if self.records > 0 && self.sessions == 0 {
                return Some(format!("its session key `{key}` (from training) matched none of the {} records", self.records));
            }
        }
        let share = self.unknown as f64 / self.events.max(1) as f64;
        (self.events >= Self::EVENTS && share > Self::UNKNOWN)
            .then(|| format!("{} of {} events ({:.0}%) are in states it never saw", self.unknown, self.events, share * 100.0))
    }
}

//! Wiring of `train`, `score`, `eval` and `model info`: records → events → sessions → model or
//! verdicts.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use regex::Regex;

use super::{finish, for_each_event, Outcome};
use crate::cli::{AllowArgs, DemoArgs, EvalArgs, InputArgs, MergeArgs, ScoreArgs, SessionArgs, TrainArgs};
use crate::error::{Error, Result};
use crate::eval;
use crate::model::components::Featured;
use crate::model::file::{self, FORMAT_VERSION};
use crate::model::shard::{canonical, Shard};
use crate::model::{Allowance, Model, ModelInfo, Scorer, TrainOptions};
use crate::normalize::miner::Miner;
use crate::normalize::rules::{Role, RuleSet};
use crate::normalize::Origin;
use crate::normalize::{Event, Normalizer};
use crate::output::{ScoreThread, ScoreWriter};
use crate::parse::Format;
use crate::read::RunStats;
use crate::record::Record;
use crate::report::{cause, Collector, Coverage, Listed, RunInfo};
use crate::session::{millis, LineRef, Session, SessionConfig, SessionStats, Sessionizer, States, Step};

/// Applies the session flags over a configuration.
fn apply_session_args(cfg: &mut SessionConfig, key: &mut Option<String>, a: &SessionArgs) {
    if let Some(k) = &a.session_key {
        *key = Some(k.clone());
    }
    if let Some(t) = a.idle_timeout {
        cfg.idle_timeout = t;
    }
    if let Some(t) = a.end_grace {
        cfg.end_grace = t;
    }
    if let Some(n) = a.max_open_sessions {
        cfg.max_open = n.max(1);
    }
    if let Some(n) = a.window {
        cfg.window.events = n.max(1);
    }
    if let Some(s) = a.window_secs {
        cfg.window.seconds = Some(s);
    }
    if let Some(s) = a.window_step {
        cfg.window.step = Some(s);
    }
}

fn compile_key(key: Option<&str>) -> Result<Option<Regex>> {
    let Some(k) = key else { return Ok(None) };
    Regex::new(k).map(Some).map_err(|e| Error::Usage(format!("--session-key: {e}")))
}

/// The network of an address (IPv4 /24, IPv6 /64): a parameter that generalises better than the
/// address itself.
fn network(ip: &str) -> Option<String> {
    match ip.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            Some(format!("{}.{}.{}.0/24", o[0], o[1], o[2]))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            Some(format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]))
        }
    }
}

/// What feeding the inputs through normalize and sessionize gave.
struct Fed {
    run: RunStats,
    sessions: SessionStats,
    events: u64,
    /// Which layer named each record's state.
    coverage: Coverage,
}

/// What one record became.
pub(super) enum Stepped {
    /// A pre-parsed sequence: a whole session.
    Sequence(Session),
    /// An event for the sessions named in [`Stepper::keys`] (none: the window stream).
    Step(Step),
    /// `--session-key` was given and matched nothing on the line.
    Unkeyed,
}

/// Turns records into session steps: normalizes each, finds its entity keys (the rule's, or
/// `--session-key`'s) and takes the parameter values the model learns. Shared by `train`,
/// `score` and `watch`.
pub(super) struct Stepper<'a> {
    pub normalizer: Normalizer,
    key: Option<&'a Regex>,
    params: &'a [String],
    /// The keys of the last [`Stepped::Step`].
    pub keys: Vec<String>,
    pub events: u64,
    pub coverage: Coverage,
}

impl<'a> Stepper<'a> {
    pub fn new(normalizer: Normalizer, key: Option<&'a Regex>, params: &'a [String]) -> Self {
        Stepper { normalizer, key, params, keys: Vec::new(), events: 0, coverage: Coverage::default() }
    }

    pub fn step(&mut self, rec: &Record, origin: &Origin<'_>, line: LineRef, states: &mut States) -> Stepped {
        let event = self.normalizer.classify(rec);
        self.step_event(rec, event, origin, line, states)
    }

    /// [`Stepper::step`] for a record already classified ([`Normalizer::classify`]).
    pub fn step_event(&mut self, rec: &Record, mut event: Event, origin: &Origin<'_>, line: LineRef, states: &mut States) -> Stepped {
        self.events += 1;
        if let Some(seq) = &rec.sequence {
            self.coverage.sequence += 1;
            let ids = seq.events.iter().map(|e| states.intern(e)).collect();
            return Stepped::Sequence(Session::sequence(seq.id.clone(), ids, line));
        }
        self.normalizer.name(&mut event, rec);
        match (event.rule.as_deref(), event.action) {
            (Some("generic"), Some(_)) => self.coverage.generic += 1,
            (_, Some(_)) => self.coverage.standard += 1,
            (Some(_), None) => self.coverage.entity += 1,
            (None, None) => self.coverage.template += 1,
        }
        self.keys.clear();
        match self.key {
            Some(rx) => {
                for c in rx.captures_iter(origin.original) {
                    // The first capture group, or the whole match when there is none.
                    if let Some(m) = c.get(1).or_else(|| c.get(0)) {
                        if !self.keys.iter().any(|k| k == m.as_str()) {
                            self.keys.push(m.as_str().to_owned());
                        }
                    }
                }
                if self.keys.is_empty() {
                    self.coverage.unkeyed += 1;
                    return Stepped::Unkeyed;
                }
            }
            None => self.keys.extend(event.session_key.iter().cloned()),
        }
        let mut values = Vec::new();
        for p in self.params {
            for v in event.values(p, rec) {
                match p.as_str() {
                    "source_ip" => values.extend(network(&v).map(|n| ("source_net".to_owned(), n))),
                    _ => values.push((p.clone(), v)),
                }
            }
        }
        Stepped::Step(Step {
            state: states.intern(&event.state),
            time: rec.timestamp,
            line,
            params: values,
            ends: event.role == Some(Role::End),
            starts: event.role == Some(Role::Start),
        })
    }
}

/// Reads the inputs, normalizes each record, and hands each closed session to `sink`. Gives the
/// normalizer back (its miner has learnt the messages).
fn feed(
    input: &InputArgs,
    normalizer: Normalizer,
    states: &mut States,
    key: Option<&Regex>,
    params: &[String],
    config: &SessionConfig,
    mut sink: impl FnMut(Session, &States, &[String]) -> Result<()>,
) -> Result<(Fed, Normalizer)> {
    let mut sessionizer = Sessionizer::new(config.clone());
    let mut stepper = Stepper::new(normalizer, key, params);
    let mut files: Vec<String> = Vec::new();
    let mut closed: Vec<Session> = Vec::new();
    let mut sequences = 0u64;
    let rules = stepper.normalizer.rules();
    let run = for_each_event(input, rules, |rec, event, origin| {
        if files.last().map(String::as_str) != Some(origin.file) {
            files.push(origin.file.to_owned());
        }
        let line = LineRef { file: (files.len() - 1) as u32, line: origin.line };
        match stepper.step_event(rec, event, origin, line, states) {
            Stepped::Sequence(s) => {
                sequences += 1;
                sink(s, states, &files)?;
            }
            Stepped::Step(step) => {
                sessionizer.push(&stepper.keys, origin.file, step, &mut |s| closed.push(s));
                for s in closed.drain(..) {
                    sink(s, states, &files)?;
                }
            }
            Stepped::Unkeyed => {}
        }
        Ok(())
    })?;
    sessionizer.finish(&mut |s| closed.push(s));
    for s in closed.drain(..) {
        sink(s, states, &files)?;
    }
    let mut stats = sessionizer.stats();
    stats.sessions += sequences;
    let mut coverage = stepper.coverage;
    coverage.skipped = run.total.skipped_total();
    let fed = Fed { run, sessions: stats, events: stepper.events, coverage };
    Ok((fed, stepper.normalizer))
}

fn report_sessions(fed: &Fed, quiet: bool, key: bool) {
    if quiet {
        return;
    }
    let s = &fed.sessions;
    eprintln!(
        "logsieve: {} records, {} sessions ({} windows, {} timed out, {} evicted at the cap of open sessions; at most {} open)",
        fed.events, s.sessions, s.windows, s.timed_out, s.evicted, s.peak_open
    );
    if s.dropped_events > 0 {
        eprintln!("logsieve: {} events beyond the per-session cap were counted but not kept", s.dropped_events);
    }
    if key && fed.coverage.unkeyed > 0 {
        eprintln!("logsieve: {} records matched no --session-key and are in no session", fed.coverage.unkeyed);
    }
}

/// `logsieve train`.
pub fn train(args: &TrainArgs) -> Result<Outcome> {
    let mut options = match &args.config {
        Some(path) => {
            let name = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|source| Error::Open { path: name.clone(), source })?;
            toml::from_str::<TrainOptions>(&text).map_err(|e| Error::Usage(format!("{name}: {e}")))?
        }
        None => TrainOptions::default(),
    };
    apply_session_args(&mut options.session, &mut options.session_key, &args.session);
    if let Some(n) = args.ngram {
        options.ngram = usize::from(n);
    }
    if let Some(r) = args.max_fpr {
        options.max_fpr = r;
    }
    if !(options.max_fpr > 0.0 && options.max_fpr < 1.0) {
        return Err(Error::Usage(format!("--max-fpr must be between 0 and 1, not {}", options.max_fpr)));
    }
    options.ngram = options.ngram.clamp(1, 4);
    let key = compile_key(options.session_key.as_deref())?;
    let normalizer = Normalizer::new(Arc::new(RuleSet::load(args.input.rules.as_deref())?));
    let mut states = States::default();
    let mut sessions: Vec<Featured> = Vec::new();
    let (fed, normalizer) = feed(&args.input, normalizer, &mut states, key.as_ref(), &options.params, &options.session, |s, _, _| {
        sessions.push(Featured { states: s.states, params: s.params });
        Ok(())
    })?;
    report_sessions(&fed, args.input.quiet, key.is_some());
    if let Some((n, first)) = normalizer.mined_apart() {
        return Err(Error::Usage(format!(
            "{n} stored events name templates that contradict earlier ones (first: {first}): the inputs were normalized apart, so their template states do not name the same messages; normalize them in one run, or each with --model of one shared model"
        )));
    }
    if args.shard {
        let info = ModelInfo { rules: normalizer.rules_digest(), inputs: args.input.inputs.clone(), ..ModelInfo::default() };
        let shard = Shard::new(sessions, &states, options, Some(normalizer.miner().clone()), info);
        file::save_shard(&shard, &args.model)?;
        if !args.input.quiet {
            eprintln!(
                "logsieve: shard {}: {} sessions ({} distinct), {} states; join shards with `logsieve merge`",
                args.model.display(),
                shard.info.sessions,
                shard.sessions.len(),
                shard.states.len()
            );
        }
        return finish(&args.input, &fed.run);
    }
    let (sessions, states) = canonical(sessions, states.names());
    let mut model = Model::train(&sessions, &states, options)?;
    model.miner = Some(normalizer.miner().clone());
    model.info.rules = normalizer.rules_digest();
    model.info.inputs = args.input.inputs.clone();
    file::save(&model, &args.model)?;
    if !args.input.quiet {
        print_trained(&model, &args.model);
    }
    finish(&args.input, &fed.run)
}

/// `logsieve merge`: the model one process would train on the shards' data.
pub fn merge(args: &MergeArgs) -> Result<Outcome> {
    let shards = args.shards.iter().map(|p| file::load_shard(p)).collect::<std::result::Result<Vec<_>, _>>()?;
    let names: Vec<String> = args.shards.iter().map(|p| p.display().to_string()).collect();
    let merged = Shard::merge(&shards, &names).map_err(Error::Usage)?;
    let mut model = Model::train(&merged.sessions, &merged.states, merged.options)?;
    model.miner = merged.miner;
    model.info.rules = merged.rules;
    model.info.inputs = merged.inputs;
    file::save(&model, &args.model)?;
    if !args.quiet {
        eprintln!("logsieve: merged {} shards: {} sessions, {} events", shards.len(), model.info.sessions, model.info.events);
        print_trained(&model, &args.model);
    }
    Ok(Outcome::Ok)
}

/// The one-line summary of a trained model on stderr.
fn print_trained(model: &Model, path: &Path) {
    let c = &model.calibration;
    eprintln!(
        "logsieve: model {}: {} states, {} distinct {}-grams, threshold {:.3} (max FPR {}; {} of {} held-out clean sessions above it)",
        path.display(),
        model.states.len(),
        model.ngrams.distinct(),
        model.options.ngram,
        c.threshold,
        c.max_fpr,
        c.held_out_above,
        c.held_out
    );
}

/// What scoring needs besides the input: the model, how to cut sessions, the entity key and a
/// normalizer carrying the model's template miner.
pub(super) struct Scoring {
    pub model: Model,
    pub config: SessionConfig,
    pub key: Option<Regex>,
    pub normalizer: Normalizer,
}

impl Scoring {
    /// Loads the model and applies the session flags over its settings; warns when the rule
    /// packs differ from the model's.
    pub fn load(path: &Path, session: &SessionArgs, rules: Option<&Path>, quiet: bool) -> Result<Self> {
        let model = file::load(path)?;
        let mut config = model.options.session.clone();
        let mut key_text = model.options.session_key.clone();
        apply_session_args(&mut config, &mut key_text, session);
        let key = compile_key(key_text.as_deref())?;
        let rules = Arc::new(RuleSet::load(rules)?);
        let normalizer = Normalizer::with_miner(rules, model.miner.clone().unwrap_or_else(Miner::default));
        if normalizer.rules_digest() != model.info.rules && !quiet {
            eprintln!("logsieve: warning: the rule packs differ from the model's ({}): states may not match; retrain", model.info.rules);
        }
        Ok(Scoring { model, config, key, normalizer })
    }
}

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
            Format::Events => crate::output::events::read::raw_files(&inputs) > 1,
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
        let causes = v.reasons.iter().filter_map(|r| {
            let involved: Vec<&str> = r.states.iter().map(String::as_str).collect();
            cause(r.kind, r.component, &involved, r.field.as_deref(), r.value.as_deref(), &r.text)
        });
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

/// `logsieve eval`.
pub fn evaluate(args: &EvalArgs) -> Result<Outcome> {
    let scores = eval::read_scores(&args.scores)?;
    let labels = eval::read_labels(&args.labels)?;
    let report = eval::evaluate(&scores, &labels);
    if args.json {
        outln!("{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        let r = &report;
        outln!(
            "sessions {} (scored {}, missing {}; {} scored sessions unlabelled)",
            r.sessions,
            r.sessions - r.missing,
            r.missing,
            r.unlabelled
        );
        outln!("tp {}  fp {}  fn {}  tn {}", r.tp, r.fp, r.fn_, r.tn);
        outln!("precision {:.4}  recall {:.4}  f1 {:.4}  fpr {:.5}", r.precision, r.recall, r.f1, r.fpr);
        outln!("average precision (PR curve over the score) {:.4}", r.average_precision);
    }
    let plot = args.plot.clone().unwrap_or_else(|| args.scores.parent().unwrap_or(Path::new(".")).join("pr_curve.svg"));
    let svg =
        eval::pr_curve_svg(&report).map_err(|e| Error::Write { path: plot.display().to_string(), source: std::io::Error::other(e) })?;
    std::fs::write(&plot, svg).map_err(|source| Error::Write { path: plot.display().to_string(), source })?;
    if !args.json {
        outln!("precision-recall curve: {}", plot.display());
    }
    Ok(Outcome::Ok)
}

/// `logsieve model info`.
pub fn model_info(path: &Path, json: bool) -> Result<Outcome> {
    let m = file::load(path)?;
    let templates = m.miner.as_ref().map_or(0, Miner::len);
    let fields: Vec<(String, usize)> = m.values.fields.iter().map(|(f, v)| (f.clone(), v.len())).collect();
    if json {
        let v = serde_json::json!({
            "format_version": FORMAT_VERSION,
            "info": m.info,
            "options": m.options,
            "states": m.states.len(),
            "templates": templates,
            "ngrams": m.ngrams.distinct(),
            "pairs": m.pairs.len(),
            "fields": fields,
            "vector_dims": m.vectors.width(),
            "pca_components": m.vectors.pca.as_ref().map(|p| p.k),
            "neighbours": m.vectors.rows,
            "threshold": m.calibration.threshold,
            "max_fpr": m.calibration.max_fpr,
            "held_out": m.calibration.held_out,
            "held_out_above": m.calibration.held_out_above,
            "allowances": m.allowances,
        });
        outln!("{v}");
        return Ok(Outcome::Ok);
    }
    outln!("model        {} (format version {FORMAT_VERSION}, logsieve {}, rule packs {})", path.display(), m.info.logsieve, m.info.rules);
    outln!("trained on   {} sessions, {} events from {}", m.info.sessions, m.info.events, m.info.inputs.join(" "));
    let o = &m.options;
    outln!(
        "options      ngram {}, max_fpr {}, rare_share {}, folds {}, params [{}], session_key {}",
        o.ngram,
        o.max_fpr,
        o.rare_share,
        o.folds,
        o.params.join(", "),
        o.session_key.as_deref().unwrap_or("(rule packs)")
    );
    let s = &o.session;
    let window = match s.window.seconds {
        Some(secs) => format!("{secs} s"),
        None => format!("{} events", s.window.events),
    };
    outln!(
        "sessions     idle timeout {} s, end grace {} s, at most {} open, {} events each; windows of {window}{}",
        s.idle_timeout,
        s.end_grace,
        s.max_open,
        s.max_events,
        s.window.step.map(|st| format!(", step {st}")).unwrap_or_default()
    );
    outln!("states       {} ({} templates in the miner)", m.states.len(), templates);
    outln!("ngrams       {} distinct windows of {} (from {} windows)", m.ngrams.distinct(), o.ngram, m.ngrams.windows);
    outln!("cooccurrence {} state pairs", m.pairs.len());
    let f: Vec<String> = fields.iter().map(|(f, n)| format!("{f} ({n})")).collect();
    outln!("values       {}", if f.is_empty() { "none".to_owned() } else { f.join(", ") });
    outln!(
        "vectors      {} dimensions, PCA {} components, {} distinct training vectors for kNN",
        m.vectors.width(),
        m.vectors.pca.as_ref().map_or("none".to_owned(), |p| p.k.to_string()),
        m.vectors.rows
    );
    let c = &m.calibration;
    outln!(
        "threshold    {:.4} for max FPR {} ({} of {} held-out clean sessions above it)",
        c.threshold,
        c.max_fpr,
        c.held_out_above,
        c.held_out
    );
    if m.allowances.is_empty() {
        outln!("allowances   none");
    }
    for a in &m.allowances {
        outln!("allowance    {} at {}{}", a.what, a.when, a.note.as_deref().map(|n| format!(": {n}")).unwrap_or_default());
    }
    Ok(Outcome::Ok)
}

/// `logsieve allow`: review decisions into the model.
pub fn allow(args: &AllowArgs) -> Result<Outcome> {
    if args.session.is_empty() && args.window.is_empty() && args.value.is_empty() {
        return Err(Error::Usage(
            "allow: name what to allow: --session KEY (with --scores), --window \"a b c\" or --value FIELD=VALUE".into(),
        ));
    }
    let mut model = file::load(&args.model)?;
    let when = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let record = |model: &mut Model, what: String| {
        eprintln!("logsieve: allowed {}", crate::error::printable(&what));
        model.allowances.push(Allowance { what, when: when.clone(), note: args.note.clone() });
    };
    if !args.session.is_empty() {
        let Some(scores) = &args.scores else {
            return Err(Error::Usage("allow --session needs --scores DIR/scores.jsonl to look the session up in".into()));
        };
        // One pass over the scores for every key asked for.
        let mut found = vec![false; args.session.len()];
        crate::output::for_each_row(scores, |row| {
            let Some(k) = args.session.iter().position(|key| row["session"].as_str() == Some(key.as_str())) else { return Ok(()) };
            let events: Vec<String> =
                row["events"].as_array().ok_or("no \"events\" array")?.iter().map(|e| e.as_str().unwrap_or_default().to_owned()).collect();
            let values: Vec<(String, String)> = row["reasons"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|r| r["kind"] == "new_value")
                .filter_map(|r| Some((r["field"].as_str()?.to_owned(), r["value"].as_str()?.to_owned())))
                .collect();
            model.allow_session(&events, &values);
            found[k] = true;
            Ok(())
        })?;
        for (key, found) in args.session.iter().zip(found) {
            if !found {
                return Err(Error::Usage(format!("allow: session {key:?} is not in {}", scores.display())));
            }
            record(&mut model, format!("session {key}"));
        }
    }
    for w in &args.window {
        let names: Vec<String> = w.split_whitespace().map(str::to_owned).collect();
        model.allow_window(&names).map_err(|e| Error::Usage(format!("allow --window {w:?}: {e}")))?;
        record(&mut model, format!("window {}", names.join(" ")));
    }
    for v in &args.value {
        let Some((field, value)) = v.split_once('=') else {
            return Err(Error::Usage(format!("allow --value {v:?}: write FIELD=VALUE")));
        };
        model.allow_value(field, value);
        record(&mut model, format!("value {field}={value}"));
    }
    file::save(&model, &args.model)?;
    Ok(Outcome::Ok)
}

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
    let trained = train(&TrainArgs {
        input: input(path("train.log")),
        model: model.clone(),
        config: None,
        session: session.clone(),
        ngram: None,
        max_fpr: None,
        shard: false,
    })?;
    eprintln!("== score the new logs: {}", path("new.log"));
    let scored = score(&ScoreArgs {
        input: input(path("new.log")),
        model: model.clone(),
        out: args.out.clone(),
        session,
        fail_on_anomaly: false,
        lines_with_file: false,
    })?;
    let events = args.out.join("events.jsonl");
    let name = events.display().to_string();
    let file = std::fs::File::create(&events).map_err(|source| Error::Write { path: name.clone(), source })?;
    // Normalized from the model's miner, as `score` did, so the events' template states are
    // named as in scores.jsonl.
    super::normalize_into(&InputArgs { quiet: true, ..input(path("new.log")) }, Some(&model), file, &|source| Error::Write {
        path: name.clone(),
        source,
    })?;
    eprintln!("== compare the verdicts with the labels: {}", path("labels.csv"));
    evaluate(&EvalArgs { scores: args.out.join("scores.jsonl"), labels: dir.join("labels.csv"), plot: None, json: false })?;
    outln!("model:  {}", model.display());
    outln!("events: {}", events.display());
    outln!("report: {}", args.out.join("report.html").display());
    Ok(if trained == Outcome::Ok { scored } else { trained })
}

/// The demo's entity key: HDFS block ids.
pub const DEMO_KEY: &str = r"blk_-?\d+";

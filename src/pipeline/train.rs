//! `logsieve train` and `logsieve merge`: sessions → a model (or a shard of one).

use std::path::Path;
use std::sync::Arc;

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;

use super::feed::{feed, read_templates, report_sessions, Options};
use super::{finish, Outcome};
use crate::activity::Tally;
use crate::cli::{MergeArgs, TrainArgs};
use crate::error::{Error, Result};
use crate::model::components::Featured;
use crate::model::file;
use crate::model::shard::{canonical, Shard};
use crate::model::{Model, ModelInfo};
use crate::normalize::rules::RuleSet;
use crate::normalize::Normalizer;
use crate::session::{Session, States};

/// A session's states and parameter values.
type Content = (Vec<u32>, Vec<(String, String)>);

/// `logsieve train`.
pub fn train(args: &TrainArgs) -> Result<Outcome> {
    let (params, ngram_given) = args.params()?;
    file::check_destination(&args.model, if args.shard { "shard" } else { "model" })?;
    let templates = match &args.templates {
        Some(path) => read_templates(path)?,
        None => BTreeMap::new(),
    };
    let rules = Arc::new(RuleSet::load(args.input.rules.as_deref())?);
    // The entity fields the rule packs declare are followed too.
    let params = params.with_entities(rules.entities());
    let normalizer = Normalizer::new(rules);
    let mut states = States::default();
    // Training keeps each distinct session once, with how often it occurred and the smallest
    // key: sessions repeat a lot, so memory follows the distinct ones.
    let mut distinct: HashMap<Content, (String, u64)> = HashMap::default();
    let mut tally = Tally::default();
    let bucket = params.rate_bucket;
    let sink = |s: Session, _: &States, _: &[String]| {
        let content = (s.states, s.params);
        match distinct.get_mut(&content) {
            Some((key, count)) => {
                *count += 1;
                if s.key < *key {
                    *key = s.key;
                }
            }
            None => {
                // Held until training: without the room a growing session kept (a session's
                // first parameter alone reserves four).
                let (mut states, mut params) = content;
                states.shrink_to_fit();
                params.shrink_to_fit();
                distinct.insert((states, params), (s.key, 1));
            }
        }
        Ok(())
    };
    let options = Options { key: params.key(), params: &params.params, entities: &params.entities, session: &params.session };
    let (fed, normalizer) = feed(&args.input, normalizer, &mut states, &options, &templates, sink, |act| tally.observe(act, bucket))?;
    let sessions: Vec<(Featured, u64)> =
        distinct.into_iter().map(|((states, params), (key, count))| (Featured { key, states, params }, count)).collect();
    report_sessions(&fed, args.input.quiet, params.session_key.as_deref().map(|k| (k, true)));
    if fed.run.inputs.iter().any(|i| i.error.is_some()) {
        // A baseline from part of the clean period passes for one from all of it.
        let outcome = finish(&args.input, &fed.run)?;
        eprintln!("logsieve: no {} written: an input could not be read (see above)", if args.shard { "shard" } else { "model" });
        return Ok(outcome);
    }
    // Pure sequences (every record a pre-cut sequence): their scoring, and a chosen window.
    let params = if fed.coverage.sequence > 0 && fed.coverage.sequence == fed.events { params.for_sequences(ngram_given) } else { params };
    if let Some((n, first)) = normalizer.mined_apart() {
        return Err(Error::Data(format!(
            "{n} stored events name templates that contradict earlier ones (first: {first}): the inputs were normalized apart, so their template states do not name the same messages; normalize them in one run, or each with --model of one shared model"
        )));
    }
    if args.shard {
        let info = ModelInfo { rules: normalizer.rules_digest(), inputs: args.input.inputs.clone(), ..ModelInfo::default() };
        let shard = Shard::new(sessions, &states, params.into_options(), Some(normalizer.miner().clone()), templates, info, tally);
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
    let (sessions, states) = canonical(sessions, &states);
    let entities = tally.baseline(params.rate_bucket, params.contamination);
    let mut model = Model::train(&sessions, &states, params)?;
    model.entities = entities;
    model.miner = Some(normalizer.miner().clone());
    model.templates = templates;
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
    file::check_destination(&args.model, "model")?;
    let shards = args.shards.iter().map(|p| file::load_shard(p)).collect::<std::result::Result<Vec<_>, _>>()?;
    let names: Vec<String> = args.shards.iter().map(|p| p.display().to_string()).collect();
    let merged = Shard::merge(&shards, &names).map_err(Error::Data)?;
    let entities = merged.tally.baseline(merged.options.rate_bucket, merged.options.contamination);
    let mut model = Model::train(&merged.sessions, &merged.states, merged.options.check()?)?;
    model.entities = entities;
    model.miner = merged.miner;
    model.templates = merged.templates;
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

//! `logsieve model info`: what a model holds.

use std::path::Path;

use super::Outcome;
use crate::activity::ALL;
use crate::error::Result;
use crate::model::file::{self, FORMAT_VERSION};
use crate::normalize::miner::Miner;

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
            "contamination": m.options.contamination,
            "errors": m.errors,
            "set_aside": m.set_aside,
            "entities": {
                "fields": m.options.entities,
                "rate_bucket": m.options.rate_bucket,
                "rates": m.entities.rates.iter().map(|((k, a), r)| serde_json::json!({"field": k, "event": a, "busiest": r.busiest, "busiest_minute": r.short, "breadth": r.breadth, "entities": r.entities})).collect::<Vec<_>>(),
                "contexts": m.entities.contexts.len(),
            },
        });
        outln!("{v}");
        return Ok(Outcome::Ok);
    }
    outln!("model        {} (format version {FORMAT_VERSION}, logsieve {}, rule packs {})", path.display(), m.info.logsieve, m.info.rules);
    outln!("trained on   {} sessions, {} events from {}", m.info.sessions, m.info.events, m.info.inputs.join(" "));
    let o = &m.options;
    outln!(
        "options      ngram {}, max_fpr {}, rare_share {}, contamination {}, folds {}, params [{}], session_key {}",
        o.ngram,
        o.max_fpr,
        o.rare_share,
        o.contamination,
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
    let e = &m.entities;
    let busiest: Vec<String> = e
        .rates
        .iter()
        .filter(|((_, act), _)| act.contains("failure"))
        .map(|((k, a), r)| {
            let minute = r.short.map(|m| format!(" ({m} in any minute)")).unwrap_or_default();
            let whose = match k.as_str() {
                "user" => "for a user".to_owned(),
                "source_ip" => "from a source".to_owned(),
                ALL => "in the whole log".to_owned(),
                k => format!("per {k}"),
            };
            format!("{a} {whose} {} per {} s{minute}", r.busiest, e.bucket_secs)
        })
        .take(4)
        .collect();
    outln!(
        "entities     [{}]: rates of {} (field, event) pairs in {} s buckets, {} contexts of values{}",
        o.entities.join(", "),
        e.rates.len(),
        o.rate_bucket,
        e.contexts.len(),
        if busiest.is_empty() { String::new() } else { format!("; at most {}", busiest.join(", ")) }
    );
    outln!(
        "vectors      {} dimensions, PCA {}, {} distinct training vectors for kNN",
        m.vectors.width(),
        m.vectors.pca.as_ref().map_or("none".to_owned(), |p| format!("{} components", p.k)),
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
    outln!(
        "errors       {} error states{}",
        m.errors.len(),
        if m.errors.is_empty() { String::new() } else { format!(": {}", m.errors.iter().take(8).cloned().collect::<Vec<_>>().join(", ")) }
    );
    let a = &m.set_aside;
    outln!(
        "set aside    {} of {} training sessions as anomalous (contamination {}){}",
        a.total,
        m.info.sessions,
        o.contamination,
        if a.total == 0 { "" } else { ":" }
    );
    for s in a.listed.iter().take(20) {
        let same = if s.sessions > 1 { format!(" (and {} identical)", s.sessions - 1) } else { String::new() };
        outln!("  {}{same}, score {:.2}: {}", s.key, s.score, s.reasons.first().map(String::as_str).unwrap_or("-"));
    }
    if a.listed.len() > 20 {
        outln!("  ... {} more distinct sessions (model info --json lists {})", a.listed.len() - 20, a.listed.len());
    }
    if m.allowances.is_empty() {
        outln!("allowances   none");
    }
    for a in &m.allowances {
        outln!("allowance    {} at {}{}", a.what, a.when, a.note.as_deref().map(|n| format!(": {n}")).unwrap_or_default());
    }
    Ok(Outcome::Ok)
}

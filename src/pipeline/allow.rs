//! `logsieve allow`: review decisions into the model.

use super::Outcome;
use crate::cli::AllowArgs;
use crate::error::{Error, Result};
use crate::model::{file, Allowance, Model, Reason, ReasonKind};
use crate::session::Closed;

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
            let Some(k) = args.session.iter().position(|key| row.session == key.as_str()) else { return Ok(()) };
            found[k] = true;
            if row.closed == Closed::Entity {
                // A finding about a source or user: its count becomes normal for that kind of
                // entity, or its value for its context.
                for r in row.reasons.iter() {
                    allow_finding(&mut model, r);
                }
                return Ok(());
            }
            let events: Vec<String> = row.events.iter().map(|e| e.clone().into_owned()).collect();
            let values: Vec<(String, String)> =
                row.reasons.iter().filter_map(|r| r.new_value()).map(|(f, v)| (f.to_owned(), v.to_owned())).collect();
            model.allow_session(&events, &values);
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

/// Makes an entity finding normal in the model's entity baselines.
fn allow_finding(model: &mut Model, r: &Reason) {
    let (Some(field), Some(value)) = (r.field.as_deref(), r.value.as_deref()) else { return };
    let act = r.states.first().map(String::as_str).unwrap_or_default();
    let (count, breadth) = (r.count.unwrap_or(0), r.breadth.unwrap_or(0));
    match r.kind {
        ReasonKind::RateBurst | ReasonKind::Breadth => model.entities.allow_rate(field, act, count, breadth),
        ReasonKind::FailuresThenSuccess => model.entities.allow_rate(field, "authentication.login.failure", count, 0),
        ReasonKind::Silence => model.entities.allow_silence(act),
        ReasonKind::NewInContext => {
            if let Some((spec, context)) = field.split_once('/') {
                model.entities.allow_value(spec, context, value);
            }
        }
        _ => {}
    }
}

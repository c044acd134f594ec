//! The report's first section: every finding about a source or user, grouped by entity, with a
//! plot of each burst against the clean period's band, its lines and its `allow` command.

use std::path::Path;

use maud::{html, Markup, PreEscaped};

use super::collector::RateSeries;
use super::page::{allow_command, raw_lines, t};
use super::{plots, Collector, Listed, RunInfo};

/// The findings grouped by entity, the group with the highest-scoring finding first; in a group,
/// by time.
pub(super) fn entities(c: &Collector) -> Vec<(&str, Vec<&Listed>)> {
    let mut groups: Vec<(&str, Vec<&Listed>)> = Vec::new();
    for l in &c.findings {
        let e = l.entity.as_deref().unwrap_or("-");
        match groups.iter_mut().find(|(g, _)| *g == e) {
            Some((_, v)) => v.push(l),
            None => groups.push((e, vec![l])),
        }
    }
    // A brute force that got in first, then an entity with a value new to its context, then by
    // score.
    let urgency = |v: &[&Listed]| v.iter().map(|l| l.urgency).max().unwrap_or(0);
    let top = |v: &[&Listed]| v.iter().map(|l| l.score).fold(f64::MIN, f64::max);
    groups.sort_by(|a, b| urgency(&b.1).cmp(&urgency(&a.1)).then(top(&b.1).total_cmp(&top(&a.1))).then(a.0.cmp(b.0)));
    for (_, v) in &mut groups {
        v.sort_by(|a, b| a.start.cmp(&b.start).then(a.key.cmp(&b.key)));
    }
    groups
}

/// The rate plots of an entity's bursts: per event, the finding with the longest series (at most
/// three events).
fn rates<'a>(items: &[&'a Listed]) -> Vec<&'a RateSeries> {
    let mut out: Vec<&RateSeries> = Vec::new();
    for r in items.iter().filter_map(|l| l.rate.as_ref()) {
        match out.iter_mut().find(|o| o.act == r.act) {
            Some(o) if o.series.len() < r.series.len() => *o = r,
            Some(_) => {}
            None => out.push(r),
        }
    }
    out.truncate(3);
    out
}

/// Findings about sources and users: every one, grouped by entity, with its lines and the
/// command that marks it normal.
pub(super) fn findings(c: &Collector, info: &RunInfo, scores: &Path) -> Markup {
    if c.findings.is_empty() {
        return html! {};
    }
    let groups = entities(c);
    html! {
        h2 #findings { "Findings about sources and users" }
        p { small { "What each source address and user did across sessions, daemons and files, against the clean period:     bursts of one kind of event, one source trying many users (or one user coming from many sources), login failures then a success     from one source, and values new to their context (a first password login by a user, a first sudo). Every finding is listed,     grouped by entity: a source whose failures ended in a login first, then entities with a value new to its context, then by significance. A burst's plot shows the entity's count of the event per time bucket (blue, red \
    where it is a finding) against the clean period: the busiest entity's busiest bucket (green) and the least count that is a finding (red line)." } }
        @if c.findings_dropped > 0 {
            p.bad { (c.findings_dropped) " more findings are in scores.jsonl (rows with \"closed\": \"entity\") but not on this page." }
        }
        @for (entity, items) in &groups {
            div.entity {
                h3 { (t(entity)) " " small { (items.len()) (if items.len() == 1 { " finding" } else { " findings" }) } }
                @for r in rates(items) {
                    (PreEscaped(plots::rate(&r.act, &r.series, r.band)))
                }
                ul.found {
                    @for l in items {
                        li {
                            @for r in &l.reasons { (t(r)) }
                            " " small { (t(l.start.as_deref().unwrap_or("-"))) }
                            details {
                                summary { (l.total_lines) " input lines" }
                                div.lines { (raw_lines(l)) }
                            }
                            @if let Some(cmd) = allow_command(&info.model, &l.key, scores) {
                                div.allow { "Normal after review? " code { (t(&cmd)) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

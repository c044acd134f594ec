//! The page itself: the HTML of `report.html` from a [`Collector`], the model and the run's
//! accounting, with everything taken from the logs escaped.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use super::{plots, Collector, InputRow, RunInfo, REASONS};
use crate::model::Model;

/// Escapes text for HTML; control characters (other than tab and newline) become U+FFFD, so
/// terminal escapes in a log line cannot reach the page as anything but a mark.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Reasons grouped by cause shown at most.
const CAUSES_SHOWN: usize = 15;
/// Marked states described at most under a listed session.
const MEANT: usize = 8;

/// A cause in words, escaped, with each state that names a message template given its template
/// as a tooltip.
fn with_titles(words: &str, templates: &std::collections::BTreeMap<String, String>) -> String {
    words
        .split(' ')
        .map(|w| match templates.get(w) {
            Some(t) => format!("<span class=ev title=\"{}\">{}</span>", esc(t), esc(w)),
            None => esc(w),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The states whose share of events moved most between training and the new logs.
fn shifts(c: &Collector, model: &Model) -> Vec<(String, f64, f64)> {
    let mut train: HashMap<&str, u64> = HashMap::new();
    for (id, n) in model.ngrams.unigrams() {
        if let Some(name) = model.states.get(id as usize) {
            train.insert(name.as_str(), n);
        }
    }
    let train_total: u64 = train.values().sum();
    let mut names: Vec<&str> = train.keys().copied().chain(c.counts.keys().map(String::as_str)).collect();
    names.sort_unstable();
    names.dedup();
    let mut rows: Vec<(String, f64, f64)> = names
        .into_iter()
        .map(|name| {
            let t = train.get(name).copied().unwrap_or(0) as f64 / train_total.max(1) as f64;
            let n = c.counts.get(name).copied().unwrap_or(0) as f64 / c.events.max(1) as f64;
            (name.to_owned(), t, n)
        })
        .collect();
    // By each state's term of the squared Hellinger distance between the two distributions: a
    // state that appears or vanishes ranks above a large one that wobbles by the same share.
    let term = |r: &(String, f64, f64)| (r.1.sqrt() - r.2.sqrt()).powi(2);
    rows.sort_by(|a, b| term(b).total_cmp(&term(a)).then(a.0.cmp(&b.0)));
    rows.truncate(15);
    rows
}

/// A state sequence as runs of one state: (state, repeats, any of them marked). A marked event
/// starts a run of its own, so a marked window stays visible inside a long repetition.
fn runs<'a>(events: &'a [String], marked: &[bool]) -> Vec<(&'a str, usize, bool)> {
    let mut out: Vec<(&str, usize, bool)> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let m = marked.get(i).copied().unwrap_or(false);
        match out.last_mut() {
            Some(last) if last.0 == e.as_str() && last.2 == m => last.1 += 1,
            _ => out.push((e.as_str(), 1, m)),
        }
    }
    out
}

/// The `logsieve allow` command that marks session `key` normal, quoted for a POSIX shell; `None`
/// when the key holds characters the page cannot show as they are (control characters).
fn allow_command(model: &str, key: &str, scores: &Path) -> Option<String> {
    if key.chars().any(|c| c.is_control()) || model.chars().any(|c| c.is_control()) {
        return None;
    }
    let scores = scores.to_str()?;
    let words = ["logsieve", "allow", "--model", model, "--session", key, "--scores", scores, "--note"];
    Some(format!("{} 'reviewed: ...'", shlex::try_join(words).ok()?))
}

/// Writes the report page; `scores` is the `scores.jsonl` it was drawn from, which the `allow`
/// commands it offers name.
pub fn render(c: &Collector, model: &Model, info: &RunInfo, scores: &Path) -> String {
    let threshold = model.calibration.threshold;
    let mut h = String::with_capacity(64 * 1024);
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>logsieve report</title><style>\
body{{font-family:sans-serif;margin:24px;color:#222;max-width:1200px}}h1{{margin-bottom:4px}}h2{{margin-top:28px}}\
table{{border-collapse:collapse;margin:8px 0}}td,th{{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}}\
th{{background:#f3f3f3}}#top th{{cursor:pointer}}.num{{text-align:right}}.ev{{font-family:monospace;font-size:12px}}\
.ev span{{display:inline-block;margin:1px;padding:0 3px;border-radius:3px;background:#eef}}.ev span.hit{{background:#fbb;font-weight:bold}}\
.lines{{font-family:monospace;font-size:11px;color:#333;white-space:pre-wrap;overflow-wrap:anywhere;margin-top:4px}}summary{{cursor:pointer;color:#555;margin-top:6px}}.lines span.hit{{background:#fdd}}tbody{{border-top:2px solid #999}}\
.lines b{{color:#777;font-weight:normal}}.big{{font-size:20px}}small{{color:#666}}svg{{max-width:100%;height:auto}}\
ul{{margin:0;padding-left:18px}}ul.meant{{font-size:12px;margin-top:4px;color:#333}}code{{font-size:12px}}code.tpl{{color:#555}}.allow{{font-size:12px;color:#555;margin-top:4px}}.allow code{{user-select:all;background:#f6f6f6;padding:1px 4px}}ul.meant b{{font-family:monospace;font-weight:normal;background:#fbb;padding:0 3px;border-radius:3px}}.bad{{color:#c00;font-weight:bold}}</style></head><body>"
    );
    let _ = write!(
        h,
        "<h1>logsieve report</h1><p class=\"big\"><b>{}</b> of {} sessions anomalous (threshold {:.2}, for a false-positive rate of {} on held-out clean sessions)</p>",
        c.anomalous, c.sessions, threshold, model.calibration.max_fpr
    );
    if c.threshold.is_some_and(|t| (t - threshold).abs() > 1e-6) {
        let _ = write!(
            h,
            "<p class=bad>The scores were written with threshold {:.3}; the model now says {:.3}.</p>",
            c.threshold.unwrap_or_default(),
            threshold
        );
    }
    if c.anomalous > 0 {
        h.push_str("<p><a href=\"#flagged\">The anomalous sessions, with their reasons and lines</a></p>");
    }
    let rank: HashMap<&str, usize> = c.top.iter().enumerate().map(|(i, l)| (l.key.as_str(), i)).collect();
    let causes = c.top_causes(CAUSES_SHOWN);
    if !causes.is_empty() {
        let _ = write!(
            h,
            "<h2>Why sessions were flagged</h2><p><small>The reasons the anomalous sessions give, where in the session left out, by how many \
anomalous sessions give each ({} distinct{}). A session usually gives several. Hover a state for its message template.</small></p>\
<table><tr><th>reason</th><th>anomalous sessions</th><th>highest-scoring of them</th></tr>",
            c.causes.len(),
            if c.causes_dropped > 0 { format!("; {} more not counted once {} were held", c.causes_dropped, super::CAUSES) } else { String::new() }
        );
        for (words, g) in causes {
            // A cause about one state (unseen) says what the state's message is.
            let template = g
                .state
                .as_ref()
                .and_then(|s| info.templates.get(s))
                .map(|t| format!("<br><code class=tpl>{}</code>", esc(t)))
                .unwrap_or_default();
            let key = match rank.get(g.key.as_str()) {
                Some(i) => format!("<a href=\"#s{i}\">{}</a>", esc(&g.key)),
                None => esc(&g.key),
            };
            let _ = write!(
                h,
                "<tr><td>{}{template}</td><td class=num>{}</td><td class=ev>{key} <small>({:.2})</small></td></tr>",
                with_titles(words, &info.templates),
                g.sessions,
                g.score
            );
        }
        h.push_str("</table>");
    }
    let _ = write!(h, "<h2>Input</h2><table><tr><th>file</th><th>lines read</th><th>parsed</th><th>skipped</th><th>no timestamp</th></tr>");
    let row = |h: &mut String, i: &InputRow, tag: &str| {
        let skipped: u64 = i.skipped.values().sum();
        let why: Vec<String> = i.skipped.iter().map(|(k, v)| format!("{v} {k}")).collect();
        let _ = write!(
            h,
            "<tr><{tag}>{}{}</{tag}><{tag} class=num>{}</{tag}><{tag} class=num>{}</{tag}><{tag} class=num title=\"{}\">{skipped}</{tag}><{tag} class=num>{}</{tag}></tr>",
            esc(&i.file),
            i.error.as_deref().map(|e| format!("<br><span class=bad>{}</span>", esc(e))).unwrap_or_default(),
            i.read,
            i.parsed,
            esc(&why.join(", ")),
            i.without_timestamp
        );
    };
    for i in &info.inputs {
        row(&mut h, i, "td");
    }
    row(&mut h, &InputRow { file: "total".into(), error: None, ..info.total.clone() }, "th");
    h.push_str("</table>");
    let s = &info.sessions;
    let _ = write!(
        h,
        "<p>{} events in {} sessions ({} windows of events without an entity key, {} closed by the idle timeout, {} evicted at the cap of open sessions{}). \
Model <code>{}</code>: trained on {} sessions, {} states, {}-grams, logsieve {}, rule packs {}{}.</p>",
        c.events,
        c.sessions,
        s.windows,
        s.timed_out,
        s.evicted,
        if info.coverage.unkeyed > 0 { format!("; {} records matched no --session-key and are in no session", info.coverage.unkeyed) } else { String::new() },
        esc(&info.model),
        model.info.sessions,
        model.states.len(),
        model.options.ngram,
        esc(&model.info.logsieve),
        esc(&model.info.rules),
        if model.allowances.is_empty() { String::new() } else { format!(", {} review allowances", model.allowances.len()) }
    );
    if !model.allowances.is_empty() {
        let items: String = model
            .allowances
            .iter()
            .map(|a| {
                format!("<li><code>{}</code> <small>{}</small> {}</li>", esc(&a.what), esc(&a.when), esc(a.note.as_deref().unwrap_or("")))
            })
            .collect();
        let _ = write!(
            h,
            "<details><summary>What review allowed in this model ({})</summary><ul>{items}</ul></details>",
            model.allowances.len()
        );
    }
    let _ = write!(h, "<h2>Score over {}</h2>", if c.timed { "log time" } else { "the input" });
    h.push_str("<p><small>One dot per session; red above the threshold (the black line).</small></p>");
    h.push_str(&plots::timeline(c, threshold));
    h.push_str("<h2>Score histogram: new sessions against held-out training sessions</h2>");
    h.push_str(&plots::histogram(c, model));
    h.push_str("<h2>Nomenclature coverage</h2><p><small>What named each record's state: a rule pack's standard event, the generic layer's standard outcome, or the message template; lines skipped by the parsers are counted apart.</small></p>");
    h.push_str(&plots::coverage(&info.coverage));
    let shifted = shifts(c, model);
    h.push_str("<h2>Largest shifts in state frequency</h2><p><small>The states whose share of all events moved most between the training \
sessions (<span style=\"color:#0a0\">&#9632;</span> upper bar) and the new logs (<span style=\"color:#00f\">&#9632;</span> lower bar), \
ranked by their term of the Hellinger distance, so states that appear or vanish come first; a state with no training bar is new.</small></p>");
    h.push_str(&plots::shifts(&shifted));
    // Template states get their message template; states given by the input (sequences) or
    // standard names have none, and then there is no such column.
    let templated = shifted.iter().any(|r| info.templates.contains_key(&r.0));
    let _ = write!(
        h,
        "<table><tr><th>state</th><th>share in training</th><th>share in the new logs</th>{}</tr>",
        if templated { "<th>message template</th>" } else { "" }
    );
    for (name, tr, nw) in &shifted {
        let template = match info.templates.get(name) {
            Some(t) => format!("<td class=ev>{}</td>", esc(t)),
            None if templated => "<td></td>".to_owned(),
            None => String::new(),
        };
        let _ = write!(
            h,
            "<tr><td class=ev>{}</td><td class=num>{:.2}%</td><td class=num>{:.2}%</td>{template}</tr>",
            esc(name),
            tr * 100.0,
            nw * 100.0
        );
    }
    h.push_str("</table>");
    let _ = write!(
        h,
        "<h2 id=flagged>Highest-scoring sessions</h2><p><small>The {} sessions with the highest scores, most anomalous first (click a heading to sort). \
Under each: its states in order, those in a window or a state never seen in training in red, and the input lines behind it, read back from the inputs \
when the report was written. A flagged session that review finds normal is marked so with the <code>logsieve allow</code> command under it; \
score the logs again, and sessions with its states are no longer flagged.</small></p>\
<table id=top><thead><tr><th>session</th><th>time span</th><th>score</th><th>verdict</th><th>why</th><th>new values</th></tr></thead>",
        c.top.len()
    );
    for (rank, l) in c.top.iter().enumerate() {
        let events: String = runs(&l.events, &l.marked)
            .iter()
            .map(|&(e, n, m)| {
                let times = if n > 1 { format!(" ×{n}") } else { String::new() };
                let title = info.templates.get(e).map(|t| format!(" title=\"{}\"", esc(t))).unwrap_or_default();
                format!("<span{}{title}>{}{times}</span>", if m { " class=hit" } else { "" }, esc(e))
            })
            .collect::<Vec<_>>()
            .join(" ");
        let item = |r: &String| format!("<li>{}</li>", esc(r));
        let mut reasons: String = l.reasons.iter().take(REASONS).map(item).collect();
        if l.reasons.len() > REASONS {
            let more: String = l.reasons.iter().skip(REASONS).map(item).collect();
            let _ = write!(reasons, "<details><summary>{} more</summary>{more}</details>", l.reasons.len() - REASONS);
        }
        let values: String = l.values.iter().map(|v| format!("<li>{}</li>", esc(v))).collect();
        // What the marked states stand for, when they are message templates.
        let mut meant: Vec<&str> = Vec::new();
        for (e, _) in l.events.iter().zip(&l.marked).filter(|(_, m)| **m) {
            if !meant.contains(&e.as_str()) {
                meant.push(e);
            }
        }
        let meant: String = meant
            .iter()
            .filter_map(|e| Some(format!("<li><b>{}</b> <code>{}</code></li>", esc(e), esc(info.templates.get(*e)?))))
            .take(MEANT)
            .collect();
        let meant = if meant.is_empty() { meant } else { format!("<ul class=meant>{meant}</ul>") };
        let allow = match allow_command(&info.model, &l.key, scores) {
            Some(cmd) if l.anomalous => format!("<div class=allow>Normal after review? <code>{}</code></div>", esc(&cmd)),
            _ => String::new(),
        };
        let mut lines = String::new();
        let mut next = 0;
        for (k, (i, f, n)) in l.lines.iter().enumerate() {
            let i = *i;
            if i > next {
                let _ = writeln!(lines, "<b>... {} lines</b>", i - next);
            }
            next = i + 1;
            let hit = if l.marked.get(i).copied().unwrap_or(false) { " class=hit" } else { "" };
            let text = l.raw.get(k).cloned().flatten().map(|t| esc(&t)).unwrap_or_default();
            let _ = writeln!(lines, "<span{hit}><b>{}:{n}</b>  {text}</span>", esc(f));
        }
        if l.total_lines > next {
            let _ = writeln!(lines, "<b>... {} lines (all in \"lines\" of scores.jsonl)</b>", l.total_lines - next);
        }
        let _ = write!(
            h,
            "<tbody id=s{rank}><tr><td class=ev>{}</td><td><small>{}<br>{}</small></td><td class=num>{:.2}</td><td>{}</td><td><ul>{reasons}</ul></td><td class=ev><ul>{values}</ul></td></tr>\
<tr><td colspan=6><div class=ev>{} states: {events}</div>{meant}{allow}<details{}><summary>{} input lines (those behind the red states first)</summary><div class=lines>{lines}</div></details></td></tr></tbody>",
            esc(&l.key),
            esc(l.start.as_deref().unwrap_or("-")),
            esc(l.end.as_deref().unwrap_or("-")),
            l.score,
            if l.anomalous { "<span class=bad>anomalous</span>" } else { "below threshold" },
            l.events.len(),
            if l.anomalous && rank < 10 { " open" } else { "" },
            l.total_lines,
        );
    }
    h.push_str("</table>");
    h.push_str(
        "<script>document.querySelectorAll('#top thead th').forEach((th,i)=>th.onclick=()=>{const t=th.closest('table');\
const bodies=[...t.tBodies];const num=i==2;const d=th.dataset.d=th.dataset.d==='a'?'d':'a';\
bodies.sort((a,b)=>{const x=a.rows[0].cells[i].innerText,y=b.rows[0].cells[i].innerText;const c=num?parseFloat(x)-parseFloat(y):x.localeCompare(y);return d==='a'?c:-c});\
bodies.forEach(b=>t.appendChild(b))});</script></body></html>\n",
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_markup_and_control_characters_inert() {
        assert_eq!(esc("<script>a&b</script>"), "&lt;script&gt;a&amp;b&lt;/script&gt;");
        assert_eq!(esc("x\"y'z"), "x&quot;y&#39;z");
        assert_eq!(esc("red \u{1b}[31m\tnl\n"), "red \u{FFFD}[31m\tnl\n");
    }

    #[test]
    fn allow_commands_quote_the_key_for_the_shell_or_are_not_offered() {
        let scores = Path::new("out dir/scores.jsonl");
        for key in ["blk_-123", "sshd@host:42", "it's <b>&\"$(rm -rf ~)\"`x`"] {
            let cmd = allow_command("m.model", key, scores).unwrap();
            let words = shlex::split(&cmd).unwrap();
            assert_eq!(
                words[..8],
                ["logsieve", "allow", "--model", "m.model", "--session", key, "--scores", "out dir/scores.jsonl"],
                "{cmd}"
            );
        }
        assert_eq!(allow_command("m.model", "a\u{1b}[31mb", scores), None);
    }

    #[test]
    fn runs_fold_repeats_but_keep_marked_events_apart() {
        let ev: Vec<String> = ["a", "b", "b", "b", "b", "c"].iter().map(|s| s.to_string()).collect();
        let marked = [false, false, false, true, true, false];
        assert_eq!(runs(&ev, &marked), vec![("a", 1, false), ("b", 2, false), ("b", 2, true), ("c", 1, false)]);
        assert_eq!(runs(&[], &[]), vec![]);
    }
}

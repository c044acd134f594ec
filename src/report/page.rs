//! The page itself: the HTML of `report.html` from a [`Collector`], the model and the run's
//! accounting, with everything taken from the logs escaped.

use std::collections::HashMap;
use std::fmt::Write as _;

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
    rows.sort_by(|a, b| (b.2 - b.1).abs().total_cmp(&(a.2 - a.1).abs()).then(a.0.cmp(&b.0)));
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

/// Writes the report page.
pub fn render(c: &Collector, model: &Model, info: &RunInfo) -> String {
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
ul{{margin:0;padding-left:18px}}.bad{{color:#c00;font-weight:bold}}</style></head><body>"
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
    let _ = write!(h, "<h2>Score over {}</h2>", if c.timed { "log time" } else { "the input" });
    h.push_str("<p><small>One dot per session; red above the threshold (the black line).</small></p>");
    h.push_str(&plots::timeline(c, threshold));
    h.push_str("<h2>Score histogram: new sessions against held-out training sessions</h2>");
    h.push_str(&plots::histogram(c, model));
    h.push_str("<h2>Nomenclature coverage</h2><p><small>What named each record's state: a rule pack's standard event, the generic layer's standard outcome, or the message template; lines skipped by the parsers are counted apart.</small></p>");
    h.push_str(&plots::coverage(&info.coverage));
    h.push_str("<h2>Largest shifts in state frequency (share of events)</h2><table><tr><th>state</th><th>training</th><th>new</th></tr>");
    for (name, tr, nw) in shifts(c, model) {
        let _ = write!(h, "<tr><td class=ev>{}</td><td class=num>{:.4}</td><td class=num>{:.4}</td></tr>", esc(&name), tr, nw);
    }
    h.push_str("</table>");
    let _ = write!(
        h,
        "<h2 id=flagged>Highest-scoring sessions</h2><p><small>The {} sessions with the highest scores, most anomalous first (click a heading to sort). \
Under each: its states in order, those in a window or a state never seen in training in red, and the input lines behind it, read back from the inputs \
when the report was written.</small></p>\
<table id=top><thead><tr><th>session</th><th>time span</th><th>score</th><th>verdict</th><th>why</th><th>new values</th></tr></thead>",
        c.top.len()
    );
    for (rank, l) in c.top.iter().enumerate() {
        let events: String = runs(&l.events, &l.marked)
            .iter()
            .map(|&(e, n, m)| {
                let times = if n > 1 { format!(" ×{n}") } else { String::new() };
                format!("<span{}>{}{times}</span>", if m { " class=hit" } else { "" }, esc(e))
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
            "<tbody><tr><td class=ev>{}</td><td><small>{}<br>{}</small></td><td class=num>{:.2}</td><td>{}</td><td><ul>{reasons}</ul></td><td class=ev><ul>{values}</ul></td></tr>\
<tr><td colspan=6><div class=ev>{} states: {events}</div><details{}><summary>{} input lines (those behind the red states first)</summary><div class=lines>{lines}</div></details></td></tr></tbody>",
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
    fn runs_fold_repeats_but_keep_marked_events_apart() {
        let ev: Vec<String> = ["a", "b", "b", "b", "b", "c"].iter().map(|s| s.to_string()).collect();
        let marked = [false, false, false, true, true, false];
        assert_eq!(runs(&ev, &marked), vec![("a", 1, false), ("b", 2, false), ("b", 2, true), ("c", 1, false)]);
        assert_eq!(runs(&[], &[]), vec![]);
    }
}

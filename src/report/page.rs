//! The page itself: the HTML of `report.html` from a [`Collector`], the model and the run's
//! accounting, with everything taken from the logs escaped.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

use maud::{html, Markup, PreEscaped, Render, DOCTYPE};

use super::findings::{entities, findings};
use super::{plots, Collector, InputRow, RunInfo, REASONS};
use crate::model::Model;

/// Escapes text for HTML; control characters (other than tab and newline) become U+FFFD, so
/// terminal escapes in a log line cannot reach the page as anything but a mark.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(s, &mut out);
    out
}

fn escape_into(s: &str, out: &mut String) {
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
}

/// Text from outside (log content, file names, keys) on the page: maud escapes markup, and this
/// also turns control characters into U+FFFD ([`esc`]). Every string the page shows goes
/// through it.
pub(super) struct Text<'a>(&'a str);

impl Render for Text<'_> {
    fn render_to(&self, buffer: &mut String) {
        escape_into(self.0, buffer);
    }
}

/// Text for the page, see [`Text`].
pub(super) fn t(s: &str) -> Text<'_> {
    Text(s)
}

/// Reasons grouped by cause shown at most.
const CAUSES_SHOWN: usize = 15;
/// Marked states described at most under a listed session.
const MEANT: usize = 8;
/// Training sessions set aside shown at most.
const SET_ASIDE_SHOWN: usize = 50;

/// A cause in words, with each state that names a message template given its template as a
/// tooltip.
fn with_titles(words: &str, templates: &BTreeMap<String, String>) -> Markup {
    html! {
        @for (i, w) in words.split(' ').enumerate() {
            @if i > 0 { " " }
            @match templates.get(w) {
                Some(tpl) => span.ev title=(t(tpl)) { (t(w)) },
                None => (t(w)),
            }
        }
    }
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
pub(super) fn allow_command(model: &str, key: &str, scores: &Path) -> Option<String> {
    if key.chars().any(|c| c.is_control()) || model.chars().any(|c| c.is_control()) {
        return None;
    }
    let scores = scores.to_str()?;
    let words = ["logsieve", "allow", "--model", model, "--session", key, "--scores", scores, "--note"];
    Some(format!("{} 'reviewed: ...'", shlex::try_join(words).ok()?))
}

/// The page's style sheet.
const STYLE: &str = "body{font-family:sans-serif;margin:24px;color:#222;max-width:1200px}h1{margin-bottom:4px}h2{margin-top:28px}\
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}\
th{background:#f3f3f3}#top th{cursor:pointer}.num{text-align:right}.ev{font-family:monospace;font-size:12px}\
.ev span{display:inline-block;margin:1px;padding:0 3px;border-radius:3px;background:#eef}.ev span.hit{background:#fbb;font-weight:bold}\
.lines{font-family:monospace;font-size:11px;color:#333;white-space:pre-wrap;overflow-wrap:anywhere;margin-top:4px}summary{cursor:pointer;color:#555;margin-top:6px}.lines span.hit{background:#fdd}tbody{border-top:2px solid #999}\
.lines b{color:#777;font-weight:normal}.big{font-size:20px}small{color:#666}svg{max-width:100%;height:auto}\
ul{margin:0;padding-left:18px}ul.meant{font-size:12px;margin-top:4px;color:#333}code{font-size:12px}code.tpl{color:#555}.allow{font-size:12px;color:#555;margin-top:4px}.allow code{user-select:all;background:#f6f6f6;padding:1px 4px}ul.meant b{font-family:monospace;font-weight:normal;background:#fbb;padding:0 3px;border-radius:3px}.bad{color:#c00;font-weight:bold}\
div.entity{border-left:4px solid #c00;padding:2px 12px;margin:10px 0}div.entity h3{margin:4px 0}ul.found li{margin:6px 0}";

/// Sorting the sessions table by a click on a heading.
const SORT_SCRIPT: &str = "document.querySelectorAll('#top thead th').forEach((th,i)=>th.onclick=()=>{const t=th.closest('table');\
const bodies=[...t.tBodies];const num=i==2;const d=th.dataset.d=th.dataset.d==='a'?'d':'a';\
bodies.sort((a,b)=>{const x=a.rows[0].cells[i].innerText,y=b.rows[0].cells[i].innerText;const c=num?parseFloat(x)-parseFloat(y):x.localeCompare(y);return d==='a'?c:-c});\
bodies.forEach(b=>t.appendChild(b))});";

/// Writes the report page to `out` a part at a time; `scores` is the `scores.jsonl` it was drawn
/// from, which the `allow` commands it offers name. Whole, the page of a run with thousands of
/// flagged sessions was megabytes built as one string (with the section of sessions built apart and
/// copied in), the run's peak memory; in parts, the largest held at once is one session's rows. The
/// tags that enclose the parts are written as maud writes them, so the page is the one `html!`
/// gave whole.
pub fn write_page(out: &mut impl Write, c: &Collector, model: &Model, info: &RunInfo, scores: &Path) -> std::io::Result<()> {
    let threshold = model.calibration.threshold;
    let head = html! {
        (DOCTYPE)
        // <html lang="en"> and <body> enclose the parts; closed at the end.
        (PreEscaped("<html lang=\"en\">"))
        head {
            meta charset="utf-8";
            title { "logsieve report" }
            style { (PreEscaped(STYLE)) }
        }
        (PreEscaped("<body>"))
        h1 { "logsieve report" }
        p.big {
            b { (c.anomalous) } " of " (c.sessions) " sessions anomalous (threshold " (format!("{threshold:.2}"))
            ", for a false-positive rate of " (model.calibration.max_fpr) " on held-out clean sessions)"
        }
        @if let Some(written) = c.threshold.filter(|t| (t - threshold).abs() > 1e-6) {
            p.bad { "The scores were written with threshold " (format!("{written:.3}")) "; the model now says " (format!("{threshold:.3}")) "." }
        }
        @if !c.findings.is_empty() {
            p.big {
                b { (c.findings.len() as u64 + c.findings_dropped) } " findings about "
                (entities(c).len()) " sources and users " a href="#findings" { "(first below)" }
            }
        }
        @if c.anomalous > 0 {
            p { a href="#flagged" { "The anomalous sessions, with their reasons and lines" } }
        }
    };
    out.write_all(head.0.as_bytes())?;
    drop(head);
    out.write_all(findings(c, info, scores).0.as_bytes())?;
    out.write_all(causes(c, info).0.as_bytes())?;
    out.write_all(inputs(c, model, info).0.as_bytes())?;
    let plots = html! {
        h2 { "Score over " (if c.timed { "log time" } else { "the input" }) }
        p { small { "One dot per session; red above the threshold (the black line)." } }
        (PreEscaped(plots::timeline(c, threshold)))
        h2 { "Score histogram: new sessions against held-out training sessions" }
        (PreEscaped(plots::histogram(c, model)))
        h2 { "Nomenclature coverage" }
        p { small { "What named each record's state: a rule pack's standard event, the generic layer's standard outcome, or the message template; lines skipped by the parsers are counted apart." } }
        (PreEscaped(plots::coverage(&info.coverage)))
        (shift_section(c, model, info))
    };
    out.write_all(plots.0.as_bytes())?;
    drop(plots);
    write_sessions(out, c, info, scores)?;
    let tail = html! {
        script { (PreEscaped(SORT_SCRIPT)) }
        (PreEscaped("</body></html>\n"))
    };
    out.write_all(tail.0.as_bytes())
}

/// Why sessions were flagged: the causes most anomalous sessions give.
fn causes(c: &Collector, info: &RunInfo) -> Markup {
    let causes = c.top_causes(CAUSES_SHOWN);
    if causes.is_empty() {
        return html! {};
    }
    let rank: HashMap<&str, usize> = c.top.iter().enumerate().map(|(i, l)| (l.key.as_str(), i)).collect();
    let dropped = if c.causes_dropped > 0 {
        format!("; {} more not counted once {} were held", c.causes_dropped, super::CAUSES)
    } else {
        String::new()
    };
    html! {
        h2 { "Why sessions were flagged" }
        p { small { "The reasons the anomalous sessions give, where in the session left out, by how many anomalous sessions give each ("
            (c.causes.len()) " distinct" (dropped) "). A session usually gives several. Hover a state for its message template." } }
        table {
            tr { th { "reason" } th { "anomalous sessions" } th { "highest-scoring of them" } }
            @for (words, g) in causes {
                tr {
                    td {
                        (with_titles(words, &info.templates))
                        // A cause about one state (unseen) says what the state's message is.
                        @if let Some(tpl) = g.state.as_ref().and_then(|s| info.templates.get(s)) {
                            br; code.tpl { (t(tpl)) }
                        }
                    }
                    td.num { (g.sessions) }
                    td.ev {
                        @match rank.get(g.key.as_str()) {
                            Some(i) => a href=(format!("#s{i}")) { (t(&g.key)) },
                            None => (t(&g.key)),
                        }
                        " " small { "(" (format!("{:.2}", g.score)) ")" }
                    }
                }
            }
        }
    }
}

/// The input accounting, the session counters and the model.
fn inputs(c: &Collector, model: &Model, info: &RunInfo) -> Markup {
    let row = |i: &InputRow, head: bool| {
        let skipped: u64 = i.skipped.values().sum();
        let why: Vec<String> = i.skipped.iter().map(|(k, v)| format!("{v} {k}")).collect();
        let cells = html! {
            (t(&i.file))
            @if let Some(e) = &i.error { br; span.bad { (t(e)) } }
        };
        html! {
            tr {
                @if head {
                    th { (cells) } th.num { (i.read) } th.num { (i.parsed) } th.num title=(t(&why.join(", "))) { (skipped) } th.num { (i.without_timestamp) }
                } @else {
                    td { (cells) } td.num { (i.read) } td.num { (i.parsed) } td.num title=(t(&why.join(", "))) { (skipped) } td.num { (i.without_timestamp) }
                }
            }
        }
    };
    let s = &info.sessions;
    let unkeyed = if info.coverage.unkeyed > 0 {
        format!("; {} records matched no session key and are in no session", info.coverage.unkeyed)
    } else {
        String::new()
    };
    let allowances = if model.allowances.is_empty() { String::new() } else { format!(", {} review allowances", model.allowances.len()) };
    html! {
        h2 { "Input" }
        table {
            tr { th { "file" } th { "lines read" } th { "parsed" } th { "skipped" } th { "no timestamp" } }
            @for i in &info.inputs { (row(i, false)) }
            (row(&InputRow { file: "total".into(), error: None, ..info.total.clone() }, true))
        }
        p {
            (c.events) " events in " (c.sessions) " sessions (" (s.windows) " windows of events without an entity key, " (s.timed_out)
            " closed by the idle timeout, " (s.evicted) " evicted at the cap of open sessions" (unkeyed) "). Model " code { (t(&info.model)) }
            ": trained on " (model.info.sessions) " sessions, " (model.states.len()) " states, " (model.options.ngram) "-grams, logsieve "
            (t(&model.info.logsieve)) ", rule packs " (t(&model.info.rules)) (allowances) "."
        }
        @if model.set_aside.total > 0 {
            p.bad {
                "The training period was not clean: " (model.set_aside.total) " of its " (model.info.sessions)
                " sessions were set aside as anomalous before the model was fitted (expected share of anomalous sessions "
                (model.options.contamination) "). Review them: " code { "logsieve allow" } " marks any that are normal."
            }
            details {
                summary { "Training sessions set aside (" (model.set_aside.total) ")" }
                table {
                    tr { th { "session" } th { "identical ones" } th { "score" } th { "why" } }
                    @for a in model.set_aside.listed.iter().take(SET_ASIDE_SHOWN) {
                        tr {
                            td.ev { (t(&a.key)) }
                            td.num { (a.sessions) }
                            td.num { (format!("{:.2}", a.score)) }
                            td { ul { @for r in a.reasons.iter().take(3) { li { (t(r)) } } } }
                        }
                    }
                }
                @if model.set_aside.listed.len() > SET_ASIDE_SHOWN {
                    p { small { (model.set_aside.listed.len() - SET_ASIDE_SHOWN) " more listed by " code { "logsieve model info --json" } } }
                }
            }
        }
        @if !model.allowances.is_empty() {
            details {
                summary { "What review allowed in this model (" (model.allowances.len()) ")" }
                ul {
                    @for a in &model.allowances {
                        li { code { (t(&a.what)) } " " small { (t(&a.when)) } " " (t(a.note.as_deref().unwrap_or(""))) }
                    }
                }
            }
        }
    }
}

/// The largest shifts in state frequency, as a chart and a table.
fn shift_section(c: &Collector, model: &Model, info: &RunInfo) -> Markup {
    let shifted = shifts(c, model);
    // Template states get their message template; states given by the input (sequences) or
    // standard names have none, and then there is no such column.
    let templated = shifted.iter().any(|r| info.templates.contains_key(&r.0));
    html! {
        h2 { "Largest shifts in state frequency" }
        p { small { "The states whose share of all events moved most between the training sessions ("
            span style="color:#0a0" { "\u{25A0}" } " upper bar) and the new logs (" span style="color:#00f" { "\u{25A0}" }
            " lower bar), ranked by their term of the Hellinger distance, so states that appear or vanish come first; a state with no training bar is new." } }
        (PreEscaped(plots::shifts(&shifted)))
        table {
            tr { th { "state" } th { "share in training" } th { "share in the new logs" } @if templated { th { "message template" } } }
            @for (name, tr, nw) in &shifted {
                tr {
                    td.ev { (t(name)) }
                    td.num { (format!("{:.2}%", tr * 100.0)) }
                    td.num { (format!("{:.2}%", nw * 100.0)) }
                    @match info.templates.get(name) {
                        Some(tpl) => td.ev { (t(tpl)) },
                        None if templated => td {},
                        None => {},
                    }
                }
            }
        }
    }
}

/// The highest-scoring sessions, each with its states, reasons, values and raw lines, written a
/// session at a time (see [`write_page`]).
fn write_sessions(out: &mut impl Write, c: &Collector, info: &RunInfo, scores: &Path) -> std::io::Result<()> {
    let head = html! {
        h2 #flagged { "Highest-scoring sessions" }
        p { small { "The " (c.top.len()) " sessions with the highest scores, most anomalous first (click a heading to sort). \
    Under each: its states in order, those in a window or a state never seen in training in red, and the input lines behind it, read back from the inputs \
    when the report was written. A flagged session that review finds normal is marked so with the " code { "logsieve allow" } " command under it; \
    score the logs again, and sessions with its states are no longer flagged." } }
        // <table id="top"> encloses the sessions; closed after them.
        (PreEscaped("<table id=\"top\">"))
        thead { tr { th { "session" } th { "time span" } th { "score" } th { "verdict" } th { "why" } th { "new values" } } }
    };
    out.write_all(head.0.as_bytes())?;
    for (rank, l) in c.top.iter().enumerate() {
        out.write_all(session(rank, l, info, scores).0.as_bytes())?;
    }
    out.write_all(b"</table>")
}

/// One listed session: its row and the row under it.
fn session(rank: usize, l: &super::Listed, info: &RunInfo, scores: &Path) -> Markup {
    // What the marked states stand for, when they are message templates.
    let mut meant: Vec<(&str, &str)> = Vec::new();
    for (e, _) in l.events.iter().zip(&l.marked).filter(|(_, m)| **m) {
        if let Some(tpl) = info.templates.get(e) {
            if !meant.iter().any(|(x, _)| *x == e.as_str()) && meant.len() < MEANT {
                meant.push((e, tpl));
            }
        }
    }
    let allow = allow_command(&info.model, &l.key, scores).filter(|_| l.anomalous);
    html! {
        tbody id=(format!("s{rank}")) {
            tr {
                td.ev { (t(&l.key)) }
                td { small { (t(l.start.as_deref().unwrap_or("-"))) br; (t(l.end.as_deref().unwrap_or("-"))) } }
                td.num { (format!("{:.2}", l.score)) }
                td { @if l.anomalous { span.bad { "anomalous" } } @else { "below threshold" } }
                td { ul {
                    @for r in l.reasons.iter().take(REASONS) { li { (t(r)) } }
                    @if l.reasons.len() > REASONS {
                        details {
                            summary { (l.reasons.len() - REASONS) " more" }
                            @for r in l.reasons.iter().skip(REASONS) { li { (t(r)) } }
                        }
                    }
                } }
                td.ev { ul { @for v in &l.values { li { (t(v)) } } } }
            }
            tr { td colspan="6" {
                div.ev {
                    (l.events.len()) " states: "
                    @for (i, (e, n, m)) in runs(&l.events, &l.marked).into_iter().enumerate() {
                        @if i > 0 { " " }
                        span class=[m.then_some("hit")] title=[info.templates.get(e).map(|x| t(x))] { (t(e)) @if n > 1 { " \u{d7}" (n) } }
                    }
                }
                @if !meant.is_empty() {
                    ul.meant { @for (e, tpl) in &meant { li { b { (t(e)) } " " code { (t(tpl)) } } } }
                }
                @if let Some(cmd) = allow {
                    div.allow { "Normal after review? " code { (t(&cmd)) } }
                }
                details open[l.anomalous && rank < 10] {
                    summary { (l.total_lines) " input lines (those behind the red states first)" }
                    div.lines { (raw_lines(l)) }
                }
            } }
        }
    }
}

/// The raw input lines of a listed session, with the gaps between them counted.
pub(super) fn raw_lines(l: &super::Listed) -> Markup {
    // Each shown line with how many lines of the session are left out before it.
    let mut next = 0;
    let shown: Vec<(usize, &str, u64, &str, bool)> = l
        .lines
        .iter()
        .enumerate()
        .map(|(k, (i, f, n))| {
            let gap = i.saturating_sub(next);
            next = i + 1;
            let text = l.raw.get(k).and_then(|r| r.as_deref()).unwrap_or("");
            (gap, f.as_str(), *n, text, l.marked.get(*i).copied().unwrap_or(false))
        })
        .collect();
    let rest = l.total_lines.saturating_sub(next);
    html! {
        @for (gap, file, n, text, hit) in shown {
            @if gap > 0 { b { "... " (gap) " lines" } "\n" }
            span class=[hit.then_some("hit")] { b { (t(file)) ":" (n) } "  " (t(text)) }
            "\n"
        }
        @if rest > 0 { b { "... " (rest) " lines (all in \"lines\" of scores.jsonl)" } "\n" }
    }
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

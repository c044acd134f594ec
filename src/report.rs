//! The report stage: `DIR/report.html`, one self-contained page (no network; plots are inline
//! SVG drawn with plotters) that a reviewer reads first.
//!
//! It shows the input summary, the score of every session over log time (or input order) with the
//! threshold, the score histogram of the new sessions against the held-out training sessions, the
//! states whose frequency moved most between training and the new logs, and the most anomalous
//! sessions with their state sequence (unseen windows marked), reasons in plain words and input
//! lines. Everything taken from the logs is escaped: a line holding `<script>` stays text.

use std::collections::HashMap;
use std::fmt::Write as _;

use plotters::prelude::*;

use crate::model::{Model, Verdict};
use crate::output::{iso, line_ref};
use crate::read::RunStats;
use crate::session::{millis, Session, SessionStats, States};

/// At most this many sessions are listed in the table.
const TOP: usize = 50;
/// At most this many points are kept for the timeline (halved by stride when full).
const POINTS: usize = 20_000;
/// Histogram bins.
const BINS: usize = 40;

/// A session kept for the table.
struct Listed {
    key: String,
    score: f64,
    anomalous: bool,
    start: Option<String>,
    end: Option<String>,
    events: Vec<String>,
    marked: Vec<bool>,
    reasons: Vec<String>,
    lines: Vec<String>,
}

/// What the report is drawn from, gathered while scoring with bounded memory.
pub struct Collector {
    scores: Vec<f64>,
    points: Vec<(f64, f64)>,
    stride: u64,
    seen: u64,
    timed: bool,
    top: Vec<Listed>,
    counts: HashMap<u32, u64>,
    events: u64,
    sessions: u64,
    anomalous: u64,
    max_score: f64,
}

impl Default for Collector {
    fn default() -> Self {
        Collector {
            scores: Vec::new(),
            points: Vec::new(),
            stride: 1,
            seen: 0,
            timed: true,
            top: Vec::new(),
            counts: HashMap::new(),
            events: 0,
            sessions: 0,
            anomalous: 0,
            max_score: 0.0,
        }
    }
}

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

impl Collector {
    /// Takes note of one scored session.
    pub fn push(&mut self, s: &Session, v: &Verdict, names: &States, files: &[String]) {
        self.sessions += 1;
        self.anomalous += u64::from(v.anomalous);
        self.events += s.states.len() as u64;
        self.max_score = self.max_score.max(v.score);
        for &st in &s.states {
            *self.counts.entry(st).or_default() += 1;
        }
        if self.scores.len() < 1_000_000 {
            self.scores.push(v.score);
        }
        self.seen += 1;
        if self.seen % self.stride == 0 {
            let x = match s.start.as_ref() {
                Some(t) if self.timed => millis(t) as f64 / 1000.0,
                _ => {
                    // A session without log time: the timeline goes by input order from here on,
                    // and the points placed by time so far are dropped.
                    if self.timed {
                        self.timed = false;
                        self.points.clear();
                    }
                    self.seen as f64
                }
            };
            self.points.push((x, v.score));
            if self.points.len() >= POINTS {
                self.stride *= 2;
                let kept: Vec<(f64, f64)> = self.points.iter().step_by(2).copied().collect();
                self.points = kept;
            }
        }
        if self.top.len() < TOP || self.top.last().is_some_and(|l| v.score > l.score) {
            let mut marked = vec![false; s.states.len()];
            for r in &v.reasons {
                if let Some(p) = r.position {
                    let n = if r.kind == "unseen_state" { 1 } else { r.states.iter().filter(|x| *x != "^" && *x != "$").count().max(1) };
                    for m in marked.iter_mut().skip(p).take(n) {
                        *m = true;
                    }
                }
            }
            let lines = s.lines.iter().take(200).map(|l| line_ref(l, files)).collect();
            self.top.push(Listed {
                key: s.key.clone(),
                score: v.score,
                anomalous: v.anomalous,
                start: iso(s.start),
                end: iso(s.end),
                events: s.states.iter().take(500).map(|&i| names.name(i).to_owned()).collect(),
                marked,
                reasons: v.reasons.iter().map(|r| r.text.clone()).collect(),
                lines,
            });
            self.top.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.key.cmp(&b.key)));
            self.top.truncate(TOP);
        }
    }
}

fn svg<F>(w: u32, h: u32, draw: F) -> String
where
    F: FnOnce(DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> Result<(), String>,
{
    crate::eval::register_font();
    let mut out = String::new();
    let res = {
        let root = SVGBackend::with_string(&mut out, (w, h)).into_drawing_area();
        draw(root)
    };
    match res {
        Ok(()) => out,
        Err(e) => format!("<p>(plot not drawn: {})</p>", esc(&e)),
    }
}

fn timeline(c: &Collector, threshold: f64) -> String {
    if c.points.is_empty() {
        return String::new();
    }
    let (x0, x1) = c.points.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let x1 = if x1 > x0 { x1 } else { x0 + 1.0 };
    let ymax = c.max_score.max(threshold) * 1.1 + 1e-9;
    svg(1100, 320, |root| {
        let e = |e: &dyn std::fmt::Display| e.to_string();
        root.fill(&WHITE).map_err(|x| e(&x))?;
        let xdesc = if c.timed { "log time of the session's first event (zone-less times as written)" } else { "session, in input order" };
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(50)
            .build_cartesian_2d(x0..x1, 0.0..ymax)
            .map_err(|x| e(&x))?;
        let span = x1 - x0;
        let label = |x: &f64| -> String {
            if !c.timed {
                return format!("{x:.0}");
            }
            let fmt = if span < 2.0 * 86_400.0 { "%m-%d %H:%M:%S" } else { "%Y-%m-%d %H:%M" };
            chrono::DateTime::from_timestamp(*x as i64, 0).map(|t| t.format(fmt).to_string()).unwrap_or_default()
        };
        chart
            .configure_mesh()
            .x_desc(xdesc)
            .y_desc("score")
            .x_labels(8)
            .x_label_formatter(&label)
            .label_style((crate::eval::FONT, 12))
            .draw()
            .map_err(|x| e(&x))?;
        chart
            .draw_series(
                c.points.iter().map(|&(x, y)| Circle::new((x, y), 2, if y > threshold { RED.filled() } else { BLUE.mix(0.4).filled() })),
            )
            .map_err(|x| e(&x))?;
        chart.draw_series(LineSeries::new([(x0, threshold), (x1, threshold)], BLACK.stroke_width(1))).map_err(|x| e(&x))?;
        root.present().map_err(|x| e(&x))
    })
}

fn histogram(c: &Collector, model: &Model) -> String {
    let threshold = model.calibration.threshold;
    let held = &model.calibration.combined.quantiles;
    let hi = c.scores.iter().copied().chain(held.iter().copied()).fold(threshold, f64::max) * 1.05 + 1e-9;
    let bin = |v: f64| (((v.max(0.0) / hi) * BINS as f64) as usize).min(BINS - 1);
    let mut new = vec![0f64; BINS];
    for &s in &c.scores {
        new[bin(s)] += 1.0;
    }
    let mut train = vec![0f64; BINS];
    for &s in held {
        train[bin(s)] += 1.0;
    }
    let norm = |v: &mut Vec<f64>| {
        let t: f64 = v.iter().sum();
        if t > 0.0 {
            v.iter_mut().for_each(|x| *x /= t);
        }
    };
    norm(&mut new);
    norm(&mut train);
    let ymax = new.iter().chain(&train).copied().fold(0.0, f64::max) * 1.1 + 1e-9;
    let w = hi / BINS as f64;
    svg(1100, 300, |root| {
        let e = |e: &dyn std::fmt::Display| e.to_string();
        root.fill(&WHITE).map_err(|x| e(&x))?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..hi, 0.0..ymax)
            .map_err(|x| e(&x))?;
        chart
            .configure_mesh()
            .x_desc("score")
            .y_desc("share of sessions")
            .label_style((crate::eval::FONT, 12))
            .draw()
            .map_err(|x| e(&x))?;
        chart
            .draw_series(
                train
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| Rectangle::new([(i as f64 * w, 0.0), ((i as f64 + 0.5) * w, v)], GREEN.mix(0.6).filled())),
            )
            .map_err(|x| e(&x))?
            .label("held-out training sessions")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], GREEN.mix(0.6).filled()));
        chart
            .draw_series(
                new.iter()
                    .enumerate()
                    .map(|(i, &v)| Rectangle::new([((i as f64 + 0.5) * w, 0.0), ((i as f64 + 1.0) * w, v)], BLUE.mix(0.6).filled())),
            )
            .map_err(|x| e(&x))?
            .label("new sessions")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], BLUE.mix(0.6).filled()));
        chart
            .draw_series(LineSeries::new([(threshold, 0.0), (threshold, ymax)], RED.stroke_width(2)))
            .map_err(|x| e(&x))?
            .label("threshold")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 10, y)], RED.stroke_width(2)));
        chart
            .configure_series_labels()
            .label_font((crate::eval::FONT, 12))
            .background_style(WHITE)
            .border_style(BLACK)
            .draw()
            .map_err(|x| e(&x))?;
        root.present().map_err(|x| e(&x))
    })
}

/// The states whose share of events moved most between training and the new logs.
fn shifts(c: &Collector, model: &Model, names: &States) -> Vec<(String, f64, f64)> {
    let train = model.ngrams.unigrams();
    let train_total: u64 = train.iter().map(|x| x.1).sum();
    let mut rows: Vec<(String, f64, f64)> = Vec::new();
    let mut ids: Vec<u32> = train.iter().map(|x| x.0).chain(c.counts.keys().copied()).collect();
    ids.sort_unstable();
    ids.dedup();
    let tmap: HashMap<u32, u64> = train.into_iter().collect();
    for id in ids {
        let t = tmap.get(&id).copied().unwrap_or(0) as f64 / train_total.max(1) as f64;
        let n = c.counts.get(&id).copied().unwrap_or(0) as f64 / c.events.max(1) as f64;
        rows.push((names.name(id).to_owned(), t, n));
    }
    rows.sort_by(|a, b| (b.2 - b.1).abs().total_cmp(&(a.2 - a.1).abs()).then(a.0.cmp(&b.0)));
    rows.truncate(15);
    rows
}

/// Writes the report page.
pub fn render(c: &Collector, model: &Model, names: &States, run: &RunStats, sessions: &SessionStats, model_path: &str) -> String {
    let threshold = model.calibration.threshold;
    let mut h = String::with_capacity(64 * 1024);
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>logsieve report</title><style>\
body{{font-family:sans-serif;margin:24px;color:#222;max-width:1200px}}h1{{margin-bottom:4px}}\
table{{border-collapse:collapse;margin:8px 0}}td,th{{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}}\
th{{background:#f3f3f3;cursor:pointer}}.num{{text-align:right}}.ev{{font-family:monospace;font-size:12px}}\
.ev span{{display:inline-block;margin:1px;padding:0 3px;border-radius:3px;background:#eef}}.ev span.hit{{background:#fbb;font-weight:bold}}\
.lines{{font-family:monospace;font-size:11px;color:#555}}.big{{font-size:20px}}small{{color:#666}}svg{{max-width:100%;height:auto}}</style></head><body>"
    );
    let _ = write!(
        h,
        "<h1>logsieve report</h1><p class=\"big\"><b>{}</b> of {} sessions anomalous (threshold {:.2}, for a false-positive rate of {} on held-out clean sessions)</p>",
        c.anomalous, c.sessions, threshold, model.calibration.max_fpr
    );
    let t = &run.total;
    let skipped: u64 = t.skipped.values().sum();
    let _ = write!(h, "<h2>Input</h2><table><tr><th>file</th><th>lines read</th><th>parsed</th><th>skipped</th><th>no timestamp</th></tr>");
    for i in &run.inputs {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td></tr>",
            esc(&i.file),
            i.read,
            i.parsed,
            i.skipped.values().sum::<u64>(),
            i.without_timestamp
        );
    }
    let _ = write!(
        h,
        "<tr><th>total</th><th class=num>{}</th><th class=num>{}</th><th class=num>{skipped}</th><th class=num>{}</th></tr></table>",
        t.read, t.parsed, t.without_timestamp
    );
    let _ = write!(
        h,
        "<p>{} events in {} sessions ({} windows of events without an entity key, {} closed by the idle timeout, {} evicted at the cap of open sessions). \
Model <code>{}</code>: trained on {} sessions, {} states, {}-grams, logsieve {}, rule packs {}.</p>",
        c.events,
        c.sessions,
        sessions.windows,
        sessions.timed_out,
        sessions.evicted,
        esc(model_path),
        model.info.sessions,
        model.states.len(),
        model.options.ngram,
        esc(&model.info.logsieve),
        esc(&model.info.rules)
    );
    let _ = write!(h, "<h2>Score over {}</h2>", if c.timed { "log time" } else { "the input" });
    h.push_str(&timeline(c, threshold));
    h.push_str("<h2>Score histogram: new sessions against held-out training sessions</h2>");
    h.push_str(&histogram(c, model));
    h.push_str("<h2>Largest shifts in state frequency (share of events)</h2><table><tr><th>state</th><th>training</th><th>new</th></tr>");
    for (name, tr, nw) in shifts(c, model, names) {
        let _ = write!(h, "<tr><td class=ev>{}</td><td class=num>{:.4}</td><td class=num>{:.4}</td></tr>", esc(&name), tr, nw);
    }
    h.push_str("</table>");
    let _ = write!(
        h,
        "<h2>Highest-scoring sessions</h2><p><small>The {} sessions with the highest scores, most anomalous first (click a heading to sort); \
flagged ones are marked. States in red are in a window or state never seen in training.</small></p>\
<table id=top><tr><th>session</th><th>time span</th><th>score</th><th>verdict</th><th>states</th><th>why</th><th>lines</th></tr>",
        c.top.len()
    );
    for l in &c.top {
        let events: String = l
            .events
            .iter()
            .zip(&l.marked)
            .map(|(e, m)| format!("<span{}>{}</span>", if *m { " class=hit" } else { "" }, esc(e)))
            .collect::<Vec<_>>()
            .join("");
        let reasons: String = l.reasons.iter().map(|r| format!("<li>{}</li>", esc(r))).collect();
        let _ = write!(
            h,
            "<tr><td class=ev>{}</td><td><small>{}<br>{}</small></td><td class=num>{:.2}</td><td>{}</td><td class=ev>{events}</td><td><ul>{reasons}</ul></td><td class=lines>{}</td></tr>",
            esc(&l.key),
            esc(l.start.as_deref().unwrap_or("-")),
            esc(l.end.as_deref().unwrap_or("-")),
            l.score,
            if l.anomalous { "<b style=\"color:#c00\">anomalous</b>" } else { "below threshold" },
            esc(&l.lines.join(" "))
        );
    }
    h.push_str("</table>");
    h.push_str(
        "<script>document.querySelectorAll('#top th').forEach((th,i)=>th.onclick=()=>{const t=th.closest('table');\
const rows=[...t.rows].slice(1);const num=i==2;const d=th.dataset.d=th.dataset.d==='a'?'d':'a';\
rows.sort((a,b)=>{const x=a.cells[i].innerText,y=b.cells[i].innerText;const c=num?parseFloat(x)-parseFloat(y):x.localeCompare(y);return d==='a'?c:-c});\
rows.forEach(r=>t.appendChild(r))});</script></body></html>\n",
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
}

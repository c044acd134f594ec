//! `logsieve eval`: a run's verdicts against labels.
//!
//! Labels are CSV, one session per line: `session,label`. A header line is allowed (a first
//! column named `session`, `blockid`, `block_id`, `id`, `instance` or `instanceid`). A label
//! counts as anomalous when it is `anomaly`, `abnormal`, `attack`, `1` or `true` (any case), and
//! normal when it is `normal`, `0`, `false` or `benign`; any other label is an error naming the
//! line. A labelled session the run did not score counts as not flagged, and is reported.
//!
//! Precision, recall, F1 and FPR use the run's own verdicts (`anomalous`): nothing here is tuned
//! on the labels. The precision-recall curve sweeps the score, for the picture and the average
//! precision only.

use std::collections::HashMap;
use std::path::Path;

use plotters::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};

/// The outcome of comparing verdicts with labels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    /// Labelled sessions.
    pub sessions: usize,
    /// Labelled sessions the run did not score.
    pub missing: usize,
    /// Scored sessions without a label (not counted).
    pub unlabelled: usize,
    /// True positives.
    pub tp: usize,
    /// False positives.
    pub fp: usize,
    /// False negatives.
    pub fn_: usize,
    /// True negatives.
    pub tn: usize,
    /// tp / (tp + fp).
    pub precision: f64,
    /// tp / (tp + fn).
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// fp / (fp + tn).
    pub fpr: f64,
    /// Area under the precision-recall curve (average precision), sweeping the score.
    pub average_precision: f64,
    /// (recall, precision) points of the curve, by descending score.
    #[serde(skip)]
    pub curve: Vec<(f64, f64)>,
}

fn label_value(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "anomaly" | "abnormal" | "attack" | "1" | "true" | "anomalous" => Some(true),
        "normal" | "0" | "false" | "benign" => Some(false),
        _ => None,
    }
}

/// Reads a labels file (CSV, with or without a header line; quoted fields allowed). A line that
/// is not `session,label` with a known label is an error naming the line.
pub fn read_labels(path: &Path) -> Result<HashMap<String, bool>> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| Error::Open { path: name.clone(), source })?;
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).trim(csv::Trim::All).from_reader(file);
    let mut labels = HashMap::new();
    let header = ["session", "blockid", "block_id", "id", "instance", "instanceid"];
    for (i, row) in reader.records().enumerate() {
        let line = |row: Option<&csv::StringRecord>| row.and_then(|r| r.position()).map_or(i as u64 + 1, |p| p.line());
        let row = row.map_err(|e| Error::Input {
            path: name.clone(),
            line: e.position().map_or(i as u64 + 1, |p| p.line()),
            message: e.to_string(),
        })?;
        let key = row.get(0).unwrap_or("");
        if row.len() == 1 && key.is_empty() {
            continue;
        }
        if i == 0 && header.contains(&key.to_ascii_lowercase().as_str()) {
            continue;
        }
        let value = row.get(1).unwrap_or("");
        let Some(v) = label_value(value) else {
            return Err(Error::Input {
                path: name,
                line: line(Some(&row)),
                message: format!("label {value:?} is neither anomalous nor normal"),
            });
        };
        labels.insert(key.to_owned(), v);
    }
    Ok(labels)
}

/// Reads `session`, `score` and `anomalous` from a scores.jsonl.
pub fn read_scores(path: &Path) -> Result<HashMap<String, (f64, bool)>> {
    let mut out: HashMap<String, (f64, bool)> = HashMap::new();
    crate::output::for_each_row(path, |row| {
        let e = out.entry(row.session.into_owned()).or_insert((row.score, row.anomalous));
        // A key scored twice (a session cut in two): the stronger verdict stands.
        if row.score > e.0 {
            e.0 = row.score;
        }
        e.1 |= row.anomalous;
        Ok(())
    })?;
    Ok(out)
}

/// Compares verdicts with labels.
pub fn evaluate(scores: &HashMap<String, (f64, bool)>, labels: &HashMap<String, bool>) -> EvalReport {
    let (mut tp, mut fp, mut fn_, mut tn, mut missing) = (0, 0, 0, 0, 0);
    let mut ranked: Vec<(f64, bool)> = Vec::with_capacity(labels.len());
    let mut keys: Vec<(&String, &bool)> = labels.iter().collect();
    keys.sort_unstable();
    for (key, &anom) in keys {
        let (score, flagged) = match scores.get(key) {
            Some(&s) => s,
            None => {
                missing += 1;
                (f64::NEG_INFINITY, false)
            }
        };
        ranked.push((score, anom));
        match (anom, flagged) {
            (true, true) => tp += 1,
            (true, false) => fn_ += 1,
            (false, true) => fp += 1,
            (false, false) => tn += 1,
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fn_);
    let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let positives = ranked.iter().filter(|r| r.1).count();
    let mut curve = Vec::new();
    let (mut hits, mut seen, mut ap, mut last_recall) = (0usize, 0usize, 0.0, 0.0);
    let mut i = 0;
    while i < ranked.len() {
        // Sessions with equal scores enter the curve together.
        let mut j = i;
        while j < ranked.len() && ranked[j].0 == ranked[i].0 {
            hits += usize::from(ranked[j].1);
            seen += 1;
            j += 1;
        }
        let r = ratio(hits, positives);
        let p = ratio(hits, seen);
        ap += (r - last_recall) * p;
        last_recall = r;
        curve.push((r, p));
        i = j;
    }
    #[allow(clippy::iter_over_hash_type)] // a count: order does not matter
    let unlabelled = scores.keys().filter(|k| !labels.contains_key(*k)).count();
    EvalReport {
        sessions: labels.len(),
        missing,
        unlabelled,
        tp,
        fp,
        fn_,
        tn,
        precision,
        recall,
        f1,
        fpr: ratio(fp, fp + tn),
        average_precision: ap,
        curve,
    }
}

/// The bundled DejaVu Sans is registered under the generic name, so the SVG renders with the
/// viewer's sans-serif font.
pub(crate) const FONT: &str = "sans-serif";

pub(crate) fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The bundled font is checked by the test suite; if it did not load, text is omitted.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, include_bytes!("../assets/DejaVuSans.ttf"));
    });
}

/// Draws the precision-recall curve as SVG, with the run's own operating point marked.
pub fn pr_curve_svg(report: &EvalReport) -> std::result::Result<String, String> {
    register_font();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("Precision-recall (AP {:.3})", report.average_precision), (FONT, 20))
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..1.0f64, 0.0..1.05f64)
            .map_err(|e| e.to_string())?;
        chart.configure_mesh().x_desc("recall").y_desc("precision").label_style((FONT, 12)).draw().map_err(|e| e.to_string())?;
        chart.draw_series(LineSeries::new(report.curve.iter().copied(), BLUE.stroke_width(2))).map_err(|e| e.to_string())?;
        chart
            .draw_series(std::iter::once(Circle::new((report.recall, report.precision), 6, RED.filled())))
            .map_err(|e| e.to_string())?
            .label("logsieve's verdicts")
            .legend(|(x, y)| Circle::new((x, y), 5, RED.filled()));
        chart
            .configure_series_labels()
            .label_font((FONT, 12))
            .background_style(WHITE)
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_use_the_verdicts_and_count_missing_sessions() {
        let scores: HashMap<String, (f64, bool)> =
            [("a", (9.0, true)), ("b", (8.0, true)), ("c", (1.0, false)), ("d", (0.5, false)), ("x", (3.0, false))]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
        let labels: HashMap<String, bool> =
            [("a", true), ("b", false), ("c", true), ("d", false), ("e", true)].into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let r = evaluate(&scores, &labels);
        assert_eq!((r.tp, r.fp, r.fn_, r.tn, r.missing, r.unlabelled), (1, 1, 2, 1, 1, 1));
        assert!((r.precision - 0.5).abs() < 1e-12 && (r.recall - 1.0 / 3.0).abs() < 1e-12);
        assert!((r.fpr - 0.5).abs() < 1e-12);
        // Ranked a(+) b(-) c(+) d(-) e(+, unscored): AP = 1/3·1 + 1/3·2/3 + 1/3·3/5.
        assert!((r.average_precision - (1.0 + 2.0 / 3.0 + 0.6) / 3.0).abs() < 1e-9, "{}", r.average_precision);
        let svg = pr_curve_svg(&r).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("recall"), "{}", &svg[..200.min(svg.len())]);
    }
}

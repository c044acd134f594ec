//! The report's plots, drawn with plotters as inline SVG: the score timeline, the score
//! histogram against the held-out training sessions, and the nomenclature coverage bars.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::{esc, Collector, Coverage};
use crate::model::Model;

/// Histogram bins.
const BINS: usize = 40;
/// The colour of training in the plots that compare it with the new logs.
const TRAINING: RGBColor = GREEN;
/// The colour of the new logs there.
const NEW: RGBColor = BLUE;

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

pub(super) fn timeline(c: &Collector, threshold: f64) -> String {
    if c.points.is_empty() {
        return String::new();
    }
    let (x0, x1) = c.points.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (x0, x1) = if x1 > x0 { (x0 - (x1 - x0) * 0.02, x1 + (x1 - x0) * 0.02) } else { (x0 - 1.0, x0 + 1.0) };
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

pub(super) fn histogram(c: &Collector, model: &Model) -> String {
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
                    .map(|(i, &v)| Rectangle::new([(i as f64 * w, 0.0), ((i as f64 + 0.5) * w, v)], TRAINING.mix(0.6).filled())),
            )
            .map_err(|x| e(&x))?
            .label("held-out training sessions")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], TRAINING.mix(0.6).filled()));
        chart
            .draw_series(
                new.iter()
                    .enumerate()
                    .map(|(i, &v)| Rectangle::new([((i as f64 + 0.5) * w, 0.0), ((i as f64 + 1.0) * w, v)], NEW.mix(0.6).filled())),
            )
            .map_err(|x| e(&x))?
            .label("new sessions")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], NEW.mix(0.6).filled()));
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

/// A chart of horizontal bars with its axes drawn: one row per name from the top (row `i` spans
/// `n - i - 1 .. n - i` of the y range `0..n`), each row's name on the left axis, `0..xmax` along
/// the bottom; labels in `font` px, `x_area` px under the plot.
fn rows_chart<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    names: &[&str],
    xmax: f64,
    x_desc: &str,
    x_area: u32,
    font: u32,
) -> Result<ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>, String> {
    let n = names.len() as f64;
    let mut chart = ChartBuilder::on(root)
        .margin(8)
        .margin_right(40)
        .x_label_area_size(x_area)
        .y_label_area_size(330)
        .build_cartesian_2d(0.0..xmax, 0.0..n)
        .map_err(|x| x.to_string())?;
    // A label at every half step: the row centres (`n - i - 0.5`) get their names, the rest none.
    let label = |y: &f64| {
        let i = (n - y - 0.5).round();
        if (y.fract() - 0.5).abs() < 1e-6 && i >= 0.0 {
            names.get(i as usize).map(|b| (*b).to_owned()).unwrap_or_default()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc(x_desc)
        .y_labels(names.len() * 2 + 1)
        .y_label_formatter(&label)
        .label_style((crate::eval::FONT, font))
        .draw()
        .map_err(|x| x.to_string())?;
    Ok(chart)
}

/// Paired bars: each state's share of events in training and in the new logs.
pub(super) fn shifts(rows: &[(String, f64, f64)]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let names: Vec<String> = rows
        .iter()
        .map(|r| if r.0.chars().count() > 44 { format!("{}…", r.0.chars().take(43).collect::<String>()) } else { r.0.clone() })
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let xmax = rows.iter().flat_map(|r| [r.1, r.2]).fold(0.0, f64::max) * 1.15 + 1e-9;
    let n = rows.len() as f64;
    let (train_colour, new_colour) = (TRAINING.mix(0.6), NEW.mix(0.6));
    svg(1100, 60 + 26 * rows.len() as u32, |root| {
        let e = |e: &dyn std::fmt::Display| e.to_string();
        root.fill(&WHITE).map_err(|x| e(&x))?;
        let mut chart = rows_chart(&root, &names, xmax, "share of events", 30, 12)?;
        let bar = |i: usize, lo: f64, hi: f64, v: f64| [(0.0, n - i as f64 - hi), (v, n - i as f64 - lo)];
        chart
            .draw_series(rows.iter().enumerate().map(|(i, r)| Rectangle::new(bar(i, 0.12, 0.5, r.1), train_colour.filled())))
            .map_err(|x| e(&x))?;
        chart
            .draw_series(rows.iter().enumerate().map(|(i, r)| Rectangle::new(bar(i, 0.5, 0.88, r.2), new_colour.filled())))
            .map_err(|x| e(&x))?;
        // Each row's shares in words at the end of its longer bar: small shares are thin bars.
        let style = (crate::eval::FONT, 11).into_font().color(&BLACK);
        chart
            .draw_series(rows.iter().enumerate().map(|(i, r)| {
                let text = format!("{:.2}% → {:.2}%", r.1 * 100.0, r.2 * 100.0);
                Text::new(text, (r.1.max(r.2) + xmax * 0.01, n - i as f64 - 0.3), style.clone())
            }))
            .map_err(|x| e(&x))?;
        root.present().map_err(|x| e(&x))
    })
}

/// Bars: the share of input records each nomenclature layer named, and of lines skipped.
pub(super) fn coverage(cov: &Coverage) -> String {
    let bars: Vec<(&str, u64, RGBColor)> = [
        ("standard name (rule pack)", cov.standard, RGBColor(0x2e, 0x7d, 0x32)),
        ("standard outcome (generic layer)", cov.generic, RGBColor(0x9e, 0x9d, 0x24)),
        ("template state, key from a rule pack", cov.entity, RGBColor(0x42, 0x8b, 0xca)),
        ("template state (miner)", cov.template, RGBColor(0x15, 0x65, 0xc0)),
        ("given by the input (sequences)", cov.sequence, RGBColor(0x6a, 0x1b, 0x9a)),
        ("skipped line", cov.skipped, RGBColor(0xc6, 0x28, 0x28)),
    ]
    .into_iter()
    .filter(|b| b.1 > 0)
    .collect();
    let total: u64 = bars.iter().map(|b| b.1).sum();
    if total == 0 {
        return "<p>No input.</p>".to_owned();
    }
    let height = 40 + 34 * bars.len() as u32;
    svg(1100, height, |root| {
        let e = |e: &dyn std::fmt::Display| e.to_string();
        root.fill(&WHITE).map_err(|x| e(&x))?;
        let n = bars.len() as f64;
        let names: Vec<&str> = bars.iter().map(|b| b.0).collect();
        let mut chart = rows_chart(&root, &names, 100.0, "% of input records and skipped lines", 28, 13)?;
        for (i, (_, count, colour)) in bars.iter().enumerate() {
            let share = *count as f64 * 100.0 / total as f64;
            let y0 = n - i as f64 - 0.85;
            let y1 = n - i as f64 - 0.15;
            chart.draw_series(std::iter::once(Rectangle::new([(0.0, y0), (share, y1)], colour.filled()))).map_err(|x| e(&x))?;
            let text = format!("{share:.1}% ({count})");
            let (x, colour) = if share > 80.0 { (share - 16.0, WHITE) } else { (share + 1.0, BLACK) };
            let style = (crate::eval::FONT, 13).into_font().color(&colour);
            chart.draw_series(std::iter::once(Text::new(text, (x, y1 - 0.2), style))).map_err(|x| e(&x))?;
        }
        root.present().map_err(|x| e(&x))
    })
}

/// An entity's count of one event per time bucket against the clean period's band: the busiest
/// count (green) and the least count that is a finding (red).
pub(super) fn rate(act: &str, series: &[(i64, u64)], (busiest, limit): (u64, u64)) -> String {
    if series.is_empty() {
        return String::new();
    }
    let x0 = series[0].0 as f64;
    let x1 = series.last().map_or(x0, |p| p.0 as f64);
    let step = if series.len() > 1 { (x1 - x0) / (series.len() - 1) as f64 } else { 300.0 };
    let (x0, x1) = (x0 - step, x1 + step);
    let ymax = series.iter().map(|p| p.1).max().unwrap_or(0).max(limit) as f64 * 1.15 + 1.0;
    svg(700, 200, |root| {
        let e = |e: &dyn std::fmt::Display| e.to_string();
        root.fill(&WHITE).map_err(|x| e(&x))?;
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(46)
            .caption(act, (crate::eval::FONT, 13))
            .build_cartesian_2d(x0..x1, 0.0..ymax)
            .map_err(|x| e(&x))?;
        let label =
            |x: &f64| chrono::DateTime::from_timestamp(*x as i64, 0).map(|t| t.format("%m-%d %H:%M").to_string()).unwrap_or_default();
        chart
            .configure_mesh()
            .y_desc("events per bucket")
            .x_labels(6)
            .x_label_formatter(&label)
            .label_style((crate::eval::FONT, 11))
            .draw()
            .map_err(|x| e(&x))?;
        chart.draw_series(LineSeries::new([(x0, busiest as f64), (x1, busiest as f64)], TRAINING.stroke_width(1))).map_err(|x| e(&x))?;
        chart.draw_series(LineSeries::new([(x0, limit as f64), (x1, limit as f64)], RED.stroke_width(1))).map_err(|x| e(&x))?;
        chart.draw_series(LineSeries::new(series.iter().map(|&(x, y)| (x as f64, y as f64)), NEW.stroke_width(2))).map_err(|x| e(&x))?;
        chart
            .draw_series(
                series.iter().map(|&(x, y)| Circle::new((x as f64, y as f64), 3, if y >= limit { RED.filled() } else { NEW.filled() })),
            )
            .map_err(|x| e(&x))?;
        root.present().map_err(|x| e(&x))
    })
}

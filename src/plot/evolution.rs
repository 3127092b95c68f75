//! `result_evolution`: each set's result over its index, random and Bayesian sets told apart,
//! the best result so far as a step line, failed sets as red crosses along the bottom; the
//! legend in a strip below the chart.

use super::{
    AxisText, BAYES, BEST, Drawn, FAILED, INK, LEGEND_HEIGHT, Marker, PlotData, RANDOM,
    better_words, de, fmt_num, framed_chart, legend, padded,
};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Long by nature: one figure drawn top to bottom, every part in the same chart coordinates;
/// split, the parts would pass the chart and its scales around for no clarity gained.
pub fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, data: &PlotData) -> Drawn {
    let mut ok: Vec<(usize, f64, bool)> = data
        .ok_rows()
        .map(|(r, v)| (r.index, v, r.bayesian))
        .collect();
    ok.sort_by_key(|p| p.0);
    let failed: Vec<usize> = data
        .rows
        .iter()
        .filter(|r| r.outcome.status.is_failure())
        .map(|r| r.index)
        .collect();
    let max_index = data.rows.iter().map(|r| r.index).max().unwrap_or(0);
    let (x0, x1) = padded(0.0, max_index as f64, 0.02);
    let (lo, hi) = data.result_range().unwrap_or((0.0, 1.0));
    let (mut y0, y1) = padded(lo, hi, 0.06);
    if !failed.is_empty() {
        // Room under the lowest result for the row of failed sets.
        y0 -= (y1 - y0) * 0.06;
    }
    let (_, h) = root.dim_in_pixel();
    let (root, strip) = root.split_vertically(h.saturating_sub(LEGEND_HEIGHT));
    let mut entries: Vec<(Marker, String)> = Vec::new();
    let best = data.best();
    let caption = {
        let mut s = format!("{}: result by set ({} ok", data.name, ok.len());
        if !failed.is_empty() {
            s.push_str(&format!(", {} failed", failed.len()));
        }
        s.push(')');
        s
    };
    let whole = |v: &f64| match v.fract().abs() < 1e-9 && *v >= 0.0 {
        true => format!("{v:.0}"),
        false => String::new(),
    };
    let text = AxisText {
        x_desc: "set index".into(),
        y_desc: format!("result ({})", better_words(data.direction)),
        x_format: &whole,
    };
    let mut chart = framed_chart(&root, caption, x0..x1, y0..y1, text)?;

    // Best so far, over the index: a step line through the improvements.
    let mut steps: Vec<(f64, f64)> = Vec::new();
    let mut current: Option<f64> = None;
    for &(i, v, _) in &ok {
        if current.is_none_or(|c| data.direction.better(v, c)) {
            if let Some(c) = current {
                steps.push((i as f64, c));
            }
            current = Some(v);
            steps.push((i as f64, v));
        }
    }
    if let (Some(c), Some(_)) = (current, steps.first()) {
        steps.push((max_index as f64, c));
    }
    let size = if ok.len() > 400 { 3 } else { 5 };
    let random: Vec<(f64, f64)> = ok
        .iter()
        .filter(|p| !p.2)
        .map(|p| (p.0 as f64, p.1))
        .collect();
    let bayes: Vec<(f64, f64)> = ok
        .iter()
        .filter(|p| p.2)
        .map(|p| (p.0 as f64, p.1))
        .collect();
    if !random.is_empty() {
        chart
            .draw_series(
                random
                    .iter()
                    .map(|&p| Circle::new(p, size, RANDOM.mix(0.75).filled())),
            )
            .map_err(de)?;
        entries.push((Marker::Disc(RANDOM), format!("random ({})", random.len())));
    }
    if !bayes.is_empty() {
        chart
            .draw_series(
                bayes
                    .iter()
                    .map(|&p| TriangleMarker::new(p, size + 2, BAYES.mix(0.85).filled())),
            )
            .map_err(de)?;
        entries.push((
            Marker::Triangle(BAYES),
            format!("Bayesian ({})", bayes.len()),
        ));
    }
    if !steps.is_empty() {
        chart
            .draw_series(LineSeries::new(steps, INK.stroke_width(2)))
            .map_err(de)?;
        entries.push((Marker::Line(INK), "best so far".into()));
    }
    if !failed.is_empty() {
        let yf = y0 + (y1 - y0) * 0.03;
        chart
            .draw_series(
                failed
                    .iter()
                    .map(|&i| Cross::new((i as f64, yf), 4, FAILED.stroke_width(2))),
            )
            .map_err(de)?;
        entries.push((Marker::Cross(FAILED), format!("failed ({})", failed.len())));
    }
    if let Some((r, v)) = best {
        chart
            .draw_series(std::iter::once(Circle::new(
                (r.index as f64, v),
                size + 5,
                BEST.stroke_width(2),
            )))
            .map_err(de)?;
        entries.push((
            Marker::Ring(BEST),
            format!("best {} (set {})", fmt_num(v), r.index),
        ));
    }
    if !data.rows.is_empty() {
        legend(&strip, 94, &entries)?;
    }
    Ok(())
}

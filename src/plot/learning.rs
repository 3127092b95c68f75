//! `learning_curves`: every set's reported values over its steps (from `curves.csv`, the
//! latest attempt of each set): sets that ran to the end in colour, stopped (`pruned`) ones
//! muted with a dot where they stopped, sets still running or failed in red, the best set's
//! curve on top; the rungs of an `asha` or `hyperband` rule as dashed vertical lines. The
//! legend in a strip below the chart.

use super::{
    AxisText, BEST, Drawn, FAILED, INK, LEGEND_HEIGHT, Marker, PlotData, RANDOM, better_words, de,
    fmt_num, font, framed_chart, legend, padded,
};
use crate::objective::Status;
use crate::prune::{Pruner, RuleName};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;

/// Muted: the stopped sets' curves.
const MUTED: RGBColor = RGBColor(150, 150, 150);

/// How a set's curve is drawn.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Finished,
    Pruned,
    /// Running, failed or timed out: no `ok` or `pruned` row.
    Other,
}

/// Each set's curve (its latest attempt, points in the order reported) and how it ended.
fn curves(data: &PlotData) -> BTreeMap<usize, (Kind, Vec<(f64, f64)>)> {
    let mut latest: BTreeMap<usize, u32> = BTreeMap::new();
    for c in &data.curves {
        let a = latest.entry(c.index).or_insert(c.attempt);
        *a = (*a).max(c.attempt);
    }
    let mut out: BTreeMap<usize, (Kind, Vec<(f64, f64)>)> = BTreeMap::new();
    for c in &data.curves {
        if latest.get(&c.index) == Some(&c.attempt) && c.value.is_finite() {
            out.entry(c.index)
                .or_insert((Kind::Other, Vec::new()))
                .1
                .push((c.step as f64, c.value));
        }
    }
    for r in &data.rows {
        if let Some(curve) = out.get_mut(&r.index) {
            curve.0 = match r.outcome.status {
                Status::Ok => Kind::Finished,
                Status::Pruned => Kind::Pruned,
                _ => Kind::Other,
            };
        }
    }
    out
}

/// The rung steps of an `asha` or `hyperband` rule up to `last` (none for `median` or without
/// a rule): Hyperband's brackets start at later rungs of the same ladder.
fn rungs(data: &PlotData, last: f64) -> Vec<f64> {
    let Some(options) = data
        .pruning
        .clone()
        .filter(|o| matches!(o.rule, RuleName::Asha | RuleName::Hyperband))
    else {
        return Vec::new();
    };
    let pruner = Pruner::new(Some(options));
    (0..64)
        .map_while(|k| pruner.rung_step(0, k))
        .map(|s| s as f64)
        .take_while(|s| *s <= last)
        .collect()
}

/// Long by nature, like the other plots: one figure drawn top to bottom in the same chart
/// coordinates.
pub fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, data: &PlotData) -> Drawn {
    let curves = curves(data);
    let points = || curves.values().flat_map(|c| c.1.iter());
    let (s0, s1) = points().fold((f64::INFINITY, f64::NEG_INFINITY), |a, p| {
        (a.0.min(p.0), a.1.max(p.0))
    });
    let (v0, v1) = points().fold((f64::INFINITY, f64::NEG_INFINITY), |a, p| {
        (a.0.min(p.1), a.1.max(p.1))
    });
    let (x0, x1) = if s0.is_finite() {
        padded(s0.min(0.0), s1, 0.02)
    } else {
        (0.0, 1.0)
    };
    let (y0, y1) = padded(v0, v1, 0.05);
    let count = |k: Kind| curves.values().filter(|c| c.0 == k).count();
    let (finished, pruned, other) = (
        count(Kind::Finished),
        count(Kind::Pruned),
        count(Kind::Other),
    );
    let (_, h) = root.dim_in_pixel();
    let (root, strip) = root.split_vertically(h.saturating_sub(LEGEND_HEIGHT));
    let caption = format!(
        "{}: learning curves ({} sets, {pruned} stopped early)",
        data.name,
        curves.len()
    );
    let reported = data.pruning.as_ref().and_then(|p| p.output.as_deref());
    let text = AxisText {
        x_desc: "step".into(),
        y_desc: format!(
            "reported {} ({})",
            reported.unwrap_or("value"),
            better_words(data.report_direction)
        ),
        x_format: &|v| fmt_num(*v),
    };
    let mut chart = framed_chart(&root, caption, x0..x1, y0..y1, text)?;

    let mut entries: Vec<(Marker, String)> = Vec::new();
    let rung_steps = rungs(data, s1);
    for &s in &rung_steps {
        // Dashed: short segments up the chart.
        let dashes = (0..40).filter(|i| i % 2 == 0).map(|i| {
            let a = y0 + (y1 - y0) * i as f64 / 40.0;
            let b = y0 + (y1 - y0) * (i + 1) as f64 / 40.0;
            PathElement::new(vec![(s, a), (s, b)], INK.mix(0.5).stroke_width(1))
        });
        chart.draw_series(dashes).map_err(de)?;
    }
    // Muted first, so the curves that matter lie on top.
    for (kind, colour, width) in [
        (Kind::Pruned, MUTED.mix(0.55), 1),
        (Kind::Other, FAILED.mix(0.6), 1),
        (Kind::Finished, RANDOM.mix(0.85), 2),
    ] {
        for (_, c) in curves.values().filter(|c| c.0 == kind) {
            chart
                .draw_series(LineSeries::new(
                    c.iter().copied(),
                    colour.stroke_width(width),
                ))
                .map_err(de)?;
        }
    }
    // Where each stopped set stopped: a dot (a set stopped at its first report has no line).
    let stops = curves
        .values()
        .filter(|c| c.0 == Kind::Pruned)
        .filter_map(|c| c.1.last().copied());
    chart
        .draw_series(stops.map(|p| Circle::new(p, 3, MUTED.filled())))
        .map_err(de)?;
    if finished > 0 {
        entries.push((Marker::Line(RANDOM), format!("ran to the end ({finished})")));
    }
    if pruned > 0 {
        entries.push((Marker::Disc(MUTED), format!("stopped early ({pruned})")));
    }
    if other > 0 {
        entries.push((Marker::Line(FAILED), format!("running or failed ({other})")));
    }
    if let Some((r, v)) = data.best()
        && let Some((_, c)) = curves.get(&r.index)
    {
        chart
            .draw_series(LineSeries::new(c.iter().copied(), BEST.stroke_width(3)))
            .map_err(de)?;
        entries.push((
            Marker::Line(BEST),
            format!("best {} (set {})", fmt_num(v), r.index),
        ));
    }
    if !rung_steps.is_empty() {
        let list: Vec<String> = rung_steps.iter().map(|s| fmt_num(*s)).collect();
        entries.push((Marker::Line(INK), format!("rungs at {}", list.join(", "))));
    }
    if curves.is_empty() {
        root.draw(&Text::new(
            "no intermediate values reported (curves.csv is empty)",
            (100, 100),
            font(16.0),
        ))
        .map_err(de)?;
    }
    legend(&strip, 94, &entries)
}

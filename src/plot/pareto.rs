//! `pareto_front`: with declared outputs, every `ok` set by its objective outputs (two: one
//! scatter; three or more: a panel per pair), the Pareto front (feasible sets no other
//! dominates) highlighted and joined in order, sets that violate a constraint as grey crosses.
//! With one objective output, it is drawn against each constraint output instead. An
//! experiment without declared outputs gets a chart that says so.

use super::{
    BAYES, BEST, Drawn, GRID, LEGEND_HEIGHT, Marker, PlotData, RANDOM, de, fmt_num, font, legend,
    padded,
};
use crate::config::Direction;
use crate::experiment::summary;
use crate::objective::Status;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Sets that violate a constraint.
const INFEASIBLE: RGBColor = RGBColor(150, 150, 150);

/// The outputs on the axes: the objectives, or with a single one, every declared output.
fn axes(data: &PlotData) -> Vec<usize> {
    let objectives: Vec<usize> = (0..data.outputs.len())
        .filter(|&j| data.outputs[j].direction().is_some())
        .collect();
    if objectives.len() >= 2 {
        objectives
    } else {
        (0..data.outputs.len()).collect()
    }
}

pub fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, data: &PlotData) -> Drawn {
    let (_, h) = root.dim_in_pixel();
    let (root, strip) = root.split_vertically(h.saturating_sub(LEGEND_HEIGHT));
    let axes = axes(data);
    if axes.len() < 2 {
        root.titled(
            &format!(
                "{}: no Pareto front (declare two or more [[objective.outputs]])",
                data.name
            ),
            font(22.0),
        )
        .map_err(de)?;
        return Ok(());
    }
    let front: Vec<usize> = summary::pareto_front(&data.rows, &data.outputs)
        .iter()
        .map(|r| r.index)
        .collect();
    let rows: Vec<(&crate::experiment::ResultRow, bool)> = data
        .rows
        .iter()
        .filter(|r| r.outcome.status == Status::Ok && r.outcome.outputs.len() == data.outputs.len())
        .map(|r| (r, r.feasible(&data.outputs) == Some(true)))
        .collect();
    let infeasible = rows.iter().filter(|r| !r.1).count();
    let caption = format!(
        "{}: Pareto front ({} of {} ok sets{})",
        data.name,
        front.len(),
        rows.len(),
        if infeasible > 0 {
            format!(", {infeasible} infeasible")
        } else {
            String::new()
        }
    );
    let root = root.titled(&caption, font(22.0)).map_err(de)?;
    let pairs: Vec<(usize, usize)> = (0..axes.len())
        .flat_map(|a| (a + 1..axes.len()).map(move |b| (a, b)))
        .map(|(a, b)| (axes[a], axes[b]))
        // With one objective, it against each constraint.
        .filter(|&(a, b)| {
            data.outputs[a].direction().is_some() || data.outputs[b].direction().is_some()
        })
        .collect();
    let cols = (pairs.len() as f64).sqrt().ceil() as usize;
    let grid_rows = pairs.len().div_ceil(cols.max(1));
    let panels = root.split_evenly((grid_rows.max(1), cols.max(1)));
    for (panel, &(a, b)) in panels.iter().zip(&pairs) {
        draw_pair(panel, data, &rows, &front, a, b)?;
    }
    let entries = vec![
        (
            Marker::Disc(RANDOM),
            format!("random ({})", rows.iter().filter(|r| !r.0.bayesian).count()),
        ),
        (
            Marker::Triangle(BAYES),
            format!(
                "Bayesian ({})",
                rows.iter().filter(|r| r.0.bayesian).count()
            ),
        ),
        (
            Marker::Ring(BEST),
            format!("Pareto front ({})", front.len()),
        ),
        (
            Marker::Cross(INFEASIBLE),
            format!("infeasible ({infeasible})"),
        ),
    ];
    legend(&strip, 94, &entries)?;
    Ok(())
}

/// The axis label of output `j`: its name and which way is better, or its bounds.
fn label(data: &PlotData, j: usize) -> String {
    let o = &data.outputs[j];
    match o.direction() {
        Some(Direction::Minimize) => format!("{} (lower is better)", o.name),
        Some(Direction::Maximize) => format!("{} (higher is better)", o.name),
        None => format!("{} (constraint)", o.name),
    }
}

/// One panel: output `a` across, output `b` up.
fn draw_pair<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    data: &PlotData,
    rows: &[(&crate::experiment::ResultRow, bool)],
    front: &[usize],
    a: usize,
    b: usize,
) -> Drawn {
    let point = |r: &crate::experiment::ResultRow| (r.outcome.outputs[a], r.outcome.outputs[b]);
    let range = |k: usize| {
        rows.iter()
            .map(|r| r.0.outcome.outputs[k])
            .fold((f64::INFINITY, f64::NEG_INFINITY), |m, v| {
                (m.0.min(v), m.1.max(v))
            })
    };
    let ((xa, xb), (ya, yb)) = (range(a), range(b));
    let (x0, x1) = if xa.is_finite() {
        padded(xa, xb, 0.05)
    } else {
        (0.0, 1.0)
    };
    let (y0, y1) = if ya.is_finite() {
        padded(ya, yb, 0.05)
    } else {
        (0.0, 1.0)
    };
    let mut chart = ChartBuilder::on(area)
        .margin(14)
        .x_label_area_size(50)
        .y_label_area_size(75)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(de)?;
    chart
        .configure_mesh()
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(GRID)
        .x_labels(8)
        .y_labels(8)
        .x_label_formatter(&|v| fmt_num(*v))
        .y_label_formatter(&|v| fmt_num(*v))
        .x_desc(label(data, a))
        .y_desc(label(data, b))
        .label_style(font(13.0))
        .axis_desc_style(font(15.0))
        .draw()
        .map_err(de)?;
    let size = if rows.len() > 400 { 3 } else { 5 };
    chart
        .draw_series(
            rows.iter()
                .filter(|r| !r.1)
                .map(|r| Cross::new(point(r.0), 4, INFEASIBLE.stroke_width(2))),
        )
        .map_err(de)?;
    chart
        .draw_series(
            rows.iter()
                .filter(|r| r.1 && !r.0.bayesian)
                .map(|r| Circle::new(point(r.0), size, RANDOM.mix(0.75).filled())),
        )
        .map_err(de)?;
    chart
        .draw_series(
            rows.iter()
                .filter(|r| r.1 && r.0.bayesian)
                .map(|r| TriangleMarker::new(point(r.0), size + 2, BAYES.mix(0.85).filled())),
        )
        .map_err(de)?;
    let mut on_front: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| front.contains(&r.0.index))
        .map(|r| point(r.0))
        .collect();
    on_front.sort_by(|p, q| p.0.total_cmp(&q.0).then(p.1.total_cmp(&q.1)));
    // With two objectives the front is a staircase; in a pair of three or more it is the
    // projection of a surface, so its points are only ringed.
    if axes(data).len() == 2 && on_front.len() > 1 {
        chart
            .draw_series(LineSeries::new(on_front.clone(), BEST.stroke_width(2)))
            .map_err(de)?;
    }
    chart
        .draw_series(
            on_front
                .iter()
                .map(|&p| Circle::new(p, size + 4, BEST.stroke_width(2))),
        )
        .map_err(de)?;
    Ok(())
}

//! `worker_timeline`: one lane per worker (labelled with its rank, host and GPU), a bar for
//! each set it evaluated from start to end, coloured by status; the gaps are idle time, and the
//! title gives the utilization (busy time / (workers x wall span)).

use super::{Drawn, FAILED, GRID, PlotData, TIMEOUT, de, fmt_num, font};
use crate::experiment::ResultRow;
use crate::experiment::summary;
use crate::objective::Status;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::time::SystemTime;

const OK: RGBColor = RGBColor(44, 160, 44);
/// A pruned set: stopped early by the rule, muted.
const PRUNED: RGBColor = RGBColor(150, 190, 150);

/// The lane label of a worker: its number, then rank, host and GPU where known.
pub fn lane_label(row: &ResultRow) -> String {
    let mut parts = vec![format!("worker {}", row.worker)];
    if let Some(r) = row.rank {
        parts.push(format!("rank {r}"));
    }
    if !row.host.is_empty() {
        parts.push(row.host.clone());
    }
    if !row.gpu.is_empty() {
        parts.push(format!("GPU {}", row.gpu));
    }
    parts.join(" · ")
}

fn secs(t: SystemTime, t0: SystemTime) -> f64 {
    match t.duration_since(t0) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// Long by nature: one figure drawn top to bottom, every part in the same chart coordinates;
/// split, the parts would pass the chart and its scales around for no clarity gained.
pub fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, data: &PlotData) -> Drawn {
    let mut workers: Vec<usize> = data.rows.iter().map(|r| r.worker).collect();
    workers.sort_unstable();
    workers.dedup();
    let labels: Vec<String> = workers
        .iter()
        .map(|w| {
            data.rows
                .iter()
                .rev()
                .find(|r| r.worker == *w)
                .map(lane_label)
                .unwrap_or_default()
        })
        .collect();
    let t0 = data
        .rows
        .iter()
        .map(|r| r.started)
        .min()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let span = data
        .rows
        .iter()
        .map(|r| secs(r.ended, t0))
        .fold(0.0f64, f64::max)
        .max(1e-3);
    let (unit, div) = if span > 7200.0 {
        ("h", 3600.0)
    } else if span > 180.0 {
        ("min", 60.0)
    } else {
        ("s", 1.0)
    };
    let usage = summary::usage(&data.rows, None, None);
    let caption = format!(
        "{}: workers over time (utilization {:.1} %, {} workers)",
        data.name,
        usage.utilization * 100.0,
        workers.len()
    );
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(8) as u32;
    let n = workers.len().max(1);
    let mut chart = ChartBuilder::on(root)
        .caption(caption, font(22.0))
        .margin(14)
        .x_label_area_size(55)
        .y_label_area_size((longest * 8 + 20).clamp(60, 300))
        .build_cartesian_2d(0.0..span / div * 1.01, -0.5..n as f64 - 0.5)
        .map_err(de)?;
    let lane = |v: &f64| -> String {
        let i = v.round();
        if (*v - i).abs() < 1e-6 && i >= 0.0 {
            labels.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(GRID)
        .disable_y_mesh()
        .x_labels(10)
        .y_labels(if n <= 40 { n + 1 } else { 21 })
        .x_label_formatter(&|v| fmt_num(*v))
        .y_label_formatter(&lane)
        .x_desc(format!("time since the first set started ({unit})"))
        .label_style(font(13.0))
        .axis_desc_style(font(16.0))
        .draw()
        .map_err(de)?;
    let half = if n > 60 { 0.5 } else { 0.38 };
    let bar = |r: &ResultRow| {
        let lane = workers.iter().position(|w| *w == r.worker).unwrap_or(0) as f64;
        let (a, b) = (secs(r.started, t0) / div, secs(r.ended, t0) / div);
        [(a, lane - half), (b.max(a), lane + half)]
    };
    let mut legend: Vec<(RGBColor, String)> = Vec::new();
    for (status, colour, name) in [
        (Status::Ok, OK, "ok"),
        (Status::Failed, FAILED, "failed"),
        (Status::Timeout, TIMEOUT, "timeout"),
        (Status::Pruned, PRUNED, "pruned"),
    ] {
        let rows: Vec<&ResultRow> = data
            .rows
            .iter()
            .filter(|r| r.outcome.status == status)
            .collect();
        if rows.is_empty() {
            continue;
        }
        chart
            .draw_series(
                rows.iter()
                    .map(|r| Rectangle::new(bar(r), colour.mix(0.85).filled())),
            )
            .map_err(de)?;
        legend.push((colour, format!("{name} ({})", rows.len())));
        // Thin borders keep back-to-back sets apart (skipped when bars are too dense to show them).
        if data.rows.len() <= 2000 {
            chart
                .draw_series(
                    rows.iter()
                        .map(|r| Rectangle::new(bar(r), WHITE.stroke_width(1))),
                )
                .map_err(de)?;
        }
    }
    // The legend goes under the plot, left of the axis name, clear of the lanes.
    let (_, h) = root.dim_in_pixel();
    let (mut x, y) = (16, h as i32 - 22);
    for (colour, name) in &legend {
        root.draw(&Rectangle::new(
            [(x, y - 6), (x + 16, y + 6)],
            colour.filled(),
        ))
        .map_err(de)?;
        root.draw(&Text::new(name.clone(), (x + 22, y - 8), font(14.0)))
            .map_err(de)?;
        x += 22 + 9 * name.chars().count() as i32 + 18;
    }
    Ok(())
}

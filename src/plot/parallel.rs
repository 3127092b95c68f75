//! `parameter_combination`: parallel coordinates. One vertical axis per parameter (numeric
//! ones scaled to their range, categorical ones with a tick per category) and one for the
//! result; each set is a line coloured by its result, the best drawn last (on top). Failed
//! sets are grey dashed lines that end below the result axis.

use super::{Axis, ColourScale, Drawn, INK, PlotData, colour_bar, de, fmt_num, font, nice_ticks};
use crate::experiment::ResultRow;
use crate::objective::Status;
use crate::space::Value;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

const BAR_WIDTH: u32 = 110;
/// Where failed sets end on the result axis (below its range 0..1).
const FAILED_Y: f64 = -0.08;

/// 0..1 along an axis.
fn unit(axis: &Axis, v: f64) -> f64 {
    let (lo, hi) = axis.span();
    if hi > lo { (v - lo) / (hi - lo) } else { 0.5 }
}

/// Tick positions (0..1) and labels of an axis.
fn ticks(axis: &Axis) -> Vec<(f64, String)> {
    match axis {
        Axis::Numeric { lo, hi, log } if hi > lo => {
            let (a, b) = axis.span();
            let mut t: Vec<(f64, String)> = nice_ticks(a, b, 5)
                .into_iter()
                .filter(|p| !*log || p.fract() == 0.0)
                .map(|p| {
                    (
                        unit(axis, p),
                        if *log {
                            fmt_num(10f64.powf(p))
                        } else {
                            fmt_num(p)
                        },
                    )
                })
                .collect();
            if t.len() < 2 {
                t = vec![(0.0, fmt_num(*lo)), (1.0, fmt_num(*hi))];
            }
            t
        }
        Axis::Numeric { lo, .. } => vec![(0.5, fmt_num(*lo))],
        Axis::Categorical { labels } => {
            // Past about 15 categories only every k-th is labelled.
            let k = labels.len().div_ceil(15).max(1);
            labels
                .iter()
                .enumerate()
                .filter(|(i, _)| i % k == 0)
                .map(|(i, l)| (unit(axis, i as f64), shorten(l, 14)))
                .collect()
        }
    }
}

fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

/// Long by nature: one figure drawn top to bottom, every part in the same chart coordinates;
/// split, the parts would pass the chart and its scales around for no clarity gained.
pub fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, data: &PlotData) -> Drawn {
    let (w, _) = root.dim_in_pixel();
    let (main, bar) = root.split_horizontally(w.saturating_sub(BAR_WIDTH));
    let axes: Vec<Axis> = (0..data.names.len()).map(|p| data.axis(p)).collect();
    let scale = ColourScale::new(data.result_range());
    let result_axis = Axis::linear(scale.lo, scale.hi);
    let n = axes.len() + 1;
    let failed = data.failed();
    let mut caption = format!(
        "{}: parameter combinations ({} sets",
        data.name,
        data.rows.len()
    );
    if failed > 0 {
        caption.push_str(&format!(", {failed} failed"));
    }
    caption.push(')');
    let mut chart = ChartBuilder::on(&main)
        .caption(caption, font(22.0))
        .margin_top(12)
        .margin_bottom(12)
        .margin_left(40)
        .margin_right(20)
        .build_cartesian_2d(-0.15..(n as f64 - 0.85), -0.16..1.1)
        .map_err(de)?;

    let line = |r: &ResultRow| -> Vec<(f64, f64)> {
        let mut pts: Vec<(f64, f64)> = axes
            .iter()
            .zip(&r.values)
            .enumerate()
            .map(|(i, (a, v))| match v {
                // Inactive in this set: below the axis, where no value lies.
                Value::Inactive => (i as f64, FAILED_Y),
                v => (i as f64, unit(a, a.position(v))),
            })
            .collect();
        let y = match r.outcome.result.filter(|_| r.outcome.status == Status::Ok) {
            Some(v) => unit(&result_axis, v),
            None => FAILED_Y,
        };
        pts.push((axes.len() as f64, y));
        pts
    };
    let failed_rows: Vec<&ResultRow> = data
        .rows
        .iter()
        .filter(|r| r.outcome.status.is_failure())
        .collect();
    let dense = data.rows.len() > 300;
    chart
        .draw_series(failed_rows.iter().map(|r| {
            let pts = line(r);
            DashedPathElement::new(
                pts,
                4u32,
                3u32,
                RGBColor(150, 150, 150).mix(0.7).stroke_width(1),
            )
        }))
        .map_err(de)?;
    let mut ok: Vec<(&ResultRow, f64)> = data.ok_rows().collect();
    // Worst first: the best lines end up on top.
    ok.sort_by(|a, b| {
        let (x, y) = (data.direction.loss(a.1), data.direction.loss(b.1));
        y.total_cmp(&x)
    });
    let alpha = if dense { 0.35 } else { 0.85 };
    chart
        .draw_series(ok.iter().map(|(r, v)| {
            PathElement::new(
                line(r),
                scale
                    .colour(*v)
                    .mix(alpha)
                    .stroke_width(if dense { 1 } else { 2 }),
            )
        }))
        .map_err(de)?;
    // The best few again, bolder.
    let top = ok.len().min(3);
    chart
        .draw_series(
            ok[ok.len() - top..]
                .iter()
                .map(|(r, v)| PathElement::new(line(r), scale.colour(*v).stroke_width(3))),
        )
        .map_err(de)?;

    // Axes with their ticks and names.
    let names: Vec<String> = data
        .names
        .iter()
        .cloned()
        .chain(std::iter::once("result".to_string()))
        .collect();
    let all_axes: Vec<&Axis> = axes.iter().chain(std::iter::once(&result_axis)).collect();
    let tick_style = font(12.0).pos(Pos::new(HPos::Right, VPos::Center));
    let name_style = font(15.0).pos(Pos::new(HPos::Center, VPos::Bottom));
    for (i, (axis, name)) in all_axes.iter().zip(&names).enumerate() {
        let x = i as f64;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x, 0.0), (x, 1.0)],
                INK.stroke_width(2),
            )))
            .map_err(de)?;
        chart
            .draw_series(std::iter::once(Text::new(
                shorten(name, 18),
                (x, 1.07),
                name_style.clone(),
            )))
            .map_err(de)?;
        for (t, label) in ticks(axis) {
            // A light box behind the label keeps it readable over the lines.
            let w = 7 * label.chars().count() as i32 + 4;
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at((x, t))
                        + Rectangle::new([(-9 - w, -8), (-7, 8)], WHITE.mix(0.8).filled())
                        + PathElement::new(vec![(-5, 0), (0, 0)], INK.stroke_width(1))
                        + Text::new(label, (-9, 0), tick_style.clone()),
                ))
                .map_err(de)?;
        }
    }
    if failed > 0 {
        let x = axes.len() as f64;
        chart
            .draw_series(std::iter::once(
                EmptyElement::at((x, FAILED_Y))
                    + Text::new(format!("failed ({failed})"), (-7, 0), tick_style.clone()),
            ))
            .map_err(de)?;
    }
    let (top, bottom) = (
        chart.backend_coord(&(0.0, 1.0)).1,
        chart.backend_coord(&(0.0, 0.0)).1,
    );
    colour_bar(&bar, scale, "result", top, bottom)
}

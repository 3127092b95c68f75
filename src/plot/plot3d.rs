//! `plot_3d`: the result (colour) over two parameters, with a heat map under the samples,
//! random and Bayesian sets told apart by their marker, a colour bar, and the legend in a strip
//! below the chart. With one parameter the vertical axis is the result itself. Optionally
//! animated: a GIF adding samples in the order they finished.
//!
//! The heat map never interpolates between categories or whole numbers: a categorical axis,
//! and an `int` one spanning at most [`MAX_CELLS`] values, is drawn as cells, one per category
//! or number. Over two such axes each cell shows the mean result of its samples; over one, each
//! cell's strip is interpolated along the other, numeric axis from that cell's samples only;
//! over two numeric axes the map is interpolated by inverse-distance weighting, with contour
//! lines. Cells and strips without samples stay blank.

use super::{
    Axis, BEST, ColourScale, Drawn, FAILED, GRID, INK, LEGEND_HEIGHT, Marker, PlotData, PlotError,
    PlotOptions, colour_bar, de, fmt_num, font, legend,
};
use crate::experiment::ResultRow;
use crate::objective::Status;
use crate::space::Value;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// Heat map resolution (cells across and down).
const GRID_X: usize = 96;
const GRID_Y: usize = 64;
/// Contour levels drawn between the lowest and highest result.
const LEVELS: usize = 9;
/// A GIF holds at most this many frames (the step grows to fit).
const MAX_FRAMES: usize = 300;
const BAR_WIDTH: u32 = 110;
const X_LABELS: u32 = 55;
const Y_LABELS: u32 = 75;
/// An `int` axis spanning at most this many whole numbers is drawn as cells.
pub const MAX_CELLS: usize = 40;

/// What every frame shares: the axes and colours are those of all rows, so frames line up.
pub struct Scene<'a> {
    data: &'a PlotData,
    px: usize,
    /// `None`: the vertical axis is the result.
    py: Option<usize>,
    ax: Axis,
    ay: Axis,
    /// The cells of a discrete axis (categories, whole numbers), as positions in order.
    xcells: Option<Vec<f64>>,
    ycells: Option<Vec<f64>>,
    scale: ColourScale,
    contour: bool,
}

/// The cells of the axis of parameter `p`: every category, or every whole number of an `int`
/// axis spanning at most [`MAX_CELLS`]; `None` for a numeric axis.
fn cells_of(data: &PlotData, p: usize, axis: &Axis) -> Option<Vec<f64>> {
    match axis {
        Axis::Categorical { labels } => Some((0..labels.len()).map(|i| i as f64).collect()),
        Axis::Numeric { lo, hi, log: false } => {
            let mut values = data
                .rows
                .iter()
                .filter_map(|r| r.values.get(p))
                .filter(|v| !v.is_inactive());
            let whole = values.all(|v| matches!(v, Value::Int(_)));
            let span = hi - lo + 1.0;
            (whole && span <= MAX_CELLS as f64)
                .then(|| (0..span as usize).map(|k| lo + k as f64).collect())
        }
        Axis::Numeric { .. } => None,
    }
}

/// The drawn range of an axis: whole cells at the ends of a discrete one.
fn drawn_range(axis: &Axis, cells: Option<&Vec<f64>>) -> (f64, f64) {
    match (axis, cells) {
        (Axis::Numeric { .. }, Some(c)) => (
            c.first().copied().unwrap_or(0.0) - 0.5,
            c.last().copied().unwrap_or(0.0) + 0.5,
        ),
        _ => axis.range(),
    }
}

/// One rectangle of the heat map, in chart coordinates, and its value.
struct Patch {
    x: (f64, f64),
    y: (f64, f64),
    v: f64,
}

/// The index of the cell nearest to `at`.
fn cell_at(cells: &[f64], at: f64) -> Option<usize> {
    cells
        .iter()
        .enumerate()
        .min_by(|a, b| (a.1 - at).abs().total_cmp(&(b.1 - at).abs()))
        .map(|(k, _)| k)
}

/// Inverse-distance weighted value (power 2) at `at` of `pts` (position, value) along one
/// axis of width `width`.
fn idw_1d(pts: &[(f64, f64)], at: f64, width: f64) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for &(p, v) in pts {
        let d2 = ((p - at) / width.max(f64::MIN_POSITIVE)).powi(2);
        if d2 < 1e-18 {
            return v;
        }
        num += v / d2;
        den += 1.0 / d2;
    }
    if den > 0.0 { num / den } else { f64::NAN }
}

impl<'a> Scene<'a> {
    pub fn new(data: &'a PlotData, options: &PlotOptions) -> Result<Scene<'a>, PlotError> {
        let axes: Vec<Axis> = (0..data.names.len()).map(|p| data.axis(p)).collect();
        let mut order: Vec<usize> = (0..axes.len()).filter(|&p| axes[p].is_numeric()).collect();
        order.extend((0..axes.len()).filter(|&p| !axes[p].is_numeric()));
        let px = match &options.x {
            Some(n) => data.param_index(n)?,
            None => order.first().copied().unwrap_or(0),
        };
        let py = match &options.y {
            Some(n) => Some(data.param_index(n)?),
            None => order.iter().copied().find(|&p| p != px),
        };
        let scale = ColourScale::new(data.result_range());
        let ax = axes.get(px).cloned().unwrap_or(Axis::linear(0.0, 1.0));
        let ay = match py {
            Some(p) => axes.get(p).cloned().unwrap_or(Axis::linear(0.0, 1.0)),
            None => Axis::linear(scale.lo, scale.hi),
        };
        let xcells = cells_of(data, px, &ax);
        let ycells = py.and_then(|p| cells_of(data, p, &ay));
        Ok(Scene {
            data,
            px,
            py,
            ax,
            ay,
            xcells,
            ycells,
            scale,
            contour: options.contour,
        })
    }

    /// The heat map of the samples `pts` (x, y, result) over the drawn ranges; see the
    /// module's documentation.
    fn patches(&self, pts: &[(f64, f64, f64)], xr: (f64, f64), yr: (f64, f64)) -> Vec<Patch> {
        let span = |cells: &[f64], k: usize| (cells[k] - 0.5, cells[k] + 0.5);
        let strips = |n: usize, (a, b): (f64, f64)| {
            let w = (b - a) / n as f64;
            (0..n).map(move |i| (a + i as f64 * w, a + (i + 1) as f64 * w))
        };
        let mut out = Vec::new();
        match (&self.xcells, &self.ycells) {
            (Some(xc), Some(yc)) => {
                let mut sums = vec![(0.0, 0usize); xc.len() * yc.len()];
                for &(x, y, v) in pts {
                    if let (Some(i), Some(j)) = (cell_at(xc, x), cell_at(yc, y)) {
                        let s = &mut sums[j * xc.len() + i];
                        *s = (s.0 + v, s.1 + 1);
                    }
                }
                for (k, (sum, n)) in sums.into_iter().enumerate() {
                    if n > 0 {
                        let (i, j) = (k % xc.len(), k / xc.len());
                        out.push(Patch {
                            x: span(xc, i),
                            y: span(yc, j),
                            v: sum / n as f64,
                        });
                    }
                }
            }
            (Some(xc), None) => {
                for (i, _) in xc.iter().enumerate() {
                    let column: Vec<(f64, f64)> = pts
                        .iter()
                        .filter(|p| cell_at(xc, p.0) == Some(i))
                        .map(|p| (p.1, p.2))
                        .collect();
                    if column.is_empty() {
                        continue;
                    }
                    for y in strips(GRID_Y, yr) {
                        let v = idw_1d(&column, (y.0 + y.1) / 2.0, yr.1 - yr.0);
                        out.push(Patch {
                            x: span(xc, i),
                            y,
                            v,
                        });
                    }
                }
            }
            (None, Some(yc)) => {
                for (j, _) in yc.iter().enumerate() {
                    let row: Vec<(f64, f64)> = pts
                        .iter()
                        .filter(|p| cell_at(yc, p.1) == Some(j))
                        .map(|p| (p.0, p.2))
                        .collect();
                    if row.is_empty() {
                        continue;
                    }
                    for x in strips(GRID_X, xr) {
                        let v = idw_1d(&row, (x.0 + x.1) / 2.0, xr.1 - xr.0);
                        out.push(Patch {
                            x,
                            y: span(yc, j),
                            v,
                        });
                    }
                }
            }
            (None, None) => {
                let grid = interpolate(pts, xr, yr);
                let cw = (xr.1 - xr.0) / GRID_X as f64;
                let ch = (yr.1 - yr.0) / GRID_Y as f64;
                for (k, v) in grid.into_iter().enumerate() {
                    let (a, b) = (
                        xr.0 + (k % GRID_X) as f64 * cw,
                        yr.0 + (k / GRID_X) as f64 * ch,
                    );
                    out.push(Patch {
                        x: (a - cw * 0.5, a + cw * 0.5),
                        y: (b - ch * 0.5, b + ch * 0.5),
                        v,
                    });
                }
            }
        }
        out
    }

    fn xy(&self, row: &ResultRow, y_fallback: f64) -> (f64, f64) {
        let x = row
            .values
            .get(self.px)
            .map_or(f64::NAN, |v| self.ax.position(v));
        let y = match self.py {
            Some(p) => row.values.get(p).map_or(f64::NAN, |v| self.ay.position(v)),
            None => row.outcome.result.unwrap_or(y_fallback),
        };
        (x, y)
    }

    fn name(&self, p: Option<usize>) -> String {
        match p {
            Some(p) => self.data.names.get(p).cloned().unwrap_or_default(),
            None => "result".into(),
        }
    }

    /// Draws the first `n` rows (in the order they finished): the chart with its heat map and
    /// samples, the legend in a strip below it, the colour bar beside it.
    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, n: usize) -> Drawn {
        let rows = &self.data.rows[..n.min(self.data.rows.len())];
        let (w, h) = root.dim_in_pixel();
        let (main, bar) = root.split_horizontally(w.saturating_sub(BAR_WIDTH));
        let (main, strip) = main.split_vertically(h.saturating_sub(LEGEND_HEIGHT));
        let (x0, x1) = drawn_range(&self.ax, self.xcells.as_ref());
        let (y0, y1) = drawn_range(&self.ay, self.ycells.as_ref());
        let title = match self.py {
            Some(_) => format!(
                "{}: result over {} and {}",
                self.data.name,
                self.name(Some(self.px)),
                self.name(self.py)
            ),
            None => format!(
                "{}: result over {}",
                self.data.name,
                self.name(Some(self.px))
            ),
        };
        let mut chart = ChartBuilder::on(&main)
            .caption(title, font(22.0))
            .margin(12)
            .margin_bottom(0)
            .x_label_area_size(X_LABELS)
            .y_label_area_size(Y_LABELS)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(de)?;
        let (ax, ay) = (&self.ax, &self.ay);
        let (xc, yc) = (self.xcells.is_some(), self.ycells.is_some());
        // A discrete axis is labelled at its cells only.
        let label = |axis: &Axis, cells: bool, v: f64| {
            if cells && (v - v.round()).abs() > 1e-6 {
                String::new()
            } else {
                axis.label(v)
            }
        };
        let ticks = |axis: &Axis, cells: &Option<Vec<f64>>| match cells {
            Some(c) => c.len() + 1,
            None => axis.ticks(),
        };
        chart
            .configure_mesh()
            .light_line_style(WHITE.mix(0.0))
            .bold_line_style(GRID)
            .x_labels(ticks(ax, &self.xcells))
            .y_labels(ticks(ay, &self.ycells))
            .x_label_formatter(&|v| label(ax, xc, *v))
            .y_label_formatter(&|v| label(ay, yc, *v))
            .x_desc(self.name(Some(self.px)))
            .y_desc(self.name(self.py))
            .label_style(font(14.0))
            .axis_desc_style(font(16.0))
            .draw()
            .map_err(de)?;
        let ok: Vec<&ResultRow> = rows
            .iter()
            .filter(|r| r.outcome.status == Status::Ok && r.outcome.result.is_some())
            .collect();
        if self.contour && self.py.is_some() && ok.len() >= 3 {
            self.draw_heat_map(&mut chart, &ok, (x0, x1), (y0, y1))?;
        }
        let entries = self.draw_samples(&mut chart, rows, &ok, (y0, y1))?;
        if !rows.is_empty() {
            legend(&strip, Y_LABELS as i32 + 12, &entries)?;
        }
        if n < self.data.rows.len() {
            main.draw(&Text::new(
                format!("{} of {} sets", rows.len(), self.data.rows.len()),
                (90, 40),
                font(14.0),
            ))
            .map_err(de)?;
        }
        let (top, bottom) = (
            chart.backend_coord(&(x0, y1)).1,
            chart.backend_coord(&(x0, y0)).1,
        );
        colour_bar(
            &bar,
            self.scale,
            &format!("result ({})", self.data.direction_word()),
            top,
            bottom,
        )
    }

    /// The heat map (and, over two numeric axes, its contour lines) under the samples.
    fn draw_heat_map<DB: DrawingBackend>(
        &self,
        chart: &mut Chart<'_, DB>,
        ok: &[&ResultRow],
        xr: (f64, f64),
        yr: (f64, f64),
    ) -> Drawn {
        let pts: Vec<(f64, f64, f64)> = ok
            .iter()
            .map(|r| {
                let (x, y) = self.xy(r, 0.0);
                (x, y, r.outcome.result.unwrap_or(f64::NAN))
            })
            .filter(|p| p.0.is_finite() && p.1.is_finite() && p.2.is_finite())
            .collect();
        let patches = self.patches(&pts, xr, yr);
        chart
            .draw_series(patches.iter().filter(|p| p.v.is_finite()).map(|p| {
                let c = self.scale.colour(p.v);
                let soft = RGBColor(soften(c.0), soften(c.1), soften(c.2));
                Rectangle::new([(p.x.0, p.y.0), (p.x.1, p.y.1)], soft.filled())
            }))
            .map_err(de)?;
        if self.xcells.is_none() && self.ycells.is_none() {
            let grid = interpolate(&pts, xr, yr);
            let cw = (xr.1 - xr.0) / GRID_X as f64;
            let ch = (yr.1 - yr.0) / GRID_Y as f64;
            let levels: Vec<f64> = (1..=LEVELS)
                .map(|l| {
                    self.scale.lo + (self.scale.hi - self.scale.lo) * l as f64 / (LEVELS + 1) as f64
                })
                .collect();
            let segments = contours(&grid, &levels, (xr.0, cw), (yr.0, ch));
            chart
                .draw_series(
                    segments
                        .into_iter()
                        .map(|(a, b)| PathElement::new(vec![a, b], INK.mix(0.35).stroke_width(1))),
                )
                .map_err(de)?;
        }
        Ok(())
    }

    /// The samples: random sets as circles, Bayesian ones as triangles, failed ones as crosses
    /// along the bottom (at their parameters when both are known), the best one ringed.
    /// Returns the legend's entries.
    fn draw_samples<DB: DrawingBackend>(
        &self,
        chart: &mut Chart<'_, DB>,
        rows: &[ResultRow],
        ok: &[&ResultRow],
        (y0, y1): (f64, f64),
    ) -> Result<Vec<(Marker, String)>, String> {
        let mut entries = Vec::new();
        let size = if rows.len() > 400 {
            3
        } else if rows.len() > 100 {
            4
        } else {
            6
        };
        let scale = self.scale;
        let point = |r: &&ResultRow| {
            let (x, y) = self.xy(r, y0);
            (x.is_finite() && y.is_finite()).then_some((x, y, r.outcome.result.unwrap_or(0.0)))
        };
        let random: Vec<(f64, f64, f64)> = ok
            .iter()
            .filter(|r| !r.bayesian)
            .filter_map(point)
            .collect();
        let bayes: Vec<(f64, f64, f64)> =
            ok.iter().filter(|r| r.bayesian).filter_map(point).collect();
        let grey = RGBColor(150, 150, 150);
        if !random.is_empty() {
            chart
                .draw_series(random.iter().map(|&(x, y, v)| {
                    EmptyElement::at((x, y))
                        + Circle::new((0, 0), size, scale.colour(v).filled())
                        + Circle::new((0, 0), size, BLACK.mix(0.8).stroke_width(1))
                }))
                .map_err(de)?;
            entries.push((Marker::Dot(grey), format!("random ({})", random.len())));
        }
        if !bayes.is_empty() {
            let s = size + 2;
            chart
                .draw_series(bayes.iter().map(|&(x, y, v)| {
                    EmptyElement::at((x, y))
                        + TriangleMarker::new((0, 0), s + 3, BLACK.mix(0.8).filled())
                        + TriangleMarker::new((0, 0), s, scale.colour(v).filled())
                }))
                .map_err(de)?;
            entries.push((
                Marker::Triangle(grey),
                format!("Bayesian ({})", bayes.len()),
            ));
        }
        let failed = rows.len() - ok.len();
        if failed > 0 {
            self.draw_failed(chart, rows, y0 + (y1 - y0) * 0.015, size.max(4))?;
            entries.push((Marker::Cross(FAILED), format!("failed ({failed})")));
        }
        let best = ok.iter().copied().reduce(|a, b| {
            let (va, vb) = (
                a.outcome.result.unwrap_or(0.0),
                b.outcome.result.unwrap_or(0.0),
            );
            if self.data.direction.better(vb, va) {
                b
            } else {
                a
            }
        });
        if let Some(r) = best {
            let (x, y) = self.xy(r, y0);
            if x.is_finite() && y.is_finite() {
                chart
                    .draw_series(std::iter::once(Circle::new(
                        (x, y),
                        size + 6,
                        BEST.stroke_width(3),
                    )))
                    .map_err(de)?;
                let v = r.outcome.result.unwrap_or(0.0);
                entries.push((
                    Marker::Ring(BEST),
                    format!("best {} (set {})", fmt_num(v), r.index),
                ));
            }
        }
        Ok(entries)
    }

    /// Failed sets as crosses: at their parameters, or at `y_failed` when the vertical axis
    /// is the result (which they lack).
    fn draw_failed<DB: DrawingBackend>(
        &self,
        chart: &mut Chart<'_, DB>,
        rows: &[ResultRow],
        y_failed: f64,
        size: i32,
    ) -> Drawn {
        let crosses: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| r.outcome.status.is_failure())
            .map(|r| {
                if self.py.is_some() {
                    self.xy(r, y_failed)
                } else {
                    (self.xy(r, y_failed).0, y_failed)
                }
            })
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .collect();
        chart
            .draw_series(
                crosses
                    .iter()
                    .map(|&p| Cross::new(p, size, FAILED.stroke_width(2))),
            )
            .map_err(de)?;
        Ok(())
    }
}

/// The chart plot_3d draws on.
type Chart<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// 55 % colour, 45 % white: the heat map stays behind the samples.
fn soften(c: u8) -> u8 {
    (c as f64 * 0.55 + 255.0 * 0.45).round() as u8
}

/// Inverse-distance weighted interpolation (power 2, in coordinates scaled to the drawn
/// ranges) of `pts` (x, y, value) at the centres of a `GRID_X` x `GRID_Y` grid, row by row.
pub fn interpolate(
    pts: &[(f64, f64, f64)],
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> Vec<f64> {
    let (sx, sy) = (
        (x1 - x0).max(f64::MIN_POSITIVE),
        (y1 - y0).max(f64::MIN_POSITIVE),
    );
    let cw = (x1 - x0) / GRID_X as f64;
    let ch = (y1 - y0) / GRID_Y as f64;
    let mut out = Vec::with_capacity(GRID_X * GRID_Y);
    for j in 0..GRID_Y {
        for i in 0..GRID_X {
            let (x, y) = (x0 + i as f64 * cw, y0 + j as f64 * ch);
            let (mut num, mut den) = (0.0, 0.0);
            let mut exact = None;
            for &(px, py, v) in pts {
                let d2 = ((px - x) / sx).powi(2) + ((py - y) / sy).powi(2);
                if d2 < 1e-18 {
                    exact = Some(v);
                    break;
                }
                let w = 1.0 / d2;
                num += w * v;
                den += w;
            }
            out.push(exact.unwrap_or(if den > 0.0 { num / den } else { f64::NAN }));
        }
    }
    out
}

/// Marching squares over the grid of [`interpolate`]: the line segments of each level.
pub fn contours(
    grid: &[f64],
    levels: &[f64],
    (x0, cw): (f64, f64),
    (y0, ch): (f64, f64),
) -> Vec<((f64, f64), (f64, f64))> {
    let at = |i: usize, j: usize| grid.get(j * GRID_X + i).copied().unwrap_or(f64::NAN);
    let pos = |i: f64, j: f64| (x0 + i * cw, y0 + j * ch);
    let mut segs = Vec::new();
    for &level in levels {
        for j in 0..GRID_Y.saturating_sub(1) {
            for i in 0..GRID_X.saturating_sub(1) {
                // Corners counter-clockwise from the lower left.
                let c = [at(i, j), at(i + 1, j), at(i + 1, j + 1), at(i, j + 1)];
                if c.iter().any(|v| !v.is_finite()) {
                    continue;
                }
                let corner = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)];
                // Where the level crosses each edge (k: from corner k to k+1).
                let mut cuts = Vec::with_capacity(4);
                for k in 0..4 {
                    let (a, b) = (c[k], c[(k + 1) % 4]);
                    if (a < level) != (b < level) {
                        let t = (level - a) / (b - a);
                        let (p, q) = (corner[k], corner[(k + 1) % 4]);
                        cuts.push(pos(
                            i as f64 + p.0 + (q.0 - p.0) * t,
                            j as f64 + p.1 + (q.1 - p.1) * t,
                        ));
                    }
                }
                match cuts.len() {
                    2 => segs.push((cuts[0], cuts[1])),
                    4 => {
                        segs.push((cuts[0], cuts[1]));
                        segs.push((cuts[2], cuts[3]));
                    }
                    _ => {}
                }
            }
        }
    }
    segs
}

/// Writes the animation: samples added `options.step` at a time.
pub fn gif(data: &PlotData, options: &PlotOptions, path: &Path) -> Result<(), PlotError> {
    let scene = Scene::new(data, options)?;
    let draw_err = |message: String| PlotError::Draw {
        plot: "plot_3d",
        target: path.display().to_string(),
        message,
    };
    let n = data.rows.len();
    let step = options.step.max(1).max(n.div_ceil(MAX_FRAMES));
    let delay = 1000 / options.fps.clamp(1, 100);
    let root = BitMapBackend::gif(path, (options.width, options.height), delay)
        .map_err(|e| draw_err(e.to_string()))?
        .into_drawing_area();
    let mut shown = step.min(n);
    loop {
        root.fill(&WHITE).map_err(|e| draw_err(e.to_string()))?;
        scene.draw(&root, shown).map_err(draw_err)?;
        root.present().map_err(|e| draw_err(e.to_string()))?;
        if shown >= n {
            break;
        }
        shown = (shown + step).min(n);
    }
    Ok(())
}

//! `plot_3d`: the result (colour) over two parameters, with an interpolated heat map and
//! contour lines under the samples, random and Bayesian sets told apart by their marker, and a
//! colour bar. With one parameter the vertical axis is the result itself. Optionally animated:
//! a GIF adding samples in the order they finished.

use super::{
    Axis, ColourScale, Drawn, FAILED, GRID, INK, PlotData, PlotError, PlotOptions, colour_bar, de,
    fmt_num, font,
};
use crate::experiment::ResultRow;
use crate::objective::Status;
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

/// What every frame shares: the axes and colours are those of all rows, so frames line up.
pub struct Scene<'a> {
    data: &'a PlotData,
    px: usize,
    /// `None`: the vertical axis is the result.
    py: Option<usize>,
    ax: Axis,
    ay: Axis,
    scale: ColourScale,
    contour: bool,
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
        Ok(Scene {
            data,
            px,
            py,
            ax,
            ay,
            scale,
            contour: options.contour,
        })
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

    /// Draws the first `n` rows (in the order they finished). Long by nature: one figure drawn
    /// top to bottom, every part in the same chart coordinates.
    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, n: usize) -> Drawn {
        let rows = &self.data.rows[..n.min(self.data.rows.len())];
        let (w, _) = root.dim_in_pixel();
        let (main, bar) = root.split_horizontally(w.saturating_sub(BAR_WIDTH));
        let (x0, x1) = self.ax.range();
        let (y0, y1) = self.ay.range();
        let ok: Vec<(&ResultRow, f64)> = rows
            .iter()
            .filter_map(|r| {
                r.outcome
                    .result
                    .filter(|_| r.outcome.status == Status::Ok)
                    .map(|v| (r, v))
            })
            .collect();
        let failed = rows.len() - ok.len();
        let best = ok.iter().copied().reduce(|a, b| {
            if self.data.direction.better(b.1, a.1) {
                b
            } else {
                a
            }
        });
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
            .x_label_area_size(X_LABELS)
            .y_label_area_size(75)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(de)?;
        let (ax, ay) = (&self.ax, &self.ay);
        chart
            .configure_mesh()
            .light_line_style(WHITE.mix(0.0))
            .bold_line_style(GRID)
            .x_labels(ax.ticks())
            .y_labels(ay.ticks())
            .x_label_formatter(&|v| ax.label(*v))
            .y_label_formatter(&|v| ay.label(*v))
            .x_desc(self.name(Some(self.px)))
            .y_desc(self.name(self.py))
            .label_style(font(14.0))
            .axis_desc_style(font(16.0))
            .draw()
            .map_err(de)?;

        if self.contour && self.py.is_some() && ok.len() >= 3 {
            let pts: Vec<(f64, f64, f64)> = ok
                .iter()
                .map(|(r, v)| {
                    let (x, y) = self.xy(r, 0.0);
                    (x, y, *v)
                })
                .filter(|p| p.0.is_finite() && p.1.is_finite())
                .collect();
            let grid = interpolate(&pts, (x0, x1), (y0, y1));
            let cw = (x1 - x0) / GRID_X as f64;
            let ch = (y1 - y0) / GRID_Y as f64;
            chart
                .draw_series(grid.iter().enumerate().map(|(k, v)| {
                    let (i, j) = (k % GRID_X, k / GRID_X);
                    let (a, b) = (x0 + i as f64 * cw, y0 + j as f64 * ch);
                    let c = self.scale.colour(*v);
                    let soft = RGBColor(soften(c.0), soften(c.1), soften(c.2));
                    Rectangle::new(
                        [(a - cw * 0.5, b - ch * 0.5), (a + cw * 0.5, b + ch * 0.5)],
                        soft.filled(),
                    )
                }))
                .map_err(de)?;
            let levels: Vec<f64> = (1..=LEVELS)
                .map(|l| {
                    self.scale.lo + (self.scale.hi - self.scale.lo) * l as f64 / (LEVELS + 1) as f64
                })
                .collect();
            let segments = contours(&grid, &levels, (x0, cw), (y0, ch));
            chart
                .draw_series(
                    segments
                        .into_iter()
                        .map(|(a, b)| PathElement::new(vec![a, b], INK.mix(0.35).stroke_width(1))),
                )
                .map_err(de)?;
        }

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
            .map(|(r, _)| r)
            .filter(|r| !r.bayesian)
            .filter_map(point)
            .collect();
        let bayes: Vec<(f64, f64, f64)> = ok
            .iter()
            .map(|(r, _)| r)
            .filter(|r| r.bayesian)
            .filter_map(point)
            .collect();
        if !random.is_empty() {
            chart
                .draw_series(random.iter().map(|&(x, y, v)| {
                    EmptyElement::at((x, y))
                        + Circle::new((0, 0), size, scale.colour(v).filled())
                        + Circle::new((0, 0), size, BLACK.mix(0.8).stroke_width(1))
                }))
                .map_err(de)?
                .label(format!("random ({})", random.len()))
                .legend(|(x, y)| {
                    EmptyElement::at((x + 8, y))
                        + Circle::new((0, 0), 5, RGBColor(150, 150, 150).filled())
                        + Circle::new((0, 0), 5, BLACK.stroke_width(1))
                });
        }
        if !bayes.is_empty() {
            let s = size + 2;
            chart
                .draw_series(bayes.iter().map(|&(x, y, v)| {
                    EmptyElement::at((x, y))
                        + TriangleMarker::new((0, 0), s + 3, BLACK.mix(0.8).filled())
                        + TriangleMarker::new((0, 0), s, scale.colour(v).filled())
                }))
                .map_err(de)?
                .label(format!("Bayesian ({})", bayes.len()))
                .legend(|(x, y)| {
                    EmptyElement::at((x + 8, y))
                        + TriangleMarker::new((0, 0), 10, BLACK.filled())
                        + TriangleMarker::new((0, 0), 7, RGBColor(150, 150, 150).filled())
                });
        }
        if failed > 0 {
            let y_failed = y0 + (y1 - y0) * 0.015;
            let crosses: Vec<(f64, f64)> = rows
                .iter()
                .filter(|r| r.outcome.status != Status::Ok || r.outcome.result.is_none())
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
                        .map(|&p| Cross::new(p, size.max(4), FAILED.stroke_width(2))),
                )
                .map_err(de)?
                .label(format!("failed ({failed})"))
                .legend(|(x, y)| Cross::new((x + 8, y), 5, FAILED.stroke_width(2)));
        }
        if let Some((r, v)) = best {
            let (x, y) = self.xy(r, y0);
            if x.is_finite() && y.is_finite() {
                chart
                    .draw_series(std::iter::once(Circle::new(
                        (x, y),
                        size + 6,
                        RGBColor(220, 20, 60).stroke_width(3),
                    )))
                    .map_err(de)?
                    .label(format!("best {} (set {})", fmt_num(v), r.index))
                    .legend(|(x, y)| {
                        Circle::new((x + 8, y), 6, RGBColor(220, 20, 60).stroke_width(3))
                    });
            }
        }
        if !rows.is_empty() {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(INK.mix(0.5))
                .label_font(font(14.0))
                .draw()
                .map_err(de)?;
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
}

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

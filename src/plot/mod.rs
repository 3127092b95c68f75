//! Plots of an experiment, drawn from its stored results only (`results.csv` and the stored
//! definition, through [`experiment::read_stored`]), never from a live master.
//!
//! Each plot is one file beside this one and is written as `DIR/plots/NAME.png` and
//! `DIR/plots/NAME.svg`; `plot_3d` can also be animated (`plot_3d.gif`); `learning_curves`
//! also reads `curves.csv`. This module holds
//! what they share: reading, the bundled font, the colour map, axes of parameters (numeric or
//! categorical), number formatting and the colour bar.

mod evolution;
mod learning;
mod parallel;
mod pareto;
mod plot3d;
mod timeline;

use crate::config::{Direction, Output, PlotName};
use crate::experiment::curves::CurvePoint;
use crate::experiment::{self, ExperimentError, ResultRow};
use crate::objective::Status;
use crate::prune::PruningOptions;
use crate::space::Value;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The folder inside the experiment folder the plots are written to.
pub const PLOT_DIR: &str = "plots";
/// In [`PLOT_DIR`]: the last axes `hpo plot` was given for plot_3d.
const AXES_FILE: &str = "plot_3d.axes.json";

/// DejaVu Sans (Bitstream Vera licence, see assets/fonts/LICENSE-DejaVu.txt): plots render the
/// same on a machine without any system font.
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
/// The family name plots use; registered from [`FONT`].
pub(crate) const FAMILY: &str = "sans-serif";

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error(transparent)]
    Experiment(#[from] ExperimentError),
    #[error("`{name}` is not a parameter of this experiment; the parameters are {known}")]
    NoSuchParameter { name: String, known: String },
    #[error("cannot create {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{plot}: cannot draw {target}: {message}")]
    Draw {
        plot: &'static str,
        target: String,
        message: String,
    },
    #[error("the bundled font cannot be loaded")]
    Font,
}

impl PlotError {
    /// Whether the user's input is at fault (a parameter name).
    pub fn is_usage(&self) -> bool {
        matches!(self, PlotError::NoSuchParameter { .. })
    }
}

/// plot_3d's horizontal and vertical parameters (`None`: the default one).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Axes {
    pub x: Option<String>,
    pub y: Option<String>,
}

/// The last axes `hpo plot` was given for `dir` (none when it was never given any).
pub fn remembered_axes(dir: &Path) -> Axes {
    std::fs::read(dir.join(PLOT_DIR).join(AXES_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Remembers the axes `hpo plot` was given (each one given replaces the one remembered), so a
/// later `hpo plot` or `hpo report` draws them too. Names that are not parameters are refused.
pub fn remember_axes(dir: &Path, given: &Axes) -> Result<(), PlotError> {
    let names = experiment::load_stored(dir)?.space.names().to_vec();
    for name in [&given.x, &given.y].into_iter().flatten() {
        if !names.contains(name) {
            return Err(PlotError::NoSuchParameter {
                name: name.clone(),
                known: names.join(", "),
            });
        }
    }
    let before = remembered_axes(dir);
    let axes = Axes {
        x: given.x.clone().or(before.x),
        y: given.y.clone().or(before.y),
    };
    let out = dir.join(PLOT_DIR);
    let path = out.join(AXES_FILE);
    let io = |source| PlotError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(&out).map_err(io)?;
    let tmp = out.join(format!(".{AXES_FILE}.tmp"));
    std::fs::write(&tmp, serde_json::to_vec(&axes).unwrap_or_default())
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(io)
}

/// What `hpo plot` can be asked for.
#[derive(Clone, Debug)]
pub struct PlotOptions {
    /// plot_3d: the horizontal parameter (default: the first numeric one).
    pub x: Option<String>,
    /// plot_3d: the vertical parameter (default: the second numeric one).
    pub y: Option<String>,
    /// plot_3d: an interpolated heat map with contour lines under the samples.
    pub contour: bool,
    /// plot_3d: also write `plot_3d.gif`, adding samples in the order they finished.
    pub gif: bool,
    /// Samples added per GIF frame.
    pub step: usize,
    /// GIF frames per second.
    pub fps: u32,
    /// Size in pixels of the PNG (and of the SVG's view box).
    pub width: u32,
    pub height: u32,
}

impl Default for PlotOptions {
    fn default() -> Self {
        PlotOptions {
            x: None,
            y: None,
            contour: true,
            gif: false,
            step: 1,
            fps: 4,
            width: 1000,
            height: 700,
        }
    }
}

/// The stored results of one experiment, as the plots read them.
#[derive(Clone, Debug)]
pub struct PlotData {
    /// The experiment's name (its folder's name), for titles.
    pub name: String,
    pub names: Vec<String>,
    pub direction: Direction,
    /// The direction of the reported values (`Definition::report_direction`).
    pub report_direction: Direction,
    /// In the order they finished (the order of results.csv).
    pub rows: Vec<ResultRow>,
    /// Every intermediate value reported (curves.csv), in file order.
    pub curves: Vec<CurvePoint>,
    /// The `[pruning]` table (its rungs are marked on the learning curves).
    pub pruning: Option<PruningOptions>,
    /// The declared outputs (`[[objective.outputs]]`); empty for one result.
    pub outputs: Vec<Output>,
}

impl PlotData {
    /// Reads an experiment folder (read-only: safe while a run appends to it).
    pub fn load(dir: &Path) -> Result<PlotData, PlotError> {
        let (exp, rows) = experiment::read_stored(dir)?;
        let curves = experiment::curves::read(dir, false).map_err(ExperimentError::from)?;
        let name = std::fs::canonicalize(dir)
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| dir.display().to_string());
        Ok(PlotData {
            name,
            names: exp.space.names().to_vec(),
            direction: exp.objective.direction,
            report_direction: exp.report_direction(),
            rows,
            curves,
            pruning: exp.pruning,
            outputs: exp.objective.outputs,
        })
    }

    /// Whether plot `name` belongs to this experiment when plots are drawn without naming
    /// them: `pareto_front` only with declared outputs (so an experiment with one result
    /// gets the files it always got).
    pub fn draws(&self, name: PlotName) -> bool {
        name != PlotName::ParetoFront || !self.outputs.is_empty()
    }

    pub fn ok_rows(&self) -> impl Iterator<Item = (&ResultRow, f64)> {
        self.rows.iter().filter_map(|r| {
            r.outcome
                .result
                .filter(|_| r.outcome.status == Status::Ok)
                .map(|v| (r, v))
        })
    }

    /// Failed and timed-out rows (a pruned row is neither a result nor a failure: the plots
    /// of results leave it out).
    pub fn failed(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| r.outcome.status.is_failure())
            .count()
    }

    /// The best ok row.
    pub fn best(&self) -> Option<(&ResultRow, f64)> {
        self.ok_rows().reduce(|a, b| {
            if self.direction.better(b.1, a.1) {
                b
            } else {
                a
            }
        })
    }

    /// (lowest, highest) ok result.
    pub fn result_range(&self) -> Option<(f64, f64)> {
        self.ok_rows()
            .map(|(_, v)| (v, v))
            .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)))
    }

    fn param_index(&self, name: &str) -> Result<usize, PlotError> {
        self.names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| PlotError::NoSuchParameter {
                name: name.into(),
                known: self.names.join(", "),
            })
    }

    /// The axis of parameter `p` over the stored values (the sets where it is active).
    pub fn axis(&self, p: usize) -> Axis {
        Axis::of(
            self.rows
                .iter()
                .filter_map(|r| r.values.get(p))
                .filter(|v| !v.is_inactive()),
        )
    }

    fn direction_word(&self) -> &'static str {
        match self.direction {
            Direction::Minimize => "minimized",
            Direction::Maximize => "maximized",
        }
    }
}

/// The axis of one parameter: its numeric range, or its categories in order of appearance.
#[derive(Clone, Debug, PartialEq)]
pub enum Axis {
    /// `log`: drawn on a logarithmic scale (positions are log10 of the values).
    Numeric {
        lo: f64,
        hi: f64,
        log: bool,
    },
    Categorical {
        labels: Vec<String>,
    },
}

impl Axis {
    /// Numeric when every value is a number.
    pub fn of<'a>(values: impl Iterator<Item = &'a Value> + Clone) -> Axis {
        if values
            .clone()
            .all(|v| v.as_f64().is_some_and(f64::is_finite))
        {
            let (lo, hi) = values
                .filter_map(Value::as_f64)
                .fold((f64::INFINITY, f64::NEG_INFINITY), |a, v| {
                    (a.0.min(v), a.1.max(v))
                });
            if lo.is_finite() {
                // Positive values over two decades or more: a log scale.
                return Axis::Numeric {
                    lo,
                    hi,
                    log: lo > 0.0 && hi / lo >= 100.0,
                };
            }
            return Axis::linear(0.0, 1.0);
        }
        let mut labels: Vec<String> = Vec::new();
        for v in values {
            let s = v.to_string();
            if !labels.contains(&s) {
                labels.push(s);
            }
        }
        Axis::Categorical { labels }
    }

    pub fn linear(lo: f64, hi: f64) -> Axis {
        Axis::Numeric { lo, hi, log: false }
    }

    /// Where a value lies: the number itself (its log10 on a log scale), or the category's
    /// position 0, 1, ...; NaN for an inactive parameter (no position on the axis).
    pub fn position(&self, v: &Value) -> f64 {
        match self {
            _ if v.is_inactive() => f64::NAN,
            Axis::Numeric { log: true, .. } => {
                v.as_f64().filter(|x| *x > 0.0).map_or(f64::NAN, f64::log10)
            }
            Axis::Numeric { .. } => v.as_f64().unwrap_or(f64::NAN),
            Axis::Categorical { labels } => {
                let s = v.to_string();
                labels
                    .iter()
                    .position(|l| *l == s)
                    .map_or(f64::NAN, |i| i as f64)
            }
        }
    }

    /// The extent of the positions of the values.
    pub fn span(&self) -> (f64, f64) {
        match self {
            Axis::Numeric { lo, hi, log: true } => (lo.log10(), hi.log10()),
            Axis::Numeric { lo, hi, .. } => (*lo, *hi),
            Axis::Categorical { labels } => (0.0, labels.len().saturating_sub(1) as f64),
        }
    }

    /// The drawn range, padded so no sample sits on the frame.
    pub fn range(&self) -> (f64, f64) {
        match self {
            Axis::Numeric { .. } => {
                let (a, b) = self.span();
                padded(a, b, 0.04)
            }
            Axis::Categorical { labels } => (-0.5, labels.len().max(1) as f64 - 0.5),
        }
    }

    /// The label of a tick at `v`.
    pub fn label(&self, v: f64) -> String {
        match self {
            // Decades only: 0.001, 0.01, ...
            Axis::Numeric { log: true, .. } if (v - v.round()).abs() < 1e-6 => {
                fmt_num(10f64.powf(v.round()))
            }
            Axis::Numeric { log: true, .. } => String::new(),
            Axis::Numeric { .. } => fmt_num(v),
            Axis::Categorical { labels } => {
                let i = v.round();
                if (v - i).abs() < 1e-6 && i >= 0.0 {
                    labels.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            }
        }
    }

    /// How many ticks to ask for.
    pub fn ticks(&self) -> usize {
        match self {
            Axis::Numeric { .. } => 8,
            Axis::Categorical { labels } => labels.len().clamp(1, 30) + 1,
        }
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self, Axis::Numeric { .. })
    }
}

/// `lo..hi` widened by `frac` of its width on each side (a point range by a unit around it).
pub fn padded(lo: f64, hi: f64, frac: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    let w = hi - lo;
    if w <= f64::EPSILON * lo.abs().max(1.0) {
        let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        return (lo - d, hi + d);
    }
    (lo - w * frac, hi + w * frac)
}

/// About `n` round tick values (steps of 1, 2, 2.5 or 5 times a power of ten) in `lo..=hi`.
pub fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if !lo.is_finite() || !hi.is_finite() || hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * 0.999)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() * step;
    (0..=n * 3)
        .map(|k| first + k as f64 * step)
        .take_while(|v| *v <= hi + step * 1e-9)
        .map(|v| if v.abs() < step * 1e-9 { 0.0 } else { v })
        .collect()
}

/// A value for a table: 6 significant digits without trailing zeros (`0.979630` is
/// `0.97963`), scientific when very large or small; whole numbers as they are.
pub fn fmt_value(v: f64) -> String {
    if !v.is_finite() || v == 0.0 {
        return if v == 0.0 { "0".into() } else { v.to_string() };
    }
    let a = v.abs();
    if v.fract() == 0.0 && a < 1e15 {
        return format!("{v:.0}");
    }
    if !(1e-4..1e9).contains(&a) {
        let s = format!("{v:.5e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        return format!("{mantissa}e{exp}");
    }
    let digits = (5 - a.log10().floor() as i32).clamp(0, 12) as usize;
    let s = format!("{v:.digits$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" { "0".into() } else { s }
}

/// A number as a tick label: short, without trailing zeros, scientific when very large or small.
pub fn fmt_num(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v.is_finite() {
            "0".into()
        } else {
            v.to_string()
        };
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        let s = format!("{v:.2e}");
        return s.replace(".00e", "e").replace("0e", "e");
    }
    let digits = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
    let s = format!("{v:.digits$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" { "0".into() } else { s }
}

/// The viridis colour map at `t` in 0..1 (dark purple to yellow).
pub fn viridis(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (STOPS.len() - 1) as f64;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |p: u8, q: u8| (p as f64 + (q as f64 - p as f64) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Maps results onto the colour map.
#[derive(Clone, Copy, Debug)]
pub struct ColourScale {
    pub lo: f64,
    pub hi: f64,
}

impl ColourScale {
    pub fn new(range: Option<(f64, f64)>) -> ColourScale {
        let (lo, hi) = range.unwrap_or((0.0, 1.0));
        ColourScale { lo, hi }
    }
    pub fn t(&self, v: f64) -> f64 {
        if self.hi > self.lo {
            (v - self.lo) / (self.hi - self.lo)
        } else {
            0.5
        }
    }
    pub fn colour(&self, v: f64) -> RGBColor {
        viridis(self.t(v))
    }
}

pub(crate) const FAILED: RGBColor = RGBColor(214, 39, 40);
pub(crate) const TIMEOUT: RGBColor = RGBColor(255, 127, 14);
pub(crate) const RANDOM: RGBColor = RGBColor(31, 119, 180);
pub(crate) const BAYES: RGBColor = RGBColor(255, 127, 14);
pub(crate) const GRID: RGBColor = RGBColor(225, 225, 225);
pub(crate) const INK: RGBColor = RGBColor(40, 40, 40);
/// The best set's ring.
pub(crate) const BEST: RGBColor = RGBColor(220, 20, 60);

/// Registers the bundled font once.
pub fn fonts() -> Result<(), PlotError> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        [
            FontStyle::Normal,
            FontStyle::Bold,
            FontStyle::Italic,
            FontStyle::Oblique,
        ]
        .into_iter()
        .all(|style| plotters::style::register_font(FAMILY, style, FONT).is_ok())
    });
    if ok { Ok(()) } else { Err(PlotError::Font) }
}

pub(crate) fn font(size: f64) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&INK)
}

/// Internal drawing errors: the backend's message.
pub(crate) type Drawn = Result<(), String>;

pub(crate) fn de<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// What the house frame writes on a chart's axes.
pub(crate) struct AxisText<'a> {
    pub x_desc: String,
    pub y_desc: String,
    pub x_format: &'a dyn Fn(&f64) -> String,
}

/// A one-panel chart over `x` by `y` in the house frame: the caption, the margins, a light
/// grid, 10 x and 8 y labels, the axis descriptions.
pub(crate) fn framed_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    caption: String,
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
    text: AxisText<'_>,
) -> Result<
    ChartContext<
        'a,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    String,
> {
    let mut chart = ChartBuilder::on(area)
        .caption(caption, font(22.0))
        .margin(14)
        .margin_bottom(0)
        .x_label_area_size(55)
        .y_label_area_size(80)
        .build_cartesian_2d(x, y)
        .map_err(de)?;
    chart
        .configure_mesh()
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(GRID)
        .x_labels(10)
        .y_labels(8)
        .x_label_formatter(text.x_format)
        .y_label_formatter(&|v| fmt_num(*v))
        .x_desc(text.x_desc)
        .y_desc(text.y_desc)
        .label_style(font(14.0))
        .axis_desc_style(font(16.0))
        .draw()
        .map_err(de)?;
    Ok(chart)
}

/// How a chart's value axis says which way is better.
pub(crate) fn better_words(direction: Direction) -> &'static str {
    match direction {
        Direction::Minimize => "lower is better",
        Direction::Maximize => "higher is better",
    }
}

/// Draws a vertical colour bar for `scale` into `area` (a narrow strip beside a chart), titled
/// `label`, from pixel row `top` to `bottom` (those of the chart's plotting area).
pub(crate) fn colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    scale: ColourScale,
    label: &str,
    top: i32,
    bottom: i32,
) -> Drawn {
    let (lo, hi) = if scale.hi > scale.lo {
        (scale.lo, scale.hi)
    } else {
        padded(scale.lo, scale.hi, 0.0)
    };
    let (_, h) = area.dim_in_pixel();
    let mut chart = ChartBuilder::on(area)
        .margin_top(top.max(0) as u32)
        .margin_bottom((h as i32 - bottom).max(0) as u32)
        .margin_right(8)
        .y_label_area_size(0)
        .right_y_label_area_size(70)
        .build_cartesian_2d(0.0..1.0, lo..hi)
        .map_err(de)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .disable_y_mesh()
        .disable_x_axis()
        .y_labels(7)
        // A space keeps the tick mark from reading as a minus sign.
        .y_label_formatter(&|v| format!(" {}", fmt_num(*v)))
        .y_label_style(font(13.0))
        .y_desc(label)
        .axis_desc_style(font(15.0))
        .draw()
        .map_err(de)?;
    let n = 120;
    chart
        .draw_series((0..n).map(|i| {
            let a = lo + (hi - lo) * i as f64 / n as f64;
            let b = lo + (hi - lo) * (i + 1) as f64 / n as f64;
            Rectangle::new([(0.0, a), (1.0, b)], scale.colour((a + b) / 2.0).filled())
        }))
        .map_err(de)?;
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(0.0, lo), (1.0, hi)],
            INK.stroke_width(1),
        )))
        .map_err(de)?;
    Ok(())
}

/// The marker of a legend entry.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Marker {
    /// A filled circle with a dark outline (plot_3d's random sets).
    Dot(RGBColor),
    /// A filled circle without outline.
    Disc(RGBColor),
    /// A filled triangle with a dark outline.
    Triangle(RGBColor),
    /// A short line.
    Line(RGBColor),
    /// A cross (failed sets).
    Cross(RGBColor),
    /// A ring (the best set).
    Ring(RGBColor),
}

/// The height of a legend strip ([`legend`]).
pub(crate) const LEGEND_HEIGHT: u32 = 32;

/// Draws a legend in one row across `area`, a strip beside the chart (never over its data),
/// starting `left` pixels from the strip's left edge.
pub(crate) fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    left: i32,
    entries: &[(Marker, String)],
) -> Drawn {
    let style = font(14.0);
    let (_, h) = area.dim_in_pixel();
    let y = h as i32 / 2;
    let mut x = left;
    for (marker, label) in entries {
        let c = (x + 8, y);
        match *marker {
            Marker::Dot(colour) => area
                .draw(
                    &(EmptyElement::at(c)
                        + Circle::new((0, 0), 5, colour.filled())
                        + Circle::new((0, 0), 5, BLACK.stroke_width(1))),
                )
                .map_err(de)?,
            Marker::Disc(colour) => area.draw(&Circle::new(c, 5, colour.filled())).map_err(de)?,
            Marker::Triangle(colour) => area
                .draw(
                    &(EmptyElement::at(c)
                        + TriangleMarker::new((0, 0), 10, BLACK.filled())
                        + TriangleMarker::new((0, 0), 7, colour.filled())),
                )
                .map_err(de)?,
            Marker::Line(colour) => area
                .draw(&PathElement::new(
                    vec![(x, y), (x + 18, y)],
                    colour.stroke_width(2),
                ))
                .map_err(de)?,
            Marker::Cross(colour) => area
                .draw(&Cross::new(c, 5, colour.stroke_width(2)))
                .map_err(de)?,
            Marker::Ring(colour) => area
                .draw(&Circle::new(c, 6, colour.stroke_width(3)))
                .map_err(de)?,
        }
        let (w, th) = area.estimate_text_size(label, &style).map_err(de)?;
        area.draw(&Text::new(
            label.clone(),
            (x + 24, y - th as i32 / 2),
            style.clone(),
        ))
        .map_err(de)?;
        x += 24 + w as i32 + 22;
    }
    Ok(())
}

/// Draws plot `name` onto `root`.
fn draw_named<DB: DrawingBackend>(
    name: PlotName,
    data: &PlotData,
    options: &PlotOptions,
    root: &DrawingArea<DB, Shift>,
) -> Result<Drawn, PlotError> {
    root.fill(&WHITE).map_err(|e| PlotError::Draw {
        plot: name.as_str(),
        target: "the background".into(),
        message: e.to_string(),
    })?;
    Ok(match name {
        PlotName::Plot3d => {
            let scene = plot3d::Scene::new(data, options)?;
            scene.draw(root, data.rows.len())
        }
        PlotName::ResultEvolution => evolution::draw(root, data),
        PlotName::WorkerTimeline => timeline::draw(root, data),
        PlotName::ParameterCombination => parallel::draw(root, data),
        PlotName::LearningCurves => learning::draw(root, data),
        PlotName::ParetoFront => pareto::draw(root, data),
    })
}

/// Renders one plot as an SVG document (for the HTML report).
pub fn render_svg(
    data: &PlotData,
    name: PlotName,
    options: &PlotOptions,
) -> Result<String, PlotError> {
    fonts()?;
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (options.width, options.height)).into_drawing_area();
        let failed = |message: String| PlotError::Draw {
            plot: name.as_str(),
            target: "SVG".into(),
            message,
        };
        draw_named(name, data, options, &root)?.map_err(failed)?;
        root.present().map_err(|e| failed(e.to_string()))?;
    }
    Ok(svg)
}

/// Writes `DIR/plots/NAME.png` and `NAME.svg` for each plot in `only` (all when empty), and
/// `plot_3d.gif` when asked. Returns the files written.
pub fn render(
    dir: &Path,
    only: &[PlotName],
    options: &PlotOptions,
) -> Result<Vec<PathBuf>, PlotError> {
    let data = PlotData::load(dir)?;
    render_data(&data, &dir.join(PLOT_DIR), only, options)
}

/// As [`render`], from results already read, into `out`.
pub fn render_data(
    data: &PlotData,
    out: &Path,
    only: &[PlotName],
    options: &PlotOptions,
) -> Result<Vec<PathBuf>, PlotError> {
    fonts()?;
    std::fs::create_dir_all(out).map_err(|source| PlotError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    for name in PlotName::ALL
        .into_iter()
        .filter(|p| only.contains(p) || (only.is_empty() && data.draws(*p)))
    {
        let draw_err = |target: &Path, message: String| PlotError::Draw {
            plot: name.as_str(),
            target: target.display().to_string(),
            message,
        };
        // Written beside, then renamed: a viewer (or a report) never sees half a file.
        for ext in ["png", "svg"] {
            let path = out.join(format!("{name}.{ext}"));
            let tmp = out.join(format!(".{name}.tmp.{ext}"));
            let size = (options.width, options.height);
            if ext == "png" {
                let root = BitMapBackend::new(&tmp, size).into_drawing_area();
                draw_named(name, data, options, &root)?.map_err(|m| draw_err(&path, m))?;
                root.present().map_err(|e| draw_err(&path, e.to_string()))?;
            } else {
                let root = SVGBackend::new(&tmp, size).into_drawing_area();
                draw_named(name, data, options, &root)?.map_err(|m| draw_err(&path, m))?;
                root.present().map_err(|e| draw_err(&path, e.to_string()))?;
            }
            std::fs::rename(&tmp, &path).map_err(|source| PlotError::Io {
                path: path.clone(),
                source,
            })?;
            written.push(path);
        }
        if name == PlotName::Plot3d && options.gif {
            let path = out.join("plot_3d.gif");
            let tmp = out.join(".plot_3d.tmp.gif");
            plot3d::gif(data, options, &tmp).map_err(|e| match e {
                PlotError::Draw { message, .. } => draw_err(&path, message),
                other => other,
            })?;
            std::fs::rename(&tmp, &path).map_err(|source| PlotError::Io {
                path: path.clone(),
                source,
            })?;
            written.push(path);
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(1.5), "1.5");
        assert_eq!(fmt_num(-2.0), "-2");
        assert_eq!(fmt_num(123.456), "123.5");
        assert_eq!(fmt_num(0.0123), "0.0123");
        assert_eq!(fmt_num(12345.0), "12345");
        assert_eq!(fmt_num(2.5e-5), "2.5e-5");
        assert_eq!(fmt_num(1e6), "1e6");
    }

    #[test]
    fn values_have_six_significant_digits() {
        assert_eq!(fmt_value(0.9796296296296296), "0.97963");
        assert_eq!(fmt_value(123.456789), "123.457");
        assert_eq!(fmt_value(-0.000123456789), "-0.000123457");
        assert_eq!(fmt_value(3.0), "3");
        assert_eq!(fmt_value(1.5e-7), "1.5e-7");
        assert_eq!(fmt_value(2.0e12), "2000000000000");
        assert_eq!(fmt_value(2.5e12), "2500000000000");
        assert_eq!(fmt_value(12345678912.345), "1.23457e10");
        assert_eq!(fmt_value(0.0), "0");
    }

    #[test]
    fn axes_of_values() {
        let v = [Value::Float(1.0), Value::Int(3)];
        assert_eq!(Axis::of(v.iter()), Axis::linear(1.0, 3.0));
        let wide = [Value::Float(1e-4), Value::Float(0.1)];
        let a = Axis::of(wide.iter());
        assert_eq!(
            a,
            Axis::Numeric {
                lo: 1e-4,
                hi: 0.1,
                log: true
            }
        );
        assert!((a.position(&Value::Float(0.01)) + 2.0).abs() < 1e-12);
        assert_eq!(a.label(-3.0), "0.001");
        assert_eq!(nice_ticks(0.0, 1.0, 4), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(nice_ticks(-3.7, 3.9, 4), vec![-2.0, 0.0, 2.0]);
        let s = [
            Value::Str("relu".into()),
            Value::Str("tanh".into()),
            Value::Str("relu".into()),
        ];
        let a = Axis::of(s.iter());
        assert_eq!(
            a,
            Axis::Categorical {
                labels: vec!["relu".into(), "tanh".into()]
            }
        );
        assert_eq!(a.position(&Value::Str("tanh".into())), 1.0);
        assert_eq!(a.label(1.0), "tanh");
        assert_eq!(a.label(0.5), "");
    }

    #[test]
    fn colour_map_ends() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(f64::NAN), RGBColor(68, 1, 84));
        assert_eq!(padded(2.0, 2.0, 0.1), (1.8, 2.2));
    }
}

//! `hpo plot DIR|CONFIG [--only NAME]...`: draws the plots of an experiment into
//! `DIR/plots/` (PNG and SVG), from its stored results only; safe to run while the experiment
//! runs.
//!
//! plot_3d's axes are, in order: `--x`/`--y`, the last ones `hpo plot` was given (remembered in
//! `DIR/plots/`), `[monitor] plot_x`/`plot_y`, the first two numeric parameters. `hpo report`
//! draws the same.

use crate::config::PlotName;
use crate::experiment;
use crate::plot::{self, Axes, PlotOptions};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  hpo plot runs/exp                     every plot into runs/exp/plots/ (PNG and SVG)
  hpo plot exp.toml --only plot_3d --x lr --y layers    plot_3d over lr and layers (remembered)
  hpo plot runs/exp --gif --step 5      also plot_3d.gif, 5 sets per frame")]
pub struct PlotArgs {
    /// The experiment folder, or its configuration file.
    #[arg(value_name = "DIR|CONFIG")]
    pub target: PathBuf,
    /// Only this plot (repeatable).
    #[arg(long, value_name = "NAME", value_enum)]
    pub only: Vec<PlotName>,
    /// plot_3d: the horizontal parameter (default: the first numeric one).
    #[arg(long)]
    pub x: Option<String>,
    /// plot_3d: the vertical parameter (default: the second numeric one).
    #[arg(long)]
    pub y: Option<String>,
    /// plot_3d: no interpolated heat map and contour lines under the samples.
    #[arg(long)]
    pub no_contour: bool,
    /// plot_3d: also write plot_3d.gif, adding samples in the order they finished.
    #[arg(long)]
    pub gif: bool,
    /// Samples added per GIF frame.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub step: u32,
    /// GIF frames per second.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub fps: u32,
    /// Image width in pixels.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(300..=8000))]
    pub width: u32,
    /// Image height in pixels.
    #[arg(long, default_value_t = 700, value_parser = clap::value_parser!(u32).range(200..=8000))]
    pub height: u32,
}

impl PlotArgs {
    /// The options asked for; plot_3d's axes as [`chosen_axes`] finds them.
    pub fn options(&self, axes: Axes) -> PlotOptions {
        PlotOptions {
            x: axes.x,
            y: axes.y,
            contour: !self.no_contour,
            gif: self.gif,
            step: self.step as usize,
            fps: self.fps,
            width: self.width,
            height: self.height,
        }
    }
}

/// plot_3d's axes for `dir`: `given` (the command line's), each completed by the last axes
/// `hpo plot` was given, then by `[monitor] plot_x`/`plot_y`.
pub(crate) fn chosen_axes(dir: &Path, given: Axes) -> anyhow::Result<Axes> {
    let monitor = experiment::load_stored(dir)?.monitor;
    let remembered = plot::remembered_axes(dir);
    Ok(Axes {
        x: given.x.or(remembered.x).or(monitor.plot_x),
        y: given.y.or(remembered.y).or(monitor.plot_y),
    })
}

pub fn run(args: PlotArgs) -> anyhow::Result<ExitCode> {
    let dir = super::experiment_folder(&args.target)?;
    let given = Axes {
        x: args.x.clone(),
        y: args.y.clone(),
    };
    let options = args.options(chosen_axes(&dir, given.clone())?);
    let written = plot::render(&dir, &args.only, &options)?;
    if given.x.is_some() || given.y.is_some() {
        plot::remember_axes(&dir, &given)?;
    }
    for path in &written {
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

//! `hpo plot DIR [--only NAME]...`: draws the plots of an experiment into `DIR/plots/` (PNG and
//! SVG), from its stored results only; safe to run while the experiment runs.

use crate::config::PlotName;
use crate::plot::{self, PlotOptions};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct PlotArgs {
    /// The experiment folder.
    pub dir: PathBuf,
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
    pub fn options(&self) -> PlotOptions {
        PlotOptions {
            x: self.x.clone(),
            y: self.y.clone(),
            contour: !self.no_contour,
            gif: self.gif,
            step: self.step as usize,
            fps: self.fps,
            width: self.width,
            height: self.height,
        }
    }
}

pub fn run(args: PlotArgs) -> anyhow::Result<ExitCode> {
    super::error::require_experiment(&args.dir)?;
    let written = plot::render(&args.dir, &args.only, &args.options())?;
    for path in &written {
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

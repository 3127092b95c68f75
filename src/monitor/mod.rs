//! Watching a run: the [`Observer`] trait the master reports durable results to, and the
//! progress display (an indicatif bar on a terminal, a plain line every few seconds
//! otherwise).

pub mod hooks;

use crate::experiment::ResultRow;
use crate::messages::note;
use crate::schedule::Termination;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// The run as the observers see it: only results already durable on disk count.
#[derive(Clone, Debug)]
pub struct Progress {
    pub total: usize,
    /// Rows in results.csv (earlier runs included).
    pub done: usize,
    pub failed: usize,
    /// Rows recorded by this run.
    pub done_this_run: usize,
    pub running: usize,
    /// (set index, result) of the best ok row.
    pub best: Option<(usize, f64)>,
    pub started: Instant,
}

impl Progress {
    pub fn rate(&self) -> f64 {
        let secs = self.started.elapsed().as_secs_f64();
        if secs > 0.0 {
            self.done_this_run as f64 / secs
        } else {
            0.0
        }
    }

    fn line(&self) -> String {
        let best = self
            .best
            .map(|(i, v)| format!("best {v:.6} (set {i})"))
            .unwrap_or_else(|| "no result yet".into());
        format!(
            "{}/{} done, {} failed, {} running, {best}, {:.1}/s",
            self.done,
            self.total,
            self.failed,
            self.running,
            self.rate()
        )
    }
}

/// Something the master tells about results; implementations must not block for long.
pub trait Observer {
    /// A new row is durable in results.csv.
    fn on_result(&mut self, _row: &ResultRow, _progress: &Progress) {}
    /// Called about once a second, and whenever the running count changes noticeably.
    fn on_tick(&mut self, _progress: &Progress) {}
    /// The run ended.
    fn on_finish(&mut self, _progress: &Progress, _why: &Termination) {}
}

/// The progress bar on a terminal; a plain line every few seconds when stderr is not one.
pub struct ProgressDisplay {
    bar: Option<ProgressBar>,
    last_line: Instant,
    /// The values of the best set, shown beside its result.
    best_values: String,
}

/// `eta` seconds for people, from the rate of this run.
fn eta(p: &Progress) -> String {
    let left = p.total.saturating_sub(p.done);
    let rate = p.rate();
    if left == 0 || rate <= 0.0 {
        return String::new();
    }
    format!(
        ", ETA {}",
        crate::experiment::summary::human_secs(left as f64 / rate)
    )
}

/// At most `n` characters.
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!(
            "{}...",
            s.chars().take(n.saturating_sub(3)).collect::<String>()
        )
    }
}

impl ProgressDisplay {
    /// `quiet`: show nothing.
    pub fn new(total: usize, done: usize, quiet: bool) -> Option<ProgressDisplay> {
        if quiet {
            return None;
        }
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(
                Some(total as u64),
                ProgressDrawTarget::stderr_with_hz(8),
            );
            let style = ProgressStyle::with_template(
                "{bar:30.cyan/blue} {pos}/{len} {msg} [{elapsed_precise}, ETA {eta}]",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style.progress_chars("=> "));
            bar.set_position(done as u64);
            bar
        });
        Some(ProgressDisplay {
            bar,
            last_line: Instant::now(),
            best_values: String::new(),
        })
    }
}

impl Observer for ProgressDisplay {
    fn on_result(&mut self, row: &ResultRow, p: &Progress) {
        if p.best.is_some_and(|(i, _)| i == row.index) {
            let values: Vec<String> = row.values.iter().map(|v| v.to_string()).collect();
            self.best_values = clip(&values.join(", "), 48);
        }
        self.on_tick(p);
    }

    fn on_tick(&mut self, p: &Progress) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(p.done as u64);
                let best = match p.best {
                    Some((i, v)) if self.best_values.is_empty() => {
                        format!(", best {v:.6} (set {i})")
                    }
                    Some((i, v)) => format!(", best {v:.6} (set {i}: {})", self.best_values),
                    None => String::new(),
                };
                bar.set_message(format!(
                    "{} failed, {} running{best}, {:.1}/s",
                    p.failed,
                    p.running,
                    p.rate()
                ));
            }
            None if self.last_line.elapsed() >= Duration::from_secs(5) => {
                self.last_line = Instant::now();
                note!("{}{}", p.line(), eta(p));
            }
            None => {}
        }
    }

    fn on_finish(&mut self, p: &Progress, _why: &Termination) {
        if let Some(bar) = &self.bar {
            bar.set_position(p.done as u64);
            bar.finish_and_clear();
        }
    }
}

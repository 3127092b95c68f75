//! A Rust function that sees its trial (parameters, index, worker folder, deadline) and returns
//! metrics beside its result: this program is a complete `hpo` command line whose experiments
//! may say `[objective] custom = true`.
//!
//! ```text
//! cargo run --release --example trial_objective -- run my_experiment.toml --processes 4
//! ```
use hpo::{Reply, Trial};
use std::process::ExitCode;

fn objective(t: &mut Trial) -> Reply {
    let x = t.params().f64("x").unwrap_or(f64::NAN);
    let y = t.params().f64("y").unwrap_or(f64::NAN);
    Reply::new((x - 1.0).powi(2) + y.abs())
        .metric("distance", ((x - 1.0).powi(2) + y * y).sqrt())
        .metric("set", t.index() as u64)
        .metric("has_folder", t.worker_dir().is_some())
}

fn main() -> ExitCode {
    hpo::main_with_trial(objective)
}

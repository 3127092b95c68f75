//! A Rust function that sees its trial (parameters, index, worker folder, deadline), reports
//! intermediate values as a training loop would (stopping when the experiment's `[pruning]`
//! rule says so) and returns metrics beside its result: this program is a complete `hpo`
//! command line whose experiments may say `[objective] custom = true`.
//!
//! ```text
//! cargo run --release --example trial_objective -- run my_experiment.toml --processes 4
//! ```
use hpo::{Reply, Trial};
use std::process::ExitCode;

/// The steps of the pretend training loop.
const STEPS: u64 = 9;

fn objective(t: &mut Trial) -> Reply {
    let x = t.params().f64("x").unwrap_or(f64::NAN);
    let y = t.params().f64("y").unwrap_or(f64::NAN);
    let loss = (x - 1.0).powi(2) + y.abs();
    // An "epoch" at a time, the loss falling towards its final value.
    for step in 1..STEPS {
        let value = loss + (STEPS - step) as f64 / STEPS as f64;
        if t.report(step, value) {
            // Stopped: what is returned now is ignored.
            return Reply::new(value);
        }
    }
    Reply::new(loss)
        .metric("distance", ((x - 1.0).powi(2) + y * y).sqrt())
        .metric("set", t.index() as u64)
        .metric("has_folder", t.worker_dir().is_some())
}

fn main() -> ExitCode {
    hpo::main_with_trial(objective)
}

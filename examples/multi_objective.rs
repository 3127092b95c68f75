//! A Rust function with several outputs: an error to minimize, a cost to minimize and a memory
//! use that must stay under a bound, returned by name in a `Reply` for experiments that declare
//! them as `[[objective.outputs]]`. This program is a complete `hpo` command line whose
//! experiments may say `[objective] custom = true`.
//!
//! ```text
//! cargo run --release --example multi_objective -- run my_experiment.toml --processes 4
//! ```
use hpo::{Reply, Trial};
use std::process::ExitCode;

fn objective(t: &mut Trial) -> Reply {
    let x = t.params().f64("x").unwrap_or(f64::NAN);
    let y = t.params().f64("y").unwrap_or(f64::NAN);
    Reply::outputs([
        ("err", (x - 1.0).powi(2) + y * y),
        ("cost", (x + 1.0).powi(2) + y * y),
    ])
    .output("mem", x.abs() + y.abs())
    .metric("set", t.index() as u64)
}

fn main() -> ExitCode {
    hpo::main_with_trial(objective)
}

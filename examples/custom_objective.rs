//! A Rust function as the objective: this program is a complete `hpo` command line whose
//! experiments may say `[objective] custom = true`.
//!
//! ```text
//! cargo run --release --example custom_objective -- run my_experiment.toml --processes 4
//! ```
use hpo::Params;
use std::process::ExitCode;

fn objective(p: &Params) -> f64 {
    let x = p.f64("x").unwrap_or(f64::NAN);
    let y = p.f64("y").unwrap_or(f64::NAN);
    (x - 1.0).powi(2) + y.abs()
}

fn main() -> ExitCode {
    hpo::main_with(objective)
}

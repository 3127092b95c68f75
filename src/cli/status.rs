//! `hpo status DIR|CONFIG [--json]`: progress of an experiment, during or after a run, read
//! from the folder alone (never changed by it). The computations are in
//! [`crate::experiment::summary`].

use crate::config::Definition;
use crate::experiment::ResultRow;
use crate::experiment::summary::{self, StatusReport, human_secs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  hpo status runs/exp                   counts, best set, running sets, the last error
  hpo status exp.toml                   the same, from the configuration's `dir`
  hpo status runs/exp --json | jq .best")]
pub struct StatusArgs {
    /// The experiment folder, or its configuration file.
    #[arg(value_name = "DIR|CONFIG")]
    pub target: PathBuf,
    /// Print one JSON object instead of text (fields: see docs/monitoring.md).
    #[arg(long)]
    pub json: bool,
}

/// Reads an experiment folder (read-only) and summarizes it.
pub(crate) fn gather(dir: &Path) -> anyhow::Result<(StatusReport, Definition, Vec<ResultRow>)> {
    Ok(summary::read(dir)?)
}

pub fn run(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let dir = super::experiment_folder(&args.target)?;
    let (s, exp, _) = gather(&dir)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{}: {} of {} sets done ({} ok, {} failed, {} timeout), {} running, {} waiting",
        s.dir,
        s.done,
        s.total,
        s.ok,
        s.failed,
        s.timeout,
        s.running.len(),
        s.waiting
    );
    if s.pruned > 0 {
        let saved = s
            .steps_saved
            .map(|n| format!(", {n} steps saved"))
            .unwrap_or_default();
        println!("pruned: {} sets stopped early{saved}", s.pruned);
    }
    match (s.active, &s.host) {
        (true, host) => println!(
            "running now: pid {} on {}, {} worker(s) ({})",
            s.pid.unwrap_or(0),
            host.as_deref().unwrap_or("?"),
            s.workers,
            s.backend.as_deref().unwrap_or("?")
        ),
        (false, _) => println!("not running"),
    }
    if let Some(best) = &s.best {
        let params: Vec<String> = exp
            .space
            .names()
            .iter()
            // An inactive parameter is absent from the row's params.
            .filter(|n| !best["params"][n.as_str()].is_null())
            .map(|n| format!("{n}={}", json_text(&best["params"][n.as_str()])))
            .collect();
        let metrics = match &best["metrics"] {
            serde_json::Value::Object(m) if !m.is_empty() => format!(
                "; {}",
                m.iter()
                    .map(|(k, v)| format!("{k}={}", json_text(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => String::new(),
        };
        // With declared outputs, `result` holds the first objective output.
        let by = exp
            .objective
            .outputs
            .iter()
            .find(|o| o.direction().is_some())
            .map(|o| format!(" by {}", o.name))
            .unwrap_or_default();
        println!(
            "best{by} ({}): {} (set {}): {}{metrics}",
            s.direction,
            json_text(&best["result"]),
            best["index"],
            params.join(", ")
        );
    }
    if let Some(o) = &s.outputs {
        print_front(o, &exp.space.names());
    }
    if s.done > 0 {
        let eta = s
            .eta_s
            .map(|e| format!("; about {} to go", human_secs(e)))
            .unwrap_or_default();
        println!(
            "throughput {:.2} sets/s; utilization {:.1} % of {} worker(s) (busy {} over a wall span of {}){eta}",
            s.throughput_per_s,
            s.utilization * 100.0,
            s.workers,
            human_secs(s.busy_s),
            human_secs(s.wall_span_s)
        );
    }
    for r in &s.running {
        println!(
            "  set {} on worker {} for {}",
            r.index,
            r.worker,
            human_secs(r.elapsed_s)
        );
    }
    if let Some(last) = &s.last_failure {
        let params: Vec<String> = exp
            .space
            .names()
            .iter()
            // An inactive parameter is absent from the row's params.
            .filter(|n| !last["params"][n.as_str()].is_null())
            .map(|n| format!("{n}={}", json_text(&last["params"][n.as_str()])))
            .collect();
        println!(
            "last failure: set {} ({}), {}: {}",
            last["index"],
            params.join(", "),
            json_text(&last["status"]),
            json_text(&last["error"])
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Sets of the Pareto front listed in the text form (`--json` has them all).
const FRONT_SHOWN: usize = 10;

/// The Pareto front and the infeasible rows of an experiment with declared outputs.
fn print_front(o: &summary::OutputsReport, names: &[String]) {
    let infeasible = match o.infeasible {
        0 => String::new(),
        n => format!(
            "; {n} ok row(s) violate a constraint (sets {})",
            o.infeasible_rows
                .iter()
                .take(FRONT_SHOWN)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", ")
                + if n > FRONT_SHOWN { ", ..." } else { "" }
        ),
    };
    println!(
        "pareto front: {} set(s), feasible ok rows that no other dominates{infeasible}",
        o.pareto_front.len()
    );
    for set in o.pareto_front.iter().take(FRONT_SHOWN) {
        let outputs = match &set["outputs"] {
            serde_json::Value::Object(m) => m
                .iter()
                .map(|(k, v)| format!("{k}={}", json_text(v)))
                .collect::<Vec<_>>()
                .join(", "),
            _ => String::new(),
        };
        let params: Vec<String> = names
            .iter()
            .map(|n| format!("{n}={}", json_text(&set["params"][n.as_str()])))
            .collect();
        println!("  set {}: {outputs}; {}", set["index"], params.join(", "));
    }
    if o.pareto_front.len() > FRONT_SHOWN {
        println!(
            "  ... {} more (hpo best DIR prints them all)",
            o.pareto_front.len() - FRONT_SHOWN
        );
    }
}

/// A JSON value as plain text (strings without quotes).
fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

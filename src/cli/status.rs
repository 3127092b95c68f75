//! `hpo status DIR [--json]`: progress of an experiment, during or after a run, read from the
//! folder alone (never changed by it).

use crate::experiment::{self, Lock, journal, status};
use crate::launch::UsageError;
use crate::objective::Status;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// The experiment folder.
    pub dir: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: StatusArgs) -> anyhow::Result<ExitCode> {
    if !experiment::is_experiment(&args.dir) {
        return Err(UsageError(format!(
            "{} is not an experiment folder (no {})",
            args.dir.display(),
            experiment::CONFIG_FILE
        ))
        .into());
    }
    let exp = experiment::load_stored(&args.dir).map_err(|e| UsageError(e.to_string()))?;
    let (rows, _) = journal::read_results(&args.dir.join(experiment::RESULTS_FILE), &exp.space)?;
    let total: usize = exp.space.blocks.iter().map(|b| b.count).sum();
    let count = |s: Status| rows.iter().filter(|r| r.outcome.status == s).count();
    let direction = exp.objective.direction;
    let best = rows
        .iter()
        .filter_map(|r| r.outcome.result.map(|v| (r, v)))
        .reduce(|a, b| if direction.better(b.1, a.1) { b } else { a });
    let active = Lock::is_held(&args.dir);
    let live = status::read(&args.dir).filter(|_| active);
    let running = live.as_ref().map(|l| l.running.clone()).unwrap_or_default();
    let now = SystemTime::now();
    let elapsed = |t: &str| {
        humantime::parse_rfc3339(t)
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .map_or(0.0, |d| d.as_secs_f64())
    };
    let names = exp.space.names();
    if args.json {
        let best = best.map(|(r, v)| {
            let params: serde_json::Map<_, _> = names
                .iter()
                .zip(&r.values)
                .map(|(n, v)| (n.clone(), json!(v.to_string())))
                .collect();
            json!({"index": r.index, "result": v, "params": params})
        });
        let out = json!({
            "dir": args.dir,
            "total": total,
            "done": rows.len(),
            "ok": count(Status::Ok),
            "failed": count(Status::Failed),
            "timeout": count(Status::Timeout),
            "running": running.iter().map(|r| json!({"index": r.index, "worker": r.worker, "elapsed_s": elapsed(&r.started)})).collect::<Vec<_>>(),
            "waiting": total - rows.len() - running.len(),
            "active": active,
            "pid": live.as_ref().map(|l| l.pid),
            "best": best,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{}: {} of {total} sets done ({} ok, {} failed, {} timeout)",
        args.dir.display(),
        rows.len(),
        count(Status::Ok),
        count(Status::Failed),
        count(Status::Timeout)
    );
    match &live {
        Some(l) => println!(
            "running now: pid {} on {}, {} {} worker(s)",
            l.pid, l.host, l.workers, l.backend
        ),
        None => println!("not running"),
    }
    if let Some((r, v)) = best {
        let params: Vec<String> = names
            .iter()
            .zip(&r.values)
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        println!("best: {v} (set {}): {}", r.index, params.join(", "));
    }
    for r in &running {
        println!(
            "  set {} on worker {} for {:.1} s",
            r.index,
            r.worker,
            elapsed(&r.started)
        );
    }
    Ok(ExitCode::SUCCESS)
}

//! What `hpo status` (and the HTML report, and the plots) compute from an experiment folder:
//! counts by status, the best sets, throughput and worker utilization. [`read`] reads the
//! folder; the rest are pure functions over rows, the live view (running sets) coming in as a
//! [`LiveStatus`] already read.
//!
//! Definitions:
//! - busy time: the sum of the evaluation times (ended - started) of the stored rows, plus
//!   the time so far of the sets running now;
//! - wall span: the time during which at least one set was running (the union of the rows'
//!   intervals), so the pauses between a stopped run and its resumption do not count;
//! - utilization: busy time / (workers x wall span), workers being those of the live run or,
//!   after it, the number of distinct workers in the rows;
//! - throughput: stored rows / wall span;
//! - a set counts once: a set the live view lists as running whose row this run already wrote
//!   (the live view is up to a second old) is done, not running; a set running again
//!   (`--retry-failed`) while its earlier row is still stored is running, not done.

use super::live::{LiveStatus, RunningSet};
use super::{ExperimentError, Lock, ResultRow};
use crate::config::{Definition, Direction, Goal, Output};
use crate::objective::Status;
use serde::Serialize;
use serde_json::{Map, Value as Json, json};
use std::path::Path;
use std::time::SystemTime;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub ok: usize,
    pub failed: usize,
    pub timeout: usize,
    pub pruned: usize,
}

pub fn counts(rows: &[ResultRow]) -> Counts {
    let mut c = Counts::default();
    for r in rows {
        match r.outcome.status {
            Status::Ok => c.ok += 1,
            Status::Failed => c.failed += 1,
            Status::Timeout => c.timeout += 1,
            Status::Pruned => c.pruned += 1,
        }
    }
    c
}

fn ok_result(r: &ResultRow) -> Option<f64> {
    r.outcome
        .result
        .filter(|v| r.outcome.status == Status::Ok && v.is_finite())
}

/// The best ok row.
pub fn best(rows: &[ResultRow], direction: Direction) -> Option<&ResultRow> {
    top(rows, direction, 1).into_iter().next()
}

/// The `n` best ok rows, best first (ties: lower index first).
pub fn top(rows: &[ResultRow], direction: Direction, n: usize) -> Vec<&ResultRow> {
    let mut ok: Vec<(&ResultRow, f64)> = rows
        .iter()
        .filter_map(|r| ok_result(r).map(|v| (r, direction.loss(v))))
        .collect();
    ok.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.index.cmp(&b.0.index)));
    ok.into_iter().take(n).map(|(r, _)| r).collect()
}

/// The Pareto front of an experiment with declared outputs: the `ok`, feasible rows that no
/// other such row dominates (at least as good in every objective output, better in one), by
/// index. Rows with equal objectives are all kept.
pub fn pareto_front<'a>(rows: &'a [ResultRow], outputs: &[Output]) -> Vec<&'a ResultRow> {
    let objectives: Vec<(usize, Direction)> = outputs
        .iter()
        .enumerate()
        .filter_map(|(j, o)| o.direction().map(|d| (j, d)))
        .collect();
    let mut candidates: Vec<(&ResultRow, Vec<f64>)> = rows
        .iter()
        .filter(|r| r.outcome.status == Status::Ok && r.feasible(outputs) == Some(true))
        .map(|r| {
            let losses = objectives
                .iter()
                .map(|&(j, d)| d.loss(r.outcome.outputs[j]))
                .collect();
            (r, losses)
        })
        .collect();
    // In lexicographic order a row's dominators all come before it.
    candidates.sort_by(|a, b| {
        a.1.iter()
            .zip(&b.1)
            .map(|(x, y)| x.total_cmp(y))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.0.index.cmp(&b.0.index))
    });
    let dominates = |a: &[f64], b: &[f64]| {
        a.iter().zip(b).all(|(x, y)| x <= y) && a.iter().zip(b).any(|(x, y)| x < y)
    };
    let mut front: Vec<(&ResultRow, Vec<f64>)> = Vec::new();
    for (r, l) in candidates {
        if !front.iter().any(|(_, f)| dominates(f, &l)) {
            front.push((r, l));
        }
    }
    let mut front: Vec<&ResultRow> = front.into_iter().map(|(r, _)| r).collect();
    front.sort_by_key(|r| r.index);
    front
}

/// The `ok` rows that violate a constraint, by index.
pub fn infeasible<'a>(rows: &'a [ResultRow], outputs: &[Output]) -> Vec<&'a ResultRow> {
    let mut bad: Vec<&ResultRow> = rows
        .iter()
        .filter(|r| r.outcome.status == Status::Ok && r.feasible(outputs) == Some(false))
        .collect();
    bad.sort_by_key(|r| r.index);
    bad
}

/// `{NAME: VALUE}` of a row's declared outputs (empty for a row without them).
pub fn outputs_json(outputs: &[Output], row: &ResultRow) -> Map<String, Json> {
    if row.outcome.outputs.len() != outputs.len() {
        return Map::new();
    }
    outputs
        .iter()
        .zip(&row.outcome.outputs)
        .map(|(o, v)| (o.name.clone(), json!(v)))
        .collect()
}

/// A Pareto-optimal set as `hpo best` and `hpo status --json` print it:
/// `{"index": N, "outputs": {NAME: VALUE}, "params": {NAME: VALUE}}`.
pub fn front_json(names: &[String], outputs: &[Output], row: &ResultRow) -> Json {
    json!({
        "index": row.index,
        "outputs": outputs_json(outputs, row),
        "params": params_json(names, row),
    })
}

/// What `hpo status --json` adds with declared outputs (under `outputs`).
#[derive(Clone, Debug, Serialize)]
pub struct OutputsReport {
    /// Each declared output: `{"name", "direction"}` or `{"name", "min", "max"}`.
    pub declared: Vec<Json>,
    /// The Pareto front ([`pareto_front`]), each as [`front_json`].
    pub pareto_front: Vec<Json>,
    /// How many `ok` rows violate a constraint, and their indices.
    pub infeasible: usize,
    pub infeasible_rows: Vec<usize>,
}

/// The outputs part of the status of an experiment with declared `outputs`.
pub fn outputs_report(names: &[String], outputs: &[Output], rows: &[ResultRow]) -> OutputsReport {
    let bad = infeasible(rows, outputs);
    OutputsReport {
        declared: outputs
            .iter()
            .map(|o| match o.goal {
                Goal::Objective(d) => json!({"name": o.name, "direction": d.as_str()}),
                Goal::Constraint { min, max } => json!({"name": o.name, "min": min, "max": max}),
            })
            .collect(),
        pareto_front: pareto_front(rows, outputs)
            .into_iter()
            .map(|r| front_json(names, outputs, r))
            .collect(),
        infeasible: bad.len(),
        infeasible_rows: bad.iter().map(|r| r.index).collect(),
    }
}

/// How busy the workers were.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Usage {
    pub workers: usize,
    pub busy_s: f64,
    pub wall_span_s: f64,
    /// 0..1.
    pub utilization: f64,
    /// Stored rows per second of wall span.
    pub throughput_per_s: f64,
}

fn secs_between(a: SystemTime, b: SystemTime) -> f64 {
    b.duration_since(a).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Usage over `rows` and the sets running now (`running`: their start times, until `now`).
/// `workers`: the live pool size; `None` counts the distinct workers of the rows.
pub fn usage(
    rows: &[ResultRow],
    workers: Option<usize>,
    running: Option<(&[SystemTime], SystemTime)>,
) -> Usage {
    let mut intervals: Vec<(SystemTime, SystemTime)> = rows
        .iter()
        .map(|r| (r.started, r.ended.max(r.started)))
        .collect();
    if let Some((starts, now)) = running {
        intervals.extend(starts.iter().map(|s| (*s, now.max(*s))));
    }
    let busy_s: f64 = intervals.iter().map(|(a, b)| secs_between(*a, *b)).sum();
    intervals.sort();
    let mut wall_span_s = 0.0;
    let mut current: Option<(SystemTime, SystemTime)> = None;
    for (a, b) in intervals {
        current = match current {
            Some((s, e)) if a <= e => Some((s, e.max(b))),
            Some((s, e)) => {
                wall_span_s += secs_between(s, e);
                Some((a, b))
            }
            None => Some((a, b)),
        };
    }
    if let Some((s, e)) = current {
        wall_span_s += secs_between(s, e);
    }
    let workers = workers.unwrap_or_else(|| {
        let mut w: Vec<usize> = rows.iter().map(|r| r.worker).collect();
        w.sort_unstable();
        w.dedup();
        w.len()
    });
    let utilization = if workers > 0 && wall_span_s > 0.0 {
        (busy_s / (workers as f64 * wall_span_s)).min(1.0)
    } else {
        0.0
    };
    let throughput_per_s = if wall_span_s > 0.0 {
        rows.len() as f64 / wall_span_s
    } else {
        0.0
    };
    Usage {
        workers,
        busy_s,
        wall_span_s,
        utilization,
        throughput_per_s,
    }
}

/// `{name: value}` of a row's parameters (the active ones).
pub fn params_json(names: &[String], row: &ResultRow) -> Map<String, Json> {
    names
        .iter()
        .zip(&row.values)
        .filter(|(_, v)| !v.is_inactive())
        .map(|(n, v)| (n.clone(), v.to_json()))
        .collect()
}

/// One row as JSON, with the field names of results.csv (the parameters under `params`); what
/// the `on_result` hook receives and `hpo status --json` prints as `best`.
pub fn row_json(names: &[String], row: &ResultRow) -> Json {
    let time = |t: SystemTime| humantime::format_rfc3339_millis(t).to_string();
    json!({
        "index": row.index,
        "params": params_json(names, row),
        "result": row.outcome.result,
        "status": row.outcome.status.as_str(),
        "worker": row.worker,
        "started": time(row.started),
        "ended": time(row.ended),
        "duration_s": row.duration_s(),
        "attempts": row.attempts,
        "exit_code": row.outcome.exit_code,
        "rank": row.rank,
        "host": row.host,
        "gpu": row.gpu,
        "cores": row.cores,
        "bayesian": row.bayesian,
        "block": row.block,
        "note": row.note,
        "error": row.outcome.error,
        "metrics": metrics_json(row),
        "step": row.outcome.step,
    })
}

/// A row's metrics as a JSON object (`{}` when it has none; text that is not a JSON object,
/// from a hand edit, as a string).
pub fn metrics_json(row: &ResultRow) -> Json {
    let text = row.outcome.metrics.trim();
    if text.is_empty() {
        return Json::Object(Map::new());
    }
    match serde_json::from_str::<Json>(text) {
        Ok(object @ Json::Object(_)) => object,
        _ => Json::String(text.to_string()),
    }
}

/// A row's metrics for people: `acc=0.93, epochs=12` (empty when it has none).
pub fn metrics_text(row: &ResultRow) -> String {
    match metrics_json(row) {
        Json::Object(map) => map
            .iter()
            .map(|(k, v)| match v {
                Json::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

/// A set running now.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Running {
    pub index: usize,
    pub worker: usize,
    pub started: String,
    pub elapsed_s: f64,
}

/// Everything `hpo status --json` prints. Field names are stable (documented in
/// docs/monitoring.md); new fields may be added.
#[derive(Clone, Debug, Serialize)]
pub struct StatusReport {
    pub dir: String,
    /// A run holds the folder now.
    pub active: bool,
    pub pid: Option<u32>,
    pub host: Option<String>,
    pub backend: Option<String>,
    pub direction: &'static str,
    pub total: usize,
    pub done: usize,
    pub ok: usize,
    pub failed: usize,
    pub timeout: usize,
    /// Sets stopped early by the `[pruning]` rule.
    pub pruned: usize,
    /// The steps the pruned sets did not run: for each, `[pruning] max_step` less the step it
    /// reached (`None` without a `max_step`).
    pub steps_saved: Option<u64>,
    pub running: Vec<Running>,
    pub waiting: usize,
    pub best: Option<Json>,
    pub workers: usize,
    pub busy_s: f64,
    pub wall_span_s: f64,
    pub utilization: f64,
    pub throughput_per_s: f64,
    /// Seconds until the waiting and running sets are done at the throughput so far (only
    /// while a run is active).
    pub eta_s: Option<f64>,
    /// The failed (or timed-out) row that ended last, as `best` is shown.
    pub last_failure: Option<Json>,
    /// With declared outputs only: the Pareto front and the infeasible rows (`best` is then
    /// the best row by the first objective output, which the `result` column holds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outputs: Option<OutputsReport>,
}

/// The sets the live view lists as running that really are: a set whose row ended after the
/// live run started has finished (the view is up to a second older than the row).
fn really_running<'a>(live: &'a LiveStatus, rows: &[ResultRow]) -> Vec<&'a RunningSet> {
    let run_started = humantime::parse_rfc3339(&live.started).ok();
    let ended: std::collections::HashMap<usize, SystemTime> =
        rows.iter().map(|r| (r.index, r.ended)).collect();
    live.running
        .iter()
        .filter(|r| match (ended.get(&r.index), run_started) {
            (Some(ended), Some(started)) => *ended < started,
            (Some(_), None) => false,
            (None, _) => true,
        })
        .collect()
}

/// Puts the report together. `live`: the running master's status (only when it holds the lock).
pub fn summarize(
    dir: &str,
    names: &[String],
    direction: Direction,
    total: usize,
    rows: &[ResultRow],
    live: Option<&LiveStatus>,
    now: SystemTime,
) -> StatusReport {
    let running_sets = live.map(|l| really_running(l, rows)).unwrap_or_default();
    // A set running again counts as running until its new row replaces the stored one.
    let again: std::collections::HashSet<usize> = running_sets.iter().map(|r| r.index).collect();
    // Copied only when something runs again: a million rows must not sit in memory twice.
    let counted: std::borrow::Cow<[ResultRow]> = if again.is_empty() {
        rows.into()
    } else {
        rows.iter()
            .filter(|r| !again.contains(&r.index))
            .cloned()
            .collect::<Vec<_>>()
            .into()
    };
    let rows = &*counted;
    let c = counts(rows);
    let running: Vec<Running> = running_sets
        .iter()
        .map(|r| {
            let elapsed_s = humantime::parse_rfc3339(&r.started)
                .ok()
                .map_or(0.0, |t| secs_between(t, now));
            Running {
                index: r.index,
                worker: r.worker,
                started: r.started.clone(),
                elapsed_s,
            }
        })
        .collect();
    let starts: Vec<SystemTime> = running_sets
        .iter()
        .filter_map(|r| humantime::parse_rfc3339(&r.started).ok())
        .collect();
    let u = usage(
        rows,
        live.map(|l| l.workers),
        live.map(|_| (starts.as_slice(), now)),
    );
    let waiting = total.saturating_sub(rows.len() + running.len());
    let eta_s = (live.is_some() && u.throughput_per_s > 0.0)
        .then(|| (waiting + running.len()) as f64 / u.throughput_per_s);
    let last_failure = rows
        .iter()
        .filter(|r| r.outcome.status.is_failure())
        .max_by_key(|r| r.ended)
        .map(|r| row_json(names, r));
    StatusReport {
        dir: dir.to_string(),
        active: live.is_some(),
        pid: live.map(|l| l.pid),
        host: live.map(|l| l.host.clone()),
        backend: live.map(|l| l.backend.clone()),
        direction: direction.as_str(),
        total,
        done: rows.len(),
        ok: c.ok,
        failed: c.failed,
        timeout: c.timeout,
        pruned: c.pruned,
        steps_saved: None,
        running,
        waiting,
        best: best(rows, direction).map(|r| row_json(names, r)),
        workers: u.workers,
        busy_s: u.busy_s,
        wall_span_s: u.wall_span_s,
        utilization: u.utilization,
        throughput_per_s: u.throughput_per_s,
        eta_s,
        last_failure,
        outputs: None,
    }
}

/// Reads an experiment folder (read-only: safe while a run appends to it) and summarizes it:
/// the report, the stored definition and the rows.
pub fn read(dir: &Path) -> Result<(StatusReport, Definition, Vec<ResultRow>), ExperimentError> {
    let (exp, rows) = super::read_stored(dir)?;
    let total: usize = exp.space.blocks.iter().map(|b| b.count).sum();
    // The live view counts only while a run holds the folder (a killed master leaves it behind).
    let live = super::live::read(dir).filter(|l| !l.finished && Lock::is_held(dir));
    let mut report = summarize(
        &dir.display().to_string(),
        &exp.space.names(),
        exp.objective.direction,
        total,
        &rows,
        live.as_ref(),
        SystemTime::now(),
    );
    report.steps_saved = exp
        .pruning
        .as_ref()
        .and_then(|p| p.max_step)
        .map(|max| steps_saved(&rows, max));
    if !exp.objective.outputs.is_empty() {
        report.outputs = Some(outputs_report(
            &exp.space.names(),
            &exp.objective.outputs,
            &rows,
        ));
    }
    Ok((report, exp, rows))
}

/// The steps pruned sets did not run, each counted up to `max_step`.
pub fn steps_saved(rows: &[ResultRow], max_step: u64) -> u64 {
    rows.iter()
        .filter(|r| r.outcome.status == Status::Pruned)
        .filter_map(|r| r.outcome.step)
        .map(|s| max_step.saturating_sub(s))
        .sum()
}

/// A duration for people: `42.0 s`, `3 min 5 s`, `2 h 10 min`.
pub fn human_secs(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        return "?".into();
    }
    if s < 60.0 {
        return format!("{s:.1} s");
    }
    let t = s.round() as u64;
    if t < 3600 {
        return format!("{} min {} s", t / 60, t % 60);
    }
    format!("{} h {} min", t / 3600, (t % 3600) / 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::live::RunningSet;
    use crate::objective::Outcome;
    use crate::space::Value;
    use std::time::{Duration, UNIX_EPOCH};

    fn at(s: f64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs_f64(1_000_000.0 + s)
    }

    fn row(index: usize, worker: usize, start: f64, end: f64, result: Option<f64>) -> ResultRow {
        let outcome = match result {
            Some(v) => Outcome::ok(v),
            None => Outcome::failed("boom"),
        };
        let values = vec![Value::Float(index as f64), Value::Str("a".into())];
        ResultRow {
            worker,
            started: at(start),
            ended: at(end),
            ..ResultRow::for_test(index, values, outcome)
        }
    }

    #[test]
    fn the_pareto_front_keeps_feasible_rows_no_other_dominates() {
        let outputs = [
            Output {
                name: "err".into(),
                goal: Goal::Objective(Direction::Minimize),
            },
            Output {
                name: "acc".into(),
                goal: Goal::Objective(Direction::Maximize),
            },
            Output {
                name: "mem".into(),
                goal: Goal::Constraint {
                    min: None,
                    max: Some(16.0),
                },
            },
        ];
        let with = |index: usize, v: [f64; 3]| {
            let mut r = row(index, 1, 0.0, 1.0, Some(v[0]));
            r.outcome.outputs = v.to_vec();
            r
        };
        let rows = vec![
            with(0, [0.5, 0.9, 8.0]),   // front
            with(1, [0.4, 0.8, 8.0]),   // front (lower error, lower accuracy)
            with(2, [0.6, 0.85, 8.0]),  // dominated by 0
            with(3, [0.1, 0.99, 32.0]), // would dominate all, but infeasible
            with(4, [0.5, 0.9, 4.0]),   // ties with 0: kept
            row(5, 1, 0.0, 1.0, None),
        ];
        let front: Vec<usize> = pareto_front(&rows, &outputs)
            .iter()
            .map(|r| r.index)
            .collect();
        assert_eq!(front, vec![0, 1, 4]);
        let report = outputs_report(&["x".into(), "a".into()], &outputs, &rows);
        assert_eq!((report.infeasible, report.infeasible_rows), (1, vec![3]));
        assert_eq!(
            report.pareto_front[1],
            json!({"index": 1, "outputs": {"err": 0.4, "acc": 0.8, "mem": 8.0}, "params": {"x": 1.0, "a": "a"}})
        );
        assert_eq!(
            report.declared[2],
            json!({"name": "mem", "min": null, "max": 16.0})
        );
    }

    #[test]
    fn metrics_read_as_an_object_and_as_text() {
        let mut r = row(0, 1, 0.0, 1.0, Some(1.0));
        r.outcome.metrics = r#"{"acc":0.93,"opt":"sgd"}"#.into();
        assert_eq!(metrics_json(&r), json!({"acc": 0.93, "opt": "sgd"}));
        assert_eq!(metrics_text(&r), "acc=0.93, opt=sgd");
        assert_eq!(
            row_json(&["x".into(), "a".into()], &r)["metrics"]["acc"],
            json!(0.93)
        );
        r.outcome.metrics = "edited by hand".into();
        assert_eq!(metrics_json(&r), json!("edited by hand"));
        r.outcome.metrics = String::new();
        assert_eq!(
            (metrics_json(&r), metrics_text(&r)),
            (json!({}), String::new())
        );
    }

    #[test]
    fn counts_and_best() {
        let rows = vec![
            row(0, 1, 0.0, 1.0, Some(3.0)),
            row(1, 2, 0.0, 1.0, None),
            row(2, 1, 1.0, 2.0, Some(1.0)),
            row(3, 2, 1.0, 2.0, Some(5.0)),
        ];
        assert_eq!(
            counts(&rows),
            Counts {
                ok: 3,
                failed: 1,
                timeout: 0,
                pruned: 0
            }
        );
        assert_eq!(best(&rows, Direction::Minimize).map(|r| r.index), Some(2));
        assert_eq!(best(&rows, Direction::Maximize).map(|r| r.index), Some(3));
        let t: Vec<usize> = top(&rows, Direction::Minimize, 10)
            .iter()
            .map(|r| r.index)
            .collect();
        assert_eq!(t, vec![2, 0, 3]);
        assert!(best(&[], Direction::Minimize).is_none());
    }

    #[test]
    fn utilization_counts_idle_time_but_not_pauses() {
        // Two workers over 4 s; worker 2 idles 2 s: 6 busy of 8.
        let rows = vec![
            row(0, 1, 0.0, 4.0, Some(1.0)),
            row(1, 2, 0.0, 1.0, Some(1.0)),
            row(2, 2, 3.0, 4.0, Some(1.0)),
        ];
        let u = usage(&rows, None, None);
        assert_eq!(u.workers, 2);
        assert!((u.busy_s - 6.0).abs() < 1e-6);
        assert!((u.wall_span_s - 4.0).abs() < 1e-6);
        assert!((u.utilization - 0.75).abs() < 1e-6);
        assert!((u.throughput_per_s - 0.75).abs() < 1e-6);
        // A pause of 100 s (stopped, resumed later) is not in the wall span.
        let mut resumed = rows.clone();
        resumed.push(row(3, 1, 104.0, 108.0, Some(1.0)));
        resumed.push(row(4, 2, 104.0, 108.0, Some(1.0)));
        let u = usage(&resumed, None, None);
        assert!((u.wall_span_s - 8.0).abs() < 1e-6);
        assert!((u.utilization - 14.0 / 16.0).abs() < 1e-6);
        // Running sets count up to now.
        let u = usage(&rows, Some(2), Some((&[at(4.0)], at(6.0))));
        assert!((u.busy_s - 8.0).abs() < 1e-6);
        assert!((u.wall_span_s - 6.0).abs() < 1e-6);
        assert_eq!(usage(&[], None, None), Usage::default());
    }

    #[test]
    fn summary_with_a_live_run() {
        let rows = vec![row(0, 1, 0.0, 2.0, Some(2.0)), row(1, 2, 0.0, 2.0, None)];
        let live = LiveStatus {
            pid: 7,
            backend: "processes".into(),
            workers: 2,
            host: "h".into(),
            total: 10,
            running: vec![RunningSet {
                index: 2,
                worker: 1,
                started: humantime::format_rfc3339_millis(at(2.0)).to_string(),
            }],
            ..LiveStatus::default()
        };
        let names = vec!["x".to_string(), "act".to_string()];
        let s = summarize(
            "d",
            &names,
            Direction::Minimize,
            10,
            &rows,
            Some(&live),
            at(3.0),
        );
        assert!(s.active);
        assert_eq!((s.done, s.ok, s.failed, s.waiting), (2, 1, 1, 7));
        assert_eq!(s.running.len(), 1);
        assert!((s.running[0].elapsed_s - 1.0).abs() < 1e-3);
        assert_eq!(
            s.best.as_ref().and_then(|b| b["params"]["act"].as_str()),
            Some("a")
        );
        assert_eq!(
            s.best.as_ref().and_then(|b| b["params"]["x"].as_f64()),
            Some(0.0)
        );
        assert!((s.utilization - 5.0 / 6.0).abs() < 1e-3);
        assert_eq!(
            s.best.as_ref().map(|b| b["metrics"].clone()),
            Some(json!({}))
        );
        assert!(s.eta_s.is_some_and(|e| e > 0.0));
        assert_eq!(
            s.last_failure.as_ref().map(|f| f["index"].clone()),
            Some(serde_json::json!(1))
        );
        let after = summarize("d", &names, Direction::Minimize, 10, &rows, None, at(3.0));
        assert!(!after.active && after.eta_s.is_none() && after.running.is_empty());
        assert_eq!(human_secs(42.0), "42.0 s");
    }

    /// The live view is rewritten about once a second, results.csv as rows arrive: a set
    /// that finished since the view was written is done, not running as well.
    #[test]
    fn a_set_is_never_counted_twice() {
        let names = vec!["x".to_string(), "act".to_string()];
        let running = |index: usize, started: f64| RunningSet {
            index,
            worker: 1,
            started: humantime::format_rfc3339_millis(at(started)).to_string(),
        };
        let live = LiveStatus {
            workers: 2,
            started: humantime::format_rfc3339_millis(at(10.0)).to_string(),
            // Set 2 finished (its row below) after the view was written; set 0 runs again
            // (a retry) while its earlier row, from before this run, is still stored.
            running: vec![running(2, 11.0), running(0, 12.0), running(3, 12.0)],
            ..LiveStatus::default()
        };
        let rows = vec![
            row(0, 1, 0.0, 1.0, None),
            row(1, 2, 0.0, 1.0, Some(1.0)),
            row(2, 1, 11.0, 12.5, Some(2.0)),
        ];
        let s = summarize(
            "d",
            &names,
            Direction::Minimize,
            6,
            &rows,
            Some(&live),
            at(13.0),
        );
        let running: Vec<usize> = s.running.iter().map(|r| r.index).collect();
        assert_eq!(running, [0, 3]);
        assert_eq!((s.done, s.ok, s.failed), (2, 2, 0));
        assert_eq!(s.done + s.running.len() + s.waiting, 6);
        assert_eq!(human_secs(185.0), "3 min 5 s");
        assert_eq!(human_secs(7800.0), "2 h 10 min");
    }
}

//! The worker loop: receive a task, propose the Bayesian values (the worker fits the model,
//! never the master), evaluate, send the result; until told to stop.
//!
//! A task carries the job's deadline: a task that arrives after it is not started, and the
//! objective is told the deadline ([`EvalContext::deadline`]). An evaluation the objective
//! reports as interrupted (cut off at the deadline, killed by the scheduler's signal) goes
//! back as [`Done::cut_off`]: the master writes no row and the set runs again on resume.
//!
//! Intermediate reports: each goes to the master as [`FromWorker::Report`], and the worker
//! waits for the [`ToWorker::Verdict`] before the objective goes on (a round trip per report;
//! reports come once an epoch, so the wait is small against the work between them, and the
//! objective always acts on a decision that saw its own report). Messages that arrive in the
//! meantime (tasks, a stop) wait in the inbox. A set answered with stop is `pruned`, with the
//! value and step of that report, whatever the objective then returns.

use crate::acquisition::{self, Constraint, MultiObjective, Problem, parego};
use crate::backend::{
    Done, FromWorker, Observation, Task, ToWorker, TransportError, WorkerInfo, WorkerLink,
};
use crate::config::{Definition, Direction, Goal, Output};
use crate::experiment::worker_dir;
use crate::objective::{EvalContext, Objective, Outcome, Reporter, Status};
use crate::space::{BayesColumns, Params, SetSpec, Value};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What a worker needs besides its link and objective.
pub struct WorkerSetup {
    pub experiment: Arc<Definition>,
    pub table: Arc<Vec<SetSpec>>,
    pub info: WorkerInfo,
    /// Variables of the worker's binding, exported to command objectives.
    pub env: Vec<(String, String)>,
}

/// The seed of set `index`'s suggestion: a function of the experiment seed and the index only.
pub fn suggestion_seed(seed: u64, index: usize) -> u64 {
    let mut z = seed ^ (index as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Runs until the master says stop or goes away.
pub fn run_worker(
    link: &mut dyn WorkerLink,
    setup: &WorkerSetup,
    objective: &mut dyn Objective,
) -> Result<(), TransportError> {
    link.send(&FromWorker::Ready(setup.info.clone()))?;
    let names = setup.experiment.space.names();
    let mut history: Vec<Observation> = Vec::new();
    let mut inbox: VecDeque<ToWorker> = VecDeque::new();
    loop {
        // Take in everything already waiting, so a stop is seen before queued work starts:
        // a stop sent while sets wait here (the failure limit) drops them.
        while let Some(msg) = link.recv(false)? {
            inbox.push_back(msg);
        }
        if inbox.iter().any(|m| matches!(m, ToWorker::Stop)) {
            inbox.retain(|m| matches!(m, ToWorker::Task(_)));
            inbox.push_front(ToWorker::Stop);
        }
        let msg = match inbox.pop_front() {
            Some(m) => m,
            None => match link.recv(true)? {
                Some(m) => m,
                None => return Ok(()),
            },
        };
        match msg {
            ToWorker::Stop => {
                let dropped = inbox
                    .iter()
                    .filter_map(|m| match m {
                        ToWorker::Task(t) => Some(t.index),
                        ToWorker::Stop | ToWorker::Verdict { .. } => None,
                    })
                    .collect();
                return link.send(&FromWorker::Bye { dropped });
            }
            ToWorker::Task(task) => {
                history.extend(task.history.iter().cloned());
                let mut to_master = Channel {
                    link: &mut *link,
                    inbox: &mut inbox,
                };
                let done = evaluate(&mut to_master, setup, objective, &names, &history, &task)?;
                link.send(&FromWorker::Done(done))?;
            }
            // A verdict for a set that is over (it cannot be: the worker waits for each).
            ToWorker::Verdict { .. } => {}
        }
    }
}

/// The link to the master during an evaluation, and where messages that are not the awaited
/// verdict wait.
struct Channel<'a> {
    link: &'a mut dyn WorkerLink,
    inbox: &'a mut VecDeque<ToWorker>,
}

/// The worker's side of intermediate reports for one evaluation: asks the master, waits for
/// its verdict, remembers the report that stopped the set.
struct LinkReporter<'a, 'b> {
    channel: RefCell<&'a mut Channel<'b>>,
    index: u32,
    attempt: u32,
    stopped_at: Cell<Option<(u64, f64)>>,
    error: RefCell<Option<TransportError>>,
}

impl Reporter for LinkReporter<'_, '_> {
    fn report(&self, step: u64, value: f64) -> bool {
        if self.stopped_at.get().is_some() || self.error.borrow().is_some() {
            return true;
        }
        let Ok(mut channel) = self.channel.try_borrow_mut() else {
            return false;
        };
        let asked = channel.link.send(&FromWorker::Report {
            index: self.index,
            attempt: self.attempt,
            step,
            value,
        });
        let verdict = asked.and_then(|()| {
            loop {
                match channel.link.recv(true)? {
                    Some(ToWorker::Verdict { index, stop }) if index == self.index => {
                        break Ok(stop);
                    }
                    Some(other) => channel.inbox.push_back(other),
                    None => {
                        break Err(TransportError::Failed {
                            reason: "the master went away while a report waited for its verdict"
                                .into(),
                        });
                    }
                }
            }
        });
        match verdict {
            Ok(stop) => {
                if stop {
                    self.stopped_at.set(Some((step, value)));
                }
                stop
            }
            Err(e) => {
                // Nobody will read this set's result: end it.
                *self.error.borrow_mut() = Some(e);
                true
            }
        }
    }
}

fn evaluate(
    channel: &mut Channel,
    setup: &WorkerSetup,
    objective: &mut dyn Objective,
    names: &Arc<[String]>,
    history: &[Observation],
    task: &Task,
) -> Result<Done, TransportError> {
    let exp = &setup.experiment;
    let index = task.index as usize;
    let started = unix_now();
    let finish = |values: Vec<Value>, outcome: Outcome, note: String| Done {
        index: task.index,
        values,
        outcome,
        started,
        ended: unix_now(),
        note,
        cut_off: false,
    };
    let deadline = task
        .deadline
        .map(|d| UNIX_EPOCH + Duration::from_secs_f64(d.max(0.0)));
    if deadline.is_some_and(|d| SystemTime::now() >= d) {
        // Too late to start: no row, it runs again on resume.
        let mut done = finish(Vec::new(), Outcome::cut_off(), String::new());
        done.cut_off = true;
        return Ok(done);
    }
    let Some(set) = setup.table.get(index) else {
        return Ok(finish(
            Vec::new(),
            Outcome::failed(format!("set {index} is not in this worker's table")),
            String::new(),
        ));
    };
    let mut note = String::new();
    let bayes_values = if set.is_bayesian() {
        let (values, why) = propose(setup, history, task, set);
        note = why;
        channel.link.send(&FromWorker::Proposal {
            index: task.index,
            values: values.clone(),
        })?;
        values
    } else {
        Vec::new()
    };
    let values = match exp.space.resolve(&set.cells, &bayes_values) {
        Ok(v) => v,
        Err(e) => return Ok(finish(Vec::new(), Outcome::failed(e.to_string()), note)),
    };
    let params = Params::new(names.clone(), values);
    let dir = exp
        .compute
        .provide_worker_path
        .then(|| worker_dir(&exp.dir, index));
    if let Some(d) = &dir {
        let prepared = std::fs::create_dir_all(d)
            .and_then(|()| std::fs::write(d.join("params.json"), params_json(&params)));
        if let Err(e) = prepared {
            return Ok(finish(
                params.values().to_vec(),
                Outcome::failed(format!("cannot prepare {}: {e}", d.display())),
                note,
            ));
        }
    }
    let reporter = LinkReporter {
        channel: RefCell::new(channel),
        index: task.index,
        attempt: task.attempt,
        stopped_at: Cell::new(None),
        error: RefCell::new(None),
    };
    let ctx = EvalContext {
        index,
        params: &params,
        worker_dir: dir.as_deref(),
        experiment_dir: &exp.dir,
        config_dir: &exp.config_dir,
        env: &setup.env,
        deadline,
        reporter: Some(&reporter),
    };
    let mut outcome = objective.evaluate(&ctx);
    if let Some(e) = reporter.error.into_inner() {
        return Err(e);
    }
    let declared = exp.objective.outputs.len();
    if declared > 0 && outcome.status == Status::Ok && outcome.outputs.len() != declared {
        // Every kind reads outputs through the one normalizer; a number alone cannot carry them.
        outcome = Outcome::failed("the objective returned no declared outputs");
    }
    if let Some((step, value)) = reporter.stopped_at.get() {
        // Stopped by the rule: the report that stopped it is the result, whatever the
        // objective did after (a command's SIGTERM, a function's early return).
        outcome = Outcome::pruned(value, step);
    }
    let mut done = finish(params.values().to_vec(), outcome, note);
    // Cut off at the job's deadline or by the scheduler's signal: not a result of the set.
    done.cut_off = done.outcome.interrupted;
    Ok(done)
}

/// The Bayesian values of `set`, and a note for the row when the model was not used.
fn propose(
    setup: &WorkerSetup,
    history: &[Observation],
    task: &Task,
    set: &SetSpec,
) -> (Vec<Value>, String) {
    let exp = &setup.experiment;
    let columns = BayesColumns::of_block(&exp.space.blocks[set.block]);
    let dims = columns.dims();
    let declared = &exp.objective.outputs;
    // With declared outputs, the results that returned them all (a value at a step carries
    // none); without, the points `model_points` chooses (pruned sets included).
    let (mut observed, level_note): (Vec<ModelPoint>, String) = match declared.is_empty() {
        true => {
            let (points, note) = model_points(history, &columns, dims.len());
            let no_outputs: &[f64] = &[];
            let points = points.into_iter().map(|(i, x, y)| (i, x, y, no_outputs));
            (points.collect(), note)
        }
        false => (
            history
                .iter()
                .filter(|o| o.loss.is_finite())
                .filter(|o| o.outputs.len() == declared.len())
                .filter_map(|o| {
                    let x = columns.encode(&o.values)?;
                    Some((o.index, x, o.loss, o.outputs.as_slice()))
                })
                .collect(),
            String::new(),
        ),
    };
    // Completion order differs between runs; the model sees the same history either way.
    observed.sort_by_key(|(i, _, _, _)| *i);
    observed.dedup_by_key(|(i, _, _, _)| *i);
    // Its place among the proposals under way (0: none holds the model's best point).
    let blind = task.slot as usize;
    let mut pending: Vec<(u32, Vec<f64>)> = task
        .pending
        .iter()
        .filter(|p| p.index != task.index)
        .filter_map(|p| {
            let values = match &p.values {
                Some(v) => v.clone(),
                None => {
                    let spec = setup.table.get(p.index as usize)?;
                    if spec.is_bayesian() {
                        return None;
                    }
                    exp.space.resolve(&spec.cells, &[]).ok()?
                }
            };
            columns.encode(&values).map(|x| (p.index, x))
        })
        .collect();
    pending.sort_by_key(|(i, _)| *i);
    let observed_x: Vec<Vec<f64>> = observed.iter().map(|o| o.1.clone()).collect();
    let pending_x: Vec<Vec<f64>> = pending.into_iter().map(|(_, x)| x).collect();
    let seed = suggestion_seed(exp.seed, set.index);
    let outputs: Vec<&[f64]> = observed.iter().map(|o| o.3).collect();
    let (observed_y, weights_note, scalarization) = match declared.is_empty() {
        true => (observed.iter().map(|o| o.2).collect(), String::new(), None),
        false => scalarized(declared, &outputs, seed),
    };
    let constraint_values: Vec<(Vec<f64>, Option<f64>, Option<f64>)> = declared
        .iter()
        .enumerate()
        .filter_map(|(j, o)| match o.goal {
            Goal::Constraint { min, max } => {
                Some((outputs.iter().map(|v| v[j]).collect(), min, max))
            }
            Goal::Objective(_) => None,
        })
        .collect();
    let constraints: Vec<Constraint> = constraint_values
        .iter()
        .map(|(values, min, max)| Constraint {
            values,
            min: *min,
            max: *max,
        })
        .collect();
    let problem = Problem {
        dims: &dims,
        observed_x: &observed_x,
        observed_y: &observed_y,
        pending: &pending_x,
    };
    let positions = columns.params();
    let conditional: Vec<bool> = positions
        .iter()
        .map(|&p| exp.space.may_be_inactive(p))
        .collect();
    // Which columns a candidate point uses: the set completed with it, as the objective would
    // see it (a set that cannot be completed counts every column as used).
    let active = |x: &[f64]| -> Vec<bool> {
        match exp.space.resolve(&set.cells, &columns.decode(x)) {
            Ok(values) => positions
                .iter()
                .map(|&p| !values[p].is_inactive())
                .collect(),
            Err(_) => vec![true; positions.len()],
        }
    };
    let conditions = conditional
        .contains(&true)
        .then_some(acquisition::Conditions {
            conditional,
            active: &active,
        });
    // One model per objective when asked (and there are several); else one model of `observed_y`.
    let per_objective = scalarization
        .as_ref()
        .filter(|_| exp.bayesian.multi_objective == MultiObjective::PerObjective);
    let suggestion = match (per_objective, constraints.is_empty(), &conditions, blind) {
        (Some((losses, weights)), _, c, _) => acquisition::suggest_objectives(
            &problem,
            &acquisition::Objectives { losses, weights },
            &constraints,
            c.as_ref(),
            &exp.bayesian,
            seed,
        ),
        (None, true, None, 0) => acquisition::suggest(&problem, &exp.bayesian, seed),
        (None, _, c, _) => acquisition::suggest_constrained(
            &problem,
            &constraints,
            c.as_ref(),
            &exp.bayesian,
            seed,
            blind,
        ),
    };
    match suggestion {
        Ok(s) => (columns.decode(&s.x), s.note + &weights_note + &level_note),
        Err(e) => (
            columns.decode(&acquisition::space_filling(&dims, seed)),
            format!("suggestion failed ({e}): space-filling draw{level_note}"),
        ),
    }
}

/// The objectives' losses of each observed point and the proposal's scalarization weights.
type Scalarization = (Vec<Vec<f64>>, Vec<f64>);

/// With declared outputs, the value the model minimizes for each observed point: the one
/// objective's loss, or with several the ParEGO scalarization under weights drawn for this
/// proposal (`seed`); the note that names the weights; and with several, the losses and
/// weights themselves (for one model per objective).
fn scalarized(
    declared: &[Output],
    outputs: &[&[f64]],
    seed: u64,
) -> (Vec<f64>, String, Option<Scalarization>) {
    let objectives: Vec<(usize, Direction)> = declared
        .iter()
        .enumerate()
        .filter_map(|(j, o)| o.direction().map(|d| (j, d)))
        .collect();
    let losses: Vec<Vec<f64>> = outputs
        .iter()
        .map(|v| objectives.iter().map(|&(j, d)| d.loss(v[j])).collect())
        .collect();
    if objectives.len() == 1 {
        return (
            losses.into_iter().map(|l| l[0]).collect(),
            String::new(),
            None,
        );
    }
    let weights = parego::weights(objectives.len(), seed);
    let note = format!(
        "; parego weights {}",
        objectives
            .iter()
            .zip(&weights)
            .map(|((j, _), w)| format!("{}={w:.3}", declared[*j].name))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let values = parego::chebyshev(&losses, &weights);
    (values, note, Some((losses, weights)))
}

/// An observed point for the model: its set, its encoded point, its loss, its declared outputs.
type ModelPoint<'a> = (u32, Vec<f64>, f64, &'a [f64]);

/// A fidelity of the model's values: `(is a result, step)`, so results rank above every step.
type Level = (bool, u64);

/// The model's points `(set, point, loss)` in set order, from the history, and a note for the
/// row when pruned sets shaped them.
///
/// With `[pruning]` most sets never finish, so their results alone leave the model a handful
/// of points; but every set, pruned or not, reported its value at the ladder steps it reached.
/// Values at different steps are not comparable (a pruned value must not look like a finished
/// one), so the model is fitted at one level, chosen by BOHB's rule (Falkner et al., ICML
/// 2018): the highest level, results first, then the ladder steps from the last down, that at
/// least `dims + 2` sets reached (enough to determine the d + 2 hyperparameters of the ARD
/// kernel); when none has that many, the one most sets reached. Unlike BOHB, the sets stopped
/// before that level stay in the model, each as no better than the worst value there (nor
/// than its own last value): the rule judged them worse, and a set the model does not see is
/// a set it proposes again. Without ladder values (no `[pruning]`) this is the results, as it
/// always was.
fn model_points(
    history: &[Observation],
    columns: &BayesColumns,
    dims: usize,
) -> (Vec<(u32, Vec<f64>, f64)>, String) {
    if history.iter().all(|o| o.step.is_none()) {
        let mut points: Vec<(u32, Vec<f64>, f64)> = history
            .iter()
            .filter(|o| o.loss.is_finite())
            .filter_map(|o| columns.encode(&o.values).map(|x| (o.index, x, o.loss)))
            .collect();
        // Completion order differs between runs; the model sees the same history either way.
        points.sort_by_key(|(i, _, _)| *i);
        points.dedup_by_key(|(i, _, _)| *i);
        return (points, String::new());
    }
    // Per set (in index order, whatever the completion order), its point and its value at
    // each level it reached.
    let mut sets: BTreeMap<u32, (Vec<f64>, BTreeMap<Level, f64>)> = BTreeMap::new();
    for o in history {
        if let Some(x) = columns.encode(&o.values) {
            let (_, values) = sets.entry(o.index).or_insert_with(|| (x, BTreeMap::new()));
            values
                .entry((o.step.is_none(), o.step.unwrap_or(0)))
                .or_insert(o.loss);
        }
    }
    let reached = |level: &Level| {
        sets.values()
            .filter(|(_, v)| v.get(level).is_some_and(|y| y.is_finite()))
            .count()
    };
    let mut levels: Vec<Level> = sets.values().flat_map(|(_, v)| v.keys().copied()).collect();
    levels.sort_unstable();
    levels.dedup();
    // From the highest level down, the first with enough sets, else the fullest (the highest
    // of equals).
    let enough = dims + 2;
    let mut chosen: Option<(Level, usize)> = None;
    for level in levels.into_iter().rev() {
        let n = reached(&level);
        if n >= enough {
            chosen = Some((level, n));
            break;
        }
        if n > chosen.map_or(0, |c| c.1) {
            chosen = Some((level, n));
        }
    }
    let Some((level, n)) = chosen else {
        return (Vec::new(), String::new());
    };
    let worst = sets
        .values()
        .filter_map(|(_, v)| v.get(&level).copied())
        .filter(|y| y.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    let mut below = 0;
    let points: Vec<(u32, Vec<f64>, f64)> = sets
        .into_iter()
        .map(|(i, (x, values))| {
            let y = match values.get(&level) {
                Some(&y) if y.is_finite() => y,
                _ => {
                    below += 1;
                    // Its value at the highest level it reached; none usable: the worst.
                    match values.values().next_back() {
                        Some(&own) if own.is_finite() => own.max(worst),
                        _ => worst,
                    }
                }
            };
            (i, x, y)
        })
        .collect();
    let more = |when: &str| match below {
        0 => String::new(),
        _ => format!("; {below} more stopped {when}, each as no better than the worst of them"),
    };
    let note = match level {
        (true, _) if below == 0 => String::new(),
        (true, _) => format!("; model on the results of {n} sets{}", more("early")),
        (false, step) => format!(
            "; model on the values at step {step} of {n} sets{}",
            more("before it")
        ),
    };
    (points, note)
}

fn params_json(params: &Params) -> Vec<u8> {
    let map: serde_json::Map<String, serde_json::Value> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_json()))
        .collect();
    serde_json::to_vec_pretty(&map).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::{Block, Range, Strategy};

    /// One Bayesian column x in [0, 10] (d = 1: a level needs 3 points).
    fn columns() -> BayesColumns {
        BayesColumns::of_block(&Block {
            count: 1,
            prevent_duplicate: false,
            strategies: vec![Strategy::Bayesian(Range {
                lo: 0.0,
                hi: 10.0,
                log: false,
                round: None,
                integer: false,
            })],
        })
    }

    fn obs(index: u32, loss: f64, step: Option<u64>) -> Observation {
        Observation {
            index,
            values: vec![Value::Float(f64::from(index))],
            loss,
            step,
            outputs: Vec::new(),
        }
    }

    fn sets(points: &[(u32, Vec<f64>, f64)]) -> Vec<(u32, f64)> {
        points.iter().map(|(i, _, y)| (*i, *y)).collect()
    }

    #[test]
    fn without_ladder_values_the_model_takes_every_result_as_before() {
        let history = [obs(2, 0.5, None), obs(0, 0.1, None), obs(2, 0.5, None)];
        let (points, note) = model_points(&history, &columns(), 1);
        assert_eq!(sets(&points), [(0, 0.1), (2, 0.5)]);
        assert_eq!(points[1].1, [2.0]);
        assert_eq!(note, "");
    }

    #[test]
    fn pruned_sets_reach_the_model_at_the_highest_step_with_enough_sets() {
        // Sets 0-5 reported at step 1; 0, 1, 2 and 4 at step 3 (4 was stopped there); 0 and 1
        // at step 9; only 0 and 1 finished. Results: 2 < 3 sets; step 9: 2; step 3: 4.
        let mut history = vec![obs(0, 0.2, None), obs(1, 0.3, None)];
        for i in 0..6 {
            history.push(obs(i, 1.0 + f64::from(i), Some(1)));
        }
        for i in [0, 1, 2, 4] {
            history.push(obs(i, 0.5 + f64::from(i), Some(3)));
        }
        history.push(obs(0, 0.25, Some(9)));
        history.push(obs(1, 0.35, Some(9)));
        let (points, note) = model_points(&history, &columns(), 1);
        // Sets 3 and 5, stopped at step 1 (4.0 and 6.0), count as no better than the worst
        // at step 3 (4.5).
        assert_eq!(
            sets(&points),
            [(0, 0.5), (1, 1.5), (2, 2.5), (3, 4.5), (4, 4.5), (5, 6.0)]
        );
        assert_eq!(points[5].1, [5.0]);
        assert_eq!(
            note,
            "; model on the values at step 3 of 4 sets; 2 more stopped before it, each as no better than the worst of them"
        );
        // With a third result the results are enough: the pruned sets count as no better
        // than the worst result (0.4), or their own last value.
        history.push(obs(2, 0.4, None));
        let (points, note) = model_points(&history, &columns(), 1);
        assert_eq!(
            sets(&points),
            [(0, 0.2), (1, 0.3), (2, 0.4), (3, 4.0), (4, 4.5), (5, 6.0)]
        );
        assert_eq!(
            note,
            "; model on the results of 3 sets; 3 more stopped early, each as no better than the worst of them"
        );
        // In two dimensions a level needs 4 sets: step 3 has them.
        let (points, note) = model_points(&history, &columns(), 2);
        assert_eq!(points.len(), 6);
        assert!(note.contains("at step 3 of 4 sets"), "{note}");
    }

    #[test]
    fn when_no_level_has_enough_sets_the_fullest_wins() {
        // Results: 1 set; step 3: 2 (set 1's value there is not finite); step 1: 2. Equal:
        // the higher. Set 1 counts as the worst at step 3.
        let history = [
            obs(0, 0.2, None),
            obs(0, 0.4, Some(1)),
            obs(1, 0.6, Some(1)),
            obs(0, 0.3, Some(3)),
            obs(1, f64::INFINITY, Some(3)),
            obs(2, 0.7, Some(3)),
        ];
        let (points, note) = model_points(&history, &columns(), 1);
        assert_eq!(sets(&points), [(0, 0.3), (1, 0.7), (2, 0.7)]);
        assert!(note.contains("at step 3 of 2 sets; 1 more"), "{note}");
        // A result and one value at a step: the result.
        let (points, note) = model_points(&history[..2], &columns(), 1);
        assert_eq!(sets(&points), [(0, 0.2)]);
        assert_eq!(note, "");
    }
}

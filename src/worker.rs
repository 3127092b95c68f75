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

use crate::acquisition::{self, Problem};
use crate::backend::{
    Done, FromWorker, Observation, Task, ToWorker, TransportError, WorkerInfo, WorkerLink,
};
use crate::config::Definition;
use crate::experiment::worker_dir;
use crate::objective::{EvalContext, Objective, Outcome, Reporter};
use crate::space::{BayesColumns, Params, SetSpec, Value};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
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
    let mut observed: Vec<(u32, Vec<f64>, f64)> = history
        .iter()
        .filter(|o| o.loss.is_finite())
        .filter_map(|o| columns.encode(&o.values).map(|x| (o.index, x, o.loss)))
        .collect();
    // Completion order differs between runs; the model sees the same history either way.
    observed.sort_by_key(|(i, _, _)| *i);
    observed.dedup_by_key(|(i, _, _)| *i);
    // Bayesian sets handed out before this one whose values are not known yet: their workers
    // are proposing at this moment, from (nearly) the same history.
    let blind = task
        .pending
        .iter()
        .filter(|p| p.index != task.index && p.values.is_none())
        .filter(|p| {
            setup
                .table
                .get(p.index as usize)
                .is_some_and(SetSpec::is_bayesian)
        })
        .count();
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
    let observed_x: Vec<Vec<f64>> = observed.iter().map(|(_, x, _)| x.clone()).collect();
    let observed_y: Vec<f64> = observed.iter().map(|(_, _, y)| *y).collect();
    let pending_x: Vec<Vec<f64>> = pending.into_iter().map(|(_, x)| x).collect();
    let problem = Problem {
        dims: &dims,
        observed_x: &observed_x,
        observed_y: &observed_y,
        pending: &pending_x,
    };
    let seed = suggestion_seed(exp.seed, set.index);
    match acquisition::suggest_among(&problem, &exp.bayesian, seed, blind) {
        Ok(s) => (columns.decode(&s.x), s.note),
        Err(e) => (
            columns.decode(&acquisition::space_filling(&dims, seed)),
            format!("suggestion failed ({e}): space-filling draw"),
        ),
    }
}

fn params_json(params: &Params) -> Vec<u8> {
    let map: serde_json::Map<String, serde_json::Value> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_json()))
        .collect();
    serde_json::to_vec_pretty(&map).unwrap_or_default()
}

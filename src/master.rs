//! The master loop, the same for every transport: hand sets to workers as they have room,
//! gather each result the moment it arrives, append it to the journal, and report it to the
//! observers once it is durable. It never evaluates and never fits a model.
//!
//! Intermediate reports go to `curves.csv` (a second journal) the moment they arrive, and the
//! `[pruning]` rule's [`Pruner`] answers each at once: the worker waits for that verdict.

use crate::acquisition::options::{PendingRule, Proposals};
use crate::backend::{
    Done, Event, FromWorker, Observation, PendingSet, Task, ToWorker, Transport, TransportError,
    WorkerId, WorkerInfo,
};
use crate::config::{Definition, Direction};
use crate::experiment::curves::{CurvePoint, latest_attempts};
use crate::experiment::live::{self, LiveStatus, RunningSet};
use crate::experiment::{Journal, JournalError, ResultRow};
use crate::messages::note;
use crate::monitor::{Observer, Progress};
use crate::objective::{Outcome, Status};
use crate::prune::{Pruner, Verdict};
use crate::schedule::{Disposition, Rules, Scheduler, Termination, propose_in_turn};
use crate::space::{SetSpec, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Stop requests (SIGINT, SIGTERM, SIGUSR1): one stops dispatching, two abort. SIGUSR1 is a
/// warning and never aborts: it only makes the first request. A job's warning often reaches
/// the master twice (`scancel --signal=USR1 --full` or `--signal=USR1@T` signal every process
/// of the job, and the batch script passes its own copy on), and must not cut off the running
/// evaluations that it means to let finish.
pub static STOP_REQUESTS: AtomicUsize = AtomicUsize::new(0);
/// The first stop signal received (0: none yet).
pub static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_stop_signal(sig: libc::c_int) {
    let _ = STOP_SIGNAL.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
    if sig == libc::SIGUSR1 {
        let _ = STOP_REQUESTS.compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst);
    } else {
        STOP_REQUESTS.fetch_add(1, Ordering::SeqCst);
    }
}

/// Why a stop signal ends the run: SIGINT is the user at the terminal (`Interrupted`);
/// SIGTERM and SIGUSR1 are how a batch system announces the job's end (`--signal`, preemption,
/// `scancel`), which is the `Deadline` case: stopped early, nothing lost, resumable.
pub fn termination_for_signal(sig: libc::c_int) -> Termination {
    if sig == libc::SIGINT {
        Termination::Interrupted
    } else {
        Termination::Deadline
    }
}

/// Routes SIGINT, SIGTERM and SIGUSR1 of the master to [`STOP_REQUESTS`].
pub fn install_stop_handler() {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let action = SigAction::new(
        SigHandler::Handler(on_stop_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGUSR1] {
        // SAFETY: the handler only touches an atomic.
        let _ = unsafe { sigaction(sig, &action) };
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

#[derive(Clone, Debug, Default)]
pub struct MasterOptions {
    /// The job's end: no set starts that cannot finish before it, running ones are cut off.
    pub deadline: Option<SystemTime>,
    /// Where the deadline comes from (for the messages that explain it).
    pub deadline_source: DeadlineSource,
    /// Margin kept before the deadline, on top of the durations seen so far.
    pub deadline_margin: Duration,
    /// Run the failed and timed-out sets again; each new row replaces the old one.
    pub retry_failed: bool,
}

/// Where a run's deadline comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum DeadlineSource {
    /// The end of the batch job the run is in.
    #[default]
    Job,
    /// `--walltime`: the time this run may take.
    Walltime(Duration),
}

/// How a run of the master loop ended: why, the progress at the end, and how long it took.
#[derive(Debug)]
pub struct RunSummary {
    pub termination: Termination,
    pub progress: Progress,
    pub elapsed: Duration,
    /// The parameter names, in order (for the rows below).
    pub names: Vec<String>,
    /// The best `ok` row, earlier runs included.
    pub best: Option<ResultRow>,
    /// The last failed row of this run.
    pub last_failure: Option<ResultRow>,
    /// Every set had its row before this run (and none was to be retried).
    pub nothing_to_do: bool,
    /// Rows of earlier runs that this run's rows replaced (`retry_failed`).
    pub replaced: usize,
    /// CPU seconds (user and system, every thread) this process spent in the loop.
    pub cpu: f64,
}

/// How often the live status file is rewritten and observers ticked.
const TICK: Duration = Duration::from_millis(250);
const STATUS_EVERY: Duration = Duration::from_secs(1);
/// How often rows replaced by a retry move to history.csv while the run goes on.
const SETTLE_EVERY: Duration = Duration::from_secs(1);
/// Rows buffered before they are handed to the kernel even while messages keep coming.
const FLUSH_ROWS: u64 = 512;
/// Evaluations shorter than this (on average) let a worker hold a queue of sets.
const SHORT_EVALUATION_S: f64 = 0.005;
const QUEUE_DEPTH: usize = 16;

/// The tables the master appends to.
pub struct Journals<'a> {
    pub results: &'a mut Journal,
    /// `curves.csv`: the intermediate reports.
    pub curves: &'a mut Journal,
}

struct Master<'a> {
    exp: &'a Definition,
    table: &'a [SetSpec],
    journal: &'a mut Journal,
    curves: &'a mut Journal,
    /// The `[pruning]` rule's state, rebuilt from `curves.csv` on resume.
    pruner: Pruner,
    /// Per set, its latest attempt (the next run of it is one more).
    attempts: Vec<u32>,
    transport: &'a mut dyn Transport,
    observers: &'a mut [Box<dyn Observer>],
    options: MasterOptions,
    sched: Scheduler,
    infos: Vec<WorkerInfo>,
    /// What sets that are over tell the model ([`observations`]), kept only while Bayesian
    /// sets remain to be proposed.
    history: Option<Vec<Observation>>,
    /// Per worker, how much of `history` it has been sent.
    seen: Vec<usize>,
    proposals: HashMap<usize, Vec<Value>>,
    /// The slot ([`Task::slot`]) of each Bayesian set handed out whose proposal has not
    /// arrived, and when it went out.
    slots: HashMap<usize, (u32, Instant)>,
    /// The mean time from handing a Bayesian set out to its proposal (moving average).
    mean_proposal: Option<f64>,
    /// Per worker, since when its current set has been running.
    front_since: Vec<SystemTime>,
    said_bye: Vec<bool>,
    unreported: VecDeque<(u64, ResultRow)>,
    progress: Progress,
    mean_duration: Option<f64>,
    longest_duration: f64,
    stop_sent: bool,
    aborted: bool,
    termination: Option<Termination>,
    /// Evaluations cut off by the job's end (deadline, scheduler signal, killed worker while
    /// stopping): no row, they run again on resume.
    cut_off: usize,
    /// Per set: it has a row from an earlier run, which this run's row will replace.
    replaces: Vec<bool>,
    /// Replaced rows not yet moved to history.csv, and when they last were.
    unsettled: usize,
    last_settle: Instant,
    replaced: usize,
    best_row: Option<ResultRow>,
    last_failure: Option<ResultRow>,
}

/// The progress before this run: the rows already written and the best of them.
fn progress_so_far(
    total: usize,
    previous: &[ResultRow],
    direction: Direction,
) -> (Progress, Option<&ResultRow>) {
    let mut progress = Progress {
        total,
        done: previous.len(),
        failed: previous
            .iter()
            .filter(|r| r.outcome.status.is_failure())
            .count(),
        done_this_run: 0,
        running: 0,
        best: None,
        started: Instant::now(),
    };
    let mut best = None;
    for row in previous {
        if let Some(v) = ok_result(row)
            && progress.best.is_none_or(|(_, b)| direction.better(v, b))
        {
            progress.best = Some((row.index, v));
            best = Some(row);
        }
    }
    (progress, best)
}

/// An exponential moving average: the first value, then a tenth of each new one.
fn moving_average(mean: Option<f64>, value: f64) -> f64 {
    match mean {
        None => value,
        Some(m) => 0.9 * m + 0.1 * value,
    }
}

/// The result of an `ok` row.
fn ok_result(row: &ResultRow) -> Option<f64> {
    row.outcome
        .result
        .filter(|_| row.outcome.status == Status::Ok)
}

/// What a set that is over tells the Bayesian model: the result of an `ok` row, and with
/// `[pruning]` the values of an `ok` or `pruned` row at each ladder step it reached (in its
/// `attempt`). A failed set tells nothing, whatever it reported before failing.
fn observations(
    index: usize,
    values: &[Value],
    outcome: &Outcome,
    pruner: &Pruner,
    attempt: u32,
    direction: Direction,
) -> Vec<Observation> {
    if outcome.status.is_failure() {
        return Vec::new();
    }
    let observation = |loss: f64, step: Option<u64>, outputs: Vec<f64>| Observation {
        index: index as u32,
        values: values.to_vec(),
        loss,
        step,
        outputs,
    };
    let result = outcome
        .result
        .filter(|_| outcome.status == Status::Ok)
        .map(|v| observation(direction.loss(v), None, outcome.outputs.clone()));
    // The reports judge the first objective output alone: a step's value has no other outputs.
    let ladder = pruner
        .ladder(index, attempt)
        .iter()
        .map(|&(step, loss)| observation(loss, Some(step), Vec::new()));
    result.into_iter().chain(ladder).collect()
}

/// The sets this run evaluates, in index order: those without a row, and with `retry_failed`
/// those whose row failed. `replaces[i]`: set `i` has a row that its new one replaces.
fn sets_to_run(
    table_len: usize,
    previous: &[ResultRow],
    retry_failed: bool,
) -> (Vec<usize>, Vec<bool>) {
    let mut has_row = vec![false; table_len];
    let mut replaces = vec![false; table_len];
    for row in previous {
        has_row[row.index] = true;
        replaces[row.index] = retry_failed && row.outcome.status.is_failure();
    }
    let todo = (0..table_len)
        .filter(|&i| !has_row[i] || replaces[i])
        .collect();
    (todo, replaces)
}

/// Runs the experiment's remaining sets on the transport's workers: sets up the state the loop
/// needs (what is done, the best so far, the history for Bayesian sets), runs [`Master::run`],
/// and ends the run for the observers.
#[allow(clippy::too_many_arguments)]
pub fn run_master(
    exp: &Definition,
    table: &[SetSpec],
    previous: Vec<ResultRow>,
    previous_curves: &[CurvePoint],
    journals: Journals,
    transport: &mut dyn Transport,
    observers: &mut [Box<dyn Observer>],
    options: MasterOptions,
) -> Result<RunSummary, MasterError> {
    let (todo, replaces) = sets_to_run(table.len(), &previous, options.retry_failed);
    let nothing_to_do = todo.is_empty();
    let bayesian: Vec<bool> = table.iter().map(SetSpec::is_bayesian).collect();
    let needs_history = todo.iter().any(|&i| bayesian[i]);
    let k = transport.workers();
    let direction = exp.objective.direction;
    let (progress, best_row) = progress_so_far(table.len(), &previous, direction);
    // The longest evaluation seen, earlier runs included, keeps a deadline from starting a
    // set that cannot finish.
    let longest_duration = previous
        .iter()
        .map(ResultRow::duration_s)
        .fold(0.0, f64::max);
    // Replaying every report in the order it arrived rebuilds the rule's decisions.
    let mut pruner = Pruner::new(exp.pruning.clone());
    let reports = exp.report_direction();
    for p in previous_curves {
        pruner.report(p.index, p.attempt, p.step, reports.loss(p.value));
    }
    let mut attempts = vec![0; table.len()];
    for (index, attempt) in latest_attempts(previous_curves) {
        if let Some(a) = attempts.get_mut(index) {
            *a = attempt;
        }
    }
    let history = needs_history.then(|| {
        previous
            .iter()
            .flat_map(|r| {
                let attempt = attempts.get(r.index).copied().unwrap_or(0);
                observations(r.index, &r.values, &r.outcome, &pruner, attempt, direction)
            })
            .collect()
    });
    let mut master = Master {
        exp,
        table,
        journal: journals.results,
        curves: journals.curves,
        pruner,
        attempts,
        transport,
        observers,
        options,
        sched: Scheduler::new(
            todo,
            bayesian,
            k,
            Rules {
                retries: exp.objective.retries,
                wait_for_all: exp.compute.bayesian_wait_for_all,
                max_consecutive_failures: exp.compute.max_consecutive_failures,
            },
        ),
        infos: vec![WorkerInfo::default(); k],
        history,
        seen: vec![0; k],
        proposals: HashMap::new(),
        slots: HashMap::new(),
        mean_proposal: None,
        front_since: vec![SystemTime::now(); k],
        said_bye: vec![false; k],
        unreported: VecDeque::new(),
        progress,
        mean_duration: None,
        longest_duration,
        stop_sent: false,
        aborted: false,
        termination: None,
        cut_off: 0,
        replaces,
        unsettled: 0,
        last_settle: Instant::now(),
        replaced: 0,
        best_row: best_row.cloned(),
        last_failure: None,
    };
    // What the loop needs of the earlier rows is in its state now: a resumed run of a million
    // sets does not keep them for its whole length.
    drop(previous);
    let cpu_before = crate::sys::cpu_seconds();
    let result = master.run();
    master.write_status(true);
    if master.cut_off > 0 {
        note!(
            "{} evaluation(s) were cut off by the end of the job; they have no row and run again when this experiment is resumed",
            master.cut_off
        );
    }
    let mut why = master.termination.clone().unwrap_or(Termination::Complete);
    if result.is_ok() && master.sched.todo_len() == 0 && master.sched.running().next().is_none() {
        // Stopped near the end, but nothing was left to do.
        why = Termination::Complete;
    }
    for o in master.observers.iter_mut() {
        o.on_finish(&master.progress, &why);
    }
    result?;
    Ok(RunSummary {
        termination: why,
        elapsed: master.progress.started.elapsed(),
        progress: master.progress,
        names: exp.space.names().to_vec(),
        best: master.best_row,
        last_failure: master.last_failure,
        nothing_to_do,
        replaced: master.replaced,
        cpu: crate::sys::cpu_seconds() - cpu_before,
    })
}

impl Master<'_> {
    fn run(&mut self) -> Result<(), MasterError> {
        let mut last_tick = Instant::now();
        let mut last_status = Instant::now() - STATUS_EVERY;
        loop {
            self.check_stop();
            if self.sched.is_done() && !self.stop_sent {
                self.send_stop();
            }
            if self.stop_sent && self.said_bye.iter().all(|b| *b) {
                break;
            }
            let mut event = self.transport.recv(Duration::ZERO)?;
            if matches!(event, Event::Idle) {
                self.flush()?;
                if last_tick.elapsed() >= TICK {
                    last_tick = Instant::now();
                    self.tick(&mut last_status)?;
                }
                event = self.transport.recv(TICK)?;
            }
            self.handle(event)?;
            if self.journal.buffered() >= FLUSH_ROWS || self.curves.buffered() >= FLUSH_ROWS {
                self.flush()?;
            }
            if last_tick.elapsed() >= TICK {
                last_tick = Instant::now();
                self.tick(&mut last_status)?;
            }
        }
        if let Err(e) = self.journal.sync().and_then(|()| self.curves.sync()) {
            self.termination = Some(Termination::WriteFailed);
            return Err(e.into());
        }
        self.report();
        if self.unsettled > 0 {
            self.settle()?;
        }
        Ok(())
    }

    /// Moves the rows this run's rows replaced to history.csv (see the journal's protocol).
    fn settle(&mut self) -> Result<(), MasterError> {
        self.last_settle = Instant::now();
        if let Err(e) = self.journal.settle() {
            self.sched.stop();
            self.termination = Some(Termination::WriteFailed);
            return Err(e.into());
        }
        // Settling made every row durable (and moved every replaced row): report them.
        self.report();
        self.unsettled = 0;
        Ok(())
    }

    /// Tells every worker to stop: each finishes the set it evaluates and gives back those
    /// waiting in its queue.
    fn send_stop(&mut self) {
        self.stop_sent = true;
        for w in 0..self.transport.workers() {
            if !self.said_bye[w] {
                self.transport.send(w, &ToWorker::Stop).ok();
            }
        }
    }

    fn check_stop(&mut self) {
        let requests = STOP_REQUESTS.load(Ordering::SeqCst);
        if requests >= 1 && !self.sched.is_stopped() {
            self.sched.stop();
            let why = termination_for_signal(STOP_SIGNAL.load(Ordering::SeqCst));
            self.termination.get_or_insert(why);
            let running = self.sched.running().count();
            if running > 0 {
                note!(
                    "stopping: no new sets; waiting for {running} running evaluation(s) (SIGINT or SIGTERM again aborts them)"
                );
            }
        }
        if requests >= 2 && !self.aborted {
            self.aborted = true;
            note!("aborting the running evaluations; they run again on resume");
            // An MPI abort ends this process too: every written row must be durable first.
            let _ = self.journal.sync();
            let _ = self.curves.sync();
            self.transport.abort();
        }
        if let Some(deadline) = self.options.deadline {
            let margin = self.options.deadline_margin.as_secs_f64()
                + self.mean_duration.unwrap_or(0.0).max(self.longest_duration);
            let left = deadline
                .duration_since(SystemTime::now())
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            if left <= margin && !self.sched.is_stopped() {
                self.sched.stop();
                self.termination.get_or_insert(Termination::Deadline);
                let started_any =
                    self.progress.done_this_run > 0 || self.sched.running().next().is_some();
                let longest = self.mean_duration.unwrap_or(0.0).max(self.longest_duration);
                let says = deadline_note(
                    self.options.deadline_source,
                    left,
                    self.options.deadline_margin.as_secs_f64(),
                    longest,
                    started_any,
                );
                note!("{says}");
            }
        }
    }

    fn flush(&mut self) -> Result<(), MasterError> {
        if let Err(e) = self.journal.flush().and_then(|()| self.curves.flush()) {
            self.sched.stop();
            self.termination = Some(Termination::WriteFailed);
            return Err(e.into());
        }
        self.report();
        Ok(())
    }

    /// Hands durable rows to the observers.
    fn report(&mut self) {
        let durable = self.journal.durable();
        while self
            .unreported
            .front()
            .is_some_and(|(seq, _)| *seq < durable)
        {
            let Some((_, row)) = self.unreported.pop_front() else {
                break;
            };
            let p = &mut self.progress;
            if std::mem::take(&mut self.replaces[row.index]) {
                // The set's earlier row, a failure, is replaced by this one.
                p.failed -= 1;
                self.unsettled += 1;
                self.replaced += 1;
            } else {
                p.done += 1;
            }
            p.done_this_run += 1;
            if row.outcome.status.is_failure() {
                p.failed += 1;
                self.last_failure = Some(row.clone());
            }
            if let Some(v) = ok_result(&row)
                && p.best
                    .is_none_or(|(_, b)| self.exp.objective.direction.better(v, b))
            {
                p.best = Some((row.index, v));
                self.best_row = Some(row.clone());
            }
            for o in self.observers.iter_mut() {
                o.on_result(&row, &self.progress);
            }
        }
    }

    fn tick(&mut self, last_status: &mut Instant) -> Result<(), MasterError> {
        self.report();
        if self.unsettled > 0 && self.last_settle.elapsed() >= SETTLE_EVERY {
            self.settle()?;
        }
        self.progress.running = self.sched.running().count();
        for o in self.observers.iter_mut() {
            o.on_tick(&self.progress);
        }
        if last_status.elapsed() >= STATUS_EVERY {
            *last_status = Instant::now();
            self.write_status(false);
        }
        Ok(())
    }

    fn write_status(&self, finished: bool) {
        let time = |t: SystemTime| humantime::format_rfc3339_millis(t).to_string();
        let running = if finished {
            Vec::new()
        } else {
            self.sched
                .current()
                .map(|(w, index)| RunningSet {
                    index,
                    worker: w + 1,
                    started: time(self.front_since[w]),
                })
                .collect()
        };
        let st = LiveStatus {
            pid: std::process::id(),
            backend: self.transport.name().into(),
            workers: self.transport.workers(),
            host: crate::sys::hostname(),
            started: time(SystemTime::now() - self.progress.started.elapsed()),
            updated: time(SystemTime::now()),
            total: self.table.len(),
            running,
            finished,
        };
        // The status file is a convenience: failing to write it must not stop the run.
        let _ = live::write(&self.exp.dir, &st);
    }

    fn handle(&mut self, event: Event) -> Result<(), MasterError> {
        match event {
            Event::Idle => {}
            Event::Message(w, FromWorker::Ready(info)) => {
                self.infos[w] = info;
                self.dispatch(w);
            }
            Event::Message(_, FromWorker::Proposal { index, values }) => {
                let index = index as usize;
                self.proposals.insert(index, values);
                self.sched.proposed(index);
                if let Some((_, since)) = self.slots.remove(&index) {
                    let took = since.elapsed().as_secs_f64();
                    self.mean_proposal = Some(moving_average(self.mean_proposal, took));
                }
                self.choose_proposal_rule();
                // The next Bayesian set may have waited for this proposal.
                self.dispatch_idle();
            }
            Event::Message(w, FromWorker::Done(done)) => {
                self.front_since[w] = SystemTime::now();
                self.finished(w, done);
                self.dispatch(w);
                if self.sched.in_turn() {
                    // A set that ended without proposing (cut off) held the others.
                    self.dispatch_idle();
                }
            }
            Event::Message(
                w,
                FromWorker::Report {
                    index,
                    attempt,
                    step,
                    value,
                },
            ) => {
                let loss = self.exp.report_direction().loss(value);
                let verdict = self.pruner.report(index as usize, attempt, step, loss);
                let point = CurvePoint {
                    index: index as usize,
                    attempt,
                    step,
                    value,
                    time: SystemTime::now(),
                };
                self.curves.append_record(&point.record());
                let stop = verdict == Verdict::Stop;
                // A worker that is gone cannot hear it; its loss arrives as an event.
                self.transport
                    .send(w, &ToWorker::Verdict { index, stop })
                    .ok();
            }
            Event::Message(w, FromWorker::Bye { dropped }) => {
                for i in dropped {
                    self.sched.unfinished(w, i as usize);
                }
                self.said_bye[w] = true;
            }
            // A worker that said goodbye and exited is not lost.
            Event::Lost(w, _) if self.said_bye[w] => {}
            Event::Lost(w, why) => {
                self.said_bye[w] = true;
                // A stop signal may be on its way with the one that took the worker down.
                self.check_stop();
                let stopping = matches!(
                    self.termination,
                    Some(Termination::Interrupted | Termination::Deadline)
                );
                let lost = self.sched.lost(w);
                if let (Some(index), true) = (lost, stopping) {
                    // The job is ending (its signal reached the workers too): the set was cut
                    // off, not failed; it runs again on resume.
                    self.sched.unfinished(w, index);
                    self.cut_off += 1;
                } else if let Some(index) = lost {
                    let values = self
                        .proposals
                        .get(&index)
                        .cloned()
                        .or_else(|| self.exp.space.resolve(&self.table[index].cells, &[]).ok());
                    match values {
                        Some(values) => {
                            let now = unix(SystemTime::now());
                            let done = Done {
                                index: index as u32,
                                values,
                                outcome: Outcome::failed(format!(
                                    "the worker died during the evaluation ({why})"
                                )),
                                started: unix(self.front_since[w]),
                                ended: now,
                                note: String::new(),
                                cut_off: false,
                            };
                            self.finished(w, done);
                        }
                        None => self.sched.unfinished(w, index),
                    }
                }
                note!("worker {} lost: {why}", w + 1);
                if self.sched.alive_workers() == 0 && self.sched.todo_len() > 0 {
                    self.sched.stop();
                    self.termination.get_or_insert(Termination::NoWorkers);
                }
                // Its set may have held the others in turn, or gone back to the line.
                self.dispatch_idle();
            }
        }
        Ok(())
    }

    /// The lowest slot no Bayesian set still proposing holds (a set that left without a
    /// proposal, its worker lost, holds none).
    fn free_slot(&self) -> u32 {
        let held: std::collections::BTreeSet<u32> = self
            .sched
            .running()
            .filter(|i| !self.proposals.contains_key(i))
            .filter_map(|i| self.slots.get(&i).map(|&(slot, _)| slot))
            .collect();
        (0..).find(|s| !held.contains(s)).unwrap_or(0)
    }

    /// Hands sets to every worker with nothing to do.
    fn dispatch_idle(&mut self) {
        for w in self.sched.idle_workers() {
            self.dispatch(w);
        }
    }

    /// Proposes Bayesian sets in turn or together ([`propose_in_turn`]), from the measured
    /// proposal and evaluation times. Waiting is pointless when running sets stay out of the
    /// model (`pending = "ignore"`).
    fn choose_proposal_rule(&mut self) {
        let rule = match self.exp.bayesian.pending {
            PendingRule::Ignore => Proposals::Together,
            _ => self.exp.bayesian.proposals,
        };
        let workers = self.transport.workers();
        let in_turn = propose_in_turn(rule, workers, self.mean_proposal, self.mean_duration);
        self.sched.set_in_turn(in_turn);
    }

    fn finished(&mut self, w: WorkerId, done: Done) {
        let index = done.index as usize;
        self.proposals.remove(&index);
        self.slots.remove(&index);
        if done.cut_off {
            self.sched.unfinished(w, index);
            self.cut_off += 1;
            return;
        }
        let duration = (done.ended - done.started).max(0.0);
        self.mean_duration = Some(moving_average(self.mean_duration, duration));
        self.choose_proposal_rule();
        self.longest_duration = self.longest_duration.max(duration);
        let short = self.mean_duration.is_some_and(|m| m < SHORT_EVALUATION_S);
        self.sched.set_depth(if short { QUEUE_DEPTH } else { 1 });
        let ok = !done.outcome.status.is_failure();
        let Disposition::Record { attempts } = self.sched.finished(w, index, ok) else {
            return;
        };
        if self.sched.failure_limit_reached() && self.termination.is_none() {
            let failures = self.exp.compute.max_consecutive_failures;
            self.termination = Some(Termination::FailureLimit { failures });
            // The sets queued on workers are not started either.
            self.send_stop();
            let running = self.sched.current().count();
            note!(
                "stopping: {failures} evaluations in a row failed ([compute] max_consecutive_failures = {failures}); no new sets{}",
                if running > 0 {
                    format!(", waiting for {running} running evaluation(s)")
                } else {
                    String::new()
                }
            );
        }
        if let Some(history) = self.history.as_mut() {
            history.extend(observations(
                index,
                &done.values,
                &done.outcome,
                &self.pruner,
                self.attempts[index],
                self.exp.objective.direction,
            ));
        }
        let info = &self.infos[w];
        let row = ResultRow {
            index,
            values: done.values,
            outcome: done.outcome,
            worker: w + 1,
            started: from_unix(done.started),
            ended: from_unix(done.ended),
            attempts,
            rank: info.rank,
            host: info.host.clone(),
            gpu: info.gpu.clone(),
            cores: info.cores.clone(),
            bayesian: self.table[index].is_bayesian(),
            block: self.table[index].block,
            note: done.note,
        };
        let seq = self.journal.append(&row);
        self.unreported.push_back((seq, row));
    }

    fn dispatch(&mut self, w: WorkerId) {
        let sets = self.sched.fill(w);
        if sets.is_empty() {
            return;
        }
        if self.sched.current().any(|(cw, i)| cw == w && i == sets[0]) {
            self.front_since[w] = SystemTime::now();
        }
        let deadline = self.options.deadline.map(unix);
        for index in sets {
            self.attempts[index] += 1;
            let mut task = Task {
                index: index as u32,
                history: Vec::new(),
                pending: Vec::new(),
                deadline,
                attempt: self.attempts[index],
                slot: 0,
            };
            if self.table[index].is_bayesian() {
                task.slot = self.free_slot();
                self.slots.insert(index, (task.slot, Instant::now()));
                if let Some(history) = &self.history {
                    task.history = history[self.seen[w]..].to_vec();
                    self.seen[w] = history.len();
                }
                task.pending = self
                    .sched
                    .running()
                    .filter(|&i| i != index)
                    // A Bayesian set without a proposal yet goes without values: its
                    // worker is proposing right now, and this one proposes around it.
                    .map(|i| PendingSet {
                        index: i as u32,
                        values: match self.table[i].is_bayesian() {
                            true => self.proposals.get(&i).cloned(),
                            false => None,
                        },
                    })
                    .collect();
            }
            if self.transport.send(w, &ToWorker::Task(task)).is_err() {
                // The worker is gone; its loss arrives as an event and returns its sets.
                return;
            }
        }
    }
}

/// Why the deadline stops the dispatching: what the deadline is, how near it is, and the
/// margin a set needs to start (`margin_s` plus the longest evaluation seen, `longest_s`).
fn deadline_note(
    source: DeadlineSource,
    left_s: f64,
    margin_s: f64,
    longest_s: f64,
    started_any: bool,
) -> String {
    let seen = if longest_s > 0.0 {
        format!("{longest_s:.1} s")
    } else {
        "none yet".into()
    };
    let rule = format!(
        "a set starts only while more than the margin of {margin_s:.0} s plus the longest evaluation seen ({seen}) is left"
    );
    match (source, started_any) {
        (DeadlineSource::Walltime(w), false) => {
            let w = humantime::format_duration(Duration::from_secs(w.as_secs().max(1)));
            format!(
                "--walltime {w}: no set could start: --walltime is the time this run may take, and {rule}; {w} is shorter than that. Give a longer --walltime, or leave it out to run until every set is done"
            )
        }
        (DeadlineSource::Walltime(w), true) => format!(
            "--walltime {}: {left_s:.0} s left, and {rule}: no new sets; running ones finish or are cut off at the end",
            humantime::format_duration(Duration::from_secs(w.as_secs()))
        ),
        (DeadlineSource::Job, false) => format!(
            "the job ends in {left_s:.0} s, and {rule}: no set could start; the sets run when the experiment is resumed"
        ),
        (DeadlineSource::Job, true) => format!(
            "the job ends in {left_s:.0} s, and {rule}: no new sets; running ones finish or are cut off at the end"
        ),
    }
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn from_unix(s: f64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs_f64(s.max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_says_what_it_is_and_why_nothing_starts() {
        let walltime = DeadlineSource::Walltime(Duration::from_secs(3));
        assert_eq!(
            deadline_note(walltime, 3.0, 5.0, 0.0, false),
            "--walltime 3s: no set could start: --walltime is the time this run may take, and a set starts only while more than the margin of 5 s plus the longest evaluation seen (none yet) is left; 3s is shorter than that. Give a longer --walltime, or leave it out to run until every set is done"
        );
        let mid = deadline_note(walltime, 2.0, 5.0, 12.34, true);
        assert!(mid.contains("longest evaluation seen (12.3 s)"), "{mid}");
        assert!(mid.contains("no new sets"), "{mid}");
        let job = deadline_note(DeadlineSource::Job, 40.0, 5.0, 60.0, true);
        assert!(job.starts_with("the job ends in 40 s"), "{job}");
        assert!(!job.contains("walltime"), "{job}");
    }

    #[test]
    fn a_retry_runs_failed_sets_and_marks_the_rows_it_replaces() {
        use crate::objective::Outcome;
        let row = |i: usize, ok: bool| {
            let outcome = if ok {
                Outcome::ok(1.0)
            } else {
                Outcome::failed("boom")
            };
            ResultRow::for_test(i, vec![], outcome)
        };
        let previous = [row(0, true), row(1, false), row(3, false)];
        assert_eq!(sets_to_run(5, &previous, false).0, [2, 4]);
        let (todo, replaces) = sets_to_run(5, &previous, true);
        assert_eq!(todo, [1, 2, 3, 4]);
        assert_eq!(replaces, [false, true, false, true, false]);
    }
}

//! The master's pure state machine: which set goes to which worker next.
//!
//! Events in (a worker has room, a set finished, a worker was lost, stop), decisions out; no
//! I/O, so it is tested without processes. Sets go out in index order. A worker may hold a
//! short queue of plain sets (so fast objectives never wait for a round trip), but a Bayesian
//! set goes only to an idle worker, so its suggestion sees every result that worker could see.
//! Bayesian sets are proposed together or in turn ([`propose_in_turn`]). Together: every idle
//! worker gets one at once, and the master gives each its own slot among the proposals under
//! way, so it proposes a different point of a spread batch (`acquisition::suggest_among`). In
//! turn: a Bayesian set goes out once the proposals before it have arrived, so its worker sees
//! each of them (sequential quality), which costs the pool little while proposals are short
//! next to evaluations.

use crate::acquisition::options::Proposals;
use std::collections::{BTreeSet, VecDeque};

/// The share of the pool's time that proposing in turn may cost under `proposals = "auto"`.
pub const IN_TURN_SHARE: f64 = 0.05;

/// Whether Bayesian sets are proposed in turn: always or never when the configuration says
/// so; under `auto`, while `workers` proposals one after the other (`proposal_s` each, the
/// measured mean) take at most [`IN_TURN_SHARE`] of an evaluation (`evaluation_s`), so a set
/// waits little for the ones before it. Until both are measured: together.
pub fn propose_in_turn(
    rule: Proposals,
    workers: usize,
    proposal_s: Option<f64>,
    evaluation_s: Option<f64>,
) -> bool {
    match (rule, proposal_s, evaluation_s) {
        (Proposals::InTurn, _, _) => true,
        (Proposals::Auto, Some(p), Some(e)) => workers as f64 * p <= IN_TURN_SHARE * e,
        _ => false,
    }
}

/// Workers are numbered 0..K by the transport; rows show `id + 1` (the MPI rank).
pub type WorkerId = usize;

/// Why the run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Termination {
    /// Every set has a row.
    Complete,
    /// A signal or the user asked to stop.
    Interrupted,
    /// The job's end is too near to start anything more.
    Deadline,
    /// Every worker was lost.
    NoWorkers,
    /// This many evaluations in a row failed (`[compute] max_consecutive_failures`).
    FailureLimit { failures: u32 },
    /// Results could not be written.
    WriteFailed,
}

/// What to do with a finished set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Write its row.
    Record { attempts: u32 },
    /// It failed and has retries left: it was queued again.
    Retry,
}

/// The rules a search asks for.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rules {
    /// A failed set runs again up to this many times before its row is written.
    pub retries: u32,
    /// A Bayesian set waits until every set before it finished (PHS `bayesian_wait_for_all`).
    pub wait_for_all: bool,
    /// This many failed rows in a row, with no successful one between, stop the dispatching
    /// (0: never).
    pub max_consecutive_failures: u32,
}

pub struct Scheduler {
    todo: VecDeque<usize>,
    bayesian: Vec<bool>,
    /// Per worker, the sets handed to it in order; the front is the one being evaluated.
    queues: Vec<VecDeque<usize>>,
    alive: Vec<bool>,
    running: BTreeSet<usize>,
    /// Failed attempts so far, per set (only sets that failed at least once).
    failures: std::collections::HashMap<usize, u32>,
    rules: Rules,
    depth: usize,
    stopped: bool,
    /// Failed rows recorded since the last successful one.
    streak: u32,
    /// Bayesian sets wait for the proposals before them ([`propose_in_turn`]).
    in_turn: bool,
    /// Bayesian sets handed out whose proposal has not arrived yet.
    proposing: BTreeSet<usize>,
}

impl Scheduler {
    /// `todo`: the sets without a row, in order; `bayesian[i]`: set `i` is Bayesian.
    pub fn new(todo: Vec<usize>, bayesian: Vec<bool>, workers: usize, rules: Rules) -> Self {
        Scheduler {
            todo: todo.into(),
            bayesian,
            queues: vec![VecDeque::new(); workers],
            alive: vec![true; workers],
            running: BTreeSet::new(),
            failures: Default::default(),
            rules,
            depth: 1,
            stopped: false,
            streak: 0,
            in_turn: false,
            proposing: BTreeSet::new(),
        }
    }

    /// Whether Bayesian sets wait for the proposals before them from now on.
    pub fn set_in_turn(&mut self, in_turn: bool) {
        self.in_turn = in_turn;
    }

    /// Whether Bayesian sets wait for the proposals before them.
    pub fn in_turn(&self) -> bool {
        self.in_turn
    }

    /// The worker of Bayesian set `index` proposed its values.
    pub fn proposed(&mut self, index: usize) {
        self.proposing.remove(&index);
    }

    /// Alive workers with nothing to do.
    pub fn idle_workers(&self) -> Vec<WorkerId> {
        (0..self.queues.len())
            .filter(|&w| self.alive[w] && self.queues[w].is_empty())
            .collect()
    }

    /// How many plain sets a worker may hold at once (1: none queued behind the running one);
    /// 1 whatever is set here while the last recorded row failed.
    pub fn set_depth(&mut self, depth: usize) {
        self.depth = depth.max(1);
    }

    /// The sets to hand to `worker` now, in order.
    pub fn fill(&mut self, worker: WorkerId) -> Vec<usize> {
        let mut out = Vec::new();
        if self.stopped || !self.alive[worker] {
            return out;
        }
        // After a failed row nothing is queued ahead: a broken objective fails fast, and
        // the sets queued behind it would fail past `max_consecutive_failures` before the
        // stop reaches the worker.
        let depth = if self.streak > 0 { 1 } else { self.depth };
        while self.queues[worker].len() < depth {
            let Some(&next) = self.todo.front() else {
                break;
            };
            if self.bayesian[next] {
                let earlier_running = self.running.first().is_some_and(|&r| r < next);
                let waits = self.in_turn && !self.proposing.is_empty();
                if !self.queues[worker].is_empty()
                    || (self.rules.wait_for_all && earlier_running)
                    || waits
                {
                    break;
                }
            }
            self.todo.pop_front();
            self.queues[worker].push_back(next);
            self.running.insert(next);
            out.push(next);
            if self.bayesian[next] {
                self.proposing.insert(next);
                break;
            }
        }
        out
    }

    /// A set finished on `worker` (`ok`: it did not fail; see `Status::is_failure`). A failure
    /// with retries left is queued again; a recorded failure extends the run of failures,
    /// which stops the dispatching at the limit ([`Scheduler::failure_limit_reached`]).
    pub fn finished(&mut self, worker: WorkerId, index: usize, ok: bool) -> Disposition {
        if let Some(pos) = self.queues[worker].iter().position(|&i| i == index) {
            self.queues[worker].remove(pos);
        }
        self.running.remove(&index);
        self.proposing.remove(&index);
        let failures = self.failures.get(&index).copied().unwrap_or(0);
        if !ok && failures < self.rules.retries && !self.stopped {
            self.failures.insert(index, failures + 1);
            self.todo.push_front(index);
            return Disposition::Retry;
        }
        self.failures.remove(&index);
        self.streak = if ok { 0 } else { self.streak + 1 };
        if self.failure_limit_reached() {
            self.stopped = true;
        }
        Disposition::Record {
            attempts: failures + 1,
        }
    }

    /// Whether the last `max_consecutive_failures` recorded sets all failed.
    pub fn failure_limit_reached(&self) -> bool {
        let limit = self.rules.max_consecutive_failures;
        limit > 0 && self.streak >= limit
    }

    /// A set that was handed out but not evaluated (dropped at a stop, cut off at the end of
    /// the job): it has no row and will run again on resume.
    pub fn unfinished(&mut self, worker: WorkerId, index: usize) {
        if let Some(pos) = self.queues[worker].iter().position(|&i| i == index) {
            self.queues[worker].remove(pos);
        }
        self.proposing.remove(&index);
        if self.running.remove(&index) {
            self.todo.push_front(index);
        }
    }

    /// The worker is gone. Returns the set it was evaluating (a failed attempt, for the caller
    /// to pass to `finished`); the ones queued behind it go back to the front of the line.
    pub fn lost(&mut self, worker: WorkerId) -> Option<usize> {
        self.alive[worker] = false;
        let mut queue = std::mem::take(&mut self.queues[worker]);
        let current = queue.pop_front();
        for &i in queue.iter().rev() {
            self.running.remove(&i);
            self.proposing.remove(&i);
            self.todo.push_front(i);
        }
        if let Some(i) = current {
            self.queues[worker].push_back(i);
        }
        current
    }

    /// No more sets go out; running ones may still finish.
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Nothing runs and nothing more will go out.
    pub fn is_done(&self) -> bool {
        self.running.is_empty()
            && (self.stopped || self.todo.is_empty() || self.alive.iter().all(|a| !a))
    }

    pub fn todo_len(&self) -> usize {
        self.todo.len()
    }

    pub fn alive_workers(&self) -> usize {
        self.alive.iter().filter(|a| **a).count()
    }

    /// The set each worker is evaluating now.
    pub fn current(&self) -> impl Iterator<Item = (WorkerId, usize)> + '_ {
        self.queues
            .iter()
            .enumerate()
            .filter_map(|(w, q)| q.front().map(|&i| (w, i)))
    }

    /// Every set handed out and not finished.
    pub fn running(&self) -> impl Iterator<Item = usize> + '_ {
        self.running.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_out_in_order_with_queue_depth() {
        let mut s = Scheduler::new((0..6).collect(), vec![false; 6], 2, Rules::default());
        s.set_depth(2);
        assert_eq!(s.fill(0), vec![0, 1]);
        assert_eq!(s.fill(1), vec![2, 3]);
        assert_eq!(s.fill(0), Vec::<usize>::new());
        assert_eq!(s.finished(0, 0, true), Disposition::Record { attempts: 1 });
        assert_eq!(s.fill(0), vec![4]);
        for (w, i) in [(0, 1), (1, 2), (1, 3), (0, 4)] {
            s.finished(w, i, true);
        }
        assert!(!s.is_done());
        assert_eq!(s.fill(1), vec![5]);
        s.finished(1, 5, true);
        assert!(s.is_done());
    }

    #[test]
    fn bayesian_sets_go_only_to_idle_workers_and_can_wait_for_all() {
        let bayes = vec![false, false, true, true];
        let mut s = Scheduler::new((0..4).collect(), bayes.clone(), 2, Rules::default());
        s.set_depth(4);
        assert_eq!(s.fill(0), vec![0, 1]);
        assert_eq!(s.fill(1), vec![2]);
        assert_eq!(s.fill(1), Vec::<usize>::new());

        let mut s = Scheduler::new(
            (0..4).collect(),
            bayes,
            2,
            Rules {
                wait_for_all: true,
                ..Rules::default()
            },
        );
        assert_eq!(s.fill(0), vec![0]);
        assert_eq!(s.fill(1), vec![1]);
        s.finished(1, 1, true);
        assert_eq!(s.fill(1), Vec::<usize>::new(), "set 0 still runs");
        s.finished(0, 0, true);
        assert_eq!(s.fill(1), vec![2]);
    }

    #[test]
    fn failures_are_retried_then_recorded() {
        let mut s = Scheduler::new(
            vec![0, 1],
            vec![false; 2],
            1,
            Rules {
                retries: 1,
                ..Rules::default()
            },
        );
        assert_eq!(s.fill(0), vec![0]);
        assert_eq!(s.finished(0, 0, false), Disposition::Retry);
        assert_eq!(s.fill(0), vec![0]);
        assert_eq!(s.finished(0, 0, false), Disposition::Record { attempts: 2 });
        assert_eq!(s.fill(0), vec![1]);
    }

    #[test]
    fn consecutive_failures_stop_the_dispatching_and_a_success_resets_them() {
        let rules = Rules {
            retries: 1,
            max_consecutive_failures: 3,
            ..Rules::default()
        };
        let mut s = Scheduler::new((0..10).collect(), vec![false; 10], 1, rules);
        let run = |s: &mut Scheduler, ok: bool| {
            let i = s.fill(0)[0];
            s.finished(0, i, ok)
        };
        // Two failed rows (each after its retry), a success, then three failed rows.
        for ok in [false, false, false, false, true] {
            run(&mut s, ok);
        }
        assert!(!s.failure_limit_reached() && !s.is_stopped());
        for _ in 0..2 {
            assert_eq!(run(&mut s, false), Disposition::Retry, "a retry is no row");
            run(&mut s, false);
        }
        assert!(!s.is_stopped());
        run(&mut s, false);
        assert_eq!(run(&mut s, false), Disposition::Record { attempts: 2 });
        assert!(s.failure_limit_reached() && s.is_stopped() && s.is_done());
        assert!(s.fill(0).is_empty());
        // 0: never stop.
        let mut s = Scheduler::new((0..20).collect(), vec![false; 20], 1, Rules::default());
        for _ in 0..20 {
            run(&mut s, false);
        }
        assert!(!s.is_stopped() && s.is_done());
    }

    #[test]
    fn nothing_is_queued_ahead_after_a_failed_row() {
        let mut s = Scheduler::new((0..10).collect(), vec![false; 10], 1, Rules::default());
        s.set_depth(3);
        assert_eq!(s.fill(0), vec![0, 1, 2]);
        s.finished(0, 0, false);
        s.finished(0, 1, false);
        assert!(s.fill(0).is_empty(), "set 2 is still held");
        s.finished(0, 2, false);
        assert_eq!(s.fill(0), vec![3]);
        s.finished(0, 3, true);
        assert_eq!(s.fill(0), vec![4, 5, 6], "a success queues ahead again");
    }

    #[test]
    fn a_lost_worker_gives_back_its_queue() {
        let mut s = Scheduler::new((0..4).collect(), vec![false; 4], 2, Rules::default());
        s.set_depth(3);
        assert_eq!(s.fill(0), vec![0, 1, 2]);
        assert_eq!(s.lost(0), Some(0));
        assert_eq!(s.finished(0, 0, false), Disposition::Record { attempts: 1 });
        // Its sets come back in order, one at a time after the failed row.
        assert_eq!(s.fill(1), vec![1]);
        assert!(s.fill(0).is_empty());
        s.finished(1, 1, true);
        assert_eq!(s.fill(1), vec![2, 3]);
    }

    #[test]
    fn stop_lets_running_sets_finish_and_unfinished_ones_return() {
        let mut s = Scheduler::new((0..4).collect(), vec![false; 4], 1, Rules::default());
        s.set_depth(2);
        assert_eq!(s.fill(0), vec![0, 1]);
        s.stop();
        assert!(s.fill(0).is_empty());
        s.finished(0, 0, true);
        assert!(!s.is_done());
        s.unfinished(0, 1);
        assert!(s.is_done());
        assert_eq!(s.todo_len(), 3);
    }

    #[test]
    fn in_turn_a_bayesian_set_waits_for_the_proposal_before_it() {
        let mut s = Scheduler::new((0..4).collect(), vec![true; 4], 3, Rules::default());
        s.set_in_turn(true);
        assert_eq!(s.fill(0), vec![0]);
        assert!(s.fill(1).is_empty(), "set 0's values are not known yet");
        assert_eq!(s.idle_workers(), vec![1, 2]);
        s.proposed(0);
        assert_eq!(s.fill(1), vec![1]);
        // A set that ends without proposing (its worker died) does not hold the others.
        s.unfinished(1, 1);
        assert_eq!(s.fill(2), vec![1]);
        // Together again: no wait.
        s.set_in_turn(false);
        assert_eq!(s.fill(1), vec![2]);
    }

    #[test]
    fn auto_proposes_in_turn_while_waiting_costs_little() {
        use Proposals::*;
        // 4 workers, 50 ms proposals: in turn from 4 s evaluations on (5 %).
        assert!(propose_in_turn(Auto, 4, Some(0.05), Some(4.0)));
        assert!(!propose_in_turn(Auto, 4, Some(0.05), Some(3.9)));
        // A thousand workers with 10-minute evaluations and half-second proposals: together.
        assert!(!propose_in_turn(Auto, 1000, Some(0.5), Some(600.0)));
        assert!(
            !propose_in_turn(Auto, 4, None, Some(600.0)),
            "not measured yet"
        );
        assert!(propose_in_turn(InTurn, 1000, None, None));
        assert!(!propose_in_turn(Together, 1, Some(0.001), Some(600.0)));
    }

    #[test]
    fn every_idle_worker_gets_a_bayesian_set_at_once() {
        let mut s = Scheduler::new((0..6).collect(), vec![true; 6], 4, Rules::default());
        s.set_depth(3);
        for w in 0..4 {
            assert_eq!(s.fill(w), vec![w], "no proposal is awaited");
        }
        assert!(s.fill(0).is_empty(), "one Bayesian set per worker");
        s.finished(2, 2, true);
        assert_eq!(s.fill(2), vec![4]);
    }
}

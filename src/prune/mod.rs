//! Early stopping: the `[pruning]` table and the master's pure decisions on intermediate
//! reports (`median`, `asha`, `hyperband`).
//!
//! An evaluation reports `(step, value)` as it goes (an epoch and its validation score); the
//! master feeds each report, in the order they arrive, to one [`Pruner`], which answers
//! continue or stop. No I/O and no clock: on resume the master replays `curves.csv` through a
//! fresh pruner in file order, which rebuilds the same state, so decisions survive a resume.
//! Values are losses here (smaller is better): the master negates a maximized objective's.
//!
//! Only the latest attempt of a set counts: a report under a newer attempt (the set runs again
//! after a crash or a retry) first takes back everything the older attempt contributed; a
//! report under an older attempt is ignored. A step that does not grow past the set's last one
//! is recorded by the master but judged by no rule. A non-finite value is the worst possible:
//! a rule that judges that step stops the set.
//!
//! For the Bayesian model, the pruner also keeps each set's *ladder*: its value at the steps
//! `min_step * eta^k` below `max_step` (the value of its first report at or past each, as a
//! rung takes it), whatever the rule. ASHA's and Hyperband's rungs are all on it, so sets of
//! every bracket are compared at the same steps. [`Pruner::ladder`] hands it out.
//!
//! A leaf: it imports nothing from the rest of the crate.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Finished-or-running sets a step needs before `median` judges anything there (Optuna's
/// `n_startup_trials` default).
pub const MEDIAN_STARTUP_SETS: usize = 5;

/// A rule's name in `[pruning] rule`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleName {
    /// Stop a set whose best value so far is worse than the median of the other sets' values
    /// at the same step.
    Median,
    /// Asynchronous successive halving: rungs at `min_step * eta^k`.
    Asha,
    /// ASHA brackets with different first rungs, sets assigned to brackets as Hyperband does.
    Hyperband,
}

/// The `[pruning]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PruningOptions {
    pub rule: RuleName,
    /// The first rung; no decision before this step (the warm-up).
    #[serde(default = "one")]
    pub min_step: u64,
    /// The full budget of one set: no rung at or past it. Required by `hyperband`.
    #[serde(default)]
    pub max_step: Option<u64>,
    /// ASHA's and Hyperband's `eta`: a rung keeps its best `1/eta`.
    #[serde(default = "three")]
    pub reduction_factor: u64,
    /// The objective output the reported values are of, judged in its direction: required
    /// with several `[[objective.outputs]]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

fn one() -> u64 {
    1
}

fn three() -> u64 {
    3
}

impl PruningOptions {
    /// What is wrong with the table, naming the key: `Err((key, problem))`.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.min_step == 0 {
            return Err(("pruning.min_step", "must be at least 1".into()));
        }
        if self.reduction_factor < 2 {
            return Err((
                "pruning.reduction_factor",
                format!("is {}; it must be at least 2", self.reduction_factor),
            ));
        }
        match self.max_step {
            Some(max) if max <= self.min_step => Err((
                "pruning.max_step",
                format!(
                    "is {max}; it must be greater than min_step ({})",
                    self.min_step
                ),
            )),
            None if self.rule == RuleName::Hyperband => Err((
                "pruning.max_step",
                "is required by rule = \"hyperband\" (its brackets span min_step..max_step)".into(),
            )),
            _ => Ok(()),
        }
    }

    /// How many Hyperband brackets: `floor(log_eta(max_step / min_step)) + 1`.
    pub fn brackets(&self) -> usize {
        let Some(max) = self.max_step else { return 1 };
        let mut n = 1;
        let mut rung = self.min_step.saturating_mul(self.reduction_factor);
        while rung <= max {
            n += 1;
            rung = rung.saturating_mul(self.reduction_factor);
        }
        n
    }
}

/// The answer to a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Continue,
    Stop,
}

/// Where a set's value went, so a newer attempt can take it back.
#[derive(Clone, Copy, Debug)]
enum Place {
    /// `median`: the values at a step.
    Step(u64),
    /// `asha`/`hyperband`: rung `k` of bracket `b`.
    Rung(usize, usize),
}

/// Values at one step or rung, by set, and sorted (non-finite ones are never kept).
#[derive(Debug, Default)]
struct Level {
    sorted: Vec<f64>,
}

impl Level {
    fn insert(&mut self, v: f64) {
        let at = self.sorted.partition_point(|x| *x < v);
        self.sorted.insert(at, v);
    }

    fn remove(&mut self, v: f64) {
        let at = self.sorted.partition_point(|x| *x < v);
        if self.sorted.get(at) == Some(&v) {
            self.sorted.remove(at);
        }
    }

    fn median(&self) -> f64 {
        let n = self.sorted.len();
        if n % 2 == 1 {
            self.sorted[n / 2]
        } else {
            0.5 * (self.sorted[n / 2 - 1] + self.sorted[n / 2])
        }
    }
}

/// One set's latest attempt.
#[derive(Debug, Default)]
struct SetState {
    attempt: u32,
    last_step: Option<u64>,
    best: f64,
    /// The next rung to reach (`asha`/`hyperband`).
    next_rung: usize,
    stopped: bool,
    placed: Vec<(Place, f64)>,
    /// `(step, loss)` at each ladder step reached so far.
    ladder: Vec<(u64, f64)>,
}

/// The decisions of one experiment's `[pruning]` rule (none: every report is recorded by the
/// master and the answer is always continue).
#[derive(Debug)]
pub struct Pruner {
    options: Option<PruningOptions>,
    sets: HashMap<usize, SetState>,
    steps: HashMap<u64, Level>,
    /// Per bracket, its rungs (one bracket unless `hyperband`).
    rungs: Vec<Vec<Level>>,
    /// Per bracket, its share of the sets (`hyperband`): Hyperband's configurations per
    /// bracket.
    weights: Vec<u64>,
}

impl Pruner {
    pub fn new(options: Option<PruningOptions>) -> Pruner {
        let brackets = match &options {
            Some(o) if o.rule == RuleName::Hyperband => o.brackets(),
            _ => 1,
        };
        let eta = options.as_ref().map_or(3, |o| o.reduction_factor) as f64;
        // Optuna's and Hyperband's allocation: bracket b (s = brackets - 1 - b halvings)
        // starts ceil(brackets * eta^s / (s + 1)) sets.
        let weights = (0..brackets)
            .map(|b| {
                let s = (brackets - 1 - b) as i32;
                (brackets as f64 * eta.powi(s) / (s + 1) as f64).ceil() as u64
            })
            .collect();
        Pruner {
            options,
            sets: HashMap::new(),
            steps: HashMap::new(),
            rungs: (0..brackets).map(|_| Vec::new()).collect(),
            weights,
        }
    }

    /// The bracket of set `index` (0 unless `hyperband`): a fixed function of the index, so a
    /// resumed run assigns the same.
    pub fn bracket(&self, index: usize) -> usize {
        let total: u64 = self.weights.iter().sum();
        if self.weights.len() <= 1 || total == 0 {
            return 0;
        }
        let mut z = (index as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let mut pick = (z ^ (z >> 31)) % total;
        for (b, w) in self.weights.iter().enumerate() {
            if pick < *w {
                return b;
            }
            pick -= w;
        }
        0
    }

    /// The step of rung `k` of bracket `b`, or `None` past the last rung (at or after
    /// `max_step`).
    pub fn rung_step(&self, b: usize, k: usize) -> Option<u64> {
        let o = self.options.as_ref()?;
        let mut step = o.min_step;
        for _ in 0..(b + k) {
            step = step.checked_mul(o.reduction_factor)?;
        }
        match o.max_step {
            Some(max) if step >= max => None,
            _ => Some(step),
        }
    }

    /// Step `k` of the ladder, `min_step * eta^k`, or `None` past its end (at or after
    /// `max_step`) and without a rule.
    fn ladder_step(&self, k: usize) -> Option<u64> {
        self.rung_step(0, k)
    }

    /// Set `index`'s value (a loss) at each ladder step it reached, in its `attempt`; empty
    /// when that is not its latest attempt, or without a rule.
    pub fn ladder(&self, index: usize, attempt: u32) -> &[(u64, f64)] {
        match self.sets.get(&index) {
            Some(state) if state.attempt == attempt => &state.ladder,
            _ => &[],
        }
    }

    /// Judges one report of set `index` (its `attempt`) at `step`, its value as a loss.
    pub fn report(&mut self, index: usize, attempt: u32, step: u64, loss: f64) -> Verdict {
        let mut state = self.sets.remove(&index).unwrap_or_else(|| SetState {
            attempt,
            best: f64::INFINITY,
            ..SetState::default()
        });
        if attempt > state.attempt {
            self.take_back(&state);
            state = SetState {
                attempt,
                best: f64::INFINITY,
                ..SetState::default()
            };
        }
        let verdict = if attempt < state.attempt {
            Verdict::Continue
        } else if state.stopped {
            Verdict::Stop
        } else if state.last_step.is_some_and(|last| step <= last) {
            Verdict::Continue
        } else {
            state.last_step = Some(step);
            let loss = if loss.is_nan() { f64::INFINITY } else { loss };
            state.best = state.best.min(loss);
            while let Some(at) = self.ladder_step(state.ladder.len()) {
                if step < at {
                    break;
                }
                state.ladder.push((at, loss));
            }
            let v = self.judge(index, &mut state, step, loss);
            state.stopped = v == Verdict::Stop;
            v
        };
        self.sets.insert(index, state);
        verdict
    }

    /// Takes back what an older attempt placed.
    fn take_back(&mut self, state: &SetState) {
        for (place, v) in &state.placed {
            match *place {
                Place::Step(s) => {
                    if let Some(level) = self.steps.get_mut(&s) {
                        level.remove(*v);
                    }
                }
                Place::Rung(b, k) => {
                    if let Some(level) = self.rungs.get_mut(b).and_then(|r| r.get_mut(k)) {
                        level.remove(*v);
                    }
                }
            }
        }
    }

    fn judge(&mut self, index: usize, state: &mut SetState, step: u64, loss: f64) -> Verdict {
        let Some((rule, min_step, eta)) = self
            .options
            .as_ref()
            .map(|o| (o.rule, o.min_step, o.reduction_factor as usize))
        else {
            return Verdict::Continue;
        };
        match rule {
            RuleName::Median => {
                let level = self.steps.entry(step).or_default();
                // Judged against the others' values at this step, before its own joins them.
                let stop = step >= min_step
                    && level.sorted.len() >= MEDIAN_STARTUP_SETS
                    && (!loss.is_finite() || state.best > level.median());
                if loss.is_finite() {
                    level.insert(loss);
                    state.placed.push((Place::Step(step), loss));
                }
                if stop {
                    Verdict::Stop
                } else {
                    Verdict::Continue
                }
            }
            RuleName::Asha | RuleName::Hyperband => {
                let b = self.bracket(index);
                while let Some(rung) = self.rung_step(b, state.next_rung) {
                    if step < rung {
                        break;
                    }
                    if !loss.is_finite() {
                        return Verdict::Stop;
                    }
                    let k = state.next_rung;
                    let rungs = &mut self.rungs[b];
                    if rungs.len() <= k {
                        rungs.resize_with(k + 1, Level::default);
                    }
                    let level = &mut rungs[k];
                    level.insert(loss);
                    state.placed.push((Place::Rung(b, k), loss));
                    // Promotable: among the best `len / eta` values of the rung so far (the
                    // best one while fewer than `eta` sets reached it, as Optuna does).
                    let keep = (level.sorted.len() / eta).max(1);
                    if loss > level.sorted[keep - 1] {
                        return Verdict::Stop;
                    }
                    state.next_rung += 1;
                }
                Verdict::Continue
            }
        }
    }
}

#[cfg(test)]
mod tests;

//! Proposing the values of a Bayesian set: the one entry point the worker calls.
//!
//! `suggest` is a pure function of (observed points, pending points, dimensions, options,
//! seed): the same inputs give the same point (one seeded ChaCha generator, no hash-map
//! iteration, no threads). It minimizes; the caller negates the results of a maximizing
//! experiment.
//!
//! What it is given: the caller fits on finished rows that ended well and whose Bayesian
//! columns lie inside the bounds (see `space::encode`); failed evaluations are excluded by the
//! caller and never reach this module. Points whose result or coordinates are not finite
//! numbers are dropped here too, so a NaN never reaches the model.
//!
//! Steps, each in a file of its own:
//! 1. (`model.rs`) Map points to the model's unit cube (`encoding.rs`); pass the results
//!    through a Yeo-Johnson power transform (`warp.rs`) and normalize them.
//! 2. (`model.rs`) Fit the Gaussian process hyperparameters (`crate::gp::fit`, on a subsample
//!    when there are many points) and condition it on every observed point (one Cholesky);
//!    past `Scale::exact_up_to` observed and pending points, on a subset of them, with the
//!    pending points nearest the best (`subset.rs`).
//! 3. (`pending.rs`) Pending points (sets still running) are added with believed results: the
//!    model's mean (kriging believer), or the min/mean/max of the observed results (constant
//!    liar), by a block extension of the factor; or ignored. Either way a proposal never
//!    repeats an observed or pending point after rounding.
//! 4. (`maximize.rs`) Maximize the acquisition (log expected improvement, `ei.rs`, or the
//!    lower confidence bound `mean - kappa sd`): a global pass over quasi-random candidates
//!    (`qmc.rs`) plus perturbations of the best points, all taken to valid final values before
//!    they are scored, then projected L-BFGS on the continuous coordinates of the best few,
//!    rounded again and re-scored.
//! 5. The best candidate that repeats no known point; or, for a set that holds slot `k > 0`
//!    among the proposals under way at this moment, point `k` of a spread batch of the
//!    candidates (`spread.rs`, `suggest_among`), so workers proposing together differ.
//!
//! The options (`options.rs`) were checked when the configuration was parsed: nothing here
//! checks them again.
//!
//! Without any finished result, `space_filling` draws the point.
//!
//! Constraints ([`suggest_constrained`], `feasibility.rs`): a model per constrained output;
//! the acquisition is log EI plus the log probability that every constraint holds, with the
//! incumbent taken among feasible points only; while no point is feasible, the probability
//! alone. Without constraints nothing of this runs: the same inputs give the same point as
//! `suggest`.
//!
//! Several objectives: the caller either scalarizes them (ParEGO, `parego.rs`) and asks for
//! one, or calls [`suggest_objectives`] for one model per objective and the expected
//! improvement of the scalarization (`scalarized.rs`), constraints included.

mod ei;
mod encoding;
mod feasibility;
mod maximize;
mod model;
pub(crate) mod options;
pub mod parego;
mod pending;
mod qmc;
mod scalarized;
mod spread;
mod subset;
mod warp;

pub use options::{Acquisition, BayesOptions, MultiObjective, PendingRule, Proposals};
pub use scalarized::Objectives;
pub use subset::Scale;

use crate::space::Dim;
use encoding::{Encoder, key};
use maximize::{Rule, Scorer};
use model::PriorMean;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeSet;
use std::time::Instant;

/// What the suggestion is asked: points are in the dimensions' own units (a categorical
/// dimension as the position of its choice).
#[derive(Clone, Debug)]
pub struct Problem<'a> {
    pub dims: &'a [Dim],
    pub observed_x: &'a [Vec<f64>],
    /// Results to minimize, one per observed point.
    pub observed_y: &'a [f64],
    /// Points of sets still running, whose results are not known yet.
    pub pending: &'a [Vec<f64>],
}

/// A constrained output of the observed points: `values` (one per observed point, in
/// the dimensions' order of `Problem::observed_x`) must lie within `min..=max`.
#[derive(Clone, Debug, PartialEq)]
pub struct Constraint<'a> {
    pub values: &'a [f64],
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl Constraint<'_> {
    fn holds(&self, i: usize) -> bool {
        let v = self.values[i];
        self.min.is_none_or(|m| v >= m) && self.max.is_none_or(|m| v <= m)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Suggestion {
    pub x: Vec<f64>,
    /// Said in the results row (e.g. why the model was not used).
    pub note: String,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SuggestError {
    #[error("observed points have {got} coordinates, the problem has {expected} dimensions")]
    Dimension { expected: usize, got: usize },
    #[error("{points} observed points but {results} results")]
    Length { points: usize, results: usize },
    #[error("{points} observed points but {values} values of a constraint")]
    ConstraintLength { points: usize, values: usize },
    #[error("{points} observed points but {losses} losses of the objectives")]
    ObjectivesLength { points: usize, losses: usize },
    #[error("an observed point has {got} losses, the objectives have {expected} weights")]
    ObjectivesWidth { expected: usize, got: usize },
}

/// The conditional dimensions of a problem: which dimensions may be inactive (their coordinate
/// is then NaN, in observed and pending points and in the suggestion), and which are inactive
/// at a given point. The model gives each conditional dimension an indicator column and a
/// fixed value where it is inactive (see `encoding.rs`); candidates are masked before they
/// are scored, so no effort goes into a dimension the candidate does not use.
pub struct Conditions<'a> {
    /// Per dimension: whether it may be inactive.
    pub conditional: Vec<bool>,
    /// Per dimension, whether it is active at a point (own units, every coordinate given).
    pub active: &'a dyn Fn(&[f64]) -> Vec<bool>,
}

/// Proposes the next point of a problem with conditional dimensions; the suggestion's
/// coordinates are NaN where it is inactive.
pub fn suggest_conditional(
    problem: &Problem,
    conditions: &Conditions,
    options: &BayesOptions,
    seed: u64,
) -> Result<Suggestion, SuggestError> {
    let shape = Shape {
        constraints: &[],
        objectives: None,
        conditions: Some(conditions),
    };
    suggest_one(
        problem,
        shape,
        options,
        seed,
        (&Scale::default(), 0),
        &mut Report::default(),
    )
}

/// Proposes the next point to evaluate.
pub fn suggest(
    problem: &Problem,
    options: &BayesOptions,
    seed: u64,
) -> Result<Suggestion, SuggestError> {
    suggest_with_report(problem, options, seed).map(|(s, _)| s)
}

/// Where the time of one suggestion went (wall clock; for benchmarks and logs only, it never
/// influences the result).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Hyperparameter fit (all optimizer starts).
    pub fit_s: f64,
    /// Conditioning on all points (and pending ones): the Cholesky factorizations.
    pub model_s: f64,
    /// Candidate scoring and gradient refinement.
    pub acquisition_s: f64,
    /// Points the hyperparameters were fitted on.
    pub fit_points: usize,
    /// Likelihood evaluations of the fit.
    pub fit_evals: usize,
    /// Candidates of the global pass, and how many of them got an exact variance.
    pub candidates: usize,
    pub exact_scored: usize,
}

/// `suggest`, also saying where the time went.
pub fn suggest_with_report(
    problem: &Problem,
    options: &BayesOptions,
    seed: u64,
) -> Result<(Suggestion, Report), SuggestError> {
    suggest_scaled(problem, options, seed, &Scale::default(), 0)
}

/// The suggestion of a worker whose set holds slot `blind` among the proposals under way at
/// this moment (their values not known yet): the `blind`-th point of a spread batch from its
/// candidates rather than the best one (`spread.rs`); `blind = 0` is `suggest`.
pub fn suggest_among(
    problem: &Problem,
    options: &BayesOptions,
    seed: u64,
    blind: usize,
) -> Result<Suggestion, SuggestError> {
    suggest_scaled(problem, options, seed, &Scale::default(), blind).map(|(s, _)| s)
}

/// `suggest_among` with the large-history model's threshold and sizes given, saying where the
/// time went (benchmarks compare the exact model with the subset one on the same histories).
pub fn suggest_scaled(
    problem: &Problem,
    options: &BayesOptions,
    seed: u64,
    scale: &Scale,
    blind: usize,
) -> Result<(Suggestion, Report), SuggestError> {
    let mut report = Report::default();
    let s = suggest_one(
        problem,
        Shape::default(),
        options,
        seed,
        (scale, blind),
        &mut report,
    )?;
    Ok((s, report))
}

/// `count` points from one model: points `blind .. blind + count` of the spread batch of
/// `suggest_among` (for a caller that hands out several points per fit). Where the candidates
/// run out, or there is no model yet, the rest are seeded space-filling draws.
pub fn suggest_batch(
    problem: &Problem,
    options: &BayesOptions,
    seed: u64,
    scale: &Scale,
    blind: usize,
    count: usize,
) -> Result<(Vec<Suggestion>, Report), SuggestError> {
    let mut report = Report::default();
    let mut s = suggest_inner(
        problem,
        Shape::default(),
        options,
        seed,
        (scale, blind, count),
        &mut report,
    )?;
    let mut k = 0u64;
    while s.len() < count {
        k += 1;
        s.push(fallback(
            problem.dims,
            seed.wrapping_add(k.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        ));
    }
    Ok((s, report))
}

fn fallback(dims: &[Dim], seed: u64) -> Suggestion {
    Suggestion {
        x: space_filling(dims, seed),
        note: "space-filling draw".into(),
    }
}

/// The general suggestion: subject to `constraints` (expected improvement over the best
/// feasible point, weighted by the probability that the point is feasible; see the module
/// documentation), on a problem with conditional dimensions when `conditions` says so, with
/// `blind` other proposals under way as in [`suggest_among`]. With none of these it is
/// [`suggest`].
pub fn suggest_constrained(
    problem: &Problem,
    constraints: &[Constraint],
    conditions: Option<&Conditions>,
    options: &BayesOptions,
    seed: u64,
    blind: usize,
) -> Result<Suggestion, SuggestError> {
    check_constraints(problem, constraints)?;
    let shape = Shape {
        constraints,
        objectives: None,
        conditions,
    };
    suggest_one(
        problem,
        shape,
        options,
        seed,
        (&Scale::default(), blind),
        &mut Report::default(),
    )
}

/// Proposes a point for several objectives with one model per objective (`scalarized.rs`):
/// `problem.observed_y` are the points' scalarized values under `objectives.weights` (the
/// global pass searches around the best of them), `objectives.losses` the objectives' own;
/// subject to `constraints` and on a problem with conditional dimensions as in
/// [`suggest_constrained`].
pub fn suggest_objectives(
    problem: &Problem,
    objectives: &Objectives,
    constraints: &[Constraint],
    conditions: Option<&Conditions>,
    options: &BayesOptions,
    seed: u64,
) -> Result<Suggestion, SuggestError> {
    check_constraints(problem, constraints)?;
    if objectives.losses.len() != problem.observed_x.len() {
        return Err(SuggestError::ObjectivesLength {
            points: problem.observed_x.len(),
            losses: objectives.losses.len(),
        });
    }
    let k = objectives.weights.len();
    if let Some(l) = objectives.losses.iter().find(|l| l.len() != k) {
        return Err(SuggestError::ObjectivesWidth {
            expected: k,
            got: l.len(),
        });
    }
    let shape = Shape {
        constraints,
        objectives: Some(objectives),
        conditions,
    };
    suggest_one(
        problem,
        shape,
        options,
        seed,
        (&Scale::default(), 0),
        &mut Report::default(),
    )
}

/// What a problem has beyond points and results (a plain `suggest` has none of it).
#[derive(Clone, Copy, Default)]
struct Shape<'a> {
    constraints: &'a [Constraint<'a>],
    objectives: Option<&'a Objectives<'a>>,
    conditions: Option<&'a Conditions<'a>>,
}

/// One suggestion: the first point `suggest_inner` gives (a seeded space-filling draw if none).
fn suggest_one(
    problem: &Problem,
    shape: Shape,
    options: &BayesOptions,
    seed: u64,
    (scale, blind): (&Scale, usize),
    report: &mut Report,
) -> Result<Suggestion, SuggestError> {
    let s = suggest_inner(problem, shape, options, seed, (scale, blind, 1), report)?;
    Ok(s.into_iter()
        .next()
        .unwrap_or_else(|| fallback(problem.dims, seed)))
}

/// One value of each constraint per observed point.
fn check_constraints(problem: &Problem, constraints: &[Constraint]) -> Result<(), SuggestError> {
    match constraints
        .iter()
        .find(|c| c.values.len() != problem.observed_x.len())
    {
        Some(c) => Err(SuggestError::ConstraintLength {
            points: problem.observed_x.len(),
            values: c.values.len(),
        }),
        None => Ok(()),
    }
}

/// The four steps of the module documentation, in order, after the checks and the cases
/// without a model. The public entry points each fix some of the shape; this one function
/// serves them all.
fn suggest_inner(
    problem: &Problem,
    shape: Shape,
    options: &BayesOptions,
    seed: u64,
    (scale, blind, count): (&Scale, usize, usize),
    report: &mut Report,
) -> Result<Vec<Suggestion>, SuggestError> {
    let Shape {
        constraints,
        objectives,
        conditions,
    } = shape;
    check(problem)?;
    let dims = problem.dims;
    if dims.is_empty() {
        return Ok(vec![Suggestion {
            x: Vec::new(),
            note: "no Bayesian dimension".into(),
        }]);
    }
    let enc = Encoder::with_conditions(dims, conditions);
    // Results that are not numbers (and points with non-numeric coordinates, but for an
    // inactive conditional one) carry no information the model can use.
    let used: Vec<usize> = (0..problem.observed_y.len())
        .filter(|&i| problem.observed_y[i].is_finite() && enc.usable(&problem.observed_x[i]))
        .filter(|&i| constraints.iter().all(|c| c.values[i].is_finite()))
        .filter(|&i| objectives.is_none_or(|o| o.losses[i].iter().all(|v| v.is_finite())))
        .collect();
    let pending: Vec<&Vec<f64>> = problem.pending.iter().filter(|x| enc.usable(x)).collect();
    let taken: BTreeSet<Vec<u64>> = used
        .iter()
        .map(|&i| &problem.observed_x[i])
        .chain(pending.iter().copied())
        .map(|x| key(&enc.finish(x)))
        .collect();
    if used.is_empty() {
        let skipped = problem.observed_y.len();
        let mut note = "no finished results yet: space-filling draw".to_string();
        if skipped > 0 {
            note = format!("no usable results ({skipped} not finite): space-filling draw");
        }
        return Ok(vec![Suggestion {
            x: distinct_draw(&enc, dims, &taken, seed),
            note,
        }]);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    if let Some(objectives) = objectives {
        let ctx = Context {
            problem,
            enc: &enc,
            used: &used,
            pending: &pending,
            taken: &taken,
        };
        // One proposal per model fit: each set draws its own weights, so sets proposed at
        // once pursue different trade-offs (the slot is not used).
        return Ok(vec![suggest_per_objective(
            &ctx,
            objectives,
            constraints,
            options,
            seed,
            &mut rng,
            report,
        )]);
    }

    // 1. and 2.: the model on every observed point, or on a subset of a large history.
    let (x, y) = model::inputs(problem, &enc, &used);
    let pending_total = pending.len();
    // `modelled[k]`: the observed point behind the model's k-th point.
    let (x, y, pending, note_subset, modelled) = if used.len() + pending.len() > scale.exact_up_to {
        let (x, y, pending, note, keep) = subset::restrict(x, y, pending, &enc, scale, &mut rng);
        (x, y, pending, note, keep.iter().map(|&k| used[k]).collect())
    } else {
        (x, y, pending, String::new(), used.clone())
    };
    let (fit, model, clock) =
        model::fit_and_condition(x, y, PriorMean::objective(enc.width()), &mut rng, report);
    let model = match model {
        Ok(m) => m,
        Err(e) => {
            return Ok(vec![Suggestion {
                x: distinct_draw(&enc, dims, &taken, seed),
                note: format!("model not usable ({e}): space-filling draw"),
            }]);
        }
    };
    let mut best = model::incumbent(&model);
    // Constraints: their models, and the incumbent among the feasible points only.
    let mut feasible_note = String::new();
    let feasibility = match constraints.is_empty() {
        true => None,
        false => feasibility::fit(problem, constraints, &enc, &modelled, &mut rng),
    };
    if let Some(models) = &feasibility {
        let means = model.fitted_means();
        let feasible: Vec<usize> = (0..modelled.len())
            .filter(|&k| constraints.iter().all(|c| c.holds(modelled[k])))
            .collect();
        best = feasible
            .iter()
            .map(|&k| means[k])
            .filter(|v| v.is_finite())
            .fold(f64::INFINITY, f64::min);
        feasible_note = format!(
            ", {} constraint model(s), {} of {} points feasible",
            models.len(),
            feasible.len(),
            modelled.len()
        );
    }

    // 3. Pending points with believed results.
    let (model, note_pending) = pending::add(model, &pending, &enc, options.pending);
    report.model_s = clock.elapsed().as_secs_f64();

    // 4. The acquisition's maximum over valid final points.
    let clock = Instant::now();
    let score = Scorer {
        model: &model,
        acquisition: match options.acquisition {
            Acquisition::Ei => Rule::Ei,
            Acquisition::Lcb => Rule::Lcb(options.kappa),
        },
        best,
        feasibility: feasibility.as_deref(),
        objectives: None,
    };
    let pool = maximize::maximize(&score, &enc, problem, &used, &taken, &mut rng, report);
    report.acquisition_s = clock.elapsed().as_secs_f64();

    let summary = format!(
        "gp: {} points{note_subset}, {} pending ({}), hyperparameters fitted on {}{note_pending}{feasible_note}",
        used.len(),
        pending_total,
        options.pending.as_str(),
        fit.points
    );
    // `ignore`: running points, known or not, are none of the model's business.
    let blind = match options.pending {
        PendingRule::Ignore => 0,
        _ => blind,
    };
    if blind == 0 && count == 1 {
        let name = acquisition_name(options.acquisition);
        return Ok(vec![choose(&pool, &taken, name, summary, &enc, seed)]);
    }
    let name = acquisition_name(options.acquisition);
    let length = &model.hyper().length;
    let batch = spread::batch(&pool, &taken, &enc, length, blind, count);
    if batch.is_empty() {
        return Ok(vec![Suggestion {
            x: distinct_draw(&enc, dims, &taken, seed),
            note: format!(
                "{summary}, slot {blind} of the proposals under way, more than the distinct candidates: space-filling draw"
            ),
        }]);
    }
    Ok(batch
        .into_iter()
        .enumerate()
        .map(|(k, (v, f))| Suggestion {
            x: f.clone(),
            note: format!(
                "{summary}, slot {blind} of the proposals under way: point {} of a spread batch, {name} {v:.4}",
                blind + k
            ),
        })
        .collect())
}

/// What a suggestion has worked out before its models: the points the models use.
struct Context<'a> {
    problem: &'a Problem<'a>,
    enc: &'a Encoder<'a>,
    used: &'a [usize],
    pending: &'a [&'a Vec<f64>],
    taken: &'a BTreeSet<Vec<u64>>,
}

/// Steps 1 to 4 with one model per objective and the expected improvement of the
/// scalarization (`scalarized.rs`); constraints as in `suggest_inner`.
fn suggest_per_objective(
    ctx: &Context,
    objectives: &Objectives,
    constraints: &[Constraint],
    options: &BayesOptions,
    seed: u64,
    rng: &mut ChaCha8Rng,
    report: &mut Report,
) -> Suggestion {
    let (problem, enc, used) = (ctx.problem, ctx.enc, ctx.used);
    let clock = Instant::now();
    let feasible = |i: usize| constraints.iter().all(|c| c.holds(i));
    let fitted = scalarized::fit(
        problem,
        objectives,
        enc,
        used,
        &feasible,
        ctx.pending,
        options.pending,
        rng,
        report,
    );
    let (outputs, note_pending) = match fitted {
        Ok(f) => f,
        Err(e) => {
            return Suggestion {
                x: distinct_draw(enc, problem.dims, ctx.taken, seed),
                note: format!("model not usable ({e}): space-filling draw"),
            };
        }
    };
    // Constraints: their models; the improvement (over the best feasible point) counts once
    // a point is feasible.
    let mut best = 0.0;
    let mut feasible_note = String::new();
    let feasibility = match constraints.is_empty() {
        true => None,
        false => feasibility::fit(problem, constraints, enc, used, rng),
    };
    if let Some(models) = &feasibility {
        let feasible = used.iter().filter(|&&i| feasible(i)).count();
        if feasible == 0 {
            best = f64::INFINITY;
        }
        feasible_note = format!(
            ", {} constraint model(s), {feasible} of {} points feasible",
            models.len(),
            used.len()
        );
    }
    report.model_s = clock.elapsed().as_secs_f64();
    let clock = Instant::now();
    let score = Scorer {
        model: outputs.first(),
        // Not used: `objectives` scores.
        acquisition: Rule::Ei,
        best,
        feasibility: feasibility.as_deref(),
        objectives: Some(&outputs),
    };
    let pool = maximize::maximize(&score, enc, problem, used, ctx.taken, rng, report);
    report.acquisition_s = clock.elapsed().as_secs_f64();
    let summary = format!(
        "gp per objective ({}): {} points, {} pending ({}){note_pending}{feasible_note}",
        objectives.weights.len(),
        used.len(),
        ctx.pending.len(),
        options.pending.as_str(),
    );
    choose(&pool, ctx.taken, "scalarized-log-ei", summary, enc, seed)
}

/// Points of the right dimension, one result per observed point.
fn check(problem: &Problem) -> Result<(), SuggestError> {
    let d = problem.dims.len();
    if let Some(x) = problem
        .observed_x
        .iter()
        .chain(problem.pending)
        .find(|x| x.len() != d)
    {
        return Err(SuggestError::Dimension {
            expected: d,
            got: x.len(),
        });
    }
    if problem.observed_x.len() != problem.observed_y.len() {
        return Err(SuggestError::Length {
            points: problem.observed_x.len(),
            results: problem.observed_y.len(),
        });
    }
    Ok(())
}

/// The best scored candidate that is not a known point, with the note for its row.
fn choose(
    pool: &[(f64, Vec<f64>)],
    taken: &BTreeSet<Vec<u64>>,
    name: &str,
    summary: String,
    enc: &Encoder,
    seed: u64,
) -> Suggestion {
    match pool.iter().find(|(_, f)| !taken.contains(&key(f))) {
        Some((v, f)) => Suggestion {
            x: f.clone(),
            note: format!("{summary}, {name} {v:.4}"),
        },
        None => {
            // Every candidate repeats a known point: the space is (nearly) exhausted.
            let x = pool
                .first()
                .map(|p| p.1.clone())
                .unwrap_or_else(|| enc.mask(space_filling(enc.dims(), seed)));
            Suggestion {
                x,
                note: format!("{summary}; every candidate repeats an evaluated point"),
            }
        }
    }
}

fn acquisition_name(acquisition: Acquisition) -> &'static str {
    match acquisition {
        Acquisition::Ei => "log-ei",
        Acquisition::Lcb => "lcb",
    }
}

/// A space-filling draw that avoids known points when it can (a few seeded redraws).
fn distinct_draw(enc: &Encoder, dims: &[Dim], taken: &BTreeSet<Vec<u64>>, seed: u64) -> Vec<f64> {
    let first = enc.mask(enc.finish(&space_filling(dims, seed)));
    let mut x = first.clone();
    for k in 1..64u64 {
        if !taken.contains(&key(&x)) {
            return x;
        }
        x = enc.mask(enc.finish(&space_filling(
            dims,
            seed.wrapping_add(k.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        )));
    }
    first
}

/// A seeded draw used before any result exists.
pub fn space_filling(dims: &[Dim], seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    dims.iter()
        .map(|d| match d {
            Dim::Real(r) => r.point_at_unit(rng.random()),
            Dim::Categorical(n) => rng.random_range(0..(*n).max(1)) as f64,
        })
        .collect()
}

#[cfg(test)]
mod tests;

//! A discrete-event simulation of a large pool: the real scheduler (`schedule::Scheduler`)
//! and the real suggestion engine (`acquisition::suggest_batch`) on a virtual clock, for
//! 1,024 and 4,096 workers, up to 20,000 evaluations of Ackley (d = 10) lasting 1-30 minutes
//! (truncated Pareto, shape 1.1: heavy-tailed).
//!
//! The clock advances by what the computer really spends: the master's scheduler calls and
//! the building of each task's pending list are timed as they run and serialize (one master),
//! and each Bayesian proposal costs its worker the time of its suggestion. The first set of
//! each worker is random; every later set is Bayesian, proposed at its dispatch from the
//! history and pending points the master knows then (a proposal still being computed counts
//! as under way, `blind`), taking the point of its slot, as the master assigns them: the lowest
//! one no proposal under way holds.
//!
//! Computing every suggestion (about 0.6 s each at these sizes) would take hours here, so
//! only one dispatch in `--stride` (default 40) runs the engine, for real, and asks it for a
//! spread batch of `stride` points from that one model; the next dispatches take the next
//! points of that batch. Their cost on the clock comes from a cost model fitted to the measured
//! suggestions (the median measured time in the same bin of observed plus pending points).
//! The output says how many were computed. A real pool computes every suggestion from a fresh
//! model, with more information, so the regret here is if anything pessimistic.
//!
//! `OPENBLAS_NUM_THREADS=1 cargo bench --bench pool_sim [-- --quick] [-- --stride N]
//! [-- --workers K]` (K workers only).
//! Prints Markdown.

mod common;

use hpo::acquisition::Proposals;
use hpo::acquisition::{BayesOptions, Problem, Scale, suggest_batch};
use hpo::objective::builtin::Builtin;
use hpo::schedule::{IN_TURN_SHARE, Rules, Scheduler, propose_in_turn};
use hpo::space::Dim;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Instant;

const D: usize = 10;
const F: Builtin = Builtin::Ackley;
/// Evaluation time bounds (seconds) and the Pareto shape.
const SHORTEST: f64 = 60.0;
const LONGEST: f64 = 1800.0;
const SHAPE: f64 = 1.1;

/// Virtual time in microseconds (integers keep the event heap totally ordered).
type Micros = u64;

fn micros(s: f64) -> Micros {
    (s * 1e6).round() as Micros
}

fn duration(rng: &mut ChaCha8Rng) -> f64 {
    loop {
        let u: f64 = rng.random::<f64>().max(1e-12);
        let d = SHORTEST / u.powf(1.0 / SHAPE);
        if d <= LONGEST {
            return d;
        }
    }
}

fn dims() -> Vec<Dim> {
    common::real_dims(D, |i| F.domain(i))
}

/// Suggestion cost against observed plus pending points: bins growing by a quarter.
#[derive(Default)]
struct CostModel {
    bins: std::collections::BTreeMap<i64, Vec<f64>>,
}

impl CostModel {
    fn bin(size: usize) -> i64 {
        ((size.max(1) as f64).ln() / 1.25f64.ln()).floor() as i64
    }
    fn add(&mut self, size: usize, s: f64) {
        self.bins.entry(Self::bin(size)).or_default().push(s);
    }
    /// The median of the nearest bin with measurements.
    fn predict(&self, size: usize) -> f64 {
        let b = Self::bin(size);
        let nearest = self
            .bins
            .iter()
            .min_by_key(|(k, _)| (**k - b).abs())
            .map(|(_, v)| v.clone());
        nearest.map_or(0.0, |mut v| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        })
    }
}

/// One measured suggestion.
struct Sample {
    n: usize,
    pending: usize,
    blind: usize,
    seconds: f64,
}

struct Outcome {
    workers: usize,
    evals: usize,
    computed: usize,
    timed: usize,
    wait_s: f64,
    busy_s: f64,
    master_s: f64,
    virtual_s: f64,
    max_blind: usize,
    /// Every proposal's time, computed or timed, summed.
    propose_s: f64,
    proposals: usize,
    samples: Vec<Sample>,
    /// Best result after each evaluation, in completion order.
    best: Vec<f64>,
    wall_s: f64,
}

fn simulate(workers: usize, evals: usize, stride: usize, seed: u64) -> Outcome {
    let wall = Instant::now();
    let dims = dims();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let bayesian: Vec<bool> = (0..evals).map(|i| i >= workers).collect();
    let mut sched = Scheduler::new(
        (0..evals).collect(),
        bayesian.clone(),
        workers,
        Rules::default(),
    );
    let mut point: Vec<Vec<f64>> = vec![Vec::new(); evals];
    // When each set's values reach the master (its proposal, or its dispatch for random sets).
    let mut known_at: Vec<Micros> = vec![Micros::MAX; evals];
    // Each Bayesian set's slot among the proposals under way at its dispatch (`Task::slot`).
    let mut slot: Vec<usize> = vec![0; evals];
    let (mut xs, mut ys): (Vec<Vec<f64>>, Vec<f64>) = (Vec::new(), Vec::new());
    let mut best = Vec::with_capacity(evals);
    let mut events: BinaryHeap<Reverse<(Micros, usize, usize)>> = BinaryHeap::new();
    let mut master_free: Micros = 0;
    let mut cache: VecDeque<Vec<f64>> = VecDeque::new();
    let mut cost = CostModel::default();
    let mut out = Outcome {
        workers,
        evals,
        computed: 0,
        timed: 0,
        wait_s: 0.0,
        busy_s: 0.0,
        master_s: 0.0,
        virtual_s: 0.0,
        max_blind: 0,
        propose_s: 0.0,
        proposals: 0,
        samples: Vec::new(),
        best: Vec::new(),
        wall_s: 0.0,
    };
    // Every worker says it is ready at time 0; afterwards each finished set is an event.
    let mut ready: Vec<(Micros, usize, Option<usize>)> =
        (0..workers).map(|w| (0, w, None)).collect();
    loop {
        let (t, w, done) = match ready.pop() {
            Some(r) => r,
            None => match events.pop() {
                Some(Reverse((t, w, index))) => (t, w, Some(index)),
                None => break,
            },
        };
        let clock = Instant::now();
        if let Some(index) = done {
            sched.finished(w, index, true);
            let y = F.eval(&point[index]);
            best.push(best.last().map_or(y, |b: &f64| b.min(y)));
            xs.push(point[index].clone());
            ys.push(y);
        }
        let sets = sched.fill(w);
        let Some(&index) = sets.first() else {
            continue;
        };
        let now = t.max(master_free);
        // The task's pending list, as the master builds it: every running set, with its
        // values when they are known.
        let (mut pending, mut blind) = (Vec::new(), 0);
        let mut held = std::collections::BTreeSet::new();
        if bayesian[index] {
            for i in sched.running().filter(|&i| i != index) {
                if known_at[i] <= now {
                    pending.push(point[i].clone());
                } else {
                    blind += 1;
                    held.insert(slot[i]);
                }
            }
            // The master's slot: the lowest one no proposal under way holds.
            slot[index] = (0..).find(|s| !held.contains(s)).unwrap_or(0);
        }
        let handled = clock.elapsed().as_secs_f64();
        out.master_s += handled;
        let dispatched = now + micros(handled);
        master_free = dispatched;
        // The worker's proposal.
        let propose_s = if bayesian[index] {
            out.max_blind = out.max_blind.max(blind);
            let size = xs.len() + pending.len();
            match cache.pop_front() {
                Some(x) => {
                    point[index] = x;
                    out.timed += 1;
                    cost.predict(size)
                }
                None => {
                    let problem = Problem {
                        dims: &dims,
                        observed_x: &xs,
                        observed_y: &ys,
                        pending: &pending,
                    };
                    let opts = BayesOptions::default();
                    let clock = Instant::now();
                    let (batch, _) = suggest_batch(
                        &problem,
                        &opts,
                        index as u64,
                        &Scale::default(),
                        slot[index],
                        stride,
                    )
                    .expect("valid problem");
                    let s = clock.elapsed().as_secs_f64();
                    cost.add(size, s);
                    out.samples.push(Sample {
                        n: xs.len(),
                        pending: pending.len(),
                        blind,
                        seconds: s,
                    });
                    out.computed += 1;
                    let mut batch = batch.into_iter().map(|s| s.x);
                    point[index] = batch.next().unwrap_or_default();
                    cache.extend(batch);
                    s
                }
            }
        } else {
            point[index] = common::uniform_point(D, |i| F.domain(i), &mut rng);
            0.0
        };
        if bayesian[index] {
            out.propose_s += propose_s;
            out.proposals += 1;
        }
        let starts = dispatched + micros(propose_s);
        known_at[index] = starts;
        let eval_s = duration(&mut rng);
        out.wait_s += (starts - t) as f64 / 1e6;
        out.busy_s += eval_s;
        events.push(Reverse((starts + micros(eval_s), w, index)));
        out.virtual_s = out.virtual_s.max((starts + micros(eval_s)) as f64 / 1e6);
    }
    out.best = best;
    out.wall_s = wall.elapsed().as_secs_f64();
    out
}

/// The best of `count` uniform points, for each count of `at`.
fn random_search(at: &[usize], seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED);
    let mut best = f64::INFINITY;
    let mut out = Vec::new();
    let last = at.iter().copied().max().unwrap_or(0);
    for k in 1..=last {
        best = best.min(F.eval(&common::uniform_point(D, |i| F.domain(i), &mut rng)));
        if at.contains(&k) {
            out.push(best);
        }
    }
    out
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "{cpu}, {cores} cores, load average at the start {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    )
}

fn report(o: &Outcome, seed: u64) {
    println!(
        "\n### {} workers, {} evaluations\n\n- computed suggestions: {} (the engine ran), timed from the cost model: {}; wall time of the simulation {:.0} s\n- worker time waiting for a proposal: **{:.3} %** ({:.0} s of {:.0} s busy; the master's time, serialized, {:.3} s in all)\n- virtual makespan {:.1} h; most proposals under way at one dispatch: {}",
        o.workers,
        o.evals,
        o.computed,
        o.timed,
        o.wall_s,
        100.0 * o.wait_s / (o.wait_s + o.busy_s),
        o.wait_s,
        o.wait_s + o.busy_s,
        o.master_s,
        o.virtual_s / 3600.0,
        o.max_blind,
    );
    // What `[bayesian] proposals = "auto"` would choose from these means (this simulation
    // proposes together throughout).
    let p = o.propose_s / o.proposals.max(1) as f64;
    let e = o.busy_s / o.evals.max(1) as f64;
    let in_turn = propose_in_turn(Proposals::Auto, o.workers, Some(p), Some(e));
    println!(
        "- `proposals = \"auto\"` on these means (a proposal {p:.3} s, an evaluation {e:.0} s): {} ({} workers × {p:.3} s = {:.0} s against {:.0} % of an evaluation, {:.0} s)",
        if in_turn { "in turn" } else { "together" },
        o.workers,
        o.workers as f64 * p,
        100.0 * IN_TURN_SHARE,
        IN_TURN_SHARE * e,
    );
    println!("\nSuggestion latency (computed suggestions), by observed points n:\n");
    println!(
        "| n | suggestions | seconds, median [max] | pending, median [max] | under way, median [max] |"
    );
    println!("|---|---|---|---|---|");
    let edges = [0usize, 1000, 2000, 5000, 10_000, 15_000, 20_001];
    for w in edges.windows(2) {
        let s: Vec<&Sample> = o
            .samples
            .iter()
            .filter(|s| (w[0]..w[1]).contains(&s.n))
            .collect();
        if s.is_empty() {
            continue;
        }
        let mm = |f: &dyn Fn(&Sample) -> f64| {
            let mut v: Vec<f64> = s.iter().map(|x| f(x)).collect();
            v.sort_by(f64::total_cmp);
            (v[v.len() / 2], v[v.len() - 1])
        };
        let (t, tm) = mm(&|x| x.seconds);
        let (p, pm) = mm(&|x| x.pending as f64);
        let (b, bm) = mm(&|x| x.blind as f64);
        println!(
            "| {}-{} | {} | {t:.3} [{tm:.3}] | {p:.0} [{pm:.0}] | {b:.0} [{bm:.0}] |",
            w[0],
            w[1] - 1,
            s.len()
        );
    }
    let mut at: Vec<usize> = [o.workers, 2 * o.workers, 5000, 10_000, o.best.len()]
        .into_iter()
        .filter(|&k| k <= o.best.len())
        .collect();
    at.sort_unstable();
    at.dedup();
    let random = random_search(&at, seed);
    println!(
        "\nRegret (Ackley d = 10, minimum 0), best after k evaluations, against random search with the same k:\n"
    );
    println!("| k | pool | random search |");
    println!("|---|---|---|");
    for (k, r) in at.iter().zip(random) {
        println!("| {k} | {:.3} | {r:.3} |", o.best[k - 1]);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let stride = args
        .iter()
        .position(|a| a == "--stride")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(40usize);
    let workers: Option<usize> = args
        .iter()
        .position(|a| a == "--workers")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok());
    let runs: Vec<(usize, usize)> = match (quick, workers) {
        (true, _) => vec![(256, 2000)],
        (false, Some(k)) => vec![(k, 20_000)],
        (false, None) => vec![(1024, 20_000), (4096, 20_000)],
    };
    println!("## Pool simulation (`benches/pool_sim.rs`)\n");
    println!("Machine: {}.", machine());
    println!(
        "One suggestion in {stride} computed by the engine (a spread batch of {stride} points from its model); the others take the next points of that batch and are timed from the cost model."
    );
    for (workers, evals) in runs {
        let o = simulate(workers, evals, stride, 1);
        report(&o, 1);
    }
}

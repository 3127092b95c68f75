//! Several objectives as one, ParEGO's way (Knowles 2006): each proposal draws its own weights
//! on the simplex (seeded, so a set's proposal is reproducible) and minimizes the augmented
//! Chebyshev scalarization of the objectives, each first scaled to `[0, 1]` over the observed
//! points. Different weights for different proposals spread the search along the Pareto front;
//! each scalarized problem is an ordinary single-objective suggestion (its model, pending
//! points and acquisition).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Weight of the sum term that makes the scalarization strictly monotone (ParEGO's 0.05).
pub(super) const RHO: f64 = 0.05;

/// Weights drawn uniformly on the simplex of `k` objectives for the proposal with `seed`.
pub fn weights(k: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5041_5245_474f_5753);
    let e: Vec<f64> = (0..k)
        .map(|_| -rng.random::<f64>().max(1e-300).ln())
        .collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|v| v / sum).collect()
}

/// The scalarized value of each observed point: `losses[i]` are point `i`'s objectives as
/// values to minimize (all of one length, finite), `weights` from [`weights`].
pub fn chebyshev(losses: &[Vec<f64>], weights: &[f64]) -> Vec<f64> {
    let k = weights.len();
    let lo: Vec<f64> = (0..k)
        .map(|j| losses.iter().map(|l| l[j]).fold(f64::INFINITY, f64::min))
        .collect();
    let hi: Vec<f64> = (0..k)
        .map(|j| {
            losses
                .iter()
                .map(|l| l[j])
                .fold(f64::NEG_INFINITY, f64::max)
        })
        .collect();
    losses
        .iter()
        .map(|l| {
            let scaled = (0..k).map(|j| {
                let span = hi[j] - lo[j];
                let u = if span > 0.0 {
                    (l[j] - lo[j]) / span
                } else {
                    0.0
                };
                weights[j] * u
            });
            let (max, sum) = scaled.fold((f64::NEG_INFINITY, 0.0), |(m, s), v| (m.max(v), s + v));
            max + RHO * sum
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_lie_on_the_simplex_and_depend_on_the_seed_only() {
        let w = weights(3, 7);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12 && w.iter().all(|v| *v > 0.0));
        assert_eq!(w, weights(3, 7));
        assert_ne!(w, weights(3, 8));
    }

    #[test]
    fn a_dominated_point_never_scalarizes_below_the_point_that_dominates_it() {
        let losses = vec![
            vec![0.0, 1.0],
            vec![1.0, 0.0],
            vec![0.5, 0.5],
            vec![0.6, 0.7],
        ];
        for seed in 0..20 {
            let w = weights(2, seed);
            let s = chebyshev(&losses, &w);
            assert!(s[3] > s[2], "{w:?} {s:?}");
        }
        // Weight on the first objective only: the point best at it wins.
        let s = chebyshev(&losses, &[1.0, 0.0]);
        assert_eq!(
            s.iter()
                .enumerate()
                .min_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i),
            Some(0)
        );
    }
}

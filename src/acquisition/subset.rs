//! The model of a large history: past `Scale::exact_up_to` observed and pending points, the
//! process is
//! conditioned on a subset of them instead of all, and only the pending points near the
//! subset's best points enter it as fantasies.
//!
//! An exact model costs `O(n^3)` to condition and `O(n^2)` per scored candidate (d = 10:
//! about 1 s at n = 2,000, minutes at n = 10,000); the subset keeps both bounded whatever the
//! history. What the acquisition needs from the model is (a) the shape near the best results,
//! where expected improvement is high, and (b) enough coverage elsewhere to know where the
//! function is poor. So the subset is, in equal parts: the lowest results; the nearest
//! neighbours of the best point (a trust region around the incumbent); and a seeded uniform
//! sample of the rest (space-filling in proportion to where the search has been). Pending
//! points are ranked by their distance to the nearest of the lowest results and the nearest
//! few are kept: a fantasy far from every good point barely moves the acquisition, while one
//! near them is what keeps parallel workers apart. Every observed and pending point still
//! counts as taken, so no proposal repeats one.
//!
//! Below the threshold nothing here runs: the suggestion is the exact one, bit for bit.

use super::encoding::Encoder;
use ndarray::{Array2, ArrayView2};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// When the model is conditioned on a subset, and how large the subset is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scale {
    /// Histories of at most this many usable points, pending ones included, get the exact
    /// model on all of them.
    pub exact_up_to: usize,
    /// Points of the subset past the threshold (a third lowest results, a third nearest the
    /// incumbent, a third sampled from the rest).
    pub subset: usize,
    /// Pending points that enter the subset model as fantasies, at most.
    pub pending: usize,
}

impl Default for Scale {
    /// Measured with `cargo bench --bench bo_scale` (d = 10): the exact model costs about
    /// 0.26 s at n = 1,000 and 1.1 s at 2,000; a 600-point subset with 300 fantasies about
    /// 0.2 s whatever n, so the switch at 1,000 never makes a suggestion slower.
    fn default() -> Self {
        Scale {
            exact_up_to: 1000,
            subset: 600,
            pending: 300,
        }
    }
}

/// The model's inputs `(x, y)` (every usable observed point) and the pending points cut down
/// to the subset, with the note for the row.
/// The model's points (encoded), their values, the pending points kept, a note for the row,
/// and which of the given rows were kept (increasing).
pub(super) type Restricted<'p> = (Array2<f64>, Vec<f64>, Vec<&'p Vec<f64>>, String, Vec<usize>);

pub(super) fn restrict<'p>(
    x: Array2<f64>,
    y: Vec<f64>,
    pending: Vec<&'p Vec<f64>>,
    enc: &Encoder,
    scale: &Scale,
    rng: &mut ChaCha8Rng,
) -> Restricted<'p> {
    let keep = rows(x.view(), &y, scale, rng);
    let xs = x.select(ndarray::Axis(0), &keep);
    let ys: Vec<f64> = keep.iter().map(|&i| y[i]).collect();
    let mut xp = Array2::<f64>::zeros((pending.len(), enc.width()));
    for (row, p) in pending.iter().enumerate() {
        if let Some(r) = xp.row_mut(row).as_slice_mut() {
            enc.encode(p, r);
        }
    }
    let mut lowest: Vec<usize> = (0..ys.len()).collect();
    lowest.sort_by(|&a, &b| ys[a].total_cmp(&ys[b]).then(a.cmp(&b)));
    lowest.truncate((scale.subset / 3).max(1));
    let near = pending_rows(xp.view(), xs.view(), &lowest, scale);
    let note = format!(
        " (model on a subset of {}, {} of the pending)",
        keep.len(),
        near.len()
    );
    let pending = near.iter().map(|&q| pending[q]).collect();
    (xs, ys, pending, note, keep)
}

/// Rows of `x` (unit cube, one per observed point) to condition on, in increasing order, given
/// their normalized results `y`.
pub(super) fn rows(
    x: ArrayView2<f64>,
    y: &[f64],
    scale: &Scale,
    rng: &mut ChaCha8Rng,
) -> Vec<usize> {
    let n = y.len();
    let m = scale.subset.max(3);
    if n <= m {
        return (0..n).collect();
    }
    let mut chosen = vec![false; n];
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| y[a].total_cmp(&y[b]).then(a.cmp(&b)));
    for &i in order.iter().take(m / 3) {
        chosen[i] = true;
    }
    // Trust region: the nearest neighbours of the incumbent not already in.
    let best = order[0];
    let mut near: Vec<(f64, usize)> = (0..n)
        .filter(|&i| !chosen[i])
        .map(|i| (sq_dist(x.row(i).as_slice(), x.row(best).as_slice()), i))
        .collect();
    near.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    for &(_, i) in near.iter().take(m / 3) {
        chosen[i] = true;
    }
    // The rest of the budget: a seeded uniform sample of the points not yet chosen.
    let mut rest: Vec<usize> = (0..n).filter(|&i| !chosen[i]).collect();
    let take = (m - chosen.iter().filter(|c| **c).count()).min(rest.len());
    for k in 0..take {
        let j = rng.random_range(k..rest.len());
        rest.swap(k, j);
        chosen[rest[k]] = true;
    }
    (0..n).filter(|&i| chosen[i]).collect()
}

/// The pending points (rows of `xp`) nearest the lowest results among `x`'s rows `best`, at
/// most `scale.pending` of them, in increasing order.
pub(super) fn pending_rows(
    xp: ArrayView2<f64>,
    x: ArrayView2<f64>,
    best: &[usize],
    scale: &Scale,
) -> Vec<usize> {
    let p = xp.nrows();
    if p <= scale.pending {
        return (0..p).collect();
    }
    let mut near: Vec<(f64, usize)> = (0..p)
        .map(|q| {
            let d = best
                .iter()
                .map(|&i| sq_dist(xp.row(q).as_slice(), x.row(i).as_slice()))
                .fold(f64::INFINITY, f64::min);
            (d, q)
        })
        .collect();
    near.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut keep: Vec<usize> = near.iter().take(scale.pending).map(|&(_, q)| q).collect();
    keep.sort_unstable();
    keep
}

fn sq_dist(a: Option<&[f64]>, b: Option<&[f64]>) -> f64 {
    match (a, b) {
        (Some(a), Some(b)) => a.iter().zip(b).map(|(u, v)| (u - v) * (u - v)).sum(),
        _ => f64::INFINITY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn the_subset_holds_the_best_their_neighbours_and_a_sample() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let n = 400;
        let x = Array2::from_shape_fn((n, 2), |_| rng.random::<f64>());
        // Lowest results near (0.5, 0.5).
        let y: Vec<f64> = (0..n)
            .map(|i| (x[[i, 0]] - 0.5).powi(2) + (x[[i, 1]] - 0.5).powi(2))
            .collect();
        let scale = Scale {
            exact_up_to: 100,
            subset: 90,
            pending: 10,
        };
        let rows = rows(x.view(), &y, &scale, &mut rng);
        assert_eq!(rows.len(), 90);
        assert!(rows.windows(2).all(|w| w[0] < w[1]), "increasing, distinct");
        let best = (0..n).min_by(|&a, &b| y[a].total_cmp(&y[b])).unwrap();
        assert!(rows.contains(&best));
        // A third of the subset is sampled from anywhere: some points are far from the best.
        assert!(
            rows.iter().any(|&i| y[i] > 0.2),
            "space-filling part missing"
        );

        let xp = Array2::from_shape_fn((40, 2), |(q, _)| if q < 20 { 0.5 } else { 0.99 });
        let mut lowest: Vec<usize> = (0..n).collect();
        lowest.sort_by(|&a, &b| y[a].total_cmp(&y[b]));
        let keep = pending_rows(xp.view(), x.view(), &lowest[..5], &scale);
        assert_eq!(keep.len(), 10);
        assert!(
            keep.iter().all(|&q| q < 20),
            "the pending points near the best: {keep:?}"
        );
    }
}

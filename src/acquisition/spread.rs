//! Proposals made at the same time by several workers: a worker that knows `blind` other
//! Bayesian sets are being proposed right now (their values not known yet) takes the
//! `blind`-th point of a well-spread batch drawn from its own scored candidates, instead of
//! the best one, which the others are about to propose too. The same batch serves a caller
//! that wants several points from one model (`suggest_batch`).
//!
//! Workers proposing at once have (nearly) the same history, so their models and their
//! ranked candidates nearly agree; each one's `blind` is the number of proposals handed out
//! before it and still unknown, so they take different ranks of the same batch. The batch is
//! greedy: the best candidate, then repeatedly the best one at least `radius` length scales
//! away from every point taken so far (a fantasy there would collapse the variance around it,
//! as kriging believer does for known pending points). When the candidates run out at one
//! radius, the radius halves; a seeded space-filling draw is the last resort.

use super::encoding::{Encoder, key};
use std::collections::BTreeSet;

/// Distance between batch points, in length scales, before it halves.
const RADIUS: f64 = 0.5;
/// Halvings of the radius before falling back to a space-filling draw.
const HALVINGS: usize = 6;

/// Points `from .. from + count` (0: the best) of the spread batch taken from `pool` (scored
/// candidates, best first), skipping known points; fewer when the pool runs out.
pub(super) fn batch<'a>(
    pool: &'a [(f64, Vec<f64>)],
    taken: &BTreeSet<Vec<u64>>,
    enc: &Encoder,
    length: &[f64],
    from: usize,
    count: usize,
) -> Vec<&'a (f64, Vec<f64>)> {
    let blind = from + count.max(1) - 1;
    let width = enc.width();
    let mut seen = BTreeSet::new();
    // Distinct new candidates, best first, with their scaled unit coordinates.
    let fresh: Vec<(usize, Vec<f64>)> = pool
        .iter()
        .enumerate()
        .filter(|(_, (_, f))| !taken.contains(&key(f)) && seen.insert(key(f)))
        .map(|(i, (_, f))| {
            let mut u = vec![0.0; width];
            enc.encode(f, &mut u);
            for (v, l) in u.iter_mut().zip(length) {
                *v /= l.max(1e-12);
            }
            (i, u)
        })
        .collect();
    let mut out = Vec::with_capacity(count);
    if from >= fresh.len() {
        return out;
    }
    let mut batch: Vec<usize> = Vec::with_capacity(blind + 1);
    let mut in_batch = vec![false; fresh.len()];
    let mut radius = RADIUS;
    for _ in 0..=HALVINGS {
        let r2 = radius * radius;
        for c in 0..fresh.len() {
            if in_batch[c] {
                continue;
            }
            let far = batch
                .iter()
                .all(|&b| sq_dist(&fresh[b].1, &fresh[c].1) >= r2);
            if far {
                batch.push(c);
                in_batch[c] = true;
                if batch.len() > from {
                    out.extend(pool.get(fresh[c].0));
                }
                if batch.len() > blind {
                    return out;
                }
            }
        }
        radius /= 2.0;
    }
    out
}

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(u, v)| (u - v) * (u - v)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::{Dim, Range};

    #[test]
    fn ranks_of_a_spread_batch() {
        let dims = vec![Dim::Real(Range {
            lo: 0.0,
            hi: 1.0,
            log: false,
            round: None,
            integer: false,
        })];
        let enc = Encoder::new(&dims);
        // Best first: three candidates crowded at 0.5, then 0.9, 0.1 and 0.52.
        let pool: Vec<(f64, Vec<f64>)> = [0.5, 0.501, 0.502, 0.9, 0.1]
            .iter()
            .enumerate()
            .map(|(i, &x)| (-(i as f64), vec![x]))
            .collect();
        let taken = BTreeSet::new();
        let at = |blind| {
            batch(&pool, &taken, &enc, &[0.5], blind, 1)
                .first()
                .map(|p| p.1[0])
        };
        assert_eq!(at(0), Some(0.5));
        assert_eq!(at(1), Some(0.9), "the crowd at 0.5 is skipped");
        assert_eq!(at(2), Some(0.1));
        // Points closer than the last halving of the radius never join: the caller draws a
        // space-filling point instead of one next to another worker's.
        assert_eq!(at(3), None);
        let xs: Vec<f64> = batch(&pool, &BTreeSet::new(), &enc, &[0.5], 1, 5)
            .iter()
            .map(|p| p.1[0])
            .collect();
        assert_eq!(
            xs,
            vec![0.9, 0.1],
            "a batch from rank 1, as far as the pool goes"
        );
        // A taken point is never part of the batch.
        let taken: BTreeSet<Vec<u64>> = [key(&[0.5]), key(&[0.9])].into_iter().collect();
        assert_eq!(
            batch(&pool, &taken, &enc, &[0.5], 0, 1)
                .first()
                .map(|p| p.1[0]),
            Some(0.501)
        );
        assert_eq!(
            batch(&pool, &taken, &enc, &[0.5], 1, 1)
                .first()
                .map(|p| p.1[0]),
            Some(0.1)
        );
    }
}

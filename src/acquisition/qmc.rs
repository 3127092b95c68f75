//! Quasi-random points for the global pass over the acquisition: a Halton sequence with a
//! seeded random shift per coordinate (Cranley-Patterson rotation) and a seeded start index,
//! so different seeds give different, still evenly spread, candidate sets.

use rand::Rng;

fn primes(count: usize) -> Vec<u64> {
    let mut out = Vec::with_capacity(count);
    let mut c = 2u64;
    while out.len() < count {
        if out
            .iter()
            .take_while(|&&p| p * p <= c)
            .all(|&p| !c.is_multiple_of(p))
        {
            out.push(c);
        }
        c += 1;
    }
    out
}

fn radical_inverse(base: u64, mut i: u64) -> f64 {
    let inv = 1.0 / base as f64;
    let mut f = inv;
    let mut r = 0.0;
    while i > 0 {
        r += (i % base) as f64 * f;
        i /= base;
        f *= inv;
    }
    r
}

/// `count` points of `[0, 1)^dims`.
pub fn shifted_halton(count: usize, dims: usize, rng: &mut impl Rng) -> Vec<Vec<f64>> {
    let bases = primes(dims);
    let shift: Vec<f64> = (0..dims).map(|_| rng.random::<f64>()).collect();
    let start = rng.random_range(1..1u64 << 20);
    (0..count as u64)
        .map(|i| {
            bases
                .iter()
                .zip(&shift)
                .map(|(&b, &s)| {
                    let v = radical_inverse(b, start + i) + s;
                    v - v.floor()
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn covers_the_cube_evenly() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let pts = shifted_halton(1000, 3, &mut rng);
        for k in 0..3 {
            let below = pts.iter().filter(|p| p[k] < 0.5).count();
            assert!((480..=520).contains(&below), "{below}");
            assert!(pts.iter().all(|p| (0.0..1.0).contains(&p[k])));
        }
    }
}

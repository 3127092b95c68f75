use super::fit::{Pairs, neg_lml};
use super::*;
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn data(n: usize, d: usize, seed: u64) -> (Array2<f64>, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, d), |_| rng.random::<f64>());
    let y = x
        .rows()
        .into_iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .map(|(k, v)| ((k + 1) as f64 * 3.0 * v).sin())
                .sum()
        })
        .collect();
    (x, y)
}

#[test]
fn likelihood_gradient_matches_finite_differences() {
    let (x, y) = data(15, 3, 1);
    let pairs = Pairs::new(x.view());
    let theta = vec![
        (0.3f64).ln(),
        (0.7f64).ln(),
        (1.5f64).ln(),
        (1.2f64).ln(),
        (1e-3f64).ln(),
    ];
    let mut g = vec![0.0; theta.len()];
    let f0 = neg_lml(&theta, &pairs, &y, &mut g);
    assert!(f0.is_finite());
    let mut scratch = vec![0.0; theta.len()];
    for k in 0..theta.len() {
        let h = 1e-5;
        let mut tp = theta.clone();
        tp[k] += h;
        let mut tm = theta.clone();
        tm[k] -= h;
        let fd = (neg_lml(&tp, &pairs, &y, &mut scratch) - neg_lml(&tm, &pairs, &y, &mut scratch))
            / (2.0 * h);
        assert!(
            (fd - g[k]).abs() < 1e-5 * (1.0 + fd.abs()),
            "param {k}: analytic {} fd {fd}",
            g[k]
        );
    }
}

#[test]
fn prediction_gradients_match_finite_differences() {
    let (x, y) = data(12, 3, 2);
    let hyper = Hyper {
        length: vec![0.4, 0.6, 0.9],
        signal: 1.3,
        noise: 1e-4,
    };
    let gp = Gp::new(x, y, hyper).unwrap();
    let p = [0.31, 0.77, 0.12];
    let pred = gp.predict_grad(&p);
    for k in 0..3 {
        let h = 1e-6;
        let mut a = p;
        a[k] += h;
        let mut b = p;
        b[k] -= h;
        let (pa, pb) = (gp.predict_grad(&a), gp.predict_grad(&b));
        let dm = (pa.mean - pb.mean) / (2.0 * h);
        let dv = (pa.var - pb.var) / (2.0 * h);
        assert!(
            (dm - pred.dmean[k]).abs() < 1e-5 * (1.0 + dm.abs()),
            "mean {k}: {} vs {dm}",
            pred.dmean[k]
        );
        assert!(
            (dv - pred.dvar[k]).abs() < 1e-5 * (1.0 + dv.abs()),
            "var {k}: {} vs {dv}",
            pred.dvar[k]
        );
    }
    // The batch prediction agrees with the single-point one.
    let (m, v) = gp.predict(ndarray::arr2(&[p]).view());
    assert!((m[0] - pred.mean).abs() < 1e-10 && (v[0] - pred.var).abs() < 1e-10);
}

#[test]
fn interpolates_noise_free_data() {
    let (x, y) = data(20, 2, 3);
    let hyper = Hyper {
        length: vec![0.3, 0.3],
        signal: 1.0,
        noise: 1e-8,
    };
    let gp = Gp::new(x.clone(), y.clone(), hyper).unwrap();
    let (m, v) = gp.predict(x.view());
    for i in 0..20 {
        assert!((m[i] - y[i]).abs() < 1e-4, "{} vs {}", m[i], y[i]);
        assert!(v[i] < 1e-4);
    }
}

#[test]
fn fit_improves_likelihood_and_is_deterministic() {
    let (x, y) = data(30, 2, 4);
    let mean = y.iter().sum::<f64>() / 30.0;
    let sd = (y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 30.0).sqrt();
    let y: Vec<f64> = y.iter().map(|v| (v - mean) / sd).collect();
    let opts = FitOptions::default();
    let a = fit(x.view(), &y, &opts, &mut ChaCha8Rng::seed_from_u64(5));
    let b = fit(x.view(), &y, &opts, &mut ChaCha8Rng::seed_from_u64(5));
    assert_eq!(a.hyper, b.hyper);
    let pairs = Pairs::new(x.view());
    let mut g = vec![0.0; 4];
    let at_default = neg_lml(&Hyper::default_for(2).to_theta(), &pairs, &y, &mut g);
    assert!(a.neg_lml < at_default, "{} !< {at_default}", a.neg_lml);
}

#[test]
fn singular_inputs_survive() {
    // Duplicated points, tiny noise.
    let x = ndarray::arr2(&[[0.5, 0.5], [0.5, 0.5], [0.5, 0.5], [0.1, 0.9]]);
    let hyper = Hyper {
        length: vec![0.3, 0.3],
        signal: 1.0,
        noise: 1e-12,
    };
    let gp = Gp::new(x.clone(), vec![1.0, 1.0, 1.0, -1.0], hyper.clone()).unwrap();
    assert!(gp.predict_grad(&[0.4, 0.4]).mean.is_finite());
    // Extending with a point equal to an existing one.
    let gp2 = gp
        .extend(ndarray::arr2(&[[0.1, 0.9]]).view(), &[0.0])
        .unwrap();
    assert!(gp2.predict_grad(&[0.1, 0.8]).var.is_finite());
    // Constant targets and a single point: the fit returns usable defaults.
    let f = fit(
        x.view(),
        &[0.0; 4],
        &FitOptions::default(),
        &mut ChaCha8Rng::seed_from_u64(1),
    );
    assert_eq!(f.hyper, Hyper::default_for(2));
    let one = Gp::new(
        ndarray::arr2(&[[0.2, 0.2]]),
        vec![0.0],
        Hyper::default_for(2),
    )
    .unwrap();
    assert!(one.predict_grad(&[0.9, 0.9]).var > 0.5);
    assert_eq!(
        Gp::new(Array2::zeros((0, 2)), vec![], Hyper::default_for(2)).err(),
        Some(GpError::Empty)
    );
}

#[test]
fn extension_equals_refit_on_all_points() {
    let (x, y) = data(10, 2, 6);
    let hyper = Hyper {
        length: vec![0.4, 0.5],
        signal: 1.0,
        noise: 1e-5,
    };
    let base = Gp::new(
        x.slice(ndarray::s![..7, ..]).to_owned(),
        y[..7].to_vec(),
        hyper.clone(),
    )
    .unwrap();
    let ext = base.extend(x.slice(ndarray::s![7.., ..]), &y[7..]).unwrap();
    let full = Gp::new(x, y, hyper).unwrap();
    let p = [0.3, 0.6];
    let (a, b) = (ext.predict_grad(&p), full.predict_grad(&p));
    assert!((a.mean - b.mean).abs() < 1e-8 && (a.var - b.var).abs() < 1e-8);
}

#[test]
fn fitted_means_are_the_posterior_mean_at_the_data() {
    let (x, y) = data(20, 3, 7);
    let hyper = Hyper {
        length: vec![0.4, 0.5, 0.6],
        signal: 1.1,
        noise: 0.05,
    };
    let gp = Gp::new(x.clone(), y, hyper).expect("model");
    let (m, _) = gp.predict(x.view());
    for (a, b) in gp.fitted_means().iter().zip(&m) {
        assert!((a - b).abs() < 1e-8, "{a} vs {b}");
    }
}

#[test]
fn noisy_start_never_loses_likelihood() {
    // A rugged function: a smooth trend plus fast ripples.
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let x = Array2::from_shape_fn((40, 4), |_| rng.random::<f64>());
    let y: Vec<f64> = x
        .rows()
        .into_iter()
        .map(|r| {
            r.iter()
                .map(|v| 4.0 * (v - 0.5).powi(2) + 0.4 * (40.0 * v).cos())
                .sum()
        })
        .collect();
    let mean = y.iter().sum::<f64>() / 40.0;
    let sd = (y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 40.0).sqrt();
    let y: Vec<f64> = y.iter().map(|v| (v - mean) / sd).collect();
    let plain = FitOptions::default();
    let noisy = FitOptions {
        noisy_start: 3e-2,
        ..FitOptions::default()
    };
    let a = fit(x.view(), &y, &plain, &mut ChaCha8Rng::seed_from_u64(3));
    let b = fit(x.view(), &y, &noisy, &mut ChaCha8Rng::seed_from_u64(3));
    let c = fit(x.view(), &y, &noisy, &mut ChaCha8Rng::seed_from_u64(3));
    assert!(b.neg_lml <= a.neg_lml, "{} > {}", b.neg_lml, a.neg_lml);
    assert_eq!(b.hyper, c.hyper);
    assert!(b.hyper.noise >= 1e-8 && b.hyper.noise <= 1.0);
}

#[test]
fn screened_scores_keep_the_exact_best() {
    let (x, y) = data(150, 4, 9);
    let hyper = Hyper {
        length: vec![0.3, 0.4, 0.5, 0.6],
        signal: 1.2,
        noise: 1e-4,
    };
    let gp = Gp::new(x, y.clone(), hyper).expect("model");
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let cand = Array2::from_shape_fn((500, 4), |_| rng.random::<f64>());
    let best = y.iter().copied().fold(f64::INFINITY, f64::min);
    // Expected improvement (not its log, to keep the test independent): increasing in var.
    let score = |m: f64, v: f64| {
        let sd = v.max(1e-12).sqrt();
        let z = (best - m) / sd;
        let cdf = 0.5 * (1.0 + erf(z / std::f64::consts::SQRT_2));
        let pdf = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
        sd * (z * cdf + pdf)
    };
    let (mu, var) = gp.predict(cand.view());
    let full: Vec<f64> = mu.iter().zip(&var).map(|(m, v)| score(*m, *v)).collect();
    let mut subset: Vec<usize> = (0..150).collect();
    subset.sort_by(|&a, &b| y[a].total_cmp(&y[b]));
    subset.truncate(40);
    let keep = 10;
    let (screened, exact) = gp.score_screened(cand.view(), &subset, keep, score);
    assert!(exact >= keep && exact <= 500);
    for (s, f) in screened.iter().zip(&full) {
        // Exact where computed, otherwise an upper bound.
        assert!(*s >= f - 1e-9 * (1.0 + f.abs()), "{s} < {f}");
    }
    let top = |v: &[f64]| {
        let mut i: Vec<usize> = (0..v.len()).collect();
        i.sort_by(|&a, &b| v[b].total_cmp(&v[a]).then(a.cmp(&b)));
        i.truncate(keep);
        i
    };
    assert_eq!(top(&screened), top(&full));
    for &i in &top(&full) {
        assert!((screened[i] - full[i]).abs() <= 1e-9 * (1.0 + full[i].abs()));
    }
    // Determinism.
    assert_eq!(
        gp.score_screened(cand.view(), &subset, keep, score).0,
        screened
    );
}

/// Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7), enough for a test.
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t
            + 0.254_829_592)
            * t
            * (-x * x).exp();
    if x >= 0.0 { y } else { -y }
}

#[test]
fn model_selection_picks_isotropic_or_ard_by_bic() {
    // Isotropic truth, few points in 5-D: the shared length scale wins.
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let x = Array2::from_shape_fn((25, 5), |_| rng.random::<f64>());
    let norm = |y: Vec<f64>| {
        let n = y.len() as f64;
        let mean = y.iter().sum::<f64>() / n;
        let sd = (y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        y.iter().map(|v| (v - mean) / sd).collect::<Vec<f64>>()
    };
    let iso = norm(
        x.rows()
            .into_iter()
            .map(|r| r.iter().map(|v| (v - 0.4).powi(2)).sum::<f64>())
            .collect(),
    );
    let opts = FitOptions::default();
    let a = fit(x.view(), &iso, &opts, &mut ChaCha8Rng::seed_from_u64(1));
    let l0 = a.hyper.length[0];
    assert!(a.hyper.length.iter().all(|&l| l == l0), "{:?}", a.hyper);
    // One relevant input out of five: ARD wins (the irrelevant ones get long scales).
    let x = Array2::from_shape_fn((40, 5), |_| rng.random::<f64>());
    let ard = norm(x.rows().into_iter().map(|r| (6.0 * r[0]).sin()).collect());
    let b = fit(x.view(), &ard, &opts, &mut ChaCha8Rng::seed_from_u64(1));
    let c = fit(x.view(), &ard, &opts, &mut ChaCha8Rng::seed_from_u64(1));
    assert_eq!(b.hyper, c.hyper);
    assert!(
        b.hyper.length[1..]
            .iter()
            .all(|&l| l > 2.0 * b.hyper.length[0]),
        "{:?}",
        b.hyper
    );
}

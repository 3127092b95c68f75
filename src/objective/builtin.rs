//! Standard test functions, for trying the tool, scheduling tests and benchmarks.
//!
//! Each takes the experiment's numeric parameters in declared order as its input vector.
//!
//! | name       | dimension | usual domain        | minimum                                  |
//! |------------|-----------|---------------------|------------------------------------------|
//! | sphere     | any       | [-5.12, 5.12]^d     | 0 at 0                                   |
//! | griewank   | any       | [-600, 600]^d       | 0 at 0                                   |
//! | rosenbrock | >= 2      | [-5, 10]^d          | 0 at (1, ..., 1)                         |
//! | rastrigin  | any       | [-5.12, 5.12]^d     | 0 at 0                                   |
//! | ackley     | any       | [-32.768, 32.768]^d | 0 at 0                                   |
//! | branin     | 2         | [-5, 10] x [0, 15]  | 0.397887 at (-pi, 12.275), (pi, 2.275), (9.42478, 2.475) |
//! | hartmann6  | 6         | [0, 1]^6            | -3.32237 at (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573) |

//!
//! A leaf: it imports nothing from the rest of the crate (the configuration parses the name,
//! the objective evaluates the function).

use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// A test function, by the name `[objective] builtin` gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Builtin {
    Sphere,
    Griewank,
    Rosenbrock,
    Rastrigin,
    Ackley,
    Branin,
    Hartmann6,
}

impl Builtin {
    pub const ALL: [Builtin; 7] = [
        Builtin::Sphere,
        Builtin::Griewank,
        Builtin::Rosenbrock,
        Builtin::Rastrigin,
        Builtin::Ackley,
        Builtin::Branin,
        Builtin::Hartmann6,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Builtin::Sphere => "sphere",
            Builtin::Griewank => "griewank",
            Builtin::Rosenbrock => "rosenbrock",
            Builtin::Rastrigin => "rastrigin",
            Builtin::Ackley => "ackley",
            Builtin::Branin => "branin",
            Builtin::Hartmann6 => "hartmann6",
        }
    }

    pub fn from_name(name: &str) -> Option<Builtin> {
        Builtin::ALL.into_iter().find(|b| b.name() == name)
    }

    /// Whether the function is defined for `d` inputs.
    pub fn accepts(self, d: usize) -> bool {
        match self {
            Builtin::Branin => d == 2,
            Builtin::Hartmann6 => d == 6,
            Builtin::Rosenbrock => d >= 2,
            _ => d >= 1,
        }
    }

    /// What `accepts` allows, in words.
    pub fn arity(self) -> &'static str {
        match self {
            Builtin::Branin => "exactly 2",
            Builtin::Hartmann6 => "exactly 6",
            Builtin::Rosenbrock => "at least 2",
            _ => "at least 1",
        }
    }

    /// The global minimum value.
    pub fn minimum(self) -> f64 {
        match self {
            Builtin::Branin => 0.397887357729739,
            Builtin::Hartmann6 => -3.322368011415515,
            _ => 0.0,
        }
    }

    /// The usual domain of one coordinate (`i`-th input, `d` inputs).
    pub fn domain(self, i: usize) -> (f64, f64) {
        match self {
            Builtin::Sphere | Builtin::Rastrigin => (-5.12, 5.12),
            Builtin::Griewank => (-600.0, 600.0),
            Builtin::Rosenbrock => (-5.0, 10.0),
            Builtin::Ackley => (-32.768, 32.768),
            Builtin::Branin if i == 0 => (-5.0, 10.0),
            Builtin::Branin => (0.0, 15.0),
            Builtin::Hartmann6 => (0.0, 1.0),
        }
    }

    pub fn eval(self, x: &[f64]) -> f64 {
        match self {
            Builtin::Sphere => x.iter().map(|v| v * v).sum(),
            Builtin::Griewank => {
                let sum: f64 = x.iter().map(|v| v * v).sum::<f64>() / 4000.0;
                let prod: f64 = x
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (v / ((i + 1) as f64).sqrt()).cos())
                    .product();
                sum - prod + 1.0
            }
            Builtin::Rosenbrock => x
                .windows(2)
                .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2))
                .sum(),
            Builtin::Rastrigin => {
                10.0 * x.len() as f64
                    + x.iter()
                        .map(|v| v * v - 10.0 * (2.0 * PI * v).cos())
                        .sum::<f64>()
            }
            Builtin::Ackley => {
                let d = x.len() as f64;
                let sq = x.iter().map(|v| v * v).sum::<f64>() / d;
                let cs = x.iter().map(|v| (2.0 * PI * v).cos()).sum::<f64>() / d;
                -20.0 * (-0.2 * sq.sqrt()).exp() - cs.exp() + 20.0 + std::f64::consts::E
            }
            Builtin::Branin => {
                let (x1, x2) = (x[0], x[1]);
                let b = 5.1 / (4.0 * PI * PI);
                let c = 5.0 / PI;
                let t = 1.0 / (8.0 * PI);
                (x2 - b * x1 * x1 + c * x1 - 6.0).powi(2) + 10.0 * (1.0 - t) * x1.cos() + 10.0
            }
            Builtin::Hartmann6 => hartmann6(x),
        }
    }
}

fn hartmann6(x: &[f64]) -> f64 {
    const ALPHA: [f64; 4] = [1.0, 1.2, 3.0, 3.2];
    const A: [[f64; 6]; 4] = [
        [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
        [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
        [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
        [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
    ];
    const P: [[f64; 6]; 4] = [
        [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
        [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
        [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
        [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
    ];
    -(0..4)
        .map(|i| {
            let inner: f64 = (0..6).map(|j| A[i][j] * (x[j] - P[i][j]).powi(2)).sum();
            ALPHA[i] * (-inner).exp()
        })
        .sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_minima() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-5;
        assert!(close(Builtin::Sphere.eval(&[0.0; 3]), 0.0));
        assert!(close(Builtin::Griewank.eval(&[0.0; 2]), 0.0));
        assert!(close(Builtin::Rosenbrock.eval(&[1.0; 4]), 0.0));
        assert!(close(Builtin::Rastrigin.eval(&[0.0; 5]), 0.0));
        assert!(close(Builtin::Ackley.eval(&[0.0; 5]), 0.0));
        for p in [[-PI, 12.275], [PI, 2.275], [9.42478, 2.475]] {
            assert!(close(Builtin::Branin.eval(&p), Builtin::Branin.minimum()));
        }
        let h = [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573];
        assert!(close(
            Builtin::Hartmann6.eval(&h),
            Builtin::Hartmann6.minimum()
        ));
    }

    #[test]
    fn names_round_trip_and_arity() {
        for b in Builtin::ALL {
            assert_eq!(Builtin::from_name(b.name()), Some(b));
        }
        assert!(!Builtin::Branin.accepts(3));
        assert!(Builtin::Hartmann6.accepts(6));
        assert!(!Builtin::Rosenbrock.accepts(1));
    }
}

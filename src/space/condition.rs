//! Checking a block's `when` expressions before any work: they are evaluated on probe rows of
//! the block (every explicit value and choice, the ends and middle of every range, in
//! combination), so an expression that is not true or false for some value, a conditional
//! parameter left without a strategy where it is active, or an explicit value for one that is
//! never active is found when the configuration is read.

use super::{Block, Cell, Kind, Space, Strategy, Value};

/// Probe rows per block: every combination up to this many, a spread of them past it.
const PROBES: usize = 512;

/// What the probes of a block found wrong; `param` is a parameter position.
#[derive(Debug, PartialEq)]
pub enum ConditionError {
    /// A `when` failed or gave something other than true or false.
    Expression { param: usize, reason: String },
    /// A conditional parameter the block gives no strategy is active in some sets.
    NoStrategy { param: usize, example: String },
    /// A block gives a strategy to a parameter that is inactive in every one of its sets.
    NeverActive { param: usize },
}

/// The candidate values of each parameter in `block` (empty for computed ones).
fn candidates(block: &Block) -> Vec<Vec<Value>> {
    block
        .strategies
        .iter()
        .map(|s| match s {
            Strategy::Explicit(v) => vec![v.clone()],
            Strategy::Choice(l) | Strategy::BayesianChoice(l) => l.clone(),
            Strategy::Random(r) | Strategy::Bayesian(r) => [0.0, 0.5, 1.0]
                .iter()
                .map(|&u| r.finish(r.point_at_unit(u)))
                .collect(),
            Strategy::Formula(_) | Strategy::Computed => Vec::new(),
        })
        .collect()
}

/// A spread of indices into `len` values for probe `k` of parameter `p`: the first probes
/// walk every list in step, later ones mix them.
fn digit(k: usize, p: usize, len: usize) -> usize {
    if k < 64 {
        return k % len;
    }
    let mut z = (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (p as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 31)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 29)) % len as u64) as usize
}

/// Checks block `b` of `space` on its probe rows.
pub fn check_block(space: &Space, b: usize) -> Result<(), ConditionError> {
    let block = &space.blocks[b];
    if !space.parameters.iter().any(|p| p.is_conditional()) {
        return Ok(());
    }
    let lists = candidates(block);
    let combos = lists
        .iter()
        .filter(|l| !l.is_empty())
        .try_fold(1usize, |acc, l| {
            acc.checked_mul(l.len()).filter(|n| *n <= PROBES)
        });
    let probes = combos.unwrap_or(PROBES);
    let mut ever_active = vec![false; space.parameters.len()];
    for k in 0..probes {
        let mut row: Vec<Value> = Vec::with_capacity(lists.len());
        // Mixed-radix digits when every combination is probed.
        let mut rest = k;
        for (p, list) in lists.iter().enumerate() {
            let active = space
                .is_active(p, &row)
                .map_err(|e| ConditionError::Expression {
                    param: p,
                    reason: e.to_string(),
                })?;
            let pick = match combos {
                Some(_) if !list.is_empty() => {
                    let d = rest % list.len();
                    rest /= list.len();
                    d
                }
                _ if !list.is_empty() => digit(k, p, list.len()),
                _ => 0,
            };
            if !active {
                row.push(Value::Inactive);
                continue;
            }
            ever_active[p] = true;
            let value = match (&block.strategies[p], &space.parameters[p].kind) {
                (Strategy::Explicit(Value::Inactive), _) => {
                    return Err(ConditionError::NoStrategy {
                        param: p,
                        example: example(space, &row),
                    });
                }
                (Strategy::Formula(list), _) => {
                    let cell = Cell::Formula(list[digit(k, p, list.len())].source.clone());
                    computed(space, p, &cell, &row)
                }
                (_, Kind::Expr(_)) => computed(space, p, &Cell::Computed, &row),
                _ => Some(list[pick].clone()),
            };
            // An expression that fails here fails its set at run time, as it would without
            // conditions; the probe stops at it.
            let Some(value) = value else { break };
            row.push(value);
        }
    }
    // Every combination was probed: a parameter whose activity depends only on values from
    // finite lists was seen in every case its block allows.
    if combos.is_some() {
        let never = block.strategies.iter().enumerate().find(|(p, s)| {
            space.parameters[*p].is_conditional()
                && !ever_active[*p]
                && !matches!(s, Strategy::Explicit(Value::Inactive))
                && decided_by_lists(space, block, *p)
        });
        if let Some((param, _)) = never {
            return Err(ConditionError::NeverActive { param });
        }
    }
    Ok(())
}

/// Whether the activity of parameter `p` depends only on parameters that `block` fills from
/// finite lists (`value`, `choice`, `bayesian_choice`), directly or through other conditional
/// or `expr` parameters: then the probes saw every case.
fn decided_by_lists(space: &Space, block: &Block, p: usize) -> bool {
    let param = &space.parameters[p];
    let exprs = param.when.iter().chain(match &param.kind {
        Kind::Expr(e) => Some(e),
        _ => None,
    });
    exprs.flat_map(|e| e.reads()).all(|name| {
        let Some(q) = space.parameters[..p].iter().position(|q| q.name == name) else {
            return false;
        };
        let listed = matches!(
            block.strategies[q],
            Strategy::Explicit(_) | Strategy::Choice(_) | Strategy::BayesianChoice(_)
        );
        let computed = matches!(
            block.strategies[q],
            Strategy::Computed | Strategy::Formula(_)
        );
        (listed || computed) && decided_by_lists(space, block, q)
    })
}

fn computed(space: &Space, p: usize, cell: &Cell, row: &[Value]) -> Option<Value> {
    let expr = match (cell, &space.parameters[p].kind) {
        (Cell::Formula(source), _) => space.formula(p, source).ok()?,
        (_, Kind::Expr(e)) => e.clone(),
        _ => return None,
    };
    expr.eval(&space.parameters, row).ok()
}

/// `a = 1, b = "sgd"`: the active values of a probe row, for an error message.
fn example(space: &Space, row: &[Value]) -> String {
    space
        .parameters
        .iter()
        .zip(row)
        .filter(|(_, v)| !v.is_inactive())
        .map(|(p, v)| match v {
            Value::Str(s) => format!("{} = {s:?}", p.name),
            v => format!("{} = {v}", p.name),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::{Expr, Parameter, Range};

    fn space(when: &str, momentum: Strategy, optimizer: Strategy) -> Space {
        Space {
            parameters: vec![
                Parameter {
                    name: "optimizer".into(),
                    kind: Kind::Str,
                    when: None,
                },
                Parameter {
                    name: "momentum".into(),
                    kind: Kind::Float,
                    when: Some(Expr::parse("momentum", when, &["optimizer"]).expect("parses")),
                },
            ],
            blocks: vec![Block {
                count: 1,
                prevent_duplicate: false,
                strategies: vec![optimizer, momentum],
            }],
        }
    }

    fn both() -> Strategy {
        Strategy::Choice(vec![Value::Str("sgd".into()), Value::Str("adam".into())])
    }

    fn unit() -> Strategy {
        Strategy::Random(Range {
            lo: 0.0,
            hi: 1.0,
            log: false,
            round: None,
            integer: false,
        })
    }

    #[test]
    fn a_condition_that_is_not_boolean_is_refused() {
        let ok = space("optimizer == \"sgd\"", unit(), both());
        assert_eq!(check_block(&ok, 0), Ok(()));
        let text = space("optimizer", unit(), both());
        assert!(matches!(
            check_block(&text, 0),
            Err(ConditionError::Expression { param: 1, .. })
        ));
    }

    #[test]
    fn strategies_must_match_where_the_parameter_exists() {
        let omitted = space(
            "optimizer == \"sgd\"",
            Strategy::Explicit(Value::Inactive),
            both(),
        );
        assert!(matches!(
            check_block(&omitted, 0),
            Err(ConditionError::NoStrategy { param: 1, .. })
        ));
        let adam = Strategy::Explicit(Value::Str("adam".into()));
        let never_needed = space(
            "optimizer == \"sgd\"",
            Strategy::Explicit(Value::Inactive),
            adam.clone(),
        );
        assert_eq!(check_block(&never_needed, 0), Ok(()));
        let never_used = space(
            "optimizer == \"sgd\"",
            Strategy::Explicit(Value::Float(0.9)),
            adam,
        );
        assert_eq!(
            check_block(&never_used, 0),
            Err(ConditionError::NeverActive { param: 1 })
        );
    }
}

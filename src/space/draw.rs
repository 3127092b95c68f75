//! Drawing the parameter table: every block's sets, in order, from one seeded generator.

use super::{Block, Cell, Kind, Range, SetSpec, Space, Strategy, Value};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;

/// Redraws allowed per set before `prevent_duplicate` gives up.
const MAX_REDRAWS: usize = 1000;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DrawError {
    #[error(
        "sets block {block}: could not draw a set different from every earlier one after \
         {MAX_REDRAWS} tries (set {index}); the block asks for more distinct sets than its \
         choices and rounding allow. Lower `count` or set `prevent_duplicate = false`"
    )]
    Exhausted { block: usize, index: usize },
}

/// Draws the whole table. Same space and seed, same table.
pub fn draw_table(space: &Space, seed: u64) -> Result<Vec<SetSpec>, DrawError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut seen: HashSet<Vec<String>> = HashSet::new();
    // Earlier sets are remembered only when a later block must not repeat them.
    let last_checked = space.blocks.iter().rposition(|b| b.prevent_duplicate);
    let mut table = Vec::with_capacity(space.blocks.iter().map(|b| b.count).sum());
    for (b, block) in space.blocks.iter().enumerate() {
        let remember = last_checked.is_some_and(|last| b < last);
        for _ in 0..block.count {
            let index = table.len();
            let cells = draw_checked(space, b, index, &mut rng, &mut seen, remember)?;
            table.push(SetSpec {
                index,
                block: b,
                cells,
            });
        }
    }
    Ok(table)
}

/// One set of `block` (number `b`), set `index`: a `prevent_duplicate` block redraws until the
/// set differs from every one in `seen`; `remember`: whether other blocks' sets go into `seen`
/// (a later block must not repeat them). Bayesian sets are never compared.
fn draw_checked(
    space: &Space,
    b: usize,
    index: usize,
    rng: &mut ChaCha8Rng,
    seen: &mut HashSet<Vec<String>>,
    remember: bool,
) -> Result<Vec<Cell>, DrawError> {
    let block = &space.blocks[b];
    let mut cells = draw_set(space, block, rng);
    if block.prevent_duplicate && !block.is_bayesian() {
        let mut tries = 0;
        while !seen.insert(key(&cells)) {
            tries += 1;
            if tries >= MAX_REDRAWS {
                return Err(DrawError::Exhausted { block: b, index });
            }
            cells = draw_set(space, block, rng);
        }
    } else if remember && !block.is_bayesian() {
        seen.insert(key(&cells));
    }
    Ok(cells)
}

/// The sets a grown `space` adds to its drawn `table` (blocks appended, counts raised): for
/// each block in order, the sets it lacks, with the next indices. The table already drawn is
/// never redrawn, only extended: its sets keep their indices and values. The new sets come from
/// a generator seeded by `seed` and the first new index, and a `prevent_duplicate` block's new
/// sets differ from every set before them. Same table, space and seed: same sets.
pub fn extend_table(
    space: &Space,
    seed: u64,
    table: &[SetSpec],
) -> Result<Vec<SetSpec>, DrawError> {
    let mut have = vec![0usize; space.blocks.len()];
    for set in table {
        if let Some(n) = have.get_mut(set.block) {
            *n += 1;
        }
    }
    let plan: Vec<(usize, usize)> = space
        .blocks
        .iter()
        .enumerate()
        .filter(|(b, block)| block.count > have[*b])
        .map(|(b, block)| (b, block.count - have[b]))
        .collect();
    let checked = plan.iter().any(|(b, _)| space.blocks[*b].prevent_duplicate);
    let mut seen: HashSet<Vec<String>> = if checked {
        table
            .iter()
            .filter(|s| !s.is_bayesian())
            .map(|s| key(&s.cells))
            .collect()
    } else {
        HashSet::new()
    };
    let mut rng = ChaCha8Rng::seed_from_u64(growth_seed(seed, table.len()));
    let mut more = Vec::new();
    for (b, n) in plan {
        for _ in 0..n {
            let index = table.len() + more.len();
            let cells = draw_checked(space, b, index, &mut rng, &mut seen, checked)?;
            more.push(SetSpec {
                index,
                block: b,
                cells,
            });
        }
    }
    Ok(more)
}

/// The seed of the sets drawn when a table of `len` sets grows: a function of the experiment's
/// seed and `len` only, apart from the seed the first table was drawn with.
fn growth_seed(seed: u64, len: usize) -> u64 {
    let mut z = seed ^ 0xA076_1D64_78BD_642F ^ (len as u64).wrapping_mul(0xE703_7ED1_A0B4_28DB);
    z = (z ^ (z >> 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z ^ (z >> 29)
}

fn key(cells: &[Cell]) -> Vec<String> {
    cells
        .iter()
        .map(|c| match c {
            Cell::Fixed(v) => v.to_string(),
            Cell::Formula(source) => source.clone(),
            _ => String::new(),
        })
        .collect()
}

/// One set of `block`. A conditional parameter whose activity is known now (its `when` reads
/// only drawn values) and false is not drawn: its cell is empty. An inactive cell has no value,
/// so `prevent_duplicate` never tells two sets apart by it.
fn draw_set(space: &Space, block: &Block, rng: &mut ChaCha8Rng) -> Vec<Cell> {
    // The values known at draw time, for deciding activity: `None` for a Bayesian cell and
    // what is computed from one.
    let mut known: Vec<Option<Value>> = Vec::with_capacity(block.strategies.len());
    let mut cells = Vec::with_capacity(block.strategies.len());
    for (p, s) in block.strategies.iter().enumerate() {
        let active = known_activity(space, p, &known);
        if active == Some(false) {
            cells.push(Cell::Fixed(Value::Inactive));
            known.push(Some(Value::Inactive));
            continue;
        }
        let cell = match s {
            Strategy::Explicit(v) => Cell::Fixed(v.clone()),
            Strategy::Random(r) => Cell::Fixed(draw_range(r, rng)),
            Strategy::Choice(list) => Cell::Fixed(list[rng.random_range(0..list.len())].clone()),
            Strategy::Bayesian(_) | Strategy::BayesianChoice(_) => Cell::Bayesian,
            Strategy::Formula(list) => {
                Cell::Formula(list[rng.random_range(0..list.len())].source.clone())
            }
            Strategy::Computed => Cell::Computed,
        };
        let value = match &cell {
            Cell::Fixed(v) => Some(v.clone()),
            Cell::Bayesian => None,
            Cell::Computed | Cell::Formula(_) if active == Some(true) => {
                computed_now(space, p, &cell, &known)
            }
            Cell::Computed | Cell::Formula(_) => None,
        };
        known.push(value);
        cells.push(cell);
    }
    cells
}

/// The known values as a table row (unknown ones inactive: only read after checking that
/// the expression does not read them).
fn row_of(known: &[Option<Value>]) -> Vec<Value> {
    known
        .iter()
        .map(|v| v.clone().unwrap_or(Value::Inactive))
        .collect()
}

/// Whether `e` reads only known values.
fn reads_known(space: &Space, e: &super::Expr, known: &[Option<Value>]) -> bool {
    e.reads().all(|name| {
        space
            .parameters
            .iter()
            .zip(known)
            .any(|(q, v)| q.name == name && v.is_some())
    })
}

/// Whether parameter `p` is active, when that is known from the values drawn before it.
fn known_activity(space: &Space, p: usize, known: &[Option<Value>]) -> Option<bool> {
    let param = &space.parameters[p];
    let exprs = param.when.iter().chain(match &param.kind {
        Kind::Expr(e) => Some(e),
        _ => None,
    });
    for e in exprs {
        if !reads_known(space, e, known) {
            return None;
        }
    }
    space.is_active(p, &row_of(known)).ok()
}

/// The value of an active `expr` cell, when it reads only known values.
fn computed_now(space: &Space, p: usize, cell: &Cell, known: &[Option<Value>]) -> Option<Value> {
    let expr = match (cell, &space.parameters[p].kind) {
        (Cell::Formula(source), _) => space.formula(p, source).ok()?,
        (_, Kind::Expr(e)) => e.clone(),
        _ => return None,
    };
    if !reads_known(space, &expr, known) {
        return None;
    }
    expr.eval(&space.parameters, &row_of(known)).ok()
}

/// A uniform (or log-uniform) draw inside the range, rounded as the range says.
pub fn draw_range(r: &Range, rng: &mut impl Rng) -> Value {
    let u: f64 = rng.random();
    r.finish(r.point_at_unit(u))
}

impl Range {
    /// Maps `u` in [0, 1] onto the range (log-scaled when `log`); integer ranges cover
    /// every whole number in [lo, hi] with equal width.
    pub fn point_at_unit(&self, u: f64) -> f64 {
        if self.integer {
            let (lo, hi) = (self.lo.ceil(), self.hi.floor());
            return (lo + (u * (hi - lo + 1.0)).floor()).min(hi);
        }
        if self.log {
            (self.lo.ln() + u * (self.hi.ln() - self.lo.ln())).exp()
        } else {
            self.lo + u * (self.hi - self.lo)
        }
    }

    /// The inverse of `point_at_unit` (used to place observed values in the unit cube).
    pub fn to_unit(&self, v: f64) -> f64 {
        let u = if self.integer {
            let (lo, hi) = (self.lo.ceil(), self.hi.floor());
            (v - lo + 0.5) / (hi - lo + 1.0)
        } else if self.log {
            (v.ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        if u.is_finite() {
            u.clamp(0.0, 1.0)
        } else {
            0.5
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::{Kind, Parameter};

    fn space(prevent_duplicate: bool, count: usize) -> Space {
        Space {
            parameters: vec![
                Parameter {
                    name: "x".into(),
                    kind: Kind::Float,
                    when: None,
                },
                Parameter {
                    name: "c".into(),
                    kind: Kind::Str,
                    when: None,
                },
            ],
            blocks: vec![Block {
                count,
                prevent_duplicate,
                strategies: vec![
                    Strategy::Random(Range {
                        lo: 0.0,
                        hi: 1.0,
                        log: false,
                        round: Some(0),
                        integer: false,
                    }),
                    Strategy::Choice(vec![Value::Str("a".into()), Value::Str("b".into())]),
                ],
            }],
        }
    }

    #[test]
    fn same_seed_same_table() {
        let s = space(false, 50);
        assert_eq!(draw_table(&s, 7).unwrap(), draw_table(&s, 7).unwrap());
        assert_ne!(draw_table(&s, 7).unwrap(), draw_table(&s, 8).unwrap());
    }

    #[test]
    fn prevent_duplicate_gives_distinct_sets_or_a_clear_error() {
        let table = draw_table(&space(true, 4), 1).unwrap();
        let keys: HashSet<_> = table.iter().map(|s| key(&s.cells)).collect();
        assert_eq!(keys.len(), 4);
        assert_eq!(
            draw_table(&space(true, 5), 1),
            Err(DrawError::Exhausted { block: 0, index: 4 })
        );
    }

    /// A space with blocks of these counts (the first checked for duplicates) over x and c.
    fn blocks(counts: &[usize]) -> Space {
        let mut s = space(true, counts[0]);
        let template = s.blocks[0].clone();
        for &count in &counts[1..] {
            s.blocks.push(Block {
                count,
                prevent_duplicate: false,
                ..template.clone()
            });
        }
        s
    }

    #[test]
    fn raising_a_count_never_changes_a_drawn_cell() {
        let wide = |mut s: Space| {
            for b in &mut s.blocks {
                b.strategies[0] = Strategy::Random(Range {
                    lo: 0.0,
                    hi: 1.0,
                    log: false,
                    round: Some(3),
                    integer: false,
                });
            }
            s
        };
        let before = wide(blocks(&[3, 5]));
        let table = draw_table(&before, 11).unwrap();
        // Block 0 raised to 6, block 1 to 7, and a third block appended.
        let after = wide(blocks(&[6, 7, 2]));
        let more = extend_table(&after, 11, &table).unwrap();
        assert_eq!(
            more,
            extend_table(&after, 11, &table).unwrap(),
            "deterministic"
        );
        let blocks_of: Vec<(usize, usize)> = more.iter().map(|s| (s.index, s.block)).collect();
        assert_eq!(
            blocks_of,
            [(8, 0), (9, 0), (10, 0), (11, 1), (12, 1), (13, 2), (14, 2)]
        );
        let mut grown = table.clone();
        grown.extend(more);
        // Every earlier cell as it was; block 0's sets stay distinct across the growth.
        assert_eq!(grown[..table.len()], table[..]);
        let block0: HashSet<_> = grown
            .iter()
            .filter(|s| s.block == 0)
            .map(|s| key(&s.cells))
            .collect();
        assert_eq!(block0.len(), 6);
        // Nothing to add: nothing added.
        assert!(extend_table(&after, 11, &grown).unwrap().is_empty());
        // A block that cannot have more distinct sets says so.
        assert_eq!(
            extend_table(&blocks(&[5]), 1, &draw_table(&blocks(&[4]), 1).unwrap()),
            Err(DrawError::Exhausted { block: 0, index: 4 })
        );
    }

    #[test]
    fn an_inactive_cell_is_not_drawn_and_not_compared() {
        let mut s = space(true, 3);
        // c is "a" or "b"; x exists only when c is "a".
        s.parameters[1].when = None;
        s.parameters.swap(0, 1);
        s.blocks[0].strategies.swap(0, 1);
        s.parameters[1].when =
            Some(crate::space::Expr::parse("x", "c == \"a\"", &["c"]).expect("parses"));
        // Distinct sets: c = "b" once (x does not count), and x = 0 or 1 with c = "a".
        let table = draw_table(&s, 1).unwrap();
        for set in &table {
            let inactive = set.cells[1] == Cell::Fixed(Value::Inactive);
            assert_eq!(
                inactive,
                set.cells[0] == Cell::Fixed(Value::Str("b".into()))
            );
        }
        s.blocks[0].count = 4;
        assert_eq!(
            draw_table(&s, 1),
            Err(DrawError::Exhausted { block: 0, index: 3 })
        );
    }

    #[test]
    fn log_and_integer_ranges_stay_inside() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let r = Range {
            lo: 1e-5,
            hi: 1e-1,
            log: true,
            round: None,
            integer: false,
        };
        let i = Range {
            lo: 2.0,
            hi: 5.0,
            log: false,
            round: None,
            integer: true,
        };
        let mut ints = HashSet::new();
        for _ in 0..2000 {
            let v = draw_range(&r, &mut rng).as_f64().unwrap();
            assert!((1e-5..=1e-1).contains(&v));
            if let Value::Int(k) = draw_range(&i, &mut rng) {
                ints.insert(k);
            }
        }
        assert_eq!(ints, HashSet::from([2, 3, 4, 5]));
    }
}

//! The search space: typed, ordered parameters, the strategies that fill them in each block of
//! sets, the drawn parameter table, and the values a finished set carries.
//!
//! A set is drawn on the master at `init` time (explicit, random and choice cells get their
//! value; Bayesian cells stay placeholders) and completed on the worker that evaluates it (the
//! suggestion fills the Bayesian cells, then `expr` parameters are computed in order).
//!
//! Conditional parameters: a parameter with `when` exists in a set only when its expression,
//! over the parameters before it, is true; otherwise its value is [`Value::Inactive`] (an
//! empty cell, absent from what the objective sees). A parameter whose `when` or `expr`
//! reads an inactive parameter is inactive too. Activity is decided when the set is drawn
//! if every value it reads is known then (an inactive cell is not drawn), and again when the
//! set is completed (a `when` over a Bayesian parameter).

mod condition;
mod draw;
mod encode;
mod expr;

pub use condition::{ConditionError, check_block};

pub use draw::{DrawError, draw_table, extend_table};
pub(crate) use encode::BayesColumns;
pub use encode::Dim;
pub use expr::{Expr, ExprError};

use serde::{Deserialize, Serialize};
use std::fmt;

/// One parameter value as stored in the tables and handed to objectives.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Float(f64),
    Int(i64),
    Str(String),
    /// A conditional parameter whose `when` is false in this set: an empty cell, and absent
    /// from the parameters an objective sees.
    Inactive,
}

impl Value {
    /// The value in JSON: numbers as numbers, strings as strings.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Float(v) => serde_json::json!(v),
            Value::Int(v) => serde_json::json!(v),
            Value::Str(s) => serde_json::json!(s),
            Value::Inactive => serde_json::Value::Null,
        }
    }

    pub fn is_inactive(&self) -> bool {
        matches!(self, Value::Inactive)
    }

    /// The numeric view of a value (`None` for strings).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(v) => Some(*v),
            Value::Int(v) => Some(*v as f64),
            Value::Str(_) | Value::Inactive => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Float(v) => write!(f, "{v}"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Str(s) => f.write_str(s),
            Value::Inactive => Ok(()),
        }
    }
}

/// The declared type of a parameter.
#[derive(Clone, Debug)]
pub enum Kind {
    Float,
    Int,
    Str,
    /// Computed from earlier parameters; never drawn.
    Expr(Expr),
}

impl Kind {
    pub fn is_numeric(&self) -> bool {
        !matches!(self, Kind::Str)
    }
}

#[derive(Clone, Debug)]
pub struct Parameter {
    pub name: String,
    pub kind: Kind,
    /// `when`: the parameter exists only in sets where this is true.
    pub when: Option<Expr>,
}

impl Parameter {
    pub fn is_conditional(&self) -> bool {
        self.when.is_some()
    }
}

/// Bounds of a drawn or proposed number.
#[derive(Clone, Debug, PartialEq)]
pub struct Range {
    pub lo: f64,
    pub hi: f64,
    /// Draw (or model) the logarithm of the value.
    pub log: bool,
    /// Round to this many decimal digits.
    pub round: Option<u32>,
    /// The parameter is an `int`: values are whole numbers.
    pub integer: bool,
}

impl Range {
    /// Applies the rounding rules and turns the number into the parameter's value type.
    pub fn finish(&self, v: f64) -> Value {
        let v = v.clamp(self.lo, self.hi);
        if self.integer {
            return Value::Int(v.round() as i64);
        }
        match self.round {
            Some(digits) => Value::Float(round_to(v, digits)),
            None => Value::Float(v),
        }
    }
}

pub fn round_to(v: f64, digits: u32) -> f64 {
    let scale = 10f64.powi(digits as i32);
    // Adding zero turns -0 into 0, so a rounded value never prints as "-0".
    (v * scale).round() / scale + 0.0
}

/// How one parameter is filled within one block of sets.
#[derive(Clone, Debug)]
pub enum Strategy {
    Explicit(Value),
    Random(Range),
    Choice(Vec<Value>),
    Bayesian(Range),
    BayesianChoice(Vec<Value>),
    /// An `expr` parameter with its own expression in this block (`value = "..."`, or one of
    /// `choice = [...]` drawn per set), parsed and checked when the configuration is.
    Formula(Vec<Expr>),
    /// `expr` parameters: computed from the parameter's `expr`, never drawn.
    Computed,
}

impl Strategy {
    pub fn is_bayesian(&self) -> bool {
        matches!(self, Strategy::Bayesian(_) | Strategy::BayesianChoice(_))
    }
}

/// A block of sets, as one `[[sets]]` table of the configuration.
#[derive(Clone, Debug)]
pub struct Block {
    pub count: usize,
    pub prevent_duplicate: bool,
    /// One strategy per parameter, in parameter order.
    pub strategies: Vec<Strategy>,
}

impl Block {
    pub fn is_bayesian(&self) -> bool {
        self.strategies.iter().any(Strategy::is_bayesian)
    }
}

/// The validated parameter definition and its blocks.
#[derive(Clone, Debug)]
pub struct Space {
    pub parameters: Vec<Parameter>,
    pub blocks: Vec<Block>,
}

/// One cell of the drawn table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Cell {
    Fixed(Value),
    /// Filled by the suggestion on the worker.
    Bayesian,
    /// An `expr` parameter, computed from its `expr` once the cells before it are known.
    Computed,
    /// An `expr` parameter with the expression drawn for this set (stored as written in
    /// parameters.csv), computed once the cells before it are known.
    Formula(String),
}

/// One drawn parameter set: a row of `parameters.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct SetSpec {
    pub index: usize,
    pub block: usize,
    pub cells: Vec<Cell>,
}

impl SetSpec {
    pub fn is_bayesian(&self) -> bool {
        self.cells.iter().any(|c| matches!(c, Cell::Bayesian))
    }
}

/// Ordered parameter names and values of one set, as an objective sees them.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    names: std::sync::Arc<[String]>,
    values: Vec<Value>,
}

impl Params {
    pub fn new(names: std::sync::Arc<[String]>, values: Vec<Value>) -> Self {
        Params { names, values }
    }
    pub fn names(&self) -> &[String] {
        &self.names
    }
    pub fn values(&self) -> &[Value] {
        &self.values
    }
    /// The value of `name`; `None` when there is no such parameter or it is inactive.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| &self.values[i])
            .filter(|v| !v.is_inactive())
    }
    /// Whether `name` is a parameter of the search that is inactive in this set.
    pub fn is_inactive(&self, name: &str) -> bool {
        self.names
            .iter()
            .position(|n| n == name)
            .is_some_and(|i| self.values[i].is_inactive())
    }
    /// The numeric value of `name`, or `None` when it is missing or a string.
    pub fn f64(&self, name: &str) -> Option<f64> {
        self.get(name).and_then(Value::as_f64)
    }
    /// The numeric values in declared order (strings and inactive parameters skipped): a
    /// builtin's input vector.
    pub fn numeric(&self) -> Vec<f64> {
        self.values.iter().filter_map(Value::as_f64).collect()
    }
    /// The active parameters and their values, in declared order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.names
            .iter()
            .map(String::as_str)
            .zip(self.values.iter())
            .filter(|(_, v)| !v.is_inactive())
    }
}

impl Space {
    pub fn names(&self) -> std::sync::Arc<[String]> {
        self.parameters.iter().map(|p| p.name.clone()).collect()
    }

    /// Completes a set: Bayesian cells from `bayes` (one value per Bayesian cell, in parameter
    /// order), then `expr` parameters computed in order from the values before them (with the
    /// set's own expression when its block gives one); a conditional parameter whose `when`
    /// is false (or reads an inactive parameter) is [`Value::Inactive`].
    pub fn resolve(&self, cells: &[Cell], bayes: &[Value]) -> Result<Vec<Value>, ExprError> {
        let mut bayes = bayes.iter();
        let mut values: Vec<Value> = Vec::with_capacity(cells.len());
        for (p, (param, cell)) in self.parameters.iter().zip(cells).enumerate() {
            let proposed = match cell {
                Cell::Bayesian => {
                    Some(bayes.next().cloned().ok_or(ExprError::MissingSuggestion {
                        name: param.name.clone(),
                    })?)
                }
                _ => None,
            };
            if !self.is_active(p, &values)? {
                values.push(Value::Inactive);
                continue;
            }
            let value = match (cell, &param.kind) {
                (Cell::Fixed(Value::Inactive), _) => {
                    return Err(ExprError::NoStrategy {
                        name: param.name.clone(),
                    });
                }
                (Cell::Fixed(v), _) => v.clone(),
                (Cell::Bayesian, _) => match proposed {
                    Some(v) if !v.is_inactive() => v,
                    _ => {
                        return Err(ExprError::MissingSuggestion {
                            name: param.name.clone(),
                        });
                    }
                },
                (Cell::Computed, Kind::Expr(e)) => e.eval(&self.parameters, &values)?,
                (Cell::Formula(source), Kind::Expr(_)) => {
                    self.formula(p, source)?.eval(&self.parameters, &values)?
                }
                (Cell::Computed | Cell::Formula(_), _) => {
                    return Err(ExprError::MissingSuggestion {
                        name: param.name.clone(),
                    });
                }
            };
            values.push(value);
        }
        Ok(values)
    }

    /// The expression `source` of the `expr` parameter at `p`, over the parameters before it.
    pub(crate) fn formula(&self, p: usize, source: &str) -> Result<Expr, ExprError> {
        let earlier: Vec<&str> = self.parameters[..p]
            .iter()
            .map(|q| q.name.as_str())
            .collect();
        Expr::parse(&self.parameters[p].name, source, &earlier)
    }

    /// Whether parameter `p` exists given the values before it (`values[..p]`): not when its
    /// `when` is false, nor when its `when` or `expr` reads an inactive parameter.
    pub fn is_active(&self, p: usize, values: &[Value]) -> Result<bool, ExprError> {
        let param = &self.parameters[p];
        let reads_inactive = |e: &Expr| {
            e.reads().any(|name| {
                self.parameters[..p]
                    .iter()
                    .zip(values)
                    .any(|(q, v)| q.name == name && v.is_inactive())
            })
        };
        if let Kind::Expr(e) = &param.kind
            && reads_inactive(e)
        {
            return Ok(false);
        }
        match &param.when {
            None => Ok(true),
            Some(w) if reads_inactive(w) => Ok(false),
            Some(w) => w.eval_condition(&self.parameters, values),
        }
    }

    /// Whether each parameter may be inactive in some set: it has `when`, or its `expr` reads
    /// (directly or through other `expr` parameters) one that may be.
    pub fn conditional(&self) -> Vec<bool> {
        let mut out: Vec<bool> = Vec::with_capacity(self.parameters.len());
        for p in &self.parameters {
            let through_expr = match &p.kind {
                Kind::Expr(e) => e.reads().any(|name| {
                    self.parameters
                        .iter()
                        .zip(&out)
                        .any(|(q, c)| *c && q.name == name)
                }),
                _ => false,
            };
            out.push(p.is_conditional() || through_expr);
        }
        out
    }

    /// Parses a stored table value back into the parameter's type.
    /// The empty cell of a parameter that may be inactive is [`Value::Inactive`].
    pub fn parse_value(&self, param: usize, text: &str) -> Option<Value> {
        if text.is_empty() && self.may_be_inactive(param) {
            return Some(Value::Inactive);
        }
        match &self.parameters[param].kind {
            Kind::Str => Some(Value::Str(text.to_string())),
            Kind::Int => text.parse().ok().map(Value::Int),
            Kind::Float => text.parse().ok().map(Value::Float),
            Kind::Expr(_) => text
                .parse::<i64>()
                .ok()
                .map(Value::Int)
                .or_else(|| text.parse().ok().map(Value::Float)),
        }
    }
}

impl Space {
    /// Whether parameter `p` may be inactive in some set (see [`Space::conditional`]).
    pub fn may_be_inactive(&self, p: usize) -> bool {
        self.parameters[p].is_conditional()
            || (matches!(self.parameters[p].kind, Kind::Expr(_))
                && self.conditional().get(p).copied().unwrap_or(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_computes_its_own_expression_or_the_parameter_s() {
        let x = Parameter {
            name: "x".into(),
            kind: Kind::Float,
            when: None,
        };
        let f = Parameter {
            name: "f".into(),
            kind: Kind::Expr(Expr::parse("f", "x + 1", &["x"]).expect("parses")),
            when: None,
        };
        let space = Space {
            parameters: vec![x, f],
            blocks: Vec::new(),
        };
        let fixed = Cell::Fixed(Value::Float(2.0));
        let default = space.resolve(&[fixed.clone(), Cell::Computed], &[]);
        assert_eq!(default, Ok(vec![Value::Float(2.0), Value::Float(3.0)]));
        let own = space.resolve(&[fixed.clone(), Cell::Formula("x * 10".into())], &[]);
        assert_eq!(own, Ok(vec![Value::Float(2.0), Value::Float(20.0)]));
        let wrong = space.resolve(&[fixed, Cell::Formula("f + 1".into())], &[]);
        assert!(
            matches!(wrong, Err(ExprError::Reference { .. })),
            "{wrong:?}"
        );
    }

    /// optimizer, momentum (when sgd), nesterov (when momentum > 0.5), lr2 = momentum * 2.
    fn branched() -> Space {
        let names = ["optimizer", "momentum", "nesterov"];
        let param = |name: &str, kind: Kind, when: Option<&str>, p: usize| Parameter {
            name: name.into(),
            kind,
            when: when.map(|w| Expr::parse(name, w, &names[..p]).expect("parses")),
        };
        Space {
            parameters: vec![
                param("optimizer", Kind::Str, None, 0),
                param("momentum", Kind::Float, Some("optimizer == \"sgd\""), 1),
                param("nesterov", Kind::Int, Some("momentum > 0.5"), 2),
                Parameter {
                    name: "twice".into(),
                    kind: Kind::Expr(Expr::parse("twice", "momentum * 2", &names).expect("parses")),
                    when: None,
                },
            ],
            blocks: Vec::new(),
        }
    }

    #[test]
    fn a_parameter_that_reads_an_inactive_one_is_inactive_too() {
        let space = branched();
        let fixed = |v: Value| Cell::Fixed(v);
        let cells = |opt: &str, m: f64| {
            vec![
                fixed(Value::Str(opt.into())),
                fixed(Value::Float(m)),
                fixed(Value::Int(1)),
                Cell::Computed,
            ]
        };
        assert_eq!(
            space.resolve(&cells("sgd", 0.9), &[]),
            Ok(vec![
                Value::Str("sgd".into()),
                Value::Float(0.9),
                Value::Int(1),
                Value::Float(1.8)
            ])
        );
        let low = space.resolve(&cells("sgd", 0.1), &[]).expect("resolves");
        assert_eq!(low[2], Value::Inactive);
        let adam = space.resolve(&cells("adam", 0.9), &[]).expect("resolves");
        assert_eq!(
            adam[1..],
            [Value::Inactive, Value::Inactive, Value::Inactive]
        );
        assert_eq!(space.conditional(), vec![false, true, true, true]);
        let params = Params::new(space.names(), adam);
        assert_eq!(params.get("momentum"), None);
        assert!(params.is_inactive("momentum") && !params.is_inactive("optimizer"));
        assert_eq!(params.iter().count(), 1);
        assert_eq!(space.parse_value(1, ""), Some(Value::Inactive));
        assert_eq!(space.parse_value(0, ""), Some(Value::Str(String::new())));
        // A Bayesian cell of an inactive parameter takes its proposal and drops it.
        let bayes = [
            fixed(Value::Str("adam".into())),
            Cell::Bayesian,
            Cell::Bayesian,
            Cell::Computed,
        ];
        let values = space
            .resolve(&bayes, &[Value::Float(0.7), Value::Int(0)])
            .expect("resolves");
        assert_eq!(values[1], Value::Inactive);
    }

    #[test]
    fn rounding_gives_short_decimal_forms() {
        assert_eq!(round_to(1.23456, 3).to_string(), "1.235");
        assert_eq!(round_to(-0.0004, 3).to_string(), "0");
        let r = Range {
            lo: 0.0,
            hi: 10.0,
            log: false,
            round: Some(0),
            integer: false,
        };
        assert_eq!(r.finish(3.6).to_string(), "4");
        let r = Range { integer: true, ..r };
        assert_eq!(r.finish(42.0), Value::Int(10));
    }
}

//! `expr` parameters: arithmetic over earlier parameters, evaluated by `evalexpr`.
//!
//! The engine has no I/O, no loops and no user functions, so the cost of an expression is
//! bounded by its length; values never pass through a shell.

use super::{Parameter, Value};
use evalexpr::{ContextWithMutableVariables, HashMapContext, Node, build_operator_tree};
use std::sync::Arc;

/// Expressions longer than this are refused at config time.
pub const MAX_EXPR_LEN: usize = 4096;

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ExprError {
    #[error("expression of `{name}` does not parse: {reason}")]
    Parse { name: String, reason: String },
    #[error("expression of `{name}` is {len} characters long; at most {MAX_EXPR_LEN} are allowed")]
    TooLong { name: String, len: usize },
    #[error(
        "expression of `{name}` uses `{used}`, which is not a parameter defined before `{name}`"
    )]
    Reference { name: String, used: String },
    #[error("expression of `{name}` failed: {reason}")]
    Eval { name: String, reason: String },
    #[error("no value was proposed for the Bayesian parameter `{name}`")]
    MissingSuggestion { name: String },
    #[error("`when` of `{name}` gives `{got}`, not true or false")]
    NotBoolean { name: String, got: String },
    #[error("`{name}` is active in this set, but its block gives it no strategy")]
    NoStrategy { name: String },
}

/// A parsed expression with the names it reads.
#[derive(Clone, Debug)]
pub struct Expr {
    pub source: String,
    tree: Arc<Node>,
    name: String,
}

impl Expr {
    /// Parses `source` as the expression of parameter `name`; `earlier` are the names that
    /// may be used (the parameters declared before it).
    pub fn parse(name: &str, source: &str, earlier: &[&str]) -> Result<Expr, ExprError> {
        if source.len() > MAX_EXPR_LEN {
            return Err(ExprError::TooLong {
                name: name.into(),
                len: source.len(),
            });
        }
        let tree = build_operator_tree(source).map_err(|e| ExprError::Parse {
            name: name.into(),
            reason: e.to_string(),
        })?;
        if let Some(used) = tree
            .iter_variable_identifiers()
            .find(|id| !earlier.contains(id))
        {
            return Err(ExprError::Reference {
                name: name.into(),
                used: used.into(),
            });
        }
        Ok(Expr {
            source: source.into(),
            tree: Arc::new(tree),
            name: name.into(),
        })
    }

    /// The parameter names the expression reads.
    pub fn reads(&self) -> impl Iterator<Item = &str> {
        self.tree.iter_variable_identifiers()
    }

    fn fail(&self, reason: String) -> ExprError {
        ExprError::Eval {
            name: self.name.clone(),
            reason,
        }
    }

    /// The expression's raw result with the values of the parameters before it (inactive
    /// ones are not defined).
    fn raw(&self, params: &[Parameter], values: &[Value]) -> Result<evalexpr::Value, ExprError> {
        let mut ctx = HashMapContext::new();
        for (p, v) in params.iter().zip(values) {
            let v = match v {
                Value::Float(x) => evalexpr::Value::Float(*x),
                Value::Int(x) => evalexpr::Value::Int(*x),
                Value::Str(s) => evalexpr::Value::String(s.clone()),
                Value::Inactive => continue,
            };
            ctx.set_value(p.name.clone(), v)
                .map_err(|e| self.fail(e.to_string()))?;
        }
        self.tree
            .eval_with_context(&ctx)
            .map_err(|e| self.fail(e.to_string()))
    }

    /// Evaluates a `when` condition: true or false, anything else is an error naming the
    /// parameter.
    pub fn eval_condition(
        &self,
        params: &[Parameter],
        values: &[Value],
    ) -> Result<bool, ExprError> {
        match self.raw(params, values)? {
            evalexpr::Value::Boolean(b) => Ok(b),
            other => Err(ExprError::NotBoolean {
                name: self.name.clone(),
                got: other.to_string(),
            }),
        }
    }

    /// Evaluates the expression with the values of the parameters before it.
    pub fn eval(&self, params: &[Parameter], values: &[Value]) -> Result<Value, ExprError> {
        let fail = |reason: String| self.fail(reason);
        match self.raw(params, values)? {
            evalexpr::Value::Int(i) => Ok(Value::Int(i)),
            evalexpr::Value::Float(x) if x.is_finite() => Ok(Value::Float(x)),
            evalexpr::Value::Float(x) => Err(fail(format!("the result is {x}"))),
            evalexpr::Value::String(s) => Ok(Value::Str(s)),
            other => Err(fail(format!(
                "the result `{other}` is not a number or a string"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::Kind;

    fn float(name: &str) -> Parameter {
        Parameter {
            name: name.into(),
            kind: Kind::Float,
            when: None,
        }
    }

    #[test]
    fn evaluates_over_earlier_parameters() {
        let e = Expr::parse("z", "x * y + 1", &["x", "y"]).unwrap();
        let v = e.eval(
            &[float("x"), float("y")],
            &[Value::Float(2.0), Value::Int(3)],
        );
        assert_eq!(v, Ok(Value::Float(7.0)));
        let e = Expr::parse("lr", "10.0 ^ k", &["k"]).unwrap();
        let v = e.eval(&[float("k")], &[Value::Float(-2.0)]).unwrap();
        assert!((v.as_f64().unwrap() - 0.01).abs() < 1e-12);
    }

    #[test]
    fn refuses_later_or_unknown_names() {
        let err = Expr::parse("z", "x + w", &["x"]).unwrap_err();
        assert_eq!(
            err,
            ExprError::Reference {
                name: "z".into(),
                used: "w".into()
            }
        );
        assert!(matches!(
            Expr::parse("z", "(x + 1", &["x"]),
            Err(ExprError::Parse { .. })
        ));
    }

    #[test]
    fn non_finite_results_are_errors() {
        let e = Expr::parse("z", "1.0 / x", &["x"]).unwrap();
        assert!(e.eval(&[float("x")], &[Value::Float(0.0)]).is_err());
    }
}

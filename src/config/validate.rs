//! The checks that turn the [raw](super::raw) configuration into a [`Definition`]: every
//! rule that involves more than one value's type (bounds, names, strategies against types,
//! the objective's parts, the pool), each naming its key. Reads nothing from the file system.

use super::raw::line_col;
use super::raw::{
    CommandLine, Delay, Distribution, ParamType, RawBlock, RawCompute, RawConfig, RawEntry,
    RawObjective, RawParameter, RawStrategy,
};
use super::{
    Compute, ConfigError, Definition, Goal, MAX_PROCESSES, MAX_SETS, MonitorOptions, ObjectiveKind,
    ObjectiveSpec, Output,
};
use crate::acquisition::options::BayesOptions;
use crate::experiment::schema;
use crate::objective::builtin::Builtin;
use crate::objective::template;
use crate::prune::PruningOptions;
use crate::space::{
    Block, ConditionError, Expr, Kind, Parameter, Range, Space, Strategy, Value, check_block,
};
use std::path::Path;
use toml::Spanned;

/// The keys a Python objective's function finds in its dict besides the parameters (PHS's).
pub const PYTHON_KEYS: [&str; 2] = ["hyperpar", "worker_save_path"];

/// Checks one configuration text (`file` names it in errors).
pub(super) struct Validator<'a> {
    source: &'a str,
    file: &'a Path,
}

impl<'a> Validator<'a> {
    pub(super) fn new(source: &'a str, file: &'a Path) -> Validator<'a> {
        Validator { source, file }
    }

    fn err(
        &self,
        span: Option<std::ops::Range<usize>>,
        key: impl Into<String>,
        problem: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            file: self.file.to_path_buf(),
            at: span.map(|s| line_col(self.source, s.start)),
            key: key.into(),
            problem: problem.into(),
        }
    }

    pub(super) fn definition(
        &self,
        raw: RawConfig,
        config_dir: &Path,
    ) -> Result<Definition, ConfigError> {
        if raw.experiment.dir.trim().is_empty() {
            return Err(self.err(None, "experiment.dir", "must name a folder"));
        }
        let dir = config_dir.join(&raw.experiment.dir);
        let parameters = self.parameters(&raw.parameters)?;
        let mut blocks = Vec::new();
        if raw.sets.is_empty() {
            return Err(self.err(None, "sets", "at least one [[sets]] block is required"));
        }
        for (b, set) in raw.sets.iter().enumerate() {
            blocks.push(self.block(b, set, &parameters)?);
        }
        let total: usize = blocks.iter().map(|b: &Block| b.count).sum();
        if total > MAX_SETS {
            return Err(self.err(
                None,
                "sets",
                format!("{total} sets in all; at most {MAX_SETS} are allowed"),
            ));
        }
        let space = Space { parameters, blocks };
        let objective = self.objective(&raw.objective, &space, config_dir)?;
        let compute = self.compute(&raw.compute, &objective.kind)?;
        self.bayesian(&raw.bayesian)?;
        self.monitor(&raw.monitor, &space)?;
        if let Some(pruning) = &raw.pruning {
            self.pruning(pruning, &objective.outputs)?;
        }
        Ok(Definition {
            source: self.source.to_string(),
            config_dir: config_dir.to_path_buf(),
            dir,
            seed: raw.experiment.seed,
            objective,
            space,
            compute,
            bayesian: raw.bayesian.clone(),
            monitor: raw.monitor.clone(),
            pruning: raw.pruning.clone(),
            file: self.file.to_path_buf(),
            raw,
        })
    }

    /// The `[pruning]` table, and with declared outputs the one it judges.
    fn pruning(&self, pruning: &PruningOptions, outputs: &[Output]) -> Result<(), ConfigError> {
        pruning
            .check()
            .map_err(|(key, problem)| self.err(None, key, problem))?;
        let objectives: Vec<&str> = outputs
            .iter()
            .filter(|o| o.direction().is_some())
            .map(|o| o.name.as_str())
            .collect();
        let problem = match &pruning.output {
            None if objectives.len() <= 1 => return Ok(()),
            None => format!(
                "is required with several objective outputs: name the one whose values the evaluations report ({})",
                objectives.join(", ")
            ),
            Some(name) if outputs.is_empty() => format!(
                "is \"{name}\", but the objective declares no [[objective.outputs]]: the reported values are of its result"
            ),
            Some(name) => match outputs.iter().find(|o| &o.name == name) {
                Some(o) if o.direction().is_some() => return Ok(()),
                Some(_) => format!(
                    "is \"{name}\", a constraint (min/max); the rule judges an objective output ({})",
                    objectives.join(", ")
                ),
                None => format!(
                    "is \"{name}\", not a declared output; the objective outputs are {}",
                    objectives.join(", ")
                ),
            },
        };
        Err(self.err(None, "pruning.output", problem))
    }

    fn parameters(&self, raw: &[Spanned<RawParameter>]) -> Result<Vec<Parameter>, ConfigError> {
        if raw.is_empty() {
            return Err(self.err(
                None,
                "parameters",
                "at least one [[parameters]] entry is required",
            ));
        }
        let mut params: Vec<Parameter> = Vec::new();
        for (i, p) in raw.iter().enumerate() {
            let param = self.parameter(&format!("parameters[{i}]"), p, &params)?;
            params.push(param);
        }
        Ok(params)
    }

    /// One `[[parameters]]` entry; `earlier` are the ones declared before it.
    fn parameter(
        &self,
        key: &str,
        p: &Spanned<RawParameter>,
        earlier: &[Parameter],
    ) -> Result<Parameter, ConfigError> {
        let span = Some(p.span());
        let p = p.get_ref();
        let fail = |field: &str, problem: String| {
            self.err(span.clone(), format!("{key}.{field}"), problem)
        };
        if !template::is_identifier(&p.name) {
            return Err(fail(
                "name",
                format!(
                    "`{}` is not a valid parameter name: use ASCII letters, digits and `_`, not starting with a digit",
                    p.name.escape_debug()
                ),
            ));
        }
        if schema::is_reserved(&p.name) {
            return Err(fail(
                "name",
                format!(
                    "`{}` is a column of results.csv; choose another parameter name",
                    p.name
                ),
            ));
        }
        if earlier.iter().any(|q| q.name == p.name) {
            return Err(fail(
                "name",
                format!("parameter `{}` is defined twice", p.name),
            ));
        }
        let kind = match (p.kind, &p.expr) {
            (ParamType::Float, None) => Kind::Float,
            (ParamType::Int, None) => Kind::Int,
            (ParamType::Str, None) => Kind::Str,
            (ParamType::Expr, Some(e)) => {
                let names: Vec<&str> = earlier.iter().map(|q| q.name.as_str()).collect();
                Kind::Expr(
                    Expr::parse(&p.name, e, &names).map_err(|e| fail("expr", e.to_string()))?,
                )
            }
            (ParamType::Expr, None) => {
                return Err(fail(
                    "expr",
                    "an `expr` parameter needs `expr = \"...\"`".into(),
                ));
            }
            (_, Some(_)) => {
                return Err(fail(
                    "expr",
                    "only parameters of type \"expr\" take `expr`".into(),
                ));
            }
        };
        let when = p
            .when
            .as_ref()
            .map(|w| {
                let names: Vec<&str> = earlier.iter().map(|q| q.name.as_str()).collect();
                Expr::parse(&p.name, w, &names).map_err(|e| fail("when", format!("`when`: {e}")))
            })
            .transpose()?;
        Ok(Parameter {
            name: p.name.clone(),
            kind,
            when,
        })
    }

    fn block(
        &self,
        b: usize,
        set: &Spanned<RawBlock>,
        params: &[Parameter],
    ) -> Result<Block, ConfigError> {
        let table = set.get_ref();
        let key = |k: &str| format!("sets[{b}].{k}");
        let count = match table.get("count") {
            None => 1,
            Some(v) => match plain(v).and_then(toml::Value::as_integer) {
                Some(n) if n >= 1 && (n as u64) <= MAX_SETS as u64 => n as usize,
                Some(n) => {
                    return Err(self.err(
                        Some(v.span()),
                        key("count"),
                        format!("{n} is not allowed; expected 1 to {MAX_SETS}"),
                    ));
                }
                None => {
                    return Err(self.err(Some(v.span()), key("count"), "expected a whole number"));
                }
            },
        };
        let prevent_duplicate = match table.get("prevent_duplicate") {
            None => false,
            Some(v) => plain(v).and_then(toml::Value::as_bool).ok_or_else(|| {
                self.err(
                    Some(v.span()),
                    key("prevent_duplicate"),
                    "expected true or false",
                )
            })?,
        };
        for (name, v) in table {
            if name != "count"
                && name != "prevent_duplicate"
                && !params.iter().any(|p| &p.name == name)
            {
                return Err(self.err(Some(v.span()), key(name), format!(
                    "unknown key: `{name}` is neither `count`, `prevent_duplicate` nor a parameter name"
                )));
            }
        }
        let mut strategies = Vec::new();
        for (i, p) in params.iter().enumerate() {
            let entry = table.get(&p.name);
            let strategy = match (&p.kind, entry) {
                (Kind::Expr(_), None) => Strategy::Computed,
                (Kind::Expr(_), Some(v)) => self.formula(v, &key(&p.name), &p.name, &params[..i])?,
                // Checked below: only where it is never active.
                (_, None) if p.is_conditional() => Strategy::Explicit(Value::Inactive),
                (_, None) => return Err(self.err(Some(set.span()), key(&p.name), format!(
                    "parameter `{}` has no strategy in this block; give it `value`, `random`, `choice`, `bayesian` or `bayesian_choice`", p.name
                ))),
                (kind, Some(v)) => self.strategy(v, &key(&p.name), kind)?,
            };
            strategies.push(strategy);
        }
        let block = Block {
            count,
            prevent_duplicate,
            strategies,
        };
        self.conditions(b, set, params, block)
    }

    /// The `when` expressions of the parameters on block `b`'s probe rows (see
    /// `space::check_block`); a conditional `str` parameter cannot take the empty string,
    /// which is how its inactive cell reads back.
    fn conditions(
        &self,
        b: usize,
        set: &Spanned<RawBlock>,
        params: &[Parameter],
        block: Block,
    ) -> Result<Block, ConfigError> {
        let span = |name: &str| {
            set.get_ref()
                .get(name)
                .map(|v| v.span())
                .unwrap_or(set.span())
        };
        for (p, s) in params.iter().zip(&block.strategies) {
            let values: &[Value] = match s {
                Strategy::Explicit(v) => std::slice::from_ref(v),
                Strategy::Choice(l) | Strategy::BayesianChoice(l) => l,
                _ => &[],
            };
            if p.is_conditional() && values.contains(&Value::Str(String::new())) {
                return Err(self.err(
                    Some(span(&p.name)),
                    format!("sets[{b}].{}", p.name),
                    "a conditional parameter cannot take the empty string: its empty cell means the \
                     parameter is inactive",
                ));
            }
        }
        let space = Space {
            parameters: params.to_vec(),
            blocks: vec![block],
        };
        let found = check_block(&space, 0).map_err(|e| match e {
            ConditionError::Expression { param, reason } => self.err(
                Some(span(&params[param].name)),
                format!("sets[{b}].{}", params[param].name),
                format!("{reason} (probing the values this block gives)"),
            ),
            ConditionError::NoStrategy { param, example } => self.err(
                Some(set.span()),
                format!("sets[{b}].{}", params[param].name),
                format!(
                    "parameter `{}` has no strategy in this block but is active in some of its \
                     sets (for example with {example}); give it `value`, `random`, `choice`, \
                     `bayesian` or `bayesian_choice`",
                    params[param].name
                ),
            ),
            ConditionError::NeverActive { param } => self.err(
                Some(span(&params[param].name)),
                format!("sets[{b}].{}", params[param].name),
                format!(
                    "parameter `{}` is given a strategy but its `when` is false in every set of \
                     this block; remove it from the block",
                    params[param].name
                ),
            ),
        });
        found?;
        let Space { mut blocks, .. } = space;
        blocks.pop().ok_or_else(|| {
            self.err(
                None,
                format!("sets[{b}]"),
                "internal: the checked block went missing",
            )
        })
    }

    /// An `expr` parameter's own expressions in a block: `value = "..."` (or the string
    /// alone) or `choice = ["...", ...]`, each parsed over the parameters before it.
    fn formula(
        &self,
        v: &Spanned<RawEntry>,
        key: &str,
        name: &str,
        earlier: &[Parameter],
    ) -> Result<Strategy, ConfigError> {
        let span = Some(v.span());
        let fail = |problem: String| self.err(span.clone(), key, problem);
        let usage = "an `expr` parameter takes `value = \"...\"` or `choice = [\"...\", ...]` \
                     (expressions), or nothing: then it is computed from its `expr`";
        let texts: Vec<&toml::Value> = match v.get_ref() {
            RawEntry::Plain(value) => vec![value],
            RawEntry::Strategy(RawStrategy {
                value: Some(value),
                random: None,
                distribution: None,
                round: None,
                choice: None,
                bayesian: None,
                log: None,
                bayesian_choice: None,
            }) => vec![value],
            RawEntry::Strategy(RawStrategy {
                value: None,
                random: None,
                distribution: None,
                round: None,
                choice: Some(list),
                bayesian: None,
                log: None,
                bayesian_choice: None,
            }) => list.iter().collect(),
            RawEntry::Strategy(_) => return Err(fail(usage.into())),
        };
        if texts.is_empty() {
            return Err(fail("the list of choices is empty".into()));
        }
        let names: Vec<&str> = earlier.iter().map(|q| q.name.as_str()).collect();
        let exprs = texts
            .into_iter()
            .map(|t| match t {
                toml::Value::String(source) => {
                    Expr::parse(name, source, &names).map_err(|e| fail(e.to_string()))
                }
                other => Err(fail(format!(
                    "`{other}` is not an expression string; {usage}"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Strategy::Formula(exprs))
    }

    fn strategy(
        &self,
        v: &Spanned<RawEntry>,
        key: &str,
        kind: &Kind,
    ) -> Result<Strategy, ConfigError> {
        let span = Some(v.span());
        let fail = |problem: String| self.err(span.clone(), key, problem);
        let raw = match v.get_ref() {
            RawEntry::Strategy(s) => s.clone(),
            RawEntry::Plain(plain) => RawStrategy {
                value: Some(plain.clone()),
                ..Default::default()
            },
        };
        let chosen = [
            raw.value.is_some(),
            raw.random.is_some(),
            raw.choice.is_some(),
            raw.bayesian.is_some(),
            raw.bayesian_choice.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if chosen != 1 {
            return Err(fail(
                "give exactly one of `value`, `random`, `choice`, `bayesian`, `bayesian_choice`"
                    .into(),
            ));
        }
        let round = match raw.round {
            None => None,
            Some(r @ 0..=15) => Some(r as u32),
            Some(r) => return Err(fail(format!("`round = {r}`: expected 0 to 15 digits"))),
        };
        let range = |bounds: &[f64], log: bool| self.range(bounds, log, round, kind).map_err(&fail);
        let bounded = raw.random.is_some() || raw.bayesian.is_some();
        if raw.distribution.is_some() && !bounded {
            return Err(fail(
                "`distribution` goes with `random` or `bayesian`".into(),
            ));
        }
        if raw.log.is_some() && !bounded {
            return Err(fail("`log` goes with `random` or `bayesian`".into()));
        }
        let log = log_scale(raw.distribution, raw.log).map_err(&fail)?;
        if raw.round.is_some() && raw.random.is_none() && raw.bayesian.is_none() {
            return Err(fail("`round` goes with `random` or `bayesian`".into()));
        }
        if let Some(v) = &raw.value {
            return Ok(Strategy::Explicit(self.value(
                v,
                kind,
                key,
                span.clone(),
            )?));
        }
        if let Some(b) = &raw.random {
            return Ok(Strategy::Random(range(b, log)?));
        }
        if let Some(b) = &raw.bayesian {
            return Ok(Strategy::Bayesian(range(b, log)?));
        }
        let (list, bayes) = match (&raw.choice, &raw.bayesian_choice) {
            (Some(l), _) => (l, false),
            (_, Some(l)) => (l, true),
            _ => return Err(fail("no strategy given".into())),
        };
        if list.is_empty() {
            return Err(fail("the list of choices is empty".into()));
        }
        let values = list
            .iter()
            .map(|v| self.value(v, kind, key, span.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(if bayes {
            Strategy::BayesianChoice(values)
        } else {
            Strategy::Choice(values)
        })
    }

    /// The bounds of `random` or `bayesian` for a parameter of type `kind`; the problem, if
    /// any, in words.
    fn range(
        &self,
        bounds: &[f64],
        log: bool,
        round: Option<u32>,
        kind: &Kind,
    ) -> Result<Range, String> {
        if matches!(kind, Kind::Str) {
            return Err(
                "a `str` parameter takes `value`, `choice` or `bayesian_choice`, not bounds".into(),
            );
        }
        let [lo, hi] = bounds else {
            return Err(format!(
                "bounds need two numbers [low, high], got {}",
                bounds.len()
            ));
        };
        if !lo.is_finite() || !hi.is_finite() {
            return Err(format!("bounds [{lo}, {hi}] must be finite"));
        }
        if lo >= hi {
            return Err(format!(
                "bounds [{lo}, {hi}] are reversed or empty; low must be below high"
            ));
        }
        if log && *lo <= 0.0 {
            return Err(format!(
                "log-scale bounds must be positive, got [{lo}, {hi}]"
            ));
        }
        let integer = matches!(kind, Kind::Int);
        if integer && (lo.fract() != 0.0 || hi.fract() != 0.0) {
            return Err(format!(
                "bounds [{lo}, {hi}] of an `int` parameter must be whole numbers"
            ));
        }
        Ok(Range {
            lo: *lo,
            hi: *hi,
            log,
            round,
            integer,
        })
    }

    fn value(
        &self,
        v: &toml::Value,
        kind: &Kind,
        key: &str,
        span: Option<std::ops::Range<usize>>,
    ) -> Result<Value, ConfigError> {
        let got = match (kind, v) {
            (Kind::Float, toml::Value::Float(x)) if x.is_finite() => Some(Value::Float(*x)),
            (Kind::Float, toml::Value::Integer(i)) => Some(Value::Float(*i as f64)),
            (Kind::Int, toml::Value::Integer(i)) => Some(Value::Int(*i)),
            (Kind::Str, toml::Value::String(s)) => Some(Value::Str(s.clone())),
            _ => None,
        };
        let expected = match kind {
            Kind::Float => "a finite number",
            Kind::Int => "a whole number",
            _ => "a string",
        };
        got.ok_or_else(|| {
            self.err(
                span,
                key,
                format!("`{v}` is not {expected}, as the parameter's type requires"),
            )
        })
    }

    fn objective(
        &self,
        raw: &RawObjective,
        space: &Space,
        config_dir: &Path,
    ) -> Result<ObjectiveSpec, ConfigError> {
        let timeout = match raw.timeout_s {
            None => None,
            Some(t) if t > 0.0 && t.is_finite() && t < 1e9 => {
                Some(std::time::Duration::from_secs_f64(t))
            }
            Some(t) => {
                return Err(self.err(
                    None,
                    "objective.timeout_s",
                    format!("{t} is not a positive number of seconds"),
                ));
            }
        };
        if !(raw.kill_grace_s >= 0.0 && raw.kill_grace_s < 3600.0) {
            return Err(self.err(None, "objective.kill_grace_s", "expected 0 to 3600 seconds"));
        }
        if raw.retries > 100 {
            return Err(self.err(
                None,
                "objective.retries",
                format!("{} retries; at most 100 are allowed", raw.retries),
            ));
        }
        let given = [
            raw.builtin.is_some(),
            raw.command.is_some(),
            raw.python.is_some(),
            raw.custom,
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(self.err(
                None,
                "objective",
                "give exactly one of `builtin = \"...\"`, `command = [...]`, `python = \"FILE:FUNCTION\"` or `custom = true`",
            ));
        }
        let only = |key: &str, set: bool, kind: &str| {
            if set {
                Err(self.err(
                    None,
                    format!("objective.{key}"),
                    format!("`{key}` applies to {kind} objectives only"),
                ))
            } else {
                Ok(())
            }
        };
        only(
            "delay_s",
            raw.delay_s.is_some() && raw.builtin.is_none(),
            "builtin",
        )?;
        only(
            "python_executable",
            raw.python_executable.is_some() && raw.python.is_none(),
            "python",
        )?;
        only(
            "result_file",
            raw.result_file.is_some() && raw.command.is_none(),
            "command",
        )?;
        let kind = match (raw.builtin, &raw.command, &raw.python) {
            (Some(function), _, _) => self.builtin(function, raw.delay_s, space)?,
            (_, Some(command), _) => ObjectiveKind::Command {
                argv: self.command(command, space)?,
            },
            (_, _, Some(target)) => self.python(target, raw, space, config_dir)?,
            _ => ObjectiveKind::Custom,
        };
        if raw.result_key.as_deref().is_some_and(str::is_empty)
            || raw.result_file.as_deref().is_some_and(str::is_empty)
        {
            return Err(self.err(
                None,
                "objective",
                "`result_file` and `result_key` must not be empty",
            ));
        }
        let outputs = self.outputs(raw, &kind, space)?;
        let direction = match outputs.iter().find_map(Output::direction) {
            Some(first) => first,
            None => raw.direction.unwrap_or_default(),
        };
        Ok(ObjectiveSpec {
            kind,
            direction,
            outputs,
            timeout,
            retries: raw.retries,
            result_file: raw.result_file.clone(),
            result_key: raw.result_key.clone(),
            kill_grace: std::time::Duration::from_secs_f64(raw.kill_grace_s),
        })
    }

    /// `[[objective.outputs]]`: each a valid name, unique, clashing with no parameter and no
    /// column of results.csv; an objective (`direction`) or a constraint (`min`/`max`), at least
    /// one objective; not with `direction`, `result_key` or a builtin (which returns one number).
    fn outputs(
        &self,
        raw: &RawObjective,
        kind: &ObjectiveKind,
        space: &Space,
    ) -> Result<Vec<Output>, ConfigError> {
        let Some(list) = &raw.outputs else {
            return Ok(Vec::new());
        };
        let fail = |key: String, problem: String| Err(self.err(None, key, problem));
        if raw.direction.is_some() {
            return fail(
                "objective.direction".into(),
                "`direction` and `[[objective.outputs]]` cannot be given together: with outputs, each objective output has its own `direction`".into(),
            );
        }
        if raw.result_key.is_some() {
            return fail(
                "objective.result_key".into(),
                "`result_key` and `[[objective.outputs]]` cannot be given together: each output is read by its name".into(),
            );
        }
        if matches!(kind, ObjectiveKind::Builtin { .. }) {
            return fail(
                "objective.outputs".into(),
                "a builtin returns one number; declared outputs need a `command`, `python` or `custom` objective that returns them by name".into(),
            );
        }
        if list.is_empty() {
            return fail(
                "objective.outputs".into(),
                "declare at least one output, or leave `outputs` out".into(),
            );
        }
        let mut outputs: Vec<Output> = Vec::new();
        for (i, o) in list.iter().enumerate() {
            let key = format!("objective.outputs[{i}]");
            if !template::is_identifier(&o.name) {
                return fail(
                    format!("{key}.name"),
                    format!(
                        "`{}` is not a valid output name: use ASCII letters, digits and `_`, not starting with a digit",
                        o.name.escape_debug()
                    ),
                );
            }
            if schema::is_reserved(&o.name) || o.name == schema::FEASIBLE {
                return fail(
                    format!("{key}.name"),
                    format!(
                        "`{}` is a column of results.csv; choose another output name",
                        o.name
                    ),
                );
            }
            if space.parameters.iter().any(|p| p.name == o.name) {
                return fail(
                    format!("{key}.name"),
                    format!(
                        "`{}` is also a parameter; an output's column must have a name of its own",
                        o.name
                    ),
                );
            }
            if outputs.iter().any(|q| q.name == o.name) {
                return fail(
                    format!("{key}.name"),
                    format!("output `{}` is declared twice", o.name),
                );
            }
            let goal = match (o.direction, o.min, o.max) {
                (Some(d), None, None) => Goal::Objective(d),
                (None, None, None) => {
                    return fail(
                        key,
                        "give `direction` (an objective) or `min`/`max` (a constraint)".into(),
                    );
                }
                (Some(_), _, _) => {
                    return fail(
                        key,
                        "an output is an objective (`direction`) or a constraint (`min`/`max`), not both".into(),
                    );
                }
                (None, min, max) => {
                    if let Some(bad) = [min, max].into_iter().flatten().find(|v| !v.is_finite()) {
                        return fail(key, format!("bound {bad} is not a finite number"));
                    }
                    if let (Some(lo), Some(hi)) = (min, max)
                        && lo > hi
                    {
                        return fail(key, format!("`min` {lo} is above `max` {hi}"));
                    }
                    Goal::Constraint { min, max }
                }
            };
            outputs.push(Output {
                name: o.name.clone(),
                goal,
            });
        }
        if !outputs.iter().any(|o| o.direction().is_some()) {
            return fail(
                "objective.outputs".into(),
                "every output is a constraint; at least one needs a `direction` to optimize".into(),
            );
        }
        if outputs.iter().any(|o| o.direction().is_none())
            && space.parameters.iter().any(|p| p.name == schema::FEASIBLE)
        {
            return fail(
                "objective.outputs".into(),
                format!(
                    "with a constraint, results.csv has a `{}` column; rename that parameter",
                    schema::FEASIBLE
                ),
            );
        }
        Ok(outputs)
    }

    /// `builtin = "NAME"`: the function must take the experiment's numeric parameters.
    fn builtin(
        &self,
        function: Builtin,
        delay: Option<Delay>,
        space: &Space,
    ) -> Result<ObjectiveKind, ConfigError> {
        let d = space
            .parameters
            .iter()
            .filter(|p| p.kind.is_numeric())
            .count();
        if !function.accepts(d) {
            return Err(self.err(
                None,
                "objective.builtin",
                format!(
                    "{} takes {} numeric parameters; the experiment has {d}",
                    function.name(),
                    function.arity()
                ),
            ));
        }
        if let Some(delay) = delay {
            let ok = match delay {
                Delay::Fixed(s) => (0.0..1e6).contains(&s),
                Delay::Uniform([a, b]) => (0.0..1e6).contains(&a) && (a..1e6).contains(&b),
            };
            if !ok {
                return Err(self.err(
                    None,
                    "objective.delay_s",
                    "expected seconds >= 0, or [low, high] with 0 <= low <= high",
                ));
            }
        }
        Ok(ObjectiveKind::Builtin { function, delay })
    }

    /// `command = [...]`: a program and arguments whose placeholders all have a value. Where
    /// the program is, is [`super::Programs::find`]'s business.
    fn command(&self, command: &CommandLine, space: &Space) -> Result<Vec<String>, ConfigError> {
        let argv = match command {
            CommandLine::Argv(v) => v.clone(),
            CommandLine::Line(s) => shell_words::split(s).map_err(|e| {
                self.err(
                    None,
                    "objective.command",
                    format!("cannot split the command line: {e}"),
                )
            })?,
        };
        if argv.first().is_none_or(String::is_empty) {
            return Err(self.err(None, "objective.command", "the command is empty"));
        }
        for arg in &argv {
            for name in template::placeholders(arg) {
                let known = space.parameters.iter().any(|p| p.name == name)
                    || template::BUILTIN_PLACEHOLDERS.contains(&name);
                if !known {
                    return Err(self.err(None, "objective.command", format!(
                        "`{{{name}}}` in `{arg}` is not a parameter name nor one of {{index}}, {{worker_dir}}, {{config_dir}}, {{experiment_dir}}"
                    )));
                }
            }
        }
        Ok(argv)
    }

    /// `python = "FILE:FUNCTION"`: FILE relative to the configuration's folder (`{config_dir}`
    /// may be written out), FUNCTION a name; no parameter may take a name of the keys the
    /// function's dict adds. Whether FILE defines FUNCTION is [`super::Programs::find`]'s
    /// business.
    fn python(
        &self,
        target: &str,
        raw: &RawObjective,
        space: &Space,
        config_dir: &Path,
    ) -> Result<ObjectiveKind, ConfigError> {
        let key = "objective.python";
        let Some((file, function)) = target.rsplit_once(':') else {
            return Err(self.err(
                None,
                key,
                format!("`{target}` is not FILE:FUNCTION (for example \"{{config_dir}}/train.py:objective\")"),
            ));
        };
        if file.trim().is_empty() {
            return Err(self.err(None, key, format!("`{target}` names no file before `:`")));
        }
        if !template::is_identifier(function) {
            return Err(self.err(
                None,
                key,
                format!(
                    "`{function}` is not a Python function name (after the last `:` of `{target}`)"
                ),
            ));
        }
        let config_dir_text = config_dir.display().to_string();
        let lookup = |name: &str| (name == "config_dir").then(|| config_dir_text.clone());
        let file = template::substitute(file, &lookup, false);
        if let Some(name) = template::placeholders(&file).first() {
            return Err(self.err(
                None,
                key,
                format!("`{{{name}}}` in `{target}`: a Python file may only use {{config_dir}}"),
            ));
        }
        if let Some(p) = space
            .parameters
            .iter()
            .position(|p| PYTHON_KEYS.contains(&p.name.as_str()))
        {
            return Err(self.err(
                None,
                format!("parameters[{p}].name"),
                format!(
                    "`{}` is a key the Python objective adds to its function's dict (as PHS does); choose another parameter name",
                    space.parameters[p].name
                ),
            ));
        }
        if raw
            .python_executable
            .as_deref()
            .is_some_and(|e| e.trim().is_empty())
        {
            return Err(self.err(None, "objective.python_executable", "must not be empty"));
        }
        Ok(ObjectiveKind::Python {
            file: config_dir.join(file),
            function: function.to_string(),
            executable: raw.python_executable.clone(),
        })
    }

    fn compute(&self, c: &RawCompute, objective: &ObjectiveKind) -> Result<Compute, ConfigError> {
        let processes = c.processes.unwrap_or(Compute::default().processes);
        if processes == 0 || processes > MAX_PROCESSES {
            return Err(self.err(
                None,
                "compute.processes",
                format!("{processes} processes; expected 1 to {MAX_PROCESSES}"),
            ));
        }
        // Programs and interpreters print: by default each set gets a folder for its output.
        let prints = matches!(
            objective,
            ObjectiveKind::Command { .. } | ObjectiveKind::Python { .. }
        );
        let provide_worker_path = c.provide_worker_path.unwrap_or(prints);
        let redirect_stdout = c.redirect_stdout.unwrap_or(prints && provide_worker_path);
        if redirect_stdout && !provide_worker_path {
            return Err(self.err(
                None,
                "compute.redirect_stdout",
                "needs `provide_worker_path = true` (the output goes into the worker folder)",
            ));
        }
        Ok(Compute {
            processes,
            provide_worker_path,
            redirect_stdout,
            bayesian_wait_for_all: c.bayesian_wait_for_all,
            gpus_per_worker: c.gpus_per_worker,
            gpus_per_node: c.gpus_per_node,
            max_consecutive_failures: c
                .max_consecutive_failures
                .unwrap_or(super::MAX_CONSECUTIVE_FAILURES),
        })
    }

    /// `acquisition` and `pending` are enums already; `kappa` must be a weight.
    fn bayesian(&self, b: &BayesOptions) -> Result<(), ConfigError> {
        if !(b.kappa.is_finite() && b.kappa >= 0.0) {
            return Err(self.err(None, "bayesian.kappa", "expected a number >= 0"));
        }
        Ok(())
    }

    /// Plot names are enums already; a hook command needs a program; plot axes are
    /// parameters.
    fn monitor(&self, m: &MonitorOptions, space: &Space) -> Result<(), ConfigError> {
        if m.on_result
            .as_ref()
            .is_some_and(|argv| argv.first().is_none_or(String::is_empty))
        {
            return Err(self.err(None, "monitor.on_result", "the command is empty"));
        }
        for (key, axis) in [("monitor.plot_x", &m.plot_x), ("monitor.plot_y", &m.plot_y)] {
            if let Some(name) = axis
                && !space.parameters.iter().any(|p| &p.name == name)
            {
                let known: Vec<&str> = space.parameters.iter().map(|p| p.name.as_str()).collect();
                return Err(self.err(
                    None,
                    key,
                    format!(
                        "`{name}` is not a parameter; the parameters are {}",
                        known.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Whether a `random` or `bayesian` range is on a log scale. Both spellings are accepted by
/// both strategies (`distribution = "log-uniform"`, `log = true`); given together, they must
/// agree.
fn log_scale(distribution: Option<Distribution>, log: Option<bool>) -> Result<bool, String> {
    let by_distribution = distribution.map(|d| d == Distribution::LogUniform);
    match (by_distribution, log) {
        (Some(a), Some(b)) if a != b => Err(format!(
            "`distribution = \"{}\"` and `log = {b}` disagree; give one of them",
            if a { "log-uniform" } else { "uniform" }
        )),
        (a, b) => Ok(a.or(b).unwrap_or(false)),
    }
}

/// The value of a `[[sets]]` entry that is not a strategy table.
fn plain(entry: &Spanned<RawEntry>) -> Option<&toml::Value> {
    match entry.get_ref() {
        RawEntry::Plain(value) => Some(value),
        RawEntry::Strategy(_) => None,
    }
}

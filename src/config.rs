//! The experiment definition: TOML -> raw structs -> a validated [`Experiment`].
//!
//! Every check happens here, before anything is created or started. Errors name the file,
//! the key (with line and column where the TOML parser knows them) and what was expected.

use crate::acquisition::BayesOptions;
use crate::objective::builtin::Builtin;
use crate::space::{Block, Expr, Kind, Parameter, Range, Space, Strategy, Value};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Configuration files larger than this are refused before parsing.
pub const MAX_CONFIG_BYTES: usize = 1 << 20;
/// The table may hold at most this many sets.
pub const MAX_SETS: usize = 10_000_000;
/// At most this many local worker processes.
pub const MAX_PROCESSES: usize = 4096;

/// A configuration error: where, which key, and what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line and column, when known.
    pub at: Option<(usize, usize)>,
    /// The key, as a path (`sets[1].x`); empty when the whole file is at fault.
    pub key: String,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, col)) = self.at {
            write!(f, ":{line}:{col}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": `{}`", self.key)?;
        }
        write!(f, ": {}", self.problem)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub experiment: RawExperiment,
    pub objective: RawObjective,
    pub parameters: Vec<Spanned<RawParameter>>,
    pub sets: Vec<Spanned<BTreeMap<String, Spanned<toml::Value>>>>,
    #[serde(default)]
    pub compute: RawCompute,
    #[serde(default)]
    pub bayesian: BayesOptions,
    #[serde(default)]
    pub monitor: MonitorOptions,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExperiment {
    pub dir: String,
    #[serde(default)]
    pub seed: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawObjective {
    pub builtin: Option<String>,
    pub command: Option<CommandLine>,
    /// The objective is a Rust function of the program running the experiment (library API).
    #[serde(default)]
    pub custom: bool,
    #[serde(default = "default_direction")]
    pub direction: String,
    pub timeout_s: Option<f64>,
    /// Synthetic delay of a builtin: seconds, or `[lo, hi]` drawn per evaluation.
    pub delay_s: Option<Delay>,
    #[serde(default)]
    pub retries: u32,
    /// Read the result from this file in the worker folder instead of stdout.
    pub result_file: Option<String>,
    /// Take the result from this key of a JSON object (the result file, or the last JSON
    /// line of stdout).
    pub result_key: Option<String>,
    /// Seconds between SIGTERM and SIGKILL when an evaluation is stopped.
    #[serde(default = "default_grace")]
    pub kill_grace_s: f64,
}

fn default_direction() -> String {
    "minimize".into()
}
fn default_grace() -> f64 {
    2.0
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CommandLine {
    Argv(Vec<String>),
    Line(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Delay {
    Fixed(f64),
    Uniform([f64; 2]),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawParameter {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub expr: Option<String>,
}

/// One strategy of a set, e.g. `{ random = [-5, 5], round = 3 }`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStrategy {
    value: Option<toml::Value>,
    random: Option<Vec<f64>>,
    distribution: Option<String>,
    round: Option<i64>,
    choice: Option<Vec<toml::Value>>,
    bayesian: Option<Vec<f64>>,
    log: Option<bool>,
    bayesian_choice: Option<Vec<toml::Value>>,
}

/// The `[compute]` table as written: unset switches take their default from the objective.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawCompute {
    pub processes: Option<usize>,
    pub provide_worker_path: Option<bool>,
    pub redirect_stdout: Option<bool>,
    pub bayesian_wait_for_all: bool,
    pub gpus_per_worker: Option<usize>,
    pub gpus_per_node: Option<usize>,
}

/// The `[compute]` table: how the pool runs (may change between runs of one experiment).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Compute {
    /// Local pool size when `--processes` is not given (default 2).
    pub processes: usize,
    /// A folder `worker_out/000042/` per evaluation, its working directory. Default: on for a
    /// command objective, off for a builtin or a Rust function (they write no files).
    pub provide_worker_path: bool,
    /// The command's stdout and stderr into files of that folder. Default: on for a command
    /// objective with worker folders; nothing else has output to redirect.
    pub redirect_stdout: bool,
    pub bayesian_wait_for_all: bool,
    /// GPUs each worker takes (MPI back end; default 1); 0 disables GPU binding. Under
    /// `mpirun`, the worker in node-local slot `s` (node 0: local ranks 1.. are slots 0.., the
    /// master holding local rank 0; other nodes: local ranks 0..) takes the entries
    /// `s*g .. s*g+g-1` (round robin past the end) of the GPU list: the inherited
    /// `CUDA_VISIBLE_DEVICES`, else `0..gpus_per_node`, else no binding. It exports them as
    /// `CUDA_VISIBLE_DEVICES` to the objective (and the `gpu` column), with `OMP_NUM_THREADS`
    /// set to its affinity mask's CPU count (see docs/mpi.md).
    pub gpus_per_worker: Option<usize>,
    /// GPUs of each node, numbered 0..G-1, when `CUDA_VISIBLE_DEVICES` is not inherited
    /// (MPI back end; see `gpus_per_worker`).
    pub gpus_per_node: Option<usize>,
}

impl Default for Compute {
    /// The defaults for a command objective.
    fn default() -> Self {
        Compute {
            processes: 2,
            provide_worker_path: true,
            redirect_stdout: true,
            bayesian_wait_for_all: false,
            gpus_per_worker: None,
            gpus_per_node: None,
        }
    }
}

/// The `[monitor]` table: what runs on the master as results arrive.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorOptions {
    /// Plots regenerated by the hooks (names as `hpo plot --only`); empty: none.
    pub plots: Vec<String>,
    /// Regenerate the plots every this many results (0: never on a count).
    pub plot_every: usize,
    /// Regenerate the plots on each new best result.
    pub plot_on_best: bool,
    /// Regenerate the plots once at the end of the run.
    pub plot_at_end: bool,
    /// A command run with each new result (its row as JSON on stdin and in `HPO_ROW`).
    pub on_result: Option<Vec<String>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    Minimize,
    Maximize,
}

impl Direction {
    /// Whether `a` is better than `b`.
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            Direction::Minimize => a < b,
            Direction::Maximize => a > b,
        }
    }
    /// The value to minimize.
    pub fn loss(self, result: f64) -> f64 {
        match self {
            Direction::Minimize => result,
            Direction::Maximize => -result,
        }
    }
}

/// How results are evaluated.
#[derive(Clone, Debug, PartialEq)]
pub enum ObjectiveKind {
    Builtin {
        function: Builtin,
        delay: Option<Delay>,
    },
    Command {
        argv: Vec<String>,
    },
    /// A Rust function given through the library API.
    Custom,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ObjectiveSpec {
    pub kind: ObjectiveKind,
    pub direction: Direction,
    pub timeout: Option<std::time::Duration>,
    pub retries: u32,
    pub result_file: Option<String>,
    pub result_key: Option<String>,
    pub kill_grace: std::time::Duration,
}

/// A validated experiment definition.
#[derive(Clone, Debug)]
pub struct Experiment {
    /// The configuration text as given.
    pub source: String,
    /// The folder relative paths of the configuration are resolved against.
    pub config_dir: PathBuf,
    pub dir: PathBuf,
    pub seed: u64,
    pub objective: ObjectiveSpec,
    pub space: Space,
    pub compute: Compute,
    pub bayesian: BayesOptions,
    pub monitor: MonitorOptions,
    raw: RawConfig,
}

impl Experiment {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Experiment, ConfigError> {
        let whole = |problem: String| ConfigError {
            file: path.to_path_buf(),
            at: None,
            key: String::new(),
            problem,
        };
        let meta = std::fs::metadata(path).map_err(|e| whole(format!("cannot read it: {e}")))?;
        if meta.len() > MAX_CONFIG_BYTES as u64 {
            return Err(whole(format!(
                "the file is {} bytes; a configuration is at most {MAX_CONFIG_BYTES} bytes",
                meta.len()
            )));
        }
        let bytes = std::fs::read(path).map_err(|e| whole(format!("cannot read it: {e}")))?;
        let source = String::from_utf8(bytes).map_err(|e| {
            whole(format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ))
        })?;
        let config_dir = path
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let config_dir = std::path::absolute(&config_dir).unwrap_or(config_dir);
        Experiment::parse(&source, path, &config_dir)
    }

    /// Validates configuration text; `file` names it in errors, `config_dir` anchors paths.
    pub fn parse(source: &str, file: &Path, config_dir: &Path) -> Result<Experiment, ConfigError> {
        let raw: RawConfig = toml::from_str(source).map_err(|e| {
            let at = e.span().map(|s| line_col(source, s.start));
            // The parser's message does not always say which key: quote the line.
            let line = at
                .and_then(|(l, _)| source.lines().nth(l - 1))
                .map(|l| l.trim())
                .filter(|l| !l.is_empty())
                .map(|l| format!(" (in `{}`)", l.chars().take(80).collect::<String>()))
                .unwrap_or_default();
            ConfigError {
                file: file.to_path_buf(),
                at,
                key: String::new(),
                problem: format!("{}{line}", e.message().trim()),
            }
        })?;
        Validator { source, file }.experiment(raw, source, config_dir)
    }

    /// Whether `other` defines the same experiment (same parameters, sets, objective and seed);
    /// `[compute]` and `[monitor]` may differ between runs.
    pub fn same_definition(&self, other: &Experiment) -> bool {
        definition_key(&self.raw) == definition_key(&other.raw)
    }
}

fn definition_key(raw: &RawConfig) -> serde_json::Value {
    let mut v = serde_json::to_value(raw).unwrap_or_default();
    if let Some(map) = v.as_object_mut() {
        map.remove("compute");
        map.remove("monitor");
        if let Some(exp) = map.get_mut("experiment").and_then(|e| e.as_object_mut()) {
            exp.remove("dir");
        }
    }
    v
}

fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

struct Validator<'a> {
    source: &'a str,
    file: &'a Path,
}

impl Validator<'_> {
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

    fn experiment(
        &self,
        raw: RawConfig,
        source: &str,
        config_dir: &Path,
    ) -> Result<Experiment, ConfigError> {
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
        Ok(Experiment {
            source: source.to_string(),
            config_dir: config_dir.to_path_buf(),
            dir,
            seed: raw.experiment.seed,
            objective,
            space,
            compute,
            bayesian: raw.bayesian.clone(),
            monitor: raw.monitor.clone(),
            raw,
        })
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
            let span = Some(p.span());
            let key = format!("parameters[{i}]");
            let p = p.get_ref();
            let valid_name = p
                .name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && p.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid_name {
                return Err(self.err(span, format!("{key}.name"), format!(
                    "`{}` is not a valid parameter name: use ASCII letters, digits and `_`, not starting with a digit",
                    p.name.escape_debug()
                )));
            }
            if p.name == "index"
                || crate::experiment::journal::TAIL_COLUMNS.contains(&p.name.as_str())
            {
                return Err(self.err(
                    span,
                    format!("{key}.name"),
                    format!(
                        "`{}` is a column of results.csv; choose another parameter name",
                        p.name
                    ),
                ));
            }
            if params.iter().any(|q| q.name == p.name) {
                return Err(self.err(
                    span,
                    format!("{key}.name"),
                    format!("parameter `{}` is defined twice", p.name),
                ));
            }
            let kind =
                match (p.kind.as_str(), &p.expr) {
                    ("float", None) => Kind::Float,
                    ("int", None) => Kind::Int,
                    ("str", None) => Kind::Str,
                    ("expr", Some(e)) => {
                        let earlier: Vec<&str> = params.iter().map(|q| q.name.as_str()).collect();
                        Kind::Expr(Expr::parse(&p.name, e, &earlier).map_err(|e| {
                            self.err(span.clone(), format!("{key}.expr"), e.to_string())
                        })?)
                    }
                    ("expr", None) => {
                        return Err(self.err(
                            span,
                            format!("{key}.expr"),
                            "an `expr` parameter needs `expr = \"...\"`",
                        ));
                    }
                    ("float" | "int" | "str", Some(_)) => {
                        return Err(self.err(
                            span,
                            format!("{key}.expr"),
                            "only parameters of type \"expr\" take `expr`",
                        ));
                    }
                    (other, _) => return Err(self.err(
                        span,
                        format!("{key}.type"),
                        format!(
                            "unknown type \"{}\"; expected \"float\", \"int\", \"str\" or \"expr\"",
                            other.escape_debug()
                        ),
                    )),
                };
            params.push(Parameter {
                name: p.name.clone(),
                kind,
            });
        }
        Ok(params)
    }

    fn block(
        &self,
        b: usize,
        set: &Spanned<BTreeMap<String, Spanned<toml::Value>>>,
        params: &[Parameter],
    ) -> Result<Block, ConfigError> {
        let table = set.get_ref();
        let key = |k: &str| format!("sets[{b}].{k}");
        let count = match table.get("count") {
            None => 1,
            Some(v) => match v.get_ref().as_integer() {
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
            Some(v) => v.get_ref().as_bool().ok_or_else(|| {
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
        for p in params {
            let entry = table.get(&p.name);
            let strategy = match (&p.kind, entry) {
                (Kind::Expr(_), None) => Strategy::Computed,
                (Kind::Expr(_), Some(v)) => return Err(self.err(Some(v.span()), key(&p.name), "an `expr` parameter is computed; it takes no strategy")),
                (_, None) => return Err(self.err(Some(set.span()), key(&p.name), format!(
                    "parameter `{}` has no strategy in this block; give it `value`, `random`, `choice`, `bayesian` or `bayesian_choice`", p.name
                ))),
                (kind, Some(v)) => self.strategy(v, &key(&p.name), kind)?,
            };
            strategies.push(strategy);
        }
        Ok(Block {
            count,
            prevent_duplicate,
            strategies,
        })
    }

    fn strategy(
        &self,
        v: &Spanned<toml::Value>,
        key: &str,
        kind: &Kind,
    ) -> Result<Strategy, ConfigError> {
        let span = Some(v.span());
        let fail = |problem: String| self.err(span.clone(), key, problem);
        let raw: RawStrategy = match v.get_ref() {
            toml::Value::Table(_) => v
                .get_ref()
                .clone()
                .try_into()
                .map_err(|e: toml::de::Error| fail(e.message().trim().to_string()))?,
            plain => RawStrategy {
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
        let integer = matches!(kind, Kind::Int);
        let round = match raw.round {
            None => None,
            Some(r @ 0..=15) => Some(r as u32),
            Some(r) => return Err(fail(format!("`round = {r}`: expected 0 to 15 digits"))),
        };
        let range = |bounds: &[f64], log: bool| -> Result<Range, ConfigError> {
            if matches!(kind, Kind::Str) {
                return Err(fail(
                    "a `str` parameter takes `value`, `choice` or `bayesian_choice`, not bounds"
                        .into(),
                ));
            }
            let [lo, hi] = bounds else {
                return Err(fail(format!(
                    "bounds need two numbers [low, high], got {}",
                    bounds.len()
                )));
            };
            if !lo.is_finite() || !hi.is_finite() {
                return Err(fail(format!("bounds [{lo}, {hi}] must be finite")));
            }
            if lo >= hi {
                return Err(fail(format!(
                    "bounds [{lo}, {hi}] are reversed or empty; low must be below high"
                )));
            }
            if log && *lo <= 0.0 {
                return Err(fail(format!(
                    "log-scale bounds must be positive, got [{lo}, {hi}]"
                )));
            }
            if integer && lo.ceil() > hi.floor() {
                return Err(fail(format!("bounds [{lo}, {hi}] hold no whole number")));
            }
            Ok(Range {
                lo: *lo,
                hi: *hi,
                log,
                round,
                integer,
            })
        };
        if raw.distribution.is_some() && raw.random.is_none() {
            return Err(fail("`distribution` goes with `random`".into()));
        }
        if raw.log.is_some() && raw.bayesian.is_none() {
            return Err(fail(
                "`log` goes with `bayesian`; use `distribution = \"log-uniform\"` with `random`"
                    .into(),
            ));
        }
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
            let log = match raw.distribution.as_deref() {
                None | Some("uniform") => false,
                Some("log-uniform") => true,
                Some(other) => {
                    return Err(fail(format!(
                        "unknown distribution \"{}\"; expected \"uniform\" or \"log-uniform\"",
                        other.escape_debug()
                    )));
                }
            };
            return Ok(Strategy::Random(range(b, log)?));
        }
        if let Some(b) = &raw.bayesian {
            return Ok(Strategy::Bayesian(range(b, raw.log.unwrap_or(false))?));
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
        let direction = match raw.direction.as_str() {
            "minimize" => Direction::Minimize,
            "maximize" => Direction::Maximize,
            other => {
                return Err(self.err(
                    None,
                    "objective.direction",
                    format!(
                        "\"{}\" is neither \"minimize\" nor \"maximize\"",
                        other.escape_debug()
                    ),
                ));
            }
        };
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
        let given = usize::from(raw.builtin.is_some())
            + usize::from(raw.command.is_some())
            + usize::from(raw.custom);
        if given != 1 {
            return Err(self.err(
                None,
                "objective",
                "give exactly one of `builtin = \"...\"`, `command = [...]` or `custom = true`",
            ));
        }
        let kind = match (&raw.builtin, &raw.command) {
            (None, None) => ObjectiveKind::Custom,
            (Some(_), Some(_)) => {
                return Err(self.err(
                    None,
                    "objective",
                    "give either `builtin` or `command`, not both",
                ));
            }
            (Some(name), None) => {
                let names: Vec<&str> = Builtin::ALL.iter().map(|b| b.name()).collect();
                let function = Builtin::from_name(name).ok_or_else(|| {
                    self.err(
                        None,
                        "objective.builtin",
                        format!(
                            "unknown builtin \"{}\"; expected one of {}",
                            name.escape_debug(),
                            names.join(", ")
                        ),
                    )
                })?;
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
                if let Some(delay) = raw.delay_s {
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
                ObjectiveKind::Builtin {
                    function,
                    delay: raw.delay_s,
                }
            }
            (None, Some(cmd)) => {
                if raw.delay_s.is_some() {
                    return Err(self.err(
                        None,
                        "objective.delay_s",
                        "`delay_s` applies to builtin objectives only",
                    ));
                }
                let argv = match cmd {
                    CommandLine::Argv(v) => v.clone(),
                    CommandLine::Line(s) => shell_words::split(s).map_err(|e| {
                        self.err(
                            None,
                            "objective.command",
                            format!("cannot split the command line: {e}"),
                        )
                    })?,
                };
                if argv.is_empty() || argv[0].is_empty() {
                    return Err(self.err(None, "objective.command", "the command is empty"));
                }
                for arg in &argv {
                    for name in crate::objective::command::placeholders(arg) {
                        let known = space.parameters.iter().any(|p| p.name == name)
                            || crate::objective::command::BUILTIN_PLACEHOLDERS.contains(&name);
                        if !known {
                            return Err(self.err(None, "objective.command", format!(
                                "`{{{name}}}` in `{arg}` is not a parameter name nor one of {{index}}, {{worker_dir}}, {{config_dir}}, {{experiment_dir}}"
                            )));
                        }
                    }
                }
                if crate::sys::find_program(&argv[0], config_dir).is_none() {
                    return Err(self.err(
                        None,
                        "objective.command",
                        format!(
                            "program `{}` not found (looked in {} and on PATH)",
                            argv[0],
                            config_dir.display()
                        ),
                    ));
                }
                ObjectiveKind::Command { argv }
            }
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
        Ok(ObjectiveSpec {
            kind,
            direction,
            timeout,
            retries: raw.retries,
            result_file: raw.result_file.clone(),
            result_key: raw.result_key.clone(),
            kill_grace: std::time::Duration::from_secs_f64(raw.kill_grace_s),
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
        let command = matches!(objective, ObjectiveKind::Command { .. });
        let provide_worker_path = c.provide_worker_path.unwrap_or(command);
        let redirect_stdout = c.redirect_stdout.unwrap_or(command && provide_worker_path);
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
        })
    }

    fn bayesian(&self, b: &BayesOptions) -> Result<(), ConfigError> {
        if !["ei", "lcb"].contains(&b.acquisition.as_str()) {
            return Err(self.err(
                None,
                "bayesian.acquisition",
                format!(
                    "\"{}\": expected \"ei\" or \"lcb\"",
                    b.acquisition.escape_debug()
                ),
            ));
        }
        let pending = [
            "kriging_believer",
            "constant_liar_min",
            "constant_liar_mean",
            "constant_liar_max",
            "ignore",
        ];
        if !pending.contains(&b.pending.as_str()) {
            return Err(self.err(
                None,
                "bayesian.pending",
                format!(
                    "\"{}\": expected one of {}",
                    b.pending.escape_debug(),
                    pending.join(", ")
                ),
            ));
        }
        if !(b.kappa.is_finite() && b.kappa >= 0.0) {
            return Err(self.err(None, "bayesian.kappa", "expected a number >= 0"));
        }
        Ok(())
    }
}

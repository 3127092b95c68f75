//! The experiment definition: TOML text -> [`raw`] structs (the file as written, closed choices
//! already enums) -> [`validate`] -> a checked [`Definition`], and [`Programs`]: the programs it
//! names, found on the file system in a separate step.
//!
//! Every check happens before anything is created or started. Parsing and validating only
//! read the text; looking programs up is [`Programs::find`], which the commands call after
//! parsing and before any work (ripgrep's low-level arguments -> high-level arguments).
//! Errors name the file, the key (with line and column where the parser knows them) and what
//! was expected.

pub(crate) mod raw;
mod validate;

#[cfg(test)]
mod tests;

pub use raw::Delay;

use crate::acquisition::options::BayesOptions;
use crate::objective::builtin::Builtin;
use crate::space::Space;
use raw::RawConfig;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

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

/// Whether results are minimized or maximized (`[objective] direction`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    #[default]
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

    /// The word of the configuration (`minimize`, `maximize`).
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Minimize => "minimize",
            Direction::Maximize => "maximize",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one declared output (`[[objective.outputs]]`) is for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Goal {
    /// Optimized in this direction (one of the objectives of the Pareto front).
    Objective(Direction),
    /// Not optimized: must lie within `min..=max` (either bound may be absent, not both).
    Constraint { min: Option<f64>, max: Option<f64> },
}

/// One declared output: a named result the objective returns, and its column of results.csv.
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    pub name: String,
    pub goal: Goal,
}

impl Output {
    /// Whether `value` satisfies this output's constraint (always, for an objective).
    pub fn holds(&self, value: f64) -> bool {
        match self.goal {
            Goal::Objective(_) => true,
            Goal::Constraint { min, max } => {
                min.is_none_or(|m| value >= m) && max.is_none_or(|m| value <= m)
            }
        }
    }

    /// The direction of an objective output; `None` for a constraint.
    pub fn direction(&self) -> Option<Direction> {
        match self.goal {
            Goal::Objective(d) => Some(d),
            Goal::Constraint { .. } => None,
        }
    }
}

/// A plot, by the name of its files, of `hpo plot --only` and of `[monitor] plots`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum PlotName {
    #[serde(rename = "plot_3d")]
    #[value(name = "plot_3d")]
    Plot3d,
    ResultEvolution,
    WorkerTimeline,
    ParameterCombination,
    LearningCurves,
    /// With declared outputs only (unless asked for by name).
    ParetoFront,
}

impl PlotName {
    /// Every plot, in the order they are drawn.
    pub const ALL: [PlotName; 6] = [
        PlotName::Plot3d,
        PlotName::ResultEvolution,
        PlotName::WorkerTimeline,
        PlotName::ParameterCombination,
        PlotName::LearningCurves,
        PlotName::ParetoFront,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PlotName::Plot3d => "plot_3d",
            PlotName::ResultEvolution => "result_evolution",
            PlotName::WorkerTimeline => "worker_timeline",
            PlotName::ParameterCombination => "parameter_combination",
            PlotName::LearningCurves => "learning_curves",
            PlotName::ParetoFront => "pareto_front",
        }
    }
}

impl fmt::Display for PlotName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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
    /// `CUDA_VISIBLE_DEVICES` to the objective (and the `gpu` column), and `OMP_NUM_THREADS`:
    /// an inherited value, else the cores Slurm gave the task, else the CPUs of the worker's
    /// affinity mask, shared between the node's workers when the launcher bound none (see
    /// docs/mpi.md).
    pub gpus_per_worker: Option<usize>,
    /// GPUs of each node, numbered 0..G-1, when `CUDA_VISIBLE_DEVICES` is not inherited
    /// (MPI back end; see `gpus_per_worker`).
    pub gpus_per_node: Option<usize>,
    /// This many failed (or timed out) rows in a row, with no `ok` row between, stop the
    /// dispatching of new sets (the running ones finish); 0: never stop.
    pub max_consecutive_failures: u32,
}

/// The default of `[compute] max_consecutive_failures`.
pub const MAX_CONSECUTIVE_FAILURES: u32 = 10;

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
            max_consecutive_failures: MAX_CONSECUTIVE_FAILURES,
        }
    }
}

/// The `[monitor]` table: what runs on the master as results arrive.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorOptions {
    /// Plots regenerated by the hooks; empty: none.
    pub plots: Vec<PlotName>,
    /// Regenerate the plots every this many results (0: never on a count).
    pub plot_every: usize,
    /// Regenerate the plots on each new best result.
    pub plot_on_best: bool,
    /// Regenerate the plots once at the end of the run.
    pub plot_at_end: bool,
    /// A command run with each new result (its row as JSON on stdin and in `HPO_ROW`); never
    /// empty once validated.
    pub on_result: Option<Vec<String>>,
    /// plot_3d's horizontal parameter (default: the first numeric one); a parameter name once
    /// validated. Also the default of `hpo plot` and `hpo report`.
    pub plot_x: Option<String>,
    /// plot_3d's vertical parameter (default: the second numeric one).
    pub plot_y: Option<String>,
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
    /// A Python function, imported once per worker and called for every set.
    Python {
        /// The module's file, absolute.
        file: PathBuf,
        function: String,
        /// `python_executable` as written; `None`: `$HPO_PYTHON`, else `python3`.
        executable: Option<String>,
    },
    /// A Rust function given through the library API.
    Custom,
}

/// The checked `[objective]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectiveSpec {
    pub kind: ObjectiveKind,
    /// The direction of the `result` column: `direction`, or with declared outputs the first
    /// objective output's (whose value `result` then holds).
    pub direction: Direction,
    /// The declared outputs (`[[objective.outputs]]`), in declared order; empty when the
    /// objective returns one result.
    pub outputs: Vec<Output>,
    pub timeout: Option<std::time::Duration>,
    pub retries: u32,
    pub result_file: Option<String>,
    pub result_key: Option<String>,
    pub kill_grace: std::time::Duration,
}

/// A checked experiment definition.
#[derive(Clone, Debug)]
pub struct Definition {
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
    /// The `[pruning]` table: which rule stops sets early (none: reports are only recorded).
    pub pruning: Option<crate::prune::PruningOptions>,
    /// Where the text came from (named in errors of later steps).
    pub file: PathBuf,
    raw: RawConfig,
}

impl Definition {
    /// The direction reported values are judged in: that of the output `[pruning] output`
    /// names, else the `result` column's.
    pub fn report_direction(&self) -> Direction {
        let named = self.pruning.as_ref().and_then(|p| p.output.as_ref());
        named
            .and_then(|name| self.objective.outputs.iter().find(|o| &o.name == name))
            .and_then(Output::direction)
            .unwrap_or(self.objective.direction)
    }

    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Definition, ConfigError> {
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
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let config_dir = std::path::absolute(&config_dir).unwrap_or(config_dir);
        Definition::parse(&source, path, &config_dir)
    }

    /// Checks configuration text; `file` names it in errors, `config_dir` anchors paths. Reads
    /// nothing from the file system.
    pub fn parse(source: &str, file: &Path, config_dir: &Path) -> Result<Definition, ConfigError> {
        let raw = raw::parse(source, file)?;
        validate::Validator::new(source, file).definition(raw, config_dir)
    }

    /// What makes `given` another experiment than `self` (the one stored in a folder), key by
    /// key; empty when `given` may run in that folder. It may grow `self` (append `[[sets]]`
    /// blocks, raise a block's `count`) and change what changes no drawn value and no stored
    /// row: `timeout_s`, `retries`, `kill_grace_s`, `[compute]`, `[monitor]`, `[bayesian]`,
    /// and the folder (`experiment.dir`, which `--dir` may override anyway).
    pub fn refused_changes(&self, given: &Definition) -> Vec<KeyChange> {
        let (mut stored, mut new) = (growth_view(&self.raw), growth_view(&given.raw));
        let mut changes = Vec::new();
        let (stored_sets, new_sets) = (take_sets(&mut stored), take_sets(&mut new));
        diff_json("", &stored, &new, &mut changes);
        for (b, old) in stored_sets.iter().enumerate() {
            let key = format!("sets[{b}]");
            let Some(now) = new_sets.get(b) else {
                changes.push(KeyChange {
                    key,
                    stored: "a block".into(),
                    given: "no block (blocks can be appended, not removed)".into(),
                });
                continue;
            };
            diff_json(&key, old, now, &mut changes);
            let (was, is) = (self.space.blocks[b].count, given.space.blocks[b].count);
            if is < was {
                changes.push(KeyChange {
                    key: format!("{key}.count"),
                    stored: was.to_string(),
                    given: format!("{is} (a count can be raised, not lowered)"),
                });
            }
        }
        changes
    }
    /// The sets of the parameter table (every block's `count`).
    pub fn total_sets(&self) -> usize {
        self.space.blocks.iter().map(|b| b.count).sum()
    }

    fn error(&self, key: &str, problem: String) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            at: None,
            key: key.into(),
            problem,
        }
    }
}

/// A key whose value differs between the definition stored in an experiment folder and the
/// one given, in a way that makes the given one another experiment.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyChange {
    /// The key as a path (`sets[0].x.random`, `objective.command`).
    pub key: String,
    /// The stored value, short.
    pub stored: String,
    /// The given value, short.
    pub given: String,
}

impl fmt::Display for KeyChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` was {}, is {}", self.key, self.stored, self.given)
    }
}

/// The raw configuration as JSON, without what may change between runs of one experiment.
fn growth_view(raw: &RawConfig) -> serde_json::Value {
    let mut v = serde_json::to_value(raw).unwrap_or_default();
    if let Some(map) = v.as_object_mut() {
        for free in ["compute", "monitor", "bayesian"] {
            map.remove(free);
        }
        if let Some(exp) = map.get_mut("experiment").and_then(|e| e.as_object_mut()) {
            exp.remove("dir");
        }
        if let Some(obj) = map.get_mut("objective").and_then(|e| e.as_object_mut()) {
            // The interpreter is where this machine keeps it (a resumed run may be on another).
            for free in ["timeout_s", "retries", "kill_grace_s", "python_executable"] {
                obj.remove(free);
            }
            // Without outputs, an unset direction is `minimize`, as it always was.
            if !obj.contains_key("outputs") && obj.get("direction").is_none_or(|d| d.is_null()) {
                obj.insert("direction".into(), Direction::Minimize.as_str().into());
            }
        }
    }
    v
}

/// Removes the `[[sets]]` blocks from a [`growth_view`], each without its `count` (compared
/// as validated, where a missing `count` is 1).
fn take_sets(view: &mut serde_json::Value) -> Vec<serde_json::Value> {
    let sets = view
        .as_object_mut()
        .and_then(|m| m.remove("sets"))
        .and_then(|s| match s {
            serde_json::Value::Array(blocks) => Some(blocks),
            _ => None,
        })
        .unwrap_or_default();
    sets.into_iter()
        .map(|mut block| {
            if let Some(m) = block.as_object_mut() {
                m.remove("count");
            }
            block
        })
        .collect()
}

/// Appends to `out` every key under `path` whose value differs between `a` and `b`: the
/// deepest key that differs (tables key by key, lists of tables of one length item by item).
fn diff_json(path: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<KeyChange>) {
    use serde_json::Value as J;
    if a == b {
        return;
    }
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match (a, b) {
        (J::Object(x), J::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let (p, q) = (
                    x.get(k.as_str()).unwrap_or(&J::Null),
                    y.get(k.as_str()).unwrap_or(&J::Null),
                );
                diff_json(&join(k), p, q, out);
            }
        }
        // Lists of tables item by item; a list of values (bounds, a command) is one value.
        (J::Array(x), J::Array(y)) if x.len() == y.len() && x.iter().chain(y).all(J::is_object) => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                diff_json(&format!("{path}[{i}]"), p, q, out);
            }
        }
        _ => out.push(KeyChange {
            key: path.to_string(),
            stored: short_json(a),
            given: short_json(b),
        }),
    }
}

/// A value for a message: compact JSON, at most 60 characters; "unset" for none.
fn short_json(v: &serde_json::Value) -> String {
    if v.is_null() {
        return "unset".into();
    }
    let text = v.to_string();
    if text.chars().count() <= 60 {
        text
    } else {
        format!("{}...", text.chars().take(57).collect::<String>())
    }
}

/// The programs a definition names, found on the file system once, after parsing and before
/// any work: a name with a `/` relative to the configuration's folder, a bare name on `PATH`.
/// Arguments are never looked at: a missing script is the evaluation's failure, not the
/// configuration's.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Programs {
    /// The `[monitor] on_result` hook's program.
    pub on_result: Option<PathBuf>,
}

impl Programs {
    /// Finds the objective command's program (each evaluation finds it again where it runs),
    /// a Python objective's interpreter (checking that it runs and that the file defines the
    /// function; each worker finds it again), and the `on_result` hook's program.
    pub fn find(def: &Definition) -> Result<Programs, ConfigError> {
        if let ObjectiveKind::Command { argv } = &def.objective.kind {
            let program = &argv[0];
            if crate::sys::find_program(program, &def.config_dir).is_none() {
                return Err(def.error(
                    "objective.command",
                    format!(
                        "program `{program}` not found (looked in {} and on PATH)",
                        def.config_dir.display()
                    ),
                ));
            }
        }
        if let ObjectiveKind::Python {
            file,
            function,
            executable,
        } = &def.objective.kind
        {
            check_python(def, file, function, executable.as_deref())?;
        }
        let on_result = match def.monitor.on_result.as_ref().and_then(|a| a.first()) {
            None => None,
            Some(program) => Some(
                crate::sys::find_program(program, &def.config_dir).ok_or_else(|| {
                    def.error(
                        "monitor.on_result",
                        format!(
                            "`{program}` is not an executable (a path with `/` is relative to {}, a bare name is looked up on PATH)",
                            def.config_dir.display()
                        ),
                    )
                })?,
            ),
        };
        Ok(Programs { on_result })
    }
}

/// A Python objective's interpreter must be found and run, and its file must define the
/// function (checked without importing it).
fn check_python(
    def: &Definition,
    file: &Path,
    function: &str,
    executable: Option<&str>,
) -> Result<(), ConfigError> {
    use crate::objective::interpreter::{self, Named};
    let (name, named) = interpreter::interpreter_name(executable);
    let (key, from) = match named {
        Named::Config => ("objective.python_executable", String::new()),
        Named::Environment => (
            "objective.python",
            format!(" (from ${})", interpreter::PYTHON_ENV),
        ),
        Named::Default => (
            "objective.python",
            format!(
                " (the default; name another with `python_executable` or ${})",
                interpreter::PYTHON_ENV
            ),
        ),
    };
    let python = crate::sys::find_program(&name, &def.config_dir).ok_or_else(|| {
        def.error(
            key,
            format!(
                "the Python interpreter `{name}`{from} was not found (a path with `/` is relative to {}, a bare name is looked up on PATH)",
                def.config_dir.display()
            ),
        )
    })?;
    interpreter::check(&python, file, function).map_err(|e| {
        let key = if e.is_interpreter() {
            key
        } else {
            "objective.python"
        };
        def.error(key, e.to_string())
    })
}

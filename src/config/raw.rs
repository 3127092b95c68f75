//! The configuration as written: plain serde structs mirroring the TOML file. Closed choices
//! (`direction`, a parameter's `type`, `distribution`, `acquisition`, `pending`, plot names,
//! the builtin's name) are enums from here on, so an unknown value never gets past parsing.
//!
//! Nothing here checks what the values mean together; [`super::validate`] does. A parse error
//! names the key at fault (`sets[1].x.distribution`), found from the parser's position.

use super::{ConfigError, Direction, MonitorOptions};
use crate::acquisition::options::BayesOptions;
use crate::objective::builtin::Builtin;
use crate::prune::PruningOptions;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use toml::Spanned;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub experiment: RawExperiment,
    pub objective: RawObjective,
    pub parameters: Vec<Spanned<RawParameter>>,
    pub sets: Vec<Spanned<RawBlock>>,
    #[serde(default)]
    pub compute: RawCompute,
    #[serde(default)]
    pub bayesian: BayesOptions,
    #[serde(default)]
    pub monitor: MonitorOptions,
    /// With several declared outputs, this table will name the one it judges.
    #[serde(default)]
    pub pruning: Option<PruningOptions>,
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
    pub builtin: Option<Builtin>,
    pub command: Option<CommandLine>,
    /// `"FILE:FUNCTION"`: a Python function, called in one live interpreter per worker.
    pub python: Option<String>,
    /// The interpreter of a `python` objective (default: `$HPO_PYTHON`, else `python3`).
    pub python_executable: Option<String>,
    /// The objective is a Rust function of the program running the experiment (library API).
    #[serde(default)]
    pub custom: bool,
    /// Unset: minimize (or, with `outputs`, each output's own).
    pub direction: Option<Direction>,
    /// `[[objective.outputs]]`: several named results, objectives and constraints; replaces
    /// `direction`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Vec<RawOutput>>,
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

/// One `[[objective.outputs]]` entry as written: an objective (`direction`) or a constraint
/// (`min`, `max`, or both).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutput {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

fn default_grace() -> f64 {
    2.0
}

/// `command = ["prog", "arg"]`, or one string split as a shell would (never run by one).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CommandLine {
    Argv(Vec<String>),
    Line(String),
}

/// `delay_s = 0.05` or `delay_s = [0.01, 0.1]`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Delay {
    Fixed(f64),
    Uniform([f64; 2]),
}

/// A parameter's declared `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    Float,
    Int,
    Str,
    Expr,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawParameter {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ParamType,
    pub expr: Option<String>,
    /// A condition over earlier parameters: the parameter exists only where it is true.
    pub when: Option<String>,
}

/// One `[[sets]]` table: `count`, `prevent_duplicate` and one entry per parameter name (the
/// names are the user's, so the table stays a map; the validator knows which keys are which).
pub type RawBlock = BTreeMap<String, Spanned<RawEntry>>;

/// One entry of a `[[sets]]` table: a strategy table (`{ random = [-5, 5], round = 3 }`) or a
/// plain value (`x = 3`, and `count`, `prevent_duplicate`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum RawEntry {
    Strategy(RawStrategy),
    Plain(toml::Value),
}

/// A strategy table as written.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStrategy {
    pub value: Option<toml::Value>,
    pub random: Option<Vec<f64>>,
    pub distribution: Option<Distribution>,
    pub round: Option<i64>,
    pub choice: Option<Vec<toml::Value>>,
    pub bayesian: Option<Vec<f64>>,
    pub log: Option<bool>,
    pub bayesian_choice: Option<Vec<toml::Value>>,
}

/// How `random` draws a number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Distribution {
    #[default]
    Uniform,
    LogUniform,
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
    pub max_consecutive_failures: Option<u32>,
}

/// The key toml uses to hand a date-time to serde as a one-entry map.
const TOML_DATETIME: &str = "$__toml_private_datetime";

impl<'de> Deserialize<'de> for RawEntry {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<RawEntry, D::Error> {
        d.deserialize_any(EntryVisitor)
    }
}

/// A table becomes a [`RawStrategy`] read straight from the parser, so its errors keep their
/// position (and name their key); anything else is a plain value.
struct EntryVisitor;

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = RawEntry;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a value or a strategy table")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawEntry, A::Error> {
        let Some(first) = map.next_key::<String>()? else {
            return Ok(RawEntry::Strategy(RawStrategy::default()));
        };
        if first == TOML_DATETIME {
            return Err(de::Error::custom("a date or time is not a parameter value"));
        }
        let replay = Replay {
            first: Some(first),
            rest: map,
        };
        RawStrategy::deserialize(de::value::MapAccessDeserializer::new(replay))
            .map(RawEntry::Strategy)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<RawEntry, A::Error> {
        toml::Value::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(RawEntry::Plain)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawEntry, E> {
        Ok(RawEntry::Plain(toml::Value::Boolean(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawEntry, E> {
        Ok(RawEntry::Plain(toml::Value::Integer(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawEntry, E> {
        i64::try_from(v)
            .map(|v| RawEntry::Plain(toml::Value::Integer(v)))
            .map_err(|_| E::custom(format!("{v} is out of range")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawEntry, E> {
        Ok(RawEntry::Plain(toml::Value::Float(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawEntry, E> {
        Ok(RawEntry::Plain(toml::Value::String(v.to_string())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<RawEntry, E> {
        Ok(RawEntry::Plain(toml::Value::String(v)))
    }
}

/// A map whose first key was already read (to tell a date-time from a strategy table).
struct Replay<A> {
    first: Option<String>,
    rest: A,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Replay<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        match self.first.take() {
            Some(key) => seed.deserialize(key.into_deserializer()).map(Some),
            None => self.rest.next_key_seed(seed),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.rest.next_value_seed(seed)
    }
}

/// Parses configuration text into the raw structs. An error says where (line and column) and,
/// when the parser points at a key or a value, which key.
pub fn parse(source: &str, file: &Path) -> Result<RawConfig, ConfigError> {
    toml::from_str(source).map_err(|e| {
        let span = e.span();
        let at = span.as_ref().map(|s| line_col(source, s.start));
        let key = span.map(|s| key_at(source, &s)).unwrap_or_default();
        // serde's word for a value of a closed list is "variant"; users know values.
        let mut problem = e
            .message()
            .trim()
            .replacen("unknown variant", "unknown value", 1);
        if key.is_empty() {
            // Without a key the parser's message may not say where: quote the line.
            let line = at
                .and_then(|(l, _)| source.lines().nth(l - 1))
                .map(str::trim)
                .filter(|l| !l.is_empty());
            if let Some(line) = line {
                let line: String = line.chars().take(80).collect();
                problem.push_str(&format!(" (in `{line}`)"));
            }
        }
        ConfigError {
            file: file.to_path_buf(),
            at,
            key,
            problem,
        }
    })
}

/// 1-based line and column of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The dotted path (`sets[1].x.distribution`) of the deepest key or value of the document
/// whose text holds `span`; empty when none does (a syntax error, a whole-document problem).
pub fn key_at(source: &str, span: &Range<usize>) -> String {
    let Ok(doc) = toml::de::DeTable::parse(source) else {
        return String::new();
    };
    let mut path = String::new();
    find_in_table(doc.get_ref(), span, &mut path);
    path
}

fn holds(outer: Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end && outer.start < outer.end
}

fn find_in_table(table: &toml::de::DeTable, span: &Range<usize>, path: &mut String) -> bool {
    for (key, value) in table.iter() {
        let len = path.len();
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key.get_ref());
        if find_in_value(value, span, path) || holds(key.span(), span) {
            return true;
        }
        path.truncate(len);
    }
    false
}

fn find_in_value(
    value: &Spanned<toml::de::DeValue>,
    span: &Range<usize>,
    path: &mut String,
) -> bool {
    use toml::de::DeValue;
    let deeper = match value.get_ref() {
        DeValue::Table(t) => find_in_table(t, span, path),
        DeValue::Array(items) => items.iter().enumerate().any(|(i, item)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let found = find_in_value(item, span, path);
            if !found {
                path.truncate(len);
            }
            found
        }),
        _ => false,
    };
    deeper || holds(value.span(), span)
}

//! What an objective returns, turned into an [`Outcome`] the same way for every kind of
//! objective (a command's `hpo-result:` line or result file, a Python function's return
//! value, a Rust function's [`Reply`]):
//!
//! - a number is the result;
//! - a JSON object (a Python `dict`) holds the result under the result key (`result`, or
//!   `[objective] result_key`); every other key is a *metric*, kept as compact JSON object text
//!   in [`Outcome::metrics`] (the `metrics` column of results.csv).
//!
//! A missing or non-finite result is a `failed` outcome that names the key. Non-finite numbers
//! cannot be JSON numbers: a channel that must carry one (the Python objective's) sends it as
//! the string `"nan"`, `"inf"` or `"-inf"`, which reads back as that number here.

use super::Outcome;
use crate::config::ObjectiveSpec;
use serde_json::{Map, Value as Json};

/// The result key when the configuration names none.
pub const DEFAULT_RESULT_KEY: &str = "result";
/// Metrics longer than this (as JSON text) are refused: a row is not the place for an array.
pub const MAX_METRICS_BYTES: usize = 64 * 1024;

/// How a returned object is read: which key holds the result, or which keys hold the
/// declared outputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ResultSpec {
    pub key: String,
    /// The declared outputs' names, in declared order; empty: one result under `key`.
    pub outputs: Vec<String>,
    /// With outputs: the position of the one the `result` column holds (the first objective).
    pub result_output: usize,
}

impl ResultSpec {
    pub fn of(spec: &ObjectiveSpec) -> ResultSpec {
        ResultSpec {
            key: spec
                .result_key
                .clone()
                .unwrap_or_else(|| DEFAULT_RESULT_KEY.into()),
            outputs: spec.outputs.iter().map(|o| o.name.clone()).collect(),
            result_output: spec
                .outputs
                .iter()
                .position(|o| o.direction().is_some())
                .unwrap_or(0),
        }
    }
}

impl Default for ResultSpec {
    fn default() -> Self {
        ResultSpec {
            key: DEFAULT_RESULT_KEY.into(),
            outputs: Vec::new(),
            result_output: 0,
        }
    }
}

/// The one normalizer: a returned value (a number, or an object with the result and metrics)
/// as an outcome.
pub(crate) fn outcome_from_json(value: &Json, spec: &ResultSpec) -> Outcome {
    if !spec.outputs.is_empty() {
        return outputs_from_json(value, spec);
    }
    if let Some(v) = number(value) {
        return Outcome::ok(v);
    }
    let Json::Object(map) = value else {
        return Outcome::failed(format!(
            "the objective returned {}, neither a number nor an object with `{}`",
            short(value),
            spec.key
        ));
    };
    let result = match map.get(&spec.key) {
        None => {
            let keys: Vec<&str> = map.keys().map(String::as_str).collect();
            return Outcome::failed(format!(
                "the returned object has no `{}` key (its keys: {})",
                spec.key,
                if keys.is_empty() {
                    "none".into()
                } else {
                    keys.join(", ")
                }
            ));
        }
        Some(v) => match number(v) {
            Some(r) if r.is_finite() => r,
            Some(r) => return Outcome::failed(format!("`{}` is {r}", spec.key)),
            None => {
                return Outcome::failed(format!("`{}` is {}, not a number", spec.key, short(v)));
            }
        },
    };
    with_metrics(Outcome::ok(result), map, &[spec.key.as_str()])
}

/// `outcome` with every key of `map` but `taken` as its metrics (failed when they are too
/// long to store).
fn with_metrics(outcome: Outcome, map: &Map<String, Json>, taken: &[&str]) -> Outcome {
    let metrics: Map<String, Json> = map
        .iter()
        .filter(|(k, _)| !taken.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let text = if metrics.is_empty() {
        String::new()
    } else {
        serde_json::to_string(&metrics).unwrap_or_default()
    };
    if text.len() > MAX_METRICS_BYTES {
        return Outcome::failed(format!(
            "the metrics take {} bytes as JSON; at most {MAX_METRICS_BYTES} are stored with a row",
            text.len()
        ));
    }
    Outcome {
        metrics: text,
        ..outcome
    }
}

/// With declared outputs: an object holding each of them as a finite number; the `result`
/// is the first objective output's value.
fn outputs_from_json(value: &Json, spec: &ResultSpec) -> Outcome {
    let Json::Object(map) = value else {
        return Outcome::failed(format!(
            "the objective returned {}; with declared outputs it must return an object with {}",
            short(value),
            spec.outputs
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    let mut values = Vec::with_capacity(spec.outputs.len());
    for key in &spec.outputs {
        match map.get(key).map(|v| (v, number(v))) {
            None => {
                let keys: Vec<&str> = map.keys().map(String::as_str).collect();
                return Outcome::failed(format!(
                    "the returned object has no output `{key}` (its keys: {})",
                    if keys.is_empty() {
                        "none".into()
                    } else {
                        keys.join(", ")
                    }
                ));
            }
            Some((_, Some(v))) if v.is_finite() => values.push(v),
            Some((_, Some(v))) => return Outcome::failed(format!("output `{key}` is {v}")),
            Some((v, None)) => {
                return Outcome::failed(format!("output `{key}` is {}, not a number", short(v)));
            }
        }
    }
    let names: Vec<&str> = spec.outputs.iter().map(String::as_str).collect();
    let outcome = Outcome {
        outputs: values.clone(),
        ..Outcome::ok(values[spec.result_output.min(values.len() - 1)])
    };
    with_metrics(outcome, map, &names)
}

/// A value written as text (an `hpo-result:` line, a result file): a number (`0.93`, `nan`) or
/// a JSON object. `None` when it is neither.
pub(crate) fn outcome_from_text(text: &str, spec: &ResultSpec) -> Option<Outcome> {
    let text = text.trim();
    if let Ok(v) = text.parse::<f64>() {
        if !spec.outputs.is_empty() {
            return Some(outputs_from_json(&Json::String(text.into()), spec));
        }
        return Some(Outcome::ok(v));
    }
    match serde_json::from_str::<Json>(text) {
        Ok(v @ (Json::Object(_) | Json::Number(_))) => Some(outcome_from_json(&v, spec)),
        _ => None,
    }
}

/// A JSON number, or one of the strings a non-finite number travels as.
pub(crate) fn number(v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.parse::<f64>().ok().filter(|x| !x.is_finite()),
        _ => None,
    }
}

/// A value for a message: its JSON text, cut to 80 characters.
fn short(v: &Json) -> String {
    let text = v.to_string();
    match text.char_indices().nth(80) {
        Some((i, _)) => format!("`{}...`", &text[..i]),
        None => format!("`{text}`"),
    }
}

/// What a Rust objective returns through [`crate::main_with_trial`]: the result, and metrics
/// stored beside it. An `f64` converts into a reply without metrics.
///
/// ```
/// let reply = hpo::Reply::new(0.25).metric("accuracy", 0.93).metric("optimizer", "adam");
/// # let _ = reply;
/// ```
///
/// With declared outputs (`[[objective.outputs]]`), the reply names each of them:
///
/// ```
/// let reply = hpo::Reply::outputs([("val_error", 0.12), ("latency_ms", 3.5)]).metric("epochs", 20);
/// # let _ = reply;
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    result: f64,
    /// Declared outputs by name (non-finite values kept as they are).
    outputs: Vec<(String, f64)>,
    metrics: Map<String, Json>,
}

impl Reply {
    /// A reply whose result is `result`.
    pub fn new(result: f64) -> Reply {
        Reply {
            result,
            outputs: Vec::new(),
            metrics: Map::new(),
        }
    }

    /// A reply of declared outputs, by name (for an experiment with `[[objective.outputs]]`).
    pub fn outputs<K: Into<String>>(outputs: impl IntoIterator<Item = (K, f64)>) -> Reply {
        Reply {
            result: f64::NAN,
            outputs: outputs.into_iter().map(|(k, v)| (k.into(), v)).collect(),
            metrics: Map::new(),
        }
    }

    /// Adds (or replaces) the declared output `name`.
    pub fn output(mut self, name: impl Into<String>, value: f64) -> Reply {
        let name = name.into();
        self.outputs.retain(|(k, _)| *k != name);
        self.outputs.push((name, value));
        self
    }

    /// Adds a metric (a number, a string, a bool, or any JSON value), stored in the row's
    /// `metrics` column. A metric named like the result key fails the set.
    pub fn metric(mut self, name: impl Into<String>, value: impl Into<Json>) -> Reply {
        self.metrics.insert(name.into(), value.into());
        self
    }

    /// The reply as an outcome, through the same normalizer as every other objective's.
    pub(crate) fn outcome(&self, spec: &ResultSpec) -> Outcome {
        if !spec.outputs.is_empty() {
            return self.outputs_outcome(spec);
        }
        if let Some((name, _)) = self.outputs.first() {
            return Outcome::failed(format!(
                "the reply names the output `{name}`, but the configuration declares no `[[objective.outputs]]`"
            ));
        }
        if self.metrics.contains_key(&spec.key) {
            return Outcome::failed(format!(
                "the metric `{}` has the name of the result key; rename the metric",
                spec.key
            ));
        }
        if !self.result.is_finite() {
            return Outcome::ok(self.result);
        }
        let mut object = self.metrics.clone();
        object.insert(spec.key.clone(), Json::from(self.result));
        outcome_from_json(&Json::Object(object), spec)
    }
}

impl Reply {
    /// With declared outputs: the outputs and metrics as one object, read by the normalizer.
    /// A non-finite output travels as the string the normalizer reads back as that number.
    fn outputs_outcome(&self, spec: &ResultSpec) -> Outcome {
        if self.outputs.is_empty() {
            return Outcome::failed(format!(
                "the configuration declares outputs ({}); return them with `Reply::outputs` or `.output(name, value)`",
                spec.outputs.join(", ")
            ));
        }
        if let Some((name, _)) = self
            .outputs
            .iter()
            .find(|(k, _)| self.metrics.contains_key(k))
        {
            return Outcome::failed(format!(
                "`{name}` is both an output and a metric of the reply; rename the metric"
            ));
        }
        let mut object = self.metrics.clone();
        for (k, v) in &self.outputs {
            let value = if v.is_finite() {
                Json::from(*v)
            } else {
                Json::from(v.to_string().to_lowercase())
            };
            object.insert(k.clone(), value);
        }
        outcome_from_json(&Json::Object(object), spec)
    }
}

impl From<f64> for Reply {
    fn from(result: f64) -> Reply {
        Reply::new(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objective::Status;
    use serde_json::json;

    fn spec(key: &str) -> ResultSpec {
        ResultSpec {
            key: key.into(),
            ..ResultSpec::default()
        }
    }

    fn outputs(names: &[&str], result_output: usize) -> ResultSpec {
        ResultSpec {
            outputs: names.iter().map(|n| n.to_string()).collect(),
            result_output,
            ..ResultSpec::default()
        }
    }

    #[test]
    fn declared_outputs_are_read_by_name_and_other_keys_are_metrics() {
        let s = outputs(&["mem", "err", "lat"], 1);
        let o = outcome_from_json(&json!({"lat": 3, "err": 0.5, "mem": 12.5, "acc": 0.9}), &s);
        assert_eq!(o.status, Status::Ok, "{}", o.error);
        assert_eq!(o.outputs, vec![12.5, 0.5, 3.0]);
        assert_eq!(o.result, Some(0.5));
        assert_eq!(o.metrics, r#"{"acc":0.9}"#);
        let failed = |v: Json| {
            let o = outcome_from_json(&v, &s);
            assert_eq!(o.status, Status::Failed, "{v}");
            assert!(o.outputs.is_empty() && o.result.is_none());
            o.error
        };
        assert!(
            failed(json!({"err": 1, "lat": 2})).contains("no output `mem` (its keys: err, lat)")
        );
        assert!(failed(json!({"err": 1, "lat": 2, "mem": "nan"})).contains("output `mem` is NaN"));
        assert!(
            failed(json!({"err": 1, "lat": null, "mem": 1}))
                .contains("output `lat` is `null`, not a number")
        );
        assert!(failed(json!(0.5)).contains("must return an object with `mem`, `err`, `lat`"));
        // Text goes through the same path.
        let o = outcome_from_text(r#"{"err": 1, "lat": 2, "mem": 3}"#, &s).expect("object");
        assert_eq!(o.outputs, vec![3.0, 1.0, 2.0]);
        assert!(outcome_from_text("0.5", &s).is_some_and(|o| o.status == Status::Failed));
    }

    #[test]
    fn a_rust_reply_returns_outputs_by_name() {
        let s = outputs(&["err", "lat"], 0);
        let o = Reply::outputs([("lat", 2.0), ("err", 0.25)])
            .metric("n", 3)
            .outcome(&s);
        assert_eq!((o.status, o.result), (Status::Ok, Some(0.25)));
        assert_eq!(
            (o.outputs, o.metrics.as_str()),
            (vec![0.25, 2.0], r#"{"n":3}"#)
        );
        let o = Reply::outputs([("err", 1.0)])
            .output("lat", f64::INFINITY)
            .outcome(&s);
        assert!(o.error.contains("output `lat` is inf"), "{}", o.error);
        assert!(
            Reply::new(1.0)
                .outcome(&s)
                .error
                .contains("declares outputs (err, lat)")
        );
        let o = Reply::outputs([("err", 1.0), ("lat", 1.0)])
            .metric("lat", 2)
            .outcome(&s);
        assert!(o.error.contains("`lat` is both an output and a metric"));
        let one = ResultSpec::default();
        assert!(
            Reply::outputs([("err", 1.0)])
                .outcome(&one)
                .error
                .contains("declares no")
        );
    }

    #[test]
    fn a_number_is_the_result_and_other_keys_are_metrics() {
        let s = ResultSpec::default();
        let o = outcome_from_json(&json!(0.5), &s);
        assert_eq!(
            (o.status, o.result, o.metrics.as_str()),
            (Status::Ok, Some(0.5), "")
        );
        let o = outcome_from_json(&json!({"result": 2, "acc": 0.93, "name": "adam"}), &s);
        assert_eq!(o.result, Some(2.0));
        assert_eq!(o.metrics, r#"{"acc":0.93,"name":"adam"}"#);
        let o = outcome_from_json(&json!({"loss": 1.5, "result": 3}), &spec("loss"));
        assert_eq!(
            (o.result, o.metrics.as_str()),
            (Some(1.5), r#"{"result":3}"#)
        );
        // Only the result: no metrics.
        let o = outcome_from_json(&json!({"result": 1}), &s);
        assert_eq!(o.metrics, "");
    }

    #[test]
    fn a_missing_or_bad_result_fails_naming_the_key() {
        let s = ResultSpec::default();
        let failed = |v: Json, k: &str| {
            let o = outcome_from_json(&v, &spec(k));
            assert_eq!(o.status, Status::Failed, "{v}");
            assert!(o.result.is_none() && o.metrics.is_empty());
            o.error
        };
        assert!(failed(json!({"acc": 1}), "result").contains("no `result` key (its keys: acc)"));
        assert!(failed(json!({}), "loss").contains("no `loss` key (its keys: none)"));
        assert!(
            failed(json!({"result": "0.5"}), "result")
                .contains("`result` is `\"0.5\"`, not a number")
        );
        assert!(failed(json!({"result": null}), "result").contains("not a number"));
        assert!(failed(json!({"result": "nan"}), "result").contains("`result` is NaN"));
        assert!(failed(json!({"result": "-inf"}), "result").contains("is -inf"));
        assert!(failed(json!([1, 2]), "result").contains("returned `[1,2]`, neither"));
        assert!(failed(json!(true), "result").contains("neither a number"));
        assert!(failed(json!("inf"), "result").contains("returned inf"));
        let big = json!({"result": 1, "curve": vec![0.123456789; 20_000]});
        assert!(outcome_from_json(&big, &s).error.contains("at most 65536"));
    }

    #[test]
    fn text_is_a_number_or_a_json_object() {
        let s = ResultSpec::default();
        assert_eq!(
            outcome_from_text(" 1e-3 ", &s).map(|o| o.result),
            Some(Some(1e-3))
        );
        let o = outcome_from_text(r#"{"result": 4, "epochs": 7}"#, &s).expect("object");
        assert_eq!(
            (o.result, o.metrics.as_str()),
            (Some(4.0), r#"{"epochs":7}"#)
        );
        let nan = outcome_from_text("nan", &s).expect("a number");
        assert_eq!(nan.status, Status::Failed);
        assert!(outcome_from_text("done", &s).is_none());
        assert!(outcome_from_text("[1]", &s).is_none());
    }

    #[test]
    fn a_rust_reply_goes_through_the_same_normalizer() {
        let s = spec("loss");
        let o = Reply::new(0.25)
            .metric("acc", 0.9)
            .metric("opt", "sgd")
            .outcome(&s);
        assert_eq!(
            (o.result, o.metrics.as_str()),
            (Some(0.25), r#"{"acc":0.9,"opt":"sgd"}"#)
        );
        assert_eq!(Reply::from(3.0).outcome(&s).metrics, "");
        let o = Reply::new(f64::NAN).metric("acc", 1).outcome(&s);
        assert_eq!(o.status, Status::Failed);
        let o = Reply::new(1.0).metric("loss", 2).outcome(&s);
        assert!(
            o.error.contains("`loss` has the name of the result key"),
            "{}",
            o.error
        );
    }
}

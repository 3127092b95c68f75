//! End-to-end tests of declared outputs (`[[objective.outputs]]`): a command, a Python
//! function and a Rust function returning several named outputs on the local pool and under
//! `mpirun`, the `feasible` and output columns, failed rows for a missing output, `hpo status`,
//! `hpo best` and `hpo plot pareto_front`, resume, and the configurations refused.

mod common;

use common::*;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

/// Outputs `err` and `cost` (both minimized, in tension along x) and the constraint `mem`
/// (`|x| <= 3`), then `extra` (more tables).
const OUTPUTS: &str = r#"
[[objective.outputs]]
name = "err"
direction = "minimize"
[[objective.outputs]]
name = "cost"
direction = "minimize"
[[objective.outputs]]
name = "mem"
max = 3
"#;

/// A command (awk) that prints the three outputs and a metric; set `x = 7` leaves `mem` out.
const AWK: &str = r#"BEGIN { x = {x}; y = {y}; if (x == 7) { printf "hpo-result: {\"err\": 1, \"cost\": 2}\n"; exit }
  printf "hpo-result: {\"err\": %.17g, \"cost\": %.17g, \"mem\": %.17g, \"tag\": \"t\"}\n", (x-1)^2 + y*y, (x+1)^2 + y*y, (x < 0 ? -x : x) }"#;

/// An experiment in folder `exp` with x in [-5, 5] (integers: random, floats: Bayesian) and
/// y, whose objective is `objective` (TOML lines).
fn config(objective: &str, random: usize, bayesian: usize) -> String {
    format!(
        r#"[experiment]
dir = "exp"
seed = 11
[objective]
{objective}
{OUTPUTS}
[[parameters]]
name = "x"
type = "float"
[[parameters]]
name = "y"
type = "float"
[[sets]]
count = {random}
x = {{ random = [-5, 5], round = 0 }}
y = {{ random = [-1, 1], round = 2 }}
[[sets]]
count = {bayesian}
x = {{ bayesian = [-5, 5] }}
y = {{ bayesian = [-1, 1] }}
"#
    )
}

fn awk_objective() -> String {
    format!("command = [\"awk\", {AWK:?}]")
}

fn num(row: &HashMap<String, String>, key: &str) -> f64 {
    row[key]
        .parse()
        .unwrap_or_else(|_| panic!("`{key}` of {row:?}"))
}

/// Checks every row of the experiment in `dir` against the objective `err = (x-1)^2 + y^2`,
/// `cost = (x+1)^2 + y^2`, `mem = |x|`: ok rows have the outputs, `result` = `err`, and
/// `feasible` says whether `mem <= 3`; a row of `x = 7` (if any) failed naming `mem`.
fn check_rows(dir: &Path, n: usize) -> Vec<HashMap<String, String>> {
    let results = dir.join("results.csv");
    let header = std::fs::read_to_string(&results)
        .expect("results")
        .lines()
        .next()
        .map(String::from)
        .unwrap_or_default();
    assert!(
        header.ends_with(",error,metrics,step,feasible,err,cost,mem"),
        "{header}"
    );
    let rows = rows(&results);
    assert_each_index_once(&rows, n);
    for r in &rows {
        let (x, y) = (num(r, "x"), num(r, "y"));
        if r["status"] == "failed" {
            assert!(r["error"].contains("no output `mem`"), "{r:?}");
            assert_eq!((r["feasible"].as_str(), r["err"].as_str()), ("", ""));
            continue;
        }
        assert_eq!(r["status"], "ok", "{r:?}");
        let err = (x - 1.0).powi(2) + y * y;
        assert!((num(r, "err") - err).abs() < 1e-9, "{r:?}");
        assert!((num(r, "cost") - ((x + 1.0).powi(2) + y * y)).abs() < 1e-9);
        assert!((num(r, "mem") - x.abs()).abs() < 1e-9);
        assert!(
            (num(r, "result") - err).abs() < 1e-9,
            "result holds err: {r:?}"
        );
        let feasible = if x.abs() <= 3.0 { "true" } else { "false" };
        assert_eq!(r["feasible"], feasible, "{r:?}");
    }
    rows
}

/// `hpo best --format json`: an array of `{index, outputs, params}`, each a feasible ok row
/// that no other feasible ok row dominates in (err, cost).
fn check_best(dir: &Path, rows: &[HashMap<String, String>]) {
    let out = run(&["best", dir.to_str().unwrap(), "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let front: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let front = front.as_array().expect("an array");
    assert!(!front.is_empty());
    let feasible: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| r["feasible"] == "true")
        .map(|r| (num(r, "err"), num(r, "cost")))
        .collect();
    for set in front {
        let keys: Vec<&str> = set
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["index", "outputs", "params"]);
        let o = &set["outputs"];
        // The set's own row gives its exact outputs (the JSON parser here may round the last
        // digit, so a set could seem dominated by its own row); the JSON agrees with it.
        let row = rows
            .iter()
            .find(|r| r["index"].parse::<u64>().ok() == set["index"].as_u64())
            .expect("the set's row");
        let (e, c) = (num(row, "err"), num(row, "cost"));
        for (name, v) in [("err", e), ("cost", c)] {
            let json = o[name].as_f64().unwrap();
            assert!(
                (json - v).abs() <= 1e-12 * v.abs().max(1e-300),
                "{name}: {json} {v}"
            );
        }
        assert!(o["mem"].as_f64().unwrap() <= 3.0);
        assert!(set["params"]["x"].is_number() && set["params"]["y"].is_number());
        assert!(
            !feasible
                .iter()
                .any(|&(a, b)| a <= e && b <= c && (a < e || b < c)),
            "set {} is dominated",
            set["index"]
        );
    }
    let args = run(&["best", dir.to_str().unwrap(), "--format", "args"]);
    assert_eq!(
        String::from_utf8_lossy(&args.stdout).lines().count(),
        front.len()
    );
    let toml = run(&["best", dir.to_str().unwrap(), "--format", "toml"]);
    assert_eq!(
        String::from_utf8_lossy(&toml.stdout)
            .matches("[[sets]]")
            .count(),
        front.len()
    );
}

#[test]
fn a_command_returns_several_outputs_and_the_front_is_shown() {
    let tmp = tempfile::tempdir().unwrap();
    let hook =
        "[monitor]\non_result = [\"sh\", \"-c\", \"cat >> rows.jsonl; echo >> rows.jsonl\"]\n";
    let text = config(&awk_objective(), 14, 8) + hook;
    let path = write_config(tmp.path(), "c.toml", &text);
    let out = run(&["run", path.to_str().unwrap(), "-p", "2", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = tmp.path().join("exp");
    let rows = check_rows(&dir, 22);
    // The hook's rows carry the outputs and feasibility.
    let hooked = std::fs::read_to_string(dir.join("rows.jsonl")).unwrap_or_default();
    let hooked: Vec<serde_json::Value> = hooked
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a JSON row"))
        .collect();
    assert_eq!(hooked.len(), 22);
    for h in &hooked {
        match h["status"].as_str() {
            Some("ok") => {
                assert!(
                    h["outputs"]["err"].is_number() && h["feasible"].is_boolean(),
                    "{h}"
                )
            }
            _ => assert!(
                h["outputs"] == serde_json::json!({}) && h["feasible"].is_null(),
                "{h}"
            ),
        }
    }
    assert!(
        rows.iter().any(|r| r["feasible"] == "false"),
        "some infeasible"
    );
    // Other keys are metrics.
    let ok = rows.iter().find(|r| r["status"] == "ok").unwrap();
    assert_eq!(ok["metrics"], r#"{"tag":"t"}"#);
    // Bayesian rows name the scalarization's weights and the constraint model.
    let bayes: Vec<_> = rows.iter().filter(|r| r["bayesian"] == "true").collect();
    assert_eq!(bayes.len(), 8);
    assert!(
        bayes
            .iter()
            .any(|r| r["note"].contains("parego weights err=")
                && r["note"].contains("constraint model")),
        "{bayes:?}"
    );
    check_best(&dir, &rows);
    // status: text and JSON.
    let out = run(&["status", dir.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("pareto front: "), "{text}");
    let out = run(&["status", dir.to_str().unwrap(), "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let infeasible = rows.iter().filter(|r| r["feasible"] == "false").count();
    assert_eq!(status["outputs"]["infeasible"], infeasible);
    assert_eq!(
        status["outputs"]["infeasible_rows"]
            .as_array()
            .map(Vec::len),
        Some(infeasible)
    );
    assert!(
        !status["outputs"]["pareto_front"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // The plot, and the report with it.
    let out = run(&["plot", dir.to_str().unwrap(), "--only", "pareto_front"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for ext in ["png", "svg"] {
        let f = dir.join("plots").join(format!("pareto_front.{ext}"));
        assert!(std::fs::metadata(&f).is_ok_and(|m| m.len() > 1000), "{f:?}");
    }
    let out = run(&["report", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap_or_default();
    assert!(
        html.contains("id=\"pareto_front\""),
        "the report shows the front"
    );
    assert!(html.contains("<h2>Pareto front ("), "and lists it");
}

#[test]
fn one_model_per_objective_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let text =
        config(&awk_objective(), 10, 5) + "[bayesian]\nmulti_objective = \"per_objective\"\n";
    let path = write_config(tmp.path(), "c.toml", &text);
    let out = run(&["run", path.to_str().unwrap(), "-p", "2", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = tmp.path().join("exp");
    let rows = check_rows(&dir, 15);
    let bayes: Vec<_> = rows.iter().filter(|r| r["bayesian"] == "true").collect();
    assert_eq!(bayes.len(), 5);
    for r in &bayes {
        assert!(
            r["note"].contains("gp per objective (2)")
                && r["note"].contains("constraint model")
                && r["note"].contains("parego weights err="),
            "{r:?}"
        );
    }
    check_best(&dir, &rows);
}

#[test]
fn a_resumed_run_keeps_the_outputs_and_another_set_of_outputs_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let path = write_config(tmp.path(), "c.toml", &config(&awk_objective(), 10, 4));
    let out = run(&["run", path.to_str().unwrap(), "-p", "2", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = tmp.path().join("exp");
    let results = dir.join("results.csv");
    // As a run stopped after 9 rows would have left it.
    let text = std::fs::read_to_string(&results).unwrap();
    let kept: Vec<&str> = text.lines().take(10).collect();
    std::fs::write(&results, kept.join("\n") + "\n").unwrap();
    let out = run(&["run", path.to_str().unwrap(), "-p", "2", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = check_rows(&dir, 14);
    check_best(&dir, &rows);
    // Renaming an output makes another experiment.
    let other = std::fs::read_to_string(&path)
        .unwrap()
        .replace("name = \"cost\"", "name = \"price\"");
    std::fs::write(&path, other).unwrap();
    let before = std::fs::read(&results).unwrap();
    let out = run(&["run", path.to_str().unwrap(), "-q"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("objective.outputs[1].name"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&results).unwrap(), before);
}

#[test]
fn a_python_function_returns_its_outputs_in_a_dict() {
    if !runs("python3", "HPO_REQUIRE_PYTHON") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("mo.py"),
        "def objective(p):\n    x, y = p['x'], p['y']\n    if x == 7:\n        return {'err': 1.0, 'cost': 2.0}\n    return {'err': (x - 1) ** 2 + y * y, 'cost': (x + 1) ** 2 + y * y, 'mem': abs(x), 'tag': 't'}\n",
    )
    .unwrap();
    let objective = "python = \"{config_dir}/mo.py:objective\"";
    let path = write_config(tmp.path(), "c.toml", &config(objective, 10, 6));
    let out = run(&["run", path.to_str().unwrap(), "-p", "2", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = check_rows(&tmp.path().join("exp"), 16);
    check_best(&tmp.path().join("exp"), &rows);
}

#[test]
fn a_rust_function_returns_its_outputs_in_a_reply() {
    let Some(example) = example("multi_objective") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let path = write_config(tmp.path(), "c.toml", &config("custom = true", 10, 6));
    let out = Command::new(&example)
        .args(["run", path.to_str().unwrap(), "-p", "2", "-q"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = check_rows(&tmp.path().join("exp"), 16);
    assert!(rows.iter().all(|r| r["status"] == "ok"));
    check_best(&tmp.path().join("exp"), &rows);
}

#[test]
fn several_outputs_under_mpirun() {
    if !runs("mpirun", "HPO_REQUIRE_MPI") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let path = write_config(tmp.path(), "c.toml", &config(&awk_objective(), 10, 6));
    let out = Command::new("mpirun")
        .args(["-np", "3", "--oversubscribe", env!("CARGO_BIN_EXE_hpo")])
        .args(["run", path.to_str().unwrap(), "-q"])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OPENBLAS_NUM_THREADS", "1")
        .env_remove("OMP_NUM_THREADS")
        .env_remove("CUDA_VISIBLE_DEVICES")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = tmp.path().join("exp");
    let rows = check_rows(&dir, 16);
    assert!(
        rows.iter().any(|r| r["rank"] == "2"),
        "both workers ran sets"
    );
    check_best(&dir, &rows);
}

#[test]
fn bad_outputs_are_refused_before_anything_is_created() {
    let base = config(&awk_objective(), 4, 1);
    let cases = [
        (
            base.replace("[objective]\n", "[objective]\ndirection = \"minimize\"\n"),
            "`direction` and `[[objective.outputs]]` cannot be given together",
        ),
        (
            base.replace("name = \"cost\"", "name = \"err\""),
            "output `err` is declared twice",
        ),
        (
            base.replace("name = \"cost\"", "name = \"x\""),
            "`x` is also a parameter",
        ),
        (
            base.replace("name = \"cost\"", "name = \"error\""),
            "`error` is a column of results.csv",
        ),
        (
            base.replace("name = \"cost\"", "name = \"feasible\""),
            "`feasible` is a column of results.csv",
        ),
        (
            base.replace(
                "name = \"mem\"\nmax = 3",
                "name = \"mem\"\nmax = 3\ndirection = \"minimize\"",
            ),
            "not both",
        ),
        (
            base.replace(
                "name = \"mem\"\nmax = 3",
                "name = \"mem\"\nmin = 4\nmax = 3",
            ),
            "`min` 4 is above `max` 3",
        ),
        (
            base.replace("name = \"mem\"\nmax = 3", "name = \"mem\""),
            "give `direction` (an objective) or `min`/`max` (a constraint)",
        ),
        (
            base.replace("direction = \"minimize\"", "max = 1"),
            "at least one needs a `direction`",
        ),
        (
            base.replace(&awk_objective(), "builtin = \"sphere\""),
            "a builtin returns one number",
        ),
        (
            base.replace("[objective]\n", "[objective]\nresult_key = \"err\"\n"),
            "`result_key` and `[[objective.outputs]]` cannot be given together",
        ),
        (
            format!("{base}[bayesian]\nmulti_objective = \"nsga\"\n"),
            "bayesian.multi_objective",
        ),
    ];
    for (text, problem) in cases {
        assert_refused(&text, problem);
    }
}

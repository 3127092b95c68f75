//! The result contract end to end: what each kind of objective may return (a number, or an
//! object whose other keys are metrics), the `metrics` column, and tables written by an older
//! hpo (read as they are, upgraded by the run that resumes them).

mod common;

use common::*;

fn metrics(row: &std::collections::HashMap<String, String>) -> serde_json::Value {
    serde_json::from_str(&row["metrics"]).unwrap_or_else(|e| panic!("{e}: {row:?}"))
}

#[test]
fn a_command_reports_on_its_result_line_or_in_its_result_file() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, &str, &str)> = vec![
        // The last `hpo-result:` line wins over any bare number, before or after it.
        (
            "echo 5; echo \"hpo-result: {\\\"result\\\": $HPO_PARAM_X, \\\"acc\\\": 0.9, \\\"tag\\\": \\\"a\\\"}\"; echo 7",
            "",
            "ok",
        ),
        (
            "echo 'hpo-result: 1'; echo \"hpo-result: $HPO_PARAM_X\"; echo 7",
            "",
            "ok",
        ),
        // A JSON result file: its other keys are metrics too.
        (
            "echo 7; printf '{\"result\": %s, \"epochs\": 3}' $HPO_PARAM_X > r.json",
            "result_file = \"r.json\"\n",
            "ok",
        ),
        // result_key names the key of the line, the file or the JSON line of stdout.
        (
            "echo \"{\\\"loss\\\": $HPO_PARAM_X, \\\"n\\\": 1}\"",
            "result_key = \"loss\"\n",
            "ok",
        ),
        (
            "echo 'hpo-result: done'",
            "",
            "`hpo-result:` line holds `done`",
        ),
        (
            "echo 'hpo-result: {\"acc\": 1}'",
            "",
            "no `result` key (its keys: acc)",
        ),
    ];
    for (n, (script, objective, expect)) in cases.into_iter().enumerate() {
        let dir = format!("exp{n}");
        let config = command_config(&dir, script, 3, "")
            .replace("[objective]\n", &format!("[objective]\n{objective}"));
        let path = write_config(tmp.path(), "c.toml", &config);
        let out = run(&["run", path.to_str().unwrap(), "-q"]);
        // Exit 1 when no set ends `ok`: the failures are rows all the same.
        let code = if expect == "ok" { 0 } else { 1 };
        assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
        let rows = rows(&tmp.path().join(&dir).join("results.csv"));
        assert_each_index_once(&rows, 3);
        for r in &rows {
            if expect != "ok" {
                assert_eq!(r["status"], "failed", "{script}: {r:?}");
                assert!(r["error"].contains(expect), "{script}: {}", r["error"]);
                continue;
            }
            assert_eq!(r["status"], "ok", "{script}: {r:?}");
            assert_eq!(r["result"], r["x"], "{script}");
            let want = match n {
                0 => serde_json::json!({"acc": 0.9, "tag": "a"}),
                2 => serde_json::json!({"epochs": 3}),
                3 => serde_json::json!({"n": 1}),
                _ => serde_json::Value::Null,
            };
            if want.is_null() {
                assert_eq!(r["metrics"], "", "{script}");
            } else {
                assert_eq!(metrics(r), want, "{script}");
            }
        }
    }
    // `hpo status` shows the best set's metrics.
    let out = run(&["status", tmp.path().join("exp0").to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("acc=0.9, tag=a"), "{text}");
}

#[test]
fn a_rust_function_of_its_trial_returns_metrics() {
    let Some(example) = example("trial_objective") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let config = sphere_config("exp", 8, "").replace("builtin = \"sphere\"", "custom = true");
    let path = write_config(tmp.path(), "c.toml", &config);
    let out = std::process::Command::new(&example)
        .args(["run", path.to_str().unwrap(), "-p", "2", "-q"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = rows(&tmp.path().join("exp/results.csv"));
    assert_each_index_once(&rows, 8);
    for r in rows {
        let (x, y): (f64, f64) = (r["x"].parse().unwrap(), r["y"].parse().unwrap());
        let result: f64 = r["result"].parse().unwrap();
        assert!((result - ((x - 1.0).powi(2) + y.abs())).abs() < 1e-9);
        let m = metrics(&r);
        assert_eq!(m["set"].as_u64(), r["index"].parse().ok());
        assert_eq!(m["has_folder"], serde_json::json!(false));
        let d = m["distance"].as_f64().unwrap();
        assert!((d - ((x - 1.0).powi(2) + y * y).sqrt()).abs() < 1e-9);
    }
}

#[test]
fn a_table_written_before_metrics_is_read_and_then_upgraded_by_the_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let path = write_config(tmp.path(), "c.toml", &sphere_config("exp", 6, ""));
    let out = run(&["run", path.to_str().unwrap(), "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let results = tmp.path().join("exp/results.csv");
    // What an hpo without the metrics column left: its header and rows, and half the sets.
    let text = std::fs::read_to_string(&results).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].ends_with(",error,metrics,step"), "{}", lines[0]);
    let old: Vec<String> = lines[..4]
        .iter()
        .map(|l| {
            l.strip_suffix(",metrics,step")
                .or(l.strip_suffix(",,"))
                .unwrap()
                .to_string()
        })
        .collect();
    std::fs::write(&results, old.join("\n") + "\n").unwrap();
    let dir = tmp.path().join("exp");
    let out = run(&["status", dir.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (status["done"].as_u64(), status["ok"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(status["best"]["metrics"], serde_json::json!({}));
    // Reading changed nothing; the resume rewrites the header, pads the old rows and finishes.
    assert_eq!(
        std::fs::read_to_string(&results).unwrap(),
        old.join("\n") + "\n"
    );
    let out = run(&["run", dir.to_str().unwrap(), "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&results).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], format!("{},metrics,step", old[0]));
    for (i, line) in old[1..].iter().enumerate() {
        assert_eq!(lines[i + 1], format!("{line},,"));
    }
    assert_each_index_once(&rows(&results), 6);
}

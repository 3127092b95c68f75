//! End-to-end tests of intermediate reports and early stopping on the local pool: the real
//! `hpo` binary, real commands that append to `$HPO_REPORT_FILE` and trap the SIGTERM that
//! stops them, a real Rust objective through `Trial::report`, and a resume.

mod common;

use common::*;

#[test]
fn asha_stops_commands_that_report_and_sigterm_reaches_them() {
    let tmp = tempfile::tempdir().expect("dir");
    // Pruned rows count as successes: two failures in a row would stop the run.
    let tables = format!("{ASHA}[compute]\nmax_consecutive_failures = 2\n");
    let config = command_config("exp", REPORTING, 12, &tables);
    let path = write_config(tmp.path(), "c.toml", &config);
    let out = run(&["run", path.to_str().expect("path"), "-p", "2", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = tmp.path().join("exp");
    let pruned = check_pruned(&dir, 12);
    assert!(!pruned.is_empty(), "asha stopped nothing");
    assert!(pruned.len() < 12);
    for r in &pruned {
        // The SIGTERM that stopped it reached the command's own trap.
        assert!(
            dir.join(format!("term-{}", r["index"])).exists(),
            "no SIGTERM reached set {}",
            r["index"]
        );
    }
    // Every report of this run is attempt 1.
    assert!(curves(&dir).iter().all(|c| c.1 == 1));
    // `hpo best` takes ok rows only; `hpo status` counts the pruned.
    let best = run(&["best", dir.to_str().expect("dir"), "--format", "json"]);
    assert!(best.status.success(), "{}", stderr(&best));
    let best: serde_json::Value = serde_json::from_slice(&best.stdout).expect("json");
    let ok_min = rows(&dir.join("results.csv"))
        .iter()
        .filter(|r| r["status"] == "ok")
        .map(|r| r["result"].parse::<f64>().expect("result"))
        .fold(f64::INFINITY, f64::min);
    assert_eq!(best["result"].as_f64(), Some(ok_min), "{best}");
    let status = run(&["status", dir.to_str().expect("dir")]);
    let text = String::from_utf8_lossy(&status.stdout);
    let saved: u64 = pruned
        .iter()
        .map(|r| 9 - r["step"].parse::<u64>().expect("step"))
        .sum();
    assert!(
        text.contains(&format!(
            "pruned: {} sets stopped early, {saved} steps saved",
            pruned.len()
        )),
        "{text}"
    );
    // The learning curves: every set's curve, the stopped ones counted, ASHA's rungs marked;
    // and the report shows them.
    let plot = run(&[
        "plot",
        dir.to_str().expect("dir"),
        "--only",
        "learning_curves",
    ]);
    assert!(plot.status.success(), "{}", stderr(&plot));
    let png = std::fs::read(dir.join("plots/learning_curves.png")).expect("png");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let svg = std::fs::read_to_string(dir.join("plots/learning_curves.svg")).expect("svg");
    let ok = 12 - pruned.len();
    for text in [
        format!("learning curves (12 sets, {} stopped early)", pruned.len()),
        format!("stopped early ({})", pruned.len()),
        format!("ran to the end ({ok})"),
        "rungs at 1, 3".to_string(),
    ] {
        assert!(svg.contains(&text), "{text} missing from the SVG");
    }
    // One polyline per set (the best one drawn twice, on top), plus the legend's lines.
    assert!(svg.matches("<polyline").count() >= 13);
    let report = run(&["report", dir.to_str().expect("dir")]);
    assert!(report.status.success(), "{}", stderr(&report));
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert!(html.contains("<figure id=\"learning_curves\">"));
}

#[test]
fn without_a_pruning_table_reports_are_recorded_and_nothing_stops() {
    let tmp = tempfile::tempdir().expect("dir");
    let config = command_config("exp", &REPORTING.replace("sleep 0.05", "true"), 4, "");
    let path = write_config(tmp.path(), "c.toml", &config);
    let out = run(&["run", path.to_str().expect("path"), "-p", "2", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = tmp.path().join("exp");
    assert!(check_pruned(&dir, 4).is_empty());
    let curves = curves(&dir);
    assert_eq!(curves.len(), 4 * 9);
    // Each set's steps in order, with the value it wrote.
    let rows = rows(&dir.join("results.csv"));
    for r in rows {
        let index: usize = r["index"].parse().expect("index");
        let x: f64 = r["x"].parse().expect("x");
        let mine: Vec<_> = curves.iter().filter(|c| c.0 == index).collect();
        assert_eq!(
            mine.iter().map(|c| c.2).collect::<Vec<_>>(),
            (1..=9).collect::<Vec<u64>>()
        );
        for c in mine {
            assert!((c.3 - (x + 1.0 / c.2 as f64)).abs() < 1e-4, "{c:?}");
        }
    }
}

#[test]
fn a_report_line_that_is_not_step_value_fails_the_set_naming_it() {
    let tmp = tempfile::tempdir().expect("dir");
    let script = r#"echo "1 0.5" >> "$HPO_REPORT_FILE"; echo "two 0.4" >> "$HPO_REPORT_FILE"; sleep 5; echo 1"#;
    let config = command_config("exp", script, 1, "");
    let path = write_config(tmp.path(), "c.toml", &config);
    let out = run(&["run", path.to_str().expect("path"), "-q"]);
    assert!(!out.status.success());
    let rows = rows(&tmp.path().join("exp/results.csv"));
    assert_eq!(rows[0]["status"], "failed");
    assert!(
        rows[0]["error"].contains("line 2 of $HPO_REPORT_FILE is `two 0.4`"),
        "{:?}",
        rows[0]
    );
}

#[test]
fn a_resumed_set_reports_under_a_new_attempt() {
    let tmp = tempfile::tempdir().expect("dir");
    let config = command_config("exp", &REPORTING.replace("sleep 0.05", "true"), 4, ASHA);
    let path = write_config(tmp.path(), "c.toml", &config);
    let out = run(&["run", path.to_str().expect("path"), "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = tmp.path().join("exp");
    // A crash before the last two rows were written: their sets run again on resume.
    let results = dir.join("results.csv");
    let text = std::fs::read_to_string(&results).expect("results");
    let lines: Vec<&str> = text.lines().collect();
    let kept = lines[..lines.len() - 2].join("\n") + "\n";
    let lost: Vec<usize> = lines[lines.len() - 2..]
        .iter()
        .map(|l| l.split(',').next().expect("index").parse().expect("index"))
        .collect();
    std::fs::write(&results, kept).expect("write");
    let out = run(&["run", path.to_str().expect("path"), "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    check_pruned(&dir, 4);
    let curves = curves(&dir);
    for index in 0..4 {
        let attempts: Vec<u32> = curves
            .iter()
            .filter(|c| c.0 == index)
            .map(|c| c.1)
            .collect();
        let latest = *attempts.iter().max().expect("reports");
        assert_eq!(
            latest,
            if lost.contains(&index) { 2 } else { 1 },
            "{index}: {attempts:?}"
        );
    }
}

#[test]
fn a_rust_function_reports_through_its_trial_and_is_stopped() {
    let Some(example) = example("trial_objective") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("dir");
    let config = sphere_config("exp", 12, ASHA).replace("builtin = \"sphere\"", "custom = true");
    let path = write_config(tmp.path(), "c.toml", &config);
    let out = std::process::Command::new(&example)
        .args(["run", path.to_str().expect("path"), "-p", "2", "-q"])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = tmp.path().join("exp");
    let rows = rows(&dir.join("results.csv"));
    assert_each_index_once(&rows, 12);
    let pruned: Vec<_> = rows.iter().filter(|r| r["status"] == "pruned").collect();
    assert!(!pruned.is_empty(), "asha stopped nothing");
    let curves = curves(&dir);
    for r in pruned {
        let index: usize = r["index"].parse().expect("index");
        let last = curves.iter().rfind(|c| c.0 == index).expect("reports");
        assert_eq!(r["step"], last.2.to_string());
        assert_eq!(r["result"].parse::<f64>().ok(), Some(last.3));
    }
}

#[test]
fn a_bad_pruning_table_is_refused_before_anything_is_created() {
    for (table, says) in [
        (
            "[pruning]\nrule = \"hyperband\"\nmin_step = 1\n",
            "pruning.max_step",
        ),
        (
            "[pruning]\nrule = \"asha\"\nreduction_factor = 1\n",
            "pruning.reduction_factor",
        ),
        (
            "[pruning]\nrule = \"asha\"\nmin_step = 9\nmax_step = 3\n",
            "pruning.max_step",
        ),
        ("[pruning]\nrule = \"sha\"\n", "rule"),
        ("[pruning]\nrule = \"asha\"\noutput = \"loss\"\n", "output"),
    ] {
        assert_refused(&command_config("exp", "echo 1", 2, table), says);
    }
}

#[test]
fn with_several_outputs_the_rule_judges_the_named_one_in_its_direction() {
    // Each set reports its index (plus 1/step) and returns it as `score`: a later set is
    // better for `score` (maximized) and worse for `loss` (minimized).
    let script = LATER_IS_WORSE.replace(
        "echo \"$HPO_INDEX\"",
        "echo \"hpo-result: {\\\"loss\\\": $HPO_INDEX, \\\"score\\\": $HPO_INDEX}\"",
    );
    let outputs = "[[objective.outputs]]\nname = \"loss\"\ndirection = \"minimize\"\n\
                   [[objective.outputs]]\nname = \"score\"\ndirection = \"maximize\"\n";
    let pruned = |output: &str| {
        let tmp = tempfile::tempdir().expect("dir");
        let tables = format!("{outputs}{ASHA}output = \"{output}\"\n");
        let path = write_config(
            tmp.path(),
            "c.toml",
            &command_config("exp", &script, 8, &tables),
        );
        let out = run(&["run", path.to_str().expect("path"), "-p", "1", "-q"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let rows = rows(&tmp.path().join("exp/results.csv"));
        assert_each_index_once(&rows, 8);
        rows.iter().filter(|r| r["status"] == "pruned").count()
    };
    // Judged by `score`, every set is the best so far at every rung: none stops.
    assert_eq!(pruned("score"), 0);
    // Judged by `loss`, every set is the worst so far: most stop at the first rung.
    assert!(pruned("loss") >= 5);
    // Without `output`, several outputs are refused, naming the key and the choices.
    let tables = format!("{outputs}{ASHA}");
    let err = assert_refused(
        &command_config("exp", &script, 2, &tables),
        "pruning.output",
    );
    assert!(err.contains("(loss, score)"), "{err}");
}

#[test]
fn pruned_sets_inform_the_model_of_bayesian_sets_on_the_local_pool() {
    let tmp = tempfile::tempdir().expect("dir");
    let path = write_config(tmp.path(), "c.toml", &bayesian_asha_config(6, 4));
    let out = run(&["run", path.to_str().expect("path"), "-p", "2", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    check_pruned_sets_reach_the_model(&tmp.path().join("exp"), 6, 4);
}

#[test]
fn a_resumed_run_models_the_pruned_sets_of_the_run_before() {
    let tmp = tempfile::tempdir().expect("dir");
    let path = write_config(tmp.path(), "c.toml", &bayesian_asha_config(6, 3));
    let out = run(&["run", path.to_str().expect("path"), "-p", "1", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = tmp.path().join("exp");
    // A crash after the random sets' rows: the Bayesian sets run again on resume, and their
    // model has only the earlier run's rows and curves to learn from.
    let results = dir.join("results.csv");
    let text = std::fs::read_to_string(&results).expect("results");
    let kept: Vec<&str> = text.lines().take(1 + 6).collect();
    assert!(
        kept.iter().skip(1).all(|l| l.contains(",false,")),
        "{kept:?}"
    );
    std::fs::write(&results, kept.join("\n") + "\n").expect("write");
    let out = run(&["run", path.to_str().expect("path"), "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    check_pruned_sets_reach_the_model(&dir, 6, 3);
}

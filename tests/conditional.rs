//! Conditional parameters (`when`) end to end: the real `hpo` on `--processes` and under
//! `mpirun -np 3`, random and Bayesian sets; an inactive parameter is an empty cell, absent from
//! the objective's `params.json`, environment and placeholders; `prevent_duplicate` ignores it;
//! resume after `kill -9`, `status`, `best` and `plot` read the empty cells; bad `when`s exit 2.

mod common;

use common::{
    assert_each_index_once, assert_refused, children_of, hpo, rows, run, stderr, wait_for_rows,
    write_config,
};
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The objective: what it saw goes to `seen.txt` in its worker folder (the placeholder of
/// `momentum`, the `HPO_PARAM_` variables, params.json); the result is momentum for sgd and
/// beta + 0.5 for adam.
const SCRIPT: &str = "printf '%s\\n' placeholder=[{momentum}] > seen.txt; \
    env | grep '^HPO_PARAM_' | sort >> seen.txt; cat params.json >> seen.txt; sleep {sleep}; \
    awk -v o={optimizer} -v m={momentum} -v b={beta} \
    'BEGIN { if (o == \"sgd\") print m; else print b + 0.5 }'";

/// optimizer, lr, momentum (when sgd), beta (when adam), nesterov (when momentum > 0.5):
/// `random` random sets, then `bayesian` Bayesian sets.
fn config(random: usize, bayesian: usize, sleep: &str) -> String {
    let mut s = format!(
        "[experiment]\ndir = \"exp\"\nseed = 3\n[objective]\ncommand = [\"sh\", \"-c\", \"{}\"]\n\
         [compute]\nprovide_worker_path = true\n\
         [[parameters]]\nname = \"optimizer\"\ntype = \"str\"\n\
         [[parameters]]\nname = \"lr\"\ntype = \"float\"\n\
         [[parameters]]\nname = \"momentum\"\ntype = \"float\"\nwhen = \"optimizer == \\\"sgd\\\"\"\n\
         [[parameters]]\nname = \"beta\"\ntype = \"float\"\nwhen = \"optimizer == \\\"adam\\\"\"\n\
         [[parameters]]\nname = \"nesterov\"\ntype = \"int\"\nwhen = \"momentum > 0.5\"\n\
         [[sets]]\ncount = {random}\noptimizer = {{ choice = [\"sgd\", \"adam\"] }}\n\
         lr = {{ random = [0.001, 0.1] }}\nmomentum = {{ random = [0, 1], round = 3 }}\n\
         beta = {{ random = [0, 1], round = 3 }}\nnesterov = {{ choice = [0, 1] }}\n",
        SCRIPT
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace("{sleep}", sleep)
    );
    if bayesian > 0 {
        s += &format!(
            "[[sets]]\ncount = {bayesian}\noptimizer = {{ bayesian_choice = [\"sgd\", \"adam\"] }}\n\
             lr = {{ value = 0.01 }}\nmomentum = {{ bayesian = [0, 1], round = 3 }}\n\
             beta = {{ bayesian = [0, 1], round = 3 }}\nnesterov = {{ bayesian_choice = [0, 1] }}\n"
        );
    }
    s
}

/// Every row keeps the contract: the parameters of the other branch are empty cells, and
/// absent from what its objective saw (placeholder, environment, params.json).
fn check_rows(dir: &Path, n: usize) -> Vec<HashMap<String, String>> {
    let table = rows(&dir.join("results.csv"));
    assert_each_index_once(&table, n);
    for r in &table {
        assert_eq!(r["status"], "ok", "{r:?}");
        let sgd = r["optimizer"] == "sgd";
        assert_eq!(r["momentum"].is_empty(), !sgd, "{r:?}");
        assert_eq!(r["beta"].is_empty(), sgd, "{r:?}");
        let m: Option<f64> = r["momentum"].parse().ok();
        assert_eq!(
            r["nesterov"].is_empty(),
            !m.is_some_and(|m| m > 0.5),
            "nesterov exists only where momentum > 0.5: {r:?}"
        );
        let result: f64 = r["result"].parse().expect("a number");
        let expected = m.unwrap_or_else(|| r["beta"].parse::<f64>().expect("beta") + 0.5);
        assert!((result - expected).abs() < 1e-9, "{r:?}");
        let index: usize = r["index"].parse().expect("index");
        let seen = std::fs::read_to_string(dir.join(format!("worker_out/{index:06}/seen.txt")))
            .expect("seen.txt");
        let params: serde_json::Value =
            serde_json::from_str(&seen[seen.find('{').expect("params.json")..]).expect("json");
        for name in ["momentum", "beta", "nesterov"] {
            let active = !r[name].is_empty();
            assert_eq!(params.get(name).is_some(), active, "{name}: {seen}");
            let var = format!("HPO_PARAM_{}=", name.to_uppercase());
            assert_eq!(seen.contains(&var), active, "{var}: {seen}");
        }
        let placeholder = if sgd { &r["momentum"] } else { "" };
        assert!(
            seen.starts_with(&format!("placeholder=[{placeholder}]")),
            "an inactive placeholder is empty: {seen}"
        );
    }
    table
}

#[test]
fn random_and_bayesian_sets_keep_inactive_parameters_out_on_processes() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = write_config(tmp.path(), "c.toml", &config(8, 8, "0"));
    let out = run(&["run", path.to_str().expect("utf-8"), "-p", "2", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = tmp.path().join("exp");
    let table = check_rows(&dir, 16);
    let bayesian: Vec<_> = table.iter().filter(|r| r["bayesian"] == "true").collect();
    assert_eq!(bayesian.len(), 8);
    assert!(
        bayesian.iter().all(|r| r["note"].starts_with("gp:")),
        "the model proposed every Bayesian set: {bayesian:?}"
    );
    // The drawn table leaves the cells of inactive parameters empty too.
    let drawn = std::fs::read_to_string(dir.join("parameters.csv")).expect("table");
    assert!(
        drawn.lines().skip(1).take(8).all(|l| l.contains(",,")),
        "{drawn}"
    );
    // status, best and plot read the empty cells.
    let folder = dir.to_str().expect("utf-8");
    let status = run(&["status", folder]);
    assert!(status.status.success(), "{}", stderr(&status));
    let best = run(&["best", folder, "--format", "json"]);
    assert!(best.status.success(), "{}", stderr(&best));
    let best: serde_json::Value = serde_json::from_slice(&best.stdout).expect("json");
    let params = best["params"].as_object().expect("params");
    assert!(
        params.contains_key("momentum") != params.contains_key("beta"),
        "only the active branch: {best}"
    );
    let plot = run(&["plot", folder]);
    assert!(plot.status.success(), "{}", stderr(&plot));
}

#[test]
fn prevent_duplicate_never_tells_sets_apart_by_an_inactive_parameter() {
    let tmp = tempfile::tempdir().expect("temp dir");
    // With adam alone, momentum is inactive and only lr's two values make distinct sets.
    let block = |count: usize| {
        config(count, 0, "0")
            .replace("choice = [\"sgd\", \"adam\"]", "value = \"adam\"")
            .replace(
                "lr = { random = [0.001, 0.1] }",
                "lr = { choice = [0.01, 0.02] }",
            )
            .replace(
                "beta = { random = [0, 1], round = 3 }",
                "beta = { value = 0.5 }",
            )
            .replace("momentum = { random = [0, 1], round = 3 }\n", "")
            .replace("nesterov = { choice = [0, 1] }\n", "")
            .replace("[[sets]]\n", "[[sets]]\nprevent_duplicate = true\n")
    };
    let two = write_config(tmp.path(), "two.toml", &block(2));
    let out = run(&["run", two.to_str().expect("utf-8"), "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    check_rows(&tmp.path().join("exp"), 2);
    let other = tempfile::tempdir().expect("temp dir");
    let three = write_config(other.path(), "three.toml", &block(3));
    let out = run(&["run", three.to_str().expect("utf-8"), "-q"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("prevent_duplicate"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_killed_run_resumes_with_empty_cells_and_loses_nothing() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = write_config(tmp.path(), "c.toml", &config(30, 10, "0.05"));
    let mut child = hpo()
        .args(["run", path.to_str().expect("utf-8"), "-p", "2", "-q"])
        .spawn()
        .expect("starts");
    let dir = tmp.path().join("exp");
    let results = dir.join("results.csv");
    wait_for_rows(&results, 8, Duration::from_secs(30));
    let master = child.id() as i32;
    let workers = children_of(master);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(master),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill");
    child.wait().expect("reaped");
    common::wait_until(
        Duration::from_secs(5),
        "workers outlived the master",
        || !workers.iter().any(|w| common::alive(*w)),
    );
    let before = rows(&results);
    assert!(before.len() < 40);
    let out = run(&["run", dir.to_str().expect("utf-8"), "-p", "2", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let after = check_rows(&dir, 40);
    for r in &before {
        assert!(after.contains(r), "row {r:?} lost or changed");
    }
}

#[test]
fn under_mpirun_inactive_parameters_stay_out() {
    if !common::runs("mpirun", "HPO_REQUIRE_MPI") {
        return;
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = write_config(tmp.path(), "c.toml", &config(6, 6, "0"));
    let out = Command::new("mpirun")
        .args(["-np", "3", "--oversubscribe", env!("CARGO_BIN_EXE_hpo")])
        .args(["run", path.to_str().expect("utf-8"), "-q"])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OPENBLAS_NUM_THREADS", "1")
        .env_remove("OMP_NUM_THREADS")
        .env_remove("CUDA_VISIBLE_DEVICES")
        .output()
        .expect("mpirun starts");
    assert!(out.status.success(), "{}", stderr(&out));
    let table = check_rows(&tmp.path().join("exp"), 12);
    let ranks: std::collections::BTreeSet<&str> =
        table.iter().map(|r| r["worker"].as_str()).collect();
    assert_eq!(
        ranks.len(),
        2,
        "both worker ranks evaluated sets: {ranks:?}"
    );
}

#[test]
fn a_bad_when_exits_2_names_the_parameter_and_creates_nothing() {
    let base = config(4, 0, "0");
    let sgd = "when = \"optimizer == \\\"sgd\\\"\"";
    let cases: Vec<(String, &str)> = vec![
        (
            base.replace(sgd, "when = \"beta > 0.5\""),
            "parameters[2].when",
        ),
        (
            base.replace(sgd, "when = \"colour == 1\""),
            "`colour`, which is not a parameter defined before `momentum`",
        ),
        (base.replace(sgd, "when = \"lr * 2\""), "sets[0].momentum"),
        (
            base.replace(sgd, "when = \"optimizer\""),
            "`when` of `momentum`",
        ),
        (
            base.replace("momentum = { random = [0, 1], round = 3 }\n", ""),
            "parameter `momentum` has no strategy in this block but is active",
        ),
        (
            base.replace("choice = [\"sgd\", \"adam\"]", "value = \"adam\""),
            "parameter `momentum` is given a strategy but its `when` is false in every set",
        ),
    ];
    for (config, needle) in cases {
        assert_refused(&config, needle);
    }
    // A conditional parameter that no set of a block needs may be left out of it.
    let adam_only = base
        .replace("choice = [\"sgd\", \"adam\"]", "value = \"adam\"")
        .replace("momentum = { random = [0, 1], round = 3 }\n", "")
        .replace("nesterov = { choice = [0, 1] }\n", "");
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = write_config(tmp.path(), "c.toml", &adam_only);
    let out = run(&["run", path.to_str().expect("utf-8"), "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    check_rows(&tmp.path().join("exp"), 4);
}

#[test]
fn a_python_function_gets_only_the_active_parameters() {
    if !common::runs("python3", "HPO_REQUIRE_PYTHON") {
        return;
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    // The function fails the set unless it sees exactly the active branch's keys.
    std::fs::write(
        tmp.path().join("f.py"),
        "def objective(p):\n\
         \x20   keys = set(p) - {'hyperpar', 'worker_save_path'}\n\
         \x20   want = {'optimizer', 'lr', 'momentum'} if p['optimizer'] == 'sgd' else {'optimizer', 'lr', 'beta'}\n\
         \x20   if p.get('momentum', 0) > 0.5:\n\
         \x20       want.add('nesterov')\n\
         \x20   assert keys == want, (keys, want)\n\
         \x20   assert ('momentum' in p['hyperpar']) == ('momentum' in p)\n\
         \x20   return p['momentum'] if 'momentum' in p else p['beta'] + 0.5\n",
    )
    .expect("write f.py");
    let mut config = config(6, 6, "0");
    let start = config.find("command = ").expect("command");
    let end = start + config[start..].find('\n').expect("line end");
    config.replace_range(start..end, "python = \"f.py:objective\"");
    let path = write_config(tmp.path(), "c.toml", &config);
    let out = run(&["run", path.to_str().expect("utf-8"), "-p", "2", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = rows(&tmp.path().join("exp/results.csv"));
    assert_each_index_once(&table, 12);
    for r in &table {
        assert_eq!(r["status"], "ok", "{r:?}");
        assert_eq!(r["momentum"].is_empty(), r["optimizer"] != "sgd", "{r:?}");
    }
}

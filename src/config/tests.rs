//! Every check of the configuration, one case each: the key it names and what it says; the
//! closed choices; the program look-up; and fuzzing (the parser never panics).

use super::*;
use crate::acquisition::options::{Acquisition, PendingRule};
use crate::space::{Kind, Strategy};
use proptest::prelude::*;
use proptest::strategy::Strategy as _;

const BASE: &str = r#"
[experiment]
dir = "exp"
seed = 3
[objective]
builtin = "sphere"
[[parameters]]
name = "x"
type = "float"
[[parameters]]
name = "k"
type = "int"
[[sets]]
count = 4
x = { random = [-5, 5], round = 2 }
k = { choice = [1, 2, 3] }
"#;

fn parse(text: &str) -> Result<Definition, ConfigError> {
    Definition::parse(text, Path::new("c.toml"), Path::new("/cfg"))
}

fn fails(text: &str) -> ConfigError {
    match parse(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

/// `BASE` with `from` replaced by `to` (which must be there).
fn edit(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from}");
    BASE.replacen(from, to, 1)
}

#[test]
fn the_base_configuration_and_its_defaults() {
    let d = parse(BASE).expect("valid");
    assert_eq!(d.dir, Path::new("/cfg/exp"));
    assert_eq!(d.seed, 3);
    assert_eq!(d.objective.direction, Direction::Minimize);
    assert_eq!(d.objective.kill_grace, std::time::Duration::from_secs(2));
    assert!(matches!(d.space.parameters[1].kind, Kind::Int));
    assert!(matches!(
        d.space.blocks[0].strategies[1],
        Strategy::Choice(_)
    ));
    // A builtin writes no files: no worker folders unless asked.
    assert!(!d.compute.provide_worker_path && !d.compute.redirect_stdout);
    assert_eq!(d.compute.processes, 2);
    assert_eq!(d.bayesian, BayesOptions::default());
    assert_eq!(d.monitor, MonitorOptions::default());
    // A command gets worker folders and redirected output by default.
    let d = parse(&edit("builtin = \"sphere\"", "command = [\"sh\", \"{x}\"]")).expect("valid");
    assert!(d.compute.provide_worker_path && d.compute.redirect_stdout);
}

#[test]
fn closed_choices_parse_once_into_enums() {
    let d = parse(&format!(
        "{}[bayesian]\nacquisition = \"lcb\"\npending = \"constant_liar_max\"\n[monitor]\nplots = [\"plot_3d\", \"worker_timeline\"]\n",
        edit("builtin = \"sphere\"", "builtin = \"rastrigin\"\ndirection = \"maximize\"")
    ))
    .expect("valid");
    assert_eq!(d.objective.direction, Direction::Maximize);
    assert_eq!(d.bayesian.acquisition, Acquisition::Lcb);
    assert_eq!(d.bayesian.pending, PendingRule::ConstantLiarMax);
    assert_eq!(
        d.monitor.plots,
        [PlotName::Plot3d, PlotName::WorkerTimeline]
    );
    assert!(matches!(
        d.objective.kind,
        ObjectiveKind::Builtin {
            function: Builtin::Rastrigin,
            ..
        }
    ));
    let d = parse(&edit(
        "x = { random = [-5, 5], round = 2 }",
        "x = { random = [0.1, 5], distribution = \"log-uniform\" }",
    ))
    .expect("valid");
    assert!(matches!(&d.space.blocks[0].strategies[0], Strategy::Random(r) if r.log));
    // Both log spellings, with both strategies.
    for (strategy, spelling) in [
        ("random", "log = true"),
        ("bayesian", "distribution = \"log-uniform\""),
        ("bayesian", "log = true, distribution = \"log-uniform\""),
    ] {
        let d = parse(&edit(
            "x = { random = [-5, 5], round = 2 }",
            &format!("x = {{ {strategy} = [0.1, 5], {spelling} }}"),
        ))
        .expect("valid");
        let log = match &d.space.blocks[0].strategies[0] {
            Strategy::Random(r) | Strategy::Bayesian(r) => r.log,
            _ => false,
        };
        assert!(log, "{strategy} with {spelling}");
    }
    for name in PlotName::ALL {
        let text = format!("{BASE}[monitor]\nplots = [\"{name}\"]\n");
        assert_eq!(parse(&text).expect("valid").monitor.plots, [name]);
    }
}

#[test]
fn unknown_values_of_closed_choices_name_the_key_the_place_and_the_choices() {
    let cases = [
        (
            edit(
                "builtin = \"sphere\"",
                "builtin = \"sphere\"\ndirection = \"down\"",
            ),
            "objective.direction",
            "`minimize` or `maximize`",
        ),
        (
            edit("builtin = \"sphere\"", "builtin = \"spheer\""),
            "objective.builtin",
            "`hartmann6`",
        ),
        (
            edit("type = \"int\"", "type = \"double\""),
            "parameters[1].type",
            "`float`, `int`, `str`, `expr`",
        ),
        (
            edit(
                "x = { random = [-5, 5], round = 2 }",
                "x = { random = [1, 5], distribution = \"normal\" }",
            ),
            "sets[0].x.distribution",
            "`uniform` or `log-uniform`",
        ),
        (
            format!("{BASE}[bayesian]\nacquisition = \"pi\"\n"),
            "bayesian.acquisition",
            "`ei` or `lcb`",
        ),
        (
            format!("{BASE}[bayesian]\npending = \"hope\"\n"),
            "bayesian.pending",
            "`constant_liar_mean`",
        ),
        (
            format!("{BASE}[bayesian]\nproposals = \"serial\"\n"),
            "bayesian.proposals",
            "`in_turn`",
        ),
        (
            format!("{BASE}[bayesian]\nmulti_objective = \"nsga\"\n"),
            "bayesian.multi_objective",
            "`per_objective`",
        ),
        (
            format!("{BASE}[monitor]\nplots = [\"pie\"]\n"),
            "monitor.plots[0]",
            "`parameter_combination`",
        ),
    ];
    for (text, key, choices) in cases {
        let e = fails(&text);
        assert_eq!(e.key, key, "{e}");
        assert!(e.at.is_some(), "{e}");
        assert!(
            e.problem.starts_with("unknown value") && e.problem.contains(choices),
            "{e}"
        );
        assert!(e.to_string().starts_with("c.toml:"), "{e}");
    }
}

#[test]
fn every_check_names_its_key() {
    let x = "x = { random = [-5, 5], round = 2 }";
    let cases: Vec<(String, &str, &str)> = vec![
        // [experiment]
        (edit("dir = \"exp\"", "dir = \" \""), "experiment.dir", "must name a folder"),
        (edit("seed = 3", "seed = 3\ncolour = 1"), "experiment.colour", "unknown field"),
        (edit("seed = 3", "seed = -1"), "experiment.seed", ""),
        // [[parameters]]
        (edit("name = \"x\"", "name = \"1x\""), "parameters[0].name", "not a valid parameter name"),
        (edit("name = \"x\"", "name = \"\""), "parameters[0].name", "not a valid parameter name"),
        (edit("name = \"k\"", "name = \"status\""), "parameters[1].name", "column of results.csv"),
        (edit("name = \"k\"", "name = \"index\""), "parameters[1].name", "column of results.csv"),
        (edit("name = \"k\"", "name = \"x\""), "parameters[1].name", "defined twice"),
        (edit("type = \"int\"", "type = \"expr\""), "parameters[1].expr", "needs `expr"),
        (edit("type = \"int\"", "type = \"int\"\nexpr = \"x\""), "parameters[1].expr", "only parameters of type"),
        (edit("type = \"int\"", "type = \"expr\"\nexpr = \"q + 1\""), "parameters[1].expr", "`q`"),
        (edit("type = \"int\"", "type = \"expr\"\nexpr = \"(x\""), "parameters[1].expr", "does not parse"),
        ("parameters = []\n[experiment]\ndir = \"e\"\n[objective]\nbuiltin = \"sphere\"\n[[sets]]\ncount = 1\n".into(), "parameters", "at least one"),
        ("sets = []\n[experiment]\ndir = \"e\"\n[objective]\nbuiltin = \"sphere\"\n[[parameters]]\nname = \"x\"\ntype = \"float\"\n".into(), "sets", "at least one"),
        // [[sets]]
        (edit("count = 4", "count = 0"), "sets[0].count", "expected 1 to"),
        (edit("count = 4", "count = 10000001"), "sets[0].count", "expected 1 to"),
        (edit("count = 4", "count = \"4\""), "sets[0].count", "whole number"),
        (edit("count = 4", "count = 4\nprevent_duplicate = 1"), "sets[0].prevent_duplicate", "true or false"),
        (edit("count = 4", "count = 4\nz = 1"), "sets[0].z", "neither `count`"),
        (edit("k = { choice = [1, 2, 3] }\n", ""), "sets[0].k", "no strategy in this block"),
        (format!("{BASE}[[sets]]\ncount = 9000000\n{x}\nk = 1\n[[sets]]\ncount = 9000000\n{x}\nk = 2\n"), "sets", "at most"),
        // Strategies
        (edit(x, "x = { random = [-5, 5], choice = [1] }"), "sets[0].x", "exactly one of"),
        (edit(x, "x = { round = 2 }"), "sets[0].x", "exactly one of"),
        (edit(x, "x = { random = [-5, 5], round = 16 }"), "sets[0].x", "0 to 15 digits"),
        (edit(x, "x = { random = [-5, 5, 6] }"), "sets[0].x", "two numbers"),
        (edit(x, "x = { random = [-5, nan] }"), "sets[0].x", "finite"),
        (edit(x, "x = { random = [5, -5] }"), "sets[0].x", "reversed or empty"),
        (edit(x, "x = { random = [5, 5] }"), "sets[0].x", "reversed or empty"),
        (edit(x, "x = { bayesian = [-1, 5], log = true }"), "sets[0].x", "must be positive"),
        (edit("k = { choice = [1, 2, 3] }", "k = { random = [0.2, 0.8] }"), "sets[0].k", "must be whole numbers"),
        (edit("k = { choice = [1, 2, 3] }", "k = { random = [1.5, 4.5] }"), "sets[0].k", "must be whole numbers"),
        (edit("k = { choice = [1, 2, 3] }", "k = { bayesian = [1, 4.5] }"), "sets[0].k", "must be whole numbers"),
        (edit(x, "x = { choice = [1], distribution = \"uniform\" }"), "sets[0].x", "goes with `random` or `bayesian`"),
        (edit(x, "x = { choice = [1], log = true }"), "sets[0].x", "`log` goes with `random` or `bayesian`"),
        (edit(x, "x = { random = [1, 2], log = true, distribution = \"uniform\" }"), "sets[0].x", "disagree"),
        (edit(x, "x = { choice = [1], round = 2 }"), "sets[0].x", "`round` goes with"),
        (edit(x, "x = { choice = [] }"), "sets[0].x", "empty"),
        (edit(x, "x = \"a\""), "sets[0].x", "not a finite number"),
        (edit("k = { choice = [1, 2, 3] }", "k = 1.5"), "sets[0].k", "not a whole number"),
        (edit("k = { choice = [1, 2, 3] }", "k = { choice = [1], rnd = 1 }"), "sets[0].k.rnd", "unknown field `rnd`"),
        (edit("k = { choice = [1, 2, 3] }", "k = { rnd = 1 }"), "sets[0].k", "unknown field `rnd`"),
        (edit("k = { choice = [1, 2, 3] }", "k = 1979-05-27"), "sets[0].k", "date or time"),
        (edit("type = \"float\"", "type = \"str\"").replace(x, "x = { random = [1, 2] }"), "sets[0].x", "not bounds"),
        (edit("type = \"int\"", "type = \"expr\"\nexpr = \"x\"").replace("k = { choice = [1, 2, 3] }", "k = 1"), "sets[0].k", "computed"),
        // [objective]
        (edit("builtin = \"sphere\"", "builtin = \"sphere\"\ncommand = [\"sh\"]"), "objective", "exactly one of"),
        (edit("builtin = \"sphere\"", "direction = \"minimize\""), "objective", "exactly one of"),
        (edit("builtin = \"sphere\"", "builtin = \"branin\"\ndelay_s = 1").replace("type = \"int\"", "type = \"str\"").replace("k = { choice = [1, 2, 3] }", "k = \"a\""), "objective.builtin", "branin takes exactly 2"),
        (edit("builtin = \"sphere\"", "builtin = \"hartmann6\""), "objective.builtin", "hartmann6 takes exactly 6"),
        (edit("builtin = \"sphere\"", "builtin = \"sphere\"\ndelay_s = -1"), "objective.delay_s", "seconds >= 0"),
        (edit("builtin = \"sphere\"", "builtin = \"sphere\"\ndelay_s = [2, 1]"), "objective.delay_s", "seconds >= 0"),
        (edit("builtin = \"sphere\"", "command = [\"sh\"]\ndelay_s = 1"), "objective.delay_s", "builtin objectives only"),
        (edit("builtin = \"sphere\"", "builtin = \"sphere\"\ntimeout_s = 0"), "objective.timeout_s", "positive number"),
        (edit("builtin = \"sphere\"", "builtin = \"sphere\"\nkill_grace_s = -1"), "objective.kill_grace_s", "0 to 3600"),
        (edit("builtin = \"sphere\"", "builtin = \"sphere\"\nretries = 101"), "objective.retries", "at most 100"),
        (edit("builtin = \"sphere\"", "builtin = \"sphere\"\nresult_key = \"\""), "objective", "must not be empty"),
        (edit("builtin = \"sphere\"", "command = []"), "objective.command", "empty"),
        (edit("builtin = \"sphere\"", "command = \"\""), "objective.command", "empty"),
        (edit("builtin = \"sphere\"", "command = \"sh 'unclosed\""), "objective.command", "cannot split"),
        (edit("builtin = \"sphere\"", "command = [\"sh\", \"--lr={lr}\"]"), "objective.command", "`{lr}` in `--lr={lr}`"),
        (edit("builtin = \"sphere\"", "builtin = \"sphere\"\ntimeout = 3"), "objective.timeout", "unknown field"),
        // [compute], [bayesian], [monitor]
        (format!("{BASE}[compute]\nprocesses = 0\n"), "compute.processes", "expected 1 to 4096"),
        (format!("{BASE}[compute]\nprocesses = 5000\n"), "compute.processes", "expected 1 to 4096"),
        (format!("{BASE}[compute]\nredirect_stdout = true\n"), "compute.redirect_stdout", "provide_worker_path"),
        (format!("{BASE}[bayesian]\nkappa = -1\n"), "bayesian.kappa", ">= 0"),
        (format!("{BASE}[monitor]\non_result = []\n"), "monitor.on_result", "empty"),
        (format!("{BASE}[monitor]\nplot_evry = 3\n"), "monitor.plot_evry", "unknown field"),
    ];
    for (text, key, says) in cases {
        let e = fails(&text);
        assert_eq!(e.key, key, "{e}\n{text}");
        assert!(e.problem.contains(says), "expected `{says}` in: {e}");
        assert_eq!(e.file, Path::new("c.toml"));
    }
}

#[test]
fn placeholders_may_be_parameters_or_the_builtin_ones() {
    let d = parse(&edit(
        "builtin = \"sphere\"",
        "command = [\"sh\", \"{x}-{k}\", \"{index}\", \"{worker_dir}\", \"{config_dir}\", \"{experiment_dir}\", \"{not valid}\"]",
    ))
    .expect("valid");
    assert!(matches!(d.objective.kind, ObjectiveKind::Command { ref argv } if argv.len() == 7));
}

#[test]
fn parsing_never_looks_for_programs_and_the_look_up_names_its_key() {
    let text = edit(
        "builtin = \"sphere\"",
        "command = [\"./no-such-script.sh\"]",
    );
    let d = parse(&text).expect("parsing does not search the file system");
    let e = Programs::find(&d).expect_err("not there");
    assert_eq!(e.key, "objective.command");
    assert!(e.problem.contains("not found"), "{e}");
    // Arguments are never looked at, only the program.
    let d = parse(&edit(
        "builtin = \"sphere\"",
        "command = [\"sh\", \"missing.py\"]",
    ))
    .expect("valid");
    assert_eq!(Programs::find(&d), Ok(Programs::default()));
    let d = parse(&format!(
        "{BASE}[monitor]\non_result = [\"./notify-nowhere.sh\"]\n"
    ))
    .expect("valid");
    let e = Programs::find(&d).expect_err("not there");
    assert_eq!(e.key, "monitor.on_result");
    let d = parse(&format!(
        "{BASE}[monitor]\non_result = [\"sh\", \"-c\", \"true\"]\n"
    ))
    .expect("valid");
    assert!(Programs::find(&d).expect("found").on_result.is_some());
}

#[test]
fn a_python_objective_is_file_colon_function_beside_the_configuration() {
    let python = |target: &str, extra: &str| {
        edit(
            "builtin = \"sphere\"",
            &format!("python = \"{target}\"\n{extra}"),
        )
    };
    let d = parse(&python(
        "train.py:objective",
        "python_executable = \"python3.11\"",
    ))
    .expect("valid");
    assert_eq!(
        d.objective.kind,
        ObjectiveKind::Python {
            file: "/cfg/train.py".into(),
            function: "objective".into(),
            executable: Some("python3.11".into()),
        }
    );
    // Like a command, it prints: worker folders and redirected output by default.
    assert!(d.compute.provide_worker_path && d.compute.redirect_stdout);
    let d = parse(&python("{config_dir}/sub/t.py:f", "")).expect("valid");
    assert!(
        matches!(d.objective.kind, ObjectiveKind::Python { ref file, .. } if file == Path::new("/cfg/sub/t.py"))
    );
    let d = parse(&python("/abs/c:d/t.py:f", "")).expect("a `:` in the path");
    assert!(
        matches!(d.objective.kind, ObjectiveKind::Python { ref file, ref function, .. } if file == Path::new("/abs/c:d/t.py") && function == "f")
    );
    let cases: Vec<(String, &str, &str)> = vec![
        (
            python("train.py", ""),
            "objective.python",
            "not FILE:FUNCTION",
        ),
        (python(":f", ""), "objective.python", "names no file"),
        (
            python("t.py:my-func", ""),
            "objective.python",
            "not a Python function name",
        ),
        (
            python("{index}/t.py:f", ""),
            "objective.python",
            "only use {config_dir}",
        ),
        (
            python("t.py:f", "python_executable = \" \""),
            "objective.python_executable",
            "must not be empty",
        ),
        (
            python("t.py:f", "result_file = \"r.json\""),
            "objective.result_file",
            "command objectives only",
        ),
        (
            python("t.py:f", "command = [\"sh\"]"),
            "objective",
            "exactly one of",
        ),
        (
            edit(
                "builtin = \"sphere\"",
                "builtin = \"sphere\"\npython_executable = \"python3\"",
            ),
            "objective.python_executable",
            "python objectives only",
        ),
        (
            python("t.py:f", "")
                .replace("name = \"k\"", "name = \"hyperpar\"")
                .replace("k = {", "hyperpar = {"),
            "parameters[1].name",
            "adds to its function's dict",
        ),
        (
            python("t.py:f", "")
                .replace("name = \"x\"", "name = \"worker_save_path\"")
                .replace("x = {", "worker_save_path = {"),
            "parameters[0].name",
            "choose another",
        ),
    ];
    for (text, key, says) in cases {
        let e = fails(&text);
        assert_eq!(e.key, key, "{e}\n{text}");
        assert!(e.problem.contains(says), "expected `{says}` in: {e}");
    }
    // The PHS keys are ordinary names for every other objective.
    let text = BASE
        .replace("name = \"k\"", "name = \"hyperpar\"")
        .replace("k = {", "hyperpar = {");
    parse(&text).expect("valid for a builtin");
}

#[test]
fn an_expr_parameter_takes_expressions_per_block() {
    let with = |entry: &str| {
        format!("{BASE}[[parameters]]\nname = \"f\"\ntype = \"expr\"\nexpr = \"x + k\"\n").replace(
            "k = { choice = [1, 2, 3] }",
            &format!("k = {{ choice = [1, 2, 3] }}\n{entry}"),
        )
    };
    let d = parse(&with("")).expect("valid");
    assert!(matches!(
        d.space.blocks[0].strategies[2],
        Strategy::Computed
    ));
    for entry in [
        "f = \"x * k\"",
        "f = { value = \"x * k\" }",
        "f = { choice = [\"math::sin(x)\", \"x - k\"] }",
    ] {
        let d = parse(&with(entry)).expect(entry);
        assert!(
            matches!(d.space.blocks[0].strategies[2], Strategy::Formula(_)),
            "{entry}"
        );
    }
    let cases = [
        ("f = 3", "not an expression string"),
        (
            "f = { choice = [\"x\", 2] }",
            "`2` is not an expression string",
        ),
        ("f = { choice = [] }", "empty"),
        ("f = { random = [0, 1] }", "computed from its `expr`"),
        ("f = { value = \"x * q\" }", "uses `q`"),
        ("f = { choice = [\"x\", \"(k\"] }", "does not parse"),
        ("f = { value = \"f + 1\" }", "uses `f`"),
    ];
    for (entry, says) in cases {
        let e = fails(&with(entry));
        assert_eq!(e.key, "sets[0].f", "{e}");
        assert!(e.problem.contains(says), "expected `{says}` in: {e}");
    }
}

#[test]
fn a_stored_definition_may_grow_and_change_what_changes_no_row() {
    let a = parse(BASE).expect("valid");
    let free = format!(
        "{}[compute]\nprocesses = 7\nmax_consecutive_failures = 0\n[monitor]\nplot_at_end = true\n[bayesian]\nkappa = 3.0\n[[sets]]\nx = 1\nk = 2\n",
        edit("dir = \"exp\"", "dir = \"other\"")
            .replace("count = 4", "count = 9")
            .replace(
                "builtin = \"sphere\"",
                "builtin = \"sphere\"\ntimeout_s = 5\nretries = 2\nkill_grace_s = 1"
            )
    );
    let b = parse(&free).expect("valid");
    assert_eq!(a.refused_changes(&b), []);
    assert_eq!(a.refused_changes(&a), []);
    // Everything else is named, key by key, with both values.
    let c = parse(
        &edit("seed = 3", "seed = 4")
            .replace("count = 4", "count = 3")
            .replace("random = [-5, 5]", "random = [-4, 5]"),
    )
    .expect("valid");
    let changes: Vec<String> = a
        .refused_changes(&c)
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(
        changes,
        [
            "`experiment.seed` was 3, is 4",
            "`sets[0].x.random` was [-5.0,5.0], is [-4.0,5.0]",
            "`sets[0].count` was 4, is 3 (a count can be raised, not lowered)",
        ]
    );
    // The interpreter may move (another machine, another virtual environment); the function
    // may not.
    let python = |target: &str, interpreter: &str| {
        let line = format!("python = \"{target}\"\npython_executable = \"{interpreter}\"");
        parse(&edit("builtin = \"sphere\"", &line)).expect("valid")
    };
    let here = python("t.py:f", "python3");
    assert_eq!(
        here.refused_changes(&python("t.py:f", "/opt/venv/bin/python")),
        []
    );
    assert_eq!(
        here.refused_changes(&python("t.py:g", "python3"))[0].key,
        "objective.python"
    );
    let d = parse(&format!("{BASE}[[sets]]\nx = 1\nk = 2\n")).expect("valid");
    let e = d.refused_changes(&a);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].key, "sets[1]");
    let f = parse(&edit(
        "builtin = \"sphere\"",
        "builtin = \"sphere\"\ndirection = \"maximize\"",
    ))
    .expect("valid");
    assert_eq!(
        a.refused_changes(&f)[0].to_string(),
        "`objective.direction` was \"minimize\", is \"maximize\""
    );
}

#[test]
fn syntax_errors_quote_the_line() {
    let e = fails(&edit("count = 4", "count = = 4"));
    assert_eq!(e.key, "");
    assert!(e.problem.contains("(in `count = = 4`)"), "{e}");
    assert!(e.at.is_some_and(|(line, _)| line > 1));
}

/// A valid configuration with some characters replaced, inserted or removed.
fn mutated() -> impl proptest::strategy::Strategy<Value = String> {
    let edits = prop::collection::vec((0..BASE.len(), 0u8..4, any::<char>()), 1..6);
    edits.prop_map(|edits| {
        let mut s: Vec<char> = BASE.chars().collect();
        for (pos, kind, c) in edits {
            let pos = pos.min(s.len().saturating_sub(1));
            match kind {
                0 => s[pos] = c,
                1 => s.insert(pos, c),
                2 => {
                    s.remove(pos);
                }
                _ => s.insert(pos, ['[', ']', '"', '=', '\n', '{', ',', '-', '9'][pos % 9]),
            }
        }
        s.into_iter().collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_parser_never_panics_on_text(text in "\\PC{0,400}") {
        let _ = parse(&text);
    }

    #[test]
    fn the_parser_never_panics_on_mutated_configs(text in mutated()) {
        let _ = parse(&text);
    }
}

#[test]
fn outputs_are_checked_and_part_of_the_experiment() {
    let outputs = "[objective]\ncommand = [\"sh\"]\n[[objective.outputs]]\nname = \"err\"\ndirection = \"maximize\"\n[[objective.outputs]]\nname = \"mem\"\nmin = 1\nmax = 16\n";
    let d = parse(&edit("[objective]\nbuiltin = \"sphere\"\n", outputs)).expect("valid");
    assert_eq!(
        d.objective.direction,
        Direction::Maximize,
        "the first objective's"
    );
    assert_eq!(
        d.objective.outputs[1],
        Output {
            name: "mem".into(),
            goal: Goal::Constraint {
                min: Some(1.0),
                max: Some(16.0)
            }
        }
    );
    assert!(d.objective.outputs[1].holds(16.0) && !d.objective.outputs[1].holds(0.5));
    let e = fails(&edit(
        "[objective]\nbuiltin = \"sphere\"\n",
        &outputs.replace("name = \"mem\"", "name = \"k\""),
    ));
    assert_eq!(e.key, "objective.outputs[1].name");
    // Leaving `direction` out is writing `minimize`, as it always was; another output is
    // another experiment.
    let a = parse(BASE).expect("valid");
    let b = parse(&edit(
        "builtin = \"sphere\"",
        "builtin = \"sphere\"\ndirection = \"minimize\"",
    ))
    .expect("valid");
    assert_eq!(a.refused_changes(&b), []);
    let c = parse(&edit("[objective]\nbuiltin = \"sphere\"\n", outputs)).expect("valid");
    let renamed = parse(&edit(
        "[objective]\nbuiltin = \"sphere\"\n",
        &outputs.replace("max = 16", "max = 8"),
    ))
    .expect("valid");
    let changes = c.refused_changes(&renamed);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].key, "objective.outputs[1].max");
}

#[test]
fn pruning_judges_one_objective_output_in_its_direction() {
    let outputs = "[objective]\ncommand = [\"sh\"]\n[[objective.outputs]]\nname = \"err\"\ndirection = \"minimize\"\n[[objective.outputs]]\nname = \"mem\"\nmax = 16\n";
    let with = |outputs: &str, pruning: &str| {
        edit("[objective]\nbuiltin = \"sphere\"\n", outputs)
            + "[pruning]\nrule = \"median\"\n"
            + pruning
    };
    // One objective output and a constraint: the objective is judged, `output` or not.
    let d = parse(&with(outputs, "")).expect("valid");
    assert_eq!(d.report_direction(), Direction::Minimize);
    let e = fails(&with(outputs, "output = \"mem\"\n"));
    assert_eq!(e.key, "pruning.output");
    assert!(
        e.problem.contains("a constraint") && e.problem.contains("(err)"),
        "{}",
        e.problem
    );
    let e = fails(&with(outputs, "output = \"acc\"\n"));
    assert!(e.problem.contains("not a declared output"), "{}", e.problem);
    // Two objective outputs: `output` names one, whose direction the reports are in.
    let two = format!("{outputs}[[objective.outputs]]\nname = \"acc\"\ndirection = \"maximize\"\n");
    let e = fails(&with(&two, ""));
    assert_eq!(e.key, "pruning.output");
    assert!(e.problem.contains("(err, acc)"), "{}", e.problem);
    let d = parse(&with(&two, "output = \"acc\"\n")).expect("valid");
    assert_eq!(d.report_direction(), Direction::Maximize);
    assert_eq!(
        d.objective.direction,
        Direction::Minimize,
        "result: the first"
    );
    // Without declared outputs there is nothing to name.
    let e = fails(&(BASE.to_string() + "[pruning]\nrule = \"median\"\noutput = \"err\"\n"));
    assert!(
        e.problem.contains("declares no [[objective.outputs]]"),
        "{}",
        e.problem
    );
}

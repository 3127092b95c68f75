//! Property-based fuzzing of the two readers of untrusted text: the configuration parser and
//! the results-table reader. Neither may panic, whatever the input; bounded case counts keep
//! the run short.

use hpo::config::Experiment;
use hpo::experiment::journal::read_results;
use proptest::prelude::*;
use std::path::Path;

const VALID: &str = r#"
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
[[parameters]]
name = "z"
type = "expr"
expr = "x * k"
[[sets]]
count = 4
prevent_duplicate = true
x = { random = [-5, 5], round = 2 }
k = { choice = [1, 2, 3] }
[[sets]]
count = 2
x = { bayesian = [-5, 5] }
k = { bayesian = [1, 3] }
"#;

fn parse(text: &str) {
    let _ = Experiment::parse(text, Path::new("fuzz.toml"), Path::new("/tmp"));
}

/// A valid configuration with some bytes replaced, inserted or removed.
fn mutated() -> impl Strategy<Value = String> {
    let edits = prop::collection::vec((0..VALID.len(), 0u8..4, any::<char>()), 1..6);
    edits.prop_map(|edits| {
        let mut s: Vec<char> = VALID.chars().collect();
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
    fn config_parser_never_panics_on_text(text in "\\PC{0,400}") {
        parse(&text);
    }

    #[test]
    fn config_parser_never_panics_on_mutated_configs(text in mutated()) {
        parse(&text);
    }

    #[test]
    fn results_reader_never_panics(lines in prop::collection::vec("[-0-9a-z.,:\"TZ \\n]{0,80}", 0..12), raw in prop::collection::vec(any::<u8>(), 0..200)) {
        let exp = Experiment::parse(VALID, Path::new("fuzz.toml"), Path::new("/tmp")).expect("valid");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("results.csv");
        let header = "index,x,k,z,result,status,worker,started,ended,duration_s,attempts,exit_code,rank,host,gpu,cores,bayesian,block,note,error\n";
        std::fs::write(&path, format!("{header}{}", lines.join("\n"))).expect("write");
        let _ = read_results(&path, &exp.space);
        std::fs::write(&path, &raw).expect("write");
        let _ = read_results(&path, &exp.space);
    }
}

#[test]
fn the_fuzzed_valid_config_is_valid() {
    let exp = Experiment::parse(VALID, Path::new("fuzz.toml"), Path::new("/tmp")).expect("valid");
    assert_eq!(exp.space.parameters.len(), 3);
}

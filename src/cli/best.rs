//! `hpo best DIR|CONFIG [--format json|toml|args]`: the best `ok` set of an experiment, in a
//! form to paste: JSON, a `[[sets]]` block of `value`s, or `--name value` arguments. With
//! declared outputs, every set of the Pareto front (feasible `ok` rows no other dominates):
//! a JSON array, one block per set, one line of arguments per set.

use crate::config::Definition;
use crate::experiment::ResultRow;
use crate::experiment::summary;
use crate::space::{Kind, Value};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  hpo best runs/exp                     {\"index\": 17, \"result\": 0.012, \"params\": {\"lr\": 0.003, ...}}
  hpo best exp.toml --format toml >> exp.toml    the best set as a [[sets]] block, to run it again
  python3 train.py $(hpo best runs/exp --format args)
With [[objective.outputs]], every Pareto-optimal feasible set:
  hpo best runs/mo                      [{\"index\": 4, \"outputs\": {\"err\": 0.1, \"ms\": 9}, \"params\": {...}}, ...]")]
pub struct BestArgs {
    /// The experiment folder, or its configuration file.
    #[arg(value_name = "DIR|CONFIG")]
    pub target: PathBuf,
    /// How to print the best set.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
}

/// The forms `hpo best` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `{"index": N, "result": R, "params": {NAME: VALUE, ...}}`, on one line; with declared
    /// outputs an array of `{"index": N, "outputs": {NAME: VALUE, ...}, "params": {...}}`.
    Json,
    /// A `[[sets]]` block giving each parameter its `value` (computed `expr` ones left out);
    /// with declared outputs, one block per Pareto-optimal set.
    Toml,
    /// `--name value` for each parameter, quoted for a shell; with declared outputs, one line
    /// per Pareto-optimal set.
    Args,
}

/// No set of the experiment has an `ok` row yet.
#[derive(Debug, thiserror::Error)]
#[error(
    "{dir} has no `ok` row yet ({done} of {total} sets done, {failed} failed); see `hpo status {dir}`"
)]
pub struct NoBest {
    dir: String,
    done: usize,
    total: usize,
    failed: usize,
}

/// An experiment with declared outputs has no feasible `ok` row yet.
#[derive(Debug, thiserror::Error)]
#[error(
    "{dir} has no feasible `ok` row yet ({done} of {total} sets done, {failed} failed, {infeasible} infeasible); see `hpo status {dir}`"
)]
pub struct NoFront {
    dir: String,
    done: usize,
    total: usize,
    failed: usize,
    infeasible: usize,
}

pub fn run(args: BestArgs) -> anyhow::Result<ExitCode> {
    let dir = super::experiment_folder(&args.target)?;
    let (s, exp, rows) = super::status::gather(&dir)?;
    if !exp.objective.outputs.is_empty() {
        let front = summary::pareto_front(&rows, &exp.objective.outputs);
        if front.is_empty() {
            return Err(NoFront {
                dir: args.target.display().to_string(),
                done: s.done,
                total: s.total,
                failed: s.failed + s.timeout,
                infeasible: summary::infeasible(&rows, &exp.objective.outputs).len(),
            }
            .into());
        }
        println!("{}", front_text(&exp, &front, args.format));
        return Ok(ExitCode::SUCCESS);
    }
    let Some(best) = summary::best(&rows, exp.objective.direction) else {
        return Err(NoBest {
            dir: args.target.display().to_string(),
            done: s.done,
            total: s.total,
            failed: s.failed + s.timeout,
        }
        .into());
    };
    let text = match args.format {
        Format::Json => json(&exp, best),
        Format::Toml => toml_block(&exp, best),
        Format::Args => arguments(&exp, best),
    };
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// The Pareto front in `format`: a JSON array, one block per set, one line per set.
fn front_text(exp: &Definition, front: &[&ResultRow], format: Format) -> String {
    let outputs = &exp.objective.outputs;
    match format {
        Format::Json => {
            let names = exp.space.names();
            let sets: Vec<serde_json::Value> = front
                .iter()
                .map(|r| summary::front_json(&names, outputs, r))
                .collect();
            serde_json::Value::Array(sets).to_string()
        }
        Format::Toml => front
            .iter()
            .map(|r| {
                let values: Vec<String> = summary::outputs_json(outputs, r)
                    .iter()
                    .map(|(k, v)| format!("{k} = {v}"))
                    .collect();
                let block = toml_block(exp, r);
                // The first line names the set; its outputs replace the single result.
                let body = block.split_once('\n').map_or("", |(_, b)| b);
                format!(
                    "# a Pareto-optimal set of {}: set {}, {}\n{body}",
                    exp.dir.display(),
                    r.index,
                    values.join(", ")
                )
            })
            .collect::<Vec<_>>()
            .join("\n\n"),
        Format::Args => front
            .iter()
            .map(|r| arguments(exp, r))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// The parameters' names and values, in declared order (inactive ones left out).
fn named<'a>(
    exp: &'a Definition,
    row: &'a ResultRow,
) -> impl Iterator<Item = (&'a str, &'a Value)> {
    exp.space
        .parameters
        .iter()
        .map(|p| p.name.as_str())
        .zip(&row.values)
        .filter(|(_, v)| !v.is_inactive())
}

/// One line, keys in the order of the issue's contract and parameters in declared order.
fn json(exp: &Definition, row: &ResultRow) -> String {
    let params: Vec<String> = named(exp, row)
        .map(|(n, v)| format!("{}: {}", serde_json::json!(n), v.to_json()))
        .collect();
    format!(
        "{{\"index\": {}, \"result\": {}, \"params\": {{{}}}}}",
        row.index,
        serde_json::json!(row.outcome.result),
        params.join(", ")
    )
}

/// A `[[sets]]` block of `value`s; `expr` parameters are computed, so they are left out.
fn toml_block(exp: &Definition, row: &ResultRow) -> String {
    let mut out = format!(
        "# the best set of {}: set {}, result {} ({})\n[[sets]]\n",
        exp.dir.display(),
        row.index,
        row.outcome.result.unwrap_or(f64::NAN),
        exp.objective.direction
    );
    for (p, v) in exp.space.parameters.iter().zip(&row.values) {
        let value = match v {
            _ if matches!(p.kind, Kind::Expr(_)) => continue,
            Value::Float(x) => toml::Value::Float(*x),
            Value::Int(i) => toml::Value::Integer(*i),
            Value::Str(s) => toml::Value::String(s.clone()),
            // Inactive in this set: a block leaves a conditional parameter out.
            Value::Inactive => continue,
        };
        out.push_str(&format!("{} = {{ value = {value} }}\n", p.name));
    }
    out.trim_end().to_string()
}

/// `--name value ...`, each word quoted for a POSIX shell where it needs to be.
fn arguments(exp: &Definition, row: &ResultRow) -> String {
    named(exp, row)
        .flat_map(|(n, v)| {
            [
                format!("--{n}"),
                shell_words::quote(&v.to_string()).into_owned(),
            ]
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objective::Outcome;

    fn experiment() -> Definition {
        let text = "[experiment]\ndir = \"e\"\n[objective]\ncommand = [\"sh\"]\n\
            [[parameters]]\nname = \"lr\"\ntype = \"float\"\n[[parameters]]\nname = \"act\"\ntype = \"str\"\n\
            [[parameters]]\nname = \"layers\"\ntype = \"int\"\n[[parameters]]\nname = \"w\"\ntype = \"expr\"\nexpr = \"layers * 2\"\n\
            [[sets]]\nlr = { random = [0.001, 1] }\nact = { choice = [\"a b\", \"c\"] }\nlayers = { random = [1, 4] }\n";
        Definition::parse(
            text,
            std::path::Path::new("c.toml"),
            std::path::Path::new("/"),
        )
        .expect("valid")
    }

    fn row() -> ResultRow {
        ResultRow::for_test(
            3,
            vec![
                Value::Float(3.0),
                Value::Str("a b".into()),
                Value::Int(2),
                Value::Int(4),
            ],
            Outcome::ok(0.125),
        )
    }

    #[test]
    fn with_outputs_every_pareto_optimal_set_is_printed() {
        let text = experiment().source.replace(
            "[objective]\ncommand = [\"sh\"]\n",
            "[objective]\ncommand = [\"sh\"]\n[[objective.outputs]]\nname = \"err\"\ndirection = \"minimize\"\n[[objective.outputs]]\nname = \"ms\"\ndirection = \"minimize\"\n",
        );
        let exp = Definition::parse(
            &text,
            std::path::Path::new("c.toml"),
            std::path::Path::new("/"),
        )
        .expect("valid");
        let mut a = row();
        a.outcome.outputs = vec![0.125, 9.0];
        let mut b = row();
        b.index = 5;
        b.outcome.outputs = vec![0.5, 2.0];
        let front = [&a, &b];
        let json: serde_json::Value =
            serde_json::from_str(&front_text(&exp, &front, Format::Json)).expect("JSON");
        assert_eq!(json.as_array().map(Vec::len), Some(2));
        assert_eq!(
            json[0],
            serde_json::json!({"index": 3, "outputs": {"err": 0.125, "ms": 9.0}, "params": {"lr": 3.0, "act": "a b", "layers": 2, "w": 4}})
        );
        let toml = front_text(&exp, &front, Format::Toml);
        assert_eq!(toml.matches("[[sets]]").count(), 2, "{toml}");
        assert!(toml.contains("set 5, err = 0.5, ms = 2.0"), "{toml}");
        let grown = Definition::parse(
            &format!("{}{toml}\n", exp.source),
            std::path::Path::new("c.toml"),
            std::path::Path::new("/"),
        )
        .expect("the blocks are valid");
        assert_eq!(grown.space.blocks.len(), 3);
        assert_eq!(front_text(&exp, &front, Format::Args).lines().count(), 2);
    }

    #[test]
    fn the_three_formats() {
        let (exp, r) = (experiment(), row());
        assert_eq!(
            json(&exp, &r),
            r#"{"index": 3, "result": 0.125, "params": {"lr": 3.0, "act": "a b", "layers": 2, "w": 4}}"#
        );
        let block = toml_block(&exp, &r);
        assert!(block.ends_with(
            "[[sets]]\nlr = { value = 3.0 }\nact = { value = \"a b\" }\nlayers = { value = 2 }"
        ));
        // The block pastes into the configuration it came from.
        let text = format!("{}{block}\n", exp.source);
        let grown = Definition::parse(
            &text,
            std::path::Path::new("c.toml"),
            std::path::Path::new("/"),
        )
        .expect("the block is valid");
        assert_eq!(grown.space.blocks.len(), 2);
        assert_eq!(arguments(&exp, &r), "--lr 3 --act 'a b' --layers 2 --w 4");
    }
}

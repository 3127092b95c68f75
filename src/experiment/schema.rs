//! The columns of `results.csv`: `index`, one column per parameter (named as the parameter),
//! then the fixed tail columns. The tail is a contract: columns are only ever added at its
//! end, never renamed; so a parameter may not take any of these names.
//!
//! A table written by an older hpo has a shorter tail (at least [`FIRST_TAIL`] columns):
//! readers take its missing columns as empty, and the run that resumes it rewrites its header
//! and pads its rows (see `journal::read_and_repair`).
//!
//! A leaf: it imports nothing from the rest of the crate (the configuration checks parameter
//! names against it, the journal writes and reads with it).

/// The first column: the set's index in the parameter table.
pub const INDEX: &str = "index";

/// Columns after the parameters, in order. Extend at the end; never rename.
pub const TAIL_COLUMNS: [&str; 18] = [
    "result",
    "status",
    "worker",
    "started",
    "ended",
    "duration_s",
    "attempts",
    "exit_code",
    "rank",
    "host",
    "gpu",
    "cores",
    "bayesian",
    "block",
    "note",
    "error",
    "metrics",
    "step",
];

/// The column after the tail when constraints are declared: whether the row satisfies them
/// (`true`/`false`; empty for a row without outputs). Then one column per declared output.
pub const FEASIBLE: &str = "feasible";

/// The tail of the first results tables (up to `error`): the shortest one a reader accepts.
pub const FIRST_TAIL: usize = 16;

/// One tail column: its position among [`TAIL_COLUMNS`] (so a reader never looks a column up
/// by name at run time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tail {
    Result,
    Status,
    Worker,
    Started,
    Ended,
    /// Written, never read back: it follows from `started` and `ended`.
    #[allow(dead_code)]
    DurationS,
    Attempts,
    ExitCode,
    Rank,
    Host,
    Gpu,
    Cores,
    Bayesian,
    Block,
    Note,
    Error,
    /// What the objective returned besides the result: JSON object text, or empty.
    Metrics,
    /// The step a `pruned` set reached; empty for every other row.
    Step,
}

impl Tail {
    /// The column's name in the header.
    pub fn name(self) -> &'static str {
        TAIL_COLUMNS[self as usize]
    }

    /// The column's position in a row with `parameters` parameter columns.
    pub fn position(self, parameters: usize) -> usize {
        1 + parameters + self as usize
    }
}

/// Whether `name` is a column of results.csv other than a parameter's.
pub fn is_reserved(name: &str) -> bool {
    name == INDEX || TAIL_COLUMNS.contains(&name)
}

/// The header of a results table with these parameters.
pub fn header<'a>(parameters: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut h = vec![INDEX.to_string()];
    h.extend(parameters.into_iter().map(String::from));
    h.extend(TAIL_COLUMNS.iter().map(|s| s.to_string()));
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_columns_are_in_the_order_of_the_enum() {
        let all = [
            Tail::Result,
            Tail::Status,
            Tail::Worker,
            Tail::Started,
            Tail::Ended,
            Tail::DurationS,
            Tail::Attempts,
            Tail::ExitCode,
            Tail::Rank,
            Tail::Host,
            Tail::Gpu,
            Tail::Cores,
            Tail::Bayesian,
            Tail::Block,
            Tail::Note,
            Tail::Error,
            Tail::Metrics,
            Tail::Step,
        ];
        assert_eq!(all.len(), TAIL_COLUMNS.len());
        for (i, t) in all.iter().enumerate() {
            assert_eq!(t.name(), TAIL_COLUMNS[i]);
            assert_eq!(t.position(2), 3 + i);
        }
        assert_eq!(
            header(["x", "y"])[..4],
            ["index", "x", "y", "result"].map(String::from)
        );
        assert!(is_reserved("index") && is_reserved("error") && !is_reserved("x"));
        assert!(is_reserved("metrics") && TAIL_COLUMNS[FIRST_TAIL - 1] == "error");
        assert!(is_reserved("step"));
    }
}

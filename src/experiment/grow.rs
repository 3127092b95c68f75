//! Growing an experiment: storing, in its folder, a configuration that appends `[[sets]]`
//! blocks, raises counts, or changes keys that change no drawn value and no stored row
//! (`timeout_s`, `[compute]`, ...; see [`crate::config::Definition::refused_changes`]).
//!
//! The drawn table is append-only: the stored sets keep their indices and values, and the new
//! ones ([`crate::space::extend_table`], a function of the stored sets, the new definition and
//! the seed) get the next indices. Only the run holding the folder's lock grows it, before its
//! first evaluation, in two durable replacements ([`super::replace_durably`]: temporary file,
//! fsync, rename, fsync of the folder):
//!
//! 1. `parameters.csv`: the stored sets, unchanged, then the new ones;
//! 2. `experiment.toml`: the new definition. This rename is the commit.
//!
//! A crash before step 2 leaves a table longer than the stored definition: [`super::read_table`]
//! reads only the definition's sets, and the next run draws the same new sets again. After step
//! 2 the grown experiment is whole. No row of `results.csv` refers to a new set before both
//! steps are done, since only the run that follows them evaluates new sets.

use super::{
    CONFIG_FILE, ExperimentError, TABLE_FILE, io_err, read_sets, replace_durably, table_csv,
};
use crate::config::Definition;
use crate::space::{SetSpec, extend_table};
use std::ops::Range;

/// What growing stored.
#[derive(Debug)]
pub struct Grown {
    /// The whole table, the stored sets first.
    pub table: Vec<SetSpec>,
    /// The indices of the new sets (empty when only keys changed).
    pub new_sets: Range<usize>,
}

/// Stores `exp` (a configuration accepted for its folder, whose stored definition has
/// `stored_sets` sets) in its folder, with the new sets it adds. Call with the folder's lock
/// held. A block that cannot have as many distinct sets as its new `count` is refused before
/// anything is written.
pub fn grow(exp: &Definition, stored_sets: usize) -> Result<Grown, ExperimentError> {
    let dir = &exp.dir;
    let mut table = read_sets(dir, &exp.space, stored_sets)?;
    let more = extend_table(&exp.space, exp.seed, &table)?;
    let new_sets = table.len()..table.len() + more.len();
    if !more.is_empty() {
        table.extend(more);
        let path = dir.join(TABLE_FILE);
        replace_durably(&path, &table_csv(&exp.space, &table)).map_err(io_err(&path))?;
    }
    let path = dir.join(CONFIG_FILE);
    replace_durably(&path, exp.source.as_bytes()).map_err(io_err(&path))?;
    Ok(Grown { table, new_sets })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::{create, load_stored, read_table};
    use std::path::Path;

    fn definition(dir: &Path, counts: &[usize]) -> Definition {
        let mut text = format!(
            "[experiment]\ndir = \"{}\"\nseed = 5\n[objective]\nbuiltin = \"sphere\"\n[[parameters]]\nname = \"x\"\ntype = \"float\"\n",
            dir.display()
        );
        for count in counts {
            text += &format!("[[sets]]\ncount = {count}\nx = {{ random = [0, 1] }}\n");
        }
        Definition::parse(&text, Path::new("c.toml"), Path::new("/")).expect("valid")
    }

    /// A growth interrupted between its two steps leaves the stored experiment as it was, and
    /// the next growth, the same or another, gives the table it would have given.
    #[test]
    fn a_growth_interrupted_before_its_commit_is_as_if_it_never_began() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("exp");
        let small = definition(&dir, &[3]);
        let drawn = create(&small).expect("created");
        let big = definition(&dir, &[5, 2]);
        let other = definition(&dir, &[4]);
        let extended = |def: &Definition| {
            let mut t = drawn.clone();
            t.extend(extend_table(&def.space, def.seed, &drawn).expect("drawn"));
            t
        };
        // Step 1 done (the grown table), step 2 not (the stored definition is the small one).
        let path = dir.join(TABLE_FILE);
        replace_durably(&path, &table_csv(&big.space, &extended(&big))).expect("write");
        let stored = load_stored(&dir).expect("loads");
        assert_eq!(stored.total_sets(), 3);
        assert_eq!(read_table(&dir, &stored.space).expect("reads"), drawn);
        // Another growth after the crash draws from the stored sets only.
        let grown = grow(&other, 3).expect("grows");
        assert_eq!(grown.table, extended(&other));
        assert_eq!(grown.new_sets, 3..4);
        let stored = load_stored(&dir).expect("loads");
        assert_eq!(stored.total_sets(), 4);
        assert_eq!(
            read_table(&dir, &stored.space).expect("reads"),
            extended(&other)
        );
    }
}

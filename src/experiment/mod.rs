//! The experiment folder: everything a search leaves on disk, and the only state a resumed or
//! monitoring `hpo` reads.
//!
//! ```text
//! DIR/experiment.toml   the configuration as given (the definition)
//! DIR/meta.json         where it came from (configuration folder), when, which hpo
//! DIR/parameters.csv    the drawn table: index, block, one column per parameter
//!                       (`<bayesian>` and `<expr>` until a worker fills them; an `expr`
//!                       parameter whose block gives expressions holds the one drawn)
//! DIR/results.csv       one row per finished set, appended and fsynced as results arrive
//! DIR/history.csv       rows replaced by a retry (`hpo run --retry-failed`), see [`journal`]
//! DIR/curves.csv        every intermediate value reported (`[pruning]`), see [`curves`]
//! DIR/status.json       the running master's live view ([`live`]), rewritten each second
//! DIR/worker_out/000042/  the folder of set 42 (params.json, stdout.txt, stderr.txt)
//! DIR/.lock             held (flock) by the run that owns the folder
//! ```

pub mod curves;
mod grow;
pub mod journal;
pub mod live;
mod lock;
pub mod schema;
pub mod summary;

pub use grow::{Grown, grow};
pub use journal::{Journal, JournalError, Repair, ResultRow};
pub use lock::Lock;

use crate::config::{ConfigError, Definition, KeyChange};
use crate::space::{Cell, Kind, SetSpec, Space, Value, draw_table};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const CONFIG_FILE: &str = "experiment.toml";
pub const META_FILE: &str = "meta.json";
pub const TABLE_FILE: &str = "parameters.csv";
pub const RESULTS_FILE: &str = "results.csv";
pub const HISTORY_FILE: &str = "history.csv";
pub const CURVES_FILE: &str = "curves.csv";
pub const STATUS_FILE: &str = "status.json";
pub const WORKER_OUT: &str = "worker_out";
const BAYESIAN_CELL: &str = "<bayesian>";
const COMPUTED_CELL: &str = "<expr>";

#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(
        "{dir} exists and is not an experiment folder (it has no {CONFIG_FILE}); choose another `dir`"
    )]
    NotAnExperiment { dir: PathBuf },
    #[error(
        "{} holds another experiment than {}: {}. An experiment can grow (append [[sets]] \
         blocks, raise a block's `count`) and take new `timeout_s`, `retries`, `kill_grace_s`, \
         `python_executable`, [compute], [monitor] and [bayesian]; anything else is a new \
         experiment: give it another `dir` (or --dir), or delete {} to start over",
        dir.display(), config.display(), list(changes), dir.display()
    )]
    DefinitionChanged {
        dir: PathBuf,
        config: PathBuf,
        changes: Vec<KeyChange>,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: line {line}: {problem}")]
    Table {
        path: PathBuf,
        line: usize,
        problem: String,
    },
    #[error(transparent)]
    Draw(#[from] crate::space::DrawError),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// `a; b; c`.
fn list(changes: &[KeyChange]) -> String {
    let items: Vec<String> = changes.iter().map(KeyChange::to_string).collect();
    items.join("; ")
}

impl ExperimentError {
    /// Whether the user's input is at fault (exit code 2) rather than the system.
    pub fn is_usage(&self) -> bool {
        !matches!(
            self,
            ExperimentError::Io { .. } | ExperimentError::Journal(_)
        )
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ExperimentError + '_ {
    move |source| ExperimentError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    config_dir: PathBuf,
    created: String,
    hpo_version: String,
}

/// Objectives run in their own folders: every path handed to them must be absolute.
fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Whether `dir` is an experiment folder.
pub fn is_experiment(dir: &Path) -> bool {
    dir.join(CONFIG_FILE).is_file()
}

/// Loads the definition stored in an experiment folder.
pub fn load_stored(dir: &Path) -> Result<Definition, ExperimentError> {
    let config = dir.join(CONFIG_FILE);
    let source = std::fs::read_to_string(&config).map_err(io_err(&config))?;
    let meta_path = dir.join(META_FILE);
    let config_dir = std::fs::read(&meta_path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Meta>(&b).ok())
        .map(|m| m.config_dir)
        .unwrap_or_else(|| dir.to_path_buf());
    let mut exp = Definition::parse(&source, &config, &config_dir)?;
    exp.dir = absolute(dir);
    Ok(exp)
}

/// The stored definition and the results of an experiment folder, read without changing
/// anything (safe while a run appends to it).
pub fn read_stored(dir: &Path) -> Result<(Definition, Vec<ResultRow>), ExperimentError> {
    let exp = load_stored(dir)?;
    let (rows, _) =
        journal::read_results(&dir.join(RESULTS_FILE), &exp.space, &exp.objective.outputs)?;
    Ok((exp, rows))
}

/// What an experiment folder holds, compared with the configuration `hpo run` or `hpo init`
/// was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Folder {
    /// No folder yet: [`create`] makes it.
    New,
    /// The folder holds this experiment as given.
    Holds,
    /// The configuration grows the stored experiment, or changes keys that may change: the
    /// run that takes the lock stores it with [`grow()`]. `stored_sets`: the sets of the stored
    /// definition.
    Grows { stored_sets: usize },
}

/// What `hpo run` or `hpo init` was pointed at (a configuration or an experiment folder),
/// resolved to an experiment and the state of its folder. A configuration whose folder exists
/// must hold the same experiment, or grow it ([`Definition::refused_changes`]); it then runs
/// with the folder's configuration folder, as the stored definition does.
pub fn resolve(
    target: &Path,
    dir_override: Option<&Path>,
) -> Result<(Definition, Folder), ExperimentError> {
    if target.is_dir() {
        if !is_experiment(target) {
            return Err(ExperimentError::NotAnExperiment {
                dir: target.to_path_buf(),
            });
        }
        return Ok((load_stored(target)?, Folder::Holds));
    }
    let mut exp = Definition::load(target)?;
    if let Some(d) = dir_override {
        exp.dir = absolute(d);
    }
    if is_experiment(&exp.dir) {
        let stored = load_stored(&exp.dir)?;
        let changes = stored.refused_changes(&exp);
        if !changes.is_empty() {
            return Err(ExperimentError::DefinitionChanged {
                dir: exp.dir.clone(),
                config: target.to_path_buf(),
                changes,
            });
        }
        if stored.source == exp.source {
            // Later errors name the file given.
            let mut stored = stored;
            stored.file = exp.file;
            return Ok((stored, Folder::Holds));
        }
        let stored_sets = stored.total_sets();
        let mut given = Definition::parse(&exp.source, target, &stored.config_dir)?;
        given.dir = stored.dir;
        return Ok((given, Folder::Grows { stored_sets }));
    }
    if exp.dir.exists()
        && std::fs::read_dir(&exp.dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(ExperimentError::NotAnExperiment {
            dir: exp.dir.clone(),
        });
    }
    Ok((exp, Folder::New))
}

/// Creates the experiment folder with its definition and drawn table. The folder appears
/// whole or not at all (written beside it, then renamed).
pub fn create(exp: &Definition) -> Result<Vec<SetSpec>, ExperimentError> {
    let table = draw_table(&exp.space, exp.seed)?;
    let dir = &exp.dir;
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "experiment".into());
    let staging = parent.join(format!(".{name}.creating-{}", std::process::id()));
    let result = (|| {
        std::fs::create_dir(&staging).map_err(io_err(&staging))?;
        write_file(&staging.join(CONFIG_FILE), exp.source.as_bytes())?;
        let meta = Meta {
            config_dir: exp.config_dir.clone(),
            created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            hpo_version: env!("CARGO_PKG_VERSION").into(),
        };
        write_file(
            &staging.join(META_FILE),
            &serde_json::to_vec_pretty(&meta).unwrap_or_default(),
        )?;
        write_file(&staging.join(TABLE_FILE), &table_csv(&exp.space, &table))?;
        std::fs::create_dir(staging.join(WORKER_OUT)).map_err(io_err(&staging))?;
        if dir.exists() {
            // An empty folder the user made: replace it.
            std::fs::remove_dir(dir).map_err(io_err(dir))?;
        }
        std::fs::rename(&staging, dir).map_err(io_err(dir))
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result.map(|()| table)
}

/// Written without fsync: the results journal's syncer makes the folder durable together
/// with the first results (see [`DEFINITION_FILES`]); until then nothing is lost but a folder
/// that `hpo init` can make again.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ExperimentError> {
    let mut f = std::fs::File::create(path).map_err(io_err(path))?;
    f.write_all(bytes).map_err(io_err(path))
}

/// The files of a new folder that the journal's syncer fsyncs (with the folder) when it starts.
pub const DEFINITION_FILES: [&str; 3] = [CONFIG_FILE, META_FILE, TABLE_FILE];

fn table_csv(space: &Space, table: &[SetSpec]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["index".to_string(), "block".to_string()];
    header.extend(space.parameters.iter().map(|p| p.name.clone()));
    let _ = w.write_record(&header);
    for set in table {
        let mut rec = vec![set.index.to_string(), set.block.to_string()];
        rec.extend(set.cells.iter().map(|c| match c {
            Cell::Fixed(v) => v.to_string(),
            Cell::Bayesian => BAYESIAN_CELL.into(),
            Cell::Computed => COMPUTED_CELL.into(),
            Cell::Formula(source) => source.clone(),
        }));
        let _ = w.write_record(&rec);
    }
    w.into_inner().unwrap_or_default()
}

/// Reads the drawn table back: the sets of the definition `space` describes. Rows past them
/// are left over from a growth that a crash interrupted before its definition was stored (see
/// [`grow()`]) and are not read.
pub fn read_table(dir: &Path, space: &Space) -> Result<Vec<SetSpec>, ExperimentError> {
    read_sets(dir, space, space.blocks.iter().map(|b| b.count).sum())
}

/// The first `sets` rows of the drawn table.
fn read_sets(dir: &Path, space: &Space, sets: usize) -> Result<Vec<SetSpec>, ExperimentError> {
    let path = dir.join(TABLE_FILE);
    let bytes = std::fs::read(&path).map_err(io_err(&path))?;
    let bad = |line: usize, problem: String| ExperimentError::Table {
        path: path.clone(),
        line,
        problem,
    };
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let n = space.parameters.len();
    let mut table = Vec::with_capacity(sets);
    for (i, rec) in reader.records().take(sets).enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| bad(line, e.to_string()))?;
        if rec.len() != n + 2 {
            return Err(bad(
                line,
                format!("{} fields, expected {}", rec.len(), n + 2),
            ));
        }
        let index: usize = rec[0]
            .parse()
            .map_err(|_| bad(line, format!("index `{}` is not a number", &rec[0])))?;
        if index != table.len() {
            return Err(bad(
                line,
                format!("index {index} out of order, expected {}", table.len()),
            ));
        }
        let block: usize = rec[1]
            .parse()
            .ok()
            .filter(|b| *b < space.blocks.len())
            .ok_or_else(|| bad(line, format!("block `{}` is unknown", &rec[1])))?;
        let cells = (0..n)
            .map(|p| match &rec[p + 2] {
                BAYESIAN_CELL => Ok(Cell::Bayesian),
                COMPUTED_CELL => Ok(Cell::Computed),
                "" if space.may_be_inactive(p) => Ok(Cell::Fixed(Value::Inactive)),
                text if matches!(space.parameters[p].kind, Kind::Expr(_)) => {
                    Ok(Cell::Formula(text.to_string()))
                }
                text => space.parse_value(p, text).map(Cell::Fixed).ok_or_else(|| {
                    bad(
                        line,
                        format!("`{text}` is not a value of `{}`", space.parameters[p].name),
                    )
                }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        table.push(SetSpec {
            index,
            block,
            cells,
        });
    }
    if table.len() < sets {
        return Err(bad(
            table.len() + 2,
            format!(
                "the table holds {} sets; the experiment's definition has {sets}",
                table.len()
            ),
        ));
    }
    Ok(table)
}

/// Replaces `path` with `bytes` so that a crash at any moment leaves either the old file or
/// the new one, whole: a temporary file beside it, fsynced, renamed over it, and the folder
/// fsynced so the rename itself is durable.
pub(crate) fn replace_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes).and_then(|()| f.sync_all())?;
    std::fs::rename(&tmp, path)?;
    sync_dir(path)
}

/// Makes the entries of the folder holding `path` durable (a rename, a new file).
pub(crate) fn sync_dir(path: &Path) -> std::io::Result<()> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::File::open(parent)?.sync_all()
}

/// Opens `path` for reading and writing, creating it when missing and keeping what it holds.
pub(crate) fn open_rw(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

/// The folder of set `index`.
pub fn worker_dir(dir: &Path, index: usize) -> PathBuf {
    dir.join(WORKER_OUT).join(format!("{index:06}"))
}

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
//! DIR/status.json       the running master's live view ([`live`]), rewritten each second
//! DIR/worker_out/000042/  the folder of set 42 (params.json, stdout.txt, stderr.txt)
//! DIR/.lock             held (flock) by the run that owns the folder
//! ```

pub mod journal;
pub mod live;
mod lock;
pub mod schema;
pub mod summary;

pub use journal::{Journal, JournalError, Repair, ResultRow};
pub use lock::Lock;

use crate::config::{ConfigError, Definition};
use crate::space::{Cell, Kind, SetSpec, Space, draw_table};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const CONFIG_FILE: &str = "experiment.toml";
pub const META_FILE: &str = "meta.json";
pub const TABLE_FILE: &str = "parameters.csv";
pub const RESULTS_FILE: &str = "results.csv";
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
        "{dir} holds a different experiment definition than {config}; the parameters, sets, \
         objective or seed changed. Use another `dir` (or --dir), or delete the folder to start over"
    )]
    DefinitionChanged { dir: PathBuf, config: PathBuf },
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
    let (rows, _) = journal::read_results(&dir.join(RESULTS_FILE), &exp.space)?;
    Ok((exp, rows))
}

/// What `hpo run` or `hpo init` was pointed at, resolved to an experiment and its folder.
/// A configuration whose folder exists must hold the same definition.
pub fn resolve(
    target: &Path,
    dir_override: Option<&Path>,
) -> Result<(Definition, bool), ExperimentError> {
    if target.is_dir() {
        if !is_experiment(target) {
            return Err(ExperimentError::NotAnExperiment {
                dir: target.to_path_buf(),
            });
        }
        return Ok((load_stored(target)?, true));
    }
    let mut exp = Definition::load(target)?;
    if let Some(d) = dir_override {
        exp.dir = absolute(d);
    }
    if is_experiment(&exp.dir) {
        let stored = load_stored(&exp.dir)?;
        if !stored.same_definition(&exp) {
            return Err(ExperimentError::DefinitionChanged {
                dir: exp.dir.clone(),
                config: target.to_path_buf(),
            });
        }
        // The compute and monitor sections of the configuration given now win, and later
        // errors name that file.
        let mut stored = stored;
        stored.compute = exp.compute;
        stored.monitor = exp.monitor;
        stored.file = exp.file;
        return Ok((stored, true));
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
    Ok((exp, false))
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

/// Reads the drawn table back.
pub fn read_table(dir: &Path, space: &Space) -> Result<Vec<SetSpec>, ExperimentError> {
    let path = dir.join(TABLE_FILE);
    let bytes = std::fs::read(&path).map_err(io_err(&path))?;
    let bad = |line: usize, problem: String| ExperimentError::Table {
        path: path.clone(),
        line,
        problem,
    };
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let n = space.parameters.len();
    let mut table = Vec::new();
    for (i, rec) in reader.records().enumerate() {
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
    Ok(table)
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

//! `status.json`: the running master's live view (running sets, pool), for `hpo status` from
//! another shell.
//!
//! Rewritten atomically (temporary file, then rename) about once a second; the results
//! themselves are only ever read from `results.csv`.

use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveStatus {
    pub pid: u32,
    /// "processes" or "mpi".
    pub backend: String,
    pub workers: usize,
    pub host: String,
    pub started: String,
    pub updated: String,
    pub total: usize,
    pub running: Vec<RunningSet>,
    /// The run ended (normally or stopped); `running` is then empty.
    pub finished: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunningSet {
    pub index: usize,
    pub worker: usize,
    pub started: String,
}

pub fn write(dir: &Path, status: &LiveStatus) -> std::io::Result<()> {
    let path = dir.join(super::STATUS_FILE);
    let tmp = dir.join(".status.json.tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(status).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(tmp, path)
}

pub fn read(dir: &Path) -> Option<LiveStatus> {
    serde_json::from_slice(&std::fs::read(dir.join(super::STATUS_FILE)).ok()?).ok()
}

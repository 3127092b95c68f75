//! One run per experiment folder: an exclusive `flock` on `DIR/.lock`, holding the owner's pid.
//!
//! The kernel releases the lock whenever the holder exits, by any path (`kill -9` included),
//! so a stale lock never blocks a resume.

use nix::fcntl::{Flock, FlockArg};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

pub const LOCK_FILE: &str = ".lock";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{dir} is in use by another hpo run (pid {pid}); wait for it or stop it first")]
    Held { dir: PathBuf, pid: String },
    #[error("cannot lock {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Held for as long as the run owns the folder.
pub struct Lock {
    _file: Flock<std::fs::File>,
}

impl Lock {
    pub fn acquire(dir: &Path) -> Result<Lock, LockError> {
        let path = dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let file = super::open_rw(&path).map_err(io)?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(mut file) => {
                file.set_len(0)
                    .and_then(|()| file.rewind())
                    .and_then(|()| write!(file, "{}", std::process::id()))
                    .map_err(io)?;
                Ok(Lock { _file: file })
            }
            Err((mut file, _)) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let pid = if pid.trim().is_empty() {
                    "unknown".into()
                } else {
                    pid.trim().to_string()
                };
                Err(LockError::Held {
                    dir: dir.to_path_buf(),
                    pid,
                })
            }
        }
    }

    /// Whether some process holds the lock of `dir` now.
    pub fn is_held(dir: &Path) -> bool {
        match std::fs::File::open(dir.join(LOCK_FILE)) {
            Ok(file) => Flock::lock(file, FlockArg::LockSharedNonblock).is_err(),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_with_the_pid_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let lock = Lock::acquire(dir.path()).unwrap();
        assert!(Lock::is_held(dir.path()));
        match Lock::acquire(dir.path()) {
            Err(LockError::Held { pid, .. }) => assert_eq!(pid, std::process::id().to_string()),
            _ => panic!("second lock was not refused"),
        }
        drop(lock);
        assert!(!Lock::is_held(dir.path()));
        assert!(Lock::acquire(dir.path()).is_ok());
    }
}

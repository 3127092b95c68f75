//! A Python objective's interpreter: which one runs it (`python_executable`, else
//! `$HPO_PYTHON`, else `python3`), and the check made before any work that it starts and that
//! the objective's file defines its function. The check parses the file with Python's `ast`;
//! it never imports it (an import may take minutes, or take a GPU).
//!
//! A leaf: it imports nothing from the rest of the crate (the configuration's program look-up
//! calls the check, the Python objective names its interpreter with it).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The variable naming the interpreter when the configuration does not.
pub const PYTHON_ENV: &str = "HPO_PYTHON";
/// The interpreter when neither the configuration nor the environment names one.
pub const DEFAULT_PYTHON: &str = "python3";
/// The oldest Python the objective's runner supports.
pub const MIN_VERSION: (u32, u32) = (3, 8);
/// How long the check may take (a cold interpreter on a network file system is slow).
const CHECK_LIMIT: Duration = Duration::from_secs(60);

const CHECK_SCRIPT: &str = include_str!("python/check.py");

/// Where the interpreter's name came from, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Named {
    /// `[objective] python_executable`.
    Config,
    /// `$HPO_PYTHON`.
    Environment,
    /// Neither: `python3`.
    Default,
}

/// The interpreter's name (a path, or a bare name looked up on `PATH`) and where it came from.
pub fn interpreter_name(configured: Option<&str>) -> (String, Named) {
    if let Some(name) = configured {
        return (name.to_string(), Named::Config);
    }
    match std::env::var(PYTHON_ENV) {
        Ok(name) if !name.trim().is_empty() => (name, Named::Environment),
        _ => (DEFAULT_PYTHON.to_string(), Named::Default),
    }
}

/// Why an objective's file or interpreter is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CheckError {
    #[error("cannot start {interpreter}: {reason}")]
    Start {
        interpreter: PathBuf,
        reason: String,
    },
    #[error("{interpreter} did not run a Python check ({reason}); is it a Python interpreter?")]
    NotPython {
        interpreter: PathBuf,
        reason: String,
    },
    #[error(
        "{interpreter} is Python {version}; the Python objective needs {}.{} or later",
        MIN_VERSION.0,
        MIN_VERSION.1
    )]
    TooOld {
        interpreter: PathBuf,
        version: String,
    },
    #[error("cannot read {file}: {reason}")]
    Unreadable { file: PathBuf, reason: String },
    #[error("{file} is not valid Python: {reason}")]
    Syntax { file: PathBuf, reason: String },
    #[error("{file} defines no `{function}` at its top level (it defines: {defined})")]
    Missing {
        file: PathBuf,
        function: String,
        defined: String,
    },
    #[error("`{function}` in {file} is `async def`; the objective must be a plain function")]
    Async { file: PathBuf, function: String },
}

impl CheckError {
    /// Whether the interpreter is at fault (rather than the file).
    pub fn is_interpreter(&self) -> bool {
        matches!(
            self,
            CheckError::Start { .. } | CheckError::NotPython { .. } | CheckError::TooOld { .. }
        )
    }
}

/// Runs `interpreter` on the check script: it must start, be recent enough, and find a
/// top-level definition of `function` in `file` (a `def`, a class, an assignment or an import
/// of that name).
pub fn check(interpreter: &Path, file: &Path, function: &str) -> Result<(), CheckError> {
    let start = |reason: String| CheckError::Start {
        interpreter: interpreter.to_path_buf(),
        reason,
    };
    let not_python = |reason: String| CheckError::NotPython {
        interpreter: interpreter.to_path_buf(),
        reason,
    };
    // `-I`: nothing from the user's environment or the current folder can shadow `ast`.
    let mut child = Command::new(interpreter)
        .args(["-I", "-c", CHECK_SCRIPT])
        .arg(file)
        .arg(function)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| start(e.to_string()))?;
    let began = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if began.elapsed() < CHECK_LIMIT => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(not_python(format!(
                    "it did not finish within {} s",
                    CHECK_LIMIT.as_secs()
                )));
            }
            Err(e) => return Err(start(e.to_string())),
        }
    };
    let read = |pipe: Option<&mut dyn Read>| {
        let mut text = String::new();
        if let Some(p) = pipe {
            let _ = p.read_to_string(&mut text);
        }
        text
    };
    let stdout = read(child.stdout.as_mut().map(|p| p as &mut dyn Read));
    let stderr = read(child.stderr.as_mut().map(|p| p as &mut dyn Read));
    let verdict = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|_| status.success());
    let Some(verdict) = verdict else {
        let said: String = stderr.trim().chars().rev().take(300).collect();
        let said: String = said.chars().rev().collect();
        return Err(not_python(format!("{status}; stderr: {said}")));
    };
    judge(&verdict, interpreter, file, function)
}

/// The check script's verdict as a result.
fn judge(
    verdict: &serde_json::Value,
    interpreter: &Path,
    file: &Path,
    function: &str,
) -> Result<(), CheckError> {
    let text = |key: &str| verdict.get(key).and_then(|v| v.as_str()).map(String::from);
    let version = text("python").unwrap_or_default();
    let parsed: Option<(u32, u32)> = version
        .split_once('.')
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
    if parsed.is_none_or(|v| v < MIN_VERSION) {
        return Err(CheckError::TooOld {
            interpreter: interpreter.to_path_buf(),
            version,
        });
    }
    if let Some(reason) = text("unreadable") {
        return Err(CheckError::Unreadable {
            file: file.to_path_buf(),
            reason,
        });
    }
    if let Some(reason) = text("syntax") {
        return Err(CheckError::Syntax {
            file: file.to_path_buf(),
            reason,
        });
    }
    if verdict.get("async").is_some() {
        return Err(CheckError::Async {
            file: file.to_path_buf(),
            function: function.to_string(),
        });
    }
    if let Some(names) = verdict.get("missing").and_then(|v| v.as_array()) {
        let names: Vec<&str> = names.iter().filter_map(|n| n.as_str()).collect();
        return Err(CheckError::Missing {
            file: file.to_path_buf(),
            function: function.to_string(),
            defined: if names.is_empty() {
                "nothing".into()
            } else {
                names.join(", ")
            },
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn python() -> Option<PathBuf> {
        let found = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(DEFAULT_PYTHON))
                .find(|p| p.is_file())
        });
        if found.is_none() {
            assert!(
                std::env::var("HPO_REQUIRE_PYTHON").as_deref() != Ok("1"),
                "python3 is missing and HPO_REQUIRE_PYTHON=1 requires it"
            );
            eprintln!("SKIPPED: python3 is missing");
        }
        found
    }

    #[test]
    fn the_check_finds_definitions_without_importing() {
        let Some(py) = python() else { return };
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("train.py");
        // An import of the file would fail; the check only parses it.
        std::fs::write(
            &file,
            "import no_such_module_here\nraise SystemExit(3)\n\ndef objective(p):\n    return 1\n\n\
             if True:\n    def in_if(p):\n        return 2\ntry:\n    from os import path as aliased\n\
             except ImportError:\n    pass\nscaled = lambda p: 3\n\nasync def later(p):\n    return 4\n",
        )
        .expect("write");
        for name in ["objective", "in_if", "aliased", "scaled"] {
            assert_eq!(check(&py, &file, name), Ok(()), "{name}");
        }
        match check(&py, &file, "objectiv") {
            Err(CheckError::Missing { defined, .. }) => {
                assert!(defined.contains("objective"), "{defined}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            check(&py, &file, "later"),
            Err(CheckError::Async { .. })
        ));
        std::fs::write(&file, "def objective(p)\n    return 1\n").expect("write");
        let e = check(&py, &file, "objective").expect_err("syntax");
        assert!(e.to_string().contains("line 1"), "{e}");
        let e = check(&py, &dir.path().join("none.py"), "f").expect_err("missing file");
        assert!(matches!(e, CheckError::Unreadable { .. }) && !e.is_interpreter());
        let e = check(Path::new("/bin/true"), &file, "objective").expect_err("not Python");
        assert!(
            matches!(e, CheckError::NotPython { .. }) && e.is_interpreter(),
            "{e}"
        );
        let e = check(&dir.path().join("python9"), &file, "f").expect_err("no interpreter");
        assert!(matches!(e, CheckError::Start { .. }), "{e}");
    }

    #[test]
    fn an_old_python_is_refused() {
        let verdict = serde_json::json!({"python": "3.6"});
        let e = judge(&verdict, Path::new("py"), Path::new("f.py"), "f").expect_err("old");
        assert!(e.to_string().contains("needs 3.8 or later"), "{e}");
        let verdict = serde_json::json!({"python": "3.12"});
        assert_eq!(
            judge(&verdict, Path::new("py"), Path::new("f.py"), "f"),
            Ok(())
        );
    }
}

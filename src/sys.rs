//! What the operating system says about this process and its machine: the host name, the CPUs
//! this process may use, where a program is, and what the process has used so far.
//!
//! A leaf: it imports nothing from the rest of the crate, so any module may ask it.

use std::path::{Path, PathBuf};

/// This machine's host name (empty when the system will not say).
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// CPUs this process may run on (its affinity mask; at least 1).
pub fn cpu_count() -> usize {
    nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
        .map(|set| {
            (0..nix::sched::CpuSet::count())
                .filter(|&c| set.is_set(c).unwrap_or(false))
                .count()
        })
        .unwrap_or(1)
        .max(1)
}

/// CPUs online on this machine (`fallback` when the system will not say).
pub fn online_cpus(fallback: usize) -> usize {
    // SAFETY: sysconf has no preconditions.
    usize::try_from(unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }).unwrap_or(fallback)
}

/// Where `program` is, found the way hpo runs programs: a name with a `/` is a path relative
/// to `base` (the configuration's folder), a bare name is looked up on `PATH`. Only an
/// executable file counts.
pub fn find_program(program: &str, base: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = base.join(program);
        return executable(&p).then_some(p);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(program))
        .find(|p| executable(p))
}

/// Peak resident memory of this process, in KiB.
///
/// `VmHWM` of this process image: `getrusage`'s `ru_maxrss` survives `exec`, so it would
/// report the launching program's size when that is larger (a Python driver, say).
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or_else(|| {
            nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
                .map(|u| u.max_rss() as u64)
                .unwrap_or(0)
        })
}

/// CPU time (user and system) this process has used, in seconds.
pub fn cpu_seconds() -> f64 {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
        .map(|u| {
            let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 * 1e-6;
            t(u.user_time()) + t(u.system_time())
        })
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_found_by_path_or_on_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = dir.path().join("run.sh");
        std::fs::write(&script, "#!/bin/sh\n").expect("write");
        assert_eq!(find_program("./run.sh", dir.path()), None, "not executable");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        assert_eq!(
            find_program("./run.sh", dir.path()),
            Some(dir.path().join("./run.sh"))
        );
        assert!(find_program("sh", dir.path()).is_some());
        assert_eq!(find_program("no-such-program-xyz", dir.path()), None);
        assert!(cpu_count() >= 1 && online_cpus(1) >= 1);
    }
}

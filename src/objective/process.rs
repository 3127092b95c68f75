//! The processes an objective starts (a command per set, a Python interpreter per worker), each
//! in a session and process group of its own, and the worker's cleanup: a termination signal
//! to the worker (from the master, the launcher, or the parent-death signal when the master
//! died) kills those groups, background children included, before the worker exits.
//!
//! A group is recorded in a [`Slot`] the moment its leader exists; a signal that arrives while
//! a process is being started is acted on as soon as its group is known (without this, its
//! background children could outlive the worker).
//!
//! A worker killed by SIGKILL runs no handler: its objectives' leaders die with it (the
//! parent-death signal), and their groups, background children included, are killed by the
//! worker's [`watcher`](super::watcher), which each group is recorded with before its leader's
//! program runs, and forgotten by once the worker has killed it itself.

use super::watcher;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

/// What a tracked process group is to its worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    /// The command evaluating the current set.
    Evaluation = 0,
    /// The worker's Python interpreter, alive between sets.
    Interpreter = 1,
}

/// The process groups of this process's objectives (0: none), so the signal handler can take
/// them down when the worker is told to die.
static GROUPS: [AtomicI32; 2] = [AtomicI32::new(0), AtomicI32::new(0)];

/// Processes being started in this process (the low bits), and [`DIE_WHEN_STARTED`] once a
/// termination signal came meanwhile: their groups are not known yet, so the signal is acted
/// on by the last of them once they are.
static STARTING: AtomicU32 = AtomicU32::new(0);
const DIE_WHEN_STARTED: u32 = 1 << 31;
/// The termination signal received.
static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn kill_groups_and_exit(sig: libc::c_int) {
    SIGNAL.store(sig, Ordering::SeqCst);
    if STARTING.fetch_or(DIE_WHEN_STARTED, Ordering::SeqCst) & !DIE_WHEN_STARTED > 0 {
        // `spawn_tracked` finishes recording the group, then comes back here.
        return;
    }
    for slot in &GROUPS {
        let group = slot.load(Ordering::SeqCst);
        if group > 0 {
            // SAFETY: kill is async-signal-safe.
            unsafe {
                libc::kill(-group, libc::SIGKILL);
            }
        }
    }
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(128 + sig) }
}

/// Makes `cmd` start in a session of its own: its own process group (killed as a whole) and
/// no controlling terminal (a write to /dev/tty fails instead of stopping it); it dies with
/// its worker (parent-death signal), and its group is recorded with the worker's watcher
/// before its program runs, so before it can start a child. A command whose worker died
/// before the parent-death signal was armed does not start.
pub(crate) fn own_session(cmd: &mut Command) {
    let worker = std::process::id() as i32;
    // SAFETY: the closure runs in the child between fork and exec and only makes
    // async-signal-safe calls (setsid, prctl, getppid, getpid, send); its error allocates
    // nothing.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if libc::getppid() != worker {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            watcher::record(libc::getpid());
            Ok(())
        });
    }
}

/// Starts `cmd` (made a session leader by [`own_session`]) and records its process group in
/// `slot` for the signal handler; a termination signal that arrives meanwhile takes effect
/// (groups killed, worker gone) as soon as it is recorded.
pub(crate) fn spawn_tracked(cmd: &mut Command, slot: Slot) -> std::io::Result<Child> {
    STARTING.fetch_add(1, Ordering::SeqCst);
    let spawned = cmd.spawn();
    if let Ok(child) = &spawned {
        GROUPS[slot as usize].store(child.id() as i32, Ordering::SeqCst);
    }
    let before = STARTING.fetch_sub(1, Ordering::SeqCst);
    if before == DIE_WHEN_STARTED | 1 {
        // The signal came while this (the last) process started: act on it now.
        kill_groups_and_exit(SIGNAL.load(Ordering::SeqCst));
    }
    spawned
}

/// Forgets the group of `slot` (its processes are gone), here and in the watcher.
pub(crate) fn untrack(slot: Slot) {
    let group = GROUPS[slot as usize].swap(0, Ordering::SeqCst);
    if group > 0 {
        watcher::forget(group);
    }
}

/// Makes SIGTERM and SIGHUP (sent by the master, the launcher or the parent-death signal)
/// kill the objectives' process groups before this process exits.
pub fn install_cleanup_handler() {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let action = SigAction::new(
        SigHandler::Handler(kill_groups_and_exit),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in [Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only calls async-signal-safe functions.
        let _ = unsafe { sigaction(sig, &action) };
    }
}

pub(crate) fn kill_group(group: i32, sig: libc::c_int) {
    // SAFETY: plain syscall on a process group we created; ESRCH is fine.
    unsafe {
        libc::kill(-group, sig);
    }
}

/// Signals a batch system sends to every process of a job step (`scancel --signal`, the
/// `--signal` warning, preemption, the time limit), which hpo never sends to an objective on
/// its own: an evaluation killed by one is cut off, not failed.
pub(crate) fn is_scheduler_signal(sig: i32) -> bool {
    [
        libc::SIGTERM,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGINT,
        libc::SIGHUP,
    ]
    .contains(&sig)
}

/// The limit of one evaluation: the user's timeout, or the time left before the job's
/// deadline when that comes first; and whether the deadline is what limits it.
pub(crate) fn effective_limit(
    timeout: Option<std::time::Duration>,
    until_deadline: Option<std::time::Duration>,
) -> (Option<std::time::Duration>, bool) {
    match (timeout, until_deadline) {
        (Some(t), Some(d)) if d < t => (Some(d), true),
        (Some(t), _) => (Some(t), false),
        (None, Some(d)) => (Some(d), true),
        (None, None) => (None, false),
    }
}

/// A signal's name for messages (`SIGSEGV`), or its number.
pub(crate) fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("signal {sig}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_earlier_of_timeout_and_deadline_limits_an_evaluation() {
        let s = Duration::from_secs;
        assert_eq!(effective_limit(None, None), (None, false));
        assert_eq!(effective_limit(Some(s(5)), None), (Some(s(5)), false));
        assert_eq!(effective_limit(None, Some(s(3))), (Some(s(3)), true));
        assert_eq!(effective_limit(Some(s(5)), Some(s(3))), (Some(s(3)), true));
        assert_eq!(effective_limit(Some(s(2)), Some(s(3))), (Some(s(2)), false));
        assert!(is_scheduler_signal(libc::SIGUSR1) && is_scheduler_signal(libc::SIGTERM));
        assert!(!is_scheduler_signal(libc::SIGSEGV) && !is_scheduler_signal(libc::SIGKILL));
        assert_eq!(signal_name(libc::SIGSEGV), "SIGSEGV");
    }
}

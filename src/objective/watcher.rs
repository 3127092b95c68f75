//! The watcher of a worker's objectives' process groups, which takes them down when the
//! worker dies without doing so itself.
//!
//! An objective's processes run in a process group of their own (see [`super::process`]): a
//! timeout or the end of a set kills the group whole, and so does the worker's signal
//! handler; the group's leader dies with its worker by the parent-death signal. But the
//! leader's own children are not the worker's: were the worker killed by SIGKILL (the OOM
//! killer, a node's ranks killed, `kill -9`), they would be reparented to init and run on. So
//! each worker forks a watcher ([`start_watcher`]) before any thread starts: a small process of
//! its own session, which is told over a socket each group the worker starts ([`record`]) and
//! each group the worker has killed itself ([`forget`]). When the socket closes while groups
//! are recorded, the worker is gone, however it ended: the watcher kills those groups with
//! SIGKILL and exits.
//!
//! A group is recorded by the objective's own process, between its fork and its `exec`: by the
//! time the objective's program runs, and so before it can start a child, the record is in
//! the socket, and the watcher cannot see the socket close before it has read the record (the
//! child's copy of the socket closes only at its `exec`).

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};

/// The worker's end of the socket to its watcher (-1: no watcher).
static WATCHER_SOCKET: AtomicI32 = AtomicI32::new(-1);
/// The watcher's pid (0: none).
static WATCHER_PID: AtomicI32 = AtomicI32::new(0);

/// Signals the watcher ignores: those a launcher, a batch system or a terminal sends to a
/// whole job or process group. It ends when its worker does, and SIGKILL still ends it.
const IGNORED: [libc::c_int; 6] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// Forks this worker's watcher. Call once, before any thread starts (the child runs Rust
/// code after the fork). Without a watcher (it could not be started, or never was), groups
/// are still killed by the worker itself, and their leaders by the parent-death signal.
pub(crate) fn start_watcher() -> std::io::Result<()> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` is a valid array of two descriptors for socketpair to fill.
    let made = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if made != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let [worker_end, watcher_end] = fds;
    // SAFETY: the caller guarantees no other thread exists; the child only runs `watch`.
    match unsafe { libc::fork() } {
        -1 => {
            let error = std::io::Error::last_os_error();
            // SAFETY: closing the two descriptors made above.
            unsafe {
                libc::close(worker_end);
                libc::close(watcher_end);
            }
            Err(error)
        }
        0 => watch(watcher_end),
        pid => {
            // SAFETY: the watcher's end belongs to the watcher now.
            unsafe { libc::close(watcher_end) };
            WATCHER_SOCKET.store(worker_end, Ordering::SeqCst);
            WATCHER_PID.store(pid, Ordering::SeqCst);
            Ok(())
        }
    }
}

/// Lets the watcher go (this process runs no objective, or runs no more): closes the socket,
/// which ends the watcher, and reaps it.
pub(crate) fn stop_watcher() {
    let fd = WATCHER_SOCKET.swap(-1, Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: the descriptor was ours and nothing else uses it now.
        unsafe { libc::close(fd) };
    }
    let pid = WATCHER_PID.swap(0, Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: waits for our own child; a null status pointer is allowed.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    }
}

/// Tells the watcher that `group` is an objective's process group. Async-signal-safe (one
/// `send`), so the objective's process can call it between its fork and its `exec`.
pub(crate) fn record(group: i32) {
    tell(group);
}

/// Tells the watcher that `group` was killed by this worker and is no longer its to kill.
pub(crate) fn forget(group: i32) {
    tell(-group);
}

fn tell(message: i32) {
    let fd = WATCHER_SOCKET.load(Ordering::SeqCst);
    if fd < 0 {
        return;
    }
    let bytes = message.to_ne_bytes();
    // SAFETY: sends 4 bytes from a live buffer; MSG_NOSIGNAL: a watcher that is gone gives
    // EPIPE, never a SIGPIPE (in the objective's process, that signal would kill it).
    unsafe { libc::send(fd, bytes.as_ptr().cast(), bytes.len(), libc::MSG_NOSIGNAL) };
}

/// The watcher: reads records until the socket closes, then kills what is still recorded.
fn watch(socket: RawFd) -> ! {
    // SAFETY: a freshly forked, single-threaded child setting up its own state before its loop.
    unsafe {
        // A session of its own: a signal to the worker's process group (a launcher taking the
        // job down, a terminal) does not reach it, so it is there when it is needed.
        libc::setsid();
        for sig in IGNORED {
            libc::signal(sig, libc::SIG_IGN);
        }
    }
    let socket = keep_only(socket);
    let mut groups: Vec<i32> = Vec::new();
    loop {
        let mut bytes = [0u8; 4];
        // SAFETY: receives at most 4 bytes into a live buffer.
        let n = unsafe { libc::recv(socket, bytes.as_mut_ptr().cast(), bytes.len(), 0) };
        match n {
            4 => match i32::from_ne_bytes(bytes) {
                g if g > 0 => {
                    // A command that failed to start was recorded but never forgotten: drop
                    // the groups that are gone, so none is killed once its number is reused.
                    groups.retain(|&kept| group_exists(kept));
                    groups.push(g);
                }
                g => groups.retain(|&kept| kept != g.wrapping_neg()),
            },
            -1 if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
            // 0: the worker's end is closed (it exited or was killed); -1: nothing more will
            // come either way.
            _ => break,
        }
    }
    for group in groups {
        // SAFETY: kills a process group the worker recorded as an objective's.
        unsafe { libc::kill(-group, libc::SIGKILL) };
    }
    // SAFETY: leaves without running the worker's exit handlers.
    unsafe { libc::_exit(0) }
}

/// Whether some process is in process group `group` (a zombie leader counts).
fn group_exists(group: i32) -> bool {
    // SAFETY: signal 0 only checks that the group exists.
    let found = unsafe { libc::kill(-group, 0) } == 0;
    found || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Closes every descriptor the watcher inherited but `keep` (moved to 3), and points 0, 1 and
/// 2 at /dev/null: holding a pipe of the worker's would keep its reader (the master, a
/// launcher's output forwarding) waiting for an end that this process would delay.
fn keep_only(keep: RawFd) -> RawFd {
    const KEPT: RawFd = 3;
    // SAFETY: descriptor bookkeeping in a single-threaded child; failures leave descriptors
    // open, which only delays the readers of those pipes until the watcher ends.
    unsafe {
        if keep != KEPT {
            libc::dup2(keep, KEPT);
            libc::close(keep);
        }
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            for fd in 0..3 {
                libc::dup2(null, fd);
            }
            if null > 2 && null != KEPT {
                libc::close(null);
            }
        }
        let first = KEPT + 1;
        if libc::syscall(libc::SYS_close_range, first, RawFd::MAX, 0) != 0 {
            // Kernels before 5.9: one by one, up to the descriptor limit.
            let limit = match libc::sysconf(libc::_SC_OPEN_MAX) {
                n if n > 0 => n.min(1 << 16) as RawFd,
                _ => 1024,
            };
            for fd in first..limit {
                libc::close(fd);
            }
        }
    }
    KEPT
}

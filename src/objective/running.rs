//! A started command watched from the evaluating thread alone: one `poll` waits for the
//! command's exit and for its two output pipes, so its end is noticed the moment it comes,
//! with no polling loop and no helper thread to hand it over (on many ranks sharing few cores,
//! each hand-over between threads waits for a turn on a core).
//!
//! The exit is seen through a pidfd. On kernels without `pidfd_open` (before Linux 5.3), a
//! thread blocked in `waitpid` writes to a pipe once it has reaped the command, and the same
//! `poll` watches that pipe.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ExitStatus};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Bytes of stdout and stderr kept in memory (the rest only goes to the worker folder).
const TAIL_BYTES: usize = 64 * 1024;

/// How the command's exit is seen.
pub(crate) enum ExitSignal {
    /// A pidfd: readable once the process has exited.
    Pidfd(OwnedFd),
    /// The read end of a pipe that a thread blocked in `waitpid` writes to once it has reaped
    /// the process; the thread returns the status.
    Reaper(OwnedFd, JoinHandle<Option<ExitStatus>>),
}

impl ExitSignal {
    /// The way to see process `pid` (a child of this process) exit.
    pub(crate) fn of(pid: i32) -> std::io::Result<ExitSignal> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd >= 0 {
            // SAFETY: the descriptor is new and ours alone.
            return Ok(ExitSignal::Pidfd(unsafe {
                OwnedFd::from_raw_fd(fd as i32)
            }));
        }
        ExitSignal::reaper(pid)
    }

    /// A thread that reaps `pid` and then writes to the pipe it returns the read end of.
    fn reaper(pid: i32) -> std::io::Result<ExitSignal> {
        let mut fds = [0; 2];
        // SAFETY: `fds` is a valid array of two descriptors for pipe2 to fill.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: both descriptors are new and ours alone.
        let (read, mut write) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
        let reaper = std::thread::Builder::new()
            .name("hpo-reaper".into())
            .spawn(move || {
                let status = reap(pid);
                let _ = write.write_all(&[1]);
                status
            })?;
        Ok(ExitSignal::Reaper(read, reaper))
    }

    fn fd(&self) -> libc::c_int {
        match self {
            ExitSignal::Pidfd(fd) | ExitSignal::Reaper(fd, _) => fd.as_raw_fd(),
        }
    }
}

/// Blocks until the child `pid` has exited and reaps it; `None` when its status is lost.
fn reap(pid: i32) -> Option<ExitStatus> {
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child; `status` is a valid place for its status.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return Some(ExitStatus::from_raw(status));
        }
        if r == -1 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return None;
        }
    }
}

/// One output pipe of the command: read as data comes, its last [`TAIL_BYTES`] kept, all of
/// it copied to `copy` (while that can be written).
struct Output {
    pipe: Option<File>,
    copy: Option<File>,
    tail: Vec<u8>,
}

impl Output {
    /// One read of a pipe that `poll` found ready (so it does not block); the pipe is let go
    /// at its end.
    fn read_once(&mut self) {
        let Some(pipe) = self.pipe.as_mut() else {
            return;
        };
        let mut buf = [0u8; 32 * 1024];
        match pipe.read(&mut buf) {
            Ok(0) => self.pipe = None,
            Ok(n) => {
                if let Some(f) = self.copy.as_mut()
                    && f.write_all(&buf[..n]).is_err()
                {
                    self.copy = None;
                }
                self.tail.extend_from_slice(&buf[..n]);
                if self.tail.len() > 2 * TAIL_BYTES {
                    self.tail.drain(..self.tail.len() - TAIL_BYTES);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => self.pipe = None,
        }
    }

    fn into_tail(mut self) -> Vec<u8> {
        if self.tail.len() > TAIL_BYTES {
            self.tail.drain(..self.tail.len() - TAIL_BYTES);
        }
        self.tail
    }
}

/// A started command, its exit and its output watched together.
pub(crate) struct Running {
    child: Child,
    exit: Option<ExitSignal>,
    outputs: [Output; 2],
}

impl Running {
    /// Watches `child` (its stdout and stderr piped, taken here) through `exit`; `copies`:
    /// where to copy stdout and stderr as they come.
    pub(crate) fn new(mut child: Child, exit: ExitSignal, copies: [Option<File>; 2]) -> Running {
        let pipes = [
            child.stdout.take().map(|p| File::from(OwnedFd::from(p))),
            child.stderr.take().map(|p| File::from(OwnedFd::from(p))),
        ];
        let [out_copy, err_copy] = copies;
        let [out_pipe, err_pipe] = pipes;
        Running {
            child,
            exit: Some(exit),
            outputs: [
                Output {
                    pipe: out_pipe,
                    copy: out_copy,
                    tail: Vec::new(),
                },
                Output {
                    pipe: err_pipe,
                    copy: err_copy,
                    tail: Vec::new(),
                },
            ],
        }
    }

    /// Reads the output until the command exits, then gives its status (`Some(None)`: the
    /// status is lost); `None` when `until` comes first.
    pub(crate) fn wait_until(&mut self, until: Option<Instant>) -> Option<Option<ExitStatus>> {
        loop {
            let exit_fd = self.exit.as_ref().map_or(-1, ExitSignal::fd);
            let ready = self.poll(exit_fd, until)?;
            if ready {
                return Some(self.status());
            }
        }
    }

    /// Reads what is left in the pipes until both end, for at most `limit` (a process that
    /// left the command's group may hold them open), and gives the tails of stdout and
    /// stderr.
    pub(crate) fn finish(mut self, limit: Duration) -> [Vec<u8>; 2] {
        let until = Some(Instant::now() + limit);
        while self.outputs.iter().any(|o| o.pipe.is_some()) && self.poll(-1, until).is_some() {}
        self.outputs.map(Output::into_tail)
    }

    /// One `poll` of `exit_fd` (-1: none) and the open pipes, reading the ready ones; `None`
    /// once `until` has passed, else whether `exit_fd` is ready.
    fn poll(&mut self, exit_fd: libc::c_int, until: Option<Instant>) -> Option<bool> {
        let timeout = match until {
            None => -1,
            Some(t) => {
                let left = t.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return None;
                }
                // Rounded up: waking before `until` would only poll again.
                i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
            }
        };
        let watch = |fd: libc::c_int| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let pipe_fd = |o: &Output| o.pipe.as_ref().map_or(-1, |p| p.as_raw_fd());
        // A negative descriptor is left out by poll.
        let mut fds = [
            watch(exit_fd),
            watch(pipe_fd(&self.outputs[0])),
            watch(pipe_fd(&self.outputs[1])),
        ];
        // SAFETY: `fds` is a valid array of pollfd of the length given.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                // Out of kernel memory: try again a little later.
                std::thread::sleep(Duration::from_millis(10));
            }
            return Some(false);
        }
        for (output, fd) in self.outputs.iter_mut().zip(&fds[1..]) {
            if fd.revents != 0 {
                output.read_once();
            }
        }
        Some(fds[0].revents != 0)
    }

    /// The status of a command whose exit has been seen.
    fn status(&mut self) -> Option<ExitStatus> {
        match self.exit.take() {
            Some(ExitSignal::Pidfd(_)) => self.child.wait().ok(),
            Some(ExitSignal::Reaper(_, reaper)) => reaper.join().ok().flatten(),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};

    /// Runs a script that writes to both pipes, exits 3 and leaves a background child holding
    /// stdout, watched through `signal`; the tails come once the child is killed.
    fn watched(signal: fn(i32) -> std::io::Result<ExitSignal>) {
        let child = Command::new("sh")
            .args(["-c", "echo out; echo err >&2; sleep 30 & exit 3"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("sh");
        let pid = child.id() as i32;
        let exit = signal(pid).expect("watch");
        let mut running = Running::new(child, exit, [None, None]);
        let started = Instant::now();
        let status = running.wait_until(Some(started + Duration::from_secs(20)));
        assert_eq!(status.flatten().and_then(|s| s.code()), Some(3));
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the exit came late"
        );
        // The background child still holds stdout: nothing more comes until it is gone.
        // SAFETY: kills the test's own process group.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        let [out, err] = running.finish(Duration::from_secs(10));
        assert_eq!((&out[..], &err[..]), (&b"out\n"[..], &b"err\n"[..]));
    }

    #[test]
    fn a_commands_exit_and_output_are_seen_through_a_pidfd_or_a_reaper() {
        watched(ExitSignal::of);
        watched(ExitSignal::reaper);
    }

    #[test]
    fn a_limit_that_comes_first_returns_without_a_status() {
        let child = Command::new("sleep")
            .arg("30")
            .stdout(Stdio::piped())
            .spawn()
            .expect("sleep");
        let pid = child.id() as i32;
        let exit = ExitSignal::of(pid).expect("watch");
        let mut running = Running::new(child, exit, [None, None]);
        let until = Instant::now() + Duration::from_millis(100);
        assert!(running.wait_until(Some(until)).is_none());
        assert!(Instant::now() >= until);
        // SAFETY: kills the test's own child.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        let status = running.wait_until(None).flatten();
        assert_eq!(status.and_then(|s| s.signal()), Some(libc::SIGKILL));
    }
}

//! The local pool: K worker processes forked before any thread starts, talking to the master
//! through byte rings in one anonymous shared mapping (`MAP_SHARED`, made before the fork).
//!
//! Each direction of each worker is a single-producer single-consumer ring of length-prefixed
//! bincode frames. A reader about to sleep raises a flag in the ring and waits on a pipe (its
//! "doorbell"); a writer rings the doorbell only when that flag is up, so a busy pool passes
//! messages without system calls. The pipes also carry liveness: a dead worker closes its end
//! (the master sees the hang-up and reaps it), and a dead master closes its ends (the worker
//! sees it and exits; the parent-death signal covers a worker busy in an evaluation).

use super::{
    Event, FromWorker, ToWorker, Transport, TransportError, WorkerId, WorkerLink, decode, encode,
};
use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};
use std::collections::VecDeque;
use std::os::fd::{AsRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Bytes of one ring (one direction of one worker).
const RING_BYTES: usize = 1 << 20;
const HEADER_BYTES: usize = 256;
const SLOT_BYTES: usize = HEADER_BYTES + RING_BYTES;
/// How long a waiting worker sleeps between checks that its master is alive.
const WORKER_WAIT_MS: i32 = 500;

#[repr(C)]
struct Header {
    tail: AtomicU64,
    _pad1: [u8; 56],
    head: AtomicU64,
    _pad2: [u8; 56],
    reader_sleeping: AtomicU32,
    writer_sleeping: AtomicU32,
}

/// One direction of one worker: a view into the shared mapping.
struct Ring {
    base: NonNull<u8>,
}

// SAFETY: each ring has exactly one writer and one reader, synchronized by the atomics.
unsafe impl Send for Ring {}

impl Ring {
    fn header(&self) -> &Header {
        // SAFETY: the slot starts with a zero-initialized, suitably aligned Header.
        unsafe { &*(self.base.as_ptr() as *const Header) }
    }

    fn data(&self) -> *mut u8 {
        // SAFETY: the data area follows the header inside the slot.
        unsafe { self.base.as_ptr().add(HEADER_BYTES) }
    }

    /// Copies as much of `src` as fits; returns the count.
    fn write(&self, src: &[u8]) -> usize {
        let h = self.header();
        let head = h.head.load(Ordering::Acquire);
        let tail = h.tail.load(Ordering::Relaxed);
        let free = RING_BYTES - (tail - head) as usize;
        let n = free.min(src.len());
        let start = (tail % RING_BYTES as u64) as usize;
        let first = n.min(RING_BYTES - start);
        // SAFETY: both ranges lie inside the data area and are owned by the writer until the
        // tail is published.
        unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr(), self.data().add(start), first);
            std::ptr::copy_nonoverlapping(src.as_ptr().add(first), self.data(), n - first);
        }
        h.tail.store(tail + n as u64, Ordering::Release);
        n
    }

    /// Appends every available byte to `dst`; returns the count.
    fn read(&self, dst: &mut Vec<u8>) -> usize {
        let h = self.header();
        let tail = h.tail.load(Ordering::Acquire);
        let head = h.head.load(Ordering::Relaxed);
        let n = (tail - head) as usize;
        if n == 0 {
            return 0;
        }
        let start = (head % RING_BYTES as u64) as usize;
        let first = n.min(RING_BYTES - start);
        dst.reserve(n);
        // SAFETY: the bytes between head and tail were published by the writer.
        unsafe {
            dst.extend_from_slice(std::slice::from_raw_parts(self.data().add(start), first));
            dst.extend_from_slice(std::slice::from_raw_parts(self.data(), n - first));
        }
        h.head.store(head + n as u64, Ordering::Release);
        n
    }

    fn is_empty(&self) -> bool {
        let h = self.header();
        h.tail.load(Ordering::Acquire) == h.head.load(Ordering::Acquire)
    }
}

fn ring_bell(fd: &OwnedFd) {
    // A full pipe already holds a wake-up: EAGAIN is fine.
    // SAFETY: writing one byte from a valid buffer to an open descriptor.
    unsafe {
        libc::write(fd.as_raw_fd(), [1u8].as_ptr().cast(), 1);
    }
}

/// Empties a doorbell; returns false when its other end is closed.
fn drain_bell(fd: &OwnedFd) -> bool {
    let mut buf = [0u8; 256];
    loop {
        // SAFETY: reading into a valid buffer from an open non-blocking descriptor.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n == 0 {
            return false;
        }
        if n < 0 {
            return true;
        }
    }
}

/// Length-prefixed frames accumulated from a ring.
#[derive(Default)]
struct Frames {
    buf: Vec<u8>,
    pos: usize,
}

impl Frames {
    fn next(&mut self) -> Option<&[u8]> {
        let rest = &self.buf[self.pos..];
        if rest.len() < 4 {
            return None;
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if rest.len() < 4 + len {
            return None;
        }
        let start = self.pos + 4;
        self.pos = start + len;
        Some(&self.buf[start..start + len])
    }

    fn compact(&mut self) {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > self.buf.len() / 2 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
    }
}

fn frame(msg: &impl serde::Serialize, out: &mut Vec<u8>) {
    let body = encode(msg);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
}

struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mapping {
    fn new(len: usize) -> Result<Mapping, TransportError> {
        let size = std::num::NonZeroUsize::new(len).ok_or(TransportError::Failed {
            reason: "empty pool".into(),
        })?;
        // SAFETY: a fresh anonymous mapping; shared so forked children see the same pages.
        let ptr = unsafe {
            mmap_anonymous(
                None,
                size,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
            )
        }
        .map_err(|e| TransportError::Failed {
            reason: format!("cannot map shared memory: {e}"),
        })?;
        Ok(Mapping {
            ptr: ptr.cast(),
            len,
        })
    }

    fn ring(&self, slot: usize) -> Ring {
        // SAFETY: slot * SLOT_BYTES < len by construction of the pool.
        Ring {
            base: unsafe { NonNull::new_unchecked(self.ptr.as_ptr().add(slot * SLOT_BYTES)) },
        }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmapping the region mapped in `new`.
        unsafe {
            let _ = nix::sys::mman::munmap(self.ptr.cast(), self.len);
        }
    }
}

struct WorkerEnd {
    pid: Pid,
    to_worker: Ring,
    from_worker: Ring,
    /// Read end of the worker's doorbell to the master.
    up: OwnedFd,
    /// Write end of the master's doorbell to the worker.
    down: OwnedFd,
    outbox: Vec<u8>,
    frames: Frames,
    hung_up: bool,
    alive: bool,
}

/// The master's side of the local pool.
pub struct ForkPool {
    _mapping: Mapping,
    workers: Vec<WorkerEnd>,
    events: VecDeque<Event>,
}

/// A worker's side of the local pool.
pub struct ForkLink {
    _mapping: Mapping,
    inbox: Ring,
    outbox: Ring,
    /// Read end of the master's doorbell to this worker.
    down: OwnedFd,
    /// Write end of this worker's doorbell to the master.
    up: OwnedFd,
    frames: Frames,
    master: Pid,
}

impl ForkPool {
    /// Forks `k` workers; each child runs `child(worker, link)` and exits with its return code.
    /// Call before any thread exists.
    pub fn start(
        k: usize,
        child: &mut dyn FnMut(WorkerId, ForkLink) -> i32,
    ) -> Result<ForkPool, TransportError> {
        let fail = |what: &str, e: nix::Error| TransportError::Failed {
            reason: format!("{what}: {e}"),
        };
        let mapping = Mapping::new(2 * k * SLOT_BYTES)?;
        let flags = nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK;
        let mut pipes = Vec::with_capacity(k);
        for _ in 0..k {
            let up = nix::unistd::pipe2(flags).map_err(|e| fail("pipe", e))?;
            let down = nix::unistd::pipe2(flags).map_err(|e| fail("pipe", e))?;
            pipes.push(Some((up, down)));
        }
        let master = nix::unistd::getpid();
        let mut workers = Vec::with_capacity(k);
        for w in 0..k {
            // SAFETY: no other thread exists (the caller forks before starting any); the child
            // only runs the worker loop and exits.
            match unsafe { fork() }.map_err(|e| fail("fork", e))? {
                ForkResult::Child => {
                    // SAFETY: prctl with valid arguments.
                    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) };
                    if nix::unistd::getppid() != master {
                        // SAFETY: leaving a freshly forked child.
                        unsafe { libc::_exit(1) };
                    }
                    drop(workers);
                    let Some(((up_r, up_w), (down_r, down_w))) = pipes[w].take() else {
                        // SAFETY: as above.
                        unsafe { libc::_exit(1) }
                    };
                    drop((up_r, down_w));
                    drop(pipes);
                    let link = ForkLink {
                        inbox: mapping.ring(2 * w),
                        outbox: mapping.ring(2 * w + 1),
                        _mapping: mapping,
                        down: down_r,
                        up: up_w,
                        frames: Frames::default(),
                        master,
                    };
                    // A panic must never unwind out of the child into the master's code.
                    let code =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| child(w, link)))
                            .unwrap_or(101);
                    // SAFETY: the worker is done; skip the parent's exit handlers.
                    unsafe { libc::_exit(code) };
                }
                ForkResult::Parent { child } => workers.push(child),
            }
        }
        let workers = workers
            .into_iter()
            .enumerate()
            .map(|(w, pid)| {
                let ((up_r, up_w), (down_r, down_w)) =
                    pipes[w].take().ok_or(TransportError::Failed {
                        reason: "pipe lost".into(),
                    })?;
                drop((up_w, down_r));
                Ok(WorkerEnd {
                    pid,
                    to_worker: mapping.ring(2 * w),
                    from_worker: mapping.ring(2 * w + 1),
                    up: up_r,
                    down: down_w,
                    outbox: Vec::new(),
                    frames: Frames::default(),
                    hung_up: false,
                    alive: true,
                })
            })
            .collect::<Result<Vec<_>, TransportError>>()?;
        Ok(ForkPool {
            _mapping: mapping,
            workers,
            events: VecDeque::new(),
        })
    }

    fn flush(&mut self, w: WorkerId) {
        let end = &mut self.workers[w];
        if end.outbox.is_empty() || !end.alive {
            return;
        }
        let n = end.to_worker.write(&end.outbox);
        end.outbox.drain(..n);
        if end
            .to_worker
            .header()
            .reader_sleeping
            .swap(0, Ordering::SeqCst)
            == 1
        {
            ring_bell(&end.down);
        }
        if !end.outbox.is_empty() {
            end.to_worker
                .header()
                .writer_sleeping
                .store(1, Ordering::SeqCst);
        }
    }

    /// Moves every complete frame of every worker into the event queue.
    fn collect(&mut self) -> Result<(), TransportError> {
        for w in 0..self.workers.len() {
            self.flush(w);
            let end = &mut self.workers[w];
            if !end.alive {
                continue;
            }
            if end.from_worker.read(&mut end.frames.buf) > 0
                && end
                    .from_worker
                    .header()
                    .writer_sleeping
                    .swap(0, Ordering::SeqCst)
                    == 1
            {
                ring_bell(&end.down);
            }
            while let Some(bytes) = end.frames.next() {
                let msg: FromWorker = decode(bytes)?;
                self.events.push_back(Event::Message(w, msg));
            }
            end.frames.compact();
            if end.hung_up && end.from_worker.is_empty() {
                end.alive = false;
                let why = reap(end.pid, Duration::from_secs(2));
                self.events.push_back(Event::Lost(w, why));
            }
        }
        Ok(())
    }

    /// Asks every worker still running to exit and reaps them all (SIGKILL after `grace`).
    pub fn shutdown(&mut self, grace: Duration) {
        let deadline = Instant::now() + grace;
        for end in &mut self.workers {
            let left = deadline.saturating_duration_since(Instant::now());
            reap(end.pid, left);
            end.alive = false;
        }
    }

    /// Sends SIGTERM to every worker (each takes its running evaluation down with it).
    pub fn terminate(&mut self) {
        for end in self.workers.iter().filter(|e| e.alive) {
            let _ = nix::sys::signal::kill(end.pid, nix::sys::signal::Signal::SIGTERM);
        }
    }
}

/// Waits up to `grace` for a child to exit, then kills it; returns how it ended.
fn reap(pid: Pid, grace: Duration) -> String {
    let deadline = Instant::now() + grace;
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => {
                return format!("worker process exited with code {code}");
            }
            Ok(WaitStatus::Signaled(_, sig, _)) => {
                return format!("worker process killed by {sig}");
            }
            Ok(WaitStatus::StillAlive) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Ok(WaitStatus::StillAlive) => {
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
                let _ = waitpid(pid, None);
                return "worker process did not exit and was killed".into();
            }
            Ok(_) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => return "worker process is gone".into(),
        }
    }
}

impl Transport for ForkPool {
    fn workers(&self) -> usize {
        self.workers.len()
    }

    fn name(&self) -> &'static str {
        "processes"
    }

    fn abort(&mut self) {
        self.terminate();
    }

    fn send(&mut self, worker: WorkerId, msg: &ToWorker) -> Result<(), TransportError> {
        if !self.workers[worker].alive {
            return Err(TransportError::Worker {
                worker,
                reason: "the worker is gone".into(),
            });
        }
        frame(msg, &mut self.workers[worker].outbox);
        self.flush(worker);
        Ok(())
    }

    fn recv(&mut self, timeout: Duration) -> Result<Event, TransportError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.events.pop_front() {
                return Ok(e);
            }
            self.collect()?;
            if !self.events.is_empty() {
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(Event::Idle);
            }
            // Raise the flags, then look once more: a message written before a flag was seen
            // up would otherwise go unnoticed until the timeout.
            for end in self.workers.iter().filter(|e| e.alive) {
                end.from_worker
                    .header()
                    .reader_sleeping
                    .store(1, Ordering::SeqCst);
            }
            let ready = self.workers.iter().any(|e| {
                e.alive
                    && (!e.from_worker.is_empty()
                        || (!e.outbox.is_empty()
                            && e.to_worker.header().writer_sleeping.load(Ordering::SeqCst) == 0))
            });
            if !ready {
                let mut fds: Vec<libc::pollfd> = self
                    .workers
                    .iter()
                    .filter(|e| e.alive && !e.hung_up)
                    .map(|e| libc::pollfd {
                        fd: e.up.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    })
                    .collect();
                let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
                // SAFETY: fds is a valid array of pollfd for the duration of the call.
                unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
                for end in self.workers.iter_mut().filter(|e| e.alive && !e.hung_up) {
                    if !drain_bell(&end.up) {
                        end.hung_up = true;
                    }
                }
            }
            for end in self.workers.iter().filter(|e| e.alive) {
                end.from_worker
                    .header()
                    .reader_sleeping
                    .store(0, Ordering::SeqCst);
            }
        }
    }
}

impl Drop for ForkPool {
    fn drop(&mut self) {
        if self.workers.iter().any(|e| e.alive) {
            self.terminate();
            self.shutdown(Duration::from_secs(5));
        }
    }
}

impl ForkLink {
    fn master_alive(&self) -> bool {
        nix::unistd::getppid() == self.master
    }

    /// Sleeps on the doorbell; returns false when the master is gone.
    fn wait(&self) -> bool {
        let mut fd = libc::pollfd {
            fd: self.down.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut fd, 1, WORKER_WAIT_MS) };
        drain_bell(&self.down) && self.master_alive()
    }
}

impl WorkerLink for ForkLink {
    fn recv(&mut self, block: bool) -> Result<Option<ToWorker>, TransportError> {
        loop {
            if let Some(bytes) = self.frames.next() {
                let msg = decode(bytes)?;
                self.frames.compact();
                return Ok(Some(msg));
            }
            if self.inbox.read(&mut self.frames.buf) > 0 {
                if self
                    .inbox
                    .header()
                    .writer_sleeping
                    .swap(0, Ordering::SeqCst)
                    == 1
                {
                    ring_bell(&self.up);
                }
                continue;
            }
            if !block {
                return Ok(None);
            }
            self.inbox
                .header()
                .reader_sleeping
                .store(1, Ordering::SeqCst);
            if self.inbox.is_empty() && !self.wait() {
                return Ok(None);
            }
            self.inbox
                .header()
                .reader_sleeping
                .store(0, Ordering::SeqCst);
        }
    }

    fn send(&mut self, msg: &FromWorker) -> Result<(), TransportError> {
        let mut bytes = Vec::new();
        frame(msg, &mut bytes);
        let mut sent = 0;
        loop {
            sent += self.outbox.write(&bytes[sent..]);
            if self
                .outbox
                .header()
                .reader_sleeping
                .swap(0, Ordering::SeqCst)
                == 1
            {
                ring_bell(&self.up);
            }
            if sent == bytes.len() {
                return Ok(());
            }
            self.outbox
                .header()
                .writer_sleeping
                .store(1, Ordering::SeqCst);
            ring_bell(&self.up);
            if !self.wait() {
                return Err(TransportError::Failed {
                    reason: "the master is gone".into(),
                });
            }
        }
    }
}

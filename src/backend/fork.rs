//! The local pool: K worker processes forked before any thread starts, talking to the master
//! through byte rings in one anonymous shared mapping (`MAP_SHARED`, made before the fork).
//!
//! Each direction of each worker is a single-producer single-consumer ring of length-prefixed
//! bincode frames. A frame may be longer than the ring: the writer writes what fits and goes
//! on when the reader has made room; the reader gathers the bytes until the frame is whole. A
//! reader about to sleep raises a flag in the ring and waits on a pipe (its "doorbell"); a
//! writer rings the doorbell only when that flag is up, so a busy pool passes messages without
//! system calls. A writer waiting for room does the same with a second flag. The pipes also
//! carry liveness: a dead worker closes its end (the master sees the hang-up and reaps it),
//! and a dead master closes its ends (the worker sees it and exits; the parent-death signal
//! covers a worker busy in an evaluation).
//!
//! # The sleep/wake handshake
//! Each flag and the ring index it guards form a Dekker pattern: the sleeper stores its flag,
//! then loads the other side's index ("did anything arrive?"); the other side stores its index,
//! then loads the flag ("is anyone asleep?"). At least one of them must see the other's store,
//! or the sleeper sleeps through a message. Neither Release/Acquire pairs nor a SeqCst
//! operation on one side give that: a store may be ordered after a later load of another
//! location. So each side puts a SeqCst fence between its store and its load
//! ([`Ring::publish`], [`Ring::reader_should_sleep`], [`Ring::writer_should_sleep`]); two
//! SeqCst fences are totally ordered, and whichever comes second sees the store before the
//! first. A lost race costs at most a spurious wake-up (a bell rung for a sleeper that already
//! woke), never a missed one.

use super::{
    Event, FromWorker, ToWorker, Transport, TransportError, WorkerId, WorkerLink, decode, encode,
};
use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};
use std::collections::VecDeque;
use std::os::fd::{AsRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};
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

// The header must fit its reserved bytes, and a slot (page-aligned mapping + a multiple of the
// header size) must keep it aligned.
const _: () = assert!(std::mem::size_of::<Header>() <= HEADER_BYTES);
const _: () = assert!(HEADER_BYTES.is_multiple_of(std::mem::align_of::<Header>()));
const _: () = assert!(SLOT_BYTES.is_multiple_of(std::mem::align_of::<Header>()));

/// The shared mapping: `slots` rings of [`SLOT_BYTES`] each.
struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
    slots: usize,
}

// SAFETY: the mapping is plain shared memory; every access to it goes through a `Ring`, whose
// users synchronize by the ring's atomics (one writer and one reader per ring).
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Mapping {
    fn new(slots: usize) -> Result<Arc<Mapping>, TransportError> {
        let len = slots
            .checked_mul(SLOT_BYTES)
            .and_then(std::num::NonZeroUsize::new)
            .ok_or(TransportError::Failed {
                reason: format!("cannot map {slots} rings"),
            })?;
        // SAFETY: a fresh anonymous mapping; shared so forked children see the same pages. It
        // is zero-filled, which is the initial state of every header.
        let ptr = unsafe {
            mmap_anonymous(
                None,
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
            )
        }
        .map_err(|e| TransportError::Failed {
            reason: format!("cannot map shared memory: {e}"),
        })?;
        Ok(Arc::new(Mapping {
            ptr: ptr.cast(),
            len: len.get(),
            slots,
        }))
    }

    /// The ring in `slot`; it keeps the mapping alive.
    fn ring(self: &Arc<Mapping>, slot: usize) -> Result<Ring, TransportError> {
        if slot >= self.slots {
            return Err(TransportError::Failed {
                reason: format!("ring {slot} requested of a mapping of {}", self.slots),
            });
        }
        // SAFETY: slot < slots, so the slot's SLOT_BYTES lie inside the mapping of
        // slots * SLOT_BYTES bytes.
        let base = unsafe { NonNull::new_unchecked(self.ptr.as_ptr().add(slot * SLOT_BYTES)) };
        Ok(Ring {
            base,
            _mapping: self.clone(),
        })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmapping the region mapped in `new`; no ring is left (each holds an Arc).
        unsafe {
            let _ = nix::sys::mman::munmap(self.ptr.cast(), self.len);
        }
    }
}

/// One direction of one worker: a view into the shared mapping, which it keeps alive.
struct Ring {
    base: NonNull<u8>,
    _mapping: Arc<Mapping>,
}

// SAFETY: each ring has exactly one writer and one reader, synchronized by the atomics.
unsafe impl Send for Ring {}

impl Ring {
    fn header(&self) -> &Header {
        // SAFETY: the slot starts with a zero-initialized Header, aligned (see the asserts
        // above), inside the mapping this ring keeps alive.
        unsafe { &*(self.base.as_ptr() as *const Header) }
    }

    fn data(&self) -> *mut u8 {
        // SAFETY: the data area follows the header inside the slot.
        unsafe { self.base.as_ptr().add(HEADER_BYTES) }
    }

    /// Copies as much of `src` as fits and publishes it; returns the count. The writer's side.
    fn write(&self, src: &[u8]) -> usize {
        let h = self.header();
        let head = h.head.load(Ordering::Acquire);
        let tail = h.tail.load(Ordering::Relaxed);
        let free = RING_BYTES - (tail - head) as usize;
        let n = free.min(src.len());
        let start = (tail % RING_BYTES as u64) as usize;
        let first = n.min(RING_BYTES - start);
        // SAFETY: both ranges lie inside the data area (start + first <= RING_BYTES, and
        // n - first <= start) and are owned by the writer until the tail is published.
        unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr(), self.data().add(start), first);
            std::ptr::copy_nonoverlapping(src.as_ptr().add(first), self.data(), n - first);
        }
        h.tail.store(tail + n as u64, Ordering::Release);
        n
    }

    /// Appends every published byte to `dst` and frees its room; returns the count. The
    /// reader's side.
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
        // SAFETY: the bytes between head and tail were published by the writer (Acquire
        // above) and lie inside the data area.
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

    fn is_full(&self) -> bool {
        let h = self.header();
        h.tail.load(Ordering::Acquire) - h.head.load(Ordering::Acquire) == RING_BYTES as u64
    }

    /// After `write` or `read` moved this side's index: wakes the other side if its flag says
    /// it sleeps (`sleeper` is the reader's flag after a write, the writer's after a read),
    /// by ringing `bell`. The fence orders the index store before the flag load (see the
    /// module documentation).
    fn publish(&self, sleeper: &AtomicU32, bell: &OwnedFd) {
        fence(Ordering::SeqCst);
        if sleeper.swap(0, Ordering::SeqCst) == 1 {
            ring_bell(bell);
        }
    }

    /// Writes what fits of `src` and wakes a sleeping reader; returns the count.
    fn send_some(&self, src: &[u8], bell: &OwnedFd) -> usize {
        let n = self.write(src);
        if n > 0 {
            self.publish(&self.header().reader_sleeping, bell);
        }
        n
    }

    /// Reads every published byte into `dst` and wakes a writer waiting for room; returns
    /// the count.
    fn recv_all(&self, dst: &mut Vec<u8>, bell: &OwnedFd) -> usize {
        let n = self.read(dst);
        if n > 0 {
            self.publish(&self.header().writer_sleeping, bell);
        }
        n
    }

    /// The reader is about to sleep: raises its flag; false when bytes arrived meanwhile (do
    /// not sleep). Lower the flag with [`Ring::reader_awake`] after sleeping.
    fn reader_should_sleep(&self) -> bool {
        self.header().reader_sleeping.store(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        self.is_empty()
    }

    fn reader_awake(&self) {
        self.header().reader_sleeping.store(0, Ordering::SeqCst);
    }

    /// The writer has bytes left and no room: raises its flag; false when room appeared
    /// meanwhile (write again instead of sleeping). The reader lowers the flag when it wakes
    /// the writer.
    fn writer_should_sleep(&self) -> bool {
        self.header().writer_sleeping.store(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        self.is_full()
    }

    /// Whether the writer waits for room (its flag is still up).
    fn writer_waits(&self) -> bool {
        self.header().writer_sleeping.load(Ordering::SeqCst) == 1
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

/// Length-prefixed frames accumulated from a ring (a frame may arrive in many reads).
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

/// Appends `msg` as one frame (a little-endian `u32` length, then the bincode bytes).
fn frame(msg: &impl serde::Serialize, out: &mut Vec<u8>) -> Result<(), TransportError> {
    let body = encode(msg);
    let len = u32::try_from(body.len()).map_err(|_| TransportError::Failed {
        reason: format!("a message of {} bytes is too long for a frame", body.len()),
    })?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&body);
    Ok(())
}

/// The master's end of one worker's rings and doorbells.
struct WorkerEnd {
    pid: Pid,
    to_worker: Ring,
    from_worker: Ring,
    /// Read end of the worker's doorbell to the master.
    up: OwnedFd,
    /// Write end of the master's doorbell to the worker.
    down: OwnedFd,
    /// Frames not yet in the worker's ring (the master never waits for room).
    outbox: Vec<u8>,
    frames: Frames,
    hung_up: bool,
    alive: bool,
}

impl WorkerEnd {
    fn new(pid: Pid, to_worker: Ring, from_worker: Ring, up: OwnedFd, down: OwnedFd) -> Self {
        WorkerEnd {
            pid,
            to_worker,
            from_worker,
            up,
            down,
            outbox: Vec::new(),
            frames: Frames::default(),
            hung_up: false,
            alive: true,
        }
    }

    /// Moves what fits of the outbox into the worker's ring; never blocks. What does not fit
    /// waits with the writer's flag up, and the worker rings when it has made room.
    fn flush(&mut self) {
        while !self.outbox.is_empty() && self.alive {
            let n = self.to_worker.send_some(&self.outbox, &self.down);
            self.outbox.drain(..n);
            if self.outbox.is_empty() || self.to_worker.writer_should_sleep() {
                break;
            }
        }
    }

    /// Whether the outbox can move (it is not waiting for the worker to make room).
    fn can_flush(&self) -> bool {
        !self.outbox.is_empty() && !self.to_worker.writer_waits()
    }

    /// Reads what the worker wrote and queues every complete message as an event.
    fn collect(&mut self, w: WorkerId, events: &mut VecDeque<Event>) -> Result<(), TransportError> {
        self.from_worker.recv_all(&mut self.frames.buf, &self.down);
        while let Some(bytes) = self.frames.next() {
            let msg: FromWorker = decode(bytes)?;
            events.push_back(Event::Message(w, msg));
        }
        self.frames.compact();
        Ok(())
    }
}

/// The master's side of the local pool.
pub struct ForkPool {
    workers: Vec<WorkerEnd>,
    events: VecDeque<Event>,
}

/// A worker's side of the local pool.
pub struct ForkLink {
    inbox: Ring,
    outbox: Ring,
    /// Read end of the master's doorbell to this worker.
    down: OwnedFd,
    /// Write end of this worker's doorbell to the master.
    up: OwnedFd,
    frames: Frames,
    master: Pid,
}

/// One worker's doorbells: (worker -> master, master -> worker), each (read end, write end).
type Bells = ((OwnedFd, OwnedFd), (OwnedFd, OwnedFd));

fn bells() -> Result<Bells, TransportError> {
    let flags = nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK;
    let pipe = || {
        nix::unistd::pipe2(flags).map_err(|e| TransportError::Failed {
            reason: format!("pipe: {e}"),
        })
    };
    Ok((pipe()?, pipe()?))
}

impl ForkPool {
    /// Forks `k` workers; each child runs `child(worker, link)` and exits with its return code.
    /// Call before any thread exists.
    pub fn start(
        k: usize,
        child: &mut dyn FnMut(WorkerId, ForkLink) -> i32,
    ) -> Result<ForkPool, TransportError> {
        let mapping = Mapping::new(2 * k)?;
        let mut pipes = Vec::with_capacity(k);
        for _ in 0..k {
            pipes.push(Some(bells()?));
        }
        let master = nix::unistd::getpid();
        let mut workers = Vec::with_capacity(k);
        for w in 0..k {
            // SAFETY: no other thread exists (the caller forks before starting any); the child
            // only runs the worker loop and exits.
            let forked = unsafe { fork() }.map_err(|e| TransportError::Failed {
                reason: format!("fork: {e}"),
            })?;
            match forked {
                ForkResult::Child => {
                    // SAFETY: prctl with valid arguments.
                    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) };
                    if nix::unistd::getppid() != master {
                        // SAFETY: leaving a freshly forked child.
                        unsafe { libc::_exit(1) };
                    }
                    drop(workers);
                    let link = pipes[w]
                        .take()
                        .and_then(|((up_r, up_w), (down_r, down_w))| {
                            drop((up_r, down_w));
                            Some(ForkLink {
                                inbox: mapping.ring(2 * w).ok()?,
                                outbox: mapping.ring(2 * w + 1).ok()?,
                                down: down_r,
                                up: up_w,
                                frames: Frames::default(),
                                master,
                            })
                        });
                    drop(pipes);
                    let Some(link) = link else {
                        // SAFETY: as above.
                        unsafe { libc::_exit(1) }
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
                Ok(WorkerEnd::new(
                    pid,
                    mapping.ring(2 * w)?,
                    mapping.ring(2 * w + 1)?,
                    up_r,
                    down_w,
                ))
            })
            .collect::<Result<Vec<_>, TransportError>>()?;
        Ok(ForkPool {
            workers,
            events: VecDeque::new(),
        })
    }

    /// Moves every complete frame of every worker into the event queue.
    fn collect(&mut self) -> Result<(), TransportError> {
        for (w, end) in self.workers.iter_mut().enumerate() {
            end.flush();
            if !end.alive {
                continue;
            }
            end.collect(w, &mut self.events)?;
            if end.hung_up && end.from_worker.is_empty() {
                end.alive = false;
                let why = reap(end.pid, Duration::from_secs(2));
                self.events.push_back(Event::Lost(w, why));
            }
        }
        Ok(())
    }

    /// Sleeps until a worker rings (or hangs up) or `timeout` passes, unless something is to
    /// be done already (flags raised first, then checked: see the module documentation).
    fn sleep(&mut self, timeout: Duration) {
        let mut ready = false;
        for end in self.workers.iter().filter(|e| e.alive) {
            ready |= !end.from_worker.reader_should_sleep() || end.can_flush();
        }
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
            let ms = timeout.as_millis().clamp(1, i32::MAX as u128) as i32;
            // SAFETY: fds is a valid array of pollfd for the duration of the call.
            unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
            for end in self.workers.iter_mut().filter(|e| e.alive && !e.hung_up) {
                if !drain_bell(&end.up) {
                    end.hung_up = true;
                }
            }
        }
        for end in self.workers.iter().filter(|e| e.alive) {
            end.from_worker.reader_awake();
        }
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
        let end = &mut self.workers[worker];
        if !end.alive {
            return Err(TransportError::Worker {
                worker,
                reason: "the worker is gone".into(),
            });
        }
        frame(msg, &mut end.outbox)?;
        end.flush();
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
            self.sleep(left);
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
            if self.inbox.recv_all(&mut self.frames.buf, &self.up) > 0 {
                continue;
            }
            if !block {
                return Ok(None);
            }
            let alive = !self.inbox.reader_should_sleep() || self.wait();
            self.inbox.reader_awake();
            if !alive {
                return Ok(None);
            }
        }
    }

    fn send(&mut self, msg: &FromWorker) -> Result<(), TransportError> {
        let mut bytes = Vec::new();
        frame(msg, &mut bytes)?;
        let mut sent = 0;
        loop {
            sent += self.outbox.send_some(&bytes[sent..], &self.up);
            if sent == bytes.len() {
                return Ok(());
            }
            // The frame is longer than the room left: wait until the master reads.
            if self.outbox.writer_should_sleep() && !self.wait() {
                return Err(TransportError::Failed {
                    reason: "the master is gone".into(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Done, Observation, Task};
    use crate::objective::Outcome;
    use crate::space::Value;

    /// The master's end and a worker's link of one pair of rings, in this process.
    fn pair() -> (WorkerEnd, ForkLink) {
        let mapping = Mapping::new(2).expect("mapping");
        let ((up_r, up_w), (down_r, down_w)) = bells().expect("pipes");
        let end = WorkerEnd::new(
            nix::unistd::getpid(),
            mapping.ring(0).expect("ring"),
            mapping.ring(1).expect("ring"),
            up_r,
            down_w,
        );
        let link = ForkLink {
            inbox: mapping.ring(0).expect("ring"),
            outbox: mapping.ring(1).expect("ring"),
            down: down_r,
            up: up_w,
            frames: Frames::default(),
            // The link's liveness check asks whether its parent is still this one.
            master: nix::unistd::getppid(),
        };
        (end, link)
    }

    fn pattern(n: usize, seed: usize) -> Vec<u8> {
        (0..n).map(|i| ((i * 7 + seed * 13) % 251) as u8).collect()
    }

    #[test]
    fn a_ring_outside_the_mapping_is_refused() {
        let mapping = Mapping::new(2).expect("mapping");
        assert!(mapping.ring(1).is_ok());
        assert!(mapping.ring(2).is_err());
        assert!(Mapping::new(0).is_err());
    }

    #[test]
    fn the_ring_wraps_around_many_times() {
        let ring = Mapping::new(1).expect("mapping").ring(0).expect("ring");
        let mut written = Vec::new();
        let mut read = Vec::new();
        // Odd chunk sizes, so every wrap falls inside a chunk at a new place.
        for round in 0..40 {
            let chunk = pattern(300_007 + round * 11, round);
            let mut at = 0;
            while at < chunk.len() {
                let n = ring.write(&chunk[at..]);
                at += n;
                if n == 0 || round % 3 == 0 {
                    ring.read(&mut read);
                }
            }
            written.extend_from_slice(&chunk);
        }
        ring.read(&mut read);
        assert!(ring.is_empty());
        assert_eq!(read.len(), written.len());
        assert!(read == written, "bytes changed on the way through the ring");
        assert!(ring.header().tail.load(Ordering::Relaxed) > 10 * RING_BYTES as u64);
    }

    #[test]
    fn a_frame_split_by_the_wrap_reads_back_whole() {
        let (mut end, mut link) = pair();
        // Move both indices to 3 bytes before the end: the next frame's length prefix itself
        // is split by the wrap.
        let filler = vec![0u8; RING_BYTES - 3];
        assert_eq!(end.to_worker.write(&filler), filler.len());
        assert_eq!(link.inbox.read(&mut Vec::new()), filler.len());
        for index in 0..3 {
            let task = ToWorker::Task(Task {
                index,
                history: Vec::new(),
                pending: Vec::new(),
                deadline: Some(1.7e9),
                attempt: 1,
                slot: 0,
            });
            frame(&task, &mut end.outbox).expect("frame");
            end.flush();
            assert_eq!(link.recv(false).expect("decodes"), Some(task));
        }
        assert_eq!(link.recv(false).expect("nothing more"), None);
    }

    #[test]
    fn frames_longer_than_the_ring_pass_both_ways() {
        let (mut end, mut link) = pair();
        // About 3 MiB each way: the writer must wait for room, the reader must gather.
        let history: Vec<Observation> = (0..120_000u32)
            .map(|i| Observation {
                index: i,
                values: vec![Value::Float(i as f64 * 0.5), Value::Str(format!("v{i:08}"))],
                loss: -(i as f64),
                outputs: Vec::new(),
                step: (i % 2 == 0).then_some(u64::from(i)),
            })
            .collect();
        let task = ToWorker::Task(Task {
            index: 7,
            history,
            pending: Vec::new(),
            deadline: None,
            attempt: 1,
            slot: 0,
        });
        let done = FromWorker::Done(Done {
            index: 7,
            values: vec![Value::Float(1.0)],
            outcome: Outcome::failed(
                String::from_utf8(pattern(3 << 20, 1).iter().map(|b| b'a' + b % 26).collect())
                    .expect("ascii"),
            ),
            started: 1.0,
            ended: 2.0,
            note: "note".into(),
            cut_off: false,
        });
        assert!(encode(&task).len() > 2 * RING_BYTES && encode(&done).len() > 2 * RING_BYTES);
        let expected = (task.clone(), done.clone());
        let worker = std::thread::spawn(move || {
            let got = link.recv(true).expect("recv").expect("a message");
            link.send(&done).expect("send");
            got
        });
        frame(&task, &mut end.outbox).expect("frame");
        let mut events = VecDeque::new();
        let started = Instant::now();
        while events.is_empty() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the exchange stalled"
            );
            end.flush();
            end.collect(0, &mut events).expect("decodes");
            if events.is_empty() {
                // Sleep as the master does: flag up, look again, then wait for the bell.
                let idle = end.from_worker.reader_should_sleep() && !end.can_flush();
                if idle {
                    let mut fd = libc::pollfd {
                        fd: end.up.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd.
                    unsafe { libc::poll(&mut fd, 1, 1000) };
                    drain_bell(&end.up);
                }
                end.from_worker.reader_awake();
            }
        }
        assert_eq!(worker.join().expect("worker thread"), expected.0);
        match events.pop_front() {
            Some(Event::Message(0, msg)) => assert!(msg == expected.1, "the result changed"),
            other => panic!("unexpected {other:?}"),
        }
        // Nothing waits for a bell that never comes: each side slept only on its doorbell.
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }
}

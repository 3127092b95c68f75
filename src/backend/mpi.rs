//! The MPI back end: `mpirun -np N hpo run CONFIG` runs the master on rank 0 and a worker on
//! each rank 1..N-1. This is the only module that names the `mpi` crate; it owns MPI's
//! initialization and finalization ([`MpiWorld`]), the launch detection, the setup broadcast,
//! the node-local placement of each rank, the master's `Transport` (`MpiMaster`) and the
//! worker's `WorkerLink` (`MpiLink`).
//!
//! Messages are the same bincode frames as the local pool's, one MPI message each, with one
//! tag per message kind (`tags`); a receiver learns a frame's size with a matched probe.
//! Everything is nonblocking: the master's sends are `MPI_Isend`s of owned buffers that it
//! tests later (it never waits on a worker), and every wait polls with
//! `MPI_Improbe`/`MPI_Test`, yielding the CPU for the first 200 us of a wait (the next frame
//! of a busy exchange is usually that close) and then sleeping between polls (50 us growing
//! to 2 ms), so neither an
//! idle master nor an idle worker spins a core.

use super::{
    Event, FromWorker, ToWorker, Transport, TransportError, WorkerId, WorkerLink, decode, encode,
};
use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::point_to_point::{Message, Status};
use mpi::request::{Request, StaticScope};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The MPI tag of each message kind (one place, so master and worker agree).
pub(crate) mod tags {
    /// A set to evaluate (master to worker).
    pub const TASK: i32 = 1;
    /// Stop after the running evaluation (master to worker).
    pub const STOP: i32 = 2;
    /// A worker is up, with where it runs (worker to master).
    pub const READY: i32 = 3;
    /// The values a worker proposed for a Bayesian set (worker to master).
    pub const PROPOSAL: i32 = 4;
    /// A finished set (worker to master).
    pub const DONE: i32 = 5;
    /// The answer to a stop (worker to master).
    pub const BYE: i32 = 6;
    /// Ping-pong frames of the latency benchmark.
    pub const PING: i32 = 7;
    /// An intermediate value of a running set (worker to master).
    pub const REPORT: i32 = 8;
    /// The answer to a report: continue or stop (master to worker).
    pub const VERDICT: i32 = 9;
}

/// Environment variables that launchers set for each process they start; one of them set
/// means `hpo` was started by `mpirun`/`mpiexec`/`srun` (checked before MPI is initialized).
pub(crate) const LAUNCH_VARIABLES: &[&str] = &[
    "OMPI_COMM_WORLD_SIZE",
    "PMIX_RANK",
    "PMI_RANK",
    "PMI_SIZE",
    "MV2_COMM_WORLD_SIZE",
    "MPI_LOCALNRANKS",
];

/// How long a wait polls with only `sched_yield` between polls before it starts sleeping.
const SPIN: Duration = Duration::from_micros(200);
/// First sleep of a wait, doubled after each empty poll up to [`MAX_PAUSE`].
const MIN_PAUSE: Duration = Duration::from_micros(50);
const MAX_PAUSE: Duration = Duration::from_millis(2);
/// Sends the master keeps in flight per worker; later ones wait in its outbox (still without
/// blocking) until earlier ones complete.
const IN_FLIGHT_PER_WORKER: usize = 32;
/// How often a waiting worker checks that its launcher (and so the job) is still there.
const LIVENESS_EVERY: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum MpiError {
    #[error(
        "started by an MPI launcher ({variable} is set), but MPI could not be initialized (was it initialized twice?)"
    )]
    Init { variable: String },
    #[error("the setup from rank 0 could not be received: {reason}")]
    Setup { reason: String },
    #[error("rank {rank}: frame of {bytes} bytes is too large for one MPI message")]
    TooLarge { rank: usize, bytes: usize },
}

/// The launcher variable that shows an MPI launch, if any.
pub(crate) fn launched_by() -> Option<&'static str> {
    LAUNCH_VARIABLES
        .iter()
        .copied()
        .find(|v| std::env::var_os(v).is_some())
}

/// Where a rank sits on its node, from a shared-memory split of the world communicator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Placement {
    /// Rank within the node (ordered by world rank).
    pub local_rank: usize,
    /// Ranks on the node, the master included when it runs there.
    pub local_size: usize,
    /// Whether the master (world rank 0) runs on this node; it then holds local rank 0.
    pub master_here: bool,
}

impl Placement {
    /// The worker's slot on its node: node 0's workers are local ranks 1.. (slots 0..), the
    /// other nodes' workers local ranks 0.. (slots 0..).
    pub(crate) fn worker_slot(&self) -> usize {
        self.local_rank
            .saturating_sub(usize::from(self.master_here))
    }

    /// Workers on this node.
    pub(crate) fn node_workers(&self) -> usize {
        self.local_size
            .saturating_sub(usize::from(self.master_here))
            .max(1)
    }
}

/// MPI, initialized; finalized when dropped.
pub struct MpiWorld {
    world: SimpleCommunicator,
    rank: usize,
    size: usize,
    launcher: nix::unistd::Pid,
    _universe: Universe,
}

impl MpiWorld {
    /// Initializes MPI (only the calling thread ever makes MPI calls).
    pub fn init() -> Result<MpiWorld, MpiError> {
        let variable = launched_by().unwrap_or("none").to_string();
        let (universe, _) = mpi::initialize_with_threading(mpi::Threading::Funneled)
            .ok_or(MpiError::Init { variable })?;
        let world = universe.world();
        let rank = usize::try_from(world.rank()).unwrap_or(0);
        let size = usize::try_from(world.size()).unwrap_or(1);
        Ok(MpiWorld {
            world,
            rank,
            size,
            launcher: nix::unistd::getppid(),
            _universe: universe,
        })
    }

    pub(crate) fn rank(&self) -> usize {
        self.rank
    }

    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Where this rank sits on its node (collective: every rank calls it).
    pub(crate) fn placement(&self) -> Placement {
        let local = self.world.split_shared(self.world.rank());
        let world_rank = self.world.rank();
        let mut lowest = world_rank;
        local.all_reduce_into(&world_rank, &mut lowest, SystemOperation::min());
        Placement {
            local_rank: usize::try_from(local.rank()).unwrap_or(0),
            local_size: usize::try_from(local.size()).unwrap_or(1),
            master_here: lowest == 0,
        }
    }

    /// Rank 0 sends `bytes` to every rank; the others pass `None` and get rank 0's bytes.
    /// Collective; waiting ranks poll and sleep instead of spinning.
    pub(crate) fn broadcast(&self, bytes: Option<Vec<u8>>) -> Result<Vec<u8>, MpiError> {
        let root = self.world.process_at_rank(0);
        let mut len = bytes.as_ref().map(|b| b.len() as u64).unwrap_or(0);
        mpi::request::scope(|scope| {
            let request = root.immediate_broadcast_into(scope, &mut len);
            wait_request(request);
        });
        let mut buf = bytes.unwrap_or_else(|| vec![0u8; usize::try_from(len).unwrap_or(0)]);
        if buf.len() as u64 != len || i32::try_from(len).is_err() {
            return Err(MpiError::Setup {
                reason: format!("{len} bytes announced, {} at hand", buf.len()),
            });
        }
        mpi::request::scope(|scope| {
            let request = root.immediate_broadcast_into(scope, &mut buf[..]);
            wait_request(request);
        });
        Ok(buf)
    }

    /// The master's side (rank 0): workers are ranks 1..size, worker `w` is rank `w + 1`.
    pub(crate) fn master(&self) -> MpiMaster<'_> {
        let workers = self.size.saturating_sub(1);
        MpiMaster {
            world: &self.world,
            outboxes: vec![VecDeque::new(); workers],
            in_flight: Vec::new(),
            in_flight_per: vec![0; workers],
        }
    }

    /// A worker's side (rank > 0).
    pub(crate) fn worker_link(&self) -> MpiLink<'_> {
        MpiLink {
            world: &self.world,
            rank: self.rank,
            launcher: nix::unistd::getppid(),
        }
    }

    /// Whether the process that started this rank (the launcher or its daemon) is still
    /// there; when it is not, the job is gone and finalizing MPI could hang.
    pub(crate) fn launcher_alive(&self) -> bool {
        nix::unistd::getppid() == self.launcher
    }

    /// Ends the whole job (every rank) with `code`.
    pub(crate) fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }

    /// Round trips of `out_bytes` from rank 0 to rank 1 and `back_bytes` back, over the same
    /// nonblocking sends and probed receives as the transport but without sleeping (the
    /// floor of one exchange). Rank 0 returns the mean seconds per round trip; rank 1 `None`;
    /// other ranks do nothing. Both ranks must call it.
    pub fn ping_pong(&self, out_bytes: usize, back_bytes: usize, rounds: usize) -> Option<f64> {
        let (peer, send, expect) = match self.rank {
            0 => (1, vec![7u8; out_bytes], back_bytes),
            1 => (0, vec![7u8; back_bytes], out_bytes),
            _ => return None,
        };
        let other = self.world.process_at_rank(peer);
        let exchange = |first: bool| {
            if first {
                send_and_wait(&other, &send, tags::PING, true);
            }
            let (bytes, _) = loop {
                if let Some(probed) = other.immediate_matched_probe_with_tag(tags::PING) {
                    break probed.matched_receive_vec::<u8>();
                }
            };
            debug_assert_eq!(bytes.len(), expect);
            if !first {
                send_and_wait(&other, &send, tags::PING, true);
            }
        };
        // Warm up the connection first.
        for _ in 0..10 {
            exchange(self.rank == 0);
        }
        let start = Instant::now();
        for _ in 0..rounds {
            exchange(self.rank == 0);
        }
        let secs = start.elapsed().as_secs_f64() / rounds.max(1) as f64;
        (self.rank == 0).then_some(secs)
    }
}

/// Tests a request until it completes, sleeping with back-off in between.
fn wait_request<'a, D: ?Sized, S: mpi::request::Scope<'a>>(mut request: Request<'a, D, S>) {
    let mut backoff = Backoff::new();
    loop {
        match request.test() {
            Ok(_) => return,
            Err(r) => request = r,
        }
        backoff.wait(None);
    }
}

/// The pauses between the polls of one wait.
struct Backoff {
    start: Instant,
    pause: Duration,
}

impl Backoff {
    fn new() -> Backoff {
        Backoff {
            start: Instant::now(),
            pause: MIN_PAUSE,
        }
    }

    /// Pauses before the next poll: yields the CPU during the first [`SPIN`] of the wait,
    /// then sleeps, never longer than `left`.
    fn wait(&mut self, left: Option<Duration>) {
        if self.start.elapsed() < SPIN {
            std::thread::yield_now();
            return;
        }
        std::thread::sleep(left.map_or(self.pause, |l| l.min(self.pause)));
        self.pause = (self.pause * 2).min(MAX_PAUSE);
    }
}

/// Sends `bytes` with a nonblocking send inside a request scope and tests it to completion;
/// `spin` polls without pausing (the benchmark's floor).
fn send_and_wait(to: &mpi::topology::Process<'_>, bytes: &[u8], tag: i32, spin: bool) {
    mpi::request::scope(|scope| {
        let mut request = to.immediate_send_with_tag(scope, bytes, tag);
        let mut backoff = Backoff::new();
        loop {
            match request.test() {
                Ok(_) => return,
                Err(r) => request = r,
            }
            if !spin {
                backoff.wait(None);
            }
        }
    })
}

fn to_worker_tag(msg: &ToWorker) -> i32 {
    match msg {
        ToWorker::Task(_) => tags::TASK,
        ToWorker::Stop => tags::STOP,
        ToWorker::Verdict { .. } => tags::VERDICT,
    }
}

fn from_worker_tag(msg: &FromWorker) -> i32 {
    match msg {
        FromWorker::Ready(_) => tags::READY,
        FromWorker::Proposal { .. } => tags::PROPOSAL,
        FromWorker::Done(_) => tags::DONE,
        FromWorker::Bye { .. } => tags::BYE,
        FromWorker::Report { .. } => tags::REPORT,
    }
}

/// Receives a probed message and checks that its tag names the kind it holds.
fn receive<T: serde::de::DeserializeOwned>(
    probed: (Message, Status),
    kind: impl Fn(&T) -> i32,
) -> Result<(T, usize), TransportError> {
    let (bytes, status) = probed.matched_receive_vec::<u8>();
    let msg: T = decode(&bytes)?;
    if kind(&msg) != status.tag() {
        return Err(TransportError::Decode {
            reason: format!(
                "a frame with tag {} holds another kind of message",
                status.tag()
            ),
        });
    }
    Ok((msg, usize::try_from(status.source_rank()).unwrap_or(0)))
}

/// A send of an owned buffer that MPI may still be reading.
struct InFlight {
    worker: WorkerId,
    request: Request<'static, [u8], StaticScope>,
    /// The buffer the request reads, freed once the request is complete.
    buffer: *mut [u8],
}

impl InFlight {
    fn start(world: &SimpleCommunicator, worker: WorkerId, tag: i32, bytes: Vec<u8>) -> InFlight {
        let buffer: *mut [u8] = Box::into_raw(bytes.into_boxed_slice());
        // SAFETY: the box is only freed in `finish`, after the request that reads it has
        // completed, or leaked; nothing else touches it meanwhile.
        let data: &'static [u8] = unsafe { &*buffer };
        let rank = i32::try_from(worker + 1).unwrap_or(i32::MAX);
        let request = world
            .process_at_rank(rank)
            .immediate_send_with_tag(StaticScope, data, tag);
        InFlight {
            worker,
            request,
            buffer,
        }
    }

    /// Tests the send; frees the buffer when it is complete.
    fn poll(self) -> Result<(), InFlight> {
        let InFlight {
            worker,
            request,
            buffer,
        } = self;
        match request.test() {
            Ok(_) => {
                // SAFETY: the request is complete and consumed; the buffer has no other user.
                drop(unsafe { Box::from_raw(buffer) });
                Ok(())
            }
            Err(request) => Err(InFlight {
                worker,
                request,
                buffer,
            }),
        }
    }
}

/// The master's side: rank 0.
pub(crate) struct MpiMaster<'w> {
    world: &'w SimpleCommunicator,
    /// Frames not yet handed to MPI, per worker (only past the in-flight cap).
    outboxes: Vec<VecDeque<(i32, Vec<u8>)>>,
    in_flight: Vec<InFlight>,
    in_flight_per: Vec<usize>,
}

impl MpiMaster<'_> {
    /// Completes what it can of the sends in flight and starts queued ones.
    fn progress(&mut self) {
        let mut still = Vec::with_capacity(self.in_flight.len());
        for send in std::mem::take(&mut self.in_flight) {
            match send.poll() {
                Ok(()) => {}
                Err(send) => still.push(send),
            }
        }
        for n in &mut self.in_flight_per {
            *n = 0;
        }
        for send in &still {
            self.in_flight_per[send.worker] += 1;
        }
        self.in_flight = still;
        for w in 0..self.outboxes.len() {
            while self.in_flight_per[w] < IN_FLIGHT_PER_WORKER {
                let Some((tag, bytes)) = self.outboxes[w].pop_front() else {
                    break;
                };
                self.in_flight
                    .push(InFlight::start(self.world, w, tag, bytes));
                self.in_flight_per[w] += 1;
            }
        }
    }
}

impl Transport for MpiMaster<'_> {
    fn workers(&self) -> usize {
        self.outboxes.len()
    }

    fn name(&self) -> &'static str {
        "mpi"
    }

    /// MPI offers no way into a rank busy in an evaluation: the whole job ends, and the
    /// launcher's SIGTERM makes every worker take its objective's process group down.
    fn abort(&mut self) {
        use mpi::traits::Communicator;
        self.world.abort(130)
    }

    fn send(&mut self, worker: WorkerId, msg: &ToWorker) -> Result<(), TransportError> {
        if worker >= self.outboxes.len() {
            return Err(TransportError::Worker {
                worker,
                reason: "no such rank".into(),
            });
        }
        let bytes = encode(msg);
        if i32::try_from(bytes.len()).is_err() {
            return Err(TransportError::Worker {
                worker,
                reason: MpiError::TooLarge {
                    rank: worker + 1,
                    bytes: bytes.len(),
                }
                .to_string(),
            });
        }
        self.outboxes[worker].push_back((to_worker_tag(msg), bytes));
        self.progress();
        Ok(())
    }

    fn recv(&mut self, timeout: Duration) -> Result<Event, TransportError> {
        let mut backoff = Backoff::new();
        loop {
            if !self.in_flight.is_empty() {
                self.progress();
            }
            if let Some(probed) = self.world.any_process().immediate_matched_probe() {
                let (msg, rank): (FromWorker, usize) = receive(probed, from_worker_tag)?;
                if rank == 0 || rank > self.outboxes.len() {
                    return Err(TransportError::Failed {
                        reason: format!("a message from rank {rank}, which is not a worker"),
                    });
                }
                return Ok(Event::Message(rank - 1, msg));
            }
            let left = timeout.saturating_sub(backoff.start.elapsed());
            if left.is_zero() {
                return Ok(Event::Idle);
            }
            backoff.wait(Some(left));
        }
    }
}

impl Drop for MpiMaster<'_> {
    fn drop(&mut self) {
        // Every worker has said goodbye by now, so its sends are complete or about to be.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut backoff = Backoff::new();
        self.outboxes.iter_mut().for_each(VecDeque::clear);
        while !self.in_flight.is_empty() && Instant::now() < deadline {
            self.progress();
            backoff.wait(None);
        }
        // A send no worker will ever take: leak it rather than drop an unfinished request
        // (MPI only reads the buffer, so leaking it is sound).
        for send in self.in_flight.drain(..) {
            std::mem::forget(send);
        }
    }
}

/// A worker's side: rank > 0, talking to rank 0.
pub(crate) struct MpiLink<'w> {
    world: &'w SimpleCommunicator,
    rank: usize,
    /// The process that started this rank (the launcher's daemon); when it is gone, so is
    /// the job.
    launcher: nix::unistd::Pid,
}

impl MpiLink<'_> {
    fn launcher_alive(&self) -> bool {
        nix::unistd::getppid() == self.launcher
    }
}

impl WorkerLink for MpiLink<'_> {
    fn recv(&mut self, block: bool) -> Result<Option<ToWorker>, TransportError> {
        let master = self.world.process_at_rank(0);
        let mut backoff = Backoff::new();
        let mut last_check = Instant::now();
        loop {
            if let Some(probed) = master.immediate_matched_probe() {
                let (msg, _) = receive(probed, to_worker_tag)?;
                return Ok(Some(msg));
            }
            if !block {
                return Ok(None);
            }
            if last_check.elapsed() >= LIVENESS_EVERY {
                last_check = Instant::now();
                if !self.launcher_alive() {
                    return Ok(None);
                }
            }
            backoff.wait(None);
        }
    }

    fn send(&mut self, msg: &FromWorker) -> Result<(), TransportError> {
        let bytes = encode(msg);
        if i32::try_from(bytes.len()).is_err() {
            return Err(TransportError::Failed {
                reason: MpiError::TooLarge {
                    rank: self.rank,
                    bytes: bytes.len(),
                }
                .to_string(),
            });
        }
        send_and_wait(
            &self.world.process_at_rank(0),
            &bytes,
            from_worker_tag(msg),
            false,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_slots_leave_room_for_the_master() {
        let node0 = |r| Placement {
            local_rank: r,
            local_size: 4,
            master_here: true,
        };
        let other = |r| Placement {
            local_rank: r,
            local_size: 4,
            master_here: false,
        };
        assert_eq!(
            (1..4).map(|r| node0(r).worker_slot()).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert_eq!(
            (0..4).map(|r| other(r).worker_slot()).collect::<Vec<_>>(),
            vec![0, 1, 2, 3]
        );
        assert_eq!(node0(1).node_workers(), 3);
        assert_eq!(other(0).node_workers(), 4);
    }

    #[test]
    fn every_message_kind_has_its_own_tag() {
        let mut all = vec![
            tags::TASK,
            tags::STOP,
            tags::READY,
            tags::PROPOSAL,
            tags::DONE,
            tags::BYE,
            tags::PING,
        ];
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 7);
    }
}

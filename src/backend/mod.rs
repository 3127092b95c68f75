//! How the master and its workers talk: the messages, and the `Transport` (master side) and
//! `WorkerLink` (worker side) traits that the local fork pool and MPI implement.
//!
//! Messages are bincode frames. The master never blocks on a send (a transport queues what
//! does not fit); waiting for a message sleeps instead of spinning.

pub(crate) mod fork;
pub mod mpi;

use crate::objective::Outcome;
use crate::space::Value;
use serde::{Deserialize, Serialize};
use std::time::Duration;

pub(crate) use crate::schedule::WorkerId;

/// What the suggestion learns from a set that is over: its result, or (with `[pruning]`) its
/// value at one step of the ladder (see `prune`), pruned sets included.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Observation {
    pub index: u32,
    pub values: Vec<Value>,
    /// The value as a loss, to minimize (negated for maximizing experiments).
    pub loss: f64,
    /// The declared outputs as returned, in declared order (empty without declared outputs, and
    /// for a value at a step).
    pub outputs: Vec<f64>,
    /// `None`: the result of an `ok` row; `Some(step)`: the value the set reported at `step`.
    pub step: Option<u64>,
}

/// A set that is running: its values when a worker proposed them (a Bayesian set), `None`
/// when the worker can read them from the parameter table, or for a Bayesian set whose
/// proposal is still under way (its worker holds another slot: [`Task::slot`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct PendingSet {
    pub index: u32,
    pub values: Option<Vec<Value>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Task {
    pub index: u32,
    /// Observations this worker has not been sent before (Bayesian tasks only).
    pub history: Vec<Observation>,
    /// Sets running elsewhere (Bayesian tasks only).
    pub pending: Vec<PendingSet>,
    /// Seconds since the Unix epoch after which the evaluation must be cut off (the job's end).
    pub deadline: Option<f64>,
    /// Which run of the set this is (1, then one more each time it runs again): its reports
    /// carry it, so only the latest run's count.
    pub attempt: u32,
    /// A Bayesian task's place among the proposals under way: which point of a spread batch
    /// its worker takes (`acquisition::suggest_among`). The master gives each proposal under
    /// way its own slot, the lowest free one, so slot 0, the model's best point, is taken
    /// whenever no other proposal holds it.
    pub slot: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum ToWorker {
    Task(Task),
    /// Finish the running evaluation, drop queued ones, say `Bye` and exit.
    Stop,
    /// The answer to a [`FromWorker::Report`] of set `index`: `stop` ends the evaluation.
    Verdict {
        index: u32,
        stop: bool,
    },
}

/// Where a worker runs, for the results table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct WorkerInfo {
    pub rank: Option<u32>,
    pub host: String,
    pub gpu: String,
    pub cores: String,
    pub pid: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Done {
    pub index: u32,
    pub values: Vec<Value>,
    pub outcome: Outcome,
    /// Unix time in seconds.
    pub started: f64,
    pub ended: f64,
    pub note: String,
    /// The evaluation was cut off at the deadline: not a result, to be re-run on resume.
    pub cut_off: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum FromWorker {
    Ready(WorkerInfo),
    /// The values a worker proposed for a Bayesian set, sent before evaluating it.
    Proposal {
        index: u32,
        values: Vec<Value>,
    },
    Done(Done),
    /// An intermediate value of the running set; the worker waits for the
    /// [`ToWorker::Verdict`].
    Report {
        index: u32,
        attempt: u32,
        step: u64,
        value: f64,
    },
    /// Answer to `Stop`: the queued sets it dropped.
    Bye {
        dropped: Vec<u32>,
    },
}

/// What the master's wait returns.
#[derive(Debug)]
pub(crate) enum Event {
    Message(WorkerId, FromWorker),
    /// The worker is gone (process died, connection closed); the reason in words.
    Lost(WorkerId, String),
    /// Nothing arrived within the timeout.
    Idle,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum TransportError {
    #[error("communication with worker {worker} failed: {reason}")]
    Worker { worker: WorkerId, reason: String },
    #[error("the transport failed: {reason}")]
    Failed { reason: String },
    #[error("a message could not be decoded: {reason}")]
    Decode { reason: String },
}

/// The master's side.
pub(crate) trait Transport {
    fn workers(&self) -> usize;
    /// Queues a message for a worker; never blocks on the worker.
    fn send(&mut self, worker: WorkerId, msg: &ToWorker) -> Result<(), TransportError>;
    /// Waits up to `timeout` for the next event, sleeping (not spinning) while nothing comes.
    fn recv(&mut self, timeout: Duration) -> Result<Event, TransportError>;
    /// "processes" or "mpi", for the status file.
    fn name(&self) -> &'static str;
    /// Ends the running evaluations now (a second Ctrl-C): each worker kills its objective's
    /// process group and exits; its loss then arrives as an event.
    fn abort(&mut self);
}

/// A worker's side.
pub(crate) trait WorkerLink {
    /// The next message; `block = false` returns `None` at once when none is waiting.
    fn recv(&mut self, block: bool) -> Result<Option<ToWorker>, TransportError>;
    fn send(&mut self, msg: &FromWorker) -> Result<(), TransportError>;
}

pub(crate) fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    bincode::serde::encode_to_vec(msg, bincode::config::standard()).unwrap_or_default()
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, TransportError> {
    bincode::serde::decode_from_slice(bytes, bincode::config::standard())
        .map(|(v, _)| v)
        .map_err(|e| TransportError::Decode {
            reason: e.to_string(),
        })
}

/// The sizes in bytes of a typical task frame (a plain set, no history) and of its result (two
/// float parameters): what the transport benchmark sends back and forth over MPI.
pub fn frame_sizes() -> (usize, usize) {
    let task = encode(&ToWorker::Task(Task {
        index: 12_345,
        history: Vec::new(),
        pending: Vec::new(),
        deadline: None,
        attempt: 1,
        slot: 0,
    }));
    let done = encode(&FromWorker::Done(Done {
        index: 12_345,
        values: vec![Value::Float(1.234_567), Value::Float(-3.2)],
        outcome: Outcome::ok(0.123_456_789),
        started: 1.7e9,
        ended: 1.7e9 + 0.001,
        note: String::new(),
        cut_off: false,
    }));
    (task.len(), done.len())
}

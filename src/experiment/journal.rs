//! `results.csv`: appended the moment a result arrives, fsynced in small batches by a
//! background thread, and read back (and repaired) on resume; and `history.csv`, where the
//! rows a retry replaced go.
//!
//! The master appends rows to a buffer and hands them to the kernel (the page cache, where a
//! `kill -9` of the master cannot lose them) whenever no message is waiting, and at least every
//! few hundred rows while messages keep coming ([`Journal::flush`]); a syncer thread makes
//! what the kernel holds durable within [`SYNC_EVERY`]. A row is reported anywhere (progress,
//! hooks) only once it is durable. A crash can leave a torn last line: reading drops it and
//! its set is re-run.
//!
//! # One row per set, and retries
//! The last row of a set in `results.csv` is its row; every reader reads it so
//! ([`read_results`]). A row before it is *superseded*: it belongs in `history.csv` (same
//! columns), and [`settle`] moves it there. `hpo run --retry-failed` replaces the row of a
//! failed set in three steps, each safe to interrupt with `kill -9`:
//!
//! 1. the new row is appended to `results.csv` and made durable like any row: the set now
//!    has two rows, and every reader takes the new one;
//! 2. [`settle`] appends the old row to `history.csv` (unless an interrupted settle already
//!    did: a row is found there by its exact fields) and fsyncs it;
//! 3. it rewrites `results.csv` without the old row: a temporary file, fsynced, renamed over
//!    it, the folder fsynced.
//!
//! Interrupted after step 1 or 2, the next run that takes the folder's lock settles on open
//! ([`read_and_repair`]) before anything else; after step 3 there is nothing left to do. At no
//! point does a set have no row, and after that recovery none has two. The master settles
//! about once a second while retried rows arrive, and at the end of the run
//! ([`Journal::settle`]). A row duplicated by hand is treated the same way: the last one
//! counts, the earlier ones move to `history.csv`.

use super::schema::{self, TAIL_COLUMNS, Tail};
use crate::objective::{Outcome, Status};
use crate::space::{Space, Value};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime};

/// The longest a written row waits for its fsync.
pub const SYNC_EVERY: Duration = Duration::from_millis(50);
/// One finished set.
#[derive(Clone, Debug, PartialEq)]
pub struct ResultRow {
    pub index: usize,
    /// Every parameter, in declared order (Bayesian ones as proposed, `expr` ones computed).
    pub values: Vec<Value>,
    pub outcome: Outcome,
    /// Worker number: 1..K for the local pool, the MPI rank otherwise.
    pub worker: usize,
    pub started: SystemTime,
    pub ended: SystemTime,
    pub attempts: u32,
    pub rank: Option<u32>,
    pub host: String,
    pub gpu: String,
    pub cores: String,
    pub bayesian: bool,
    pub block: usize,
    pub note: String,
}

impl ResultRow {
    /// A row as unit tests build it: worker 1 on host `h`, one attempt, nothing else said.
    #[cfg(test)]
    pub(crate) fn for_test(index: usize, values: Vec<Value>, outcome: Outcome) -> ResultRow {
        ResultRow {
            index,
            values,
            outcome,
            worker: 1,
            started: SystemTime::now(),
            ended: SystemTime::now(),
            attempts: 1,
            rank: None,
            host: "h".into(),
            gpu: String::new(),
            cores: "1".into(),
            bayesian: false,
            block: 0,
            note: String::new(),
        }
    }

    pub fn duration_s(&self) -> f64 {
        self.ended
            .duration_since(self.started)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    }

    fn record(&self) -> Vec<String> {
        let mut rec = Vec::with_capacity(self.values.len() + TAIL_COLUMNS.len() + 1);
        rec.push(self.index.to_string());
        rec.extend(self.values.iter().map(Value::to_string));
        rec.push(
            self.outcome
                .result
                .map(|r| r.to_string())
                .unwrap_or_default(),
        );
        rec.push(self.outcome.status.to_string());
        rec.push(self.worker.to_string());
        rec.push(humantime::format_rfc3339_millis(self.started).to_string());
        rec.push(humantime::format_rfc3339_millis(self.ended).to_string());
        rec.push(format!("{:.3}", self.duration_s()));
        rec.push(self.attempts.to_string());
        rec.push(
            self.outcome
                .exit_code
                .map(|c| c.to_string())
                .unwrap_or_default(),
        );
        rec.push(self.rank.map(|r| r.to_string()).unwrap_or_default());
        rec.push(self.host.clone());
        rec.push(self.gpu.clone());
        rec.push(self.cores.clone());
        rec.push(self.bayesian.to_string());
        rec.push(self.block.to_string());
        rec.push(self.note.clone());
        rec.push(self.outcome.error.clone());
        rec.push(self.outcome.metrics.clone());
        rec.push(self.outcome.step.map(|s| s.to_string()).unwrap_or_default());
        rec
    }
}

/// The header of this experiment's results table.
pub fn header(space: &Space) -> Vec<String> {
    schema::header(space.parameters.iter().map(|p| p.name.as_str()))
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot write results to {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: line {line}: {problem}; fix or remove that line by hand, then resume")]
    Damaged {
        path: PathBuf,
        line: usize,
        problem: String,
    },
}

/// What reading the results found and mended.
#[derive(Debug, Default, PartialEq)]
pub struct Repair {
    /// A torn last line was cut off (its set will be re-run).
    pub torn_line: bool,
    /// Sets with more than one row: their last row counts, the earlier ones are superseded
    /// (a retry interrupted before it settled, or a row copied by hand).
    pub superseded: Vec<usize>,
    /// Superseded rows moved to history.csv by the repair.
    pub moved: usize,
    /// The header lacks tail columns this hpo writes (an older hpo's table): reading takes
    /// them as empty; the repair rewrites the header and pads the rows.
    pub old_header: bool,
}

struct SyncState {
    written: AtomicU64,
    durable: AtomicU64,
    failed: AtomicBool,
    stop: Mutex<bool>,
    wake: Condvar,
}

/// The append side of `results.csv` (or of another table of the experiment written the same
/// way, such as `curves.csv`), owned by the master.
pub struct Journal {
    path: PathBuf,
    file: Arc<File>,
    offset: u64,
    csv: csv::Writer<Vec<u8>>,
    /// Rows appended (the sequence number of the next row).
    appended: u64,
    /// Rows handed to the kernel.
    written: u64,
    state: Arc<SyncState>,
    syncer: Option<std::thread::JoinHandle<()>>,
}

impl Journal {
    /// Opens (or creates) `results.csv` for appending; read (and repair) it with
    /// [`read_and_repair`] first. Call after forking the workers: it starts a thread.
    pub fn open(dir: &Path, space: &Space) -> Result<Journal, JournalError> {
        Journal::open_table(dir.join(super::RESULTS_FILE), &header(space))
    }

    /// Opens (or creates, with `header`) a CSV table of the experiment for appending, with the
    /// same batching and fsync as `results.csv`; a torn last line must be cut off first.
    pub fn open_table(path: PathBuf, header: &[String]) -> Result<Journal, JournalError> {
        let io = |source| JournalError::Io {
            path: path.clone(),
            source,
        };
        let file = super::open_rw(&path).map_err(io)?;
        let mut offset = file.metadata().map_err(io)?.len();
        if offset == 0 {
            let mut w = csv::Writer::from_writer(Vec::new());
            let _ = w.write_record(header);
            let bytes = w.into_inner().unwrap_or_default();
            // Made durable by the syncer together with the first rows.
            file.write_all_at(&bytes, 0).map_err(io)?;
            offset = bytes.len() as u64;
        }
        let state = Arc::new(SyncState {
            written: AtomicU64::new(0),
            durable: AtomicU64::new(0),
            failed: AtomicBool::new(false),
            stop: Mutex::new(false),
            wake: Condvar::new(),
        });
        let mut journal = Journal {
            path,
            file: Arc::new(file),
            offset,
            csv: row_writer(),
            appended: 0,
            written: 0,
            state,
            syncer: None,
        };
        journal.start_syncer()?;
        Ok(journal)
    }

    fn start_syncer(&mut self) -> Result<(), JournalError> {
        let (file, state) = (self.file.clone(), self.state.clone());
        let dir = self
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let syncer = std::thread::Builder::new()
            .name("hpo-fsync".into())
            .spawn(move || {
                sync_definition(&dir);
                sync_loop(&file, &state)
            })
            .map_err(|source| JournalError::Io {
                path: self.path.clone(),
                source,
            })?;
        self.syncer = Some(syncer);
        Ok(())
    }

    /// Moves the rows that retried sets replaced to history.csv ([`settle`], steps 2 and 3)
    /// while the journal is open: every row appended so far is made durable first, and the
    /// file, replaced by the rename, is opened again. Returns the rows moved.
    pub fn settle(&mut self) -> Result<usize, JournalError> {
        self.sync()?;
        self.stop_syncer();
        let moved = settle(&self.path);
        // Whatever settling did, the rows to come go to the file now at `path`.
        let io = |source| JournalError::Io {
            path: self.path.clone(),
            source,
        };
        let file = super::open_rw(&self.path).map_err(io)?;
        self.offset = file.metadata().map_err(io)?.len();
        self.file = Arc::new(file);
        if let Ok(mut stop) = self.state.stop.lock() {
            *stop = false;
        }
        self.start_syncer()?;
        moved
    }

    /// Appends a row to the buffer; returns its sequence number.
    pub fn append(&mut self, row: &ResultRow) -> u64 {
        self.append_record(&row.record())
    }

    /// Appends one record of the table to the buffer; returns its sequence number.
    pub fn append_record(&mut self, record: &[String]) -> u64 {
        let _ = self.csv.write_record(record);
        self.appended += 1;
        self.appended - 1
    }

    /// Hands buffered rows to the kernel (page cache); the syncer makes them durable.
    pub fn flush(&mut self) -> Result<(), JournalError> {
        if self.state.failed.load(Ordering::SeqCst) {
            return Err(JournalError::Io {
                path: self.path.clone(),
                source: std::io::Error::other("fsync failed"),
            });
        }
        if self.appended == self.written {
            return Ok(());
        }
        let io = |source| JournalError::Io {
            path: self.path.clone(),
            source,
        };
        let full = std::mem::replace(&mut self.csv, row_writer());
        let buf = full.into_inner().map_err(|e| io(e.into_error()))?;
        self.file.write_all_at(&buf, self.offset).map_err(io)?;
        self.offset += buf.len() as u64;
        self.written = self.appended;
        self.state.written.store(self.written, Ordering::SeqCst);
        self.state.wake.notify_one();
        Ok(())
    }

    /// Rows appended but not yet handed to the kernel.
    pub fn buffered(&self) -> u64 {
        self.appended - self.written
    }

    /// Rows whose sequence number is below this are durable.
    pub fn durable(&self) -> u64 {
        self.state.durable.load(Ordering::SeqCst)
    }

    /// Flushes and waits until every appended row is durable.
    pub fn sync(&mut self) -> Result<(), JournalError> {
        self.flush()?;
        self.file.sync_data().map_err(|source| JournalError::Io {
            path: self.path.clone(),
            source,
        })?;
        self.state.durable.fetch_max(self.written, Ordering::SeqCst);
        Ok(())
    }

    /// Flushes, syncs and stops the syncer.
    pub fn close(mut self) -> Result<(), JournalError> {
        let flushed = self.flush();
        self.stop_syncer();
        flushed?;
        self.file.sync_data().map_err(|source| JournalError::Io {
            path: self.path.clone(),
            source,
        })?;
        self.state.durable.store(self.written, Ordering::SeqCst);
        Ok(())
    }

    fn stop_syncer(&mut self) {
        if let Ok(mut stop) = self.state.stop.lock() {
            *stop = true;
        }
        self.state.wake.notify_one();
        if let Some(h) = self.syncer.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.stop_syncer();
    }
}

fn row_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new())
}

/// Makes the folder's definition files and the folder itself durable (a no-op cost when they
/// already are).
fn sync_definition(dir: &Path) {
    for name in super::DEFINITION_FILES {
        if let Ok(f) = File::open(dir.join(name)) {
            let _ = f.sync_all();
        }
    }
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

fn sync_loop(file: &File, state: &SyncState) {
    loop {
        let target = state.written.load(Ordering::SeqCst);
        if target > state.durable.load(Ordering::SeqCst) {
            if file.sync_data().is_err() {
                state.failed.store(true, Ordering::SeqCst);
                return;
            }
            state.durable.store(target, Ordering::SeqCst);
            // Batch: let more rows gather before the next fsync.
            std::thread::sleep(SYNC_EVERY / 5);
        }
        let Ok(stop) = state.stop.lock() else { return };
        if *stop {
            return;
        }
        if state.written.load(Ordering::SeqCst) == state.durable.load(Ordering::SeqCst) {
            let _ = state.wake.wait_timeout(stop, SYNC_EVERY);
        }
    }
}

/// Reads `results.csv` without changing it: the rows (first row of each index), and what a
/// crash or a hand edit left (a torn last line, duplicated indices). A row that cannot be
/// understood is an error naming its line: nothing is dropped silently.
pub fn read_results(path: &Path, space: &Space) -> Result<(Vec<ResultRow>, Repair), JournalError> {
    let io = |source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((Vec::new(), Repair::default()));
        }
        Err(e) => return Err(io(e)),
    };
    let len = file.metadata().map_err(io)?.len();
    let whole = whole_lines_len(&file, len).map_err(io)?;
    let mut repair = Repair {
        torn_line: whole < len,
        ..Repair::default()
    };
    if whole == 0 {
        return Ok((Vec::new(), repair));
    }
    let damaged = |line: usize, problem: String| JournalError::Damaged {
        path: path.to_path_buf(),
        line,
        problem,
    };
    // Streamed, not read whole: a table of a million rows would otherwise sit in memory twice.
    let lines = std::io::BufReader::with_capacity(1 << 16, std::io::Read::take(file, whole));
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(lines);
    let expected = header(space);
    let got: Vec<String> = reader
        .headers()
        .map_err(|e| damaged(1, e.to_string()))?
        .iter()
        .map(String::from)
        .collect();
    // An older hpo's header stops after `error`; a newer one's may go on past ours.
    let width = got.len().min(expected.len());
    let oldest = expected.len() - (TAIL_COLUMNS.len() - schema::FIRST_TAIL);
    if width < oldest || got[..width] != expected[..width] {
        return Err(damaged(
            1,
            format!(
                "the header is `{}`, expected `{}`",
                got.join(","),
                expected.join(",")
            ),
        ));
    }
    repair.old_header = width < expected.len();
    let table_len: usize = space.blocks.iter().map(|b| b.count).sum();
    // Where each set's row is in `rows`; a later row of a set supersedes the earlier one,
    // which is marked dead and dropped in place at the end.
    let mut at: Vec<Option<usize>> = vec![None; table_len];
    let mut rows: Vec<ResultRow> = Vec::new();
    let mut dead: Vec<bool> = Vec::new();
    let mut again: Vec<bool> = vec![false; table_len];
    let mut rec = csv::StringRecord::new();
    for line in 2.. {
        match reader.read_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(damaged(line, e.to_string())),
        }
        let row = parse_row(&rec, space, width).map_err(|p| damaged(line, p))?;
        if row.index >= table_len {
            return Err(damaged(
                line,
                format!(
                    "set {} is not in the parameter table (0..{})",
                    row.index, table_len
                ),
            ));
        }
        if let Some(earlier) = at[row.index] {
            // The set's first superseded row names it; later ones are already counted.
            dead[earlier] = true;
            if !std::mem::replace(&mut again[row.index], true) {
                repair.superseded.push(row.index);
            }
        }
        at[row.index] = Some(rows.len());
        rows.push(row);
        dead.push(false);
    }
    if !repair.superseded.is_empty() {
        let mut position = 0;
        rows.retain(|_| {
            position += 1;
            !dead[position - 1]
        });
    }
    Ok((rows, repair))
}

/// The length of a file up to and including its last newline (0 when it has none), found by
/// reading backwards from the end in blocks.
fn whole_lines_len(file: &File, len: u64) -> std::io::Result<u64> {
    const BLOCK: u64 = 1 << 16;
    let mut end = len;
    let mut buf = vec![0u8; BLOCK as usize];
    while end > 0 {
        let start = end.saturating_sub(BLOCK);
        let chunk = &mut buf[..(end - start) as usize];
        file.read_exact_at(chunk, start)?;
        if let Some(p) = chunk.iter().rposition(|b| *b == b'\n') {
            return Ok(start + p as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// Reads `results.csv` as [`read_results`] does and mends the file: a torn last line is cut
/// off (its set runs again); superseded rows are moved to history.csv ([`settle`]). Only the
/// run that holds the lock may call this.
pub fn read_and_repair(
    path: &Path,
    space: &Space,
) -> Result<(Vec<ResultRow>, Repair), JournalError> {
    let io = |source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    };
    let (rows, mut repair) = read_results(path, space)?;
    if repair.torn_line {
        cut_torn_line(path).map_err(io)?;
    }
    if repair.old_header {
        let bytes = std::fs::read(path).map_err(io)?;
        super::replace_durably(path, &with_current_header(&bytes, space)).map_err(io)?;
    }
    if !repair.superseded.is_empty() {
        repair.moved = settle(path)?;
    }
    Ok((rows, repair))
}

/// An older hpo's table with this hpo's header, each row padded with empty cells for the
/// columns it lacks; the cells it has stay exactly as written.
fn with_current_header(bytes: &[u8], space: &Space) -> Vec<u8> {
    let expected = header(space);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(bytes);
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    let _ = w.write_record(&expected);
    for rec in reader.records().flatten() {
        let mut cells: Vec<&str> = rec.iter().collect();
        while cells.len() < expected.len() {
            cells.push("");
        }
        let _ = w.write_record(&cells);
    }
    w.into_inner().unwrap_or_default()
}

/// Cuts a file after its last newline, durably.
pub(super) fn cut_torn_line(path: &Path) -> std::io::Result<()> {
    let len = std::fs::read(path)?
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |p| p + 1);
    let f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.set_len(len as u64).and_then(|()| f.sync_data())
}

/// The header and the whole-line records of a CSV file written by hpo; a missing file has none.
fn raw_records(path: &Path) -> std::io::Result<Option<(csv::ByteRecord, Vec<csv::ByteRecord>)>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(&bytes[..whole]);
    let header = reader
        .byte_headers()
        .map_err(std::io::Error::other)?
        .clone();
    let records = reader
        .byte_records()
        .collect::<Result<Vec<_>, _>>()
        .map_err(std::io::Error::other)?;
    Ok(Some((header, records)))
}

/// Moves every superseded row of `results.csv` (a row of a set that has a later one) to
/// `history.csv` beside it, crash-safely (steps 2 and 3 of the protocol in this module's
/// documentation): history first, then `results.csv` rewritten and renamed over itself.
/// Returns the rows moved (0, and nothing written, when there are none). The caller holds the
/// lock, and `results.csv` ends in a whole line.
pub fn settle(path: &Path) -> Result<usize, JournalError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| JournalError::Io { path: p, source }
    };
    let Some((header, records)) = raw_records(path).map_err(io(path))? else {
        return Ok(0);
    };
    let index = |r: &csv::ByteRecord| -> Option<usize> {
        std::str::from_utf8(r.get(0)?).ok()?.parse().ok()
    };
    let mut last = std::collections::HashMap::new();
    for (pos, r) in records.iter().enumerate() {
        if let Some(i) = index(r) {
            last.insert(i, pos);
        }
    }
    let superseded = |pos: usize, r: &csv::ByteRecord| index(r).is_some_and(|i| last[&i] != pos);
    let old: Vec<&csv::ByteRecord> = records
        .iter()
        .enumerate()
        .filter(|(pos, r)| superseded(*pos, r))
        .map(|(_, r)| r)
        .collect();
    if old.is_empty() {
        return Ok(0);
    }
    let history = path.with_file_name(super::HISTORY_FILE);
    append_history(&history, &header, &old).map_err(io(&history))?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let kept = records
        .iter()
        .enumerate()
        .filter(|(pos, r)| !superseded(*pos, r));
    let written = std::iter::once(&header)
        .chain(kept.map(|(_, r)| r))
        .try_for_each(|r| w.write_byte_record(r));
    let bytes = written
        .map_err(std::io::Error::other)
        .and_then(|()| w.into_inner().map_err(|e| e.into_error()))
        .map_err(io(path))?;
    super::replace_durably(path, &bytes).map_err(io(path))?;
    Ok(old.len())
}

/// Appends `rows` to history.csv (created with `header`), leaving out those it already holds
/// (an interrupted settle's), and makes them durable.
fn append_history(
    history: &Path,
    header: &csv::ByteRecord,
    rows: &[&csv::ByteRecord],
) -> std::io::Result<()> {
    let held: std::collections::HashSet<Vec<Vec<u8>>> = match raw_records(history)? {
        Some((_, records)) => records
            .iter()
            .map(|r| r.iter().map(<[u8]>::to_vec).collect())
            .collect(),
        None => Default::default(),
    };
    let created = !history.exists();
    if !created {
        // A line torn by a crash during an earlier append is cut off; the row is rewritten.
        cut_torn_line(history)?;
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    if created || std::fs::metadata(history)?.len() == 0 {
        w.write_byte_record(header).map_err(std::io::Error::other)?;
    }
    for r in rows {
        let fields: Vec<Vec<u8>> = r.iter().map(<[u8]>::to_vec).collect();
        if !held.contains(&fields) {
            w.write_byte_record(r).map_err(std::io::Error::other)?;
        }
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(history)?;
    f.write_all(&bytes).and_then(|()| f.sync_data())?;
    if created {
        super::sync_dir(history)?;
    }
    Ok(())
}

/// One data row of results.csv whose header holds the first `width` columns of [`header`]
/// (an older hpo's table has fewer: the cells of the columns it lacks read as empty).
fn parse_row(rec: &csv::StringRecord, space: &Space, width: usize) -> Result<ResultRow, String> {
    let n = space.parameters.len();
    if rec.len() < width {
        return Err(format!("{} fields, expected {width}", rec.len()));
    }
    let field = |i: usize| &rec[i];
    let tail = |column: Tail| rec.get(column.position(n)).unwrap_or_default();
    let index: usize = field(0)
        .parse()
        .map_err(|_| format!("index `{}` is not a number", field(0)))?;
    let values = (0..n)
        .map(|p| {
            space.parse_value(p, field(p + 1)).ok_or_else(|| {
                format!(
                    "`{}` is not a value of `{}`",
                    field(p + 1),
                    space.parameters[p].name
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let status: Status = tail(Tail::Status).parse()?;
    let result = match tail(Tail::Result) {
        "" => None,
        r => Some(
            r.parse::<f64>()
                .map_err(|_| format!("result `{r}` is not a number"))?,
        ),
    };
    if status == Status::Ok && !result.is_some_and(f64::is_finite) {
        return Err("an ok row needs a finite result".into());
    }
    let time = |column: Tail| {
        humantime::parse_rfc3339(tail(column)).map_err(|_| {
            format!(
                "{} `{}` is not an RFC 3339 time",
                column.name(),
                tail(column)
            )
        })
    };
    Ok(ResultRow {
        index,
        values,
        outcome: Outcome {
            status,
            result,
            exit_code: tail(Tail::ExitCode).parse().ok(),
            error: tail(Tail::Error).to_string(),
            metrics: tail(Tail::Metrics).to_string(),
            interrupted: false,
            step: match tail(Tail::Step) {
                "" => None,
                s => Some(
                    s.parse()
                        .map_err(|_| format!("step `{s}` is not a whole number"))?,
                ),
            },
        },
        worker: tail(Tail::Worker).parse().unwrap_or(0),
        started: time(Tail::Started)?,
        ended: time(Tail::Ended)?,
        attempts: tail(Tail::Attempts).parse().unwrap_or(1),
        rank: tail(Tail::Rank).parse().ok(),
        host: tail(Tail::Host).to_string(),
        gpu: tail(Tail::Gpu).to_string(),
        cores: tail(Tail::Cores).to_string(),
        bayesian: tail(Tail::Bayesian) == "true",
        block: tail(Tail::Block).parse().unwrap_or(0),
        note: tail(Tail::Note).to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::UNIX_EPOCH;

    /// The width of a whole row of [`space`]'s table: index, 3 parameters, the tail.
    const FULL: usize = 4 + TAIL_COLUMNS.len();

    /// x (float), k (int), act (str); 4 sets.
    fn space() -> Space {
        let text = "[experiment]\ndir = \"e\"\n[objective]\ncommand = [\"sh\"]\n[[parameters]]\nname = \"x\"\ntype = \"float\"\n[[parameters]]\nname = \"k\"\ntype = \"int\"\n[[parameters]]\nname = \"act\"\ntype = \"str\"\n[[sets]]\ncount = 4\nx = { random = [0, 1] }\nk = 1\nact = \"relu\"\n";
        crate::config::Definition::parse(text, Path::new("c.toml"), Path::new("/"))
            .expect("valid")
            .space
    }

    fn row(index: usize) -> ResultRow {
        let at = |s: u64| UNIX_EPOCH + Duration::from_millis(1_780_000_000_000 + s);
        ResultRow {
            index,
            values: vec![
                Value::Float(0.25),
                Value::Int(-3),
                Value::Str("a, \"b\"".into()),
            ],
            outcome: Outcome {
                status: Status::Failed,
                result: None,
                exit_code: Some(3),
                error: "boom\" , x".into(),
                metrics: r#"{"acc":0.5,"note":"a, b"}"#.into(),
                interrupted: false,
                step: None,
            },
            worker: 2,
            started: at(0),
            ended: at(1500),
            attempts: 2,
            rank: Some(2),
            host: "node7".into(),
            gpu: "0,1".into(),
            cores: "4".into(),
            bayesian: true,
            block: 0,
            note: "gp: 3 points".into(),
        }
    }

    /// `row`'s record, with `column` (a tail column or a parameter position) replaced.
    fn record_with(edit: impl FnOnce(&mut Vec<String>)) -> csv::StringRecord {
        let mut rec = row(1).record();
        edit(&mut rec);
        csv::StringRecord::from(rec)
    }

    #[test]
    fn a_pruned_row_reads_back_with_its_step() {
        let s = space();
        let pruned = ResultRow {
            outcome: Outcome::pruned(0.75, 27),
            ..row(2)
        };
        let rec = pruned.record();
        assert_eq!(rec[Tail::Status.position(3)], "pruned");
        assert_eq!(rec[Tail::Step.position(3)], "27");
        assert_eq!(
            parse_row(&csv::StringRecord::from(rec), &s, FULL),
            Ok(pruned)
        );
        let bad = record_with(|r| r[Tail::Step.position(3)] = "x".into());
        assert_eq!(
            parse_row(&bad, &s, FULL),
            Err("step `x` is not a whole number".into())
        );
    }

    #[test]
    fn a_row_reads_back_as_written() {
        let s = space();
        let r = row(1);
        assert_eq!(
            parse_row(&csv::StringRecord::from(r.record()), &s, FULL),
            Ok(r.clone())
        );
        let ok = ResultRow {
            outcome: Outcome::ok(-1.5e-7),
            rank: None,
            ..r
        };
        assert_eq!(
            parse_row(&csv::StringRecord::from(ok.record()), &s, FULL),
            Ok(ok)
        );
    }

    #[test]
    fn every_malformed_field_is_named() {
        let s = space();
        let tail = |t: Tail| t.position(3);
        let cases: Vec<(csv::StringRecord, &str)> = vec![
            (record_with(|r| r.truncate(10)), "10 fields, expected 22"),
            (
                record_with(|r| r[0] = "x".into()),
                "index `x` is not a number",
            ),
            (
                record_with(|r| r[2] = "1.5".into()),
                "`1.5` is not a value of `k`",
            ),
            (
                record_with(|r| r[1] = "".into()),
                "`` is not a value of `x`",
            ),
            (
                record_with(|r| r[tail(Tail::Status)] = "done".into()),
                "status `done` is not ok, failed, timeout or pruned",
            ),
            (
                record_with(|r| r[tail(Tail::Result)] = "abc".into()),
                "result `abc` is not a number",
            ),
            (
                record_with(|r| r[tail(Tail::Status)] = "ok".into()),
                "an ok row needs a finite result",
            ),
            (
                record_with(|r| {
                    r[tail(Tail::Status)] = "ok".into();
                    r[tail(Tail::Result)] = "inf".into();
                }),
                "an ok row needs a finite result",
            ),
            (
                record_with(|r| r[tail(Tail::Started)] = "yesterday".into()),
                "started `yesterday` is not an RFC 3339 time",
            ),
            (
                record_with(|r| r[tail(Tail::Ended)] = "".into()),
                "ended `` is not an RFC 3339 time",
            ),
        ];
        for (rec, says) in cases {
            match parse_row(&rec, &s, FULL) {
                Err(e) => assert!(e.contains(says), "expected `{says}` in `{e}`"),
                Ok(r) => panic!("accepted {r:?}"),
            }
        }
        // Optional cells may be empty; extra columns (a newer hpo's) are ignored.
        let rec = record_with(|r| {
            for t in [
                Tail::ExitCode,
                Tail::Rank,
                Tail::Worker,
                Tail::Attempts,
                Tail::Block,
            ] {
                r[tail(t)] = String::new();
            }
            r.push("extra".into());
        });
        let r = parse_row(&rec, &s, FULL).expect("reads");
        assert_eq!(
            (r.outcome.exit_code, r.rank, r.worker, r.attempts, r.block),
            (None, None, 0, 1, 0)
        );
    }

    #[test]
    fn reading_finds_torn_lines_duplicates_and_foreign_headers() {
        let s = space();
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("results.csv");
        let line = |r: &ResultRow| {
            let mut w = row_writer();
            let _ = w.write_record(r.record());
            String::from_utf8(w.into_inner().expect("csv")).expect("utf-8")
        };
        let head = header(&s).join(",") + "\n";
        std::fs::write(
            &path,
            format!("{head}{}{}{}", line(&row(0)), line(&row(2)), line(&row(0))),
        )
        .expect("write");
        let (rows, repair) = read_results(&path, &s).expect("reads");
        // The last row of a set counts, where it is.
        assert_eq!(rows.iter().map(|r| r.index).collect::<Vec<_>>(), [2, 0]);
        assert_eq!(repair.superseded, [0]);
        assert!(!repair.torn_line);
        // A torn last line is not an error: it is cut off on repair.
        std::fs::write(&path, format!("{head}{}3,0.5,1", line(&row(1)))).expect("write");
        let (rows, repair) = read_and_repair(&path, &s).expect("repairs");
        assert_eq!((rows.len(), repair.torn_line), (1, true));
        assert!(
            std::fs::read_to_string(&path)
                .expect("read")
                .ends_with('\n')
        );
        // Rows outside the table and foreign headers are errors naming the line.
        std::fs::write(&path, format!("{head}{}", line(&row(9)))).expect("write");
        let e = read_results(&path, &s).expect_err("set 9 is not in the table");
        assert!(
            e.to_string()
                .contains("line 2: set 9 is not in the parameter table"),
            "{e}"
        );
        std::fs::write(&path, "index,y\n").expect("write");
        let e = read_results(&path, &s).expect_err("foreign header");
        assert!(e.to_string().contains("line 1: the header is"), "{e}");
        assert_eq!(
            read_results(&dir.path().join("none.csv"), &s)
                .expect("no file")
                .0,
            []
        );
    }

    #[test]
    fn an_older_table_reads_with_empty_metrics_and_is_upgraded_on_repair() {
        let s = space();
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("results.csv");
        // What the first hpo wrote: the tail stops after `error`.
        let old_width = FULL - (TAIL_COLUMNS.len() - schema::FIRST_TAIL);
        let head = header(&s)[..old_width].join(",");
        let mut old_row = row(1).record();
        old_row.truncate(old_width);
        let mut w = row_writer();
        let _ = w.write_record(&old_row);
        let line = String::from_utf8(w.into_inner().expect("csv")).expect("utf-8");
        let text = format!("{head}\n{line}");
        std::fs::write(&path, &text).expect("write");
        // Readers (status, plot) take it as it is, and change nothing.
        let (rows, repair) = read_results(&path, &s).expect("reads");
        assert!(repair.old_header);
        assert_eq!(rows[0].outcome.metrics, "");
        assert_eq!(rows[0].outcome.error, row(1).outcome.error);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), text);
        // The run that holds the folder rewrites the header and pads the row.
        let (again, repair) = read_and_repair(&path, &s).expect("repairs");
        assert!(repair.old_header && repair.moved == 0);
        assert_eq!(again, rows);
        let upgraded = std::fs::read_to_string(&path).expect("read");
        let mut lines = upgraded.lines();
        assert_eq!(lines.next(), Some(header(&s).join(",").as_str()));
        // Padded with an empty cell for each column it lacks (`metrics`, `step`).
        assert_eq!(
            lines.next(),
            Some(format!("{},,", line.trim_end()).as_str())
        );
        assert!(!dir.path().join("results.csv.tmp").exists());
        let (_, repair) = read_results(&path, &s).expect("reads");
        assert!(!repair.old_header);
        // A header that is neither ours nor an older one is still refused.
        std::fs::write(
            &path,
            format!("{}\n", header(&s)[..old_width - 1].join(",")),
        )
        .expect("write");
        assert!(read_results(&path, &s).is_err());
    }

    /// The rows of set `index` with distinct times: `n` = 0, 1, ... are its attempts.
    fn attempt(index: usize, n: u64) -> ResultRow {
        let mut r = row(index);
        r.started += Duration::from_secs(10 * n);
        r.ended += Duration::from_secs(10 * n);
        if n > 0 {
            r.outcome = Outcome::ok(n as f64);
        }
        r
    }

    fn csv_of(rows: &[ResultRow]) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record(header(&space()));
        for r in rows {
            let _ = w.write_record(r.record());
        }
        String::from_utf8(w.into_inner().expect("csv")).expect("utf-8")
    }

    /// A retry interrupted at each step of the protocol recovers to one row per set, with the
    /// replaced row once in history.csv.
    #[test]
    fn a_retry_interrupted_at_any_step_recovers_to_one_row_per_set() {
        let s = space();
        let (old, new) = (attempt(1, 0), attempt(1, 1));
        let before = [attempt(0, 0), old.clone(), attempt(2, 0)];
        let after_step_1 = [
            before[0].clone(),
            old.clone(),
            before[2].clone(),
            new.clone(),
        ];
        let settled = [before[0].clone(), before[2].clone(), new.clone()];
        let history_with = |rows: &[ResultRow], torn: &str| format!("{}{torn}", csv_of(rows));
        // (results.csv, history.csv) as a kill -9 leaves them.
        let states: Vec<(String, Option<String>)> = vec![
            // Before step 1 (the new row not yet written, or torn).
            (csv_of(&before), None),
            (format!("{}1,0.25,-3", csv_of(&before)), None),
            // After step 1.
            (csv_of(&after_step_1), None),
            // During step 2: history's append torn, or done.
            (csv_of(&after_step_1), Some(history_with(&[], "1,0.25,-3,"))),
            (
                csv_of(&after_step_1),
                Some(history_with(std::slice::from_ref(&old), "")),
            ),
            // After step 3.
            (
                csv_of(&settled),
                Some(history_with(std::slice::from_ref(&old), "")),
            ),
        ];
        for (k, (results, history)) in states.into_iter().enumerate() {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("results.csv");
            let hist = dir.path().join(super::super::HISTORY_FILE);
            std::fs::write(&path, &results).expect("write");
            if let Some(h) = &history {
                std::fs::write(&hist, h).expect("write");
            }
            let (rows, _) = read_and_repair(&path, &s).expect("recovers");
            let (again, repair) = read_results(&path, &s).expect("reads");
            assert_eq!(rows, again, "state {k}: the file holds what was read");
            assert!(repair.superseded.is_empty(), "state {k}: one row per set");
            let by_set: Vec<usize> = again.iter().map(|r| r.index).collect();
            let mut sorted = by_set.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, [0, 1, 2], "state {k}");
            let set1 = again.iter().find(|r| r.index == 1).expect("set 1");
            let replaced = k >= 2;
            assert_eq!(set1 == &new, replaced, "state {k}");
            let history_rows = if hist.exists() {
                read_results(&hist, &s).expect("history reads").0
            } else {
                Vec::new()
            };
            let expected = if replaced { vec![old.clone()] } else { vec![] };
            assert_eq!(history_rows, expected, "state {k}: history");
            // Settling again changes nothing.
            assert_eq!(settle(&path).expect("settles"), 0);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn the_reader_never_panics(lines in prop::collection::vec("[-0-9a-z.,:\"TZ \\n]{0,80}", 0..12), raw in prop::collection::vec(any::<u8>(), 0..200)) {
            let s = space();
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("results.csv");
            let head = header(&s).join(",") + "\n";
            std::fs::write(&path, format!("{head}{}", lines.join("\n"))).expect("write");
            let _ = read_results(&path, &s);
            std::fs::write(&path, &raw).expect("write");
            let _ = read_results(&path, &s);
        }
    }
}

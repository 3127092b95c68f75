//! `curves.csv`: every intermediate value the evaluations reported (`index`, `attempt`,
//! `step`, `value`, `time`), appended by the master the moment it arrives through a
//! [`Journal`] (the same batching and fsync as `results.csv`), and read back on resume, where
//! the pruning rule replays it to rebuild its decisions.
//!
//! A crash can leave a torn last line: the run that resumes cuts it off (that report is lost,
//! like a result row that was not yet durable; its set had no row either and runs again under
//! a new attempt). A set that runs again reports under a new `attempt`; only the latest
//! attempt of a set counts, the older ones stay as they were written.

use super::journal::{JournalError, cut_torn_line};
use super::{CURVES_FILE, Journal};
use std::path::Path;
use std::time::SystemTime;

/// The header of `curves.csv`. Extend at the end; never rename.
pub const COLUMNS: [&str; 5] = ["index", "attempt", "step", "value", "time"];

/// One report.
#[derive(Clone, Debug, PartialEq)]
pub struct CurvePoint {
    pub index: usize,
    pub attempt: u32,
    pub step: u64,
    /// In the experiment's direction, as reported (possibly not finite).
    pub value: f64,
    pub time: SystemTime,
}

impl CurvePoint {
    pub fn record(&self) -> Vec<String> {
        vec![
            self.index.to_string(),
            self.attempt.to_string(),
            self.step.to_string(),
            self.value.to_string(),
            humantime::format_rfc3339_millis(self.time).to_string(),
        ]
    }
}

/// Opens `curves.csv` for appending (created with its header when missing).
pub fn open(dir: &Path) -> Result<Journal, JournalError> {
    let header: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
    Journal::open_table(dir.join(CURVES_FILE), &header)
}

/// Reads `curves.csv` (none when it does not exist) in file order. With `repair` (only the
/// run that holds the lock) a torn last line is cut off; without, it is skipped. A line that
/// cannot be understood is an error naming it.
pub fn read(dir: &Path, repair: bool) -> Result<Vec<CurvePoint>, JournalError> {
    let path = dir.join(CURVES_FILE);
    let io = |source| JournalError::Io {
        path: path.clone(),
        source,
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(e)),
    };
    let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
    if repair && whole < bytes.len() {
        cut_torn_line(&path).map_err(io)?;
    }
    let damaged = |line: usize, problem: String| JournalError::Damaged {
        path: path.clone(),
        line,
        problem,
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(&bytes[..whole]);
    if whole > 0 {
        let header = reader.headers().map_err(|e| damaged(1, e.to_string()))?;
        if header.len() < COLUMNS.len() || header.iter().zip(COLUMNS).any(|(a, b)| a != b) {
            let got: Vec<&str> = header.iter().collect();
            return Err(damaged(
                1,
                format!(
                    "the header is `{}`, expected `{}`",
                    got.join(","),
                    COLUMNS.join(",")
                ),
            ));
        }
    }
    let mut points = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| damaged(line, e.to_string()))?;
        points.push(parse(&rec).map_err(|p| damaged(line, p))?);
    }
    Ok(points)
}

fn parse(rec: &csv::StringRecord) -> Result<CurvePoint, String> {
    if rec.len() < COLUMNS.len() {
        return Err(format!("{} fields, expected {}", rec.len(), COLUMNS.len()));
    }
    fn field<T: std::str::FromStr>(rec: &csv::StringRecord, i: usize) -> Result<T, String> {
        rec[i]
            .parse()
            .map_err(|_| format!("{} `{}` is not a number", COLUMNS[i], &rec[i]))
    }
    Ok(CurvePoint {
        index: field(rec, 0)?,
        attempt: field(rec, 1)?,
        step: field(rec, 2)?,
        value: field(rec, 3)?,
        time: humantime::parse_rfc3339(&rec[4])
            .map_err(|_| format!("time `{}` is not an RFC 3339 time", &rec[4]))?,
    })
}

/// The latest attempt of each set in `points`.
pub fn latest_attempts(points: &[CurvePoint]) -> std::collections::HashMap<usize, u32> {
    let mut latest = std::collections::HashMap::new();
    for p in points {
        let a = latest.entry(p.index).or_insert(p.attempt);
        *a = (*a).max(p.attempt);
    }
    latest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(index: usize, attempt: u32, step: u64, value: f64) -> CurvePoint {
        CurvePoint {
            index,
            attempt,
            step,
            value,
            time: humantime::parse_rfc3339("2026-01-02T03:04:05.678Z").expect("time"),
        }
    }

    #[test]
    fn reports_read_back_as_written_and_a_torn_line_is_cut() {
        let dir = tempfile::tempdir().expect("dir");
        let points = [
            point(0, 1, 1, 0.5),
            point(0, 1, 2, f64::NAN),
            point(3, 2, 1, -1.25),
        ];
        let mut journal = open(dir.path()).expect("open");
        for p in &points {
            journal.append_record(&p.record());
        }
        journal.close().expect("close");
        let read_back = read(dir.path(), false).expect("read");
        assert_eq!(read_back.len(), 3);
        assert_eq!(read_back[0], points[0]);
        assert!(read_back[1].value.is_nan());
        assert_eq!(read_back[2], points[2]);
        assert_eq!(latest_attempts(&read_back)[&3], 2);

        // A crash mid-line: readers skip it, the repair cuts it, appending goes on after it.
        let path = dir.path().join(CURVES_FILE);
        let mut bytes = std::fs::read(&path).expect("bytes");
        bytes.extend_from_slice(b"5,1,7,0.");
        std::fs::write(&path, &bytes).expect("write");
        assert_eq!(read(dir.path(), false).expect("read").len(), 3);
        assert_eq!(read(dir.path(), true).expect("repair").len(), 3);
        let mut journal = open(dir.path()).expect("reopen");
        journal.append_record(&point(5, 1, 7, 0.25).record());
        journal.close().expect("close");
        let read_back = read(dir.path(), false).expect("read");
        assert_eq!(read_back.len(), 4);
        assert_eq!(read_back[3], point(5, 1, 7, 0.25));

        std::fs::write(&path, "index,attempt,step,value,time\n1,x,2,0.5,now\n").expect("write");
        let err = read(dir.path(), false).expect_err("damaged").to_string();
        assert!(
            err.contains("line 2") && err.contains("attempt `x`"),
            "{err}"
        );
    }
}

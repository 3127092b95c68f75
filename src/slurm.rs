//! Running inside a Slurm job: the job's end becomes the run's deadline.
//!
//! When `hpo run` is given no `--walltime` and `SLURM_JOB_ID` is set, the master asks Slurm
//! when the job ends (`squeue -h -j ID -o "%e|%L"`, else `scontrol show job ID`) and uses that
//! end, less [`END_RESERVE`], as its deadline: no set starts that cannot finish before it (see
//! `master::check_stop`), and running evaluations are cut off at it, so every result is
//! written and the master exits before Slurm's own SIGTERM. An explicit `--walltime` wins.
//!
//! The end is read once, when the run starts; a time limit changed later (`scontrol update`)
//! is seen by the next run. Any failure to read it (no `squeue`, an unlimited job, an
//! unparsable answer) leaves the run without a deadline and says so.

use crate::messages::note;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The variable Slurm sets in every job (batch script, steps, every task).
pub const JOB_ID_VAR: &str = "SLURM_JOB_ID";

/// How long before the job's end running evaluations are cut off: time for the cut-off
/// (SIGTERM, the kill grace, SIGKILL), the last rows to be written and every process to exit
/// before Slurm sends its SIGTERM at the time limit.
pub const END_RESERVE: Duration = Duration::from_secs(10);

/// The Slurm job this process runs in, if any.
pub fn job_id() -> Option<String> {
    std::env::var(JOB_ID_VAR)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

/// The run's deadline: `now + walltime` when given, else the end of the Slurm job this process
/// runs in less [`END_RESERVE`], else none. Says on stderr where a Slurm deadline came from.
pub fn deadline(walltime: Option<Duration>) -> Option<SystemTime> {
    let now = SystemTime::now();
    if let Some(w) = walltime {
        return Some(now + w);
    }
    let id = job_id()?;
    match job_end(&id) {
        Some(end) => {
            let left = end.duration_since(now).unwrap_or_default();
            note!(
                "Slurm job {id} ends in {}; no set starts that cannot finish by then, running ones are cut off {} s before",
                humantime::format_duration(Duration::from_secs(left.as_secs())),
                END_RESERVE.as_secs()
            );
            Some(end.checked_sub(END_RESERVE).unwrap_or(end))
        }
        None => {
            note!(
                "Slurm job {id}: its end time could not be read (squeue/scontrol); running without a deadline (use --walltime)"
            );
            None
        }
    }
}

/// When job `id` ends, asking `squeue`, then `scontrol`. `None` for an unlimited or unknown end.
pub fn job_end(id: &str) -> Option<SystemTime> {
    let run = |program: &str, args: &[&str]| -> Option<String> {
        let out = Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let now = SystemTime::now();
    if let Some(text) = run("squeue", &["-h", "-j", id, "-o", "%e|%L"])
        && let Some(end) = parse_squeue(&text, now)
    {
        return Some(end);
    }
    let text = run("scontrol", &["show", "job", id])?;
    parse_scontrol_end(&text).and_then(parse_local_time)
}

/// `squeue -o "%e|%L"`: the end time (local time), or else the time left.
pub fn parse_squeue(text: &str, now: SystemTime) -> Option<SystemTime> {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let (end, left) = line.split_once('|').unwrap_or((line, ""));
    parse_local_time(end).or_else(|| parse_time_left(left).map(|d| now + d))
}

/// The `EndTime=` field of `scontrol show job`.
pub fn parse_scontrol_end(text: &str) -> Option<&str> {
    text.split_whitespace()
        .find_map(|field| field.strip_prefix("EndTime="))
}

/// Slurm's time left (`%L`): `[days-]hours:minutes:seconds`, `minutes:seconds`, or a word
/// (`UNLIMITED`, `NOT_SET`, `INVALID`) for which there is no end.
pub fn parse_time_left(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (days, clock) = match text.split_once('-') {
        Some((d, rest)) => (d.parse::<u64>().ok()?, rest),
        None => (0, text),
    };
    let parts: Vec<u64> = clock
        .split(':')
        .map(|p| p.parse::<u64>().ok())
        .collect::<Option<_>>()?;
    let (h, m, s) = match parts[..] {
        [h, m, s] => (h, m, s),
        [m, s] => (0, m, s),
        [s] if days == 0 => (0, 0, s),
        _ => return None,
    };
    Some(Duration::from_secs(((days * 24 + h) * 60 + m) * 60 + s))
}

/// A Slurm time stamp, `YYYY-MM-DDTHH:MM:SS` in this machine's local time zone (how `squeue`
/// and `scontrol` print them). `Unknown`, `N/A` or `None` give `None`.
pub fn parse_local_time(text: &str) -> Option<SystemTime> {
    let text = text.trim();
    let (date, time) = text.split_once('T')?;
    let num = |s: &str| s.parse::<i32>().ok();
    let d: Vec<i32> = date.split('-').map(num).collect::<Option<_>>()?;
    let t: Vec<i32> = time.split(':').map(num).collect::<Option<_>>()?;
    let (&[year, month, day], &[hour, minute, second]) = (d.as_slice(), t.as_slice()) else {
        return None;
    };
    let valid = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && (0..24).contains(&hour)
        && (0..60).contains(&minute)
        && (0..=60).contains(&second);
    if !valid {
        return None;
    }
    // SAFETY: `tm` is plain data; zeroed is a valid value, and mktime only reads and
    // normalises the struct we own.
    let epoch = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        tm.tm_year = year - 1900;
        tm.tm_mon = month - 1;
        tm.tm_mday = day;
        tm.tm_hour = hour;
        tm.tm_min = minute;
        tm.tm_sec = second;
        tm.tm_isdst = -1;
        libc::mktime(&mut tm)
    };
    u64::try_from(epoch)
        .ok()
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left() {
        let s = Duration::from_secs;
        assert_eq!(parse_time_left("1-02:03:04"), Some(s(93784)));
        assert_eq!(parse_time_left("02:03:04"), Some(s(7384)));
        assert_eq!(parse_time_left("3:04"), Some(s(184)));
        assert_eq!(parse_time_left("59"), Some(s(59)));
        assert_eq!(parse_time_left("UNLIMITED"), None);
        assert_eq!(parse_time_left("NOT_SET"), None);
        assert_eq!(parse_time_left(""), None);
        assert_eq!(parse_time_left("1-2"), None);
    }

    #[test]
    fn local_time_round_trips_through_the_local_zone() {
        let t = parse_local_time("2030-06-15T12:30:45").expect("a valid time");
        // Whatever the zone, the result is within a day of the same clock time in UTC.
        let utc = humantime::parse_rfc3339("2030-06-15T12:30:45Z").expect("rfc3339");
        let diff = match t.duration_since(utc) {
            Ok(d) => d,
            Err(e) => e.duration(),
        };
        assert!(diff <= Duration::from_secs(26 * 3600), "{diff:?}");
        assert_eq!(parse_local_time("Unknown"), None);
        assert_eq!(parse_local_time("N/A"), None);
        assert_eq!(parse_local_time("2030-13-01T00:00:00"), None);
        assert_eq!(parse_local_time("2030-01-01T00:00"), None);
    }

    #[test]
    fn squeue_and_scontrol_answers() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(
            parse_squeue("N/A|1:40\n", now),
            Some(now + Duration::from_secs(100))
        );
        assert_eq!(parse_squeue("Unknown|UNLIMITED\n", now), None);
        assert_eq!(parse_squeue("", now), None);
        assert_eq!(
            parse_squeue("2030-06-15T12:30:45|5:00", now),
            parse_local_time("2030-06-15T12:30:45")
        );
        let show = "JobId=7 JobName=hpo\n   RunTime=00:00:05 TimeLimit=00:02:00 TimeMin=N/A\n   SubmitTime=2030-06-15T12:28:40 EligibleTime=2030-06-15T12:28:40\n   StartTime=2030-06-15T12:28:45 EndTime=2030-06-15T12:30:45 Deadline=N/A\n";
        assert_eq!(parse_scontrol_end(show), Some("2030-06-15T12:30:45"));
        assert_eq!(parse_scontrol_end("JobId=7"), None);
    }

    #[test]
    fn explicit_walltime_wins() {
        let before = SystemTime::now();
        let d = deadline(Some(Duration::from_secs(60))).expect("a deadline");
        assert!(d >= before + Duration::from_secs(60));
        assert!(d <= SystemTime::now() + Duration::from_secs(60));
    }
}

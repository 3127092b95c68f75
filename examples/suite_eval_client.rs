//! The command objective of hpo's side of the benchmark suite's `bbob` and `ml` sections: sends
//! one evaluation to the suite's evaluation server (`benches/suite/peers/evalserver.py`) over a
//! Unix socket and prints the value it answers, so an evaluation costs a process start of this
//! small binary and a socket round trip, not a Python start and a scikit-learn import.
//!
//! ```text
//! suite_eval_client SOCKET SPEC name=value ...    e.g.  suite_eval_client /tmp/s bbob/f1/d2/i1 x0=0.5 x1=-1
//! ```
//!
//! Exit 0 with the value on stdout; exit 1 with the reason on stderr (server down, or its
//! "error: ..." answer), which hpo records as a failed row.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;

fn ask(socket: &str, request: &str) -> Result<String, String> {
    let mut stream =
        UnixStream::connect(socket).map_err(|e| format!("cannot connect to {socket}: {e}"))?;
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("cannot send to {socket}: {e}"))?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| format!("no answer from {socket}: {e}"))?;
    let answer = answer.trim();
    match answer.strip_prefix("error: ") {
        Some(reason) => Err(format!("the server refused: {reason}")),
        None if answer.is_empty() => Err(format!("{socket} closed without an answer")),
        None => Ok(answer.to_string()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [socket, fields @ ..] = args.as_slice() else {
        eprintln!("usage: suite_eval_client SOCKET SPEC name=value ...");
        return ExitCode::from(2);
    };
    if fields.is_empty() || fields.iter().any(|f| f.contains(['\t', '\n'])) {
        eprintln!("usage: suite_eval_client SOCKET SPEC name=value ... (no tabs or newlines)");
        return ExitCode::from(2);
    }
    match ask(socket, &(fields.join("\t") + "\n")) {
        Ok(value) => {
            println!("{value}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("suite_eval_client: {e}");
            ExitCode::FAILURE
        }
    }
}

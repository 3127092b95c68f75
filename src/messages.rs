//! Everything hpo tells its user on stderr besides a command's own output: notes, warnings and
//! errors, one line each, starting with `hpo:`. One place, so every layer speaks the same way
//! (ripgrep's `messages.rs`); the texts stay beside the code that knows what happened.
//!
//! A leaf: it imports nothing from the rest of the crate, so any module may speak through it.

use std::fmt;

/// `hpo: ...`: something the user should know (a stop in progress, a repaired file).
macro_rules! note {
    ($($arg:tt)*) => { $crate::messages::emit("", format_args!($($arg)*)) };
}

/// `hpo: warning: ...`: something that will probably go wrong unless the user acts.
macro_rules! warning {
    ($($arg:tt)*) => { $crate::messages::emit("warning: ", format_args!($($arg)*)) };
}

/// `hpo: error: ...`: why this process stops (without the causes; see [`error_chain`]).
macro_rules! error {
    ($($arg:tt)*) => { $crate::messages::emit("error: ", format_args!($($arg)*)) };
}

pub(crate) use {error, note, warning};

/// Writes one message line (`kind` is empty, `"warning: "` or `"error: "`).
pub fn emit(kind: &str, args: fmt::Arguments) {
    eprintln!("hpo: {kind}{args}");
}

/// `hpo: error: ...` and one `caused by:` line per cause.
pub fn error_chain(err: &anyhow::Error) {
    emit("error: ", format_args!("{err}"));
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}

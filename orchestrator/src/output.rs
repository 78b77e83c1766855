//! The output layer: every user command builds a typed, serializable result
//! and [`print`]s it once — as human text, or with the global `--json` as
//! one pretty JSON document on stdout (with `status --watch`, one compact
//! JSON line per refresh). Logs and warnings go to stderr either way, so
//! stdout stays parseable. Errors with `--json` are also printed to stdout
//! as `{"error": "..."}` (exit code 1 as always).

use serde::Serialize;

/// A result's human rendering (ends with a newline when non-empty).
pub trait Human {
    fn human(&self) -> String;
}

/// Prints `r` as JSON (`json`) or as text.
pub fn print<T: Serialize + Human>(json: bool, r: &T) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
    } else {
        print!("{}", r.human());
    }
    Ok(())
}

/// Prints `r` as one compact JSON line (`json`) or as text: for repeated
/// reports such as `status --watch`.
pub fn print_line<T: Serialize + Human>(json: bool, r: &T) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(r)?);
    } else {
        print!("{}", r.human());
    }
    Ok(())
}

/// An error as the JSON document `--json` callers parse.
pub fn error_json(e: &anyhow::Error) -> String {
    serde_json::json!({ "error": format!("{e:#}") }).to_string()
}

/// Restores the default SIGPIPE action, so `genoprot plan … | head -1` ends
/// quietly when the reader closes the pipe (Rust ignores SIGPIPE, which turns
/// the next write into a panic).
pub fn default_sigpipe() {
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

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

/// Writes `text` to stdout and flushes it: a closed, full or failing stdout
/// is an error (`writing to standard output: ...`) the command ends with
/// (exit 1), never a panic.
pub fn stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| anyhow::anyhow!("writing to standard output: {e}"))
}

/// Writes a line to stderr, ignoring failure: there is nowhere left to
/// report that stderr itself cannot be written (`eprintln!` would panic).
pub fn stderr_line(text: &str) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}").and_then(|_| err.flush());
}

/// Prints `r` as JSON (`json`) or as text.
pub fn print<T: Serialize + Human>(json: bool, r: &T) -> anyhow::Result<()> {
    if json {
        stdout(&format!("{}\n", serde_json::to_string_pretty(r)?))
    } else {
        stdout(&r.human())
    }
}

/// Prints `r` as one compact JSON line (`json`) or as text: for repeated
/// reports such as `status --watch`.
pub fn print_line<T: Serialize + Human>(json: bool, r: &T) -> anyhow::Result<()> {
    if json {
        stdout(&format!("{}\n", serde_json::to_string(r)?))
    } else {
        stdout(&r.human())
    }
}

/// A plain aligned table (comfy-table, no borders): the header, then one
/// line per row; the columns in `right` (numbers) right-aligned. Lines have
/// no leading or trailing blanks, so `split_whitespace` reads them.
pub fn table(header: &[&str], rows: &[Vec<String>], right: &[usize]) -> String {
    use comfy_table::{CellAlignment, Table, presets::NOTHING};
    let mut t = Table::new();
    t.load_style(NOTHING).set_header(header.to_vec());
    for r in rows {
        t.add_row(r.clone());
    }
    for (i, c) in t.column_iter_mut().enumerate() {
        c.set_padding((0, 2));
        if right.contains(&i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    let mut out = String::new();
    for l in t.to_string().lines() {
        out.push_str(l.trim_end());
        out.push('\n');
    }
    out
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

#[cfg(test)]
mod tests {
    #[test]
    fn tables_align_and_read_back_by_whitespace() {
        let t = super::table(
            &["stage", "total", "done"],
            &[
                vec!["embed".into(), "2".into(), "2".into()],
                vec!["probe".into(), "120".into(), "7".into()],
            ],
            &[1, 2],
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3, "{t}");
        assert!(lines[2].starts_with("probe"), "{t}");
        assert_eq!(
            lines[1].split_whitespace().collect::<Vec<_>>(),
            ["embed", "2", "2"]
        );
        // Right-aligned numbers end in the same column.
        assert_eq!(lines[1].len(), lines[2].len(), "{t}");
    }
}

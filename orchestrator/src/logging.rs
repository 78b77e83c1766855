//! Logging with `tracing`: `RUST_LOG` wins; otherwise `-v`/`-q` pick the level.
//! Log lines go to stderr and, once [`log_to`] names a file (a sweep's
//! `store/logs/run-<time>.log`), to that file too.

use std::io::Write;
use std::sync::Mutex;
use tracing_subscriber::EnvFilter;

static FILE: Mutex<Option<std::fs::File>> = Mutex::new(None);

/// stderr, plus the run's log file when one is set.
struct Tee;

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut f) = FILE.lock()
            && let Some(f) = f.as_mut()
        {
            // A full disk must not stop the run over its log.
            let _ = f.write_all(buf);
        }
        // A stderr that cannot be written (closed, or /dev/full) loses the
        // line; it must not end the command.
        let _ = crate::progress::write_above(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

/// `verbose` counts `-v`; `quiet` lowers to errors only.
pub fn init(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| Tee)
        // Plain text: the same lines land in the log file.
        .with_ansi(false)
        .with_target(false)
        .try_init();
}

/// Also writes log lines to `path` (appended; its folder is created).
pub fn log_to(path: &std::path::Path) -> anyhow::Result<()> {
    if let Some(d) = path.parent() {
        crate::store_dir(d)?;
    }
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    *FILE.lock().unwrap_or_else(|e| e.into_inner()) = Some(f);
    Ok(())
}

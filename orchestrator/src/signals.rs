//! SIGINT and SIGTERM for long commands (`run`, the workers).
//!
//! * First SIGINT (Ctrl-C): running external programs are killed, running
//!   cells finish, nothing new starts; the command then exits 130.
//!   A second SIGINT exits 130 at once.
//! * SIGTERM (Slurm's time limit, `scancel`, `kill`): running external
//!   programs are killed with everything they started, one line is printed,
//!   and the process exits 143. Files being written are temp files, removed
//!   by the next run; nothing under a final name is half-written.

use signal_hook::consts::{SIGINT, SIGTERM};
use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);
static TERM: AtomicBool = AtomicBool::new(false);

/// Starts, once per process, the thread that waits for SIGINT and SIGTERM
/// and hands each to `on_signal`.
fn listen(on_signal: fn(i32)) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let mut signals = match signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("cannot install signal handlers: {e}");
                return;
            }
        };
        let spawned = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || signals.forever().for_each(on_signal));
        if let Err(e) = spawned {
            tracing::warn!("cannot start the signal thread: {e}");
        }
    });
}

/// Installs the handlers of long commands (`run`, the workers).
pub fn install() {
    listen(stop_or_quit);
}

fn stop_or_quit(sig: i32) {
    if sig == SIGTERM {
        TERM.store(true, Ordering::SeqCst);
    }
    workers::child::request_stop();
    if sig == SIGTERM {
        STOP.store(true, Ordering::SeqCst);
        workers::child::kill_all();
        crate::output::stderr_line("terminated; run again to continue");
        std::process::exit(143);
    }
    if STOP.swap(true, Ordering::SeqCst) {
        workers::child::kill_all();
        crate::output::stderr_line("\nstopping now; run again to continue");
        std::process::exit(130);
    }
    workers::child::kill_all();
    crate::output::stderr_line(
        "\nCtrl-C: finishing running cells, starting no new ones (Ctrl-C again to quit now)",
    );
}

/// For commands with nothing to finish (`aggregate`, `report`): SIGINT
/// exits 130 and SIGTERM exits 143 at once, with one line, as `run` does;
/// what they were writing is a temp file, removed by the next run.
pub fn install_quit() {
    listen(quit);
}

fn quit(sig: i32) {
    let (line, code) = if sig == SIGTERM {
        ("terminated; run again to continue", 143)
    } else {
        ("\ninterrupted; run again to continue", 130)
    };
    crate::output::stderr_line(line);
    std::process::exit(code);
}

/// Whether a stop was asked for (Ctrl-C or SIGTERM).
pub fn stopped() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Ends a command that stopped because of a signal: after Ctrl-C prints
/// `msg` and exits 130; after SIGTERM waits for the signal thread, which
/// prints its one line and exits 143.
pub fn exit_stopped(msg: &str) -> ! {
    if TERM.load(Ordering::SeqCst) {
        loop {
            std::thread::park();
        }
    }
    crate::output::stderr_line(msg);
    std::process::exit(130)
}

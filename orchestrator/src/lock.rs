//! One writer per store: `run` and `submit` hold `store/genoprot.lock` (the
//! holder's pid, host, command and start time, as JSON) while they work.
//! A second writer refuses, naming the holder; a lock whose process is gone
//! (same host, no such pid) is taken over. The file is created atomically
//! (`create_new`) and removed only by its holder. `status` shows a live
//! local holder and `cancel` stops it (SIGINT: running cells finish, the run
//! exits 130 and can be continued).

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Who holds a store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    pub command: String,
    /// Seconds since the Unix epoch.
    pub since: u64,
}

impl Holder {
    fn me(command: &str) -> Holder {
        Holder {
            pid: std::process::id(),
            host: hostname(),
            command: command.into(),
            since: crate::journal::now() as u64,
        }
    }

    /// Whether the holder still runs (known only on its own host; a holder
    /// on another host is taken as alive).
    pub fn alive(&self) -> bool {
        if self.host != hostname() {
            return true;
        }
        // A zombie (exited, not yet reaped by its parent) is gone.
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))
            && let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r.trim_start())
        {
            return !rest.starts_with('Z') && !rest.starts_with('X');
        }
        // kill(pid, 0): 0 = exists; ESRCH = gone; EPERM = exists (another user).
        let r = unsafe { libc::kill(self.pid as i32, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }

    pub fn describe(&self) -> String {
        let ago = (crate::journal::now() as u64).saturating_sub(self.since);
        let age = if ago < 120 {
            format!("{ago} s")
        } else if ago < 7200 {
            format!("{} min", ago / 60)
        } else {
            format!("{} h", ago / 3600)
        };
        format!(
            "genoprot {} (pid {} on {}, started {age} ago)",
            self.command, self.pid, self.host
        )
    }
}

/// This machine's name (`localhost` when unknown).
pub fn hostname() -> String {
    Some(workers::device::hostname())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

pub fn path(store: &Path) -> PathBuf {
    crate::layout::StoreLayout::new(store).lock()
}

/// The current holder of `store`, if any (a lock file that cannot be read
/// is reported as held by an unknown process).
pub fn holder(store: &Path) -> Option<Holder> {
    let text = std::fs::read_to_string(path(store)).ok()?;
    Some(serde_json::from_str(&text).unwrap_or(Holder {
        pid: 0,
        host: "?".into(),
        command: "(unreadable lock file)".into(),
        since: 0,
    }))
}

/// A held lock; dropping it removes the file if it is still this process's.
#[derive(Debug)]
pub struct StoreLock {
    path: PathBuf,
    me: Holder,
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        if holder_at(&self.path).as_ref() == Some(&self.me) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn holder_at(p: &Path) -> Option<Holder> {
    serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()
}

/// Takes the lock of `store` for `command`, or says who holds it.
pub fn acquire(store: &Path, command: &str, config: &Path) -> anyhow::Result<StoreLock> {
    crate::store_dir(store)?;
    let p = path(store);
    let me = Holder::me(command);
    let text = serde_json::to_string(&me)?;
    for _ in 0..3 {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&p)
        {
            Ok(mut f) => {
                use std::io::Write;
                f.write_all(text.as_bytes())
                    .and_then(|_| f.sync_all())
                    .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
                return Ok(StoreLock { path: p, me });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let Some(h) = holder_at(&p) else {
                    // Being written this instant, or damaged: look again.
                    std::thread::sleep(std::time::Duration::from_millis(200));
                    if holder_at(&p).is_none() && p.exists() {
                        anyhow::bail!(
                            "{}: the store's lock file is unreadable; if no genoprot runs on this \
                             store, delete that file and retry",
                            p.display()
                        );
                    }
                    continue;
                };
                if h.alive() {
                    anyhow::bail!(
                        "{} is in use by {}: one writer per store (hint: wait for it, follow it \
                         with `genoprot status {}`, or stop it with `genoprot cancel {}`)",
                        store.display(),
                        h.describe(),
                        config.display(),
                        config.display()
                    );
                }
                tracing::warn!(
                    "taking over the lock of {} from {} (no such process any more)",
                    store.display(),
                    h.describe()
                );
                // Only the stale file is removed: if another process took it
                // over first, its file differs and create_new fails again.
                if holder_at(&p).as_ref() == Some(&h) {
                    let _ = std::fs::remove_file(&p);
                }
            }
            Err(e) => anyhow::bail!("{}: {e}", p.display()),
        }
    }
    anyhow::bail!("{}: could not take the store's lock", p.display())
}

/// Asks a live local holder of `store` to stop (SIGINT, as Ctrl-C) and
/// waits up to `wait` for it to release the store.
pub fn stop_local(store: &Path, wait: std::time::Duration) -> anyhow::Result<Option<Holder>> {
    let Some(h) = holder(store) else {
        return Ok(None);
    };
    if h.pid == 0 || !h.alive() {
        return Ok(None);
    }
    if h.host != hostname() {
        anyhow::bail!(
            "{} is held by {}: run `genoprot cancel` on {}",
            store.display(),
            h.describe(),
            h.host
        );
    }
    unsafe {
        libc::kill(h.pid as i32, libc::SIGINT);
    }
    let t0 = std::time::Instant::now();
    while t0.elapsed() < wait {
        if holder(store).as_ref() != Some(&h) || !h.alive() {
            return Ok(Some(h));
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    anyhow::bail!(
        "asked {} to stop (SIGINT); it is still finishing its running cells — `genoprot status` shows when it is gone",
        h.describe()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_and_a_dead_holders_lock_is_taken_over() {
        let d = tempfile::tempdir().unwrap();
        let cfg = Path::new("c.yaml");
        let l1 = acquire(d.path(), "run", cfg).unwrap();
        let e = acquire(d.path(), "run", cfg).unwrap_err().to_string();
        assert!(
            e.contains("is in use by genoprot run (pid") && e.contains("genoprot cancel c.yaml"),
            "{e}"
        );
        drop(l1);
        assert!(holder(d.path()).is_none(), "released on drop");
        // A lock left by a process that is gone (pid beyond pid_max).
        let dead = Holder {
            pid: 4_000_000_000,
            host: hostname(),
            command: "run".into(),
            since: 1,
        };
        std::fs::write(path(d.path()), serde_json::to_string(&dead).unwrap()).unwrap();
        assert!(!dead.alive());
        let l2 = acquire(d.path(), "submit", cfg).unwrap();
        assert_eq!(holder(d.path()).unwrap().command, "submit");
        drop(l2);
        // A holder on another host is never taken over from here.
        let remote = Holder {
            host: "elsewhere".into(),
            ..dead
        };
        std::fs::write(path(d.path()), serde_json::to_string(&remote).unwrap()).unwrap();
        let e = acquire(d.path(), "run", cfg).unwrap_err().to_string();
        assert!(e.contains("on elsewhere"), "{e}");
    }
}

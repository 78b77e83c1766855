//! One writer per store: `run` and `submit` hold `store/genoprot.lock` (the
//! holder's pid, host, command and start time, and the process's own start
//! time and boot, as JSON) while they work. A second writer refuses, naming
//! the holder. The file is created atomically (`create_new`) and removed
//! only by its holder. `status` shows a live local holder and `cancel` stops
//! it (SIGINT: running cells finish, the run exits 130 and can be continued).
//!
//! A lock is as writable as the store, so its pid is never trusted: a lock
//! on this host is live only when its pid is a valid one (1..=i32::MAX), that
//! process exists and is not a zombie, it started when the lock says (its
//! start time in /proc, in the same boot) and it is a genoprot. Anything else
//! — a dead, reused, forged or out-of-range pid, a lock from an older
//! genoprot without a start time — is stale: reported, and taken over by the
//! next writer; `cancel` signals only a proven holder, never pid 0, -1 or a
//! process group.

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
    /// The process's start time (clock ticks after boot, /proc/<pid>/stat
    /// field 22): a pid reused by another process starts at another time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ticks: Option<u64>,
    /// The boot it started in (/proc/sys/kernel/random/boot_id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
}

/// What /proc says of a pid: its start time (ticks after boot) and whether
/// it is a zombie; `None` when there is no such process.
fn proc_stat(pid: u32) -> Option<(u64, bool)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`: comm may hold spaces and parentheses.
    let rest = stat.rsplit_once(')')?.1.trim_start();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let zombie = fields
        .first()
        .is_some_and(|s| s.starts_with('Z') || s.starts_with('X'));
    // Field 22 of the whole line is the 20th after `state` (field 3).
    let start = fields.get(19)?.parse().ok()?;
    Some((start, zombie))
}

/// This boot's id.
fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Whether a process runs a genoprot binary (its executable's file name, or
/// when that cannot be read, its command name).
fn is_genoprot(pid: u32) -> bool {
    let name = std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .or_else(|| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .ok()
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_default();
    name.starts_with("genoprot")
}

/// A pid `kill` treats as one process: 1..=i32::MAX (0, negative values and
/// anything that wraps to them address groups or every process).
fn valid_pid(pid: u32) -> Option<i32> {
    i32::try_from(pid).ok().filter(|p| *p > 0)
}

impl Holder {
    fn me(command: &str) -> Holder {
        let pid = std::process::id();
        Holder {
            pid,
            host: hostname(),
            command: command.into(),
            since: crate::journal::now() as u64,
            start_ticks: proc_stat(pid).map(|(t, _)| t),
            boot_id: boot_id(),
        }
    }

    /// Whether the holder still runs. On its own host that is proven: a
    /// valid pid, a live (not zombie) process that started when the lock
    /// says, in this boot, running genoprot. A holder on another host cannot
    /// be checked from here and is taken as alive.
    pub fn alive(&self) -> bool {
        if self.host != hostname() {
            return true;
        }
        self.proven_local()
    }

    /// The proof of [`Holder::alive`] on this host.
    fn proven_local(&self) -> bool {
        if valid_pid(self.pid).is_none() {
            return false;
        }
        let (Some(want), Some((start, zombie))) = (self.start_ticks, proc_stat(self.pid)) else {
            return false;
        };
        let same_boot = match (&self.boot_id, boot_id()) {
            (Some(a), Some(b)) => *a == b,
            _ => true,
        };
        !zombie && start == want && same_boot && is_genoprot(self.pid)
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
        start_ticks: None,
        boot_id: None,
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
                    "taking over the lock of {} from {}: no such genoprot process runs (the pid is gone, \
                     reused by another process, or not a valid one)",
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
    if h.host != hostname() {
        if valid_pid(h.pid).is_none() {
            return Ok(None);
        }
        anyhow::bail!(
            "{} is held by {}: run `genoprot cancel` on {}",
            store.display(),
            h.describe(),
            h.host
        );
    }
    // Only a holder proven to be a live genoprot is signalled, as one
    // process (a valid positive pid): never 0, -1 or a process group.
    let pid = match valid_pid(h.pid) {
        Some(pid) if h.proven_local() => pid,
        _ => {
            if h.pid != 0 {
                tracing::warn!(
                    "{}: the lock names {}, which is not a running genoprot (stale or forged lock): nothing to stop",
                    path(store).display(),
                    h.describe()
                );
            }
            return Ok(None);
        }
    };
    // SAFETY: kill(2) with a positive pid and a valid signal number.
    unsafe {
        libc::kill(pid, libc::SIGINT);
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
            start_ticks: None,
            boot_id: None,
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

    /// A lock naming `pid` (with `start_ticks`) on this host, written in place.
    fn forge(store: &Path, pid: u32, start_ticks: Option<u64>) -> Holder {
        let h = Holder {
            pid,
            host: hostname(),
            command: "run".into(),
            since: 1,
            start_ticks,
            boot_id: boot_id(),
        };
        std::fs::write(path(store), serde_json::to_string(&h).unwrap()).unwrap();
        h
    }

    #[test]
    fn forged_reused_and_out_of_range_pids_are_never_signalled_and_are_taken_over() {
        let d = tempfile::tempdir().unwrap();
        let cfg = Path::new("c.yaml");
        // An unrelated live process the forged locks point at.
        let mut bystander = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = bystander.id();
        let real_start = proc_stat(pid).unwrap().0;
        let me = std::process::id();
        let my_start = proc_stat(me).unwrap().0;
        for (what, pid, start) in [
            ("pid 0 (the caller's process group)", 0, Some(0)),
            (
                "pid 2^31 (a negative i32: a process group)",
                1 << 31,
                Some(0),
            ),
            ("pid u32::MAX (kill(-1): every process)", u32::MAX, Some(0)),
            ("a live unrelated pid, no start time", pid, None),
            (
                "a live unrelated pid with its own start time",
                pid,
                Some(real_start),
            ),
            (
                "this genoprot, another start time (a reused pid)",
                me,
                Some(my_start + 1),
            ),
        ] {
            let h = forge(d.path(), pid, start);
            assert!(!h.alive(), "{what}: not a live holder");
            assert!(
                stop_local(d.path(), std::time::Duration::from_millis(10))
                    .unwrap()
                    .is_none(),
                "{what}: nothing stopped"
            );
            assert!(
                bystander.try_wait().unwrap().is_none(),
                "{what}: the bystander got no signal"
            );
            let l = acquire(d.path(), "run", cfg).unwrap();
            assert_eq!(holder(d.path()).unwrap().pid, me, "{what}: taken over");
            drop(l);
        }
        // A pid that JSON cannot hold as one (-1) makes the file unreadable:
        // refused with a hint, and nothing is signalled.
        std::fs::write(
            path(d.path()),
            r#"{"pid": -1, "host": "h", "command": "run", "since": 1}"#,
        )
        .unwrap();
        assert!(
            stop_local(d.path(), std::time::Duration::from_millis(10))
                .unwrap()
                .is_none()
        );
        assert!(bystander.try_wait().unwrap().is_none());
        std::fs::remove_file(path(d.path())).unwrap();
        // This process, with its own start time, is a proven live holder.
        let l = acquire(d.path(), "run", cfg).unwrap();
        assert!(holder(d.path()).unwrap().alive());
        assert!(acquire(d.path(), "run", cfg).is_err());
        drop(l);
        bystander.kill().unwrap();
        let _ = bystander.wait();
    }
}

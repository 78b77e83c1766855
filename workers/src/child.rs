//! External programs (the `command` embedder) run under supervision, so that
//! neither a timeout, a signal to genoprot nor genoprot's own death leaves
//! them running:
//!
//! * each program starts in a process group of its own, with
//!   `PR_SET_PDEATHSIG(SIGKILL)` (it dies with genoprot, even on SIGKILL);
//! * each gets a tag in its environment, `GENOPROT_CHILD=<scope>|<pid>-<start>`,
//!   that its descendants inherit — also those that leave the group with
//!   `setsid` or double-fork, which a process group alone would miss;
//! * a timeout, [`request_stop`] (SIGINT/SIGTERM) or [`kill_all`] kills the
//!   group (SIGTERM, then SIGKILL after a grace period) and then every process
//!   that still carries the tag;
//! * [`reap_orphans`] kills what an earlier genoprot that died (SIGKILL, node
//!   reboot of the parent only) left behind with the same scope.
//!
//! No cgroups, no privileges. The limit: a descendant that both detaches and
//! clears or rewrites its environment cannot be found (docs/embedders.md).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The environment variable that marks a supervised program and its descendants.
pub const TAG_VAR: &str = "GENOPROT_CHILD";

static STOP: AtomicBool = AtomicBool::new(false);
static NEXT: AtomicU64 = AtomicU64::new(0);
/// Running supervised programs: key → (process group id, tag).
static LIVE: Mutex<BTreeMap<u64, (i32, String)>> = Mutex::new(BTreeMap::new());

/// How long a program gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(2);

/// Asks every supervised program to stop: running waits end with
/// [`Outcome::Stopped`] after killing their program.
pub fn request_stop() {
    STOP.store(true, Ordering::SeqCst);
}

pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// This process's identity as `<pid>-<start time in clock ticks>` (the start
/// time tells a live owner from a reused pid).
pub fn me() -> String {
    let pid = std::process::id();
    format!("{pid}-{}", start_time(pid as i32).unwrap_or(0))
}

/// Whether the process named by a [`me`] string of this host is still running.
pub fn is_alive(owner: &str) -> bool {
    owner
        .split_once('-')
        .and_then(|(p, st)| Some((p.parse::<i32>().ok()?, st.parse::<u64>().ok()?)))
        .is_some_and(|(p, st)| start_time(p) == Some(st))
}

/// This host's name, file-name safe (dots and separators replaced).
pub fn host() -> String {
    let h = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let h: String = h
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if h.is_empty() { "localhost".into() } else { h }
}

/// Field 22 of `/proc/<pid>/stat`: the process's start time.
fn start_time(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: skip past its last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

/// The scope of a tag: what [`reap_orphans`] matches (e.g. a store's folder).
fn scope_of(dir: &Path) -> String {
    let p = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    // `|` separates the fields of the tag.
    p.display().to_string().replace('|', "_")
}

/// Every process (other than this one) whose environment carries `TAG_VAR`,
/// with the tag's value.
fn tagged_processes() -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let prefix = format!("{TAG_VAR}=");
    let mut out = Vec::new();
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if let Some(v) = env
            .split(|b| *b == 0)
            .find_map(|kv| kv.strip_prefix(prefix.as_bytes()))
        {
            out.push((pid, String::from_utf8_lossy(v).into_owned()));
        }
    }
    out
}

fn signal_group(pgid: i32, sig: i32) {
    if pgid > 1 {
        // SAFETY: kill(2) on a process group genoprot created. (procps
        // `kill -KILL -PGID` was seen to signal -1, everything: use the syscall.)
        unsafe {
            libc::kill(-pgid, sig);
        }
    }
}

/// SIGKILLs every process carrying exactly `tag` (repeated while new ones
/// appear, for programs that fork while being killed).
fn kill_tagged(tag: &str) -> usize {
    let mut killed = 0;
    for _ in 0..5 {
        let found: Vec<i32> = tagged_processes()
            .into_iter()
            .filter(|(_, t)| t == tag)
            .map(|(p, _)| p)
            .collect();
        if found.is_empty() {
            break;
        }
        for pid in found {
            // SAFETY: kill(2) on a process that carries this run's tag.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
            killed += 1;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    killed
}

/// Kills what earlier genoprot processes, now dead, left running under the
/// same `scope` (their programs' process groups and detached descendants).
/// Returns how many processes were killed.
pub fn reap_orphans(scope: &Path) -> usize {
    let scope = scope_of(scope);
    let mut n = 0;
    for (pid, tag) in tagged_processes() {
        let mut parts = tag.splitn(3, '|');
        let (Some(s), Some(owner), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if s != scope {
            continue;
        }
        if is_alive(owner) {
            continue;
        }
        tracing::warn!(pid, tag = %tag, "killing a program left running by an earlier genoprot that died");
        // SAFETY: kill(2) on a process tagged by a dead genoprot of this scope.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
        n += 1;
    }
    n
}

/// Kills every running supervised program (for a signal handler's thread):
/// SIGTERM to each group, a short grace, then SIGKILL to groups and tags.
pub fn kill_all() {
    let live: Vec<(i32, String)> = LIVE
        .lock()
        .map(|m| m.values().cloned().collect())
        .unwrap_or_default();
    for (pgid, _) in &live {
        signal_group(*pgid, libc::SIGTERM);
    }
    if !live.is_empty() {
        std::thread::sleep(Duration::from_millis(300));
    }
    for (pgid, tag) in &live {
        signal_group(*pgid, libc::SIGKILL);
        kill_tagged(tag);
    }
}

/// Bytes of a program's output kept in its log per run: the first
/// `LOG_CAP`, then only the last [`LOG_TAIL`] (with a note of what was dropped).
pub const LOG_CAP: u64 = 8 << 20;
pub const LOG_TAIL: usize = 64 << 10;

/// Opens `path` for appending a program's output; a log already over
/// [`LOG_CAP`] is first rotated to `<path>.1` (replacing an older one).
pub fn open_log(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p)?;
    }
    if std::fs::metadata(path).is_ok_and(|m| m.len() > LOG_CAP) {
        let mut old = path.as_os_str().to_owned();
        old.push(".1");
        std::fs::rename(path, old)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

/// Copies a program's output from `from` into `log` until every writer has
/// closed: the first `cap` bytes as they come, then only the last
/// [`LOG_TAIL`] bytes, written at the end after a line saying how many bytes
/// were dropped. Runs on its own thread; the receiver gets `()` when done.
pub fn capture(
    mut from: impl std::io::Read + Send + 'static,
    mut log: std::fs::File,
    cap: u64,
) -> std::sync::mpsc::Receiver<()> {
    use std::io::Write;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 << 10];
        let mut written = 0u64;
        let mut tail: std::collections::VecDeque<u8> = std::collections::VecDeque::new();
        let mut dropped = 0u64;
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            let take = (cap.saturating_sub(written) as usize).min(n);
            if take > 0 && log.write_all(&buf[..take]).is_ok() {
                written += take as u64;
            }
            for b in &buf[take..n] {
                if tail.len() == LOG_TAIL {
                    tail.pop_front();
                    dropped += 1;
                }
                tail.push_back(*b);
            }
        }
        if dropped > 0 {
            let _ = writeln!(
                log,
                "\n[genoprot: the output passed the log cap of {cap} bytes; {dropped} bytes dropped, the last {} follow]",
                tail.len()
            );
        }
        let (a, b) = tail.as_slices();
        let _ = log.write_all(a).and_then(|_| log.write_all(b));
        let _ = log.flush();
        let _ = tx.send(());
    });
    rx
}

/// How a supervised program ended.
#[derive(Debug)]
pub enum Outcome {
    Exited(ExitStatus),
    /// Ran past its time limit and was killed.
    TimedOut,
    /// Killed because genoprot was asked to stop.
    Stopped,
}

/// A running supervised program.
pub struct Supervised {
    child: Child,
    key: u64,
    pgid: i32,
    tag: String,
}

impl Supervised {
    /// Starts `cmd` in its own process group, tagged with `scope`, dying
    /// with this process.
    pub fn spawn(mut cmd: Command, scope: &Path) -> std::io::Result<Supervised> {
        let key = NEXT.fetch_add(1, Ordering::SeqCst);
        let tag = format!("{}|{}|{key}", scope_of(scope), me());
        cmd.env(TAG_VAR, &tag);
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
            // SAFETY: prctl(2) and getppid(2) are async-signal-safe; nothing
            // else runs between fork and exec.
            unsafe {
                let parent = libc::getpid();
                cmd.pre_exec(move || {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    // The parent may have died before prctl took effect.
                    if libc::getppid() != parent {
                        libc::_exit(137);
                    }
                    Ok(())
                });
            }
        }
        let child = cmd.spawn()?;
        let pgid = child.id() as i32;
        if let Ok(mut m) = LIVE.lock() {
            m.insert(key, (pgid, tag.clone()));
        }
        Ok(Supervised {
            child,
            key,
            pgid,
            tag,
        })
    }

    /// Waits for the program, at most `timeout`; on a timeout or a stop
    /// request kills it with everything it started.
    pub fn wait(mut self, timeout: Duration) -> std::io::Result<Outcome> {
        let start = Instant::now();
        loop {
            // Before looking at the program: once a stop is asked for, its
            // end (often from that very signal) is a stop, not a failure.
            if stop_requested() {
                self.kill_tree();
                return Ok(Outcome::Stopped);
            }
            if let Some(s) = self.child.try_wait()? {
                // Descendants left in the background die with their program.
                self.kill_tree();
                return Ok(Outcome::Exited(s));
            }
            if start.elapsed() >= timeout {
                self.kill_tree();
                return Ok(Outcome::TimedOut);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// SIGTERM to the group, SIGKILL after the grace period, then SIGKILL to
    /// every process still carrying the tag; reaps the program.
    fn kill_tree(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            signal_group(self.pgid, libc::SIGTERM);
            let t = Instant::now();
            while t.elapsed() < GRACE && self.child.try_wait().ok().flatten().is_none() {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        signal_group(self.pgid, libc::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
        kill_tagged(&self.tag);
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        if let Ok(mut m) = LIVE.lock() {
            m.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alive(pid: i32) -> bool {
        // A zombie still has /proc/<pid>; its state is 'Z'.
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                let rest = &s[s.rfind(')').unwrap() + 2..];
                !rest.starts_with('Z')
            })
            .unwrap_or(false)
    }

    fn wait_for_file(p: &Path) -> String {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if let Ok(s) = std::fs::read_to_string(p)
                && s.ends_with('\n')
            {
                return s;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("{} not written", p.display());
    }

    #[test]
    fn a_timeout_kills_the_group_and_detached_descendants() {
        let d = tempfile::tempdir().unwrap();
        let pids = d.path().join("pids");
        // A background child in the group, and a grandchild that leaves the
        // group and the session with setsid.
        let script = format!(
            "sleep 300 & echo $! > {p}.a; setsid sh -c 'echo $$ > {p}.b; exec sleep 300' & sleep 300",
            p = pids.display()
        );
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(&script);
        let s = Supervised::spawn(cmd, d.path()).unwrap();
        let a: i32 = wait_for_file(&pids.with_extension("a"))
            .trim()
            .parse()
            .unwrap();
        let b: i32 = wait_for_file(&pids.with_extension("b"))
            .trim()
            .parse()
            .unwrap();
        assert!(alive(a) && alive(b));
        let o = s.wait(Duration::from_millis(300)).unwrap();
        assert!(matches!(o, Outcome::TimedOut), "{o:?}");
        std::thread::sleep(Duration::from_millis(100));
        assert!(!alive(a), "background child {a} survived");
        assert!(!alive(b), "setsid grandchild {b} survived");
    }

    #[test]
    fn output_past_the_cap_keeps_head_and_tail_and_logs_rotate() {
        let d = tempfile::tempdir().unwrap();
        let log_path = d.path().join("x.log");
        let (r, w) = std::io::pipe().unwrap();
        let done = capture(r, open_log(&log_path).unwrap(), 1000);
        let mut cmd = Command::new("sh");
        // 200,000 lines of "line N": far past the cap.
        cmd.arg("-c")
            .arg("i=0; while [ $i -lt 20000 ]; do echo line $i; i=$((i+1)); done; echo LAST")
            .stdout(w);
        let s = Supervised::spawn(cmd, d.path()).unwrap();
        assert!(
            matches!(s.wait(Duration::from_secs(60)).unwrap(), Outcome::Exited(x) if x.success())
        );
        done.recv_timeout(Duration::from_secs(10)).unwrap();
        let text = std::fs::read_to_string(&log_path).unwrap();
        assert!(text.starts_with("line 0\nline 1\n"), "{}", &text[..50]);
        assert!(text.contains("bytes dropped"), "no note");
        assert!(text.trim_end().ends_with("LAST"));
        assert!(text.len() < 1000 + LOG_TAIL + 200, "{}", text.len());
        // A log over the cap is rotated before the next run.
        std::fs::write(&log_path, vec![b'x'; LOG_CAP as usize + 1]).unwrap();
        drop(open_log(&log_path).unwrap());
        assert_eq!(std::fs::metadata(&log_path).unwrap().len(), 0);
        assert!(d.path().join("x.log.1").exists());
    }

    #[test]
    fn orphans_of_a_dead_owner_are_reaped_and_live_ones_kept() {
        let d = tempfile::tempdir().unwrap();
        let scope = scope_of(d.path());
        // An orphan whose owner (pid 1's "start time" never matches 0) is dead.
        let mut dead = Command::new("sleep");
        dead.arg("300")
            .env(TAG_VAR, format!("{scope}|4194305-0|0"))
            .process_group(0);
        let mut dead = dead.spawn().unwrap();
        // Another scope: never touched.
        let mut other = Command::new("sleep");
        other
            .arg("300")
            .env(TAG_VAR, format!("{scope}-other|4194305-0|0"))
            .process_group(0);
        let mut other = other.spawn().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(reap_orphans(d.path()), 1);
        assert!(dead.wait().is_ok());
        assert!(
            other.try_wait().unwrap().is_none(),
            "another scope's program was killed"
        );
        let _ = other.kill();
        let _ = other.wait();
    }

    use std::os::unix::process::CommandExt;
}

//! Helpers shared by the end-to-end tests: where things are, and checks that
//! the real services are up (failing with a hint, never hanging).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The genoprot binary built for these tests.
pub fn genoprot() -> Command {
    Command::new(env!("CARGO_BIN_EXE_genoprot"))
}

/// Runs genoprot in `dir` with `args` (5-minute deadline): exit code,
/// stdout, stderr.
pub fn gp(dir: &Path, args: &[&str]) -> (i32, String, String) {
    gp_env(dir, args, &[])
}

/// [`gp`] with extra environment variables.
pub fn gp_env(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> (i32, String, String) {
    let mut c = genoprot();
    c.current_dir(dir).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = run_with_timeout(c, Duration::from_secs(300));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a command with a deadline; kills it and panics with its output if it overruns.
pub fn run_with_timeout(mut cmd: Command, timeout: Duration) -> Output {
    let desc = format!("{cmd:?}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {desc}: {e}"));
    // Both pipes are drained while the command runs: a command that
    // writes more than a pipe holds would otherwise block forever.
    let drain = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out_t = drain(
        child
            .stdout
            .take()
            .map(|r| Box::new(r) as Box<dyn std::io::Read + Send>),
    );
    let err_t = drain(
        child
            .stderr
            .take()
            .map(|r| Box::new(r) as Box<dyn std::io::Read + Send>),
    );
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{desc} did not finish within {timeout:?}\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out_t.join().unwrap_or_default()),
                String::from_utf8_lossy(&err_t.join().unwrap_or_default())
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    }
}

/// The Python with h5py that scripts/install-deps.sh sets up (or `GENOPROT_PYTHON`).
pub fn python_with_h5py() -> PathBuf {
    let p = std::env::var_os("GENOPROT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/python"));
    assert!(
        p.exists(),
        "no Python with h5py at {}: run `bash scripts/install-deps.sh` (or set GENOPROT_PYTHON)",
        p.display()
    );
    p
}

/// Panics with a hint unless the local Slurm test cluster answers and its node is usable.
pub fn require_slurm() {
    let mut ping = Command::new("scontrol");
    ping.arg("ping");
    let out = run_with_timeout(ping, Duration::from_secs(20));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("is UP"),
        "Slurm controller is not up (`scontrol ping`: {}{}): run `bash scripts/slurm-up.sh`",
        text.trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let mut sinfo = Command::new("sinfo");
    sinfo.args(["-h", "-N", "-o", "%N %T"]);
    let out = run_with_timeout(sinfo, Duration::from_secs(20));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.split_whitespace()
            .any(|s| ["idle", "mixed", "allocated", "completing"].contains(&s)),
        "no usable Slurm node (sinfo: {}): is slurmd running? run `bash scripts/slurm-up.sh`",
        text.trim()
    );
}

/// The Slurm submissions a sweep recorded (`<store>/journal/jobs.jsonl`).
pub fn slurm_jobs(store: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(store.join("journal/jobs.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Waits until every job a sweep recorded has ended and no new one appeared
/// (each finishing job may submit another attempt), or panics after `timeout`.
pub fn wait_for_slurm_chain(store: &Path, timeout: Duration) {
    let start = Instant::now();
    loop {
        let ids: Vec<String> = slurm_jobs(store)
            .iter()
            .map(|j| j["job_id"].as_str().unwrap().to_string())
            .collect();
        let left = timeout.saturating_sub(start.elapsed());
        slurm::wait_terminal(
            &slurm::SlurmCli::new(),
            &ids,
            left,
            Duration::from_millis(500),
        )
        .unwrap();
        if slurm_jobs(store).len() == ids.len() {
            return;
        }
    }
}

/// The YAML entry of model `ext`: a 32-d protein `command` model that runs
/// [`failing_first_command`].
pub fn failing_first_model(marker: &str, first: &str) -> String {
    format!(
        "{{name: ext, kind: command, modality: protein, dim: 32, command: \"{}\"}}",
        failing_first_command(marker, first)
    )
}

/// Asserts that every stage of a `genoprot --json status` answer is done.
pub fn assert_all_done(status: &serde_json::Value) {
    for st in status["stages"].as_array().unwrap() {
        assert_eq!(st["done"], st["total"], "{status}");
    }
}

/// A `command` model's command line that runs `first` on its first call only
/// (a marker file in the sweep folder remembers the call), then the example
/// embedder.
pub fn failing_first_command(marker: &str, first: &str) -> String {
    format!(
        "test -e {marker} || {{ touch {marker}; {first}; }}; {} {} --in {{fasta}} --out {{out}}",
        python_with_h5py().display(),
        workspace_root().join("scripts/embed_example.py").display()
    )
}

/// The rows of a store's `report/results_long.csv`, sorted.
pub fn sorted_long_results(dir: &Path, store: &str) -> Vec<String> {
    let mut rows: Vec<String> =
        std::fs::read_to_string(dir.join(store).join("report/results_long.csv"))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
    rows.sort();
    rows
}

/// The cell stores in a store's `cells/` folder (`<id>.h5`, not their
/// `.sha256` digests or temp files), sorted.
pub fn cell_stores(cells: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(cells)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "h5"))
                .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Writes a synthetic dataset of `genes` genes (seed `seed`) to `dir/data`.
pub fn synth_data(dir: &Path, genes: u32, seed: u32) {
    let (genes, seed) = (genes.to_string(), seed.to_string());
    let (code, _, err) = gp(
        dir,
        &[
            "-q", "dataset", "synth", "--out", "data", "--genes", &genes, "--seed", &seed,
        ],
    );
    assert_eq!(code, 0, "{err}");
}

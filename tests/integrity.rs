//! Integrity against hostile surroundings (issue: integrity):
//!
//! * `genoprot cancel` against forged and stale locks, inside a fresh PID
//!   namespace (`unshare --pid --fork --mount-proc`, as root): the lock
//!   names a live unrelated process, pid 0, 2^31, u32::MAX, or -1, and
//!   `cancel` signals nothing — the unrelated process and the namespace's
//!   shell are still alive afterwards. Run in a namespace so that a
//!   regression could only ever hit the processes of this test.
//! * stdout or stderr that cannot be written (`/dev/full`): one line of
//!   error and exit 1 for stdout, never a panic (exit 101).

mod common;

use std::path::Path;

fn setup(p: &Path) {
    let (code, _, err) = common::gp(
        p,
        &[
            "-q", "dataset", "synth", "--out", "data", "--genes", "60", "--seed", "3",
        ],
    );
    assert_eq!(code, 0, "{err}");
    std::fs::write(
        p.join("s.yaml"),
        "name: s\ndataset: data\nstore: runs/s\nseeds: [0]\ntasks: [membrane]\n\
         models:\n  - {name: aac, kind: kmer, modality: protein, k: 1}\n",
    )
    .unwrap();
    std::fs::create_dir_all(p.join("runs/s")).unwrap();
}

#[test]
fn cancel_never_signals_a_process_a_forged_lock_names() {
    let probe = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!(
            "NOTE: skipped: `unshare --pid --fork --mount-proc` is not permitted here (CI runs it as root)"
        );
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    setup(p);
    let gp = env!("CARGO_BIN_EXE_genoprot");
    let host = String::from_utf8(
        std::process::Command::new("hostname")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    // Inside the namespace: a bystander, then one forged lock after
    // another, each followed by `cancel`; the bystander must survive all.
    let script = format!(
        r#"set -u
sleep 60 &
by=$!
lock=runs/s/genoprot.lock
for pid in $by 0 2147483648 4294967295 -1; do
  printf '{{"pid": %s, "host": "%s", "command": "run", "since": 1}}' "$pid" "{host}" > "$lock"
  {gp} -q --json cancel s.yaml > "cancel-$pid.json" 2> "cancel-$pid.err" || echo "cancel exit $? for $pid"
  kill -0 "$by" 2>/dev/null || {{ echo "bystander killed by cancel with pid $pid"; exit 9; }}
done
kill "$by"
echo survived
"#,
        host = host.trim(),
    );
    let out = common::run_with_timeout(
        {
            let mut c = std::process::Command::new("unshare");
            c.args(["--pid", "--fork", "--mount-proc", "bash", "-c", &script])
                .current_dir(p);
            c
        },
        std::time::Duration::from_secs(120),
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("survived"), "{text}");
    // Every cancel stopped nothing (the forged lock names no genoprot).
    for pid in ["0", "2147483648", "4294967295"] {
        let j: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(p.join(format!("cancel-{pid}.json"))).unwrap(),
        )
        .unwrap();
        assert!(j["stopped"].is_null(), "pid {pid}: {j}");
    }
}

/// Runs genoprot in `dir` with stdout (`out`) or stderr (`!out`) on /dev/full.
fn to_dev_full(dir: &Path, args: &[&str], out: bool) -> std::process::Output {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut c = common::genoprot();
    c.args(args).current_dir(dir);
    if out {
        c.stdout(full).stderr(std::process::Stdio::piped());
    } else {
        c.stderr(full).stdout(std::process::Stdio::piped());
    }
    c.output().unwrap()
}

#[test]
fn a_full_stdout_is_one_error_and_exit_1_and_a_full_stderr_is_no_panic() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    setup(p);
    for args in [
        &["plan", "s.yaml"][..],
        &["--json", "plan", "s.yaml"],
        &["-q", "run", "s.yaml"],
        &["status", "s.yaml"],
    ] {
        let o = to_dev_full(p, args, true);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("error: writing to standard output: No space left on device"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    // The run itself finished: its results are there.
    assert!(p.join("runs/s/results.csv").is_file());
    for args in [
        &["report", "s.yaml"][..],
        &["plan", "s.yaml"],
        &["-v", "status", "s.yaml"],
    ] {
        let o = to_dev_full(p, args, false);
        assert_eq!(o.status.code(), Some(0), "{args:?}");
    }
    // An error with stderr on /dev/full still exits 1 (no panic, exit 101).
    let o = to_dev_full(p, &["plan", "missing.yaml"], false);
    assert_eq!(o.status.code(), Some(1));
}

/// Runs genoprot in `dir` with a 20-second deadline (a hang fails the test).
fn gp_deadline(dir: &Path, args: &[&str]) -> (Option<i32>, String, std::time::Duration) {
    let t0 = std::time::Instant::now();
    let mut c = common::genoprot();
    c.args(args).current_dir(dir);
    let o = common::run_with_timeout(c, std::time::Duration::from_secs(20));
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        t0.elapsed(),
    )
}

#[test]
fn fifos_and_devices_are_refused_quickly_as_inputs_and_as_stores() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    setup(p);
    let fifo = p.join("cds.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // As a dataset input: one clear error naming the file, at once, and
    // nothing written.
    for (cds, what) in [
        (
            fifo.to_str().unwrap(),
            "is a FIFO (named pipe), not a regular file",
        ),
        ("/dev/zero", "is a character device, not a regular file"),
    ] {
        let (code, err, took) = gp_deadline(
            p,
            &[
                "dataset",
                "build",
                "--cds",
                cds,
                "--proteins",
                "data/protein.fa",
                "--out",
                "built",
            ],
        );
        assert_eq!(code, Some(1), "{cds}: {err}");
        assert!(
            err.contains(&format!("{cds}: cannot read: {what}")),
            "{cds}: {err}"
        );
        assert!(took < std::time::Duration::from_secs(5), "{cds}: {took:?}");
        assert!(!p.join("built").exists());
    }
    // In place of a cell store: the cell is unreadable and counted missing;
    // plan, status, aggregate and report answer at once.
    let (code, err, _) = gp_deadline(p, &["-q", "run", "s.yaml"]);
    assert_eq!(code, Some(0), "{err}");
    let cell = std::fs::read_dir(p.join("runs/s/cells"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|f| f.extension().is_some_and(|x| x == "h5"))
        .unwrap();
    std::fs::rename(&cell, p.join("cell.bak")).unwrap();
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&cell)
            .status()
            .unwrap()
            .success()
    );
    for args in [
        &["plan", "s.yaml"][..],
        &["status", "s.yaml"],
        &["aggregate", "s.yaml"],
        &["report", "s.yaml"],
    ] {
        let (code, err, took) = gp_deadline(p, args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        assert!(
            took < std::time::Duration::from_secs(5),
            "{args:?}: {took:?}"
        );
    }
    let (_, err, _) = gp_deadline(p, &["aggregate", "s.yaml"]);
    assert!(
        err.contains("is a FIFO (named pipe), not a regular file: a store is an HDF5 file"),
        "{err}"
    );
}

#[test]
fn a_synthetic_dataset_too_large_for_memory_is_refused_before_allocating() {
    let d = tempfile::tempdir().unwrap();
    let (code, err, took) = gp_deadline(
        d.path(),
        &[
            "dataset",
            "synth",
            "--out",
            "big",
            "--genes",
            "1000000000000",
        ],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("--genes 1000000000000: a synthetic dataset that large needs about"),
        "{err}"
    );
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
    assert!(!d.path().join("big").exists());
}

#[test]
fn an_edited_aggregate_cache_line_never_reaches_results() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    setup(p);
    let (code, err, _) = gp_deadline(p, &["-q", "run", "s.yaml"]);
    assert_eq!(code, Some(0), "{err}");
    let results = || std::fs::read_to_string(p.join("runs/s/results.csv")).unwrap();
    let before = results();
    let cache = p.join("runs/s/journal/aggregate-rows.jsonl");
    let text = std::fs::read_to_string(&cache).unwrap();
    // Change one digit of the cached test size (a valid number either way).
    let at = text.find("\"n_test\":").unwrap() + "\"n_test\":".len();
    let mut bytes = text.into_bytes();
    bytes[at] = if bytes[at] == b'1' { b'2' } else { b'1' };
    std::fs::write(&cache, bytes).unwrap();
    let (code, err, _) = gp_deadline(p, &["aggregate", "s.yaml"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("fail their checksum"), "{err}");
    assert_eq!(
        results(),
        before,
        "the cell store, not the edited line, decides"
    );
}

#[test]
fn plan_refuses_what_run_would_refuse_at_the_field() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    setup(p);
    let fx = common::workspace_root().join("fixtures");
    let esm = fx.join("esm2-tiny");
    let t5 = fx.join("ankh-tiny");
    std::fs::write(p.join("notes.h5"), "these are not embeddings\n").unwrap();
    for (entry, want) in [
        (
            format!(
                "{{name: e, kind: esm, modality: protein, weights: {}, layer: 1000}}",
                esm.display()
            ),
            ("layer", "layer 1000: the model has 2 layers"),
        ),
        (
            format!(
                "{{name: e, kind: esm, modality: dna, weights: {}}}",
                esm.display()
            ),
            (
                "modality",
                "is a protein vocabulary, but the model is configured with modality: dna",
            ),
        ),
        (
            format!(
                "{{name: e, kind: t5, modality: protein, weights: {}, pooling: cls}}",
                t5.display()
            ),
            (
                "pooling",
                "pooling: cls, but this t5 tokenizer puts no CLS token in front",
            ),
        ),
        (
            "{name: e, kind: precomputed, modality: protein, path: notes.h5}".to_string(),
            ("path", "path notes.h5: not an HDF5 file"),
        ),
    ] {
        std::fs::write(
            p.join("m.yaml"),
            format!(
                "name: m\ndataset: data\nstore: runs/m\nseeds: [0]\ntasks: [membrane]\nmodels:\n  - {entry}\n"
            ),
        )
        .unwrap();
        let (code, err, _) = gp_deadline(p, &["plan", "m.yaml"]);
        assert_eq!(code, Some(1), "{entry}: {err}");
        let col = entry.find(want.0).unwrap() + 5;
        assert!(
            err.contains(&format!("m.yaml:7:{col}: model e: ")) && err.contains(want.1),
            "{entry}: {err}"
        );
        assert!(!p.join("runs/m").exists(), "plan writes nothing");
    }
}

#[test]
fn a_second_sweep_is_refused_a_store_another_sweep_owns() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    setup(p);
    let (code, err, _) = gp_deadline(p, &["-q", "run", "s.yaml"]);
    assert_eq!(code, Some(0), "{err}");
    let owner = std::fs::read_to_string(p.join("runs/s/journal/sweep")).unwrap();
    assert_eq!(
        workers::seal::line_text(owner.trim_end()),
        Some("s"),
        "{owner}"
    );
    let before = std::fs::read_to_string(p.join("runs/s/results.csv")).unwrap();
    let other = std::fs::read_to_string(p.join("s.yaml"))
        .unwrap()
        .replace("name: s\n", "name: other\n")
        .replace("k: 1}", "k: 2}");
    std::fs::write(p.join("o.yaml"), other).unwrap();
    for args in [&["-q", "run", "o.yaml"][..], &["clean", "o.yaml"]] {
        let (code, err, _) = gp_deadline(p, args);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert!(
            err.contains("store runs/s belongs to sweep `s`") && err.contains("not `other`"),
            "{args:?}: {err}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(p.join("runs/s/results.csv")).unwrap(),
        before
    );
    // The owner itself goes on as before.
    let (code, err, _) = gp_deadline(p, &["-q", "run", "s.yaml"]);
    assert_eq!(code, Some(0), "{err}");
    // A damaged record (one flipped bit in the name) is not taken for
    // another sweep's, nor for this one's: one error naming the file.
    let rec = p.join("runs/s/journal/sweep");
    let mut b = std::fs::read(&rec).unwrap();
    b[0] ^= 0x04;
    std::fs::write(&rec, &b).unwrap();
    let (code, err, _) = gp_deadline(p, &["-q", "run", "s.yaml"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("runs/s/journal/sweep: damaged") && err.contains("delete that file"),
        "{err}"
    );
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Runs genoprot in `dir` with `stdin` from the file at `input` (20 s deadline).
fn gp_stdin(dir: &Path, args: &[&str], input: &Path) -> (Option<i32>, String) {
    let mut c = common::genoprot();
    c.args(args)
        .current_dir(dir)
        .stdin(std::fs::File::open(input).unwrap());
    let o = common::run_with_timeout(c, std::time::Duration::from_secs(20));
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn an_input_can_come_from_standard_input_once_and_endless_lines_stop_at_the_cap() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    setup(p);
    let build = |cds: &str, out: &str| {
        vec![
            "dataset",
            "build",
            "--cds",
            cds,
            "--proteins",
            "data/protein.fa",
            "--out",
            out,
        ]
        .into_iter()
        .map(str::to_string)
        .collect::<Vec<_>>()
    };
    // The same dataset from a file and from a pipe; the manifest says `-`.
    let a = build("data/cds.fa", "from-file");
    let (code, _, err) = common::gp(p, &args(&a));
    assert_eq!(code, 0, "{err}");
    let b = build("-", "from-stdin");
    let (code, err) = gp_stdin(p, &args(&b), &p.join("data/cds.fa"));
    assert_eq!(code, Some(0), "{err}");
    let manifest = |dir: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p.join(dir).join("manifest.json")).unwrap()).unwrap()
    };
    let (m1, m2) = (manifest("from-file"), manifest("from-stdin"));
    assert_eq!(m1["dataset_hash"], m2["dataset_hash"]);
    assert_eq!(m2["inputs"][0]["path"], "-", "{m2}");
    // No temp file is left beside the output.
    let left: Vec<String> = std::fs::read_dir(p)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".genoprot-stdin"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // Two `-`: one error.
    let mut two = build("-", "two");
    two[5] = "-".into();
    let (code, err) = gp_stdin(p, &args(&two), &p.join("data/cds.fa"));
    assert_eq!(code, Some(1));
    assert!(err.contains("are both `-`"), "{err}");
    // Process substitution (a pipe under /dev/fd), for both sequence files.
    let sh = format!(
        "{} dataset build --cds <(cat data/cds.fa) --proteins <(gzip -c data/protein.fa) --out from-pipes",
        env!("CARGO_BIN_EXE_genoprot")
    );
    let o = common::run_with_timeout(
        {
            let mut c = std::process::Command::new("bash");
            c.args(["-c", &sh]).current_dir(p);
            c
        },
        std::time::Duration::from_secs(20),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(manifest("from-pipes")["dataset_hash"], m1["dataset_hash"]);
    // A 1 GiB file of zeros (sparse) and zeros on standard input: an error
    // at the line cap, fast, with bounded memory; nothing written.
    let zeros = p.join("zeros.fa");
    std::fs::File::create(&zeros)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    for (cds, input) in [(zeros.to_str().unwrap(), None), ("-", Some(&zeros))] {
        let t0 = std::time::Instant::now();
        let v = build(cds, "zeros");
        let (code, err) = match input {
            Some(i) => gp_stdin(p, &args(&v), i),
            None => {
                let (c, _, e) = common::gp(p, &args(&v));
                (Some(c), e)
            }
        };
        assert_eq!(code, Some(1), "{cds}: {err}");
        assert!(
            err.contains("line 1: longer than the limit for a line (64 MiB)"),
            "{cds}: {err}"
        );
        assert!(t0.elapsed() < std::time::Duration::from_secs(10), "{cds}");
        assert!(!p.join("zeros").exists());
    }
}

#[test]
fn a_command_models_dim_beyond_any_model_is_refused_at_plan() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    setup(p);
    std::fs::write(
        p.join("c.yaml"),
        "name: s\ndataset: data\nstore: runs/c\nseeds: [0]\ntasks: [membrane]\n\
         models:\n  - {name: big, kind: command, modality: dna, command: \"true {fasta} {out}\", dim: 4000000000}\n",
    )
    .unwrap();
    let (code, err, _) = gp_deadline(p, &["plan", "c.yaml"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("c.yaml:7:") && err.contains("dim = 4000000000: more than 1048576"),
        "{err}"
    );
}

/// Whether process `pid` has a handler for signal `sig` (`SigCgt` in
/// /proc/<pid>/status).
fn catches(pid: u32, sig: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("SigCgt:"))
                .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        })
        .is_some_and(|mask| mask & (1 << (sig - 1)) != 0)
}

#[test]
fn aggregate_and_report_end_with_143_on_sigterm() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    setup(p);
    let (code, err, _) = gp_deadline(p, &["-q", "run", "s.yaml"]);
    assert_eq!(code, Some(0), "{err}");
    for cmd in ["aggregate", "report"] {
        let child = common::genoprot()
            .args([cmd, "s.yaml", "--force"][..if cmd == "report" { 3 } else { 2 }].to_vec())
            .current_dir(p)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let t0 = std::time::Instant::now();
        // Once its handler is in place, freeze it, queue SIGTERM, let it go:
        // the signal arrives while it works, whatever its speed.
        while !catches(pid, 15) {
            assert!(
                t0.elapsed() < std::time::Duration::from_secs(20),
                "{cmd}: no handler"
            );
            std::thread::yield_now();
        }
        let kill = |sig: &str| {
            std::process::Command::new("kill")
                .args(["-s", sig, &pid.to_string()])
                .status()
                .unwrap()
        };
        assert!(
            kill("STOP").success(),
            "{cmd} ended before the test could stop it"
        );
        kill("TERM");
        kill("CONT");
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(143), "{cmd}: {:?}", out.status);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("terminated; run again to continue"),
            "{cmd}"
        );
    }
}

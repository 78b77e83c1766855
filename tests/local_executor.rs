//! The local executor as a user drives it: one writer per store (a second
//! `run` is refused, naming the first), `status`, `cancel` and `resume` of a
//! local sweep, `--json` from every user command, progress lines and the
//! run's own log off a terminal, and a closed pipe ending `plan` quietly.

mod common;

use common::{gp, gp_env};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out:?}"))
}

fn synth(dir: &Path, genes: &str) {
    let (code, _, err) = gp(
        dir,
        &["-q", "dataset", "synth", "--out", "data", "--genes", genes],
    );
    assert_eq!(code, 0, "{err}");
}

fn wait_for(p: &Path, what: &str) {
    let t0 = Instant::now();
    while !p.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "{what} never happened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A sweep whose `command` model sleeps on its first attempt (after
/// touching `started`) and embeds at once on later ones.
fn sleepy_sweep(d: &Path) -> PathBuf {
    synth(d, "24");
    let flag = d.join("started");
    let cmd = format!(
        "if [ ! -e {f} ]; then touch {f}; sleep 300; fi; {py} {script} --in {{fasta}} --out {{out}}",
        f = flag.display(),
        py = common::python_with_h5py().display(),
        script = common::workspace_root()
            .join("scripts/embed_example.py")
            .display()
    );
    std::fs::write(
        d.join("c.yaml"),
        format!(
            "name: lock\ndataset: data\nstore: runs\nseeds: [0]\ntasks: [membrane, disorder]\nmodels:\n\
             \x20 - {{name: aac, kind: kmer, modality: protein, k: 1}}\n\
             \x20 - {{name: ext, kind: command, modality: protein, dim: 32, timeout_s: 600, command: \"{cmd}\"}}\n\
             probe: {{kind: logreg}}\n"
        ),
    )
    .unwrap();
    flag
}

#[test]
fn one_writer_per_store_and_local_status_cancel_resume() {
    let d = tempfile::tempdir().unwrap();
    let flag = sleepy_sweep(d.path());
    let first = common::genoprot()
        .current_dir(d.path())
        .args(["run", "c.yaml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&flag, "the first run's embedding");
    // A second writer is refused, naming the holder; nothing of the first is touched.
    let (code, _, err) = gp(d.path(), &["run", "c.yaml"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("is in use by genoprot run (pid {} on", first.id()))
            && err.contains("genoprot cancel c.yaml"),
        "{err}"
    );
    // status sees the local run.
    let (code, out, err) = gp(d.path(), &["status", "c.yaml", "--json"]);
    assert_eq!(code, 0, "{err}");
    let st = json(&out);
    assert_eq!(st["running"]["pid"], first.id(), "{st}");
    assert_eq!(st["running"]["command"], "run");
    assert_eq!(st["stages"][0]["stage"], "embed");
    // cancel stops it cleanly: exit 130, continue later.
    let (code, out, err) = gp(d.path(), &["cancel", "c.yaml", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["stopped"]["pid"], first.id());
    let done = first.wait_with_output().unwrap();
    assert_eq!(
        done.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let (_, out, _) = gp(d.path(), &["status", "c.yaml", "--json"]);
    assert!(json(&out)["running"].is_null(), "{out}");
    // resume of a local sweep runs what is missing.
    let (code, out, err) = gp(d.path(), &["resume", "c.yaml", "--json"]);
    assert_eq!(code, 0, "{err}");
    let r = json(&out);
    assert!(r["cells_run"].as_u64().unwrap() >= 1, "{r}");
    assert_eq!(r["aggregate"]["missing"], 0, "{r}");
    let (_, out, _) = gp(d.path(), &["status", "c.yaml", "--json"]);
    let st = json(&out);
    for s in st["stages"].as_array().unwrap() {
        assert_eq!(s["done"], s["total"], "{st}");
    }
    // Cell logs are named by model, task, seed and a short id.
    let logs: Vec<String> = std::fs::read_dir(d.path().join("runs/logs/cells"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        logs.iter()
            .any(|n| n.starts_with("ext.membrane.s0.") && n.ends_with(".log")),
        "{logs:?}"
    );
}

#[test]
fn every_user_command_prints_json() {
    let d = tempfile::tempdir().unwrap();
    let (code, out, err) = gp(
        d.path(),
        &[
            "dataset", "synth", "--out", "data", "--genes", "30", "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let s = json(&out);
    assert_eq!(
        (s["action"].as_str(), s["genes"].as_u64()),
        (Some("synth"), Some(30))
    );
    let (code, out, _) = gp(d.path(), &["dataset", "validate", "data", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(json(&out)["action"], "validate");
    let (code, out, _) = gp(d.path(), &["doctor", "--json"]);
    assert_eq!(code, 0);
    let checks = json(&out)["checks"].as_array().unwrap().clone();
    assert!(
        checks
            .iter()
            .any(|c| c["name"] == "hdf5" && c["ok"] == true)
    );
    std::fs::write(
        d.path().join("c.yaml"),
        "name: j\ndataset: data\nstore: runs\nseeds: [0]\ntasks: [membrane]\nmodels:\n\
         \x20 - {name: aac, kind: kmer, modality: protein, k: 1}\n\
         \x20 - {name: k2, kind: kmer, modality: dna, k: 2}\n\
         ensembles:\n  - {name: both, members: [aac, k2], fusion: [concat, stacking]}\n\
         probe: {kind: logreg}\n",
    )
    .unwrap();
    let (code, out, _) = gp(d.path(), &["list", "models", "c.yaml", "--json"]);
    assert_eq!(code, 0);
    let l = json(&out);
    assert_eq!(l["models"][0]["name"], "aac");
    assert_eq!(l["models"][1]["kind"], "kmer");
    assert_eq!(
        l["ensembles"][0]["fusion"],
        serde_json::json!(["concat", "stacking"])
    );
    let (code, out, _) = gp(d.path(), &["list", "tasks", "c.yaml", "--json"]);
    assert_eq!(code, 0);
    let t = json(&out);
    assert_eq!(t["tasks"].as_array().unwrap().len(), 1, "{t}");
    assert_eq!(t["tasks"][0]["name"], "membrane");
    assert!(t["tasks"][0]["labeled"].as_u64().unwrap() > 0);
    let (code, out, _) = gp(d.path(), &["completions", "bash"]);
    assert_eq!(code, 0);
    assert!(out.contains("_genoprot") && out.contains("resume"), "{out}");
    let (code, out, _) = gp(d.path(), &["plan", "c.yaml", "--json"]);
    assert_eq!(code, 0);
    let p = json(&out);
    let units = p["units"].as_array().unwrap();
    assert_eq!(units.len(), 2 + 3 + 1, "{p}");
    assert!(units.iter().all(|u| u["state"] == "missing"));
    let cell = units.iter().find(|u| u["stage"] == "probe").unwrap();
    assert_eq!(
        (cell["task"].as_str(), cell["seed"].as_u64()),
        (Some("membrane"), Some(0))
    );
    let (code, out, err) = gp(d.path(), &["-q", "run", "c.yaml", "--json"]);
    assert_eq!(code, 0, "{err}");
    let r = json(&out);
    assert_eq!(
        (r["embedded"].as_u64(), r["cells_run"].as_u64()),
        (Some(2), Some(4))
    );
    assert!(
        r["aggregate"]["report"]
            .as_str()
            .unwrap()
            .ends_with("summary.md")
    );
    for cmd in ["aggregate", "report"] {
        let (code, out, err) = gp(d.path(), &[cmd, "c.yaml", "--json"]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(json(&out)["cells"], 4, "{cmd}");
    }
    let (_, out, _) = gp(d.path(), &["plan", "c.yaml", "--json"]);
    assert!(
        json(&out)["units"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["state"] == "done")
    );
    // clean: cells of another probe setting are listed, then deleted with
    // --yes; the current grid's cells and files genoprot did not write stay.
    std::fs::write(d.path().join("runs/cells/notes.h5"), b"mine").unwrap();
    let changed = std::fs::read_to_string(d.path().join("c.yaml"))
        .unwrap()
        .replace("probe: {kind: logreg}", "probe: {kind: logreg, c: 0.5}");
    std::fs::write(d.path().join("c2.yaml"), changed).unwrap();
    let (code, out, err) = gp(d.path(), &["clean", "c2.yaml", "--json"]);
    assert_eq!(code, 0, "{err}");
    let c = json(&out);
    assert_eq!(c["stale"].as_array().unwrap().len(), 4, "{c}");
    assert_eq!(c["deleted"], false);
    let (_, out, _) = gp(d.path(), &["clean", "c.yaml", "--json"]);
    assert_eq!(json(&out)["stale"].as_array().unwrap().len(), 0);
    let (code, out, _) = gp(d.path(), &["clean", "c2.yaml", "--yes", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(json(&out)["deleted"], true);
    let left: Vec<String> = std::fs::read_dir(d.path().join("runs/cells"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["notes.h5"], "only genoprot's own stale files go");
    // Errors too, as JSON on stdout (and the message on stderr).
    let (code, out, err) = gp(d.path(), &["plan", "nope.yaml", "--json"]);
    assert_eq!(code, 1);
    assert!(
        json(&out)["error"].as_str().unwrap().contains("nope.yaml"),
        "{out}"
    );
    assert!(err.contains("error: "), "{err}");
}

#[test]
fn off_a_terminal_a_run_logs_progress_lines_and_keeps_its_log() {
    let d = tempfile::tempdir().unwrap();
    synth(d.path(), "60");
    let esm = common::workspace_root().join("fixtures/esm2-tiny");
    std::fs::write(
        d.path().join("c.yaml"),
        format!(
            "name: p\ndataset: data\nstore: runs\nseeds: [0, 1]\ntasks: all\nmodels:\n\
             \x20 - {{name: aac, kind: kmer, modality: protein, k: 1}}\n\
             \x20 - {{name: k3, kind: kmer, modality: dna, k: 3}}\n\
             \x20 - {{name: esm2, kind: esm, modality: protein, weights: {}, max_tokens: 256}}\n\
             probe: {{kind: logreg}}\n",
            esm.display()
        ),
    )
    .unwrap();
    let every = Path::new("0.005");
    let (code, _, err) = gp_env(
        d.path(),
        &["run", "c.yaml"],
        &[("GENOPROT_PROGRESS_EVERY", every)],
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("progress probe: "))
        .collect();
    assert!(!lines.is_empty(), "{err}");
    assert!(
        lines
            .iter()
            .all(|l| l.contains("/72 cells (") && l.contains("/s, eta ")),
        "{lines:?}"
    );
    // Embedding is counted in genes as they are embedded, not in models,
    // with the tokens a native model ran (letters for an external command)
    // and their rate.
    assert!(
        err.lines().any(|l| l.contains("progress embed esm2: ")
            && l.contains("/60 genes (")
            && l.contains(" tokens/s")),
        "{err}"
    );
    let log = std::fs::read_dir(d.path().join("runs/logs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("run-"))
        })
        .expect("the run's log under store/logs/");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("progress probe: "), "{text}");
    // -q: errors only, no progress or warnings.
    std::fs::remove_dir_all(d.path().join("runs/cells")).unwrap();
    let (code, _, err) = gp_env(
        d.path(),
        &["-q", "run", "c.yaml"],
        &[("GENOPROT_PROGRESS_EVERY", every)],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.trim().is_empty(), "{err}");
}

#[test]
fn a_closed_pipe_ends_plan_quietly() {
    let d = tempfile::tempdir().unwrap();
    synth(d.path(), "40");
    std::fs::write(
        d.path().join("c.yaml"),
        "name: h\ndataset: data\nstore: runs\nseeds: [0, 1, 2, 3, 4, 5, 6, 7]\ntasks: all\nmodels:\n\
         \x20 - {name: aac, kind: kmer, modality: protein, k: 1}\n",
    )
    .unwrap();
    let mut child = common::genoprot()
        .current_dir(d.path())
        .args(["plan", "c.yaml", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first.trim(), "{");
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{err}"
    );
    use std::os::unix::process::ExitStatusExt;
    assert!(
        out.status.success() || out.status.signal() == Some(libc_sigpipe()),
        "{:?} {err}",
        out.status
    );
}

/// SIGPIPE's number on Linux.
fn libc_sigpipe() -> i32 {
    13
}

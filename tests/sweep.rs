//! The orchestrator end to end: plan/run/aggregate/report on a small
//! synthetic sweep; a run killed with SIGKILL mid-stage and started again
//! ends with the same results and recomputes no finished cell; Ctrl-C stops
//! cleanly; config errors carry positions.

mod common;

use common::gp;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const CONFIG: &str = "name: small
dataset: data
store: STORE
seeds: [0, 1]
tasks: [membrane, expression, essential, fold_class, interact]
models:
  - {name: rscu, kind: codon, rscu: true}
  - {name: dipep, kind: kmer, modality: protein, k: 2}
ensembles:
  - {name: both, members: [rscu, dipep], fusion: [concat, mean-prob]}
probe: {hidden: [32], max_epochs: 40, lr: 3.0e-3, batch: 64}
executor: {workers: 2}
";

fn setup() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let out = common::genoprot()
        .current_dir(d.path())
        .args([
            "-q", "dataset", "synth", "--out", "data", "--genes", "150", "--seed", "3",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    for store in ["a", "b"] {
        std::fs::write(
            d.path().join(format!("{store}.yaml")),
            CONFIG.replace("STORE", &format!("runs/{store}")),
        )
        .unwrap();
    }
    d
}

/// cell id → metrics (from results.csv).
fn results(dir: &Path, store: &str) -> std::collections::BTreeMap<String, String> {
    let text = std::fs::read_to_string(dir.join(format!("runs/{store}/results.csv"))).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            // cell_id, then everything but the timing column.
            (
                f[0].to_string(),
                format!("{}|{}", f[1..17].join(","), f[18..].join(",")),
            )
        })
        .collect()
}

fn completions(dir: &Path, store: &str) -> std::collections::BTreeMap<String, usize> {
    let text = std::fs::read_to_string(dir.join(format!("runs/{store}/journal/events.jsonl")))
        .unwrap_or_default();
    let mut m = std::collections::BTreeMap::new();
    for l in text.lines() {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(l)
            && v["event"] == "done"
        {
            *m.entry(v["unit"].as_str().unwrap().to_string())
                .or_insert(0) += 1;
        }
    }
    m
}

/// The most cells the journal shows running at once.
fn max_concurrent_cells(dir: &Path, store: &str) -> usize {
    let text =
        std::fs::read_to_string(dir.join(format!("runs/{store}/journal/events.jsonl"))).unwrap();
    let (mut now, mut max) = (0usize, 0usize);
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        if v["unit"].as_str().unwrap().starts_with("embed:") {
            continue;
        }
        match v["event"].as_str().unwrap() {
            "start" => now += 1,
            "done" | "failed" => now -= 1,
            _ => {}
        }
        max = max.max(now);
    }
    max
}

#[test]
fn killed_run_resumes_to_the_same_results_without_recomputing() {
    let d = setup();
    // Uninterrupted reference run.
    let (code, out, err) = gp(d.path(), &["run", "a.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2 models embedded, 40 cells run"), "{out}");
    let reference = results(d.path(), "a");
    assert_eq!(reference.len(), 40);
    // `workers: 2` runs two cells at a time, never more (the cells' numerics
    // share a thread pool; waiting on it must not start extra cells).
    assert_eq!(max_concurrent_cells(d.path(), "a"), 2);

    // Plan before: everything missing.
    let (_, out, _) = gp(d.path(), &["plan", "b.yaml", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["stages"][1]["total"], 30);
    assert_eq!(v["stages"][1]["missing"], 30);
    assert_eq!(v["stages"][2]["total"], 10);

    kill_mid_probe_stage(d.path());
    let before = completions(d.path(), "b");
    assert!(
        !before.is_empty() && before.len() < 42,
        "killed mid-stage: {} units done",
        before.len()
    );
    let (_, out, _) = gp(d.path(), &["plan", "b.yaml"]);
    assert!(out.contains("probe"), "{out}");

    // Started again: continues, same results, nothing finished is recomputed.
    let (code, out, err) = gp(d.path(), &["run", "b.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("already done"), "{out}");
    let after = completions(d.path(), "b");
    for (unit, n) in &after {
        assert_eq!(*n, 1, "{unit} completed {n} times");
    }
    assert_eq!(
        results(d.path(), "b"),
        reference,
        "same metrics as the uninterrupted run"
    );
    // A third run computes nothing.
    let (code, out, _) = gp(d.path(), &["run", "b.yaml"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("0 models embedded, 0 cells run, 40 already done"),
        "{out}"
    );
    let (_, out, _) = gp(d.path(), &["plan", "b.yaml"]);
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["probe", "30", "30", "0", "0"]),
        "{out}"
    );

    outputs_are_readable_and_reported(d.path());
}

/// Starts `run b.yaml` and SIGKILLs it once 8 cell stores exist.
fn kill_mid_probe_stage(dir: &std::path::Path) {
    let mut child = common::genoprot()
        .current_dir(dir)
        .args(["-q", "run", "b.yaml"])
        .spawn()
        .unwrap();
    let cells = dir.join("runs/b/cells");
    let t0 = Instant::now();
    loop {
        let n = std::fs::read_dir(&cells)
            .map(|r| {
                r.flatten()
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".h5"))
                    .count()
            })
            .unwrap_or(0);
        if n >= 8 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "no cells written in time"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

/// results.h5 read by h5py, a cell store's run attributes, the report's
/// files and its claims about tasks too small to rank.
fn outputs_are_readable_and_reported(dir: &std::path::Path) {
    let py = "import h5py, sys; f = h5py.File(sys.argv[1]); g = f['cells']; print(len(g['cell_id']), int(f.attrs['n_missing']), sorted(g.keys())[:3])";
    let o = Command::new(common::python_with_h5py())
        .args(["-c", py])
        .arg(dir.join("runs/b/results.h5"))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("40 0 ['accuracy', 'auprc', 'auroc']"),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    // A cell store says where it ran (h5py reads the attributes).
    let cell = std::fs::read_dir(dir.join("runs/b/cells"))
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with(".h5"))
        .unwrap()
        .path();
    let py = "import h5py, sys; a = h5py.File(sys.argv[1]).attrs; print(a['device'], a['local_rank'], repr(a['slurm_job']), len(a['host']) > 0)";
    let o = Command::new(common::python_with_h5py())
        .args(["-c", py])
        .arg(&cell)
        .output()
        .unwrap();
    let want = if cfg!(feature = "tch") {
        "LibTorch(Cpu) 0 '' True"
    } else {
        "Flex(Cpu) 0 '' True"
    };
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        want,
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for f in [
        "summary.md",
        "summary.csv",
        "ensemble_gain.csv",
        "task_scores.svg",
        "model_kinds.svg",
        "ensemble_gain.svg",
        "score_heatmap.svg",
        "score_heatmap.png",
        "ensemble_gain.png",
        "report.html",
    ] {
        assert!(dir.join("runs/b/report").join(f).exists(), "{f}");
    }
    let md = std::fs::read_to_string(dir.join("runs/b/report/summary.md")).unwrap();
    // Tasks of this small dataset are too small to rank: flagged (†), never
    // bolded, out of the leaderboard; sample sizes and provenance are listed.
    assert!(
        md.contains(" essential † (auroc) |") && md.contains("95% CI"),
        "{md}"
    );
    assert!(
        md.contains("too small to rank") && md.contains("## Sample sizes"),
        "{md}"
    );
    // The scores table: one column per task; the essential column is never bold.
    let table: Vec<&str> = md
        .lines()
        .skip_while(|l| !l.starts_with("## Scores per task"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .collect();
    let col = table[0]
        .split('|')
        .position(|c| c.trim() == "essential † (auroc)")
        .unwrap();
    assert!(table.len() > 3);
    for row in &table[2..] {
        let cell = row.split('|').nth(col).unwrap();
        assert!(!cell.contains("**") && cell.contains('±'), "{row}");
    }
    assert!(
        md.contains("## Provenance") && md.contains(workers::TOOL_VERSION),
        "{md}"
    );
}

#[test]
fn missing_cells_are_reported_and_ctrl_c_stops_cleanly() {
    let d = setup();
    // Aggregate before anything ran: every cell missing, listed, exit 0.
    let (code, out, err) = gp(d.path(), &["aggregate", "a.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("aggregated 0 cells"), "{out}");
    assert!(err.contains("40 of 40 cells are missing"), "{err}");
    // Ctrl-C: no new cells start, exit non-zero with a hint.
    let child = common::genoprot()
        .current_dir(d.path())
        .args(["-q", "run", "a.yaml"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let cells = d.path().join("runs/a/cells");
    let t0 = Instant::now();
    while common::cell_stores(&cells).len() < 2 {
        assert!(t0.elapsed() < Duration::from_secs(120));
        std::thread::sleep(Duration::from_millis(20));
    }
    Command::new("kill")
        .args(["-s", "INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("stopped by Ctrl-C") && err.contains("again to continue"),
        "{err}"
    );
    let (code, out, _) = gp(d.path(), &["run", "a.yaml"]);
    assert_eq!(code, 0);
    assert!(out.contains("already done"), "{out}");
}

#[test]
fn config_errors_name_file_line_and_column() {
    let d = setup();
    std::fs::write(
        d.path().join("bad.yaml"),
        CONFIG.replace("store: STORE", "stroe: x"),
    )
    .unwrap();
    let (code, _, err) = gp(d.path(), &["plan", "bad.yaml"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("bad.yaml:3:1: unknown field `stroe`")
            && err.contains("did you mean `store`?"),
        "{err}"
    );
    std::fs::write(
        d.path().join("bad2.yaml"),
        CONFIG.replace("[membrane, expression", "[membrane, expresion"),
    )
    .unwrap();
    let (code, _, err) = gp(d.path(), &["run", "bad2.yaml"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("bad2.yaml:5:") && err.contains("did you mean `expression`?"),
        "{err}"
    );
    let (code, _, err) = gp(d.path(), &["run", "missing.yaml"]);
    assert_eq!(code, 1);
    assert!(err.contains("missing.yaml:1:1: no such file"), "{err}");
}

/// `aggregate` keeps each row with its store's file stamp and reads again
/// only stores that changed: a metric rewritten in a store (by h5py, in
/// place) no longer matches the store's digest, so it is damaged and counted
/// missing (never read), a deleted store is missing, the others come back
/// equal; the next `run` computes both again, to the same rows.
#[test]
fn aggregate_rereads_only_changed_cell_stores() {
    let d = setup();
    let (code, _, err) = gp(d.path(), &["-q", "run", "a.yaml"]);
    assert_eq!(code, 0, "{err}");
    let cache = d.path().join("runs/a/journal/aggregate-rows.jsonl");
    assert_eq!(std::fs::read_to_string(&cache).unwrap().lines().count(), 40);
    let before = results(d.path(), "a");
    let ids: Vec<&String> = before.keys().collect();
    let (changed, deleted) = (ids[0].clone(), ids[1].clone());
    let cells = d.path().join("runs/a/cells");
    let py = common::python_with_h5py();
    let out = Command::new(&py)
        .arg("-c")
        .arg(
            "import h5py, sys\n\
             with h5py.File(sys.argv[1], 'r+') as f:\n    \
                 g = f['metrics']\n    \
                 for k in list(g.attrs):\n        \
                     g.attrs[k] = 0.125\n",
        )
        .arg(cells.join(format!("{changed}.h5")))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(cells.join(format!("{deleted}.h5"))).unwrap();
    let (code, _, err) = gp(d.path(), &["aggregate", "a.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("2 of 40 cells are missing"), "{err}");
    assert!(
        err.contains(&format!(
            "{changed}.h5: damaged: its content does not match its digest"
        )),
        "{err}"
    );
    let after = results(d.path(), "a");
    assert!(!after.contains_key(&deleted) && !after.contains_key(&changed));
    // No field is the rewritten value (a field may merely start with it).
    assert!(
        !after
            .values()
            .any(|r| r.split([',', '|']).any(|f| f == "0.125"))
    );
    for (id, row) in &after {
        assert_eq!(row, &before[id], "{id}");
    }
    let (code, _, err) = gp(d.path(), &["-q", "run", "a.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(results(d.path(), "a"), before);
}

/// Each cell computes on a thread pool of its own holding its share of the
/// cores: two workers (a thread each) and one worker with three threads
/// give byte-identical results, for the MLP and for the logistic probe (its
/// objective sums fixed 256-row blocks in order, whatever the threads).
#[test]
fn results_are_identical_whatever_threads_a_cell_gets() {
    let d = setup();
    let logreg = CONFIG.replace(
        "probe: {hidden: [32], max_epochs: 40, lr: 3.0e-3, batch: 64}",
        "probe: {kind: logreg, c: [0.1, 1.0]}",
    );
    assert_ne!(logreg, CONFIG);
    for (probe, config) in [("mlp", CONFIG), ("logreg", logreg.as_str())] {
        let mut stores = Vec::new();
        for (workers, threads) in [(2, "2"), (1, "3")] {
            let store = format!("{probe}-{workers}");
            std::fs::write(
                d.path().join(format!("{store}.yaml")),
                config
                    .replace("STORE", &format!("runs/{store}"))
                    .replace("workers: 2", &format!("workers: {workers}")),
            )
            .unwrap();
            let (code, _, err) = common::gp_env(
                d.path(),
                &["-q", "run", &format!("{store}.yaml")],
                &[("RAYON_NUM_THREADS", Path::new(threads))],
            );
            assert_eq!(code, 0, "{err}");
            stores.push(results(d.path(), &store));
            // Each cell's log ends with the threads it ran on: the demo's
            // cells are small, so their share (`cost::Shape::threads`).
            // (LibTorch runs its own threads: its logs end with the seconds.)
            let want = match (cfg!(feature = "tch"), workers) {
                (true, _) => " s\n",
                (false, 2) => ", 1 thread\n",
                (false, _) => ", 3 threads\n",
            };
            let logs = d.path().join(format!("runs/{store}/logs/cells"));
            for e in std::fs::read_dir(&logs).unwrap() {
                let log = std::fs::read_to_string(e.unwrap().path()).unwrap();
                assert!(log.ends_with(want), "{store}: {log}");
            }
        }
        assert_eq!(stores[0].len(), 40);
        assert_eq!(
            stores[0], stores[1],
            "{probe}: 2 workers × 1 thread vs 1 worker × 3 threads"
        );
    }
}

/// The worker that finishes a cell records its results row: a first
/// `aggregate` opens no cell store, and a store changed since its row was
/// recorded (its file stamp differs) is read again.
#[test]
fn aggregate_takes_the_rows_workers_recorded_while_their_stores_are_unchanged() {
    let d = setup();
    let (code, _, err) = gp(d.path(), &["-q", "run", "a.yaml"]);
    assert_eq!(code, 0, "{err}");
    let before = results(d.path(), "a");
    let journal = d.path().join("runs/a/journal");
    let rows = std::fs::read_to_string(journal.join("cell-rows.jsonl")).unwrap();
    assert_eq!(rows.lines().count(), 40);
    let aggregate = || {
        std::fs::remove_file(journal.join("aggregate-rows.jsonl")).unwrap();
        let (code, _, err) = common::gp_env(
            d.path(),
            &["aggregate", "a.yaml"],
            &[("RUST_LOG", Path::new("genoprot=debug"))],
        );
        assert_eq!(code, 0, "{err}");
        err
    };
    let err = aggregate();
    assert!(
        err.contains("aggregate: 0 cell stores read, 40 rows recorded by workers"),
        "{err}"
    );
    assert_eq!(results(d.path(), "a"), before);
    // A store rewritten in place (same bytes, new stamp) is read again.
    let cells = d.path().join("runs/a/cells");
    let one = std::fs::read_dir(&cells)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "h5"))
        .unwrap();
    let bytes = std::fs::read(&one).unwrap();
    let copy = one.with_extension("copy");
    std::fs::write(&copy, &bytes).unwrap();
    std::fs::rename(&copy, &one).unwrap();
    let err = aggregate();
    assert!(
        err.contains("aggregate: 1 cell stores read, 39 rows recorded by workers"),
        "{err}"
    );
    assert_eq!(results(d.path(), "a"), before);
}

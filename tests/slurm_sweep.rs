//! `genoprot submit | status | resume | cancel` against the real local Slurm:
//! stage arrays with dependencies, a number of sbatch calls that grows with
//! stages (not cells), resume of only what is missing, retries that give up,
//! cancel, and refused submissions that record nothing. Healing (retries
//! with no user action, time limits): tests/slurm_heal.rs.

mod common;

use slurm::{SlurmCli, wait_terminal};
use std::path::Path;
use std::time::Duration;

const CONFIG: &str = "name: slurm-e2e
dataset: data
store: runs/s
seeds: [0, 1]
tasks: [membrane, expression, essential]
models:
  - {name: rscu, kind: codon, rscu: true}
  - {name: aac, kind: kmer, modality: protein, k: 1}
ensembles:
  - {name: both, members: [rscu, aac], fusion: [concat, mean-prob]}
probe: {hidden: [16], max_epochs: 15}
executor:
  kind: slurm
  workers: 1
  slurm: {partition: PARTITION, time: \"00:10:00\", cells_per_task: 4, throttle: 4, retries: 1}
";

fn setup(partition: &str) -> tempfile::TempDir {
    common::require_slurm();
    let d = tempfile::tempdir().unwrap();
    let out = common::genoprot()
        .current_dir(d.path())
        .args([
            "-q", "dataset", "synth", "--out", "data", "--genes", "150", "--seed", "3",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::write(
        d.path().join("s.yaml"),
        CONFIG.replace("PARTITION", partition),
    )
    .unwrap();
    d
}

fn gp(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let mut c = common::genoprot();
    c.current_dir(dir)
        .args(args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    let out = common::run_with_timeout(c, Duration::from_secs(120));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn jobs(dir: &Path) -> Vec<serde_json::Value> {
    common::slurm_jobs(&dir.join("runs/s"))
}

/// `plan` counts all 18 probe cells of CONFIG as done, none missing or failed.
fn assert_all_probe_cells_done(dir: &Path) {
    let (_, out, _) = gp(dir, &["plan", "s.yaml"]);
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["probe", "18", "18", "0", "0"]),
        "{out}"
    );
}

/// Waits (with a timeout) until every recorded job is finished and no
/// finishing job submitted another attempt.
fn wait_all(dir: &Path) {
    common::wait_for_slurm_chain(&dir.join("runs/s"), Duration::from_secs(300));
}

#[test]
fn submit_runs_the_sweep_as_stage_arrays_and_resume_submits_only_what_is_missing() {
    let d = setup("pdebug");
    let p = d.path();
    // Dry run: scripts and commands, nothing submitted.
    let (code, out, err) = gp(p, &["submit", "s.yaml", "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("#SBATCH --partition=pdebug") && out.contains("#SBATCH --time=00:10:00"),
        "{out}"
    );
    assert!(
        out.contains("--array=0-1%4")
            && out.contains("--dependency=afterany:<embed>")
            && out.contains("--dependency=afterany:<probe>")
            && out.contains("--dependency=afterany:<embed>:<probe>:<fusion>"),
        "{out}"
    );
    assert!(jobs(p).is_empty(), "a dry run records nothing");

    let (code, out, err) = gp(p, &["submit", "s.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("submitted embed job") && out.contains("submitted aggregate job"),
        "{out}"
    );
    // 3 tasks x 2 seeds x (2 models + concat) = 18 probe cells + 6 late cells, yet 4 sbatch calls.
    assert_eq!(jobs(p).len(), 4);
    let stages: Vec<String> = jobs(p)
        .iter()
        .map(|j| j["stage"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(stages, ["embed", "probe", "fusion", "aggregate"]);
    // Submitting again while queued or running duplicates nothing.
    let (code, out, _) = gp(p, &["submit", "s.yaml"]);
    assert_eq!(code, 0);
    assert_eq!(jobs(p).len(), 4, "{out}");
    wait_all(p);

    let (_, out, _) = gp(p, &["status", "s.yaml"]);
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().take(5).collect::<Vec<_>>()
                == ["probe", "18", "18", "0", "0"]),
        "{out}"
    );
    assert!(out.contains("COMPLETED"), "{out}");
    assert!(p.join("runs/s/results.h5").exists() && p.join("runs/s/report/summary.md").exists());
    assert!(p.join("runs/s/slurm/probe.sh").exists());
    let (_, out, _) = gp(p, &["resume", "s.yaml"]);
    assert!(out.contains("nothing to submit"), "{out}");

    // Lose two cells: resume submits just their bundles (and the aggregate).
    let grid_cells = common::cell_stores(&p.join("runs/s/cells"));
    let plan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.join("runs/s/journal/plan.json")).unwrap())
            .unwrap();
    let first = plan["cells"][0]["id"].as_str().unwrap();
    let last = plan["cells"][17]["id"].as_str().unwrap();
    for id in [first, last] {
        std::fs::remove_file(p.join(format!("runs/s/cells/{id}.h5"))).unwrap();
    }
    assert_eq!(grid_cells.len(), 24);
    let (code, out, err) = gp(p, &["resume", "s.yaml"]);
    assert_eq!(code, 0, "{err}");
    let j = jobs(p);
    assert_eq!(j.len(), 6, "{out}");
    assert_eq!(j[4]["stage"], "probe");
    assert_eq!(j[4]["indices"], serde_json::json!([0]), "one bundle");
    let manifest = std::fs::read_to_string(j[4]["bundles"].as_str().unwrap()).unwrap();
    assert_eq!(manifest, format!("{first},{last}\n"), "only the lost cells");
    wait_all(p);
    assert_all_probe_cells_done(p);
}

#[test]
fn failed_tasks_are_shown_retried_then_given_up_and_cancel_works() {
    let d = setup("pdebug");
    let p = d.path();
    // A model whose external command always fails.
    std::fs::write(
        p.join("s.yaml"),
        CONFIG.replace("PARTITION", "pdebug").replace("  - {name: aac, kind: kmer, modality: protein, k: 1}", "  - {name: aac, kind: kmer, modality: protein, k: 1}\n  - {name: bad, kind: command, modality: dna, command: \"echo model exploded >&2; exit 3\"}"),
    )
    .unwrap();
    // Cancelled at once: cancelled tasks are not attempts.
    let (code, _, err) = gp(p, &["submit", "s.yaml"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = gp(p, &["cancel", "s.yaml"]);
    assert_eq!(code, 0);
    assert!(out.contains("cancelled jobs"), "{out}");
    let ids: Vec<String> = jobs(p)
        .iter()
        .map(|j| j["job_id"].as_str().unwrap().to_string())
        .collect();
    let st = wait_terminal(
        &SlurmCli::new(),
        &ids,
        Duration::from_secs(60),
        Duration::from_millis(500),
    )
    .unwrap();
    assert!(st.iter().all(|t| t.state.is_terminal()), "{st:?}");
    // Resumed: the healthy models' cells finish; the bad model is tried
    // twice (retries: 1), then given up by the finishing job, which reports
    // what finished.
    let (code, out, err) = gp(p, &["resume", "s.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("submitted embed job"), "{out}");
    wait_all(p);
    let (_, out, _) = gp(p, &["status", "s.yaml"]);
    assert!(
        out.contains("failed: embed")
            && out.contains("FAILED (exit 1")
            && out.contains("attempt 2 of 2")
            && out.contains("gp-slurm-e2e-embed-"),
        "{out}"
    );
    assert!(
        out.contains("retries exhausted for") && out.contains("embed bad after 2 attempts"),
        "{out}"
    );
    let failed_log = out
        .lines()
        .find(|l| l.starts_with("failed: embed"))
        .unwrap()
        .rsplit(" log ")
        .next()
        .unwrap()
        .to_string();
    let log = std::fs::read_to_string(p.join(&failed_log)).unwrap();
    assert!(log.contains("model exploded"), "{log}");
    // The healthy models' cells are done and reported.
    assert!(p.join("runs/s/report/summary.md").exists());
    let (_, out, _) = gp(p, &["--json", "status", "s.yaml"]);
    let s: serde_json::Value = serde_json::from_str(&out).unwrap();
    let probe = &s["stages"][1];
    assert_eq!(probe["stage"], "probe");
    assert_eq!(
        probe["done"], 18,
        "rscu, aac and their concat: 3 × 3 tasks × 2 seeds; {s}"
    );
    assert_eq!(probe["total"], 24);
    // A manual resume does not resubmit what was given up.
    let (code, out, err) = gp(p, &["resume", "s.yaml"]);
    assert_eq!(code, 0);
    assert!(
        err.contains("embed bad failed on every attempt (retries exhausted"),
        "{out}{err}"
    );
    // Unless asked to: attempts count from now.
    let (code, out, err) = gp(p, &["resume", "s.yaml", "--retry-given-up"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("submitted embed job"), "{out}");
    gp(p, &["cancel", "s.yaml"]);
}

#[test]
fn a_refused_submission_carries_sbatch_message_and_records_nothing() {
    let d = setup("no-such-partition");
    let (code, _, err) = gp(d.path(), &["submit", "s.yaml"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("embed array")
            && err.contains("sbatch refused")
            && err.to_lowercase().contains("invalid partition"),
        "{err}"
    );
    assert!(jobs(d.path()).is_empty());
    // Local-executor configs are pointed to `genoprot run`.
    std::fs::write(
        d.path().join("l.yaml"),
        CONFIG
            .replace("kind: slurm", "kind: local")
            .replace("PARTITION", "pdebug"),
    )
    .unwrap();
    let (code, _, err) = gp(d.path(), &["submit", "l.yaml"]);
    assert_eq!(code, 1);
    assert!(err.contains("executor.kind is local"), "{err}");
}

#[test]
fn multi_task_jobs_launch_mpi_ranks() {
    let d = setup("pdebug");
    let p = d.path();
    std::fs::write(
        p.join("s.yaml"),
        CONFIG.replace("PARTITION", "pdebug").replace(
            "cells_per_task: 4,",
            "cells_per_task: 4, ntasks_per_node: 2, launcher: mpirun,",
        ),
    )
    .unwrap();
    let (code, out, err) = gp(p, &["submit", "s.yaml", "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("#SBATCH --ntasks-per-node=2")
            && out.contains("exec mpirun -np \"$SLURM_NTASKS\" "),
        "{out}"
    );
    let (code, _, err) = gp(p, &["submit", "s.yaml"]);
    assert_eq!(code, 0, "{err}");
    wait_all(p);
    assert_all_probe_cells_done(p);
    // The embed tasks ran on 2 ranks.
    let logs: String = std::fs::read_dir(p.join("runs/s/logs/slurm"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("-embed-"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(logs.contains("on 2 ranks"), "{logs}");
}

#[test]
fn gpu_requests_reach_slurm_and_each_rank_gets_its_own_gpu() {
    // The local cluster has two stand-in GPUs (scripts/slurm-up.sh): Slurm
    // allocates and binds them like real ones, nothing computes on them.
    let d = setup("pdebug");
    let p = d.path();
    let gpu_cfg = |device: &str| {
        CONFIG.replace("PARTITION", "pdebug").replace(
            "cells_per_task: 4,",
            "cells_per_task: 4, ntasks_per_node: 2, gpus_per_task: 1, launcher: srun,",
        ) + &format!("device: {device}\n")
    };
    if !cfg!(feature = "tch") {
        // This build has no GPU backend: refused before anything is submitted.
        std::fs::write(p.join("s.yaml"), gpu_cfg("cuda")).unwrap();
        let (code, _, err) = gp(p, &["submit", "s.yaml"]);
        assert_eq!(code, 1);
        assert!(
            err.contains("s.yaml: device: device `cuda` needs a GPU backend")
                && err.contains("--features tch"),
            "{err}"
        );
        assert!(jobs(p).is_empty());
    }
    let gres = std::process::Command::new("sinfo")
        .args(["-h", "-o", "%G"])
        .output()
        .unwrap();
    if !String::from_utf8_lossy(&gres.stdout).contains("gpu") {
        // slurm-up.sh could not mknod its stand-in GPUs on this machine.
        eprintln!("SKIPPED the GPU part: the local Slurm has no gres gpu (see slurm-up.sh)");
        return;
    }
    // `auto`: GPUs where the build and the node have them, else the CPU.
    std::fs::write(p.join("s.yaml"), gpu_cfg("auto")).unwrap();
    let (code, out, err) = gp(p, &["submit", "s.yaml", "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.matches("#SBATCH --gpus-per-task=1").count(), 3, "{out}");
    let agg = out.split("aggregate.sh <==").nth(1).unwrap();
    assert!(!agg.contains("gpus"), "{agg}");
    let (code, _, err) = gp(p, &["submit", "s.yaml"]);
    assert_eq!(code, 0, "{err}");
    wait_all(p);
    assert_all_probe_cells_done(p);
    // Each srun task saw only its own GPU; cells record where they ran.
    let mut seen = std::collections::BTreeSet::new();
    for e in common::cell_stores(&p.join("runs/s/cells")) {
        let c = workers::probe::cell::CellResult::read(&e).unwrap();
        seen.insert(c.runtime["cuda_visible_devices"].clone());
        assert!(!c.runtime["slurm_job"].is_empty());
        let dev = &c.runtime["device"];
        assert!(
            dev.starts_with(if cfg!(feature = "tch") {
                "LibTorch"
            } else {
                "Flex"
            }),
            "{dev}"
        );
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["0", "1"],
        "each rank should see one GPU"
    );
}

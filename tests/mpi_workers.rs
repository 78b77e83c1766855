//! MPI-distributed workers: `mpirun -np 2` embedding equals single-rank
//! embedding bit for bit; a probe bundle over 2 ranks equals the serial one;
//! a 2-task job inside the local Slurm runs the MPI worker end to end.

mod common;

use slurm::{JobOptions, JobState, Resources, Scheduler, SlurmCli, wait_terminal};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn setup() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let out = common::genoprot()
        .current_dir(d.path())
        .args([
            "-q", "dataset", "synth", "--out", "data", "--genes", "120", "--seed", "9",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    for s in ["serial", "mpi", "slurm"] {
        std::fs::write(
            d.path().join(format!("{s}.yaml")),
            format!(
                "name: {s}\ndataset: data\nstore: runs/{s}\nseeds: [0, 1]\ntasks: [membrane, expression, interact]\nmodels:\n  - {{name: k4, kind: kmer, modality: dna, k: 4}}\n  - {{name: aac, kind: kmer, modality: protein, k: 1}}\nprobe: {{hidden: [16], max_epochs: 15}}\nexecutor: {{workers: 1}}\n"
            ),
        )
        .unwrap();
    }
    d
}

fn mpirun(dir: &Path, np: &str, args: &[&str]) -> String {
    let mut c = Command::new("mpirun");
    c.current_dir(dir)
        .args(["--oversubscribe", "-np", np])
        .arg(env!("CARGO_BIN_EXE_genoprot"))
        .args(args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    let out = common::run_with_timeout(c, Duration::from_secs(180));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    text
}

fn gp(dir: &Path, args: &[&str]) -> String {
    let out = common::genoprot()
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// cell id → metric columns of results.csv (timings left out).
fn metrics(dir: &Path, store: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_to_string(dir.join(format!("runs/{store}/results.csv")))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').take(16).collect::<Vec<_>>().join(","))
        .collect();
    v.sort();
    v
}

#[test]
fn two_ranks_equal_one_rank_for_embedding_and_probing() {
    let d = setup();
    let p = d.path();
    for m in ["k4", "aac"] {
        gp(
            p,
            &[
                "-q",
                "worker",
                "embed",
                "--config",
                "serial.yaml",
                "--model",
                m,
            ],
        );
        let out = mpirun(
            p,
            "2",
            &["worker", "embed", "--config", "mpi.yaml", "--model", m],
        );
        assert!(
            out.contains(&format!("{m}: embedded 120 genes on 2 ranks")),
            "{out}"
        );
        let a = workers::store::Embeddings::read(&p.join(format!("runs/serial/embeddings/{m}.h5")))
            .unwrap();
        let b = workers::store::Embeddings::read(&p.join(format!("runs/mpi/embeddings/{m}.h5")))
            .unwrap();
        assert_eq!(a.ids, b.ids);
        assert_eq!(a.emb, b.emb, "{m}: bit for bit");
        assert_eq!(a.meta.config_hash, b.meta.config_hash);
    }
    gp(
        p,
        &[
            "-q",
            "worker",
            "probe",
            "--config",
            "serial.yaml",
            "--stage",
            "probe",
            "--bundle",
            "0",
            "--bundle-size",
            "100",
        ],
    );
    let out = mpirun(
        p,
        "2",
        &[
            "-q",
            "worker",
            "probe",
            "--config",
            "mpi.yaml",
            "--stage",
            "probe",
            "--bundle",
            "0",
            "--bundle-size",
            "100",
        ],
    );
    assert!(out.contains("rank 0:") && out.contains("rank 1:"), "{out}");
    let per_rank: usize = out
        .lines()
        .filter_map(|l| {
            l.split(": ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .sum();
    assert_eq!(
        per_rank, 12,
        "every cell run exactly once across ranks: {out}"
    );
    gp(p, &["-q", "aggregate", "serial.yaml"]);
    gp(p, &["-q", "aggregate", "mpi.yaml"]);
    assert_eq!(metrics(p, "serial"), metrics(p, "mpi"));
    assert_eq!(metrics(p, "serial").len(), 12);
}

#[test]
fn a_two_task_slurm_job_runs_the_mpi_worker() {
    common::require_slurm();
    let d = setup();
    let p = d.path();
    let exe = env!("CARGO_BIN_EXE_genoprot");
    let script = p.join("mpi.sh");
    let opts = JobOptions {
        job_name: Some("gp-mpi-test".into()),
        resources: Resources {
            partition: Some("pdebug".into()),
            time: Some("00:05:00".into()),
            extra: vec!["--ntasks=2".into()],
            ..Default::default()
        },
        output: Some(p.join("mpi-%j.out").display().to_string()),
        ..Default::default()
    };
    std::fs::write(
        &script,
        opts.render(&format!(
            "cd {}\nexport OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1\nmpirun -np 2 {exe} worker embed --config slurm.yaml --model k4\n",
            p.display()
        ))
        .unwrap(),
    )
    .unwrap();
    let sched = SlurmCli::new();
    let job = sched.submit(&script, &[]).unwrap();
    let st = wait_terminal(
        &sched,
        std::slice::from_ref(&job),
        Duration::from_secs(180),
        Duration::from_millis(500),
    )
    .unwrap();
    let log = std::fs::read_to_string(p.join(format!("mpi-{job}.out"))).unwrap_or_default();
    assert_eq!(st[0].state, JobState::Completed, "{log}");
    assert!(log.contains("k4: embedded 120 genes on 2 ranks"), "{log}");
    gp(
        p,
        &[
            "-q",
            "worker",
            "embed",
            "--config",
            "serial.yaml",
            "--model",
            "k4",
        ],
    );
    let a = workers::store::Embeddings::read(&p.join("runs/serial/embeddings/k4.h5")).unwrap();
    let b = workers::store::Embeddings::read(&p.join("runs/slurm/embeddings/k4.h5")).unwrap();
    assert_eq!(a.emb, b.emb);
}

//! Probes through the binary: a linear probe's fit is recorded in each cell
//! store (read back by h5py too), a fit stopped by `max_iter` is a warning in
//! the run's log, the journal, `status` and the report, and the report names
//! the probe; `kind: ridge` on classification tasks is refused before work.

mod common;

use common::gp;

use std::path::Path;

fn sweep(dir: &Path, name: &str, tasks: &str, probe: &str) {
    std::fs::write(
        dir.join(format!("{name}.yaml")),
        format!(
            "name: {name}\ndataset: data\nstore: runs/{name}\nseeds: [0]\ntasks: {tasks}\n\
             models:\n  - {{name: dipep, kind: kmer, modality: protein, k: 2}}\nprobe: {probe}\n"
        ),
    )
    .unwrap();
}

#[test]
fn a_linear_fit_that_stops_early_is_recorded_and_warned_about() {
    let d = tempfile::tempdir().unwrap();
    let (code, _, err) = gp(
        d.path(),
        &["-q", "dataset", "synth", "--out", "data", "--genes", "120"],
    );
    assert_eq!(code, 0, "{err}");
    // Converged: every classification cell solved to tol, regression by ridge.
    sweep(
        d.path(),
        "ok",
        "[membrane, fold_class, expression]",
        "{kind: logreg, c: [0.1, 1.0]}",
    );
    let (code, _, err) = gp(d.path(), &["run", "ok.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("did not converge"), "{err}");
    let cells: Vec<_> = common::cell_stores(&d.path().join("runs/ok/cells"))
        .iter()
        .map(|p| workers::probe::cell::CellResult::read(p).unwrap())
        .collect();
    assert_eq!(cells.len(), 3);
    for c in &cells {
        let fit = c.fit.as_ref().unwrap();
        assert!(fit.converged, "{}: {fit:?}", c.task);
        if c.task == "expression" {
            assert_eq!((fit.solver.as_str(), c.probe_c), ("cholesky", None));
            assert!(c.probe_alpha.is_some());
        } else {
            assert_eq!(fit.solver, "lbfgs");
            assert!([Some(0.1), Some(1.0)].contains(&c.probe_c));
        }
    }
    let summary = std::fs::read_to_string(d.path().join("runs/ok/report/summary.md")).unwrap();
    assert!(
        summary
            .contains("Probe: linear — logistic regression (L-BFGS to max |gradient| ≤ 0.000001"),
        "{summary}"
    );
    // The fits converged; a grid of two values always puts the choice at
    // an edge, and the report says so (not as a failed fit).
    assert!(!summary.contains("did not converge"), "{summary}");
    assert!(
        summary.contains("**Grid edge**: C at the grid's edge in 2/2 classification cells"),
        "{summary}"
    );

    // Two iterations: not converged, and said so everywhere.
    sweep(
        d.path(),
        "short",
        "[membrane]",
        "{kind: logreg, c: 1.0, max_iter: 2}",
    );
    let (code, _, err) = gp(d.path(), &["run", "short.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(
            "the linear probe did not converge (lbfgs stopped by max_iter after 2 iterations"
        ),
        "{err}"
    );
    let (code, out, err) = gp(d.path(), &["status", "short.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("warnings: 1 finished cells need a look"),
        "{out}"
    );
    let summary = std::fs::read_to_string(d.path().join("runs/short/report/summary.md")).unwrap();
    assert!(
        summary.contains("Warning: 1 cells finished with a warning")
            && summary.contains("raise probe.max_iter"),
        "{summary}"
    );
    let cell = common::cell_stores(&d.path().join("runs/short/cells"))[0].clone();
    let py = common::python_with_h5py();
    let out = std::process::Command::new(&py)
        .arg("-c")
        .arg(
            "import h5py, sys; a = h5py.File(sys.argv[1]).attrs; \
             print(a['solver'], int(a['converged']), int(a['iterations']), a['stop_reason'], float(a['grad_norm']) > 0)",
        )
        .arg(&cell)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "lbfgs 0 2 max_iter True",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ridge_on_classification_tasks_is_refused_before_any_work() {
    let d = tempfile::tempdir().unwrap();
    let (code, _, err) = gp(
        d.path(),
        &["-q", "dataset", "synth", "--out", "data", "--genes", "60"],
    );
    assert_eq!(code, 0, "{err}");
    sweep(d.path(), "r", "all", "{kind: ridge}");
    for cmd in ["plan", "run"] {
        let (code, _, err) = gp(d.path(), &[cmd, "r.yaml"]);
        assert_eq!(code, 1, "{cmd}: {err}");
        assert!(
            err.contains("probe.kind ridge fits regression tasks")
                && err.contains("use kind: logreg"),
            "{cmd}: {err}"
        );
        assert!(!d.path().join("runs/r").exists(), "{cmd} wrote a store");
    }
    // Regression tasks only: fine.
    sweep(
        d.path(),
        "r2",
        "[expression]",
        "{kind: ridge, alpha: [1.0, 10.0]}",
    );
    let (code, _, err) = gp(d.path(), &["-q", "run", "r2.yaml"]);
    assert_eq!(code, 0, "{err}");
}

//! A cell can be refit by anyone: from its stored training split and the
//! model's embedding store alone, scikit-learn's LogisticRegression
//! (`scripts/refit_cell.py`, the docs' example) reproduces the stored test
//! AUROC of a gene cell and of a pair cell to 1e-4. The same sweep's grid of
//! two C values puts every chosen C at an edge: the cell log, `status` and
//! the report say so.

mod common;

use common::gp;
use std::process::Command;

const CONFIG: &str = "name: refit
dataset: data
store: runs/f
seeds: [0, 1]
tasks: [membrane, interact]
models:
  - {name: dipep, kind: kmer, modality: protein, k: 2}
probe: {kind: logreg, c: [0.03, 0.1]}
executor: {workers: 2}
";

/// `config` run on 300 synthetic genes (seed 3), in a new folder.
fn sweep(config: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    common::synth_data(d.path(), 300, 3);
    std::fs::write(d.path().join("f.yaml"), config).unwrap();
    let (c, o, e) = gp(d.path(), &["-q", "run", "f.yaml"]);
    assert_eq!(c, 0, "{o}{e}");
    d
}

#[test]
fn scikit_learn_refits_gene_and_pair_cells_from_the_stored_split() {
    let d = sweep(CONFIG);
    let results = std::fs::read_to_string(d.path().join("runs/f/results.csv")).unwrap();
    let cells: Vec<(&str, &str)> = results
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[0], c[4])
        })
        .collect();
    assert_eq!(cells.len(), 4, "{results}");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/refit_cell.py");
    for (id, task) in cells {
        let o = Command::new(common::python_with_h5py())
            .arg(&script)
            .arg(d.path().join("runs/f"))
            .arg(id)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let field = |k: &str| -> f64 {
            let w: Vec<&str> = out.split_whitespace().collect();
            let i = w.iter().position(|x| *x == k).unwrap();
            w[i + 1].parse().unwrap()
        };
        let scope = if task == "interact" { "pair" } else { "gene" };
        assert!(out.contains(&format!(" {scope} ")), "{out}");
        let (stored, refit) = (field("stored_auroc"), field("refit_auroc"));
        assert!(stored > 0.55, "{out}");
        assert!((stored - refit).abs() < 1e-4, "{task}: {out}");
    }
}

#[test]
fn a_chosen_c_at_the_grid_edge_reaches_the_log_status_and_report() {
    let d = sweep(&CONFIG.replace("seeds: [0, 1]", "seeds: [0]"));
    let md = std::fs::read_to_string(d.path().join("runs/f/report/summary.md")).unwrap();
    assert!(
        md.contains(
            "**Grid edge**: C at the grid's edge in 2/2 classification cells: widen `probe.c`"
        ),
        "{md}"
    );
    let (c, o, e) = gp(d.path(), &["status", "f.yaml"]);
    assert_eq!(c, 0, "{e}");
    assert!(o.contains("warnings: 2 finished cells need a look"), "{o}");
    assert!(
        o.contains("value of the grid [0.03, 0.1]: the best may lie beyond it; widen probe.c"),
        "{o}"
    );
    let logs: String = std::fs::read_dir(d.path().join("runs/f/logs/cells"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(logs.matches("— AT THE EDGE: C = ").count(), 2, "{logs}");
}

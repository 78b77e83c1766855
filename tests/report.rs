//! The report of a real sweep: the tidy results read back by pandas (Parquet
//! equal to the CSV), `report.html` opened in headless Chromium (its script
//! runs, no console message, a screenshot), the statistics sections, and a
//! rerun with nothing new that does not rebuild the report.

mod common;

use common::gp;
use std::path::{Path, PathBuf};
use std::process::Command;

const CONFIG: &str = "name: report
dataset: data
store: runs/r
seeds: [0, 1]
tasks: [membrane, expression, fold_class, interact]
models:
  - {name: rscu, kind: codon, rscu: true}
  - {name: dipep, kind: kmer, modality: protein, k: 2}
  - {name: aac, kind: kmer, modality: protein, k: 1}
ensembles:
  - {name: both, members: [rscu, dipep], fusion: [concat-balanced, stacking]}
executor: {workers: 2}
report: {min_positives: 13}
";

fn sweep() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let (c, _, e) = gp(
        d.path(),
        &[
            "-q", "dataset", "synth", "--out", "data", "--genes", "400", "--seed", "5",
        ],
    );
    assert_eq!(c, 0, "{e}");
    std::fs::write(d.path().join("r.yaml"), CONFIG).unwrap();
    let (c, o, e) = gp(d.path(), &["run", "r.yaml"]);
    assert_eq!(c, 0, "{o}{e}");
    d
}

/// Debian's Chromium (`scripts/install-deps.sh` installs it).
fn chromium() -> PathBuf {
    let p = PathBuf::from(std::env::var("GENOPROT_CHROMIUM").unwrap_or("/usr/bin/chromium".into()));
    assert!(
        p.exists(),
        "no Chromium at {}: run `bash scripts/install-deps.sh` (Debian's chromium) or set GENOPROT_CHROMIUM",
        p.display()
    );
    p
}

/// Chromium headless on `page` with `extra` arguments: (stdout, stderr).
fn headless(page: &Path, profile: &Path, extra: &[&str]) -> (String, String) {
    let mut c = Command::new(chromium());
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(extra)
    .arg(format!("file://{}", page.display()));
    let out = common::run_with_timeout(c, std::time::Duration::from_secs(120));
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_report_reads_back_renders_in_chromium_and_is_not_rebuilt_for_nothing() {
    let d = sweep();
    let dir = d.path().join("runs/r/report");

    // Tidy data: 4 tasks × (3 models + 2 fusions) × 2 seeds = 40 cells × 8 metrics;
    // pandas reads the Parquet file with the same rows as the CSV.
    let py = "import pandas as pd, sys\n\
              p = pd.read_parquet(sys.argv[1] + '/results_long.parquet')\n\
              c = pd.read_csv(sys.argv[1] + '/results_long.csv', keep_default_na=False, na_values={'value': [''], 'test_positives': ['']})\n\
              for k in ['cell_id', 'model', 'modality', 'fusion', 'members', 'task', 'category', 'kind', 'metric']: c[k] = c[k].astype(str)\n\
              c['test_positives'] = c['test_positives'].astype('Int64'); p['test_positives'] = p['test_positives'].astype('Int64')\n\
              p = p.astype({k: str for k in ['cell_id', 'model', 'modality', 'fusion', 'members', 'task', 'category', 'kind', 'metric']})\n\
              pd.testing.assert_frame_equal(p, c, check_dtype=False)\n\
              print(len(p), sorted(set(p['modality'])), int(p['primary'].sum()))";
    let o = Command::new(common::python_with_h5py())
        .args(["-c", py])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "320 ['dna', 'ensemble', 'protein'] 40",
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // The page: the sort script ran over every table, nothing on the console.
    let page = dir.join("report.html");
    let profile = tempfile::tempdir().unwrap();
    let (dom, log) = headless(&page, &profile.path().join("a"), &["--dump-dom"]);
    let tables = std::fs::read_to_string(&page)
        .unwrap()
        .matches("<table>")
        .count();
    assert!(tables >= 8, "{tables} tables");
    assert!(
        dom.contains(&format!("data-sortable=\"{tables}\"")),
        "the sort script did not run: {}",
        &dom[..dom.len().min(400)]
    );
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:?}");
    let shot = profile.path().join("shot.png");
    headless(
        &page,
        &profile.path().join("b"),
        &[
            "--window-size=1400,2000",
            &format!("--screenshot={}", shot.display()),
        ],
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.len() > 20_000 && &png[1..4] == b"PNG",
        "{} bytes",
        png.len()
    );

    // Every section a reader needs.
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    for s in [
        "## Leaderboard",
        "## Scores per task",
        "## Statistics",
        "Holm's method",
        "## Does the ensemble beat its best member?",
        "## Is the top row better than the runner-up?",
        "## DNA vs protein vs multimodal vs ensemble",
        "## Sample sizes",
        "## Provenance",
        "![per-task scores](task_scores.svg)",
        "- splits: train/valid/test fractions [0.7, 0.15, 0.15]",
        "- gene groups: the synthetic generator's protein families",
        "- pair tasks: gene-disjoint",
    ] {
        assert!(md.contains(s), "{s} missing from summary.md");
    }
    let comparisons = std::fs::read_to_string(dir.join("comparisons.csv")).unwrap();
    assert!(
        comparisons
            .lines()
            .any(|l| l.starts_with("top-vs-runner-up,"))
            && comparisons
                .lines()
                .any(|l| l.starts_with("ensemble-vs-best-member,")),
        "{comparisons}"
    );

    too_small_tasks_are_in_no_claim_family_bold_or_scale(&dir, &md);

    // Nothing new: the report is not rebuilt (files untouched); --force rebuilds.
    let before = std::fs::metadata(dir.join("summary.md"))
        .unwrap()
        .modified()
        .unwrap();
    let (c, _, e) = gp(d.path(), &["run", "r.yaml"]);
    assert_eq!(c, 0, "{e}");
    assert!(e.contains("is up to date"), "{e}");
    let after = std::fs::metadata(dir.join("summary.md"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after);
    // JSON says whether the report was rebuilt.
    let (c, o, e) = gp(d.path(), &["--json", "report", "r.yaml"]);
    assert_eq!(c, 0, "{e}");
    let v: serde_json::Value = serde_json::from_str(&o).unwrap();
    assert_eq!(v["report_rebuilt"], serde_json::json!(false), "{o}");
    let (c, o, e) = gp(d.path(), &["--json", "report", "--force", "r.yaml"]);
    assert_eq!(c, 0, "{e}");
    assert!(e.contains("report written"), "{e}");
    let v: serde_json::Value = serde_json::from_str(&o).unwrap();
    assert_eq!(v["report_rebuilt"], serde_json::json!(true), "{o}");
    // The comparisons came from the cache the first run wrote: the same
    // intervals, to the last digit.
    assert_eq!(
        std::fs::read_to_string(dir.join("comparisons.csv")).unwrap(),
        comparisons
    );
}

/// Numbers of a CSV file by column name, one map per line.
fn csv_rows(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let head: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    lines
        .map(|l| {
            head.iter()
                .cloned()
                .zip(l.split(',').map(String::from))
                .collect()
        })
        .collect()
}

/// `fold_class` has 12 test positives, under `report.min_positives: 13`:
/// it is shown (†) but in no claim count, no Holm family, no bold, and it
/// sets no colour scale.
fn too_small_tasks_are_in_no_claim_family_bold_or_scale(dir: &Path, md: &str) {
    assert!(md.contains("fold_class"), "{md}");
    let gains = csv_rows(&dir.join("ensemble_gain.csv"));
    let small: Vec<_> = gains.iter().filter(|r| r["task"] == "fold_class").collect();
    assert_eq!(small.len(), 2, "{gains:?}");
    for r in &small {
        assert_eq!(
            (
                r["ranked"].as_str(),
                r["verdict"].as_str(),
                r["p_holm"].as_str(),
                r["p_equiv_holm"].as_str()
            ),
            ("false", "too-small", "", ""),
            "{r:?}"
        );
    }
    let ranked = gains.iter().filter(|r| r["ranked"] == "true").count();
    assert_eq!(ranked, gains.len() - 2);
    assert!(md.contains(&format!(
        "{ranked} ensemble-vs-best-member comparisons on rankable tasks; 2 on tasks too small to rank are left out"
    )));
    // The Holm families: every ranked, non-identical comparison, no other.
    let all = csv_rows(&dir.join("comparisons.csv"));
    let family = all
        .iter()
        .filter(|r| r["ranked"] == "true" && r["verdict"] != "identical")
        .count();
    assert!(all.iter().all(
        |r| (r["p_holm"].is_empty()) == (r["ranked"] != "true" || r["verdict"] == "identical")
    ));
    assert!(
        md.contains(&format!("family of {family} comparisons")),
        "{family}"
    );
    assert!(!md.contains("matches (no significant difference)") && !md.contains("not significant"));
    // Never bold: the scores table's fold_class column, the kinds table's row.
    let scores = md
        .split("## Scores per task")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .nth(1)
        .unwrap();
    let head: Vec<&str> = scores.lines().next().unwrap().split('|').collect();
    let col = head
        .iter()
        .position(|c| c.contains("fold_class †"))
        .expect("fold_class †");
    for l in scores.lines().skip(2) {
        assert!(!l.split('|').nth(col).unwrap().contains("**"), "{l}");
    }
    let kinds = md.split("## DNA vs protein").nth(1).unwrap();
    let row = kinds
        .lines()
        .find(|l| l.starts_with("| fold_class †"))
        .expect("kinds row");
    assert!(!row.contains("**"), "{row}");
    // The scales: the AUROC colour bar tops at the best rankable AUROC; the
    // gain bar at the largest rankable |gain| (at least 0.01).
    let summary = csv_rows(&dir.join("summary.csv"));
    let best_auroc = summary
        .iter()
        .filter(|r| r["metric"] == "auroc" && r["task"] != "fold_class")
        .map(|r| r["mean"].parse::<f64>().unwrap())
        .fold(f64::NEG_INFINITY, f64::max);
    let heat = std::fs::read_to_string(dir.join("score_heatmap.svg")).unwrap();
    assert!(
        heat.contains(&format!("\n{best_auroc:.2}\n")),
        "{best_auroc}"
    );
    let max_gain = gains
        .iter()
        .filter(|r| r["ranked"] == "true")
        .map(|r| r["gain"].parse::<f64>().unwrap().abs())
        .fold(0.01, f64::max);
    let gain_svg = std::fs::read_to_string(dir.join("ensemble_gain.svg")).unwrap();
    assert!(
        gain_svg.contains(&format!("\n{max_gain:.2}\n")),
        "{max_gain}"
    );
    assert!(gain_svg.contains("fold_class †"));
}

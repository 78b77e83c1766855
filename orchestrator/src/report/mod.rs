//! `genoprot report`: what a paper can use, from the aggregated cells
//! (docs/report.md explains every table and figure).
//!
//! - `summary.md` / `report.html` (one self-contained page): leaderboard,
//!   scores per task, the ensemble claim, statistics, top vs runner-up,
//!   late-fusion weights, best of each kind, undefined metrics, missing
//!   cells, sample sizes, provenance; every figure inline.
//! - CSVs: `summary.csv`, `leaderboard.csv`, `comparisons.csv`,
//!   `ensemble_gain.csv`, tidy `results_long.csv` and `.parquet`.
//! - Figures as SVG and PNG: `score_heatmap`, `task_scores`, `model_kinds`,
//!   `ensemble_gain`.
//!
//! The report is rebuilt only when its inputs change (the aggregated rows,
//! the config, the embedding stores, warnings; `journal/report-inputs`);
//! bootstraps are cached per pair of cells ([`comparisons`]).

pub mod comparisons;
pub mod heatmaps;
pub mod layers;
pub mod leaderboard;
pub mod panels;
pub mod provenance;
pub mod render;
pub mod sample_sizes;
pub mod stats;
pub mod tables;
pub mod tidy;
pub mod verdict;

use crate::aggregate::Aggregate;
use crate::config::SweepConfig;
use anyhow::Context;
use leaderboard::Score;
use sha2::Digest;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use verdict::{Comparison, Question};
use workers::dataset::Dataset;

pub use leaderboard::{leaderboard, leaderboard_md, scores};
pub use stats::ALPHA;
pub use tables::probe_description;

/// The figures, in the order the report shows them.
const FIGURES: [&str; 4] = [
    "score_heatmap.svg",
    "task_scores.svg",
    "model_kinds.svg",
    "ensemble_gain.svg",
];

/// What the report was written from: when it has not changed and the
/// report's files are there, the report is not rebuilt.
fn inputs_digest(
    cfg: &SweepConfig,
    ds: &Dataset,
    agg: &Aggregate,
    warnings: &[(String, String)],
) -> String {
    let mut h = sha2::Sha256::new();
    h.update(env!("CARGO_PKG_VERSION"));
    h.update(serde_json::to_string(cfg).unwrap_or_default());
    h.update(&ds.manifest.dataset_hash);
    h.update(serde_json::to_string(&agg.rows).unwrap_or_default());
    for c in &agg.missing {
        h.update(&c.id);
    }
    for m in &cfg.models {
        let p = cfg.layout().embedding(&m.name);
        h.update(format!("{:?}", workers::file_hash::stamp(&p)));
    }
    for (unit, w) in warnings {
        h.update(unit);
        h.update(w);
    }
    hex::encode(h.finalize())
}

/// `sha256  name` of every file in the report folder, one per line, by name.
fn files_manifest(dir: &Path) -> std::io::Result<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    let mut out = String::new();
    for n in names {
        let hex = workers::seal::digest_file(&dir.join(&n))?;
        out.push_str(&workers::seal::sum_line(&hex, &n));
    }
    Ok(out)
}

/// Whether the report in `dir` was written from inputs with `digest` and
/// every file it wrote is still there, byte for byte (the record in
/// `stamp_path`: the digest, then [`files_manifest`]); an edited or damaged
/// report file, or a damaged record, means the report is written again.
fn up_to_date(stamp_path: &Path, dir: &Path, digest: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(stamp_path) else {
        return false;
    };
    let mut lines = text.lines();
    if lines.next() != Some(digest) {
        return false;
    }
    for l in lines {
        let Some((hex, name)) = workers::seal::parse_sum_line(l) else {
            return false;
        };
        if name.contains('/')
            || workers::seal::digest_file(&dir.join(name)).ok().as_deref() != Some(hex)
        {
            return false;
        }
    }
    let required = ["summary.md", "report.html", "results_long.parquet"];
    required.iter().all(|f| text.contains(&format!("  {f}\n")))
}

/// Writes the report unless it is up to date (`force`: always); returns the
/// report folder and whether it was written now.
pub fn write_report(
    cfg: &SweepConfig,
    ds: &Dataset,
    agg: &Aggregate,
    force: bool,
) -> anyhow::Result<(PathBuf, bool)> {
    let dir = cfg.layout().report_dir();
    let stamp_path = cfg.layout().report_inputs();
    // Cells that finished with a warning: part of what the report shows.
    let warnings = crate::journal::Journal::warnings_in(&cfg.store);
    let digest = inputs_digest(cfg, ds, agg, &warnings);
    if !force && up_to_date(&stamp_path, &dir, &digest) {
        tracing::info!(
            "report {} is up to date (its inputs and files have not changed)",
            dir.display()
        );
        return Ok((dir, false));
    }
    let t0 = std::time::Instant::now();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    build(cfg, ds, agg, &warnings, &dir)
        .with_context(|| format!("writing the report in {}", dir.display()))?;
    if let Some(p) = stamp_path.parent() {
        let _ = std::fs::create_dir_all(p);
    }
    let manifest = files_manifest(&dir).map(|files| format!("{digest}\n{files}"));
    if let Err(e) = manifest.and_then(|m| workers::atomic::write_atomic(&stamp_path, m.as_bytes()))
    {
        tracing::debug!("not recording the report's inputs: {e}");
    }
    tracing::info!(
        "report written to {} in {:.1} s",
        dir.display(),
        t0.elapsed().as_secs_f64()
    );
    Ok((dir, true))
}

/// The rows of the report: every model, then every ensemble fusion.
fn row_names(cfg: &SweepConfig) -> Vec<String> {
    let mut rows: Vec<String> = cfg.models.iter().map(|m| m.name.clone()).collect();
    for e in &cfg.ensembles {
        for f in &e.fusion {
            rows.push(format!("{}:{}", e.name, f.as_str()));
        }
    }
    rows
}

fn build(
    cfg: &SweepConfig,
    ds: &Dataset,
    agg: &Aggregate,
    warnings: &[(String, String)],
    dir: &Path,
) -> anyhow::Result<()> {
    let scores = scores(cfg, ds, agg);
    let by: HashMap<(&str, &str), &Score> = scores
        .iter()
        .map(|s| ((s.task.as_str(), s.model.as_str()), s))
        .collect();
    let get = |t: &str, m: &str| by.get(&(t, m)).map(|s| (*s).clone());
    let tasks: Vec<String> = ds
        .tasks
        .iter()
        .map(|t| t.name.clone())
        .filter(|t| scores.iter().any(|s| &s.task == t))
        .collect();
    let rows = row_names(cfg);
    let sizes = sample_sizes::task_sizes(agg, &cfg.report);
    let small: BTreeSet<String> = sizes
        .iter()
        .filter(|t| t.too_small.is_some())
        .map(|t| t.task.clone())
        .collect();
    let ranked: Vec<Score> = scores
        .iter()
        .filter(|s| !small.contains(&s.task))
        .cloned()
        .collect();
    let board = leaderboard(ds, &ranked);
    let t = std::time::Instant::now();
    let all = comparisons::comparisons(cfg, &scores, &small, agg, std::io::stderr().is_terminal());
    tracing::debug!(
        "report: {} comparisons in {:.2} s",
        all.len(),
        t.elapsed().as_secs_f64()
    );
    let gains: Vec<&Comparison> = all
        .iter()
        .filter(|c| c.question == Question::EnsembleVsBestMember)
        .collect();
    let tops: Vec<&Comparison> = all
        .iter()
        .filter(|c| c.question == Question::TopVsRunnerUp)
        .collect();

    let mut md = String::new();
    let _ = writeln!(md, "# {} — Geno-Prot results\n", cfg.name);
    let _ = writeln!(
        md,
        "Dataset `{}` (hash `{}`), {} cells aggregated, {} missing. Primary metric: AUROC (classification, macro over classes), Spearman (regression); mean ± std over seeds {:?}. **Bold**: best per task.\n",
        cfg.dataset.display(),
        &ds.manifest.dataset_hash[..12.min(ds.manifest.dataset_hash.len())],
        agg.rows.len(),
        agg.missing.len(),
        cfg.seeds
    );
    let _ = writeln!(md, "Probe: {}.\n", probe_description(&cfg.probe));
    md.push_str(&tables::grid_edges_md(agg));
    if !small.is_empty() {
        let _ = writeln!(
            md,
            "**{} task(s) too small to rank** (see Sample sizes; marked †, not bolded, not in the leaderboard): {}.\n",
            small.len(),
            small.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    if !warnings.is_empty() {
        let _ = writeln!(
            md,
            "**Warning: {} cells finished with a warning** (their scores are shown; the fits may not be the optimum):\n",
            warnings.len()
        );
        for (unit, w) in warnings.iter().take(10) {
            let _ = writeln!(md, "- `{unit}`: {w}");
        }
        md.push('\n');
    }
    md.push_str(&leaderboard_md(&board));
    md.push_str(&leaderboard::modality_md(&board, &ranked));
    md.push_str(&layers::by_layer_md(cfg, &tasks, &scores, &small));
    md.push_str("![model × task scores](score_heatmap.svg)\n\n");
    md.push_str(&tables::scores_md(ds, &tasks, &rows, &get, &small));
    md.push_str("![per-task scores](task_scores.svg)\n\n");
    md.push_str(&tables::statistics_md(
        verdict::family_size(&all),
        cfg.report.margin,
    ));
    md.push_str("## Does the ensemble beat its best member?\n\n");
    md.push_str(&tables::claim_table(&gains));
    md.push_str(&tables::gains_md(&gains));
    md.push_str("\n![ensemble gains](ensemble_gain.svg)\n\n");
    md.push_str(&tables::top_md(&tops));
    md.push_str(&tables::weights_table(cfg, agg));
    md.push_str(&tables::kinds_md(&tasks, &scores, &small));
    md.push_str("\n![best of each kind](model_kinds.svg)\n\n");
    md.push_str(&tables::undefined_md(agg));
    if !agg.missing.is_empty() {
        let _ = writeln!(md, "## Missing cells ({})\n", agg.missing.len());
        for c in agg.missing.iter().take(50) {
            let _ = writeln!(
                md,
                "- `{}` {} × {} (seed {})",
                c.id, c.model, c.task, c.seed
            );
        }
        md.push('\n');
    }
    md.push_str(&sample_sizes::sizes_md(&sizes, &cfg.report));
    md.push('\n');
    md.push_str(&provenance::provenance_md(cfg, ds));
    workers::atomic::write_atomic(&dir.join("summary.md"), md.as_bytes())?;

    write_csvs(dir, &scores, &board, &all)?;
    let long = tidy::long_rows(cfg, ds, agg);
    tidy::write_csv(&dir.join("results_long.csv"), &long)?;
    tidy::write_parquet(&dir.join("results_long.parquet"), &long)?;

    let t = std::time::Instant::now();
    write_figures(dir, &tasks, &rows, &scores, &get, &gains, &small)?;
    tracing::debug!("report: figures in {:.2} s", t.elapsed().as_secs_f64());
    let t = std::time::Instant::now();
    render::pngs(dir, &FIGURES)?;
    tracing::debug!("report: PNGs in {:.2} s", t.elapsed().as_secs_f64());
    render::html(dir, &format!("{} — Geno-Prot results", cfg.name), &md)?;
    Ok(())
}

fn write_csvs(
    dir: &Path,
    scores: &[Score],
    board: &[leaderboard::Standing],
    all: &[Comparison],
) -> anyhow::Result<()> {
    let mut csv = String::from("task,model,group,metric,mean,std,seeds\n");
    for s in scores {
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{}",
            s.task, s.model, s.group, s.metric, s.mean, s.std, s.seeds
        );
    }
    workers::atomic::write_atomic(&dir.join("summary.csv"), csv.as_bytes())?;
    let mut lcsv = String::from("rank,model,group,tasks,mean_rank,mean_score,wins\n");
    for (i, s) in board.iter().enumerate() {
        let _ = writeln!(
            lcsv,
            "{},{},{},{},{},{},{}",
            i + 1,
            s.model,
            s.group,
            s.tasks,
            s.mean_rank,
            s.mean_score,
            s.wins
        );
    }
    workers::atomic::write_atomic(&dir.join("leaderboard.csv"), lcsv.as_bytes())?;
    // p's outside a family are empty (NaN).
    let num = |v: f64| {
        if v.is_nan() {
            String::new()
        } else {
            v.to_string()
        }
    };
    let line = |c: &Comparison| {
        format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            c.task,
            c.a,
            c.b,
            c.metric,
            c.a_mean,
            c.b_mean,
            c.diff,
            c.ci_low,
            c.ci_high,
            num(c.p_value),
            num(c.p_holm),
            num(c.p_equiv),
            num(c.p_equiv_holm),
            c.margin,
            c.seeds,
            c.ranked,
            c.verdict.as_str()
        )
    };
    const TAIL: &str =
        "ci_low,ci_high,p_value,p_holm,p_equiv,p_equiv_holm,margin,seeds,ranked,verdict\n";
    let mut ccsv = format!("question,task,a,b,metric,a_mean,b_mean,diff,{TAIL}");
    let mut gcsv =
        format!("task,ensemble,best_member,metric,ensemble_mean,member_mean,gain,{TAIL}");
    for c in all {
        let _ = writeln!(ccsv, "{},{}", c.question.as_str(), line(c));
        if c.question == Question::EnsembleVsBestMember {
            let _ = writeln!(gcsv, "{}", line(c));
        }
    }
    workers::atomic::write_atomic(&dir.join("comparisons.csv"), ccsv.as_bytes())?;
    workers::atomic::write_atomic(&dir.join("ensemble_gain.csv"), gcsv.as_bytes())?;
    Ok(())
}

fn write_figures(
    dir: &Path,
    tasks: &[String],
    rows: &[String],
    scores: &[Score],
    get: &dyn Fn(&str, &str) -> Option<Score>,
    gains: &[&Comparison],
    small: &BTreeSet<String>,
) -> anyhow::Result<()> {
    let metric_of = |t: &String| {
        scores
            .iter()
            .find(|s| &s.task == t)
            .map_or("auroc".into(), |s| s.metric.clone())
    };
    let metrics: Vec<String> = tasks.iter().map(metric_of).collect();
    heatmaps::score_heatmap_svg(
        &dir.join("score_heatmap.svg"),
        tasks,
        &metrics,
        rows,
        &|m, t| get(t, m).map(|s| s.mean),
        small,
    )?;
    let panel = |t: &String, bars: Vec<panels::Bar>| panels::Panel {
        title: t.clone(),
        metric: metric_of(t),
        faded: small.contains(t),
        bars,
    };
    let bar = |s: Score| panels::Bar {
        label: s.model,
        kind: s.group,
        mean: s.mean,
        std: s.std,
    };
    let per_task: Vec<panels::Panel> = tasks
        .iter()
        .map(|t| {
            let bars = rows.iter().filter_map(|m| get(t, m)).map(bar).collect();
            panel(t, bars)
        })
        .collect();
    panels::panels_svg(
        &dir.join("task_scores.svg"),
        "Per-task score of every model and ensemble (primary metric, mean ± std over seeds; bold: best)",
        &per_task,
    )?;
    let kinds: Vec<panels::Panel> = tasks
        .iter()
        .map(|t| {
            let bars = leaderboard::best_of_kinds(scores, t)
                .into_iter()
                .flatten()
                .cloned()
                .map(bar)
                .collect();
            panel(t, bars)
        })
        .collect();
    panels::panels_svg(
        &dir.join("model_kinds.svg"),
        "Best DNA vs protein vs multimodal vs ensemble row per task (the winner in bold)",
        &kinds,
    )?;
    let ens: Vec<String> = rows
        .iter()
        .filter(|r| gains.iter().any(|g| &g.a == *r))
        .cloned()
        .collect();
    heatmaps::gain_heatmap_svg(&dir.join("ensemble_gain.svg"), tasks, &ens, gains, small)
}

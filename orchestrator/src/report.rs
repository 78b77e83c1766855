//! `genoprot report`: markdown and CSV tables (task × model, mean ± std over
//! seeds, best per task marked; each ensemble's gain over its best member
//! with a paired bootstrap 95% CI over test genes) and SVG plots (per-task
//! bars with error bars, DNA vs protein vs multimodal vs ensemble, the
//! ensemble-gain heatmap).

use crate::aggregate::{Aggregate, METRICS};
use crate::config::SweepConfig;
use anyhow::Context;
use plotters::prelude::*;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use workers::dataset::{Dataset, TaskKind};
use workers::embed::Modality;
use workers::probe::cell::{CellResult, primary_metric, primary_value};
use workers::probe::metrics::{auroc_counted, score_order};

/// A named bar series: per task, (mean, std) when present.
type Series = (String, Vec<Option<(f64, f64)>>);

/// Mean and sample standard deviation.
fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let s = if v.len() > 1 {
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (m, s)
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Score {
    pub task: String,
    pub model: String,
    pub group: String,
    pub metric: String,
    pub mean: f64,
    pub std: f64,
    pub seeds: usize,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Gain {
    pub task: String,
    pub ensemble: String,
    pub best_member: String,
    pub metric: String,
    pub ensemble_mean: f64,
    pub member_mean: f64,
    pub gain: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// Two-sided p-value of "no difference" from the bootstrap z statistic
    /// (mean / standard deviation of the resampled differences).
    pub p_value: f64,
    /// Holm-adjusted p over the family of every ensemble-vs-member comparison.
    pub p_holm: f64,
}

/// The significance level of the ensemble comparisons (after Holm).
pub const ALPHA: f64 = 0.05;

impl Gain {
    /// `1`: beats its best member, `-1`: loses, `0`: no significant difference.
    pub fn verdict(&self) -> i8 {
        if self.p_holm < ALPHA && self.gain > 0.0 && self.ci_low > 0.0 {
            1
        } else if self.p_holm < ALPHA && self.gain < 0.0 && self.ci_high < 0.0 {
            -1
        } else {
            0
        }
    }
}

/// erfc(x), |relative error| < 1.2e-7 (Numerical Recipes' Chebyshev fit).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.26551223
            + t * (1.00002368
                + t * (0.37409196
                    + t * (0.09678418
                        + t * (-0.18628806
                            + t * (0.27886807
                                + t * (-1.13520398
                                    + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// Two-sided p of a bootstrap z statistic; 1 when the differences do not vary.
pub fn bootstrap_p(diffs: &[f64]) -> f64 {
    let n = diffs.len() as f64;
    if n < 2.0 {
        return 1.0;
    }
    let m = diffs.iter().sum::<f64>() / n;
    let sd = (diffs.iter().map(|d| (d - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    if sd.is_nan() || sd <= 1e-12 {
        return if m.abs() > 1e-12 { 0.0 } else { 1.0 };
    }
    erfc((m / sd).abs() / std::f64::consts::SQRT_2).min(1.0)
}

/// Holm's step-down adjustment of `p` (same order out).
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|a, b| p[*a].total_cmp(&p[*b]));
    let mut out = vec![1.0; m];
    let mut running: f64 = 0.0;
    for (rank, i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[*i]).min(1.0));
        out[*i] = running;
    }
    out
}

fn group_of(cfg: &SweepConfig, model: &str) -> String {
    if model.contains(':') {
        return "ensemble".into();
    }
    match cfg.model(model).map(|m| m.modality()) {
        Some(Modality::Dna) => "dna".into(),
        Some(Modality::Protein) => "protein".into(),
        Some(Modality::Gene) => "multimodal".into(),
        None => "other".into(),
    }
}

/// Mean ± std of each task's primary metric per model (undefined values skipped, counted).
pub fn scores(cfg: &SweepConfig, ds: &Dataset, agg: &Aggregate) -> Vec<Score> {
    let mut by: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for r in &agg.rows {
        let kind = ds.task(&r.task).map(|t| t.kind).unwrap_or(TaskKind::Binary);
        let j = METRICS
            .iter()
            .position(|m| *m == primary_metric(kind))
            .unwrap();
        let v = r.metrics[j];
        let e = by.entry((r.task.clone(), r.model.clone())).or_default();
        if v.is_finite() {
            e.push(v);
        }
    }
    by.into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|((task, model), v)| {
            let (mean, std) = mean_std(&v);
            let kind = ds.task(&task).map(|t| t.kind).unwrap_or(TaskKind::Binary);
            Score {
                group: group_of(cfg, &model),
                metric: primary_metric(kind).into(),
                task,
                model,
                mean,
                std,
                seeds: v.len(),
            }
        })
        .collect()
}

/// Paired bootstrap over test genes of (ensemble − best member), averaged over seeds.
pub fn ensemble_gains(
    cfg: &SweepConfig,
    ds: &Dataset,
    scores: &[Score],
    cells_dir: &Path,
    agg: &Aggregate,
    boot: usize,
) -> Vec<Gain> {
    let mean_of = |task: &str, model: &str| {
        scores
            .iter()
            .find(|s| s.task == task && s.model == model)
            .map(|s| s.mean)
    };
    let cell_of: BTreeMap<(String, String, u64), String> = agg
        .rows
        .iter()
        .map(|r| ((r.task.clone(), r.model.clone(), r.seed), r.cell_id.clone()))
        .collect();
    // One job per (ensemble, fusion, task), in report order; each has its
    // own fixed-seed RNG, so the parallel result equals the serial one.
    let tasks: BTreeSet<String> = scores.iter().map(|s| s.task.clone()).collect();
    let mut jobs: Vec<(&crate::config::EnsembleSpec, String, String)> = Vec::new();
    for e in &cfg.ensembles {
        for f in &e.fusion {
            for t in &tasks {
                jobs.push((e, format!("{}:{}", e.name, f.as_str()), t.clone()));
            }
        }
    }
    let mut gains = jobs
        .par_iter()
        .filter_map(|(e, ename, task)| {
            let (ename, task) = (ename.clone(), task.clone());
            let em = mean_of(&task, &ename)?;
            let (best, bm) = e
                .members
                .iter()
                .filter_map(|m| mean_of(&task, m).map(|v| (m.clone(), v)))
                .max_by(|a, b| a.1.total_cmp(&b.1))?;
            let kind = ds.task(&task).map(|t| t.kind).unwrap_or(TaskKind::Binary);
            // Paired test sets per seed.
            let mut pairs = Vec::new();
            for &seed in &cfg.seeds {
                let (Some(ec), Some(mc)) = (
                    cell_of.get(&(task.clone(), ename.clone(), seed)),
                    cell_of.get(&(task.clone(), best.clone(), seed)),
                ) else {
                    continue;
                };
                let (Ok(ecell), Ok(mcell)) = (
                    CellResult::read_as(&cells_dir.join(format!("{ec}.h5")), ec),
                    CellResult::read_as(&cells_dir.join(format!("{mc}.h5")), mc),
                ) else {
                    continue;
                };
                if ecell.test_ids != mcell.test_ids {
                    continue;
                }
                pairs.push((ecell, mcell));
            }
            if pairs.is_empty() {
                return None;
            }
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x9e3779b97f4a7c15);
            let mut diffs = Vec::with_capacity(boot);
            // Classification: each column's scores sorted once; a resample is
            // a count per test row (O(n) AUROC, no copies).
            let sorted = |c: &CellResult| -> Vec<(Vec<bool>, Vec<f64>, Vec<usize>)> {
                (0..c.test_labels.ncols())
                    .map(|k| {
                        let y: Vec<bool> =
                            c.test_labels.column(k).iter().map(|v| *v > 0.5).collect();
                        let p: Vec<f64> = c.test_pred.column(k).iter().map(|v| *v as f64).collect();
                        let o = score_order(&p);
                        (y, p, o)
                    })
                    .collect()
            };
            let macro_auroc = |cols: &[(Vec<bool>, Vec<f64>, Vec<usize>)], count: &[u32]| {
                let v: Vec<f64> = cols
                    .iter()
                    .filter_map(|(y, p, o)| auroc_counted(y, p, o, count))
                    .collect();
                (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
            };
            let prepared: Vec<_> = pairs
                .iter()
                .map(|(ec, mc)| (sorted(ec), sorted(mc)))
                .collect();
            for _ in 0..boot {
                let mut acc = Vec::new();
                for ((ec, mc), (es, ms)) in pairs.iter().zip(&prepared) {
                    let n = ec.test_ids.len();
                    let idx: Vec<usize> = (0..n).map(|_| rng.random_range(0..n)).collect();
                    let values = if kind == TaskKind::Regression {
                        let sel = |a: &ndarray::Array2<f32>| a.select(ndarray::Axis(0), &idx);
                        (
                            primary_value(kind, &sel(&ec.test_labels), &sel(&ec.test_pred)),
                            primary_value(kind, &sel(&mc.test_labels), &sel(&mc.test_pred)),
                        )
                    } else {
                        let mut count = vec![0u32; n];
                        idx.iter().for_each(|i| count[*i] += 1);
                        (macro_auroc(es, &count), macro_auroc(ms, &count))
                    };
                    if let (Some(a), Some(b)) = values {
                        acc.push(a - b);
                    }
                }
                if !acc.is_empty() {
                    diffs.push(acc.iter().sum::<f64>() / acc.len() as f64);
                }
            }
            diffs.sort_by(f64::total_cmp);
            let q = |p: f64| {
                diffs
                    .get(((diffs.len() as f64 - 1.0) * p).round() as usize)
                    .copied()
                    .unwrap_or(f64::NAN)
            };
            Some(Gain {
                task: task.clone(),
                ensemble: ename.clone(),
                best_member: best,
                metric: primary_metric(kind).into(),
                ensemble_mean: em,
                member_mean: bm,
                gain: em - bm,
                ci_low: q(0.025),
                ci_high: q(0.975),
                p_value: bootstrap_p(&diffs),
                p_holm: 1.0,
            })
        })
        .collect::<Vec<Gain>>();
    // Holm over the whole family of comparisons.
    let adjusted = holm(&gains.iter().map(|g| g.p_value).collect::<Vec<_>>());
    for (g, p) in gains.iter_mut().zip(adjusted) {
        g.p_holm = p;
    }
    gains
}

fn bars_svg(
    path: &Path,
    title: &str,
    tasks: &[String],
    series: &[Series],
    y_label: &str,
) -> anyhow::Result<()> {
    let width = (160 + tasks.len() * (series.len() * 14 + 24)).max(640) as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, 480)).into_drawing_area();
        root.fill(&WHITE)?;
        let (lo, hi) = series
            .iter()
            .flat_map(|(_, v)| v.iter().flatten())
            .fold((0.0f64, 1.0f64), |(lo, hi), (m, s)| {
                (lo.min(m - s), hi.max(m + s))
            });
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(70)
            .y_label_area_size(50)
            .right_y_label_area_size(0)
            .build_cartesian_2d(
                0f64..tasks.len() as f64,
                (lo - 0.05).min(0.0)..(hi + 0.1 + 0.045 * series.len() as f64),
            )?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(tasks.len() * 2 + 1)
            .x_label_formatter(&|x| {
                let i = (*x - 0.5).round();
                if (x - 0.5 - i).abs() < 1e-6 && i >= 0.0 {
                    tasks.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc(y_label)
            .draw()?;
        let w = 0.8 / series.len().max(1) as f64;
        for (k, (name, vals)) in series.iter().enumerate() {
            let color = Palette99::pick(k).to_rgba();
            chart
                .draw_series(vals.iter().enumerate().filter_map(|(t, v)| {
                    v.map(|(m, _)| {
                        let x0 = t as f64 + 0.1 + k as f64 * w;
                        Rectangle::new([(x0, 0.0), (x0 + w * 0.9, m)], color.filled())
                    })
                }))?
                .label(name.clone())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                });
            chart.draw_series(vals.iter().enumerate().filter_map(|(t, v)| {
                v.map(|(m, s)| {
                    let x = t as f64 + 0.1 + k as f64 * w + w * 0.45;
                    ErrorBar::new_vertical(x, m - s, m, m + s, BLACK.stroke_width(1), 4)
                })
            }))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
        root.present()?;
    }
    workers::atomic::write_atomic(path, svg.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

fn heatmap_svg(
    path: &Path,
    tasks: &[String],
    ens: &[String],
    gains: &[Gain],
) -> anyhow::Result<()> {
    let cw = 70i32;
    let (w, h) = (
        220 + cw * tasks.len() as i32 + 90,
        80 + 36 * ens.len() as i32,
    );
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w as u32, h as u32 + 40)).into_drawing_area();
        root.fill(&WHITE)?;
        root.draw(&Text::new(
            "Ensemble gain over best member (primary metric; * = significant after Holm correction)",
            (10, 10),
            ("sans-serif", 16),
        ))?;
        let maxabs = gains.iter().map(|g| g.gain.abs()).fold(0.05f64, f64::max);
        for (j, t) in tasks.iter().enumerate() {
            root.draw(&Text::new(
                t.clone(),
                (220 + cw * j as i32 + 4, 40),
                ("sans-serif", 11),
            ))?;
        }
        for (i, e) in ens.iter().enumerate() {
            let y = 60 + 36 * i as i32;
            root.draw(&Text::new(e.clone(), (10, y + 12), ("sans-serif", 13)))?;
            for (j, t) in tasks.iter().enumerate() {
                let x = 220 + cw * j as i32;
                let g = gains.iter().find(|g| &g.ensemble == e && &g.task == t);
                let color = match g {
                    Some(g) => crate::plots::diverging(g.gain / maxabs),
                    None => RGBColor(230, 230, 230),
                };
                root.draw(&Rectangle::new(
                    [(x, y), (x + cw - 4, y + 30)],
                    color.filled(),
                ))?;
                if let Some(g) = g {
                    let sig = if g.verdict() != 0 { "*" } else { "" };
                    root.draw(&Text::new(
                        format!("{:+.3}{sig}", g.gain),
                        (x + 6, y + 9),
                        ("sans-serif", 12)
                            .into_font()
                            .color(&crate::plots::text_on(color)),
                    ))?;
                }
            }
        }
        crate::plots::colour_bar(
            &root,
            (w - 70, 60, (36 * ens.len() as i32).clamp(60, 300)),
            (-maxabs, maxabs),
            &|v| crate::plots::diverging(v / maxabs),
            "gain",
        )?;
        root.present()?;
    }
    workers::atomic::write_atomic(path, svg.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// One leaderboard row.
#[derive(Debug, Clone, PartialEq)]
pub struct Standing {
    pub model: String,
    pub group: String,
    /// Tasks the model has a score on.
    pub tasks: usize,
    /// Mean primary score over those tasks.
    pub mean_score: f64,
    /// Mean rank among the models scored on each task (1 = best; ties share
    /// the mean rank).
    pub mean_rank: f64,
    /// Tasks where it is best (ties count for each).
    pub wins: usize,
    /// Mean primary score per task category (`tasks.yaml`'s `category`).
    pub by_category: BTreeMap<String, f64>,
}

/// The leaderboard: every model and ensemble row ranked by mean rank over
/// tasks (then mean score), with wins and per-category means.
pub fn leaderboard(ds: &Dataset, scores: &[Score]) -> Vec<Standing> {
    let category = |t: &str| {
        ds.task(t)
            .map(|s| s.category.clone())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "other".into())
    };
    let mut by_task: BTreeMap<&str, Vec<&Score>> = BTreeMap::new();
    for sc in scores.iter().filter(|s| s.mean.is_finite()) {
        by_task.entry(&sc.task).or_default().push(sc);
    }
    // model → (scores, ranks, wins, category → scores)
    type Acc = (Vec<f64>, Vec<f64>, usize, BTreeMap<String, Vec<f64>>);
    let mut acc: BTreeMap<(String, String), Acc> = BTreeMap::new();
    for (task, rows) in &by_task {
        let top = rows
            .iter()
            .map(|r| r.mean)
            .fold(f64::NEG_INFINITY, f64::max);
        for r in rows {
            let better = rows.iter().filter(|o| o.mean > r.mean).count() as f64;
            let equal = rows.iter().filter(|o| o.mean == r.mean).count() as f64;
            let e = acc.entry((r.model.clone(), r.group.clone())).or_default();
            e.0.push(r.mean);
            e.1.push(better + (equal + 1.0) / 2.0);
            e.2 += (r.mean == top) as usize;
            e.3.entry(category(task)).or_default().push(r.mean);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let mut out: Vec<Standing> = acc
        .into_iter()
        .map(|((model, group), (sc, rk, wins, cats))| Standing {
            model,
            group,
            tasks: sc.len(),
            mean_score: mean(&sc),
            mean_rank: mean(&rk),
            wins,
            by_category: cats.iter().map(|(c, v)| (c.clone(), mean(v))).collect(),
        })
        .collect();
    out.sort_by(|a, b| {
        a.mean_rank
            .total_cmp(&b.mean_rank)
            .then(b.mean_score.total_cmp(&a.mean_score))
            .then(a.model.cmp(&b.model))
    });
    out
}

/// The leaderboard as markdown: overall, then the best row of each group.
pub fn leaderboard_md(board: &[Standing]) -> String {
    let cats: BTreeSet<&String> = board.iter().flat_map(|s| s.by_category.keys()).collect();
    let mut md = String::from(
        "## Leaderboard\n\nEvery model and ensemble row, by mean rank over tasks (1 = best on a task; \
         ties share the mean rank), then mean primary score (AUROC, Spearman for regression tasks); \
         wins = tasks where it is best; one column per task category.\n\n| # | model | kind | tasks | mean rank | mean score | wins |",
    );
    for c in &cats {
        let _ = write!(md, " {c} |");
    }
    md.push_str("\n|---|---|---|---|---|---|---|");
    for _ in &cats {
        md.push_str("---|");
    }
    md.push('\n');
    for (i, s) in board.iter().enumerate() {
        let _ = write!(
            md,
            "| {} | {} | {} | {} | {:.2} | {:.3} | {} |",
            i + 1,
            s.model,
            s.group,
            s.tasks,
            s.mean_rank,
            s.mean_score,
            s.wins
        );
        for c in &cats {
            match s.by_category.get(*c) {
                Some(v) => {
                    let _ = write!(md, " {v:.3} |");
                }
                None => md.push_str(" – |"),
            }
        }
        md.push('\n');
    }
    let mut seen = BTreeSet::new();
    let firsts: Vec<String> = board
        .iter()
        .filter(|s| seen.insert(s.group.clone()))
        .map(|s| format!("{} `{}` (mean rank {:.2})", s.group, s.model, s.mean_rank))
        .collect();
    let _ = writeln!(md, "\nBest of each kind: {}.\n", firsts.join("; "));
    md
}

/// Per fusion method: on how many (ensemble, task) rows the ensemble beats
/// its best member, matches it (no significant difference) or loses —
/// significant = Holm-adjusted p < 0.05 over every comparison of the report
/// (and the 95% CI on the same side of 0) — and the answer in words.
pub fn claim_table(gains: &[Gain]) -> String {
    let mut by: BTreeMap<String, [usize; 3]> = BTreeMap::new();
    for g in gains {
        let method = g.ensemble.rsplit(':').next().unwrap_or("").to_string();
        let c = by.entry(method).or_default();
        match g.verdict() {
            1 => c[0] += 1,
            -1 => c[2] += 1,
            _ => c[1] += 1,
        }
    }
    let mut md = format!(
        "Significance: paired bootstrap over test genes (each seed resampled, the differences averaged per replicate), two-sided z test, **Holm-corrected over all {} ensemble-vs-member comparisons** at α = {ALPHA}.\n\n\
         | fusion | rows | beats best member | matches (no significant difference) | loses |\n|---|---|---|---|---|\n",
        gains.len()
    );
    let pct = |a: usize, n: usize| 100.0 * a as f64 / n.max(1) as f64;
    let mut best: Option<(String, f64)> = None;
    for (m, [b, e, l]) in &by {
        let n = b + e + l;
        let _ = writeln!(
            md,
            "| {m} | {n} | {b} ({:.0}%) | {e} ({:.0}%) | {l} ({:.0}%) |",
            pct(*b, n),
            pct(*e, n),
            pct(*l, n)
        );
        let ok = pct(b + e, n);
        if best.as_ref().is_none_or(|(_, v)| ok > *v) {
            best = Some((m.clone(), ok));
        }
    }
    if let Some((m, ok)) = best {
        let total: usize = by.values().map(|c| c.iter().sum::<usize>()).sum();
        let lost: usize = by.values().map(|c| c[2]).sum();
        let _ = writeln!(
            md,
            "\n**Do ensembles match or beat their best member?** With `{m}`, on {ok:.0}% of \
             (ensemble, task) rows; over all fusion methods, {lost} of {total} rows are significantly \
             worse than the best member.\n"
        );
    }
    md
}

/// The late-fusion weights each ensemble learned, per task (mean over seeds).
pub fn weights_table(cfg: &SweepConfig, agg: &Aggregate) -> String {
    let mut acc: BTreeMap<(String, String), (Vec<f64>, usize)> = BTreeMap::new();
    for r in agg.rows.iter().filter(|r| !r.weights.is_empty()) {
        let e = acc
            .entry((r.model.clone(), r.task.clone()))
            .or_insert((vec![0.0; r.weights.len()], 0));
        if e.0.len() == r.weights.len() {
            e.0.iter_mut().zip(&r.weights).for_each(|(a, w)| *a += w);
            e.1 += 1;
        }
    }
    if acc.is_empty() {
        return String::new();
    }
    let mut md = String::from(
        "\n## Late-fusion weights (mean over seeds)\n\nWhat each late fusion learned on the validation split: \
         member weights (stacking: the non-negative pool, or the best member alone; caruana: \
         selection counts; weighted-prob: the grid's choice; mean-prob: equal).\n\n\
         | ensemble | task | weights |\n|---|---|---|\n",
    );
    for ((model, task), (w, n)) in &acc {
        let name = model.split(':').next().unwrap_or("");
        let members = cfg
            .ensembles
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.members.clone())
            .unwrap_or_default();
        let parts: Vec<String> = w
            .iter()
            .enumerate()
            .map(|(i, v)| {
                format!(
                    "{} {:.2}",
                    members.get(i).map_or("?", String::as_str),
                    v / *n as f64
                )
            })
            .collect();
        let _ = writeln!(md, "| {model} | {task} | {} |", parts.join(", "));
    }
    md
}

/// The probe in words, with its settings (the report names what it ran).
pub fn probe_description(p: &workers::probe::ProbeParams) -> String {
    use workers::probe::ProbeKind;
    let grid = |v: Vec<f64>| {
        v.iter()
            .map(|x| format!("{x}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let balanced = if p.class_weights {
        "class_weight balanced"
    } else {
        "unweighted"
    };
    match p.kind {
        ProbeKind::Logreg => format!(
            "linear — logistic regression (L-BFGS to max |gradient| ≤ {}, at most {} iterations, \
             C in [{}] chosen on validation, {balanced}; multinomial for multiclass, one per label \
             for multilabel) and ridge for regression tasks (alpha in [{}])",
            p.tol,
            p.max_iter,
            grid(p.c_grid()),
            grid(p.alpha_grid())
        ),
        ProbeKind::Ridge => format!(
            "ridge regression (closed form, alpha in [{}] chosen on validation)",
            grid(p.alpha_grid())
        ),
        ProbeKind::Mlp => format!(
            "MLP, hidden {:?}, dropout {}, AdamW lr {} weight decay {}, batch {}, at most {} epochs, \
             early stopping after {} epochs without a validation gain, {balanced}",
            p.hidden, p.dropout, p.lr, p.weight_decay, p.batch, p.max_epochs, p.patience
        ),
    }
}

/// Writes report/summary.md, summary.csv, ensemble_gain.csv and the plots.
pub fn write_report(cfg: &SweepConfig, ds: &Dataset, agg: &Aggregate) -> anyhow::Result<PathBuf> {
    let dir = cfg.store.join("report");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let scores = scores(cfg, ds, agg);
    let gains = ensemble_gains(cfg, ds, &scores, &cfg.store.join("cells"), agg, 1000);
    let tasks: Vec<String> = ds
        .tasks
        .iter()
        .map(|t| t.name.clone())
        .filter(|t| scores.iter().any(|s| &s.task == t))
        .collect();
    let mut models: Vec<String> = cfg.models.iter().map(|m| m.name.clone()).collect();
    for e in &cfg.ensembles {
        for f in &e.fusion {
            models.push(format!("{}:{}", e.name, f.as_str()));
        }
    }
    let get = |t: &str, m: &str| scores.iter().find(|s| s.task == t && s.model == m);

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
    let sizes = crate::sample_sizes::task_sizes(agg, &cfg.report);
    let small: BTreeSet<String> = sizes
        .iter()
        .filter(|t| t.too_small.is_some())
        .map(|t| t.task.clone())
        .collect();
    if !small.is_empty() {
        let _ = writeln!(
            md,
            "**{} task(s) too small to rank** (see Sample sizes; not bolded, not in the leaderboard): {}.\n",
            small.len(),
            small.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    let ranked: Vec<Score> = scores
        .iter()
        .filter(|s| !small.contains(&s.task))
        .cloned()
        .collect();
    let board = leaderboard(ds, &ranked);
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
    let warnings = crate::journal::Journal::warnings_in(&cfg.store);
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
    let _ = writeln!(md, "## Scores per task\n");
    let _ = write!(md, "| task | kind | metric |");
    for m in &models {
        let _ = write!(md, " {m} |");
    }
    let _ = write!(md, "\n|---|---|---|");
    for _ in &models {
        let _ = write!(md, "---|");
    }
    md.push('\n');
    for t in &tasks {
        let spec = ds.task(t).unwrap();
        let best = models
            .iter()
            .filter_map(|m| get(t, m))
            .map(|s| s.mean)
            .fold(f64::NEG_INFINITY, f64::max);
        let too_small = small.contains(t);
        let _ = write!(
            md,
            "| {t}{} | {} | {} |",
            if too_small { " †" } else { "" },
            format!("{:?}", spec.kind).to_lowercase(),
            primary_metric(spec.kind)
        );
        for m in &models {
            match get(t, m) {
                Some(s) if !too_small && (s.mean - best).abs() < 1e-12 => {
                    let _ = write!(md, " **{:.3} ± {:.3}** |", s.mean, s.std);
                }
                Some(s) => {
                    let _ = write!(md, " {:.3} ± {:.3} |", s.mean, s.std);
                }
                None => md.push_str(" – |"),
            }
        }
        md.push('\n');
    }
    let _ = writeln!(
        md,
        "\n## Does the ensemble beat its best member?\n\nGain = ensemble − best member (by mean over seeds); 95% CI from a paired bootstrap over test genes (1000 resamples, averaged over seeds).\n"
    );
    let _ = writeln!(md, "{}", claim_table(&gains));
    let _ = writeln!(
        md,
        "| task | ensemble | best member | ensemble | member | gain | 95% CI | p (Holm) | beats member |\n|---|---|---|---|---|---|---|---|---|"
    );
    for g in &gains {
        let verdict = match g.verdict() {
            1 => "yes",
            -1 => "no (worse)",
            _ => "not significant",
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.3} | {:.3} | {:+.3} | [{:+.3}, {:+.3}] | {:.3} | {verdict} |",
            g.task,
            g.ensemble,
            g.best_member,
            g.ensemble_mean,
            g.member_mean,
            g.gain,
            g.ci_low,
            g.ci_high,
            g.p_holm
        );
    }
    let _ = writeln!(md, "{}", weights_table(cfg, agg));
    let groups = ["dna", "protein", "multimodal", "ensemble"];
    let _ = writeln!(
        md,
        "\n## DNA vs protein vs multimodal vs ensemble (best model of each kind)\n\n| task | dna | protein | multimodal | ensemble |\n|---|---|---|---|---|"
    );
    let mut group_series: Vec<Series> =
        groups.iter().map(|g| (g.to_string(), Vec::new())).collect();
    for t in &tasks {
        let _ = write!(md, "| {t} |");
        for (gi, g) in groups.iter().enumerate() {
            let best = scores
                .iter()
                .filter(|s| &s.task == t && s.group == *g)
                .max_by(|a, b| a.mean.total_cmp(&b.mean));
            match best {
                Some(s) => {
                    let _ = write!(md, " {:.3} ({}) |", s.mean, s.model);
                    group_series[gi].1.push(Some((s.mean, s.std)));
                }
                None => {
                    md.push_str(" – |");
                    group_series[gi].1.push(None);
                }
            }
        }
        md.push('\n');
    }
    if !agg.missing.is_empty() {
        let _ = writeln!(md, "\n## Missing cells ({})\n", agg.missing.len());
        for c in agg.missing.iter().take(50) {
            let _ = writeln!(
                md,
                "- `{}` {} × {} (seed {})",
                c.id, c.model, c.task, c.seed
            );
        }
    }
    let _ = writeln!(
        md,
        "\n{}",
        crate::sample_sizes::sizes_md(&sizes, &cfg.report)
    );
    let _ = writeln!(md, "{}", crate::provenance::provenance_md(cfg, ds));
    let _ = writeln!(
        md,
        "\n![model × task scores](score_heatmap.svg)\n\n![per-task scores](task_scores.svg)\n\n![by model kind](model_kinds.svg)\n\n![ensemble gains](ensemble_gain.svg)"
    );
    workers::atomic::write_atomic(&dir.join("summary.md"), md.as_bytes())?;

    let mut csv = String::from("task,model,group,metric,mean,std,seeds\n");
    for s in &scores {
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{}",
            s.task, s.model, s.group, s.metric, s.mean, s.std, s.seeds
        );
    }
    workers::atomic::write_atomic(&dir.join("summary.csv"), csv.as_bytes())?;
    let mut gcsv = String::from(
        "task,ensemble,best_member,metric,ensemble_mean,member_mean,gain,ci_low,ci_high,p_value,p_holm\n",
    );
    for g in &gains {
        let _ = writeln!(
            gcsv,
            "{},{},{},{},{},{},{},{},{},{},{}",
            g.task,
            g.ensemble,
            g.best_member,
            g.metric,
            g.ensemble_mean,
            g.member_mean,
            g.gain,
            g.ci_low,
            g.ci_high,
            g.p_value,
            g.p_holm
        );
    }
    workers::atomic::write_atomic(&dir.join("ensemble_gain.csv"), gcsv.as_bytes())?;

    let series: Vec<Series> = models
        .iter()
        .map(|m| {
            (
                m.clone(),
                tasks
                    .iter()
                    .map(|t| get(t, m).map(|s| (s.mean, s.std)))
                    .collect(),
            )
        })
        .collect();
    bars_svg(
        &dir.join("task_scores.svg"),
        "Per-task score (mean ± std over seeds)",
        &tasks,
        &series,
        "AUROC / Spearman",
    )?;
    let present: Vec<Series> = group_series
        .into_iter()
        .filter(|(_, v)| v.iter().any(Option::is_some))
        .collect();
    bars_svg(
        &dir.join("model_kinds.svg"),
        "Best DNA vs protein vs multimodal vs ensemble model",
        &tasks,
        &present,
        "AUROC / Spearman",
    )?;
    let ens: Vec<String> = gains
        .iter()
        .map(|g| g.ensemble.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    heatmap_svg(&dir.join("ensemble_gain.svg"), &tasks, &ens, &gains)?;
    crate::plots::score_heatmap_svg(
        &dir.join("score_heatmap.svg"),
        &tasks,
        &models,
        &|m, t| get(t, m).map(|s| s.mean),
        &small,
    )?;
    crate::render::pngs(
        &dir,
        &[
            "score_heatmap.svg",
            "task_scores.svg",
            "model_kinds.svg",
            "ensemble_gain.svg",
        ],
    )?;
    crate::render::html(&dir, &format!("{} — Geno-Prot results", cfg.name), &md)?;
    Ok(dir)
}

#[cfg(test)]
mod stats_tests {
    use super::*;

    #[test]
    fn holm_adjusts_step_down_and_keeps_order() {
        let adj = holm(&[0.01, 0.04, 0.03, 0.005]);
        // sorted: 0.005×4 = 0.02, 0.01×3 = 0.03, 0.03×2 = 0.06, 0.04×1 → max(0.06, 0.04) = 0.06
        let want = [0.03, 0.06, 0.06, 0.02];
        for (a, b) in adj.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{adj:?}");
        }
        assert_eq!(holm(&[0.9, 0.8]), vec![1.0, 1.0]);
    }

    #[test]
    fn bootstrap_p_is_the_two_sided_normal_tail() {
        // mean 1.96 sd 1 → p ≈ 0.05.
        let d: Vec<f64> = (0..2001)
            .map(|i| 1.96 + (i as f64 - 1000.0) / 1000.0 * 3f64.sqrt() * 1.0)
            .collect();
        let m = d.iter().sum::<f64>() / d.len() as f64;
        let sd = (d.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (d.len() - 1) as f64).sqrt();
        let p = bootstrap_p(&d);
        let z = m / sd;
        assert!(
            (z - 1.96).abs() < 0.01 && (p - 0.05).abs() < 0.002,
            "z {z} p {p}"
        );
        assert_eq!(bootstrap_p(&[0.0; 10]), 1.0);
        assert!((erfc(0.0) - 1.0).abs() < 1e-7 && (erfc(1.0) - 0.157_299_207).abs() < 1e-7);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(task: &str, model: &str, group: &str, mean: f64) -> Score {
        Score {
            task: task.into(),
            model: model.into(),
            group: group.into(),
            metric: "auroc".into(),
            mean,
            std: 0.0,
            seeds: 3,
        }
    }

    #[test]
    fn the_leaderboard_ranks_by_mean_rank_with_shared_ties_and_wins() {
        let ds = workers::dataset::synth::synthesize(&workers::dataset::synth::SynthConfig {
            genes: 30,
            ..Default::default()
        });
        let scores = vec![
            score("membrane", "a", "protein", 0.9),
            score("membrane", "b", "dna", 0.7),
            score("membrane", "e:stacking", "ensemble", 0.9),
            score("expression", "a", "protein", 0.1),
            score("expression", "b", "dna", 0.6),
            score("expression", "e:stacking", "ensemble", 0.5),
            score("essential", "b", "dna", f64::NAN),
        ];
        let board = leaderboard(&ds, &scores);
        let row = |m: &str| board.iter().find(|s| s.model == m).unwrap().clone();
        // membrane: a and e tie for first (rank 1.5 each), b third; expression: b, e, a.
        assert_eq!(row("a").mean_rank, (1.5 + 3.0) / 2.0);
        assert_eq!(row("e:stacking").mean_rank, (1.5 + 2.0) / 2.0);
        assert_eq!(row("b").mean_rank, (3.0 + 1.0) / 2.0);
        assert_eq!(
            (row("a").wins, row("b").wins, row("e:stacking").wins),
            (1, 1, 1)
        );
        // NaN scores do not count as tasks.
        assert_eq!(row("b").tasks, 2);
        assert_eq!(board[0].model, "e:stacking");
        assert_eq!(row("a").by_category["structural"], 0.9);
        let md = leaderboard_md(&board);
        assert!(
            md.contains("| 1 | e:stacking | ensemble | 2 | 1.75 | 0.700 | 1 |"),
            "{md}"
        );
        assert!(
            md.contains("Best of each kind: ensemble `e:stacking`"),
            "{md}"
        );
    }
}

//! Scores and the leaderboard: each row's (model or ensemble fusion) mean ±
//! std of a task's primary metric over seeds, and every row ranked by mean
//! rank over tasks, with wins and means per task category.

use super::stats::mean_std;
use crate::aggregate::{Aggregate, METRICS};
use crate::config::SweepConfig;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use workers::dataset::{Dataset, TaskKind};
use workers::embed::Modality;
use workers::probe::metrics::primary_metric;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Score {
    pub task: String,
    pub model: String,
    pub group: String,
    /// What a multimodal row's model reads (`dna`, `protein`, `gene`);
    /// empty for the other rows.
    pub input: String,
    pub metric: String,
    pub mean: f64,
    pub std: f64,
    pub seeds: usize,
}

/// The row kinds [`group_of`] gives (besides `other`), in report order.
pub const KINDS: [&str; 4] = ["dna", "protein", "multimodal", "ensemble"];

/// On `task`, the best row of each of [`KINDS`] (by defined mean), in that
/// order; `None` for a kind with no such row.
pub fn best_of_kinds<'a>(scores: &'a [Score], task: &str) -> [Option<&'a Score>; 4] {
    KINDS.map(|g| {
        scores
            .iter()
            .filter(|s| s.task == task && s.group == g && s.mean.is_finite())
            .max_by(|a, b| a.mean.total_cmp(&b.mean))
    })
}

/// A row's kind: `dna`, `protein`, `multimodal` or `ensemble`. A model
/// trained on both nucleotides and amino acids (a multimodal kind, or any
/// model given `modality: gene`) is multimodal whatever input it reads.
pub fn group_of(cfg: &SweepConfig, model: &str) -> String {
    if model.contains(':') {
        return "ensemble".into();
    }
    let Some(spec) = cfg.model(model) else {
        return "other".into();
    };
    if spec.kind.spec().native().is_some_and(|f| f.multimodal()) {
        return "multimodal".into();
    }
    match spec.modality() {
        Modality::Dna => "dna".into(),
        Modality::Protein => "protein".into(),
        Modality::Gene => "multimodal".into(),
    }
}

/// What a multimodal row's model reads (`protein`, `dna`, `gene`); empty
/// for the other rows.
pub fn input_of(cfg: &SweepConfig, model: &str) -> String {
    match (group_of(cfg, model).as_str(), cfg.model(model)) {
        ("multimodal", Some(spec)) => spec.modality().as_str().into(),
        _ => String::new(),
    }
}

/// A row's kind in words: `multimodal (protein input)` for a multimodal
/// model, the kind itself otherwise.
pub fn kind_label(group: &str, input: &str) -> String {
    if input.is_empty() {
        group.into()
    } else {
        format!("{group} ({input} input)")
    }
}

/// Mean ± std of each task's primary metric per model over the seeds where it is defined.
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
    // A row whose metric is undefined on every seed is kept with a NaN mean
    // (tables say "undefined"; ranks and comparisons leave it out).
    by.into_iter()
        .map(|((task, model), v)| {
            let (mean, std) = if v.is_empty() {
                (f64::NAN, f64::NAN)
            } else {
                mean_std(&v)
            };
            let kind = ds.task(&task).map(|t| t.kind).unwrap_or(TaskKind::Binary);
            Score {
                group: group_of(cfg, &model),
                input: input_of(cfg, &model),
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

#[derive(Debug, Clone, PartialEq)]
pub struct Standing {
    pub model: String,
    pub group: String,
    /// What a multimodal row's model reads; empty for the other rows.
    pub input: String,
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
    let mut acc: BTreeMap<(String, String, String), Acc> = BTreeMap::new();
    for (task, rows) in &by_task {
        let top = rows
            .iter()
            .map(|r| r.mean)
            .fold(f64::NEG_INFINITY, f64::max);
        for r in rows {
            let better = rows.iter().filter(|o| o.mean > r.mean).count() as f64;
            let equal = rows.iter().filter(|o| o.mean == r.mean).count() as f64;
            let e = acc
                .entry((r.model.clone(), r.group.clone(), r.input.clone()))
                .or_default();
            e.0.push(r.mean);
            e.1.push(better + (equal + 1.0) / 2.0);
            e.2 += (r.mean == top) as usize;
            e.3.entry(category(task)).or_default().push(r.mean);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let mut out: Vec<Standing> = acc
        .into_iter()
        .map(|((model, group, input), (sc, rk, wins, cats))| Standing {
            model,
            group,
            input,
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
            kind_label(&s.group, &s.input),
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

/// The leaderboard by modality: per kind of row (dna, protein, multimodal,
/// ensemble), how many rows, its best row (by the leaderboard's order) with
/// that row's mean rank and mean score, and on how many tasks a row of the
/// kind is the top one (ties count for each kind). `scores`: the rankable
/// tasks' scores the board was made from.
pub fn modality_md(board: &[Standing], scores: &[Score]) -> String {
    let mut top_kinds: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut by_task: BTreeMap<&str, Vec<&Score>> = BTreeMap::new();
    for s in scores.iter().filter(|s| s.mean.is_finite()) {
        by_task.entry(&s.task).or_default().push(s);
    }
    for (task, rows) in &by_task {
        let top = rows
            .iter()
            .map(|r| r.mean)
            .fold(f64::NEG_INFINITY, f64::max);
        for r in rows.iter().filter(|r| r.mean == top) {
            top_kinds.entry(r.group.as_str()).or_default().insert(task);
        }
    }
    let mut md = String::from(
        "### By modality\n\n| kind | rows | best row | its mean rank | its mean score | tasks where the kind is on top |\n|---|---|---|---|---|---|\n",
    );
    for kind in KINDS.into_iter().chain(["other"]) {
        let rows: Vec<&Standing> = board.iter().filter(|s| s.group == kind).collect();
        let Some(best) = rows.first() else { continue };
        let _ = writeln!(
            md,
            "| {kind} | {} | {} | {:.2} | {:.3} | {} of {} |",
            rows.len(),
            match best.input.as_str() {
                "" => best.model.clone(),
                input => format!("{} ({input} input)", best.model),
            },
            best.mean_rank,
            best.mean_score,
            top_kinds.get(kind).map_or(0, BTreeSet::len),
            by_task.len()
        );
    }
    md.push('\n');
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(task: &str, model: &str, group: &str, mean: f64) -> Score {
        Score {
            task: task.into(),
            model: model.into(),
            group: group.into(),
            input: String::new(),
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
        let by_kind = modality_md(&board, &scores);
        // membrane: a (protein) and e (ensemble) tie on top; expression: b (dna).
        assert!(
            by_kind.contains("| protein | 1 | a | 2.25 | 0.500 | 1 of 2 |")
                && by_kind.contains("| ensemble | 1 | e:stacking | 1.75 | 0.700 | 1 of 2 |")
                && by_kind.contains("| dna | 1 | b | 2.00 | 0.650 | 1 of 2 |"),
            "{by_kind}"
        );
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

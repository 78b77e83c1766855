//! Which pairs of rows the report compares, and their bootstraps: every
//! ensemble (per fusion) against its best member on each task, and each
//! rankable task's top row against its runner-up (see [`super::stats`]).
//! Bootstraps are cached by the compared cells' ids and store stamps in
//! `journal/report-comparisons.jsonl`; only new pairs are computed (in
//! parallel, with progress), and the cache keeps just the pairs in use.

use super::leaderboard::Score;
use super::stats::{self, Interval, Prepared, RESAMPLES};
use super::verdict::{Comparison, Question};
use crate::aggregate::Aggregate;
use crate::config::SweepConfig;
use rayon::prelude::*;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use workers::probe::cell::TestSplit;

/// One comparison to make, before its bootstrap.
struct Wanted<'a> {
    question: Question,
    a: &'a Score,
    b: &'a Score,
    /// Per seed with both cells: (a's cell id, b's cell id).
    cells: Vec<(String, String)>,
    key: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Cached {
    key: String,
    interval: Interval,
}

/// Every comparison of the report with its verdict ([`super::verdict`]).
/// `small`: tasks too small to rank (no top-vs-runner-up there; their
/// ensemble comparisons are shown, in no family).
pub fn comparisons(
    cfg: &SweepConfig,
    scores: &[Score],
    small: &BTreeSet<String>,
    agg: &Aggregate,
    show_progress: bool,
) -> Vec<Comparison> {
    let layout = cfg.layout();
    let cache_path = layout.report_comparisons();
    let (pairs, tied) = pairs_to_compare(cfg, scores, small);
    let wanted = wanted_of(cfg, pairs, agg);
    let mut known: HashMap<String, Interval> = crate::jsonl::read_checked::<Cached>(&cache_path)
        .into_iter()
        .map(|c| (c.key, c.interval))
        .collect();
    let todo: Vec<&Wanted> = wanted
        .iter()
        .filter(|w| !known.contains_key(&w.key))
        .collect();
    if !todo.is_empty() {
        let fresh = bootstrap(&layout, &todo, show_progress);
        known.extend(fresh.into_iter().filter_map(|(k, r)| Some((k, r?))));
        write_cache(&cache_path, &wanted, &known);
    }

    let mut out: Vec<Comparison> = wanted
        .iter()
        .filter_map(|w| {
            let r = known.get(&w.key)?;
            Some(Comparison {
                question: w.question,
                task: w.a.task.clone(),
                metric: w.a.metric.clone(),
                a: w.a.model.clone(),
                b: w.b.model.clone(),
                a_mean: w.a.mean,
                b_mean: w.b.mean,
                diff: w.a.mean - w.b.mean,
                ci_low: r.ci_low,
                ci_high: r.ci_high,
                p_value: r.p_value,
                p_holm: f64::NAN,
                p_equiv: f64::NAN,
                p_equiv_holm: f64::NAN,
                margin: cfg.report.margin,
                boot_mean: r.boot_mean,
                boot_sd: r.boot_sd,
                seeds: r.seeds,
                ranked: !small.contains(&w.a.task),
                identical: r.identical,
                verdict: super::verdict::Verdict::Inconclusive,
                tied_with: match w.question {
                    Question::TopVsRunnerUp => tied.get(&w.a.task).cloned().unwrap_or_default(),
                    Question::EnsembleVsBestMember => Vec::new(),
                },
            })
        })
        .collect();
    super::verdict::assign(&mut out);
    out
}

/// Which rows are compared: each ensemble fusion against its best member on
/// every task, and each rankable task's top row against its runner-up (rows
/// tied with the top are named, not tested).
type Pairs<'a> = (
    Vec<(Question, &'a Score, &'a Score)>,
    HashMap<String, Vec<String>>,
);

fn pairs_to_compare<'a>(
    cfg: &SweepConfig,
    scores: &'a [Score],
    small: &BTreeSet<String>,
) -> Pairs<'a> {
    let score_of: HashMap<(&str, &str), &Score> = scores
        .iter()
        .filter(|s| s.mean.is_finite())
        .map(|s| ((s.task.as_str(), s.model.as_str()), s))
        .collect();
    let tasks: Vec<&str> = scores
        .iter()
        .map(|s| s.task.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut pairs: Vec<(Question, &Score, &Score)> = Vec::new();
    let mut tied: HashMap<String, Vec<String>> = HashMap::new();
    for e in &cfg.ensembles {
        for f in &e.fusion {
            let name = format!("{}:{}", e.name, f.as_str());
            for t in &tasks {
                let Some(a) = score_of.get(&(*t, name.as_str())) else {
                    continue;
                };
                let best = e
                    .members
                    .iter()
                    .filter_map(|m| score_of.get(&(*t, m.as_str())))
                    .max_by(|x, y| x.mean.total_cmp(&y.mean));
                if let Some(b) = best {
                    pairs.push((Question::EnsembleVsBestMember, a, b));
                }
            }
        }
    }
    for t in tasks.iter().filter(|t| !small.contains(**t)) {
        let mut rows: Vec<&&Score> = score_of
            .iter()
            .filter(|(k, _)| k.0 == *t)
            .map(|(_, s)| s)
            .collect();
        rows.sort_by(|x, y| y.mean.total_cmp(&x.mean).then(x.model.cmp(&y.model)));
        // Rows tied with the top (a stacking that kept its best member
        // alone has the same predictions) are named, not tested; the
        // runner-up is the best row below the top score.
        let Some(top) = rows.first() else { continue };
        if let Some(b) = rows.iter().find(|r| r.mean < top.mean) {
            tied.insert(
                t.to_string(),
                rows.iter()
                    .skip(1)
                    .filter(|r| r.mean == top.mean)
                    .map(|r| r.model.clone())
                    .collect(),
            );
            pairs.push((Question::TopVsRunnerUp, top, b));
        }
    }

    (pairs, tied)
}

/// Each comparison with its cells per seed and its cache key (the cells'
/// ids and store stamps).
fn wanted_of<'a>(
    cfg: &SweepConfig,
    pairs: Vec<(Question, &'a Score, &'a Score)>,
    agg: &Aggregate,
) -> Vec<Wanted<'a>> {
    let layout = cfg.layout();
    let cell_of: HashMap<(&str, &str, u64), &str> = agg
        .rows
        .iter()
        .map(|r| {
            (
                (r.task.as_str(), r.model.as_str(), r.seed),
                r.cell_id.as_str(),
            )
        })
        .collect();
    pairs
        .into_iter()
        .map(|(question, a, b)| {
            let cells: Vec<(String, String)> = cfg
                .seeds
                .iter()
                .filter_map(|s| {
                    Some((
                        cell_of
                            .get(&(a.task.as_str(), a.model.as_str(), *s))?
                            .to_string(),
                        cell_of
                            .get(&(b.task.as_str(), b.model.as_str(), *s))?
                            .to_string(),
                    ))
                })
                .collect();
            let stamp = |id: &str| workers::file_hash::stamp(&layout.cell(id));
            let key = serde_json::to_string(
                &cells
                    .iter()
                    .map(|(x, y)| (x, stamp(x), y, stamp(y)))
                    .collect::<Vec<_>>(),
            )
            .unwrap_or_default();
            Wanted {
                question,
                a,
                b,
                cells,
                key: format!("{RESAMPLES}|2|{key}"),
            }
        })
        .collect()
}

/// The bootstraps not cached yet: each needed cell read once, its metric on
/// every draw of its test set computed once (in parallel, with progress),
/// then each comparison's paired interval.
fn bootstrap(
    layout: &crate::layout::StoreLayout,
    todo: &[&Wanted],
    show_progress: bool,
) -> Vec<(String, Option<Interval>)> {
    // Each needed cell read once (HDF5 serializes reads anyway).
    let needed: BTreeSet<&str> = todo
        .iter()
        .flat_map(|w| w.cells.iter().flat_map(|(x, y)| [x.as_str(), y.as_str()]))
        .collect();
    let prepared: HashMap<&str, Prepared> = needed
        .into_iter()
        .filter_map(|id| {
            let p = layout.cell(id);
            match TestSplit::read_as(&p, id) {
                Ok(t) => Some((id, Prepared::from_parts(t.kind, &t.ids, &t.labels, &t.pred))),
                Err(e) => {
                    tracing::warn!("report: cell {id} left out of the comparisons: {e}");
                    None
                }
            }
        })
        .collect();
    tracing::debug!(
        "report: {} cells read for {} comparisons",
        prepared.len(),
        todo.len()
    );
    let pb = crate::progress::bar(
        prepared.len() as u64,
        "{prefix:>8} [{bar:30}] {pos}/{len} cells bootstrapped eta {eta}",
        "report",
        show_progress,
    );
    let ticker = crate::progress::ticker(&pb, "report", "cells", show_progress);
    // Each cell's metric on every draw of its test set, once: the draws
    // depend only on the test genes, so every comparison that uses the
    // cell shares them.
    let ids: Vec<&str> = prepared.keys().copied().collect();
    let reps: HashMap<&str, Vec<f64>> = ids
        .par_iter()
        .map(|id| {
            let p = &prepared[id];
            let draws = stats::Draws::new(&p.test_ids, RESAMPLES);
            let r = stats::replicates(p, &draws);
            pb.inc(1);
            (*id, r)
        })
        .collect();
    let fresh: Vec<(String, Option<Interval>)> = todo
        .iter()
        .map(|w| {
            let pairs: Vec<(&[f64], &[f64])> = w
                .cells
                .iter()
                .filter_map(|(x, y)| {
                    let (a, b) = (prepared.get(x.as_str())?, prepared.get(y.as_str())?);
                    (a.test_ids == b.test_ids)
                        .then_some((reps[x.as_str()].as_slice(), reps[y.as_str()].as_slice()))
                })
                .collect();
            (w.key.clone(), stats::paired_bootstrap(&pairs))
        })
        .collect();
    drop(ticker);
    pb.finish_and_clear();
    fresh
}

/// Keeps the intervals of the comparisons in use; a store that cannot be
/// written just goes without the cache.
fn write_cache(path: &Path, wanted: &[Wanted], known: &HashMap<String, Interval>) {
    let mut seen = BTreeSet::new();
    let kept: Vec<Cached> = wanted
        .iter()
        .filter(|w| seen.insert(&w.key))
        .filter_map(|w| {
            Some(Cached {
                key: w.key.clone(),
                interval: *known.get(&w.key)?,
            })
        })
        .collect();
    if let Err(e) = crate::jsonl::rewrite_checked(path, &kept) {
        tracing::debug!("not caching the report's comparisons: {e}");
    }
}

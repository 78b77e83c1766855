//! Train/valid/test splits. They depend only on (dataset hash, task, seed) —
//! never on the model — so every model and ensemble of a task/seed sees the
//! same genes. Classification splits are stratified; an optional gene group
//! (family, homology cluster) stays within one split; pair splits are
//! gene-disjoint by default.

use super::Dataset;
use super::tasks::{Label, Scope, TaskKind};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};

/// Version of the split algorithm: part of every cell id, so a change to how
/// splits are drawn reruns the cells that depend on them.
pub const SPLIT_ALGORITHM_VERSION: &str = "2";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PairSplitMode {
    /// No gene of a test (valid) pair appears in any training pair: both
    /// genes unseen in training (Park & Marcotte's C3).
    GeneDisjoint,
    /// Exactly one gene of each test (valid) pair is unseen in training,
    /// the other is a training gene (Park & Marcotte's C2).
    OneUnseen,
    /// Pairs split at random (stratified): optimistic, for comparison only.
    Random,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SplitConfig {
    /// train, valid, test fractions (normalized).
    pub fractions: [f64; 3],
    pub pairs: PairSplitMode,
    /// Keep each gene group (genes.tsv `group`) within one split.
    pub by_group: bool,
}

impl Default for SplitConfig {
    fn default() -> Self {
        SplitConfig {
            fractions: [0.7, 0.15, 0.15],
            pairs: PairSplitMode::GeneDisjoint,
            by_group: true,
        }
    }
}

/// Row indices (into the task's label list) of each split.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskSplit {
    pub train: Vec<usize>,
    pub valid: Vec<usize>,
    pub test: Vec<usize>,
    /// Pair rows dropped because their genes fell into different splits.
    pub dropped: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    #[error("unknown task {0:?}")]
    UnknownTask(String),
    #[error("split fractions {0:?} must be non-negative with a positive train and test share")]
    Fractions([f64; 3]),
}

/// The random stream of (dataset, task, seed).
fn rng_for(dataset_hash: &str, task: &str, seed: u64) -> rand_chacha::ChaCha8Rng {
    let mut h = Sha256::new();
    h.update(b"genoprot-split-v1\0");
    h.update(dataset_hash.as_bytes());
    h.update(b"\0");
    h.update(task.as_bytes());
    h.update(b"\0");
    h.update(seed.to_le_bytes());
    rand_chacha::ChaCha8Rng::from_seed(h.finalize().into())
}

fn normalized(fr: [f64; 3]) -> Result<[f64; 3], SplitError> {
    let s: f64 = fr.iter().sum();
    if fr.iter().any(|x| *x < 0.0 || !x.is_finite()) || fr[0] <= 0.0 || fr[2] <= 0.0 || s <= 0.0 {
        return Err(SplitError::Fractions(fr));
    }
    Ok([fr[0] / s, fr[1] / s, fr[2] / s])
}

/// A unit of assignment (one gene, or one group of genes) with its stratum.
struct Unit {
    stratum: u64,
    rows: Vec<usize>,
}

/// Assigns units to splits stratum by stratum so each split gets its fraction
/// of every stratum's rows (counted in rows, not units).
fn assign(units: Vec<Unit>, fr: [f64; 3], rng: &mut rand_chacha::ChaCha8Rng) -> [Vec<usize>; 3] {
    let mut by_stratum: BTreeMap<u64, Vec<Unit>> = BTreeMap::new();
    for u in units {
        by_stratum.entry(u.stratum).or_default().push(u);
    }
    let mut placed: [Vec<Unit>; 3] = Default::default();
    for (_, mut us) in by_stratum {
        us.shuffle(rng);
        let total: usize = us.iter().map(|u| u.rows.len()).sum();
        let target = [fr[0] * total as f64, (fr[0] + fr[1]) * total as f64];
        let mut done = 0usize;
        for u in us {
            // Place the unit where its midpoint falls on the cumulative scale.
            let mid = done as f64 + u.rows.len() as f64 / 2.0;
            let s = if mid < target[0] {
                0
            } else if mid < target[1] {
                1
            } else {
                2
            };
            done += u.rows.len();
            placed[s].push(u);
        }
    }
    // Large groups can leave the test (or validation) split empty: move the
    // smallest unit of the largest split there, as long as it keeps one.
    for s in [2usize, 1] {
        if placed[s].is_empty() && fr[s] > 0.0 {
            let from = (0..3)
                .filter(|f| *f != s && placed[*f].len() > 1)
                .max_by_key(|f| placed[*f].iter().map(|u| u.rows.len()).sum::<usize>());
            if let Some(f) = from {
                let k = (0..placed[f].len())
                    .min_by_key(|k| placed[f][*k].rows.len())
                    .unwrap();
                let u = placed[f].remove(k);
                placed[s].push(u);
            }
        }
    }
    let mut out: [Vec<usize>; 3] = Default::default();
    for (s, us) in placed.into_iter().enumerate() {
        out[s] = us.into_iter().flat_map(|u| u.rows).collect();
        out[s].sort_unstable();
    }
    out
}

fn stratum_of(kind: TaskKind, l: &Label, bins: &[f32], class_freq: &HashMap<u32, usize>) -> u64 {
    match l {
        Label::Binary(b) => *b as u64,
        Label::Class(c) => *c as u64,
        // Multilabel: stratify on the rarest positive label (iterative-stratification lite).
        Label::Multi(v) => v
            .iter()
            .min_by_key(|c| (class_freq.get(c).copied().unwrap_or(0), **c))
            .map(|c| *c as u64 + 1)
            .unwrap_or(0),
        Label::Value(x) => {
            debug_assert_eq!(kind, TaskKind::Regression);
            bins.iter().filter(|b| *x > **b).count() as u64
        }
    }
}

/// Splits a gene task.
pub fn split_gene_task(
    ds: &Dataset,
    task: &str,
    seed: u64,
    cfg: &SplitConfig,
) -> Result<TaskSplit, SplitError> {
    let spec = ds
        .task(task)
        .filter(|t| t.scope == Scope::Gene)
        .ok_or_else(|| SplitError::UnknownTask(task.into()))?;
    let rows = ds
        .gene_labels
        .get(task)
        .ok_or_else(|| SplitError::UnknownTask(task.into()))?;
    let fr = normalized(cfg.fractions)?;
    let mut rng = rng_for(&ds.manifest.dataset_hash, task, seed);
    // Regression: quintile bins. Multilabel: class frequencies.
    let mut bins = Vec::new();
    if spec.kind == TaskKind::Regression {
        let mut v: Vec<f32> = rows
            .iter()
            .filter_map(|(_, l)| {
                if let Label::Value(x) = l {
                    Some(*x)
                } else {
                    None
                }
            })
            .collect();
        v.sort_by(f32::total_cmp);
        if !v.is_empty() {
            bins = (1..5)
                .map(|q| v[(q * v.len() / 5).min(v.len() - 1)])
                .collect();
        }
    }
    let mut freq: HashMap<u32, usize> = HashMap::new();
    for (_, l) in rows {
        if let Label::Multi(v) = l {
            for c in v {
                *freq.entry(*c).or_default() += 1;
            }
        }
    }
    let strata: Vec<u64> = rows
        .iter()
        .map(|(_, l)| stratum_of(spec.kind, l, &bins, &freq))
        .collect();
    let units = group_units(ds, rows.iter().map(|(g, _)| *g), &strata, cfg.by_group);
    let [train, valid, test] = assign(units, fr, &mut rng);
    Ok(TaskSplit {
        train,
        valid,
        test,
        dropped: 0,
    })
}

/// Builds units: rows of genes in one group form one unit (stratum: the most common).
fn group_units(
    ds: &Dataset,
    genes: impl Iterator<Item = u32>,
    strata: &[u64],
    by_group: bool,
) -> Vec<Unit> {
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut units = Vec::new();
    for (row, g) in genes.enumerate() {
        let grp = ds.genes[g as usize].group.as_str();
        if by_group && !grp.is_empty() {
            groups.entry(grp).or_default().push(row);
        } else {
            units.push(Unit {
                stratum: strata[row],
                rows: vec![row],
            });
        }
    }
    for (_, rows) in groups {
        let mut count: BTreeMap<u64, usize> = BTreeMap::new();
        for r in &rows {
            *count.entry(strata[*r]).or_default() += 1;
        }
        let stratum = count
            .iter()
            .max_by_key(|(s, n)| (**n, std::cmp::Reverse(**s)))
            .map(|(s, _)| *s)
            .unwrap_or(0);
        units.push(Unit { stratum, rows });
    }
    units
}

/// Splits a pair task. Gene-disjoint: genes (or groups) are assigned to splits
/// with fractions √f (normalized) so kept pairs approach the pair fractions;
/// a pair whose genes land in different splits is dropped (counted).
/// One-unseen: genes are assigned with fractions (1 − (f_v + f_t)/2, f_v/2,
/// f_t/2); a valid (test) pair has one training gene and one valid (test)
/// gene; pairs of two held-out genes are dropped (counted).
pub fn split_pair_task(
    ds: &Dataset,
    task: &str,
    seed: u64,
    cfg: &SplitConfig,
) -> Result<TaskSplit, SplitError> {
    ds.task(task)
        .filter(|t| t.scope == Scope::Pair)
        .ok_or_else(|| SplitError::UnknownTask(task.into()))?;
    let rows = ds
        .pair_labels
        .get(task)
        .ok_or_else(|| SplitError::UnknownTask(task.into()))?;
    let fr = normalized(cfg.fractions)?;
    let mut rng = rng_for(&ds.manifest.dataset_hash, task, seed);
    match cfg.pairs {
        PairSplitMode::Random => {
            let strata: Vec<u64> = rows
                .iter()
                .map(|(_, _, l)| match l {
                    Label::Binary(b) => *b as u64,
                    Label::Class(c) => *c as u64,
                    _ => 0,
                })
                .collect();
            let units = (0..rows.len())
                .map(|r| Unit {
                    stratum: strata[r],
                    rows: vec![r],
                })
                .collect();
            let [train, valid, test] = assign(units, fr, &mut rng);
            Ok(TaskSplit {
                train,
                valid,
                test,
                dropped: 0,
            })
        }
        PairSplitMode::GeneDisjoint | PairSplitMode::OneUnseen => {
            let mut genes: Vec<u32> = rows.iter().flat_map(|(a, b, _)| [*a, *b]).collect();
            genes.sort_unstable();
            genes.dedup();
            let gfr = if cfg.pairs == PairSplitMode::GeneDisjoint {
                // Kept pairs ≈ the squares of the gene fractions.
                let sq = [fr[0].sqrt(), fr[1].sqrt(), fr[2].sqrt()];
                let s: f64 = sq.iter().sum();
                [sq[0] / s, sq[1] / s, sq[2] / s]
            } else {
                // A valid (test) pair is a training gene with a valid
                // (test) gene: about 2·g_train·g_valid of the pairs.
                [1.0 - (fr[1] + fr[2]) / 2.0, fr[1] / 2.0, fr[2] / 2.0]
            };
            let strata = vec![0u64; genes.len()];
            let units = group_units(ds, genes.iter().copied(), &strata, cfg.by_group);
            let parts = assign(units, gfr, &mut rng);
            let mut split_of: HashMap<u32, usize> = HashMap::new();
            for (s, part) in parts.iter().enumerate() {
                for row in part {
                    split_of.insert(genes[*row], s);
                }
            }
            let mut out = TaskSplit::default();
            let one = cfg.pairs == PairSplitMode::OneUnseen;
            for (r, (a, b, _)) in rows.iter().enumerate() {
                match (split_of[a], split_of[b]) {
                    (0, 0) => out.train.push(r),
                    (1, 1) if !one => out.valid.push(r),
                    (2, 2) if !one => out.test.push(r),
                    (0, 1) | (1, 0) if one => out.valid.push(r),
                    (0, 2) | (2, 0) if one => out.test.push(r),
                    _ => out.dropped += 1,
                }
            }
            Ok(out)
        }
    }
}

/// Splits any task by its scope.
pub fn split_task(
    ds: &Dataset,
    task: &str,
    seed: u64,
    cfg: &SplitConfig,
) -> Result<TaskSplit, SplitError> {
    match ds.task(task).map(|t| t.scope) {
        Some(Scope::Gene) => split_gene_task(ds, task, seed, cfg),
        Some(Scope::Pair) => split_pair_task(ds, task, seed, cfg),
        None => Err(SplitError::UnknownTask(task.into())),
    }
}

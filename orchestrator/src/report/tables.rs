//! The report's markdown tables: scores per task, the ensemble claim and
//! comparison tables, top vs runner-up, late-fusion weights, best model of
//! each kind, undefined metrics, and the probe in words.

use super::leaderboard::Score;
use super::stats::{ALPHA, RESAMPLES};
use super::verdict::{Comparison, Verdict};
use crate::aggregate::Aggregate;
use crate::config::SweepConfig;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use workers::dataset::Dataset;
use workers::probe::metrics::primary_metric;

/// How the comparisons were made and what the verdicts mean, for the
/// report (`family`: comparisons in each Holm family; `margin`: δ).
pub fn statistics_md(family: usize, margin: f64) -> String {
    format!(
        "## Statistics\n\nEvery comparison below is a **paired bootstrap over test genes** (pairs for pair tasks): \
         the two rows' test predictions of a seed are on the same genes; each of {RESAMPLES} replicates draws the \
         test genes with replacement within each seed, computes both rows' primary metric on the draw and averages \
         the differences over seeds. The 95% CI is the 2.5–97.5 percentile range of those seed-averaged \
         differences. Two tests are made on each comparison, each corrected with **Holm's method** over its \
         family of {family} comparisons (ensemble vs best member and top row vs runner-up, on rankable tasks, \
         rows not identical) at α = {ALPHA}: a two-sided z test of *no difference* (superiority), and \
         **two one-sided tests (TOST)** of *a difference of at least ±δ* with δ = {margin} of the primary \
         metric (`report.margin`; equivalence), both from the replicates' mean and standard deviation.\n\n\
         Verdicts: **better** / **worse** — superiority Holm-p < α and the 95% CI entirely above / below 0; \
         **equivalent within ±δ** — TOST Holm-p < α and the CI not entirely below 0; **identical** — the two \
         rows have the same metric on every draw (a fusion that kept one member alone; not tested); \
         **inconclusive** — neither a difference nor equivalence was shown (absence of a significant difference \
         is not evidence of equivalence). Tasks too small to rank (†) are shown but in no family and no count. \
         The difference shown is of the means over seeds.\n\n"
    )
}

/// The row × task table of mean ± std of the primary metric (one row per
/// model or ensemble fusion, one column per task); the best row of each
/// rankable task in bold; rows with every seed undefined say so.
pub fn scores_md(
    ds: &Dataset,
    tasks: &[String],
    rows: &[String],
    get: &dyn Fn(&str, &str) -> Option<Score>,
    small: &BTreeSet<String>,
) -> String {
    let mut md = String::from("## Scores per task\n\n| model | kind |");
    let mut best = Vec::new();
    for t in tasks {
        let metric = ds.task(t).map_or("auroc", |s| primary_metric(s.kind));
        let dagger = if small.contains(t) { " †" } else { "" };
        let _ = write!(md, " {t}{dagger} ({metric}) |");
        best.push(
            rows.iter()
                .filter_map(|m| get(t, m))
                .map(|s| s.mean)
                .filter(|v| v.is_finite())
                .fold(f64::NEG_INFINITY, f64::max),
        );
    }
    md.push_str("\n|---|---|");
    for _ in tasks {
        md.push_str("---|");
    }
    md.push('\n');
    for m in rows {
        let kind = tasks
            .iter()
            .find_map(|t| get(t, m))
            .map_or_else(String::new, |s| s.group);
        let _ = write!(md, "| {m} | {kind} |");
        for (t, b) in tasks.iter().zip(&best) {
            match get(t, m) {
                Some(s) if !s.mean.is_finite() => md.push_str(" undefined |"),
                Some(s) if !small.contains(t) && s.mean == *b => {
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
    md.push_str("\n† too small to rank (see Sample sizes); “undefined”: the metric is undefined on every seed (see Undefined metrics); –: no cell.\n\n");
    md
}

/// One table line of a comparison: task, `a` (as named), b, both means,
/// the difference, its CI, both Holm-adjusted p's and the verdict in words.
fn comparison_row(g: &Comparison, a: &str) -> String {
    let p = |v: f64| {
        if v.is_finite() {
            format!("{v:.3}")
        } else {
            "–".into()
        }
    };
    let dagger = if g.ranked { "" } else { " †" };
    format!(
        "| {}{dagger} | {a} | {} | {:.3} | {:.3} | {:+.3} | [{:+.3}, {:+.3}] | {} | {} | {} |\n",
        g.task,
        g.b,
        g.a_mean,
        g.b_mean,
        g.diff,
        g.ci_low,
        g.ci_high,
        p(g.p_holm),
        p(g.p_equiv_holm),
        g.verdict.words(g.margin)
    )
}

const COMPARISON_HEAD: &str = "| 95% CI | p (Holm) | p TOST (Holm) | verdict |";

/// Each ensemble's difference from its best member.
pub fn gains_md(gains: &[&Comparison]) -> String {
    let mut md = format!(
        "| task | ensemble | best member | ensemble | member | gain {COMPARISON_HEAD}\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for g in gains {
        md.push_str(&comparison_row(g, &g.a));
    }
    md
}

/// Per rankable task: is the top row better than the runner-up?
pub fn top_md(tops: &[&Comparison]) -> String {
    let mut md = format!(
        "## Is the top row better than the runner-up?\n\nPer task (tasks too small to rank left out): the best row by mean over seeds against the runner-up, the best row with a lower mean (rows tied with the top — e.g. a stacking that kept its best member alone — are named, not tested).\n\n\
         | task | top | runner-up | top | runner-up | difference {COMPARISON_HEAD}\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for g in tops {
        let top = if g.tied_with.is_empty() {
            g.a.clone()
        } else {
            format!("{} (tied with {})", g.a, g.tied_with.join(", "))
        };
        md.push_str(&comparison_row(g, &top));
    }
    let count = |v: Verdict| tops.iter().filter(|g| g.verdict == v).count();
    let _ = writeln!(
        md,
        "\nThe top row is shown better than the runner-up on {} of {} tasks and equivalent to it on {}; \
         elsewhere this test set does not settle the order of the two.\n",
        count(Verdict::Better),
        tops.len(),
        count(Verdict::Equivalent)
    );
    md
}

/// The best row of each kind per task (the winner in bold; tasks too small
/// to rank marked †, nothing bold).
pub fn kinds_md(tasks: &[String], scores: &[Score], small: &BTreeSet<String>) -> String {
    let mut md = String::from(
        "## DNA vs protein vs multimodal vs ensemble (best row of each kind)\n\n| task | dna | protein | multimodal | ensemble |\n|---|---|---|---|---|\n",
    );
    for t in tasks {
        let ranked = !small.contains(t);
        let best = super::leaderboard::best_of_kinds(scores, t);
        let top = best
            .iter()
            .flatten()
            .map(|s| s.mean)
            .fold(f64::NEG_INFINITY, f64::max);
        let dagger = if ranked { "" } else { " †" };
        let _ = write!(md, "| {t}{dagger} |");
        for b in &best {
            match b {
                Some(s) if ranked && s.mean == top => {
                    let _ = write!(md, " **{:.3} ({})** |", s.mean, s.model);
                }
                Some(s) => {
                    let _ = write!(md, " {:.3} ({}) |", s.mean, s.model);
                }
                None => md.push_str(" – |"),
            }
        }
        md.push('\n');
    }
    md
}

/// Undefined metric values with their reasons, per task × row.
pub fn undefined_md(agg: &Aggregate) -> String {
    // (task, row) → (reasons, seeds)
    type Reasons<'a> = (BTreeSet<&'a str>, BTreeSet<u64>);
    let mut by: BTreeMap<(&str, &str), Reasons> = BTreeMap::new();
    for r in agg.rows.iter().filter(|r| !r.undefined.is_empty()) {
        let e = by.entry((r.task.as_str(), r.model.as_str())).or_default();
        for why in r.undefined.split("; ") {
            e.0.insert(why);
        }
        e.1.insert(r.seed);
    }
    if by.is_empty() {
        return String::new();
    }
    let mut md = String::from(
        "## Undefined metrics\n\nMetrics that have no value on a cell, and why (e.g. a test split without positives has no AUROC); \
         scores average the seeds where the metric is defined.\n\n| task | model | seeds | reason |\n|---|---|---|---|\n",
    );
    for ((t, m), (why, seeds)) in &by {
        let seeds: Vec<String> = seeds.iter().map(u64::to_string).collect();
        let why: Vec<&str> = why.iter().copied().collect();
        let _ = writeln!(
            md,
            "| {t} | {m} | {} | {} |",
            seeds.join(", "),
            why.join("; ")
        );
    }
    md.push('\n');
    md
}

/// Per fusion method: how many (ensemble, task) rows of rankable tasks
/// have each verdict against the best member ([`super::verdict`]), and
/// the answer in words: "not worse" is only ever *better*, *equivalent
/// within ±δ* or *identical*, never the absence of a significant difference.
pub fn claim_table(gains: &[&Comparison]) -> String {
    let ranked: Vec<&&Comparison> = gains.iter().filter(|g| g.ranked).collect();
    let margin = gains.first().map_or(0.01, |g| g.margin);
    let mut by: BTreeMap<String, BTreeMap<Verdict, usize>> = BTreeMap::new();
    for g in &ranked {
        let method = g.a.rsplit(':').next().unwrap_or("").to_string();
        *by.entry(method).or_default().entry(g.verdict).or_default() += 1;
    }
    let shown = [
        Verdict::Better,
        Verdict::Equivalent,
        Verdict::Identical,
        Verdict::Inconclusive,
        Verdict::Worse,
    ];
    let left_out = gains.len() - ranked.len();
    let mut md = format!(
        "{} ensemble-vs-best-member comparisons on rankable tasks{} (verdicts: see Statistics; δ = {margin}).\n\n\
         | fusion | rows | better | equivalent within ±{margin} | identical (kept one member) | inconclusive | worse |\n|---|---|---|---|---|---|---|\n",
        ranked.len(),
        if left_out > 0 {
            format!("; {left_out} on tasks too small to rank are left out (†)")
        } else {
            String::new()
        }
    );
    let pct = |a: usize, n: usize| 100.0 * a as f64 / n.max(1) as f64;
    for (m, c) in &by {
        let n: usize = c.values().sum();
        let _ = write!(md, "| {m} | {n} |");
        for v in shown {
            let k = c.get(&v).copied().unwrap_or(0);
            let _ = write!(md, " {k} ({:.0}%) |", pct(k, n));
        }
        md.push('\n');
    }
    let total = |v: Verdict| {
        by.values()
            .map(|c| c.get(&v).copied().unwrap_or(0))
            .sum::<usize>()
    };
    let n = ranked.len();
    if n > 0 {
        let _ = writeln!(
            md,
            "\n**Do ensembles match or beat their best member?** Over {n} (ensemble, task) rows on rankable \
             tasks: shown **better** on {}, shown **equivalent within ±{margin}** on {}, **identical** (the fusion \
             kept one member alone) on {}, shown **worse** on {}; **inconclusive** on {} — on those, this test set \
             shows neither a difference nor equivalence within ±{margin}.\n",
            total(Verdict::Better),
            total(Verdict::Equivalent),
            total(Verdict::Identical),
            total(Verdict::Worse),
            total(Verdict::Inconclusive),
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
    md.push('\n');
    md
}

/// How many cells chose a `c` (`alpha`) at their grid's edge, of the cells
/// that chose from a grid of at least two values, with what to do; empty
/// when none did.
pub fn grid_edges_md(agg: &Aggregate) -> String {
    let count = |regression: bool| {
        let with_grid: Vec<_> = agg
            .rows
            .iter()
            .filter(|r| r.grid_values >= 2 && (r.kind == "regression") == regression)
            .collect();
        let edge = with_grid.iter().filter(|r| !r.grid_edge.is_empty()).count();
        (edge, with_grid.len())
    };
    let (c, nc) = count(false);
    let (a, na) = count(true);
    let mut parts = Vec::new();
    if c > 0 {
        parts.push(format!(
            "C at the grid's edge in {c}/{nc} classification cells: widen `probe.c` (or `probe.c: auto`)"
        ));
    }
    if a > 0 {
        parts.push(format!(
            "alpha at the grid's edge in {a}/{na} regression cells: widen `probe.alpha` (or `probe.alpha: auto`)"
        ));
    }
    if parts.is_empty() {
        return String::new();
    }
    format!(
        "**Grid edge**: {} — the best value may lie beyond the grid (each cell's store has `grid_edge`; its log names the value).\n\n",
        parts.join("; ")
    )
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
    let values = |v: &Option<workers::probe::PenaltyC>, start: Vec<f64>| match v {
        Some(c) if c.is_auto() => {
            format!(
                "auto (from [{}], a decade added beyond the edge where the best sits, at most {} times, within {:e}..{:e}",
                grid(start),
                workers::probe::AUTO_WIDENINGS,
                workers::probe::AUTO_BOUNDS.0,
                workers::probe::AUTO_BOUNDS.1
            ) + ")"
        }
        _ => format!("[{}]", grid(start)),
    };
    let balanced = if p.class_weights {
        "class_weight balanced"
    } else {
        "unweighted"
    };
    match p.kind {
        ProbeKind::Logreg => format!(
            "linear — logistic regression (L-BFGS to max |gradient| ≤ {}, at most {} iterations, \
             C in {} chosen on validation, {balanced}; multinomial for multiclass, one per label \
             for multilabel) and ridge for regression tasks (alpha in {})",
            p.tol,
            p.max_iter,
            values(&p.c, p.c_grid()),
            values(&p.alpha, p.alpha_grid())
        ),
        ProbeKind::Ridge => format!(
            "ridge regression (closed form, alpha in {} chosen on validation)",
            values(&p.alpha, p.alpha_grid())
        ),
        ProbeKind::Mlp => format!(
            "MLP, hidden {:?}, dropout {}, AdamW lr {} weight decay {}, batch {}, at most {} epochs, \
             early stopping after {} epochs without a validation gain, {balanced}",
            p.hidden, p.dropout, p.lr, p.weight_decay, p.batch, p.max_epochs, p.patience
        ),
    }
}

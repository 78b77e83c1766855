//! The report's markdown tables: scores per task, the ensemble claim and
//! comparison tables, top vs runner-up, late-fusion weights, best model of
//! each kind, undefined metrics, and the probe in words.

use super::leaderboard::Score;
use super::stats::{ALPHA, Comparison, RESAMPLES};
use crate::aggregate::Aggregate;
use crate::config::SweepConfig;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use workers::dataset::Dataset;
use workers::probe::metrics::primary_metric;

/// How the comparisons were made, for the report (one paragraph).
pub fn statistics_md(n: usize) -> String {
    format!(
        "## Statistics\n\nEvery comparison below is a **paired bootstrap over test genes** (pairs for pair tasks): \
         the two rows' test predictions of a seed are on the same genes; each of {RESAMPLES} replicates draws the \
         test genes with replacement within each seed, computes both rows' primary metric on the draw and averages \
         the differences over seeds. The 95% CI is the 2.5–97.5 percentile range of those seed-averaged \
         differences; p is two-sided from the replicates' z statistic. **Holm's correction** runs over the whole \
         family of {n} comparisons in this report (ensemble vs best member, top row vs runner-up) at α = {ALPHA}. \
         A row is better (worse) when its Holm-adjusted p < α and the CI lies above (below) 0; otherwise the two \
         are not significantly different. The difference shown is of the means over seeds.\n\n"
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
/// the difference, its CI, the Holm-adjusted p and the verdict in words.
fn comparison_row(g: &Comparison, a: &str, (better, worse): (&str, &str)) -> String {
    let verdict = match g.verdict() {
        1 => better,
        -1 => worse,
        _ => "not significant",
    };
    format!(
        "| {} | {a} | {} | {:.3} | {:.3} | {:+.3} | [{:+.3}, {:+.3}] | {:.3} | {verdict} |\n",
        g.task, g.b, g.a_mean, g.b_mean, g.diff, g.ci_low, g.ci_high, g.p_holm
    )
}

/// Each ensemble's difference from its best member.
pub fn gains_md(gains: &[&Comparison]) -> String {
    let mut md = String::from(
        "| task | ensemble | best member | ensemble | member | gain | 95% CI | p (Holm) | beats member |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for g in gains {
        md.push_str(&comparison_row(g, &g.a, ("yes", "no (worse)")));
    }
    md
}

/// Per rankable task: is the top row better than the runner-up?
pub fn top_md(tops: &[&Comparison]) -> String {
    let mut md = String::from(
        "## Is the top row better than the runner-up?\n\nPer task (tasks too small to rank left out): the best row by mean over seeds against the runner-up, the best row with a lower mean (rows tied with the top — e.g. a stacking that kept its best member alone — are named, not tested).\n\n\
         | task | top | runner-up | top | runner-up | difference | 95% CI | p (Holm) | verdict |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for g in tops {
        let top = if g.tied_with.is_empty() {
            g.a.clone()
        } else {
            format!("{} (tied with {})", g.a, g.tied_with.join(", "))
        };
        md.push_str(&comparison_row(
            g,
            &top,
            ("top is better", "runner-up is better"),
        ));
    }
    let clear = tops.iter().filter(|g| g.verdict() == 1).count();
    let _ = writeln!(
        md,
        "\nThe top row is significantly better than the runner-up on {clear} of {} tasks; elsewhere the ranking between the two is not settled by this test set.\n",
        tops.len()
    );
    md
}

/// The best row of each kind per task (the winner in bold).
pub fn kinds_md(tasks: &[String], scores: &[Score]) -> String {
    let mut md = String::from(
        "## DNA vs protein vs multimodal vs ensemble (best row of each kind)\n\n| task | dna | protein | multimodal | ensemble |\n|---|---|---|---|---|\n",
    );
    for t in tasks {
        let best = super::leaderboard::best_of_kinds(scores, t);
        let top = best
            .iter()
            .flatten()
            .map(|s| s.mean)
            .fold(f64::NEG_INFINITY, f64::max);
        let _ = write!(md, "| {t} |");
        for b in &best {
            match b {
                Some(s) if s.mean == top => {
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

/// Per fusion method: on how many (ensemble, task) rows the ensemble beats
/// its best member, matches it (no significant difference) or loses —
/// significant = Holm-adjusted p < 0.05 over every comparison of the report
/// (and the 95% CI on the same side of 0) — and the answer in words.
pub fn claim_table(gains: &[&Comparison]) -> String {
    let mut by: BTreeMap<String, [usize; 3]> = BTreeMap::new();
    for g in gains {
        let method = g.a.rsplit(':').next().unwrap_or("").to_string();
        let c = by.entry(method).or_default();
        match g.verdict() {
            1 => c[0] += 1,
            -1 => c[2] += 1,
            _ => c[1] += 1,
        }
    }
    let mut md = format!(
        "{} ensemble-vs-best-member comparisons (significance: see Statistics).\n\n\
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
    md.push('\n');
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

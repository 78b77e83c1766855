//! Score by layer: for each `layers:` entry, its rows (`name@L<k>`) side
//! by side per task, the best layer in bold, and how often each layer is
//! the best (the best layer is often not the last: DGEB reports the middle
//! and the last for this reason).

use super::leaderboard::Score;
use crate::config::SweepConfig;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// The `layers:` entries of a sweep: entry name → its rows and their
/// layers, in layer order.
fn entries(cfg: &SweepConfig) -> BTreeMap<&str, Vec<(&str, i64)>> {
    let mut out: BTreeMap<&str, Vec<(&str, i64)>> = BTreeMap::new();
    for m in &cfg.models {
        if let (Some(entry), Some(k)) = (&m.layers_of, m.layer) {
            out.entry(entry.as_str()).or_default().push((&m.name, k));
        }
    }
    for rows in out.values_mut() {
        rows.sort_by_key(|(_, k)| *k);
    }
    out
}

/// The section (empty when no model has `layers:`): a table per entry,
/// tasks × layers, mean ± std of the primary metric; tasks too small to
/// rank (`small`) are marked † and never bold.
pub fn by_layer_md(
    cfg: &SweepConfig,
    tasks: &[String],
    scores: &[Score],
    small: &BTreeSet<String>,
) -> String {
    let entries = entries(cfg);
    if entries.is_empty() {
        return String::new();
    }
    let get: BTreeMap<(&str, &str), &Score> = scores
        .iter()
        .map(|s| ((s.task.as_str(), s.model.as_str()), s))
        .collect();
    let mut md = String::from(
        "### Score by layer\n\nEach `layers:` entry's rows from one forward pass: mean ± std of the \
         primary metric per layer (0 = the embeddings); **bold**: the best layer on a task.\n\n",
    );
    for (entry, rows) in entries {
        let _ = write!(md, "`{entry}`\n\n| task |");
        for (_, k) in &rows {
            let _ = write!(md, " L{k} |");
        }
        md.push_str("\n|---|");
        md.push_str(&"---|".repeat(rows.len()));
        md.push('\n');
        let mut best_count = vec![0usize; rows.len()];
        for task in tasks {
            let cells: Vec<Option<&Score>> = rows
                .iter()
                .map(|(m, _)| get.get(&(task.as_str(), *m)).copied())
                .collect();
            let top = cells
                .iter()
                .flatten()
                .map(|s| s.mean)
                .filter(|v| v.is_finite())
                .fold(f64::NEG_INFINITY, f64::max);
            let rankable = !small.contains(task);
            let _ = write!(md, "| {task}{} |", if rankable { "" } else { " †" });
            for (j, c) in cells.iter().enumerate() {
                match c {
                    Some(s) if s.mean.is_finite() => {
                        let v = format!("{:.3} ± {:.3}", s.mean, s.std);
                        if rankable && s.mean == top {
                            best_count[j] += 1;
                            let _ = write!(md, " **{v}** |");
                        } else {
                            let _ = write!(md, " {v} |");
                        }
                    }
                    Some(_) => md.push_str(" undefined |"),
                    None => md.push_str(" — |"),
                }
            }
            md.push('\n');
        }
        let _ = write!(md, "| best on |");
        for n in best_count {
            let _ = write!(md, " {n} |");
        }
        md.push_str("\n\n");
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_table_per_entry_with_the_best_layer_bold() {
        let cfg = SweepConfig::parse(
            "name: t\ndataset: d\nstore: s\nmodels:\n  - {name: k, kind: kmer, modality: dna, k: 2}\n",
            "c.yaml",
        )
        .unwrap();
        assert_eq!(by_layer_md(&cfg, &[], &[], &BTreeSet::new()), "");
        let mut cfg = cfg;
        for k in [1, 3] {
            let mut m = cfg.models[0].clone();
            m.name = format!("e@L{k}");
            m.layers_of = Some("e".into());
            m.layer = Some(k);
            cfg.models.push(m);
        }
        let score = |task: &str, model: &str, mean: f64| Score {
            task: task.into(),
            model: model.into(),
            group: "dna".into(),
            input: String::new(),
            metric: "auroc".into(),
            mean,
            std: 0.01,
            seeds: 3,
        };
        let scores = vec![
            score("a", "e@L1", 0.8),
            score("a", "e@L3", 0.7),
            score("b", "e@L1", 0.6),
            score("b", "e@L3", 0.9),
            score("c", "e@L1", 0.99),
        ];
        let small: BTreeSet<String> = ["c".to_string()].into();
        let md = by_layer_md(&cfg, &["a".into(), "b".into(), "c".into()], &scores, &small);
        assert!(md.contains("| task | L1 | L3 |"), "{md}");
        assert!(
            md.contains("| a | **0.800 ± 0.010** | 0.700 ± 0.010 |"),
            "{md}"
        );
        assert!(
            md.contains("| b | 0.600 ± 0.010 | **0.900 ± 0.010** |"),
            "{md}"
        );
        assert!(md.contains("| c † | 0.990 ± 0.010 | — |"), "{md}");
        assert!(md.contains("| best on | 1 | 1 |"), "{md}");
    }
}

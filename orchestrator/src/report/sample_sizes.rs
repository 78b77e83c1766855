//! Per task: how many genes (pairs) each split holds and how many test
//! positives the rarest label has — the smallest over the task's cells —
//! and whether the task is too small to rank models on (`report.min_test`,
//! `report.min_positives`; defaults 30 and 10).

use crate::aggregate::Aggregate;
use crate::config::ReportConfig;
use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TaskSize {
    pub task: String,
    pub n_train: usize,
    pub n_valid: usize,
    pub n_test: usize,
    /// The rarest label's test positives; None for regression.
    pub test_positives: Option<i64>,
    /// Why the task is too small to rank on, if it is.
    pub too_small: Option<String>,
}

/// Sizes of every task with cells, in task order of first appearance.
pub fn task_sizes(agg: &Aggregate, limits: &ReportConfig) -> Vec<TaskSize> {
    let mut by: BTreeMap<&str, TaskSize> = BTreeMap::new();
    for r in &agg.rows {
        let e = by.entry(&r.task).or_insert_with(|| TaskSize {
            task: r.task.clone(),
            n_train: r.n_train,
            n_valid: r.n_valid,
            n_test: r.n_test,
            test_positives: (r.test_positives >= 0).then_some(r.test_positives),
            too_small: None,
        });
        e.n_train = e.n_train.min(r.n_train);
        e.n_valid = e.n_valid.min(r.n_valid);
        e.n_test = e.n_test.min(r.n_test);
        if r.test_positives >= 0 {
            e.test_positives = Some(
                e.test_positives
                    .map_or(r.test_positives, |p| p.min(r.test_positives)),
            );
        }
    }
    let mut out: Vec<TaskSize> = by.into_values().collect();
    for t in &mut out {
        let mut why = Vec::new();
        if t.n_test < limits.min_test {
            why.push(format!("{} test examples < {}", t.n_test, limits.min_test));
        }
        if let Some(p) = t.test_positives
            && (p as usize) < limits.min_positives
        {
            why.push(format!("{p} test positives < {}", limits.min_positives));
        }
        t.too_small = (!why.is_empty()).then(|| why.join(", "));
    }
    out
}

/// The sample-size section of summary.md.
pub fn sizes_md(sizes: &[TaskSize], limits: &ReportConfig) -> String {
    let mut md = format!(
        "## Sample sizes\n\nPer task, the smallest over its cells (seeds): training, validation and test examples \
         (genes, or pairs for pair tasks) and the rarest label's positives in the test split. A task with \
         fewer than {} test examples or {} test positives is **too small to rank**: it is never bolded and \
         left out of the leaderboard (thresholds: `report: {{min_test, min_positives}}`).\n\n\
         | task | train | valid | test | test positives | |\n|---|---|---|---|---|---|\n",
        limits.min_test, limits.min_positives
    );
    for t in sizes {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            t.task,
            t.n_train,
            t.n_valid,
            t.n_test,
            t.test_positives.map_or("–".into(), |p| p.to_string()),
            t.too_small
                .as_ref()
                .map_or(String::new(), |w| format!("too small to rank ({w})"))
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Row;

    fn row(task: &str, seed: u64, n_test: usize, pos: i64) -> Row {
        Row {
            cell_id: format!("{task}{seed}"),
            model: "m".into(),
            fusion: "none".into(),
            members: "m".into(),
            task: task.into(),
            kind: "binary".into(),
            scope: "gene".into(),
            seed,
            metrics: [f64::NAN; 8],
            undefined: String::new(),
            n_test,
            n_train: 100,
            n_valid: 20,
            test_positives: pos,
            seconds: 0.0,
            weights: vec![],
            grid_edge: String::new(),
            grid_values: 0,
        }
    }

    #[test]
    fn small_tasks_are_flagged_with_the_reason() {
        let agg = Aggregate {
            rows: vec![
                row("big", 0, 60, 20),
                row("big", 1, 58, 12),
                row("few", 0, 6, 2),
                row("reg", 0, 40, -1),
            ],
            missing: vec![],
            unreadable: vec![],
        };
        let s = task_sizes(&agg, &ReportConfig::default());
        let get = |t: &str| s.iter().find(|x| x.task == t).unwrap();
        assert_eq!(
            (get("big").n_test, get("big").test_positives),
            (58, Some(12))
        );
        assert_eq!(get("big").too_small, None);
        assert_eq!(
            get("few").too_small.as_deref(),
            Some("6 test examples < 30, 2 test positives < 10")
        );
        assert_eq!(get("reg").test_positives, None);
        assert!(sizes_md(&s, &ReportConfig::default()).contains("too small to rank (6 test"));
    }
}

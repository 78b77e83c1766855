//! Our own label tables: the wide gene-labels TSV and the long pairs TSV.

use super::*;
use crate::dataset::findings::Findings;
use crate::dataset::tasks::{Scope, TaskKind, TaskSpec, infer_gene_task};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// Reads our wide labels table: `gene_id` then one column per gene task; an
/// optional `group` column (family / homology cluster) and `symbol` column.
/// Columns named in `ignore` are skipped (neither tasks nor errors).
pub fn read_labels_tsv(
    path: &Path,
    spec: Option<&[TaskSpec]>,
    ignore: &[String],
    f: &mut Findings,
) -> Option<SourceLabels> {
    let t = read_tsv(path, f)?;
    let idc = t
        .col("gene_id")
        .or_else(|| t.col("id"))
        .or_else(|| t.col("gene"));
    let Some(idc) = idc else {
        f.error(
            "tsv-header",
            path,
            1,
            None,
            format!(
                "no gene id column: the header needs `gene_id` (or `gene`/`id`); it has {}",
                t.header.join(", ")
            ),
        );
        return None;
    };
    let group_c = t.col("group");
    let symbol_c = t.col("symbol");
    let mut out = SourceLabels {
        file: path.to_path_buf(),
        ..Default::default()
    };
    let mut seen: HashMap<&str, u64> = HashMap::new();
    let mut dup_rows = HashSet::new();
    for r in &t.rows {
        let id = r.cells[idc].trim();
        if id.is_empty() {
            f.error("tsv-value", path, r.line, None, "empty gene_id");
        } else if let Some(prev) = seen.insert(id, r.line) {
            f.error(
                "duplicate-label-row",
                path,
                r.line,
                Some(id),
                format!("gene already labelled at line {prev}"),
            );
            dup_rows.insert(r.line);
        }
        if let Some(g) = group_c {
            let grp = r.cells[g].trim();
            if !grp.is_empty() {
                out.groups.push((id.to_string(), grp.to_string(), r.line));
            }
        }
    }
    for (c, name) in t.header.iter().enumerate() {
        if c == idc || Some(c) == group_c || Some(c) == symbol_c || ignore.contains(name) {
            continue;
        }
        let values: Vec<&str> = t.rows.iter().map(|r| r.cells[c].as_str()).collect();
        let Some(task) = infer_or_spec(name, &values, spec, path, 1, f) else {
            continue;
        };
        if !check_scope(&task, Scope::Gene, path, f) {
            continue;
        }
        let mut rows = Vec::new();
        for r in &t.rows {
            let v = r.cells[c].trim();
            let id = r.cells[idc].trim();
            if v.is_empty() || id.is_empty() || dup_rows.contains(&r.line) {
                continue;
            }
            match task.parse_label(v) {
                Ok(label) => rows.push(LabelRow {
                    gene: id.to_string(),
                    alt: None,
                    label,
                    line: r.line,
                }),
                Err(e) => f.error(
                    "label-value",
                    path,
                    r.line,
                    Some(id),
                    format!("column {name}: {e}"),
                ),
            }
        }
        out.gene.push((task, rows));
    }
    Some(out)
}

/// Reads our pairs table: `task gene_a gene_b label`.
pub fn read_pairs_tsv(
    path: &Path,
    spec: Option<&[TaskSpec]>,
    f: &mut Findings,
) -> Option<SourceLabels> {
    let t = read_tsv(path, f)?;
    let (Some(tc), Some(ac), Some(bc), Some(lc)) = (
        t.col("task"),
        t.col("gene_a"),
        t.col("gene_b"),
        t.col("label"),
    ) else {
        f.error(
            "tsv-header",
            path,
            1,
            None,
            "pairs need the columns task, gene_a, gene_b, label",
        );
        return None;
    };
    let mut by_task: BTreeMap<String, Vec<&super::TsvRow>> = BTreeMap::new();
    let mut first_line: HashMap<String, u64> = HashMap::new();
    for r in &t.rows {
        let name = r.cells[tc].trim().to_string();
        first_line.entry(name.clone()).or_insert(r.line);
        by_task.entry(name).or_default().push(r);
    }
    let mut out = SourceLabels {
        file: path.to_path_buf(),
        ..Default::default()
    };
    for (name, rows) in by_task {
        let values: Vec<&str> = rows.iter().map(|r| r.cells[lc].as_str()).collect();
        let task = match spec {
            Some(_) => infer_or_spec(&name, &values, spec, path, first_line[&name], f),
            None => {
                let mut t = infer_gene_task(&name, &values);
                t.scope = Scope::Pair;
                t.category = "interaction".into();
                Some(t)
            }
        };
        let Some(task) = task else { continue };
        if !check_scope(&task, Scope::Pair, path, f) {
            continue;
        }
        let mut prs = Vec::new();
        for r in rows {
            let (a, b) = (r.cells[ac].trim(), r.cells[bc].trim());
            if a.is_empty() || b.is_empty() {
                f.error("tsv-value", path, r.line, None, "empty gene_a or gene_b");
                continue;
            }
            match task.parse_label(&r.cells[lc]) {
                Ok(label) => prs.push(PairRow {
                    a: a.into(),
                    b: b.into(),
                    label,
                    line: r.line,
                }),
                Err(e) => f.error(
                    "label-value",
                    path,
                    r.line,
                    Some(a),
                    format!("task {name}: {e}"),
                ),
            }
        }
        out.pair.push((task, prs));
    }
    Some(out)
}

/// Whether task `t` may appear in a file of scope `want` (an error otherwise).
pub fn check_scope(t: &TaskSpec, want: Scope, file: &Path, f: &mut Findings) -> bool {
    if t.scope != want {
        f.error(
            "task-scope",
            file,
            1,
            Some(&t.name),
            format!(
                "task is a {:?} task in the spec but appears in a {:?} file",
                t.scope, want
            ),
        );
        return false;
    }
    if want == Scope::Pair && matches!(t.kind, TaskKind::Multilabel) {
        f.error(
            "task-kind",
            file,
            1,
            Some(&t.name),
            "pair tasks must be binary, multiclass or regression",
        );
        return false;
    }
    true
}

/// The task of column `name`: from the spec when there is one, else inferred
/// from its values (a column that looks like an identifier is skipped).
pub fn infer_or_spec(
    name: &str,
    values: &[&str],
    spec: Option<&[TaskSpec]>,
    file: &Path,
    line: u64,
    f: &mut Findings,
) -> Option<TaskSpec> {
    match spec {
        Some(spec) => match spec.iter().find(|t| t.name == name) {
            Some(t) => Some(t.clone()),
            None => {
                let names: Vec<&str> = spec.iter().map(|t| t.name.as_str()).collect();
                f.error(
                    "unknown-task",
                    file,
                    line,
                    Some(name),
                    format!(
                        "task not in the task spec (known: {}); add it to tasks.yaml, \
                         or pass --ignore-columns {name} if it is not a task",
                        names.join(", ")
                    ),
                );
                None
            }
        },
        None => {
            let t = infer_gene_task(name, values);
            let labelled = values.iter().filter(|v| !v.trim().is_empty()).count();
            if crate::dataset::tasks::looks_like_identifier(&t, labelled) {
                f.warn(
                    "skipped-column",
                    file,
                    line,
                    Some(name),
                    format!(
                        "column not made a task: {} distinct values in {labelled} labelled rows \
                         looks like an identifier, not a label (list it in --tasks to use it)",
                        t.classes.len()
                    ),
                );
                return None;
            }
            tracing::debug!(
                file = %file.display(),
                "column {name}: inferred a {:?} task{}",
                t.kind,
                if t.classes.is_empty() {
                    String::new()
                } else {
                    format!(" with {} classes", t.classes.len())
                }
            );
            Some(t)
        }
    }
}

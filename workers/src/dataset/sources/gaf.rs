//! GO annotation GAF 2.x: one multilabel gene task per GO aspect.

use super::*;
use crate::dataset::findings::Findings;
use crate::dataset::tasks::{Label, Scope, TaskKind, TaskSpec};
use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::path::Path;

/// `GO:` followed by seven digits.
fn is_go_id(term: &str) -> bool {
    term.strip_prefix("GO:")
        .is_some_and(|d| d.len() == 7 && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Per gene of a GAF aspect: GO terms, first line, symbol.
type GafGene = (BTreeSet<String>, u64, String);

/// GO annotation GAF 2.x → one multilabel task per aspect present
/// (`go_mf`, `go_bp`, `go_cc`), over terms with at least `min_genes` genes.
/// Rows with a `NOT` qualifier or an excluded evidence code are skipped.
pub fn read_gaf(
    path: &Path,
    exclude_evidence: &[String],
    min_genes: usize,
    f: &mut Findings,
) -> Option<SourceLabels> {
    let r = match crate::dataset::fasta::open_maybe_gz(path) {
        Ok(r) => std::io::BufReader::new(r),
        Err(e) => {
            f.error("io", path, 0, None, format!("cannot read: {e}"));
            return None;
        }
    };
    // aspect → gene → (terms, first line), with the symbol as alternative ref.
    let mut ann: BTreeMap<char, BTreeMap<String, GafGene>> = BTreeMap::new();
    for (i, line) in r.lines().enumerate() {
        let lineno = i as u64 + 1;
        let Ok(line) = line else {
            f.error("io", path, lineno, None, "unreadable line");
            return None;
        };
        if line.starts_with('!') || line.trim().is_empty() {
            continue;
        }
        let c: Vec<&str> = line.split('\t').collect();
        if c.len() < 15 {
            f.error(
                "gaf-row",
                path,
                lineno,
                c.get(1).copied(),
                format!("{} columns; GAF 2.x has 15 or more", c.len()),
            );
            continue;
        }
        let (acc, symbol, qual, term, evidence, aspect) = (c[1], c[2], c[3], c[4], c[6], c[8]);
        if qual.split('|').any(|q| q == "NOT") || exclude_evidence.iter().any(|e| e == evidence) {
            continue;
        }
        let Some(a) = aspect
            .chars()
            .next()
            .filter(|a| matches!(a, 'F' | 'P' | 'C'))
        else {
            f.error(
                "gaf-row",
                path,
                lineno,
                Some(acc),
                format!("aspect {aspect:?} is not F, P or C"),
            );
            continue;
        };
        if !is_go_id(term) {
            f.error(
                "gaf-row",
                path,
                lineno,
                Some(acc),
                format!("{term:?} is not a GO id (GO: and seven digits, e.g. GO:0005634)"),
            );
            continue;
        }
        let e = ann
            .entry(a)
            .or_default()
            .entry(acc.to_string())
            .or_insert_with(|| (BTreeSet::new(), lineno, symbol.to_string()));
        e.0.insert(term.to_string());
    }
    let mut out = SourceLabels {
        file: path.to_path_buf(),
        ..Default::default()
    };
    for (aspect, genes) in ann {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for (terms, _, _) in genes.values() {
            for t in terms {
                *counts.entry(t).or_default() += 1;
            }
        }
        let classes: Vec<String> = counts
            .into_iter()
            .filter(|(_, n)| *n >= min_genes)
            .map(|(t, _)| t.to_string())
            .collect();
        let name = match aspect {
            'F' => "go_mf",
            'P' => "go_bp",
            _ => "go_cc",
        };
        if classes.len() < 2 {
            f.warn(
                "empty-task",
                path,
                0,
                Some(name),
                format!("fewer than 2 GO terms with >= {min_genes} genes; task left out"),
            );
            continue;
        }
        let mut rows = Vec::new();
        for (g, (terms, line, symbol)) in &genes {
            let v: Vec<u32> = terms
                .iter()
                .filter_map(|t| classes.iter().position(|c| c == t).map(|i| i as u32))
                .collect();
            if !v.is_empty() {
                rows.push(LabelRow {
                    gene: g.clone(),
                    alt: Some(symbol.clone()),
                    label: Label::Multi(v),
                    line: *line,
                });
            }
        }
        out.gene.push((
            TaskSpec {
                name: name.into(),
                scope: Scope::Gene,
                kind: TaskKind::Multilabel,
                category: "functional".into(),
                classes,
                description: format!(
                    "GO {} terms from {}",
                    aspect,
                    path.file_name().unwrap_or_default().to_string_lossy()
                ),
                signal: None,
            },
            rows,
        ));
    }
    Some(out)
}

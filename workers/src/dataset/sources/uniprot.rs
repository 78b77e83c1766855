//! UniProt's TSV export: subcellular location, membrane, enzyme and
//! other gene tasks, and co-localization pairs.

use super::*;
use crate::dataset::findings::Findings;
use crate::dataset::tasks::{Label, Scope, TaskKind, TaskSpec};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Subcellular location classes derived from UniProt's `Subcellular location [CC]`.
const LOCATIONS: &[(&str, &str)] = &[
    ("Nucleus", "nucleus"),
    ("Cytoplasm", "cytoplasm"),
    ("Cell membrane", "membrane"),
    ("Membrane", "membrane"),
    ("Secreted", "secreted"),
    ("Mitochondrion", "mitochondrion"),
    ("Endoplasmic reticulum", "endoplasmic_reticulum"),
    ("Golgi apparatus", "golgi"),
];

fn uniprot_locations(cc: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let body = cc
        .trim()
        .strip_prefix("SUBCELLULAR LOCATION:")
        .unwrap_or(cc);
    for part in body.split(['.', ';']) {
        let p = part.trim();
        let p = p.split(" {").next().unwrap_or(p).trim();
        // "Note=..." and isoform prefixes are not locations.
        let p = p.rsplit_once(": ").map(|(_, r)| r).unwrap_or(p);
        if p.starts_with("Note=") {
            break;
        }
        if let Some((_, c)) = LOCATIONS.iter().find(|(k, _)| p.starts_with(k)) {
            out.insert(c.to_string());
        }
    }
    out
}

/// A UniProt export being read: its table, file, `Entry` and `Gene Names`
/// columns.
struct Export<'a> {
    t: &'a Tsv,
    path: &'a Path,
    entry: usize,
    names: Option<usize>,
}

fn spec(name: &str, kind: TaskKind, cat: &str, classes: Vec<String>, d: &str) -> TaskSpec {
    TaskSpec {
        name: name.into(),
        scope: Scope::Gene,
        kind,
        category: cat.into(),
        classes,
        description: d.into(),
        signal: None,
    }
}

impl Export<'_> {
    /// A gene (the accession; its first gene name as an alternative).
    fn gref(&self, r: &TsvRow) -> (String, Option<String>) {
        let alt = self
            .names
            .and_then(|c| r.cells[c].split_whitespace().next().map(str::to_string));
        (r.cells[self.entry].trim().to_string(), alt)
    }

    /// A gene task from column `col` (none: no task), each cell converted
    /// by `conv`; a regression cell that is not a number is an error.
    fn gene_task(
        &self,
        task: TaskSpec,
        col: Option<usize>,
        f: &mut Findings,
        conv: &dyn Fn(&str) -> Option<Label>,
    ) -> Option<(TaskSpec, Vec<LabelRow>)> {
        let c = col?;
        let (t, path) = (self.t, self.path);
        let mut rows = Vec::new();
        for r in &t.rows {
            let (g, alt) = self.gref(r);
            if let Some(l) = conv(&r.cells[c]) {
                rows.push(LabelRow {
                    gene: g,
                    alt,
                    label: l,
                    line: r.line,
                });
            } else if task.kind == TaskKind::Regression && !r.cells[c].trim().is_empty() {
                f.error(
                    "label-value",
                    path,
                    r.line,
                    Some(&g),
                    format!("column {}: {:?} is not a number", t.header[c], r.cells[c]),
                );
            }
        }
        Some((task, rows))
    }

    /// membrane, log_length and disease.
    fn simple_tasks(&self, f: &mut Findings) -> Vec<(TaskSpec, Vec<LabelRow>)> {
        let (t, x) = (self.t, self);
        let mut out = Vec::new();
        out.extend(x.gene_task(
            spec(
                "membrane",
                TaskKind::Binary,
                "structural",
                vec![],
                "has a transmembrane region (UniProt Transmembrane)",
            ),
            t.col("Transmembrane"),
            f,
            &|s| Some(Label::Binary(s.contains("TRANSMEM"))),
        ));
        out.extend(x.gene_task(
            spec(
                "log_length",
                TaskKind::Regression,
                "structural",
                vec![],
                "log10 protein length (UniProt Length)",
            ),
            t.col("Length"),
            f,
            &|s| {
                s.trim()
                    .parse::<f32>()
                    .ok()
                    .filter(|x| *x > 0.0)
                    .map(|x| Label::Value(x.log10()))
            },
        ));
        out.extend(x.gene_task(
            spec(
                "disease",
                TaskKind::Binary,
                "biomedical",
                vec![],
                "involved in a disease (UniProt Involvement in disease)",
            ),
            t.col("Involvement in disease"),
            f,
            &|s| Some(Label::Binary(!s.trim().is_empty())),
        ));
        out
    }

    /// Subcellular locations (multilabel over [`LOCATIONS`]' classes).
    fn localization(&self, f: &mut Findings) -> Option<(TaskSpec, Vec<LabelRow>)> {
        let (t, x) = (self.t, self);
        let loc_classes: Vec<String> = {
            let mut v: Vec<String> = LOCATIONS.iter().map(|(_, c)| c.to_string()).collect();
            v.sort();
            v.dedup();
            v
        };
        let loc_col = t.col("Subcellular location [CC]");
        {
            let cls = loc_classes.clone();
            x.gene_task(
                spec(
                    "localization",
                    TaskKind::Multilabel,
                    "functional",
                    cls.clone(),
                    "subcellular locations (UniProt Subcellular location [CC])",
                ),
                loc_col,
                f,
                &|s| {
                    let locs = uniprot_locations(s);
                    (!locs.is_empty()).then(|| {
                        Label::Multi(
                            locs.iter()
                                .filter_map(|l| cls.iter().position(|c| c == l).map(|i| i as u32))
                                .collect(),
                        )
                    })
                },
            )
        }
    }

    /// GO molecular function: multilabel over terms seen on at least 2 proteins.
    fn go_function(&self, f: &mut Findings) -> Option<(TaskSpec, Vec<LabelRow>)> {
        let (t, x) = (self.t, self);
        let c = t.col("Gene Ontology (molecular function)")?;
        {
            let terms_of = |s: &str| -> Vec<String> {
                s.split(';')
                    .filter_map(|p| {
                        p.rsplit_once("[GO:")
                            .map(|(_, r)| format!("GO:{}", r.trim_end_matches(']').trim()))
                    })
                    .collect()
            };
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for r in &t.rows {
                for term in terms_of(&r.cells[c]) {
                    *counts.entry(term).or_default() += 1;
                }
            }
            let classes: Vec<String> = counts
                .into_iter()
                .filter(|(_, n)| *n >= 2)
                .map(|(t, _)| t)
                .collect();
            if classes.len() >= 2 {
                let cls = classes.clone();
                return x.gene_task(
                    spec(
                        "go_function",
                        TaskKind::Multilabel,
                        "functional",
                        classes,
                        "GO molecular function terms (UniProt)",
                    ),
                    Some(c),
                    f,
                    &|s| {
                        let v: Vec<u32> = terms_of(s)
                            .iter()
                            .filter_map(|t| cls.iter().position(|c| c == t).map(|i| i as u32))
                            .collect();
                        (!v.is_empty()).then(|| {
                            let mut v = v;
                            v.sort_unstable();
                            v.dedup();
                            Label::Multi(v)
                        })
                    },
                );
            }
        }
        None
    }

    /// Pairs sharing a subcellular location.
    fn colocalize(&self, out: &mut SourceLabels) {
        let (t, entry) = (self.t, self.entry);
        let loc_col = t.col("Subcellular location [CC]");
        let mut sets_loc: BTreeMap<String, (BTreeSet<String>, u64)> = BTreeMap::new();
        if let Some(c) = loc_col {
            for r in &t.rows {
                let locs = uniprot_locations(&r.cells[c]);
                if !locs.is_empty() {
                    sets_loc.insert(r.cells[entry].trim().to_string(), (locs, r.line));
                }
            }
            if sets_loc.len() >= 2 {
                out.pair.push(pairs_from_sets(
                    "colocalize",
                    "share a subcellular location (UniProt); negatives sampled",
                    &sets_loc,
                    17,
                ));
            }
        }
    }

    /// Pairs binding a common ligand (ChEBI ids of `Binding site`).
    fn share_ligand(&self, out: &mut SourceLabels) {
        let (t, entry) = (self.t, self.entry);
        if let Some(c) = t.col("Binding site") {
            let mut sets: BTreeMap<String, (BTreeSet<String>, u64)> = BTreeMap::new();
            for r in &t.rows {
                let ligands: BTreeSet<String> = r.cells[c]
                    .split(['"', ';', ' '])
                    .filter(|w| w.starts_with("ChEBI:CHEBI:") || w.starts_with("CHEBI:"))
                    .map(|w| w.trim_start_matches("ChEBI:").to_string())
                    .collect();
                if !ligands.is_empty() {
                    sets.insert(r.cells[entry].trim().to_string(), (ligands, r.line));
                }
            }
            if sets.len() >= 2 {
                out.pair.push(pairs_from_sets(
                    "share_ligand",
                    "bind a common ligand (UniProt Binding site ChEBI ids); negatives sampled",
                    &sets,
                    23,
                ));
            }
        }
    }
}

/// Derives attributes from a UniProt TSV export (columns as UniProt names them:
/// Entry, Gene Names, Length, Subcellular location [CC], Transmembrane,
/// Gene Ontology (molecular function), Involvement in disease, Binding site).
/// Missing columns just skip their attribute.
pub fn read_uniprot_tsv(path: &Path, f: &mut Findings) -> Option<SourceLabels> {
    let t = read_tsv(path, f)?;
    let Some(entry) = t.col("Entry") else {
        f.error("tsv-header", path, 1, None, "a UniProt export needs the `Entry` column (hint: download as TSV from uniprot.org with Entry, Gene Names, ...)");
        return None;
    };
    let x = Export {
        t: &t,
        path,
        entry,
        names: t.col("Gene Names"),
    };
    let mut out = SourceLabels {
        file: path.to_path_buf(),
        ..Default::default()
    };
    out.gene.extend(x.simple_tasks(f));
    out.gene.extend(x.localization(f));
    out.gene.extend(x.go_function(f));
    x.colocalize(&mut out);
    x.share_ligand(&mut out);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniprot_location_parsing() {
        let s = "SUBCELLULAR LOCATION: Nucleus {ECO:0000269|PubMed:123}. Cytoplasm, cytosol {ECO:0000250}. Note=Moves to the Membrane.";
        let l = uniprot_locations(s);
        assert_eq!(l.into_iter().collect::<Vec<_>>(), ["cytoplasm", "nucleus"]);
        let s = "SUBCELLULAR LOCATION: [Isoform 2]: Secreted.";
        assert_eq!(
            uniprot_locations(s).into_iter().collect::<Vec<_>>(),
            ["secreted"]
        );
    }
}

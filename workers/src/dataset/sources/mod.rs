//! Label and pair sources, one module per input format: our own TSV files
//! (`labels_tsv`), UniProt's TSV export (`uniprot`), STRING's
//! `protein.links` (`string`) and GO annotation GAF (`gaf`). This module
//! holds what they share: the rows they produce, the TSV reader, the task
//! spec reader, and positive-only pair sources' negatives.

mod gaf;
mod labels_tsv;
mod string;
mod uniprot;

pub use gaf::read_gaf;
pub use labels_tsv::{check_scope, infer_or_spec, read_labels_tsv, read_pairs_tsv};
pub use string::read_string_links;
pub use uniprot::read_uniprot_tsv;

use super::findings::Findings;
use crate::dataset::tasks::{Label, Scope, TaskKind, TaskSpec};
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// One label on a gene reference (id, accession or symbol; `alt` tried second).
#[derive(Debug, Clone)]
pub struct LabelRow {
    pub gene: String,
    pub alt: Option<String>,
    pub label: Label,
    pub line: u64,
}

#[derive(Debug, Clone)]
pub struct PairRow {
    pub a: String,
    pub b: String,
    pub label: Label,
    pub line: u64,
}

/// What one source file contributes.
#[derive(Debug, Clone, Default)]
pub struct SourceLabels {
    pub file: PathBuf,
    pub gene: Vec<(TaskSpec, Vec<LabelRow>)>,
    pub pair: Vec<(TaskSpec, Vec<PairRow>)>,
    /// (gene ref, group, line) from a `group` column.
    pub groups: Vec<(String, String, u64)>,
}

/// A TSV row with its 1-based line number.
#[derive(Debug, Clone)]
pub struct TsvRow {
    pub line: u64,
    pub cells: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Tsv {
    pub header: Vec<String>,
    pub rows: Vec<TsvRow>,
}

impl Tsv {
    pub fn col(&self, name: &str) -> Option<usize> {
        self.header
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name))
    }
}

/// Reads a tab-separated file with a header line (plain or gzip). Blank lines
/// and `#` comments are skipped; a row with the wrong number of columns is an
/// error naming its line.
pub fn read_tsv(path: &Path, f: &mut Findings) -> Option<Tsv> {
    let r = match crate::dataset::fasta::open_maybe_gz(path) {
        Ok(r) => std::io::BufReader::new(r),
        Err(e) => {
            f.error("io", path, 0, None, format!("cannot read: {e}"));
            return None;
        }
    };
    let mut header: Option<Vec<String>> = None;
    let mut rows = Vec::new();
    for (i, line) in r.lines().enumerate() {
        let lineno = i as u64 + 1;
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                f.error(
                    "io",
                    path,
                    lineno,
                    None,
                    format!("cannot read line: {e} (hint: is the file UTF-8 text?)"),
                );
                return None;
            }
        };
        let line = line.strip_suffix('\r').unwrap_or(&line);
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cells: Vec<String> = line.split('\t').map(str::to_string).collect();
        match &header {
            None => header = Some(cells.iter().map(|c| c.trim().to_string()).collect()),
            Some(h) => {
                if cells.len() != h.len() {
                    f.error(
                        "tsv-columns",
                        path,
                        lineno,
                        cells.first().map(String::as_str),
                        format!(
                            "{} columns, the header has {} (hint: columns are separated by tabs)",
                            cells.len(),
                            h.len()
                        ),
                    );
                    continue;
                }
                rows.push(TsvRow {
                    line: lineno,
                    cells,
                });
            }
        }
    }
    match header {
        Some(header) => Some(Tsv { header, rows }),
        None => {
            f.error("empty-file", path, 0, None, "no header line");
            None
        }
    }
}

/// Reads a task spec: a YAML list of tasks (or `{tasks: [...]}`).
pub fn read_task_spec(path: &Path, f: &mut Findings) -> Option<Vec<TaskSpec>> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum SpecFile {
        List(Vec<TaskSpec>),
        Map { tasks: Vec<TaskSpec> },
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            f.error("io", path, 0, None, format!("cannot read: {e}"));
            return None;
        }
    };
    let parsed: Result<Vec<TaskSpec>, _> =
        yaml_serde::from_str::<SpecFile>(&text).map(|s| match s {
            SpecFile::List(v) | SpecFile::Map { tasks: v } => v,
        });
    match parsed {
        Ok(v) => {
            let mut ok = true;
            let mut names = HashSet::new();
            for t in &v {
                if let Err(e) = t.check() {
                    f.error("task-spec", path, 0, Some(&t.name), e.to_string());
                    ok = false;
                }
                if !names.insert(t.name.clone()) {
                    f.error("task-spec", path, 0, Some(&t.name), "task defined twice");
                    ok = false;
                }
            }
            ok.then_some(v)
        }
        Err(e) => {
            // Re-parse as a plain list to get the precise message for the common form.
            let detail = yaml_serde::from_str::<Vec<TaskSpec>>(&text)
                .err()
                .unwrap_or(e);
            let line = detail.location().map(|l| l.line() as u64).unwrap_or(0);
            f.error(
                "task-spec",
                path,
                line,
                None,
                format!("{detail} (hint: a list of {{name, scope: gene|pair, kind: binary|multiclass|multilabel|regression, classes}})"),
            );
            None
        }
    }
}

/// Deterministic negatives for a positive-only pair source: as many random
/// pairs among `genes` as there are positives, none of them positive.
pub(super) fn sample_negatives(
    genes: &[String],
    positives: &HashSet<(String, String)>,
    seed: u64,
) -> Vec<(String, String)> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut out = HashSet::new();
    let n = genes.len();
    if n < 2 {
        return Vec::new();
    }
    let want = positives
        .len()
        .min(n * (n - 1) / 2 - positives.len().min(n * (n - 1) / 2));
    let mut tries = 0usize;
    while out.len() < want && tries < want * 50 + 1000 {
        tries += 1;
        let i = rng.random_range(0..n);
        let j = rng.random_range(0..n);
        if i == j {
            continue;
        }
        let (a, b) = if genes[i] < genes[j] {
            (&genes[i], &genes[j])
        } else {
            (&genes[j], &genes[i])
        };
        let k = (a.clone(), b.clone());
        if !positives.contains(&k) {
            out.insert(k);
        }
    }
    let mut v: Vec<_> = out.into_iter().collect();
    v.sort();
    v
}

pub(super) fn binary_pair_task(name: &str, description: &str) -> TaskSpec {
    TaskSpec {
        name: name.into(),
        scope: Scope::Pair,
        kind: TaskKind::Binary,
        category: "interaction".into(),
        classes: vec![],
        description: description.into(),
        signal: None,
    }
}

pub(super) fn pairs_from_sets(
    name: &str,
    desc: &str,
    sets: &BTreeMap<String, (BTreeSet<String>, u64)>,
    seed: u64,
) -> (TaskSpec, Vec<PairRow>) {
    // Positives: share at least one item. Negatives: sampled among the rest.
    let mut by_item: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (g, (items, _)) in sets {
        for it in items {
            by_item.entry(it).or_default().push(g);
        }
    }
    let mut pos: HashSet<(String, String)> = HashSet::new();
    for genes in by_item.values() {
        // Cap very large groups so a ubiquitous item doesn't create N² pairs.
        for (i, a) in genes.iter().enumerate().take(200) {
            for b in genes.iter().skip(i + 1).take(200) {
                let k = if a < b {
                    (a.to_string(), b.to_string())
                } else {
                    (b.to_string(), a.to_string())
                };
                pos.insert(k);
            }
        }
    }
    let genes: Vec<String> = sets.keys().cloned().collect();
    let neg = sample_negatives(&genes, &pos, seed);
    let mut rows: Vec<PairRow> = Vec::new();
    let mut pos_sorted: Vec<_> = pos.into_iter().collect();
    pos_sorted.sort();
    for (a, b) in pos_sorted {
        let line = sets[&a].1;
        rows.push(PairRow {
            a,
            b,
            label: Label::Binary(true),
            line,
        });
    }
    for (a, b) in neg {
        let line = sets[&a].1;
        rows.push(PairRow {
            a,
            b,
            label: Label::Binary(false),
            line,
        });
    }
    (binary_pair_task(name, desc), rows)
}

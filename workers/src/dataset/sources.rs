//! Label and pair sources: our own TSV files, and the public formats users
//! download (UniProt TSV export, STRING `protein.links`, GO annotation GAF).

use super::findings::Findings;
use super::ingest::{check_scope, infer_or_spec};
use super::tasks::{Label, Scope, TaskKind, TaskSpec};
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
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
    let r = match super::fasta::open_maybe_gz(path) {
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
                    f.error("task-spec", path, 0, Some(&t.name), e);
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

/// `GO:` followed by seven digits.
fn is_go_id(term: &str) -> bool {
    term.strip_prefix("GO:")
        .is_some_and(|d| d.len() == 7 && d.bytes().all(|b| b.is_ascii_digit()))
}

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
    let mut by_task: BTreeMap<String, Vec<&super::sources::TsvRow>> = BTreeMap::new();
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
                let mut t = super::tasks::infer_gene_task(&name, &values);
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

/// Deterministic negatives for a positive-only pair source: as many random
/// pairs among `genes` as there are positives, none of them positive.
fn sample_negatives(
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

fn binary_pair_task(name: &str, description: &str) -> TaskSpec {
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

fn pairs_from_sets(
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
    let names = t.col("Gene Names");
    let mut out = SourceLabels {
        file: path.to_path_buf(),
        ..Default::default()
    };
    let gref = |r: &TsvRow| -> (String, Option<String>) {
        let alt = names.and_then(|c| r.cells[c].split_whitespace().next().map(str::to_string));
        (r.cells[entry].trim().to_string(), alt)
    };
    let mut add_gene = |task: TaskSpec,
                        col: Option<usize>,
                        f: &mut Findings,
                        conv: &dyn Fn(&str) -> Option<Label>| {
        let Some(c) = col else { return };
        let mut rows = Vec::new();
        for r in &t.rows {
            let (g, alt) = gref(r);
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
        out.gene.push((task, rows));
    };
    let spec = |name: &str, kind: TaskKind, cat: &str, classes: Vec<String>, d: &str| TaskSpec {
        name: name.into(),
        scope: Scope::Gene,
        kind,
        category: cat.into(),
        classes,
        description: d.into(),
        signal: None,
    };
    add_gene(
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
    );
    add_gene(
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
    );
    add_gene(
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
    );
    let loc_classes: Vec<String> = {
        let mut v: Vec<String> = LOCATIONS.iter().map(|(_, c)| c.to_string()).collect();
        v.sort();
        v.dedup();
        v
    };
    let loc_col = t.col("Subcellular location [CC]");
    {
        let cls = loc_classes.clone();
        add_gene(
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
        );
    }
    // GO molecular function: multilabel over terms seen on at least 2 proteins.
    if let Some(c) = t.col("Gene Ontology (molecular function)") {
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
            add_gene(
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
    // Pair tasks: co-localization and shared ligands.
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
    Some(out)
}

/// STRING `protein.links` (`protein1 protein2 combined_score`, space-separated,
/// ids like `9606.ENSP00000000233`). Pairs with score ≥ `min_score` are
/// positives; as many negatives are sampled among the file's proteins.
pub fn read_string_links(path: &Path, min_score: u32, f: &mut Findings) -> Option<SourceLabels> {
    let r = match super::fasta::open_maybe_gz(path) {
        Ok(r) => std::io::BufReader::new(r),
        Err(e) => {
            f.error("io", path, 0, None, format!("cannot read: {e}"));
            return None;
        }
    };
    let mut pos: HashSet<(String, String)> = HashSet::new();
    let mut proteins: BTreeSet<String> = BTreeSet::new();
    let mut lines: HashMap<(String, String), u64> = HashMap::new();
    for (i, line) in r.lines().enumerate() {
        let lineno = i as u64 + 1;
        let Ok(line) = line else {
            f.error("io", path, lineno, None, "unreadable line");
            return None;
        };
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.is_empty() || (lineno == 1 && w[0] == "protein1") {
            continue;
        }
        if w.len() < 3 {
            f.error(
                "string-row",
                path,
                lineno,
                w.first().copied(),
                "expected `protein1 protein2 combined_score`",
            );
            continue;
        }
        let Ok(score) = w[w.len() - 1].parse::<u32>() else {
            f.error(
                "string-row",
                path,
                lineno,
                Some(w[0]),
                format!("score {:?} is not an integer", w[w.len() - 1]),
            );
            continue;
        };
        let strip = |s: &str| {
            s.split_once('.')
                .map(|(_, r)| r.to_string())
                .unwrap_or_else(|| s.to_string())
        };
        let (a, b) = (strip(w[0]), strip(w[1]));
        proteins.insert(a.clone());
        proteins.insert(b.clone());
        if score >= min_score && a != b {
            let k = if a < b { (a, b) } else { (b, a) };
            lines.entry(k.clone()).or_insert(lineno);
            pos.insert(k);
        }
    }
    let genes: Vec<String> = proteins.into_iter().collect();
    let neg = sample_negatives(&genes, &pos, 29);
    let mut pos_sorted: Vec<_> = pos.into_iter().collect();
    pos_sorted.sort();
    let mut rows: Vec<PairRow> = pos_sorted
        .into_iter()
        .map(|(a, b)| {
            let line = lines[&(a.clone(), b.clone())];
            PairRow {
                a,
                b,
                label: Label::Binary(true),
                line,
            }
        })
        .collect();
    rows.extend(neg.into_iter().map(|(a, b)| PairRow {
        a,
        b,
        label: Label::Binary(false),
        line: 0,
    }));
    let task = binary_pair_task(
        "interact",
        &format!("STRING combined score >= {min_score}; negatives sampled"),
    );
    Some(SourceLabels {
        file: path.to_path_buf(),
        pair: vec![(task, rows)],
        ..Default::default()
    })
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
    let r = match super::fasta::open_maybe_gz(path) {
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

//! Building a dataset from input files, with every validation rule.
//! `dataset build` and `dataset validate` run the same code.

use super::build_options::{BuildOptions, CdsChoice, Inputs};
use super::fasta::read_fasta_into;
use super::findings::Findings;
use super::records::{
    Candidate, Resolver, check_seqs, record_key, resolve_gene_rows, resolve_pairs,
};
use super::sources::{self, SourceLabels, read_tsv};
use super::tasks::{Label, TaskSpec};
use super::translate::check_pairing;
use super::{Dataset, Gene, InputRecord, Manifest, sha256_file};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Reads, checks and assembles a dataset. Returns it with the findings (warnings
/// only) or, if anything is an error, `Err` with every finding.
pub fn ingest(inp: &Inputs, opts: &BuildOptions) -> Result<(Dataset, Findings), Findings> {
    let mut f = Findings::new(opts.strict);
    let has_map = inp.id_map.is_some();
    let res = inp
        .id_map
        .as_deref()
        .map(|p| Resolver::from_id_map(p, &mut f))
        .unwrap_or_default();
    let spec: Option<Vec<TaskSpec>> = inp
        .tasks
        .as_deref()
        .and_then(|p| sources::read_task_spec(p, &mut f));
    let (by_gene_prot, cds_cands) = read_sequences(inp, opts, &res, has_map, &mut f);
    let (symbols, groups) = read_gene_table(inp, &mut f);
    let mut genes = pair_sequences(
        inp,
        opts,
        &by_gene_prot,
        &cds_cands,
        &symbols,
        &groups,
        &mut f,
    );

    // Index by id, symbol and aliases for label references.
    let mut index: HashMap<String, u32> = HashMap::new();
    let mut sym_index: HashMap<String, u32> = HashMap::new();
    for (i, g) in genes.iter().enumerate() {
        index.insert(g.id.clone(), i as u32);
        if !g.symbol.is_empty() {
            sym_index.entry(g.symbol.clone()).or_insert(i as u32);
        }
    }
    let lookup = |s: &str| -> Option<u32> {
        let s = s.trim();
        index
            .get(s)
            .or_else(|| index.get(res.resolve(s)))
            .or_else(|| index.get(res.resolve(super::fasta::strip_version(s))))
            .or_else(|| sym_index.get(s))
            .copied()
    };

    let (sources_read, pending_groups) =
        read_label_sources(inp, opts, spec.as_deref(), &lookup, &mut f);
    let (mut tasks, gene_labels, pair_labels) = assemble_tasks(sources_read, opts, &lookup, &mut f);
    if let Some(spec) = &spec {
        order_by_spec(&mut tasks, spec, inp, &mut f);
    }
    for (i, grp) in pending_groups {
        genes[i as usize].group = grp;
    }
    if genes.is_empty() && !f.has_errors() {
        f.error("no-genes", &inp.cds, 0, None, "no gene has both a CDS and a protein (hint: do the ids match? try --id-map or --key symbol)");
    }

    if f.has_errors() {
        return Err(f);
    }
    let ds = Dataset {
        genes,
        tasks,
        gene_labels,
        pair_labels,
        manifest: Manifest {
            inputs: input_records(inp),
            ..Default::default()
        },
    };
    Ok((ds, f))
}

/// Proteins by gene key (one per gene) and CDS candidates by gene key
/// (several transcripts allowed), each checked.
fn read_sequences(
    inp: &Inputs,
    opts: &BuildOptions,
    res: &Resolver,
    has_map: bool,
    f: &mut Findings,
) -> (
    BTreeMap<String, Candidate>,
    BTreeMap<String, Vec<Candidate>>,
) {
    let cds_recs = read_fasta_into(&inp.cds, f);
    let prot_recs = read_fasta_into(&inp.proteins, f);
    let cds_ok = check_seqs(&cds_recs, &inp.cds, true, f);
    let prot_ok = check_seqs(&prot_recs, &inp.proteins, false, f);
    let mut by_gene_prot: BTreeMap<String, Candidate> = BTreeMap::new();
    for (rec, ok) in prot_recs.into_iter().zip(prot_ok) {
        if !ok {
            continue;
        }
        let (key, symbol, canonical) = record_key(&rec, opts, res, has_map);
        if let Some(prev) = by_gene_prot.get(&key) {
            f.error(
                "duplicate-gene",
                &inp.proteins,
                rec.line,
                Some(&key),
                format!(
                    "a second protein for this gene (first at line {}); keep one protein per gene",
                    prev.rec.line
                ),
            );
            continue;
        }
        by_gene_prot.insert(
            key.clone(),
            Candidate {
                rec,
                key,
                symbol,
                canonical,
            },
        );
    }
    let mut cds_cands: BTreeMap<String, Vec<Candidate>> = BTreeMap::new();
    for (rec, ok) in cds_recs.into_iter().zip(cds_ok) {
        if !ok {
            continue;
        }
        let (key, symbol, canonical) = record_key(&rec, opts, res, has_map);
        cds_cands.entry(key.clone()).or_default().push(Candidate {
            rec,
            key,
            symbol,
            canonical,
        });
    }

    (by_gene_prot, cds_cands)
}

/// Optional per-gene symbol and group (a dataset's genes.tsv).
fn read_gene_table(
    inp: &Inputs,
    f: &mut Findings,
) -> (HashMap<String, String>, HashMap<String, String>) {
    let mut groups: HashMap<String, String> = HashMap::new();
    let mut symbols: HashMap<String, String> = HashMap::new();
    if let Some(p) = inp.genes.as_deref()
        && let Some(t) = read_tsv(p, f)
    {
        match (t.col("gene_id"), t.col("symbol"), t.col("group")) {
            (Some(g), s, gr) => {
                for row in &t.rows {
                    let id = row.cells[g].trim().to_string();
                    if let Some(s) = s {
                        symbols.insert(id.clone(), row.cells[s].trim().to_string());
                    }
                    if let Some(gr) = gr {
                        groups.insert(id, row.cells[gr].trim().to_string());
                    }
                }
            }
            _ => f.error("tsv-header", p, 1, None, "genes.tsv needs a gene_id column"),
        }
    }

    (symbols, groups)
}

/// The CDS a gene keeps among its transcripts, by `--cds-choice`.
fn choose_cds<'a>(cands: &'a [Candidate], protein: &[u8], opts: &BuildOptions) -> &'a Candidate {
    let longest = |c: &&Candidate| (c.rec.seq.len(), std::cmp::Reverse(c.rec.line));
    match opts.cds_choice {
        CdsChoice::Longest => cands.iter().max_by_key(longest).unwrap(),
        CdsChoice::Canonical => cands
            .iter()
            .filter(|c| c.canonical)
            .max_by_key(longest)
            .unwrap_or_else(|| cands.iter().max_by_key(longest).unwrap()),
        CdsChoice::Matching => {
            let matching: Vec<&Candidate> = cands
                .iter()
                .filter(|c| check_pairing(&c.rec.seq, protein).is_ok())
                .collect();
            let pool: Vec<&Candidate> = if matching.is_empty() {
                cands.iter().collect()
            } else {
                matching
            };
            pool.iter()
                .copied()
                .filter(|c| c.canonical)
                .max_by_key(longest)
                .or_else(|| pool.iter().copied().max_by_key(longest))
                .unwrap()
        }
    }
}

/// Genes: each protein paired with its chosen CDS, checked by translation;
/// sequences without a partner are reported and left out.
fn pair_sequences(
    inp: &Inputs,
    opts: &BuildOptions,
    by_gene_prot: &BTreeMap<String, Candidate>,
    cds_cands: &BTreeMap<String, Vec<Candidate>>,
    symbols: &HashMap<String, String>,
    groups: &HashMap<String, String>,
    f: &mut Findings,
) -> Vec<Gene> {
    let mut genes: Vec<Gene> = Vec::new();
    let mut multi_cds = 0usize;
    for (key, prot) in by_gene_prot {
        let Some(cands) = cds_cands.get(key) else {
            f.warn(
                "missing-cds",
                &inp.proteins,
                prot.rec.line,
                Some(key),
                "protein without a CDS: gene left out (hint: check ids, or give --id-map)",
            );
            continue;
        };
        let protein: Vec<u8> = prot
            .rec
            .seq
            .strip_suffix(b"*")
            .unwrap_or(&prot.rec.seq)
            .to_vec();
        if cands.len() > 1 {
            multi_cds += 1;
        }
        let chosen = choose_cds(cands, &protein, opts);
        if let Err(e) = check_pairing(&chosen.rec.seq, &protein) {
            f.error(
                "translation",
                &inp.cds,
                chosen.rec.line,
                Some(key),
                e.to_string(),
            );
            continue;
        }
        let symbol = symbols
            .get(key)
            .cloned()
            .or_else(|| prot.symbol.clone())
            .or_else(|| chosen.symbol.clone())
            .unwrap_or_default();
        genes.push(Gene {
            id: chosen.key.clone(),
            symbol,
            group: groups.get(key).cloned().unwrap_or_default(),
            cds: chosen.rec.seq.clone(),
            protein,
        });
    }
    for (key, cands) in cds_cands {
        if !by_gene_prot.contains_key(key) {
            f.warn(
                "missing-protein",
                &inp.cds,
                cands[0].rec.line,
                Some(key),
                "CDS without a protein: gene left out (hint: check ids, or give --id-map)",
            );
        }
    }
    if multi_cds > 0 {
        tracing::info!(genes = multi_cds, choice = ?opts.cds_choice, "picked one CDS among several transcripts");
    }
    genes.sort_by(|a, b| a.id.cmp(&b.id));

    genes
}

/// Every label source given, read; groups from a labels file's `group` column.
fn read_label_sources(
    inp: &Inputs,
    opts: &BuildOptions,
    spec: Option<&[TaskSpec]>,
    lookup: &dyn Fn(&str) -> Option<u32>,
    f: &mut Findings,
) -> (Vec<SourceLabels>, Vec<(u32, String)>) {
    let mut sources_read: Vec<SourceLabels> = Vec::new();
    let mut pending_groups: Vec<(u32, String)> = Vec::new();
    if let Some(p) = inp.labels.as_deref()
        && let Some(s) = sources::read_labels_tsv(p, spec, &opts.ignore_columns, f)
    {
        for (gref, grp, _) in &s.groups {
            if let Some(i) = lookup(gref) {
                pending_groups.push((i, grp.clone()));
            }
        }
        sources_read.push(s);
    }
    if let Some(p) = inp.pairs.as_deref()
        && let Some(s) = sources::read_pairs_tsv(p, spec, f)
    {
        sources_read.push(s);
    }
    if let Some(p) = inp.uniprot.as_deref()
        && let Some(s) = sources::read_uniprot_tsv(p, f)
    {
        sources_read.push(s);
    }
    if let Some(p) = inp.string.as_deref()
        && let Some(s) = sources::read_string_links(p, opts.string_min_score, f)
    {
        sources_read.push(s);
    }
    if let Some(p) = inp.gaf.as_deref()
        && let Some(s) = sources::read_gaf(p, &opts.gaf_exclude_evidence, opts.gaf_min_genes, f)
    {
        sources_read.push(s);
    }

    (sources_read, pending_groups)
}

type Assembled = (
    Vec<TaskSpec>,
    BTreeMap<String, Vec<(u32, Label)>>,
    BTreeMap<String, Vec<(u32, u32, Label)>>,
);

/// Tasks and their labels on known genes; a task defined twice is an error.
fn assemble_tasks(
    sources_read: Vec<SourceLabels>,
    opts: &BuildOptions,
    lookup: &dyn Fn(&str) -> Option<u32>,
    f: &mut Findings,
) -> Assembled {
    let mut tasks: Vec<TaskSpec> = Vec::new();
    let mut gene_labels: BTreeMap<String, Vec<(u32, Label)>> = BTreeMap::new();
    let mut pair_labels: BTreeMap<String, Vec<(u32, u32, Label)>> = BTreeMap::new();
    let mut task_origin: HashMap<String, PathBuf> = HashMap::new();
    for s in sources_read {
        for (task, rows) in s.gene {
            if let Some(prev) = task_origin.insert(task.name.clone(), s.file.clone()) {
                f.error(
                    "duplicate-task",
                    &s.file,
                    1,
                    Some(&task.name),
                    format!("task also defined by {}", prev.display()),
                );
                continue;
            }
            let out = resolve_gene_rows(&task, rows, &s.file, lookup, opts.strict, f);
            if out.is_empty() {
                f.warn(
                    "empty-task",
                    &s.file,
                    0,
                    Some(&task.name),
                    "no labels on known genes: task left out",
                );
                continue;
            }
            gene_labels.insert(task.name.clone(), out);
            tasks.push(task);
        }
        for (task, rows) in s.pair {
            if let Some(prev) = task_origin.get(&task.name)
                && prev != &s.file
            {
                f.error(
                    "duplicate-task",
                    &s.file,
                    1,
                    Some(&task.name),
                    format!("task also defined by {}", prev.display()),
                );
                continue;
            }
            task_origin.insert(task.name.clone(), s.file.clone());
            let out = resolve_pairs(&task, rows, &s.file, lookup, f);
            if out.is_empty() {
                f.warn(
                    "empty-task",
                    &s.file,
                    0,
                    Some(&task.name),
                    "no pairs on known genes: task left out",
                );
                continue;
            }
            pair_labels.insert(task.name.clone(), out);
            tasks.push(task);
        }
    }
    (tasks, gene_labels, pair_labels)
}

/// Tasks in the spec's order; spec tasks without labels are reported.
fn order_by_spec(tasks: &mut [TaskSpec], spec: &[TaskSpec], inp: &Inputs, f: &mut Findings) {
    tasks.sort_by_key(|t| {
        spec.iter()
            .position(|s| s.name == t.name)
            .unwrap_or(usize::MAX)
    });
    for s in spec {
        if !tasks.iter().any(|t| t.name == s.name) {
            f.warn(
                "empty-task",
                inp.tasks.as_deref().unwrap(),
                0,
                Some(&s.name),
                "task in the spec has no labels",
            );
        }
    }
}

/// The manifest's record of every input file (path, SHA-256, size).
fn input_records(inp: &Inputs) -> Vec<InputRecord> {
    let mut inputs = Vec::new();
    for (role, p) in [
        ("cds", Some(&inp.cds)),
        ("proteins", Some(&inp.proteins)),
        ("labels", inp.labels.as_ref()),
        ("pairs", inp.pairs.as_ref()),
        ("tasks", inp.tasks.as_ref()),
        ("id_map", inp.id_map.as_ref()),
        ("uniprot", inp.uniprot.as_ref()),
        ("string", inp.string.as_ref()),
        ("gaf", inp.gaf.as_ref()),
    ] {
        if let Some(p) = p
            && let Ok((sha256, bytes)) = sha256_file(p)
        {
            let stdin = p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(super::STDIN_SPOOL_PREFIX));
            inputs.push(InputRecord {
                role: role.into(),
                path: if stdin {
                    "-".into()
                } else {
                    p.display().to_string()
                },
                sha256,
                bytes,
            });
        }
    }
    inputs
}

/// `dataset build`: ingest, then write the folder atomically.
pub fn build(
    inp: &Inputs,
    opts: &BuildOptions,
    out: &Path,
) -> Result<(Dataset, Findings), Findings> {
    let refuse = |e: super::DatasetError| {
        let mut f = Findings::new(opts.strict);
        f.error("write", out, 0, None, e.to_string());
        f
    };
    let inputs: Vec<&Path> = [Some(&inp.cds), Some(&inp.proteins)]
        .into_iter()
        .flatten()
        .chain(
            [
                &inp.labels,
                &inp.pairs,
                &inp.tasks,
                &inp.id_map,
                &inp.genes,
                &inp.uniprot,
                &inp.string,
                &inp.gaf,
            ]
            .into_iter()
            .flatten(),
        )
        .map(PathBuf::as_path)
        .collect();
    super::check_inputs_outside(out, &inputs).map_err(refuse)?;
    super::check_out(out, opts.force).map_err(refuse)?;
    let (mut ds, mut f) = ingest(inp, opts)?;
    group_genes(&mut ds, inp, opts, out, &mut f)?;
    if let Err(e) = ds.write(out, opts.force) {
        f.error("write", out, 0, None, e.to_string());
        return Err(f);
    }
    Ok((ds, f))
}

/// The genes' groups: MMseqs2 clusters with `--cluster` (replacing a
/// `group` column, with a warning), else the input's groups; without
/// either, one warning that splits go gene by gene. Recorded in the manifest.
fn group_genes(
    ds: &mut Dataset,
    inp: &Inputs,
    opts: &BuildOptions,
    out: &Path,
    f: &mut Findings,
) -> Result<(), Findings> {
    let given = ds.genes.iter().filter(|g| !g.group.is_empty()).count();
    let source = inp.labels.as_deref().unwrap_or(&inp.proteins);
    match &opts.cluster {
        Some(settings) => {
            if given > 0 {
                f.warn(
                    "groups-replaced",
                    source,
                    0,
                    None,
                    format!("--cluster replaces the `group` column's groups of {given} genes with MMseqs2 clusters"),
                );
            }
            let scratch = out
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            match super::cluster::cluster(&mut ds.genes, settings, scratch) {
                Ok(rec) => ds.manifest.grouping = Some(rec),
                Err(e) => {
                    f.error("cluster", &inp.proteins, 0, None, e.to_string());
                    return Err(std::mem::replace(f, Findings::new(opts.strict)));
                }
            }
        }
        None if given > 0 => {
            ds.manifest.grouping = Some(super::cluster::Grouping::counted("input", &ds.genes));
        }
        None => f.warn(
            "no-groups",
            &inp.proteins,
            0,
            None,
            "no gene groups: splits go gene by gene, so homologous genes (paralogs) can sit on both \
             sides of a split and inflate every score; cluster the proteins with --cluster (MMseqs2), \
             or give a `group` column (family, homology cluster) in --labels",
        ),
    }
    Ok(())
}

/// `dataset validate`: re-reads a dataset folder through every rule and checks
/// that the content still matches the manifest's hash.
pub fn validate_dir(dir: &Path, strict: bool) -> Result<Dataset, Findings> {
    let mut f = Findings::new(strict);
    let mpath = dir.join("manifest.json");
    let manifest: Option<Manifest> = match std::fs::read(&mpath) {
        Ok(b) => match serde_json::from_slice(&b) {
            Ok(m) => Some(m),
            Err(e) => {
                f.error(
                    "manifest",
                    &mpath,
                    e.line() as u64,
                    None,
                    format!("not a dataset manifest: {e}"),
                );
                None
            }
        },
        Err(e) => {
            f.error(
                "manifest",
                &mpath,
                0,
                None,
                format!("{e} (hint: is {} a dataset folder made by `genoprot dataset build` or `synth`?)", dir.display()),
            );
            None
        }
    };
    if f.has_errors() {
        return Err(f);
    }
    let inp = Inputs {
        cds: dir.join("cds.fa"),
        proteins: dir.join("protein.fa"),
        labels: Some(dir.join("labels.tsv")),
        pairs: Some(dir.join("pairs.tsv")),
        tasks: Some(dir.join("tasks.yaml")),
        genes: Some(dir.join("genes.tsv")),
        ..Default::default()
    };
    let opts = BuildOptions {
        strict,
        ..Default::default()
    };
    let (mut ds, f2) = ingest(&inp, &opts)?;
    let manifest = manifest.expect("checked above");
    let hash = ds.content_hash();
    if hash != manifest.dataset_hash {
        let mut f2 = f2;
        f2.error(
            "manifest-hash",
            &mpath,
            0,
            None,
            format!(
                "content hash {} does not match the manifest's {} (files edited after the build? rebuild with `genoprot dataset build`)",
                &hash[..12],
                &manifest.dataset_hash.get(..12).unwrap_or("")
            ),
        );
        return Err(f2);
    }
    ds.manifest = manifest;
    Ok(ds)
}

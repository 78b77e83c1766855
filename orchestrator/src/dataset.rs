//! `genoprot dataset synth|build|validate`.

use anyhow::{Context, bail};
use std::path::PathBuf;
use workers::dataset::{self, BuildOptions, CdsChoice, Findings, GeneKey, Inputs};

#[derive(Debug, clap::Subcommand)]
pub enum DatasetCommand {
    /// Write a planted-signal synthetic dataset (the demo's and the tests' data).
    Synth {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 400)]
        genes: usize,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Shortest family ancestor protein (residues).
        #[arg(long, default_value_t = 80)]
        min_len: usize,
        /// Longest family ancestor protein (residues).
        #[arg(long, default_value_t = 320)]
        max_len: usize,
        /// Write into an existing folder that is not a dataset (only the dataset's
        /// own files are written there; nothing else is touched).
        #[arg(long)]
        force: bool,
    },
    /// Build a dataset folder from sequence, label and pair files; every input is validated.
    Build(Box<BuildArgs>),
    /// Re-check a dataset folder: every rule, plus the manifest's content hash.
    Validate {
        dir: PathBuf,
        /// Treat warnings as errors.
        #[arg(long)]
        strict: bool,
    },
}

/// Inputs that are streams, read once into temp files beside `out` (named
/// with [`dataset::STDIN_SPOOL_PREFIX`], so the manifest records `-` for
/// standard input), since inputs are read more than once: `-` (standard
/// input; at most one) and a shell's process substitution (`<(zcat x.gz)`,
/// a pipe under `/dev/fd/`). Other FIFOs and devices stay refused (opening a
/// FIFO nobody writes would wait forever). A plain-text stream is read with
/// its lines capped ([`workers::files::Capped`]): `cat /dev/zero |` is an
/// error at the cap, not a disk filled. The temp files go when dropped.
fn spool_streams(
    inputs: &mut Inputs,
    out: &std::path::Path,
) -> anyhow::Result<Vec<tempfile::TempPath>> {
    let mut slots: Vec<(&str, &mut PathBuf)> = vec![
        ("--cds", &mut inputs.cds),
        ("--proteins", &mut inputs.proteins),
    ];
    for (flag, p) in [
        ("--labels", &mut inputs.labels),
        ("--pairs", &mut inputs.pairs),
        ("--tasks", &mut inputs.tasks),
        ("--id-map", &mut inputs.id_map),
        ("--uniprot", &mut inputs.uniprot),
        ("--string", &mut inputs.string),
        ("--gaf", &mut inputs.gaf),
    ] {
        if let Some(p) = p.as_mut() {
            slots.push((flag, p));
        }
    }
    let dashes: Vec<&str> = slots
        .iter()
        .filter(|(_, p)| p.as_os_str() == "-")
        .map(|(f, _)| *f)
        .collect();
    if let [a, b, ..] = dashes[..] {
        bail!("{a} and {b} are both `-`: only one input can be read from standard input");
    }
    let mut spooled = Vec::new();
    for (flag, slot) in slots {
        let stdin = slot.as_os_str() == "-";
        if !stdin && !is_process_substitution(slot) {
            continue;
        }
        let what = if stdin {
            "standard input".to_string()
        } else {
            slot.display().to_string()
        };
        let src: Box<dyn std::io::Read> = if stdin {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(std::fs::File::open(&*slot).with_context(|| format!("{flag} {what}"))?)
        };
        let tmp = spool(src, out, &format!("{flag} {what}"))?;
        *slot = tmp.to_path_buf();
        spooled.push(tmp);
    }
    Ok(spooled)
}

/// A pipe a shell passes for `<(...)`: `/dev/fd/N` or `/proc/self/fd/N`.
fn is_process_substitution(p: &std::path::Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    (p.starts_with("/dev/fd") || p.starts_with("/proc/self/fd"))
        && std::fs::metadata(p).is_ok_and(|m| m.file_type().is_fifo())
}

/// Reads `src` into a temp file beside `out` (lines capped unless gzip).
fn spool(
    src: Box<dyn std::io::Read>,
    out: &std::path::Path,
    what: &str,
) -> anyhow::Result<tempfile::TempPath> {
    use std::io::{BufRead, Read};
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(dataset::STDIN_SPOOL_PREFIX)
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temp file in {} for {what}", dir.display()))?;
    let mut input = std::io::BufReader::with_capacity(1 << 20, src);
    let gz = input
        .fill_buf()
        .with_context(|| format!("{what}: reading"))?
        .starts_with(&[0x1f, 0x8b]);
    let mut reader: Box<dyn Read> = if gz {
        // Its decompressed lines are capped when it is read.
        Box::new(input)
    } else {
        Box::new(workers::files::Capped::new(input, None))
    };
    let mut file = std::io::BufWriter::new(tmp.as_file());
    std::io::copy(&mut reader, &mut file)
        .and_then(|_| std::io::Write::flush(&mut file))
        .with_context(|| format!("{what}: reading it into {}", tmp.path().display()))?;
    drop(file);
    Ok(tmp.into_temp_path())
}

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// Coding sequences (FASTA, optionally .gz): plain ids or Ensembl CDS headers.
    /// Any one input may be `-` (standard input); `<(...)` works too.
    #[arg(long)]
    pub cds: PathBuf,
    /// Proteins (FASTA, optionally .gz): plain ids or UniProt headers.
    #[arg(long)]
    pub proteins: PathBuf,
    /// Wide label table: gene_id, then one column per gene task (optional group, symbol).
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Pair table: task, gene_a, gene_b, label.
    #[arg(long)]
    pub pairs: Option<PathBuf>,
    /// Task spec (YAML); inferred from the label columns when absent.
    #[arg(long)]
    pub tasks: Option<PathBuf>,
    /// Id map TSV: gene_id plus any of transcript_id, uniprot, symbol, alias.
    #[arg(long)]
    pub id_map: Option<PathBuf>,
    /// UniProt TSV export to derive attributes from.
    #[arg(long)]
    pub uniprot: Option<PathBuf>,
    /// STRING protein.links file (pair task `interact`).
    #[arg(long)]
    pub string: Option<PathBuf>,
    /// STRING combined score threshold for a positive pair.
    #[arg(long, default_value_t = 700)]
    pub string_min_score: u32,
    /// GO annotation GAF file (multilabel tasks go_mf/go_bp/go_cc).
    #[arg(long)]
    pub gaf: Option<PathBuf>,
    /// GO terms annotated to fewer genes are not made labels.
    #[arg(long, default_value_t = 5)]
    pub gaf_min_genes: usize,
    /// GAF evidence codes to drop (comma-separated).
    #[arg(long, default_value = "IEA,ND", value_delimiter = ',')]
    pub gaf_exclude_evidence: Vec<String>,
    /// Match CDS and proteins by gene id or by gene symbol.
    #[arg(long, value_enum, default_value_t = KeyArg::Id)]
    pub key: KeyArg,
    /// Which CDS to keep when a gene has several transcripts.
    #[arg(long, value_enum, default_value_t = ChoiceArg::Matching)]
    pub cds_choice: ChoiceArg,
    /// Treat warnings as errors.
    #[arg(long)]
    pub strict: bool,
    /// Output dataset folder: new, or an existing dataset whose files are replaced
    /// on success only. Other existing folders are refused without --force.
    #[arg(long)]
    pub out: PathBuf,
    /// Write into an existing folder that is not a dataset (only the dataset's
    /// own files are written there; nothing else is touched).
    #[arg(long)]
    pub force: bool,
    /// Label columns that are not tasks (comma-separated): skipped.
    #[arg(long, value_delimiter = ',')]
    pub ignore_columns: Vec<String>,
    /// Cluster the proteins with MMseqs2 (`easy-cluster`) and make each
    /// cluster a gene group, so splits keep homologs on one side.
    #[arg(long)]
    pub cluster: bool,
    /// --cluster: minimum sequence identity within a cluster (`--min-seq-id`).
    #[arg(long, default_value_t = 0.3, requires = "cluster")]
    pub cluster_identity: f64,
    /// --cluster: minimum alignment coverage of both sequences (`-c`, `--cov-mode 0`).
    #[arg(long, default_value_t = 0.8, requires = "cluster")]
    pub cluster_coverage: f64,
    /// --cluster: the MMseqs2 program (a name on PATH or a path).
    #[arg(long, default_value = "mmseqs", requires = "cluster")]
    pub mmseqs: PathBuf,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum KeyArg {
    Id,
    Symbol,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ChoiceArg {
    Matching,
    Canonical,
    Longest,
}

fn report(f: &Findings) {
    let text = f.report(50);
    if !text.is_empty() {
        crate::output::stderr_line(text.trim_end_matches('\n'));
    }
}

fn fail(f: &Findings, what: &str) -> anyhow::Error {
    report(f);
    let n = f.errors().count();
    anyhow::anyhow!(
        "{what}: {n} error{} (see above)",
        if n == 1 { "" } else { "s" }
    )
}

/// What a dataset command wrote or checked.
#[derive(Debug, serde::Serialize)]
pub struct DatasetResult {
    /// `synth`, `build` or `validate`.
    pub action: &'static str,
    pub path: std::path::PathBuf,
    pub genes: u64,
    pub tasks: Vec<TaskRow>,
    pub gene_labels: u64,
    pub pairs: u64,
    pub cds_bp: u64,
    pub dataset_hash: String,
    /// `build` without --tasks: the tasks were inferred from the columns.
    pub tasks_inferred: bool,
}

#[derive(Debug, serde::Serialize)]
pub struct TaskRow {
    pub name: String,
    pub kind: String,
}

impl DatasetResult {
    fn of(
        action: &'static str,
        path: &std::path::Path,
        ds: &dataset::Dataset,
        inferred: bool,
    ) -> Self {
        let c = &ds.manifest.counts;
        let n = |k: &str| c.get(k).copied().unwrap_or(0);
        DatasetResult {
            action,
            path: path.to_path_buf(),
            genes: n("genes"),
            tasks: ds
                .tasks
                .iter()
                .map(|t| TaskRow {
                    name: t.name.clone(),
                    kind: format!("{:?}", t.kind).to_lowercase(),
                })
                .collect(),
            gene_labels: n("gene_labels"),
            pairs: n("pairs"),
            cds_bp: n("cds_bp"),
            dataset_hash: ds.manifest.dataset_hash.clone(),
            tasks_inferred: inferred,
        }
    }
}

impl crate::output::Human for DatasetResult {
    fn human(&self) -> String {
        let what = format!(
            "{} genes, {} tasks ({} gene labels, {} pairs), {:.2} Mbp CDS, hash {}",
            self.genes,
            self.tasks.len(),
            self.gene_labels,
            self.pairs,
            self.cds_bp as f64 / 1e6,
            self.dataset_hash.get(..12).unwrap_or("")
        );
        match self.action {
            "validate" => format!("{} is valid: {what}\n", self.path.display()),
            "build" => format!(
                "wrote {}: {what}\ntasks{}: {}\n",
                self.path.display(),
                if self.tasks_inferred {
                    " (inferred from the columns; give --tasks to set them)"
                } else {
                    ""
                },
                self.tasks
                    .iter()
                    .map(|t| format!("{} ({})", t.name, t.kind))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => format!("wrote {}: {what}\n", self.path.display()),
        }
    }
}

pub fn run(cmd: DatasetCommand, json: bool) -> anyhow::Result<()> {
    match cmd {
        DatasetCommand::Synth {
            out,
            genes,
            seed,
            min_len,
            max_len,
            force,
        } => {
            if genes < 8 {
                bail!("--genes {genes}: a synthetic dataset needs at least 8 genes");
            }
            if min_len < 40 || max_len < min_len {
                bail!(
                    "--min-len {min_len} --max-len {max_len}: need 40 <= min-len <= max-len (motifs need room)"
                );
            }
            let cfg = dataset::synth::SynthConfig {
                genes,
                seed,
                min_len,
                max_len,
                ..Default::default()
            };
            // Sequences (protein + CDS + FASTA copies) and labels, per gene,
            // at the longest length: refused before anything is allocated.
            let need = (genes as u128) * (max_len as u128 * 12 + 1024);
            if let Some(avail) = workers::probe::available_memory()
                && need > avail
            {
                let gib = |b: u128| b as f64 / (1u128 << 30) as f64;
                anyhow::bail!(
                    "--genes {genes}: a synthetic dataset that large needs about {:.1} GiB of memory \
                     and {:.1} GiB is available; use fewer genes (the demo uses 1,200; the paper's \
                     sets have about 20,000)",
                    gib(need),
                    gib(avail)
                );
            }
            dataset::check_out(&out, force)?;
            let mut ds = dataset::synth::synthesize(&cfg);
            ds.write(&out, force)
                .with_context(|| format!("writing {}", out.display()))?;
            crate::output::print(json, &DatasetResult::of("synth", &out, &ds, false))?;
        }
        DatasetCommand::Build(a) => {
            let a = *a;
            let inferred = a.tasks.is_none();
            let mut inputs = Inputs {
                cds: a.cds,
                proteins: a.proteins,
                labels: a.labels,
                pairs: a.pairs,
                tasks: a.tasks,
                id_map: a.id_map,
                genes: None,
                uniprot: a.uniprot,
                string: a.string,
                gaf: a.gaf,
            };
            let opts = BuildOptions {
                strict: a.strict,
                key: match a.key {
                    KeyArg::Id => GeneKey::Id,
                    KeyArg::Symbol => GeneKey::Symbol,
                },
                cds_choice: match a.cds_choice {
                    ChoiceArg::Matching => CdsChoice::Matching,
                    ChoiceArg::Canonical => CdsChoice::Canonical,
                    ChoiceArg::Longest => CdsChoice::Longest,
                },
                string_min_score: a.string_min_score,
                gaf_exclude_evidence: a.gaf_exclude_evidence,
                gaf_min_genes: a.gaf_min_genes,
                force: a.force,
                ignore_columns: a.ignore_columns,
                cluster: a
                    .cluster
                    .then(|| workers::dataset::cluster::ClusterSettings {
                        min_seq_id: a.cluster_identity,
                        coverage: a.cluster_coverage,
                        program: a.mmseqs.clone(),
                        ..Default::default()
                    }),
            };
            // Kept until the build is done; removed when dropped.
            let _spooled = spool_streams(&mut inputs, &a.out)?;
            let (ds, f) = dataset::build(&inputs, &opts, &a.out)
                .map_err(|f| fail(&f, "dataset build failed; nothing was written"))?;
            report(&f);
            crate::output::print(json, &DatasetResult::of("build", &a.out, &ds, inferred))?;
        }
        DatasetCommand::Validate { dir, strict } => {
            let ds = dataset::validate_dir(&dir, strict)
                .map_err(|f| fail(&f, &format!("{} is not valid", dir.display())))?;
            crate::output::print(json, &DatasetResult::of("validate", &dir, &ds, false))?;
        }
    }
    Ok(())
}

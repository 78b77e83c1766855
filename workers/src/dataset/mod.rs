//! Datasets: matched gene (CDS) / protein sequences, per-gene attribute labels,
//! labelled gene pairs and the task spec, kept in one folder:
//!
//! | file | content |
//! |---|---|
//! | `cds.fa`, `protein.fa` | normalized sequences, one line each, sorted by gene id |
//! | `genes.tsv` | `gene_id symbol group cds_len protein_len` |
//! | `labels.tsv` | wide: `gene_id` then one column per gene task; empty = unlabelled |
//! | `pairs.tsv` | `task gene_a gene_b label` |
//! | `tasks.yaml` | the task spec ([`TaskSpec`] list) |
//! | `manifest.json` | counts, input hashes, the dataset hash, tool version |
//!
//! The dataset hash covers every content file, so splits (which depend on it)
//! change exactly when the data does.

mod build_options;
pub mod cluster;
pub mod fasta;
pub mod findings;
mod ingest;
mod records;
pub mod sources;
pub mod splits;
pub mod synth;
pub mod tasks;
pub mod translate;

pub use build_options::{BuildOptions, CdsChoice, GeneKey, Inputs};
pub use findings::{Finding, Findings, Severity};
pub use ingest::{build, ingest, validate_dir};
pub use tasks::{Label, Scope, TaskKind, TaskSpec};

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const DATASET_FORMAT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DatasetError + '_ {
    move |source| DatasetError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One gene: its coding DNA and its protein.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gene {
    pub id: String,
    pub symbol: String,
    /// Family / homology cluster, kept within one split when set.
    pub group: String,
    /// Uppercase ACGT(N), length multiple of 3, terminal stop kept if present.
    pub cds: Vec<u8>,
    /// 20 amino acids + X, no terminal `*`.
    pub protein: Vec<u8>,
}

/// Checksums and counts written to `manifest.json`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub tool_version: String,
    pub created: String,
    /// sha256 over the content files; splits and cell ids derive from it.
    pub dataset_hash: String,
    pub counts: BTreeMap<String, u64>,
    /// Every input file with its sha256 (build) or generator parameters (synth).
    pub inputs: Vec<InputRecord>,
    /// Where the genes' groups come from (clustering settings included);
    /// none: genes are split one by one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grouping: Option<cluster::Grouping>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InputRecord {
    pub role: String,
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

/// A whole dataset in memory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dataset {
    /// Sorted by id.
    pub genes: Vec<Gene>,
    pub tasks: Vec<TaskSpec>,
    /// Per gene task: (gene index, label), sorted by gene index.
    pub gene_labels: BTreeMap<String, Vec<(u32, Label)>>,
    /// Per pair task: (gene index a, gene index b, label) with a < b.
    pub pair_labels: BTreeMap<String, Vec<(u32, u32, Label)>>,
    pub manifest: Manifest,
}

pub use crate::files::sha256_file;

/// The name prefix of the temp file that holds an input given as a stream
/// (`-` for standard input, or a shell's `<(...)`), read once: recorded in
/// the manifest as `-`.
pub const STDIN_SPOOL_PREFIX: &str = ".genoprot-stdin-";

impl Dataset {
    pub fn task(&self, name: &str) -> Option<&TaskSpec> {
        self.tasks.iter().find(|t| t.name == name)
    }

    pub fn gene_index(&self, id: &str) -> Option<u32> {
        self.genes
            .binary_search_by(|g| g.id.as_str().cmp(id))
            .ok()
            .map(|i| i as u32)
    }

    /// The content files, in a fixed order, as bytes.
    fn render(&self) -> Vec<(&'static str, Vec<u8>)> {
        let mut cds = Vec::with_capacity(
            self.genes
                .iter()
                .map(|g| g.cds.len() + g.id.len() + 3)
                .sum(),
        );
        let mut prot = Vec::with_capacity(
            self.genes
                .iter()
                .map(|g| g.protein.len() + g.id.len() + 3)
                .sum(),
        );
        let mut genes = b"gene_id\tsymbol\tgroup\tcds_len\tprotein_len\n".to_vec();
        for g in &self.genes {
            for (buf, seq) in [(&mut cds, &g.cds), (&mut prot, &g.protein)] {
                buf.push(b'>');
                buf.extend_from_slice(g.id.as_bytes());
                buf.push(b'\n');
                buf.extend_from_slice(seq);
                buf.push(b'\n');
            }
            genes.extend_from_slice(
                format!(
                    "{}\t{}\t{}\t{}\t{}\n",
                    g.id,
                    g.symbol,
                    g.group,
                    g.cds.len(),
                    g.protein.len()
                )
                .as_bytes(),
            );
        }
        let gene_tasks: Vec<&TaskSpec> = self
            .tasks
            .iter()
            .filter(|t| t.scope == Scope::Gene)
            .collect();
        let mut labels = String::from("gene_id");
        for t in &gene_tasks {
            labels.push('\t');
            labels.push_str(&t.name);
        }
        labels.push('\n');
        let mut table: Vec<Vec<String>> =
            vec![vec![String::new(); gene_tasks.len()]; self.genes.len()];
        let mut labelled = vec![false; self.genes.len()];
        for (j, t) in gene_tasks.iter().enumerate() {
            for (g, l) in self
                .gene_labels
                .get(&t.name)
                .map(Vec::as_slice)
                .unwrap_or(&[])
            {
                table[*g as usize][j] = t.format_label(l);
                labelled[*g as usize] = true;
            }
        }
        for (i, row) in table.iter().enumerate() {
            if !labelled[i] {
                continue;
            }
            labels.push_str(&self.genes[i].id);
            for v in row {
                labels.push('\t');
                labels.push_str(v);
            }
            labels.push('\n');
        }
        let mut pairs = String::from("task\tgene_a\tgene_b\tlabel\n");
        for t in self.tasks.iter().filter(|t| t.scope == Scope::Pair) {
            for (a, b, l) in self
                .pair_labels
                .get(&t.name)
                .map(Vec::as_slice)
                .unwrap_or(&[])
            {
                pairs.push_str(&format!(
                    "{}\t{}\t{}\t{}\n",
                    t.name,
                    self.genes[*a as usize].id,
                    self.genes[*b as usize].id,
                    t.format_label(l)
                ));
            }
        }
        let tasks = yaml_serde::to_string(&self.tasks).expect("task specs serialize");
        vec![
            ("cds.fa", cds),
            ("protein.fa", prot),
            ("genes.tsv", genes),
            ("labels.tsv", labels.into_bytes()),
            ("pairs.tsv", pairs.into_bytes()),
            ("tasks.yaml", tasks.into_bytes()),
        ]
    }

    /// The dataset hash of the current content.
    pub fn content_hash(&self) -> String {
        hash_files(&self.render())
    }

    /// Writes the dataset folder. A new folder is written into a temp folder
    /// beside `dir` and renamed into place; an existing dataset folder (or,
    /// with `force`, any existing folder) gets each file through a temp file
    /// and a rename, `manifest.json` last, and keeps every file genoprot did
    /// not write. See [`check_out`] for what is refused. A failed write leaves
    /// the files already there untouched (a write interrupted between two
    /// renames is reported by `dataset validate` as a hash mismatch).
    pub fn write(&mut self, dir: &Path, force: bool) -> Result<(), DatasetError> {
        let files = self.render();
        self.manifest.format_version = DATASET_FORMAT_VERSION;
        self.manifest.tool_version = crate::TOOL_VERSION.to_string();
        if self.manifest.created.is_empty() {
            self.manifest.created = crate::store::now_rfc3339();
        }
        self.manifest.dataset_hash = hash_files(&files);
        let c = &mut self.manifest.counts;
        c.insert("genes".into(), self.genes.len() as u64);
        c.insert(
            "cds_bp".into(),
            self.genes.iter().map(|g| g.cds.len() as u64).sum(),
        );
        c.insert(
            "protein_aa".into(),
            self.genes.iter().map(|g| g.protein.len() as u64).sum(),
        );
        c.insert("tasks".into(), self.tasks.len() as u64);
        c.insert(
            "gene_labels".into(),
            self.gene_labels.values().map(|v| v.len() as u64).sum(),
        );
        c.insert(
            "pairs".into(),
            self.pair_labels.values().map(|v| v.len() as u64).sum(),
        );
        let manifest = serde_json::to_vec_pretty(&self.manifest).expect("manifest serializes");

        let files: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(f, b)| (*f, b.as_slice()))
            .chain([("manifest.json", manifest.as_slice())])
            .collect();
        match check_out(dir, force)? {
            OutDir::Absent => write_new_folder(dir, &files),
            OutDir::Existing(d) => write_into_folder(&d, &files),
        }
    }

    /// Loads a dataset folder, re-running every validation rule and checking the
    /// manifest hash. Errors are returned as findings.
    pub fn load(dir: &Path) -> Result<Dataset, Findings> {
        validate_dir(dir, false)
    }
}

/// The files a dataset folder holds: the only files `dataset build|synth`
/// ever write or replace there.
pub const DATASET_FILES: [&str; 7] = [
    "cds.fa",
    "protein.fa",
    "genes.tsv",
    "labels.tsv",
    "pairs.tsv",
    "tasks.yaml",
    "manifest.json",
];

/// Where a dataset is about to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutDir {
    /// Nothing there yet: written as a temp folder renamed into place.
    Absent,
    /// An existing folder (canonical path): the dataset's files are replaced
    /// one by one, every other file is left alone.
    Existing(PathBuf),
}

/// Checks an output folder before anything is computed or written: a path
/// that is a file, or an existing non-empty folder that is not a genoprot
/// dataset (no readable `manifest.json`) unless `force`, is refused.
pub fn check_out(dir: &Path, force: bool) -> Result<OutDir, DatasetError> {
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(OutDir::Absent),
        Err(e) => return Err(io_err(dir)(e)),
    };
    let resolved = if meta.file_type().is_symlink() {
        std::fs::metadata(dir).map_err(io_err(dir))?
    } else {
        meta
    };
    if !resolved.is_dir() {
        return Err(DatasetError::Invalid(format!(
            "--out {}: exists and is a file, not a folder; choose a folder path for the dataset",
            dir.display()
        )));
    }
    let canon = std::fs::canonicalize(dir).map_err(io_err(dir))?;
    let mut entries = std::fs::read_dir(&canon).map_err(io_err(dir))?;
    let empty = entries.next().is_none();
    let is_dataset = std::fs::read(canon.join("manifest.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Manifest>(&b).ok())
        .is_some();
    if !empty && !is_dataset && !force {
        return Err(DatasetError::Invalid(format!(
            "--out {}: exists and is not a genoprot dataset (no readable manifest.json); \
             choose another --out, or pass --force to write the dataset's files ({}) into it \
             (every other file there is left alone)",
            dir.display(),
            DATASET_FILES.join(", ")
        )));
    }
    Ok(OutDir::Existing(canon))
}

/// Refuses an output folder that holds one of the inputs (writing the
/// dataset there could overwrite it).
pub fn check_inputs_outside(out: &Path, inputs: &[&Path]) -> Result<(), DatasetError> {
    let Ok(out) = std::fs::canonicalize(out) else {
        return Ok(()); // not there yet: nothing inside it
    };
    for i in inputs {
        if let Ok(c) = std::fs::canonicalize(i)
            && c.starts_with(&out)
        {
            return Err(DatasetError::Invalid(format!(
                "--out {}: holds the input {}; write the dataset to another folder \
                 (it would replace files there)",
                out.display(),
                i.display()
            )));
        }
    }
    Ok(())
}

fn write_new_folder(dir: &Path, files: &[(&str, &[u8])]) -> Result<(), DatasetError> {
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dataset".into());
    // Removed on drop: a failed write leaves nothing behind.
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.tmp"))
        .tempdir_in(parent)
        .map_err(io_err(parent))?;
    for (f, bytes) in files {
        let p = tmp.path().join(f);
        write_synced(&p, bytes)?;
    }
    // Renaming onto a path that appeared meanwhile fails (non-empty) or
    // replaces an empty folder only.
    std::fs::rename(tmp.path(), dir).map_err(io_err(dir))?;
    let _ = tmp.keep();
    Ok(())
}

fn write_into_folder(dir: &Path, files: &[(&str, &[u8])]) -> Result<(), DatasetError> {
    let mut staged = Vec::with_capacity(files.len());
    for (f, bytes) in files {
        let dest = dir.join(f);
        let a = crate::atomic::AtomicPath::new(&dest).map_err(io_err(&dest))?;
        write_synced(a.path(), bytes)?;
        staged.push((dest, a));
    }
    // Every file is complete on disk before the first rename; manifest last.
    for (dest, a) in staged {
        a.commit().map_err(io_err(&dest))?;
    }
    Ok(())
}

/// Writes and fsyncs a file, naming it in any error.
fn write_synced(p: &Path, bytes: &[u8]) -> Result<(), DatasetError> {
    use std::io::Write;
    let mut f = std::fs::File::create(p).map_err(io_err(p))?;
    f.write_all(bytes).map_err(io_err(p))?;
    f.sync_all().map_err(io_err(p))
}

fn hash_files(files: &[(&'static str, Vec<u8>)]) -> String {
    let mut h = Sha256::new();
    for (name, bytes) in files {
        h.update(name.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests;

//! Homology clusters of a dataset's proteins with MMseqs2, written as each
//! gene's `group` so that splits keep every cluster within one split (the
//! practice of PEER, FLIP, ProteinGym and DGEB: paralogs on both sides of a
//! split inflate every score).
//!
//! `mmseqs easy-cluster proteins.fa out tmp --min-seq-id I -c C --cov-mode 0`
//! (Steinegger & Söding 2017/2018): sequences in one cluster share at least
//! `I` identity over an alignment covering at least `C` of both sequences
//! (`--cov-mode 0`). The cluster table (`out_cluster.tsv`: representative,
//! member) names each gene's cluster by its representative's id. The run
//! happens in a temp folder beside the dataset, removed afterwards.

use super::Gene;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The clustering asked for (`dataset build --cluster`).
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSettings {
    /// `--min-seq-id`, in (0, 1].
    pub min_seq_id: f64,
    /// `-c` with `--cov-mode 0` (both sequences), in (0, 1].
    pub coverage: f64,
    /// The `mmseqs` program (a name looked up on PATH, or a path).
    pub program: PathBuf,
    pub threads: usize,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            min_seq_id: 0.3,
            coverage: 0.8,
            program: PathBuf::from("mmseqs"),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// Where a dataset's gene groups came from (`manifest.json` `grouping`;
/// the report states it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grouping {
    /// `mmseqs2` (clustered at build), `input` (a `group` column), `synth`
    /// (the generator's families).
    pub source: String,
    /// The clustering tool's version, its command and settings (mmseqs2).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tool_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub command: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_seq_id: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<f64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cov_mode: String,
    /// Groups, and genes in groups of one.
    pub groups: u64,
    pub singletons: u64,
    /// Genes in the largest group.
    pub largest: u64,
}

impl Grouping {
    /// Counts of `genes`' groups (genes without a group count as their own).
    pub fn counted(source: &str, genes: &[Gene]) -> Grouping {
        let mut size: HashMap<&str, u64> = HashMap::new();
        let mut alone = 0u64;
        for g in genes {
            if g.group.is_empty() {
                alone += 1;
            } else {
                *size.entry(g.group.as_str()).or_default() += 1;
            }
        }
        Grouping {
            source: source.into(),
            tool_version: String::new(),
            command: String::new(),
            min_seq_id: None,
            coverage: None,
            cov_mode: String::new(),
            groups: size.len() as u64 + alone,
            singletons: alone + size.values().filter(|n| **n == 1).count() as u64,
            largest: size.values().copied().max().unwrap_or(alone.min(1)),
        }
    }

    /// One line for people: source, settings and counts.
    pub fn describe(&self) -> String {
        let counts = format!(
            "{} groups, {} of one gene, the largest {} genes",
            self.groups, self.singletons, self.largest
        );
        match self.source.as_str() {
            "mmseqs2" => format!(
                "MMseqs2 {} clusters (easy-cluster, min-seq-id {}, coverage {} with cov-mode {}): {counts}",
                self.tool_version,
                self.min_seq_id.unwrap_or(f64::NAN),
                self.coverage.unwrap_or(f64::NAN),
                self.cov_mode
            ),
            "synth" => format!("the synthetic generator's protein families: {counts}"),
            _ => format!("the input's `group` column: {counts}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "--cluster needs MMseqs2, and `{0}` was not found: install it (Debian/Ubuntu: \
         `apt-get install mmseqs2`; conda: `conda install -c bioconda mmseqs2`) or give its \
         path with --mmseqs"
    )]
    NotFound(String),
    #[error("--cluster: {0}")]
    Settings(String),
    #[error("--cluster: running {program}: {message}")]
    Failed { program: String, message: String },
    #[error("--cluster: {path}: {message}")]
    Output { path: PathBuf, message: String },
}

/// Checks the settings (each fraction in (0, 1]).
pub fn check(s: &ClusterSettings) -> Result<(), ClusterError> {
    for (flag, v) in [
        ("--cluster-identity", s.min_seq_id),
        ("--cluster-coverage", s.coverage),
    ] {
        if !(v > 0.0 && v <= 1.0) {
            return Err(ClusterError::Settings(format!(
                "{flag} {v} must be in (0, 1], e.g. 0.3 (identity) or 0.8 (coverage)"
            )));
        }
    }
    Ok(())
}

/// `mmseqs version`, or why it cannot run.
pub fn version(program: &Path) -> Result<String, ClusterError> {
    let out = Command::new(program)
        .arg("version")
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
                ClusterError::NotFound(program.display().to_string())
            }
            _ => ClusterError::Failed {
                program: program.display().to_string(),
                message: e.to_string(),
            },
        })?;
    if !out.status.success() {
        return Err(ClusterError::Failed {
            program: program.display().to_string(),
            message: format!(
                "`version` exited with {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Clusters `genes`' proteins and sets each gene's `group` to its
/// cluster's representative id (`cl:<id>`); returns the record for the
/// manifest. `scratch`: a folder for the temp run (beside the dataset).
pub fn cluster(
    genes: &mut [Gene],
    s: &ClusterSettings,
    scratch: &Path,
) -> Result<Grouping, ClusterError> {
    check(s)?;
    let tool_version = version(&s.program)?;
    let program = s.program.display().to_string();
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |e: std::io::Error| ClusterError::Output {
            path,
            message: e.to_string(),
        }
    };
    std::fs::create_dir_all(scratch).map_err(io(scratch))?;
    let tmp = tempfile::Builder::new()
        .prefix(".genoprot-mmseqs-")
        .tempdir_in(scratch)
        .map_err(io(scratch))?;
    let fasta = tmp.path().join("proteins.fa");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&fasta).map_err(io(&fasta))?);
        for g in genes.iter() {
            f.write_all(b">")
                .and_then(|_| f.write_all(g.id.as_bytes()))
                .and_then(|_| f.write_all(b"\n"))
                .and_then(|_| f.write_all(&g.protein))
                .and_then(|_| f.write_all(b"\n"))
                .map_err(io(&fasta))?;
        }
        f.flush().map_err(io(&fasta))?;
    }
    let prefix = tmp.path().join("clusters");
    let work = tmp.path().join("work");
    let args: Vec<String> = vec![
        "easy-cluster".into(),
        fasta.display().to_string(),
        prefix.display().to_string(),
        work.display().to_string(),
        "--min-seq-id".into(),
        s.min_seq_id.to_string(),
        "-c".into(),
        s.coverage.to_string(),
        "--cov-mode".into(),
        "0".into(),
        "--threads".into(),
        s.threads.max(1).to_string(),
        "-v".into(),
        "1".into(),
    ];
    tracing::info!(
        "clustering {} proteins with {program} easy-cluster (min-seq-id {}, coverage {})",
        genes.len(),
        s.min_seq_id,
        s.coverage
    );
    let out = Command::new(&s.program)
        .args(&args)
        .output()
        .map_err(|e| ClusterError::Failed {
            program: program.clone(),
            message: e.to_string(),
        })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(5).collect();
        return Err(ClusterError::Failed {
            program,
            message: format!(
                "easy-cluster exited with {}: {}",
                out.status,
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            ),
        });
    }
    let table = PathBuf::from(format!("{}_cluster.tsv", prefix.display()));
    let text = std::fs::read_to_string(&table).map_err(io(&table))?;
    let rep_of = parse_clusters(&text, genes).map_err(|message| ClusterError::Output {
        path: table.clone(),
        message,
    })?;
    for g in genes.iter_mut() {
        g.group = format!("cl:{}", rep_of[g.id.as_str()]);
    }
    let mut rec = Grouping::counted("mmseqs2", genes);
    rec.tool_version = tool_version;
    rec.command = format!(
        "mmseqs easy-cluster proteins.fa out tmp --min-seq-id {} -c {} --cov-mode 0",
        s.min_seq_id, s.coverage
    );
    rec.min_seq_id = Some(s.min_seq_id);
    rec.coverage = Some(s.coverage);
    rec.cov_mode = "0 (both sequences)".into();
    Ok(rec)
}

/// Each gene's representative from `easy-cluster`'s table (one
/// `representative\tmember` line per gene); every gene must be in it once.
fn parse_clusters<'a>(text: &'a str, genes: &[Gene]) -> Result<HashMap<&'a str, &'a str>, String> {
    let known: std::collections::HashSet<&str> = genes.iter().map(|g| g.id.as_str()).collect();
    let mut rep_of: HashMap<&str, &str> = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let Some((rep, member)) = line.split_once('\t') else {
            return Err(format!(
                "line {}: expected `representative<TAB>member`",
                i + 1
            ));
        };
        if !known.contains(member) || !known.contains(rep) {
            return Err(format!(
                "line {}: `{line}` names a gene not in the dataset",
                i + 1
            ));
        }
        if rep_of.insert(member, rep).is_some() {
            return Err(format!("line {}: `{member}` is in two clusters", i + 1));
        }
    }
    if let Some(g) = genes.iter().find(|g| !rep_of.contains_key(g.id.as_str())) {
        return Err(format!("gene `{}` is in no cluster", g.id));
    }
    Ok(rep_of)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gene(id: &str, group: &str) -> Gene {
        Gene {
            id: id.into(),
            symbol: String::new(),
            group: group.into(),
            cds: vec![],
            protein: b"MKV".to_vec(),
        }
    }

    #[test]
    fn the_cluster_table_is_read_strictly_and_counted() {
        let genes = vec![gene("a", ""), gene("b", ""), gene("c", "")];
        let ok = parse_clusters("a\ta\na\tb\nc\tc\n", &genes).unwrap();
        assert_eq!((ok["b"], ok["c"]), ("a", "c"));
        assert!(
            parse_clusters("a\ta\na\tb\n", &genes)
                .unwrap_err()
                .contains("`c` is in no cluster")
        );
        assert!(
            parse_clusters("a\ta\na\ta\nc\tc\nb\tb\n", &genes)
                .unwrap_err()
                .contains("two clusters")
        );
        assert!(
            parse_clusters("a a\n", &genes)
                .unwrap_err()
                .contains("line 1")
        );
        assert!(
            parse_clusters("z\ta\n", &genes)
                .unwrap_err()
                .contains("not in the dataset")
        );
        let g = Grouping::counted(
            "input",
            &[
                gene("a", "f1"),
                gene("b", "f1"),
                gene("c", "f2"),
                gene("d", ""),
            ],
        );
        assert_eq!((g.groups, g.singletons, g.largest), (3, 2, 2));
    }

    #[test]
    fn a_missing_program_says_how_to_install_it() {
        let e = version(Path::new("/nonexistent/mmseqs"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("apt-get install mmseqs2") && e.contains("--mmseqs"),
            "{e}"
        );
        let bad = ClusterSettings {
            min_seq_id: 1.5,
            ..Default::default()
        };
        assert!(
            check(&bad)
                .unwrap_err()
                .to_string()
                .contains("--cluster-identity 1.5")
        );
    }
}

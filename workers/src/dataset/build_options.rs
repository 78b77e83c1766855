//! What `dataset build` reads and how: the input files and the options
//! (gene key, CDS choice, strictness, source-specific thresholds).

use std::path::PathBuf;

/// The input files of `dataset build`.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub cds: PathBuf,
    pub proteins: PathBuf,
    /// Wide label table: `gene_id` then one column per gene task (optional `group`, `symbol`).
    pub labels: Option<PathBuf>,
    /// `task gene_a gene_b label`.
    pub pairs: Option<PathBuf>,
    /// Task spec (YAML list of tasks); inferred from the label columns when absent.
    pub tasks: Option<PathBuf>,
    /// `gene_id` plus any of `transcript_id`, `uniprot`, `symbol`, `alias` columns.
    pub id_map: Option<PathBuf>,
    /// A dataset's own `genes.tsv` (symbol, group), when re-validating a folder.
    pub genes: Option<PathBuf>,
    /// UniProt TSV export → derived attributes.
    pub uniprot: Option<PathBuf>,
    /// STRING `protein.links` file → the `interact` pair task.
    pub string: Option<PathBuf>,
    /// GO annotation GAF → multilabel GO tasks.
    pub gaf: Option<PathBuf>,
}

/// How records are matched into genes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GeneKey {
    /// Plain first word; Ensembl `gene:`; UniProt accession (through the id map).
    #[default]
    Id,
    /// Gene symbols (Ensembl `gene_symbol:`, UniProt `GN=`).
    Symbol,
}

/// Which CDS to keep when a gene has several (Ensembl: one per transcript).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CdsChoice {
    /// The one that translates to the gene's protein; ties → canonical → longest.
    #[default]
    Matching,
    /// Tagged `Ensembl_canonical`, else longest.
    Canonical,
    Longest,
}

#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub strict: bool,
    pub key: GeneKey,
    pub cds_choice: CdsChoice,
    /// STRING combined score threshold (0–1000).
    pub string_min_score: u32,
    /// GAF evidence codes to drop (e.g. IEA).
    pub gaf_exclude_evidence: Vec<String>,
    /// GO terms with fewer genes than this are not made labels.
    pub gaf_min_genes: usize,
    /// Write into an existing folder that is not a dataset (its other files are kept).
    pub force: bool,
    /// Label columns that are not tasks (skipped, not errors).
    pub ignore_columns: Vec<String>,
    /// Cluster the proteins with MMseqs2 and make the clusters the genes'
    /// groups (`--cluster`).
    pub cluster: Option<super::cluster::ClusterSettings>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            strict: false,
            key: GeneKey::Id,
            cds_choice: CdsChoice::Matching,
            string_min_score: 700,
            gaf_exclude_evidence: vec!["IEA".into(), "ND".into()],
            gaf_min_genes: 5,
            force: false,
            ignore_columns: Vec::new(),
            cluster: None,
        }
    }
}

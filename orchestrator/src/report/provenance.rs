//! Where a report's numbers come from: genoprot's version, when it was
//! written, the dataset (path, hash, genes), the probe, and every model's
//! kind and weights hash (as its embedding store recorded it).

use crate::config::SweepConfig;
use std::fmt::Write as _;
use workers::dataset::Dataset;

/// `2026-12-02 11:35 UTC` from seconds since the Unix epoch (civil calendar).
pub fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + (m <= 2) as i64;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// The provenance section of summary.md.
pub fn provenance_md(cfg: &SweepConfig, ds: &Dataset) -> String {
    let now = crate::journal::now() as u64;
    let mut md = format!(
        "## Provenance\n\n- {} ({} backend), report written {}\n- dataset `{}`: hash `{}`, {} genes, {} tasks\n- probe: {}\n- seeds: {:?}\n{}\n| model | kind | modality | weights hash |\n|---|---|---|---|\n",
        workers::TOOL_VERSION,
        workers::device::BACKEND,
        utc(now),
        cfg.dataset.display(),
        ds.manifest.dataset_hash,
        ds.genes.len(),
        ds.tasks.len(),
        super::tables::probe_description(&cfg.probe),
        cfg.seeds,
        splits_md(cfg, ds)
    );
    for m in &cfg.models {
        let meta = workers::store::read_meta(&cfg.layout().embedding(&m.name))
            .ok()
            .map(|(meta, _, _)| meta);
        let hash = meta
            .as_ref()
            .map(|m| m.weights_hash.clone())
            .filter(|h| !h.is_empty())
            .map_or_else(
                || "– (weight-free, or not embedded)".into(),
                |h| format!("`{h}`"),
            );
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            m.name,
            format!("{:?}", m.kind).to_lowercase(),
            m.modality().as_str(),
            hash
        );
    }
    md
}

/// How the genes (pairs) were split, in words: method, fractions, seed,
/// where the groups come from (clustering settings included) and the pair
/// rule.
pub fn splits_md(cfg: &SweepConfig, ds: &Dataset) -> String {
    use workers::dataset::splits::PairSplitMode;
    let s = &cfg.splits;
    let grouped = ds.genes.iter().any(|g| !g.group.is_empty());
    let groups = if !s.by_group || !grouped {
        "none: genes are split one by one (homologous genes can sit on both sides of a split; \
         `dataset build --cluster` groups them)"
            .to_string()
    } else {
        match &ds.manifest.grouping {
            Some(g) => g.describe(),
            None => "the dataset's `group` column".into(),
        }
    };
    let pairs = match s.pairs {
        PairSplitMode::GeneDisjoint => {
            "gene-disjoint — genes (with their groups) are assigned to splits, and a pair is kept \
             only where both genes fall in one split: both genes of every validation and test pair \
             are unseen in training; pairs across splits are dropped"
        }
        PairSplitMode::OneUnseen => {
            "one-unseen — genes (with their groups) are assigned to splits; every validation and \
             test pair has one training gene and one gene unseen in training; pairs of two held-out \
             genes are dropped"
        }
        PairSplitMode::Random => {
            "random — pairs are split at random (stratified by label): a test pair's genes may be \
             seen in training pairs (optimistic; for comparison only)"
        }
    };
    format!(
        "- splits: train/valid/test fractions {:?}, drawn per (dataset hash, task, seed) with the \
         sweep's seeds, the same for every model; gene tasks stratified by label (regression by \
         quintile), whole groups assigned together\n- gene groups: {groups}\n- pair tasks: {pairs}\n",
        s.fractions
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates_follow_the_civil_calendar() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc(1_796_211_300), "2026-12-02 11:35 UTC");
    }
}

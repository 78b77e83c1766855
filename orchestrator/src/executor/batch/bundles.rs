//! What one array task runs: a *bundle* of units (model names for the
//! embed stage, cell ids for probe and fusion). A submission writes its
//! bundles to a manifest, `store/slurm/bundles/<stage>-<n>.txt`, one bundle
//! per line, units comma-separated; array task `i` runs line `i`
//! (`genoprot worker ... --bundles FILE --bundle i`).
//!
//! Bundles have a fixed size (`cells_per_task: N`) or are sized by time
//! (`cells_per_task: auto`): cells are added to a bundle until their
//! estimated seconds reach `bundle_minutes`, the estimate of a cell being the
//! median `seconds` of the finished cells of the same row (model or ensemble
//! fusion), else the slowest row's median, else [`DEFAULT_CELL_SECONDS`].

use super::BatchSettings;
use crate::config::CellsPerTask;
use crate::grid::Stage;
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use workers::probe::cell::CellSpec;

/// The estimate of a cell before any cell of the sweep was measured: slow
/// enough that a bundle of them stays far inside a typical time limit.
pub const DEFAULT_CELL_SECONDS: f64 = 180.0;
/// `bundle_minutes` when the config does not set it.
pub const DEFAULT_BUNDLE_MINUTES: f64 = 30.0;

/// The row a cell's time is estimated from: its model or ensemble and fusion.
pub fn row_of(c: &CellSpec) -> String {
    format!("{}/{}", c.model, c.fusion.as_str())
}

/// Measured seconds per cell, by row: the median of the finished cells.
#[derive(Debug, Default, Clone)]
pub struct Estimates {
    by_row: BTreeMap<String, f64>,
}

impl Estimates {
    /// From `(cell, seconds)` of finished cells.
    pub fn from_measured<'a>(measured: impl IntoIterator<Item = (&'a CellSpec, f64)>) -> Self {
        let mut rows: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for (c, s) in measured {
            if s.is_finite() && s >= 0.0 {
                rows.entry(row_of(c)).or_default().push(s);
            }
        }
        let by_row = rows
            .into_iter()
            .map(|(k, mut v)| {
                v.sort_by(f64::total_cmp);
                let n = v.len();
                let m = if n % 2 == 1 {
                    v[n / 2]
                } else {
                    (v[n / 2 - 1] + v[n / 2]) / 2.0
                };
                (k, m)
            })
            .collect();
        Estimates { by_row }
    }

    /// Estimated seconds of one cell.
    pub fn seconds(&self, c: &CellSpec) -> f64 {
        self.by_row.get(&row_of(c)).copied().unwrap_or_else(|| {
            self.by_row
                .values()
                .copied()
                .fold(None, |a: Option<f64>, b| Some(a.map_or(b, |a| a.max(b))))
                .unwrap_or(DEFAULT_CELL_SECONDS)
        })
    }
}

/// Splits cells (in plan order) into bundles per `cells_per_task`.
pub fn bundle_cells(
    settings: &BatchSettings,
    cells: &[&CellSpec],
    est: &Estimates,
) -> Vec<Vec<String>> {
    match settings.cells_per_task {
        CellsPerTask::Count(n) => cells
            .chunks(n.max(1))
            .map(|b| b.iter().map(|c| c.id.clone()).collect())
            .collect(),
        CellsPerTask::Auto => {
            let target = settings.bundle_minutes.unwrap_or(DEFAULT_BUNDLE_MINUTES) * 60.0;
            let mut out: Vec<Vec<String>> = Vec::new();
            let mut sum = 0.0;
            for c in cells {
                let s = est.seconds(c);
                match out.last_mut() {
                    Some(b) if sum + s <= target => {
                        b.push(c.id.clone());
                        sum += s;
                    }
                    _ => {
                        out.push(vec![c.id.clone()]);
                        sum = s;
                    }
                }
            }
            out
        }
    }
}

/// Splits units into bundles of at most `size`.
pub fn bundle_by_count(units: &[String], size: usize) -> Vec<Vec<String>> {
    units.chunks(size.max(1)).map(<[String]>::to_vec).collect()
}

/// Writes a new manifest for `stage` into `d` (atomically; never over an
/// earlier one).
pub fn write_manifest(d: &Path, stage: Stage, bundles: &[Vec<String>]) -> anyhow::Result<PathBuf> {
    crate::store_dir(d)?;
    let taken = std::fs::read_dir(d)
        .map(|rd| rd.flatten().count())
        .unwrap_or(0);
    let mut n = taken + 1;
    let path = loop {
        let p = d.join(format!("{stage}-{n:04}.txt"));
        if !p.exists() {
            break p;
        }
        n += 1;
    };
    let mut text = String::new();
    for b in bundles {
        text.push_str(&b.join(","));
        text.push('\n');
    }
    workers::atomic::write_atomic(&path, text.as_bytes())?;
    // The path travels in the job's environment (`sbatch --export=...,GENOPROT_BUNDLES=<path>`).
    let abs = std::fs::canonicalize(&path).unwrap_or(path);
    if abs.to_string_lossy().contains(',') {
        anyhow::bail!(
            "{}: the store's path contains a comma, which sbatch --export cannot carry; move the store",
            abs.display()
        );
    }
    Ok(abs)
}

/// The bundles of a manifest, one per line.
pub fn read_manifest(path: &Path) -> anyhow::Result<Vec<Vec<String>>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the bundle manifest {}", path.display()))?;
    Ok(text
        .lines()
        .map(|l| {
            l.split(',')
                .filter(|u| !u.is_empty())
                .map(str::to_string)
                .collect()
        })
        .collect())
}

/// Bundle `i` of a manifest, with an error naming the file when it has none.
pub fn bundle(path: &Path, i: usize) -> anyhow::Result<Vec<String>> {
    let all = read_manifest(path)?;
    let n = all.len();
    all.into_iter().nth(i).with_context(|| {
        format!(
            "{}: no bundle {i} (the manifest has {n}); hint: scripts are run with the --array indices and GENOPROT_OFFSET their submission used (journal/jobs.jsonl)",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(id: &str, model: &str) -> CellSpec {
        CellSpec {
            id: id.into(),
            model: model.into(),
            members: vec![model.into()],
            fusion: crate::config::Fusion::None,
            task: "t".into(),
            seed: 0,
            probe: Default::default(),
            splits: Default::default(),
            member_cells: vec![],
            pca: None,
        }
    }

    fn cfg(yaml_slurm: &str) -> crate::config::SweepConfig {
        crate::config::SweepConfig::parse(
            &format!(
                "name: s\ndataset: d\nstore: s\nmodels:\n  - {{name: a, kind: kmer, modality: dna, k: 1}}\n  - {{name: b, kind: kmer, modality: dna, k: 2}}\nexecutor: {{kind: slurm, slurm: {yaml_slurm}}}\n"
            ),
            "s.yaml",
        )
        .unwrap()
    }

    #[test]
    fn auto_bundles_fill_the_target_from_measured_times() {
        let cells: Vec<CellSpec> = (0..6)
            .map(|i| cell(&format!("c{i}"), if i < 3 { "a" } else { "b" }))
            .collect();
        let refs: Vec<&CellSpec> = cells.iter().collect();
        // Nothing measured: the default estimate (180 s) → 10 per 30 min.
        let c = cfg("{cells_per_task: auto, bundle_minutes: 6}");
        let none = Estimates::default();
        assert_eq!(none.seconds(&cells[0]), DEFAULT_CELL_SECONDS);
        assert_eq!(
            bundle_cells(&c.executor.slurm.batch(), &refs, &none)
                .iter()
                .map(Vec::len)
                .collect::<Vec<_>>(),
            [2, 2, 2]
        );
        // `a` measured at 60 s (median of 50, 60, 70), `b` at 120 s: a
        // 6-minute bundle holds three `a` cells and one `b` cell (300 s),
        // then the two other `b` cells (240 s).
        let est = Estimates::from_measured([
            (&cells[0], 50.0),
            (&cells[1], 70.0),
            (&cells[2], 60.0),
            (&cells[3], 120.0),
        ]);
        assert_eq!(est.seconds(&cells[0]), 60.0);
        let b = bundle_cells(&c.executor.slurm.batch(), &refs, &est);
        assert_eq!(b, [vec!["c0", "c1", "c2", "c3"], vec!["c4", "c5"]]);
        // A row not measured yet takes the slowest measured row's time.
        let est = Estimates::from_measured([(&cells[0], 60.0)]);
        assert_eq!(est.seconds(&cells[4]), 60.0);
        // A fixed count ignores times.
        let fixed = cfg("{cells_per_task: 4}");
        assert_eq!(
            bundle_cells(&fixed.executor.slurm.batch(), &refs, &est)
                .iter()
                .map(Vec::len)
                .collect::<Vec<_>>(),
            [4, 2]
        );
    }

    #[test]
    fn manifests_round_trip_and_never_overwrite() {
        let d = tempfile::tempdir().unwrap();
        let c = d.path().join("store/slurm/bundles");
        let b = vec![
            vec!["x".to_string(), "y".to_string()],
            vec!["z".to_string()],
        ];
        let p1 = write_manifest(&c, Stage::Probe, &b).unwrap();
        let p2 = write_manifest(&c, Stage::Probe, &b[1..]).unwrap();
        assert_ne!(p1, p2);
        assert_eq!(read_manifest(&p1).unwrap(), b);
        assert_eq!(bundle(&p2, 0).unwrap(), ["z"]);
        let e = bundle(&p2, 3).unwrap_err().to_string();
        assert!(e.contains("no bundle 3 (the manifest has 1)"), "{e}");
    }
}

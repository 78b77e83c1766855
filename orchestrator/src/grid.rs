//! The sweep's grid: embed jobs per model, probe cells per model × task ×
//! seed, and ensemble cells. A cell's id is a hash of everything that
//! determines its output (plus the model's name, so two identically
//! configured models keep separate rows), so changing one model's settings
//! reruns only its cells.

use crate::config::{Fusion, SweepConfig};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use workers::dataset::Dataset;
use workers::probe::cell::{CELL_FORMAT_VERSION, CellSpec};

/// A stage of a sweep, in dependency order: embeddings, probe cells,
/// late-fusion cells, then the aggregate (and report). Serialized (JSON,
/// `journal/jobs.jsonl`, Slurm script names) as its lowercase name.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Embed,
    Probe,
    Fusion,
    Aggregate,
}

impl Stage {
    /// The stages with units (the aggregate has none).
    pub const UNITS: [Stage; 3] = [Stage::Embed, Stage::Probe, Stage::Fusion];
    /// Every stage, in submission order.
    pub const ALL: [Stage; 4] = [Stage::Embed, Stage::Probe, Stage::Fusion, Stage::Aggregate];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Embed => "embed",
            Stage::Probe => "probe",
            Stage::Fusion => "fusion",
            Stage::Aggregate => "aggregate",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EmbedJob {
    pub model: String,
    pub config_hash: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Grid {
    pub dataset_hash: String,
    pub tasks: Vec<String>,
    pub embed: Vec<EmbedJob>,
    /// Single-model and early-fusion cells (depend on embeddings only).
    pub cells: Vec<CellSpec>,
    /// Late-fusion cells (depend on their member cells).
    pub late: Vec<CellSpec>,
}

/// Hex digits of a cell id (its store is `cells/<id>.h5`).
pub const CELL_ID_LEN: usize = 32;

fn hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(b"genoprot-cell-v1\0");
    h.update(CELL_FORMAT_VERSION.to_le_bytes());
    h.update(workers::store::STORE_FORMAT_VERSION.to_le_bytes());
    h.update(workers::dataset::splits::SPLIT_ALGORITHM_VERSION.as_bytes());
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())[..CELL_ID_LEN].to_string()
}

impl Grid {
    pub fn build(cfg: &SweepConfig, ds: &Dataset, tasks: &[String]) -> Grid {
        let base = cfg.base_dir();
        let dh = ds.manifest.dataset_hash.clone();
        let hashes: Vec<(String, String)> = cfg
            .models
            .iter()
            .map(|m| (m.name.clone(), m.config_hash(&dh, &base)))
            .collect();
        let embed: Vec<EmbedJob> = hashes
            .iter()
            // A `layers:` entry's rows: one job, one pass (the first row's).
            .filter(|(m, _)| cfg.has_embed_job(m))
            .map(|(m, h)| EmbedJob {
                model: m.clone(),
                config_hash: h.clone(),
            })
            .collect();
        let model_hash: BTreeMap<&str, &str> = hashes
            .iter()
            .map(|(m, h)| (m.as_str(), h.as_str()))
            .collect();
        let probe = serde_json::to_string(&cfg.probe).expect("serializes");
        let splits = serde_json::to_string(&cfg.splits).expect("serializes");
        let mut cells = Vec::new();
        let mut late = Vec::new();
        let mut single_id: BTreeMap<(String, String, u64), String> = BTreeMap::new();
        for task in tasks {
            for &seed in &cfg.seeds {
                let s = seed.to_string();
                for m in &cfg.models {
                    let id = hash(&[
                        "single",
                        &m.name,
                        model_hash[m.name.as_str()],
                        task,
                        &s,
                        &probe,
                        &splits,
                    ]);
                    single_id.insert((m.name.clone(), task.clone(), seed), id.clone());
                    cells.push(CellSpec {
                        id,
                        model: m.name.clone(),
                        members: vec![m.name.clone()],
                        fusion: Fusion::None,
                        task: task.clone(),
                        seed,
                        probe: cfg.probe.clone(),
                        splits: cfg.splits.clone(),
                        member_cells: vec![],
                        pca: None,
                    });
                }
                for e in &cfg.ensembles {
                    let member_hashes: Vec<&str> =
                        e.members.iter().map(|m| model_hash[m.as_str()]).collect();
                    for f in &e.fusion {
                        let name = format!("{}:{}", e.name, f.as_str());
                        // `pca: k` changes concat-balanced cells only (and
                        // their ids only when set).
                        let cell_pca = e.pca.filter(|_| *f == Fusion::ConcatBalanced);
                        let pca = cell_pca.map(|k| format!("pca={k}"));
                        // Late fusion reads its members' cells; early fusion their embeddings.
                        let member_cells: Vec<String> = if f.is_late() {
                            e.members
                                .iter()
                                .map(|m| single_id[&(m.clone(), task.clone(), seed)].clone())
                                .collect()
                        } else {
                            Vec::new()
                        };
                        let parts: Vec<&str> = if f.is_late() {
                            ["late", name.as_str(), f.as_str()]
                                .into_iter()
                                .chain(member_cells.iter().map(String::as_str))
                                .collect()
                        } else {
                            ["concat", name.as_str()]
                                .into_iter()
                                .chain(member_hashes.iter().copied())
                                .chain([task.as_str(), &s, &probe, &splits])
                                .chain(pca.as_deref())
                                .collect()
                        };
                        let cell = CellSpec {
                            id: hash(&parts),
                            model: name.clone(),
                            members: e.members.clone(),
                            fusion: *f,
                            task: task.clone(),
                            seed,
                            probe: cfg.probe.clone(),
                            splits: cfg.splits.clone(),
                            member_cells,
                            pca: cell_pca,
                        };
                        if f.is_late() {
                            late.push(cell)
                        } else {
                            cells.push(cell)
                        }
                    }
                }
            }
        }
        Grid {
            dataset_hash: dh,
            tasks: tasks.to_vec(),
            embed,
            cells,
            late,
        }
    }

    pub fn all_cells(&self) -> impl Iterator<Item = &CellSpec> {
        self.cells.iter().chain(&self.late)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn grid(yaml: &str, ds: &Dataset) -> Grid {
        let cfg = SweepConfig::parse(yaml, "c.yaml").unwrap();
        let tasks: Vec<String> = ds.tasks.iter().map(|t| t.name.clone()).collect();
        Grid::build(&cfg, ds, &tasks)
    }

    fn ids(g: &Grid, model: &str) -> BTreeSet<String> {
        g.all_cells()
            .filter(|c| c.model == model || c.model.starts_with(&format!("{model}:")))
            .map(|c| c.id.clone())
            .collect()
    }

    #[test]
    fn cell_ids_are_stable_and_change_only_with_what_matters() {
        let mut ds = workers::dataset::synth::synthesize(&workers::dataset::synth::SynthConfig {
            genes: 40,
            seed: 1,
            ..Default::default()
        });
        ds.manifest.dataset_hash = ds.content_hash();
        let base = "name: t\ndataset: d\nstore: s\nseeds: [0, 1]\nmodels:\n  - {name: a, kind: kmer, modality: dna, k: 3}\n  - {name: b, kind: kmer, modality: protein, k: 1}\nensembles:\n  - {name: e, members: [a, b], fusion: [concat, mean-prob]}\n";
        let g1 = grid(base, &ds);
        let g2 = grid(base, &ds);
        let all1: Vec<&String> = g1.all_cells().map(|c| &c.id).collect();
        assert_eq!(
            all1,
            g2.all_cells().map(|c| &c.id).collect::<Vec<_>>(),
            "stable across runs"
        );
        assert_eq!(
            all1.iter().collect::<BTreeSet<_>>().len(),
            all1.len(),
            "unique"
        );
        assert_eq!(g1.cells.len(), 12 * 2 * 3);
        assert_eq!(g1.late.len(), 12 * 2);
        // Changing model a's settings changes a's cells and the ensemble's, not b's.
        let g3 = grid(&base.replace("k: 3", "k: 4"), &ds);
        assert!(ids(&g1, "a").is_disjoint(&ids(&g3, "a")));
        assert!(ids(&g1, "e").is_disjoint(&ids(&g3, "e")));
        assert_eq!(ids(&g1, "b"), ids(&g3, "b"));
        // Two identically configured models keep separate cells.
        let g7 = grid(
            &base.replace(
                "- {name: b, kind: kmer, modality: protein, k: 1}",
                "- {name: b, kind: kmer, modality: dna, k: 3}",
            ),
            &ds,
        );
        assert!(ids(&g7, "a").is_disjoint(&ids(&g7, "b")));
        // Renaming the sweep or the store changes nothing; a new seed adds cells only.
        let g4 = grid(
            &base
                .replace("name: t", "name: other")
                .replace("store: s", "store: s2")
                .replace("[0, 1]", "[0, 1, 2]"),
            &ds,
        );
        let ids4: BTreeSet<&String> = g4.all_cells().map(|c| &c.id).collect();
        assert!(all1.iter().all(|id| ids4.contains(id)));
        assert_eq!(ids4.len(), all1.len() * 3 / 2);
        // Probe settings and the dataset change every cell.
        let g5 = grid(&format!("{base}probe: {{lr: 0.01}}\n"), &ds);
        assert!(
            g1.all_cells()
                .zip(g5.all_cells())
                .all(|(a, b)| a.id != b.id)
        );
        // `pca: k` changes the concat-balanced cells only.
        let balanced = base.replace(
            "[concat, mean-prob]",
            "[concat, concat-balanced, mean-prob]",
        );
        let g8 = grid(&balanced, &ds);
        let g9 = grid(&balanced.replace("mean-prob]}", "mean-prob], pca: 4}"), &ds);
        let changed: BTreeSet<&str> = g8
            .all_cells()
            .zip(g9.all_cells())
            .filter(|(a, b)| a.id != b.id)
            .map(|(a, _)| a.model.as_str())
            .collect();
        assert_eq!(changed, BTreeSet::from(["e:concat-balanced"]));
        assert!(
            g9.all_cells()
                .filter(|c| c.model == "e:concat-balanced")
                .all(|c| c.pca == Some(4))
        );
        let mut ds2 = ds.clone();
        ds2.manifest.dataset_hash = "other".into();
        let g6 = grid(base, &ds2);
        assert!(
            g1.all_cells()
                .zip(g6.all_cells())
                .all(|(a, b)| a.id != b.id)
        );
    }
}

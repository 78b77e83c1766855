//! The sweep's grid: embed jobs per model, probe cells per model × task ×
//! seed, and ensemble cells. A cell's id is a hash of everything that
//! determines its output, so changing one model's settings reruns only its cells.

use crate::config::{Fusion, SweepConfig};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use workers::dataset::Dataset;
use workers::probe::cell::{CELL_FORMAT_VERSION, CellSpec};

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

fn hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(b"genoprot-cell-v1\0");
    h.update(CELL_FORMAT_VERSION.to_le_bytes());
    h.update(workers::store::STORE_FORMAT_VERSION.to_le_bytes());
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())[..32].to_string()
}

impl Grid {
    pub fn build(cfg: &SweepConfig, ds: &Dataset, tasks: &[String]) -> Grid {
        let base = cfg.base_dir();
        let dh = ds.manifest.dataset_hash.clone();
        let embed: Vec<EmbedJob> = cfg
            .models
            .iter()
            .map(|m| EmbedJob {
                model: m.name.clone(),
                config_hash: m.config_hash(&dh, &base),
            })
            .collect();
        let model_hash: BTreeMap<&str, &str> = embed
            .iter()
            .map(|e| (e.model.as_str(), e.config_hash.as_str()))
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
                    });
                }
                for e in &cfg.ensembles {
                    let member_hashes: Vec<&str> =
                        e.members.iter().map(|m| model_hash[m.as_str()]).collect();
                    for f in &e.fusion {
                        let name = format!("{}:{}", e.name, f.as_str());
                        if f.is_late() {
                            let member_cells: Vec<String> = e
                                .members
                                .iter()
                                .map(|m| single_id[&(m.clone(), task.clone(), seed)].clone())
                                .collect();
                            let mut parts = vec!["late", f.as_str()];
                            parts.extend(member_cells.iter().map(String::as_str));
                            late.push(CellSpec {
                                id: hash(&parts),
                                model: name,
                                members: e.members.clone(),
                                fusion: *f,
                                task: task.clone(),
                                seed,
                                probe: cfg.probe.clone(),
                                splits: cfg.splits.clone(),
                                member_cells,
                            });
                        } else {
                            let mut parts = vec!["concat"];
                            parts.extend(member_hashes.iter().copied());
                            parts.extend([task.as_str(), &s, &probe, &splits]);
                            cells.push(CellSpec {
                                id: hash(&parts),
                                model: name,
                                members: e.members.clone(),
                                fusion: *f,
                                task: task.clone(),
                                seed,
                                probe: cfg.probe.clone(),
                                splits: cfg.splits.clone(),
                                member_cells: vec![],
                            });
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

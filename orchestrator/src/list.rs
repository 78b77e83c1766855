//! `genoprot list models|tasks CONFIG`: what a sweep runs — its models and
//! ensembles with their kinds and inputs, or the tasks it selects with their
//! kind, scope, category and label counts.

use crate::output::Human;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ListWhat {
    Models,
    Tasks,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// What to list.
    pub what: ListWhat,
    /// The sweep config (YAML).
    pub config: PathBuf,
}

#[derive(Debug, serde::Serialize)]
pub struct ModelRow {
    pub name: String,
    pub kind: String,
    pub modality: String,
    /// The weights folder or hub id, the precomputed file, or the command.
    pub input: String,
}

#[derive(Debug, serde::Serialize)]
pub struct EnsembleRow {
    pub name: String,
    pub members: Vec<String>,
    pub fusion: Vec<String>,
}

#[derive(Debug, serde::Serialize)]
pub struct TaskRow {
    pub name: String,
    pub kind: String,
    pub scope: String,
    pub category: String,
    /// Labeled genes (gene tasks) or pairs (pair tasks).
    pub labeled: usize,
}

#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
pub enum ListResult {
    Models {
        models: Vec<ModelRow>,
        ensembles: Vec<EnsembleRow>,
    },
    Tasks {
        tasks: Vec<TaskRow>,
    },
}

impl Human for ListResult {
    fn human(&self) -> String {
        match self {
            ListResult::Models { models, ensembles } => {
                let mut rows: Vec<Vec<String>> = models
                    .iter()
                    .map(|m| {
                        vec![
                            m.name.clone(),
                            m.kind.clone(),
                            m.modality.clone(),
                            m.input.clone(),
                        ]
                    })
                    .collect();
                rows.extend(ensembles.iter().map(|e| {
                    vec![
                        e.name.clone(),
                        "ensemble".into(),
                        String::new(),
                        format!("{} ({})", e.members.join(" + "), e.fusion.join(", ")),
                    ]
                }));
                crate::output::table(&["model", "kind", "modality", "input"], &rows, &[])
            }
            ListResult::Tasks { tasks } => {
                let rows: Vec<Vec<String>> = tasks
                    .iter()
                    .map(|t| {
                        vec![
                            t.name.clone(),
                            t.kind.clone(),
                            t.scope.clone(),
                            t.category.clone(),
                            t.labeled.to_string(),
                        ]
                    })
                    .collect();
                crate::output::table(
                    &["task", "kind", "scope", "category", "labeled"],
                    &rows,
                    &[4],
                )
            }
        }
    }
}

fn lower<T: std::fmt::Debug>(v: &T) -> String {
    format!("{v:?}").to_lowercase()
}

pub fn run(a: &ListArgs, json: bool) -> anyhow::Result<()> {
    let r = match a.what {
        ListWhat::Models => {
            let cfg = crate::config::SweepConfig::load(&a.config)?;
            list_models(&cfg)
        }
        ListWhat::Tasks => {
            let s = crate::sweep::Sweep::open(&a.config)?;
            list_tasks(&s.ds, &s.tasks)
        }
    };
    crate::output::print(json, &r)
}

fn list_models(cfg: &crate::config::SweepConfig) -> ListResult {
    let shown = |p: &Option<PathBuf>| p.as_deref().map(Path::display).map(|d| d.to_string());
    ListResult::Models {
        models: cfg
            .models
            .iter()
            .map(|m| ModelRow {
                name: m.name.clone(),
                kind: lower(&m.kind),
                modality: m.modality().as_str().to_string(),
                input: shown(&m.weights)
                    .or_else(|| shown(&m.path))
                    .or_else(|| m.command.clone())
                    .or_else(|| m.k.map(|k| format!("k = {k}")))
                    .unwrap_or_default(),
            })
            .collect(),
        ensembles: cfg
            .ensembles
            .iter()
            .map(|e| EnsembleRow {
                name: e.name.clone(),
                members: e.members.clone(),
                fusion: e.fusion.iter().map(|f| f.as_str().to_string()).collect(),
            })
            .collect(),
    }
}

fn list_tasks(ds: &workers::dataset::Dataset, selected: &[String]) -> ListResult {
    ListResult::Tasks {
        tasks: ds
            .tasks
            .iter()
            .filter(|t| selected.contains(&t.name))
            .map(|t| TaskRow {
                name: t.name.clone(),
                kind: lower(&t.kind),
                scope: lower(&t.scope),
                category: t.category.clone(),
                labeled: ds
                    .gene_labels
                    .get(&t.name)
                    .map(Vec::len)
                    .or_else(|| ds.pair_labels.get(&t.name).map(Vec::len))
                    .unwrap_or(0),
            })
            .collect(),
    }
}

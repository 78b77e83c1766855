//! Task specs (the dataset's `tasks.yaml`) and label values.

use serde::{Deserialize, Serialize};

/// What a task is about: one gene, or a pair of genes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Gene,
    Pair,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    Binary,
    Multiclass,
    Multilabel,
    Regression,
}

impl TaskKind {
    pub fn is_classification(self) -> bool {
        self != TaskKind::Regression
    }
}

/// One benchmark task. Nothing else in genoprot hard-codes task names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    pub name: String,
    pub scope: Scope,
    pub kind: TaskKind,
    /// structural | functional | biomedical | interaction (free text, used to group reports).
    #[serde(default)]
    pub category: String,
    /// Class names (multiclass, multilabel), in label-index order. Binary: empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Which signal the synthetic generator planted (`dna`, `protein`, `both`, `none`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
}

/// A label value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Label {
    Binary(bool),
    Class(u32),
    Multi(Vec<u32>),
    Value(f32),
}

/// A label cell that does not fit its task: the value and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{value:?} {reason}")]
pub struct BadLabel {
    pub value: String,
    pub reason: String,
}

fn bad_label(value: &str, reason: String) -> BadLabel {
    BadLabel {
        value: value.into(),
        reason,
    }
}

/// A task spec that cannot work: which task and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{reason}")]
pub struct BadTaskSpec {
    pub task: String,
    pub reason: String,
}

impl TaskSpec {
    /// Parses one label cell (already known non-empty). `Err` carries a hint.
    pub fn parse_label(&self, s: &str) -> Result<Label, BadLabel> {
        let s = s.trim();
        match self.kind {
            // The documented rule (docs/dataset.md): 1/0, true/false or
            // yes/no, in any letter case.
            TaskKind::Binary => match s.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" => Ok(Label::Binary(true)),
                "0" | "false" | "no" => Ok(Label::Binary(false)),
                _ => Err(bad_label(
                    s,
                    "is not a binary label (expected 1/0, true/false or yes/no)".into(),
                )),
            },
            TaskKind::Multiclass => self.class_index(s).map(Label::Class).ok_or_else(|| {
                bad_label(
                    s,
                    format!(
                        "is not a class of task {} (classes: {})",
                        self.name,
                        self.classes.join(", ")
                    ),
                )
            }),
            TaskKind::Multilabel => {
                let mut v = Vec::new();
                for part in s.split(';').map(str::trim).filter(|p| !p.is_empty()) {
                    let i = self.class_index(part).ok_or_else(|| {
                        bad_label(
                            part,
                            format!(
                                "is not a label of task {} (labels: {})",
                                self.name,
                                self.classes.join(", ")
                            ),
                        )
                    })?;
                    v.push(i);
                }
                v.sort_unstable();
                v.dedup();
                Ok(Label::Multi(v))
            }
            TaskKind::Regression => match s.parse::<f32>() {
                Ok(x) if x.is_finite() => Ok(Label::Value(x)),
                _ => Err(bad_label(s, "is not a finite number".into())),
            },
        }
    }

    fn class_index(&self, s: &str) -> Option<u32> {
        self.classes.iter().position(|c| c == s).map(|i| i as u32)
    }

    /// The label as written in the dataset's TSV files.
    pub fn format_label(&self, l: &Label) -> String {
        match l {
            Label::Binary(b) => if *b { "1" } else { "0" }.to_string(),
            Label::Class(i) => self.classes[*i as usize].clone(),
            Label::Multi(v) => v
                .iter()
                .map(|i| self.classes[*i as usize].as_str())
                .collect::<Vec<_>>()
                .join(";"),
            Label::Value(x) => format!("{x}"),
        }
    }

    /// Number of outputs a probe needs: 1 for binary/regression, else the class count.
    pub fn n_outputs(&self) -> usize {
        match self.kind {
            TaskKind::Binary | TaskKind::Regression => 1,
            TaskKind::Multiclass | TaskKind::Multilabel => self.classes.len(),
        }
    }

    /// Checks the spec itself.
    pub fn check(&self) -> Result<(), BadTaskSpec> {
        let bad = |reason: String| BadTaskSpec {
            task: self.name.clone(),
            reason,
        };
        if self.name.is_empty()
            || self
                .name
                .chars()
                .any(|c| c.is_whitespace() || c == '/' || c == '\t')
        {
            return Err(bad(format!(
                "task name {:?} must be non-empty, without spaces or '/'",
                self.name
            )));
        }
        match self.kind {
            TaskKind::Multiclass | TaskKind::Multilabel if self.classes.len() < 2 => {
                Err(bad(format!(
                    "task {}: a {:?} task needs at least 2 classes",
                    self.name, self.kind
                )))
            }
            _ => {
                let mut c = self.classes.clone();
                c.sort();
                c.dedup();
                if c.len() != self.classes.len() {
                    return Err(bad(format!("task {}: duplicate class names", self.name)));
                }
                Ok(())
            }
        }
    }
}

/// Guesses a task spec from a label column when no spec file is given:
/// only 0/1 → binary; numbers → regression; `;`-separated → multilabel; else multiclass.
/// Whether an inferred multiclass task looks like an identifier column
/// (accessions, names): more than 50 classes and more than one class per
/// five labelled genes. Such columns are not made tasks without a task spec.
pub fn looks_like_identifier(t: &TaskSpec, labelled: usize) -> bool {
    t.kind == TaskKind::Multiclass && t.classes.len() > 50 && t.classes.len() * 5 > labelled
}

pub fn infer_gene_task(name: &str, values: &[&str]) -> TaskSpec {
    let vals: Vec<&str> = values
        .iter()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .collect();
    let kind = if vals.iter().all(|v| {
        matches!(
            v.to_ascii_lowercase().as_str(),
            "0" | "1" | "true" | "false" | "yes" | "no"
        )
    }) {
        TaskKind::Binary
    } else if vals.iter().all(|v| v.parse::<f64>().is_ok()) {
        TaskKind::Regression
    } else if vals.iter().any(|v| v.contains(';')) {
        TaskKind::Multilabel
    } else {
        TaskKind::Multiclass
    };
    let mut classes: Vec<String> = match kind {
        TaskKind::Multiclass => vals.iter().map(|v| v.to_string()).collect(),
        TaskKind::Multilabel => vals
            .iter()
            .flat_map(|v| v.split(';'))
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    classes.sort();
    classes.dedup();
    TaskSpec {
        name: name.to_string(),
        scope: Scope::Gene,
        kind,
        category: String::new(),
        classes,
        description: String::new(),
        signal: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infers_and_parses() {
        let b = infer_gene_task("tm", &["0", "1", "", "1"]);
        assert_eq!(b.kind, TaskKind::Binary);
        assert_eq!(b.parse_label("1"), Ok(Label::Binary(true)));
        assert!(
            b.parse_label("2")
                .unwrap_err()
                .to_string()
                .contains("binary")
        );
        let r = infer_gene_task("len", &["0.5", "3"]);
        assert_eq!(r.kind, TaskKind::Regression);
        assert!(r.parse_label("nan").is_err());
        let m = infer_gene_task("loc", &["nucleus", "cytoplasm", "nucleus"]);
        assert_eq!(m.kind, TaskKind::Multiclass);
        assert_eq!(m.classes, ["cytoplasm", "nucleus"]);
        assert_eq!(m.parse_label("nucleus"), Ok(Label::Class(1)));
        let ml = infer_gene_task("go", &["a;b", "c", ""]);
        assert_eq!(ml.kind, TaskKind::Multilabel);
        assert_eq!(ml.parse_label("c;a;a"), Ok(Label::Multi(vec![0, 2])));
        assert_eq!(ml.format_label(&Label::Multi(vec![0, 2])), "a;c");
        assert!(
            ml.parse_label("zz")
                .unwrap_err()
                .to_string()
                .contains("not a label")
        );
    }
}

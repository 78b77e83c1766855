//! The YAML sweep config (reference: docs/config.md). Unknown keys, wrong
//! types and dangling references are rejected with file:line:column and a
//! suggestion. `schema.rs` is what each key holds; `position.rs` finds where
//! a value is written; `checks.rs` makes the checks serde cannot;
//! `hints.rs` is the one "did you mean".

mod checks;
pub mod hints;
mod position;
mod schema;
#[cfg(test)]
mod tests;

pub use schema::*;
use std::path::{Path, PathBuf};
use workers::embed::spec::ModelSpec;
pub use workers::probe::fusion::Fusion;

#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl SweepConfig {
    /// Reads and checks a config file (structure and internal references; the
    /// dataset's task names are checked by [`SweepConfig::check_tasks`]).
    pub fn load(path: &Path) -> Result<SweepConfig, ConfigError> {
        let file = path.display().to_string();
        let at_start = |message: String| ConfigError {
            file: file.clone(),
            line: 1,
            column: 1,
            message,
        };
        let bytes = std::fs::read(path).map_err(|e| {
            at_start(match e.kind() {
                std::io::ErrorKind::NotFound => {
                    "no such file (hint: give the path of a sweep config, e.g. configs/demo.yaml)"
                        .into()
                }
                std::io::ErrorKind::IsADirectory => "is a folder, not a sweep config file".into(),
                _ => format!("cannot read: {e}"),
            })
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let at = e.utf8_error().valid_up_to();
            let good = &e.as_bytes()[..at];
            let line = good.iter().filter(|b| **b == b'\n').count() + 1;
            let column = at - good.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1) + 1;
            ConfigError {
                file: file.clone(),
                line,
                column,
                message: format!(
                    "not UTF-8 text (byte {at}); a sweep config is a YAML text file \
                     (hint: is this the right file? re-save it as UTF-8)"
                ),
            }
        })?;
        Self::parse(&text, &file)
    }

    pub fn parse(text: &str, file: &str) -> Result<SweepConfig, ConfigError> {
        // A UTF-8 byte-order mark (some Windows editors write one) is not YAML.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        // The document as plain YAML, read once for the checks that serde's
        // own errors cannot make (none when it does not parse: serde says why).
        let yaml: Option<yaml_serde::Value> = yaml_serde::from_str(text).ok();
        if let Some(e) = position::lex_problem(text, file).or_else(|| {
            let v = yaml.as_ref()?;
            checks::unknown_slurm_key(v, text, file)
                .or_else(|| position::unknown_tag(v, text, file))
        }) {
            return Err(e);
        }
        let mut cfg: SweepConfig = yaml_serde::from_str(text).map_err(|e| {
            let (line, column) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((0, 0));
            let mut message = e.to_string();
            // yaml_serde appends " at line L column C"; the prefix says it already.
            if let Some(i) = message.find(" at line ") {
                message.truncate(i);
            }
            if let Some(s) = hints::suggest(&message) {
                message = format!("{message}; {s}");
            }
            ConfigError {
                file: file.into(),
                line,
                column,
                message,
            }
        })?;
        cfg.path = PathBuf::from(file);
        cfg.store = expand_home(&cfg.store);
        cfg.dataset = expand_home(&cfg.dataset);
        if let Some(d) = &cfg.device_text {
            cfg.device = d.parse().map_err(|e: workers::device::DeviceError| {
                let (line, column) = position::locate(text, "device", d);
                ConfigError {
                    file: file.into(),
                    line,
                    column,
                    message: e.to_string(),
                }
            })?;
        }
        let err = |key: &str, value: &str, message: String| {
            let (line, column) = position::locate(text, key, value);
            ConfigError {
                file: file.into(),
                line,
                column,
                message,
            }
        };
        checks::basics(&cfg, text, file)?;
        let mut names = std::collections::HashSet::new();
        checks::models(&cfg, text, file, &mut names)?;
        checks::expand_layers(&mut cfg, text, file, &mut names)?;
        checks::ensembles(&cfg, text, file, &mut names)?;
        if let TaskSelection::Word(w) = &cfg.tasks {
            if w != "all" {
                return Err(err(
                    "tasks",
                    w,
                    format!("tasks: {w:?} — expected `all` or a list of task names"),
                ));
            }
            cfg.tasks = TaskSelection::All;
        }
        if let Err(e) = cfg
            .probe
            .check()
            .and_then(|_| cfg.probe.check_fields_apply())
        {
            return Err(err(e.leaf(), &e.value, e.to_string()));
        }
        checks::slurm(&cfg, text, file)?;
        checks::processes(&cfg, text, file)?;
        checks::flux(&cfg, text, file)?;
        Ok(cfg)
    }

    /// The selected task names, checked against the dataset's tasks.
    pub fn check_tasks(&self, available: &[String]) -> Result<Vec<String>, ConfigError> {
        match &self.tasks {
            TaskSelection::All | TaskSelection::Word(_) => Ok(available.to_vec()),
            TaskSelection::List(v) => {
                for t in v {
                    if !available.contains(t) {
                        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
                        let (line, column) = text
                            .lines()
                            .enumerate()
                            .find_map(|(i, l)| l.find(t.as_str()).map(|p| (i + 1, p + 1)))
                            .unwrap_or((0, 0));
                        let hint = hints::did_you_mean(t, available.iter().map(String::as_str))
                            .unwrap_or_else(|| {
                                format!("the dataset's tasks are: {}", available.join(", "))
                            });
                        return Err(ConfigError {
                            file: self.path.display().to_string(),
                            line,
                            column,
                            message: format!(
                                "task `{t}` is not in the dataset {}; {hint}",
                                self.dataset.display()
                            ),
                        });
                    }
                }
                Ok(v.clone())
            }
        }
    }

    /// Opens every model's folder or file before any work (config parses,
    /// weights and tokenizer present, architecture supported natively); the
    /// error is at the model's `weights:`/`path:` in the config and names the
    /// folder.
    pub fn preflight_models(&self) -> Result<(), ConfigError> {
        let base = self.base_dir();
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        for m in &self.models {
            if let Err(message) = m.preflight(&base) {
                let (key, value) = match (&m.weights, &m.path) {
                    (Some(w), _) => ("weights", w.display().to_string()),
                    (None, Some(p)) => ("path", p.display().to_string()),
                    _ => ("name", m.name.clone()),
                };
                let (line, column) = position::locate(&text, key, &value);
                return Err(ConfigError {
                    file: self.path.display().to_string(),
                    line,
                    column,
                    message: format!("model {}: {message}", m.name),
                });
            }
            if let Err(e) = m.check_folder(&base) {
                // At the field when the entry has it, else at the model's name.
                let (line, column) = e
                    .key()
                    .and_then(|k| position::locate_in_entry(&text, m.entry_name(), k))
                    .unwrap_or_else(|| position::locate(&text, "name", m.entry_name()));
                return Err(ConfigError {
                    file: self.path.display().to_string(),
                    line,
                    column,
                    message: format!("model {}: {e}", m.name),
                });
            }
        }
        Ok(())
    }

    pub fn model(&self, name: &str) -> Option<&ModelSpec> {
        self.models.iter().find(|m| m.name == name)
    }

    /// The rows one embed job writes: every row of a `layers:` entry (one
    /// forward pass), or the model alone.
    pub fn pass_rows(&self, model: &str) -> Vec<&ModelSpec> {
        let Some(spec) = self.model(model) else {
            return Vec::new();
        };
        match &spec.layers_of {
            Some(entry) => self
                .models
                .iter()
                .filter(|m| m.layers_of.as_ref() == Some(entry))
                .collect(),
            None => vec![spec],
        }
    }

    /// Whether `model` has an embed job of its own: every model but the
    /// rows of a `layers:` entry after its first (they ride on the first's
    /// pass).
    pub fn has_embed_job(&self, model: &str) -> bool {
        self.pass_rows(model)
            .first()
            .is_some_and(|first| first.name == model)
    }

    /// Folder relative model paths resolve against (the working directory).
    pub fn base_dir(&self) -> PathBuf {
        std::env::current_dir().unwrap_or_default()
    }

    /// The paths of this sweep's store.
    pub fn layout(&self) -> crate::layout::StoreLayout {
        crate::layout::StoreLayout::new(&self.store)
    }
}

/// `~/x` as the shell would read it: under `$HOME` (a YAML value is not
/// expanded by any shell, and a folder literally named `~` is never meant).
fn expand_home(p: &Path) -> PathBuf {
    match (p.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => p.to_path_buf(),
    }
}

//! A model as a sweep config names it, and how it becomes an [`Embedder`].

use super::{EmbedError, Embedder, Modality};
use crate::models::ModelError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The widest embedding a config may declare (`dim:`).
pub const MAX_DIM: usize = 1 << 20;

pub use super::kinds::ModelKind;

/// One model entry of a sweep config. Which fields apply depends on `kind`
/// (docs/config.md); [`ModelSpec::check`] rejects fields of another kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub name: String,
    pub kind: ModelKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modality: Option<Modality>,
    // kmer
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<usize>,
    // codon
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rscu: bool,
    // esm
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pooling: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<i64>,
    /// Several layers from one forward pass, each its own row
    /// (`name@L12`): indices, `mid`, `last` or `all` (a list or one word).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<Layers>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stride: Option<usize>,
    // command
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dim: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    // precomputed
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids_dataset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emb_dataset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids_file: Option<PathBuf>,
    // hf
    /// The interpreter of the site's environment with torch + transformers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_remote_code: Option<bool>,
    /// `float32` (default), `bfloat16`, `float16`: the forward pass's precision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtype: Option<String>,
    /// Set on the rows a `layers:` entry expands into: the entry's name.
    #[serde(skip)]
    pub layers_of: Option<String>,
    /// Set by the embed stage on the entry it builds: the layers one pass
    /// returns (each in `layer:`'s terms), in column-block order.
    #[serde(skip)]
    pub pass: Vec<i64>,
}

/// One value of `layers:`: an index (0 = embeddings, negative from the
/// end) or a word (`mid`, `last`, `all`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LayerSel {
    Index(i64),
    Word(String),
}

/// `layers:` as written: one value or a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Layers {
    One(LayerSel),
    Many(Vec<LayerSel>),
}

impl Layers {
    fn values(&self) -> Vec<LayerSel> {
        match self {
            Layers::One(v) => vec![v.clone()],
            Layers::Many(v) => v.clone(),
        }
    }

    /// What can be checked without the model's depth: at least one value,
    /// every word one of `mid`, `last`, `all`.
    pub fn check(&self) -> Result<(), String> {
        let values = self.values();
        if values.is_empty() {
            return Err("layers: [] names no layer (e.g. layers: [mid, last])".into());
        }
        match values.iter().find_map(|v| match v {
            LayerSel::Word(w) if !["mid", "last", "all"].contains(&w.as_str()) => Some(w),
            _ => None,
        }) {
            Some(w) => Err(format!(
                "layers: {w:?}: expected layer numbers, mid, last or all \
                 (e.g. layers: [12, 24, last])"
            )),
            None => Ok(()),
        }
    }

    /// The block counts they name for a model of `n` layers (`None`: the
    /// model's depth is unknown), ascending, each once; `Err` says which
    /// value cannot work.
    pub fn resolve(&self, n: Option<i64>) -> Result<Vec<i64>, String> {
        let need_n = |what: &str| {
            n.ok_or_else(|| {
                format!(
                    "layers: {what} needs the model's depth, and its config.json could not be \
                     read (check `weights`)"
                )
            })
        };
        self.check()?;
        let mut out = Vec::new();
        for v in self.values() {
            match v {
                LayerSel::Index(k) if k >= 0 => {
                    if let Some(n) = n.filter(|n| k > *n) {
                        return Err(format!(
                            "layers: {k}: the model has {n} layers (0 = embeddings, {n} = last)"
                        ));
                    }
                    out.push(k);
                }
                LayerSel::Index(k) => {
                    let n = need_n(&k.to_string())?;
                    if n + k + 1 < 0 {
                        return Err(format!("layers: {k}: the model has {n} layers"));
                    }
                    out.push(n + k + 1);
                }
                LayerSel::Word(w) => match w.as_str() {
                    "last" => out.push(need_n("last")?),
                    "mid" => out.push(need_n("mid")? / 2),
                    _ => out.extend(1..=need_n("all")?),
                },
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }
}

/// The config entry a model row comes from: `esm2` for `esm2@L12` (a row
/// of a `layers:` entry), the name itself otherwise.
pub fn entry_name(model: &str) -> &str {
    match model.rsplit_once("@L") {
        Some((base, k)) if !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => model,
    }
}

/// What is wrong with a model entry, with the field it concerns (so the
/// config reader can point at it).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    /// A field the kind does not take.
    #[error("`{key}` does not apply to a {kind} model (its fields: {fields})")]
    NotApplicable {
        key: String,
        kind: String,
        fields: String,
    },
    /// A field the kind needs is absent.
    #[error("a {kind} model needs `{key}`")]
    Missing { kind: String, key: String },
    /// The value of `key` cannot work; `message` says why, with the value.
    #[error("{message}")]
    Value { key: String, message: String },
}

impl SpecError {
    pub fn value(key: &str, message: impl Into<String>) -> Self {
        SpecError::Value {
            key: key.into(),
            message: message.into(),
        }
    }

    /// The field the error is about; `None` for one that is absent.
    pub fn key(&self) -> Option<&str> {
        match self {
            SpecError::NotApplicable { key, .. } | SpecError::Value { key, .. } => Some(key),
            SpecError::Missing { .. } => None,
        }
    }
}

/// Names of models, ensembles and sweeps become file names and shell
/// words: letters, digits and `- _ + .`, not starting with a dot.
pub fn check_name(what: &str, name: &str) -> Result<(), SpecError> {
    if name.is_empty()
        || name.starts_with('.')
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_+.".contains(c))
    {
        return Err(SpecError::value(
            "name",
            format!(
                "{what} name {name:?}: use letters, digits and - _ + . only, not starting with a dot (it names files)"
            ),
        ));
    }
    if name.len() > MAX_NAME {
        return Err(SpecError::value(
            "name",
            format!(
                "{what} name {}…: is {} characters; at most {MAX_NAME} (it names files, with suffixes, \
                 under a file system's 255-byte limit)",
                &name[..20],
                name.len()
            ),
        ));
    }
    Ok(())
}

/// The longest model, ensemble or sweep name: its files (`<name>.h5`, shard
/// and log names, temp names with host and pid) stay under 255 bytes.
pub const MAX_NAME: usize = 100;

/// The placeholders a `command` may use.
pub const PLACEHOLDERS: [&str; 7] = [
    "fasta",
    "dna_fasta",
    "protein_fasta",
    "out",
    "device",
    "batch_size",
    "model",
];

/// Refuses `{word}` placeholders the command contract does not define (they
/// would reach the shell literally). `{{` and `}}` and shell forms such as
/// `${VAR}` or `{a,b}` are left alone.
pub fn check_placeholders(cmd: &str) -> Result<(), SpecError> {
    let b = cmd.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'{'
            && (i == 0 || b[i - 1] != b'$')
            && let Some(len) = cmd[i + 1..].find('}')
        {
            let word = &cmd[i + 1..i + 1 + len];
            let looks_like_placeholder =
                !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if looks_like_placeholder && !PLACEHOLDERS.contains(&word) {
                let hint = PLACEHOLDERS
                    .iter()
                    .map(|k| (strsim::levenshtein(word, k), *k))
                    .filter(|(d, _)| *d <= 2)
                    .min_by_key(|(d, _)| *d)
                    .map(|(_, k)| format!("did you mean {{{k}}}? "))
                    .unwrap_or_default();
                return Err(SpecError::value(
                    "command",
                    format!(
                        "command: unknown placeholder {{{word}}}; {hint}the placeholders are {}",
                        PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(" ")
                    ),
                ));
            }
            i += len + 1;
        }
        i += 1;
    }
    Ok(())
}

/// A model folder's `config.json`, parsed.
/// A model's layer count, under each native family's `config.json` key.
pub fn model_depth(config: &serde_json::Value) -> Option<i64> {
    ["num_hidden_layers", "num_layers", "n_layers", "depth"]
        .iter()
        .find_map(|k| config.get(*k).and_then(|v| v.as_i64()))
}

pub fn read_model_config(dir: &Path) -> Result<serde_json::Value, ModelError> {
    let p = dir.join("config.json");
    let text = std::fs::read_to_string(&p).map_err(|source| ModelError::Read {
        path: p.clone(),
        source,
        hint: format!(" (is {} a Hugging Face model folder?)", dir.display()),
    })?;
    serde_json::from_str(&text).map_err(|e| ModelError::file(&p, e))
}

/// Run-time context for building embedders.
#[derive(Debug, Clone, Default)]
pub struct BuildContext {
    /// Folder relative paths (weights, files) are resolved against: the config's folder.
    pub base_dir: PathBuf,
    /// Log file for external commands.
    pub log: Option<PathBuf>,
    /// Scratch folder for exchange files.
    pub workdir: Option<PathBuf>,
    /// The sweep's `device:` (`cpu`, `cuda`, `cuda:N`, `auto`; empty: `cpu`):
    /// native models resolve it per process, commands get it as `{device}`.
    pub device: String,
}

impl ModelSpec {
    fn fields_set(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        let mut f = |name: &'static str, set: bool| {
            if set {
                v.push(name)
            }
        };
        f("k", self.k.is_some());
        f("rscu", self.rscu);
        f("weights", self.weights.is_some());
        f("pooling", self.pooling.is_some());
        f("layer", self.layer.is_some());
        f("layers", self.layers.is_some());
        f("max_tokens", self.max_tokens.is_some());
        f("window", self.window.is_some());
        f("stride", self.stride.is_some());
        f("command", self.command.is_some());
        f("dim", self.dim.is_some());
        f("timeout_s", self.timeout_s.is_some());
        f("batch_size", self.batch_size.is_some());
        f("path", self.path.is_some());
        f("ids_dataset", self.ids_dataset.is_some());
        f("emb_dataset", self.emb_dataset.is_some());
        f("ids_file", self.ids_file.is_some());
        f("python", self.python.is_some());
        f("trust_remote_code", self.trust_remote_code.is_some());
        f("dtype", self.dtype.is_some());
        v
    }

    /// The config entry this row comes from (`esm2` for `esm2@L12`).
    pub fn entry_name(&self) -> &str {
        self.layers_of.as_deref().unwrap_or(&self.name)
    }

    /// The modality, with the kind's default.
    pub fn modality(&self) -> Modality {
        self.modality
            .unwrap_or_else(|| self.kind.spec().default_modality())
    }

    /// Checks required and allowed fields for the kind, and their values.
    /// `Err` names the field and says why, with a hint.
    pub fn check(&self) -> Result<(), SpecError> {
        check_name("model", entry_name(&self.name))?;
        let kind_spec = self.kind.spec();
        let (allowed, required) = (kind_spec.fields(), kind_spec.required());
        let set = self.fields_set();
        let kind = self.kind.as_str();
        if let Some(bad) = set.iter().find(|f| !allowed.contains(f)) {
            return Err(SpecError::NotApplicable {
                key: bad.to_string(),
                kind,
                fields: allowed.join(", "),
            });
        }
        if let Some(missing) = required.iter().find(|f| !set.contains(f)) {
            return Err(SpecError::Missing {
                kind,
                key: missing.to_string(),
            });
        }
        kind_spec.check_modality(self)?;
        if let Some(p) = &self.pooling {
            let allowed = kind_spec.poolings();
            if !allowed.contains(&p.as_str()) {
                return Err(SpecError::value(
                    "pooling",
                    format!("pooling {p:?}: expected {}", allowed.join(" or ")),
                ));
            }
        }
        if let Some(d) = &self.dtype
            && !["float32", "bfloat16", "float16"].contains(&d.as_str())
        {
            return Err(SpecError::value(
                "dtype",
                format!("dtype {d:?}: expected float32, bfloat16 or float16"),
            ));
        }
        if let Some(p) = &self.python
            && p.trim().is_empty()
        {
            return Err(SpecError::value(
                "python",
                "python: give the interpreter, e.g. /p/envs/hf/bin/python",
            ));
        }
        self.check_values()
    }

    /// Sizes and limits that must be positive (caught here, at config load,
    /// not in the middle of a run).
    fn check_values(&self) -> Result<(), SpecError> {
        if let Some(l) = &self.layers {
            if self.layer.is_some() {
                return Err(SpecError::value(
                    "layers",
                    "layers and layer both set: give `layers: [...]` alone (it lists every \
                     layer to embed)",
                ));
            }
            // What needs no folder is checked here; the layers against the
            // model's depth when the folder is read.
            l.check().map_err(|e| SpecError::value("layers", e))?;
        }
        if self.k == Some(0) {
            return Err(SpecError::value(
                "k",
                "k = 0: must be >= 1 (the k-mer length; e.g. k: 3)",
            ));
        }
        if let Some(t) = self.max_tokens
            && t < 2
        {
            return Err(SpecError::value(
                "max_tokens",
                format!(
                    "max_tokens = {t}: must be >= 2 (the token budget of a batch; e.g. max_tokens: 1024)"
                ),
            ));
        }
        for (key, v) in [("window", self.window), ("stride", self.stride)] {
            if v == Some(0) {
                return Err(SpecError::value(
                    key,
                    format!(
                        "{key} = 0: must be >= 1 (tokens; leave it out for the model's own maximum)"
                    ),
                ));
            }
        }
        if let (Some(w), Some(s)) = (self.window, self.stride)
            && s > w
        {
            return Err(SpecError::value(
                "stride",
                format!(
                    "stride = {s} > window = {w}: windows would skip residues; use stride <= window"
                ),
            ));
        }
        if self.timeout_s == Some(0) {
            return Err(SpecError::value(
                "timeout_s",
                "timeout_s = 0: must be >= 1 (seconds a batch may take)",
            ));
        }
        if self.batch_size == Some(0) {
            return Err(SpecError::value(
                "batch_size",
                "batch_size = 0: must be >= 1 (sequences per command call)",
            ));
        }
        if self.dim == Some(0) {
            return Err(SpecError::value(
                "dim",
                "dim = 0: must be >= 1 (or leave it out to take the output's)",
            ));
        }
        if let Some(d) = self.dim.filter(|d| *d > MAX_DIM) {
            return Err(SpecError::value(
                "dim",
                format!(
                    "dim = {d}: more than {MAX_DIM} features per gene; no model is that wide \
                     (is it the number of genes or of tokens?)"
                ),
            ));
        }
        self.kind.spec().check(self)
    }

    /// The model folder `weights:` names (a path, or a hub id found in the cache).
    pub fn weights_dir(&self, base: &Path) -> Result<PathBuf, ModelError> {
        crate::models::hub::resolve(self.weights.as_deref().unwrap_or(Path::new("")), base)
    }

    /// Opens what the model needs before any work is done: the folder (or
    /// hub snapshot), its config, weights and tokenizer for `esm`; the folder
    /// and config for `hf`; the file for `precomputed`. `Err` names the path.
    pub fn preflight(&self, base: &Path) -> Result<(), ModelError> {
        self.kind.spec().preflight(self, base)
    }

    /// After [`ModelSpec::preflight`]: the entry's fields against the folder
    /// (layer, modality, pooling); `Err` names the field.
    pub fn check_folder(&self, base: &Path) -> Result<(), SpecError> {
        self.kind.spec().check_folder(self, base)
    }

    /// Hash of everything that determines this model's embeddings (its fields
    /// except the name, plus the content hash of a precomputed file).
    pub fn config_hash(&self, dataset_hash: &str, base_dir: &Path) -> String {
        let mut v = self.clone();
        v.name = String::new();
        let mut h = Sha256::new();
        h.update(b"genoprot-embed-v1\0");
        h.update(dataset_hash.as_bytes());
        h.update(serde_json::to_vec(&v).expect("spec serializes"));
        h.update(self.weights_hash(base_dir).as_bytes());
        hex::encode(h.finalize())
    }

    /// Content hash of the model's weights or input file ("" for baselines).
    pub fn weights_hash(&self, base_dir: &Path) -> String {
        self.kind.spec().weights_hash(self, base_dir)
    }

    /// The burn device native models run on: the sweep's `device:` resolved
    /// for this process (its local rank's GPU with `cuda`).
    pub fn device(&self, ctx: &BuildContext) -> Result<burn::tensor::Device, EmbedError> {
        let err = |e: crate::device::DeviceError| EmbedError::Config {
            model: self.name.clone(),
            msg: e.to_string(),
        };
        let spec: crate::device::DeviceSpec = if ctx.device.is_empty() {
            Default::default()
        } else {
            ctx.device.parse().map_err(err)?
        };
        Ok(crate::device::resolve(spec).map_err(err)?.1)
    }

    /// The rows a `layers:` entry stands for, one per layer (`name@L<k>`,
    /// `layer: k`), the layers resolved against the folder's depth; an
    /// entry without `layers:` is itself. `Err` names the field.
    pub fn expand_layers(&self, base: &Path) -> Result<Vec<ModelSpec>, SpecError> {
        let Some(l) = &self.layers else {
            return Ok(vec![self.clone()]);
        };
        let depth = self
            .weights_dir(base)
            .ok()
            .and_then(|d| read_model_config(&d).ok())
            .and_then(|c| model_depth(&c));
        let ks = l
            .resolve(depth)
            .map_err(|e| SpecError::value("layers", e))?;
        Ok(ks
            .into_iter()
            .map(|k| ModelSpec {
                name: format!("{}@L{k}", self.name),
                layer: Some(k),
                layers: None,
                layers_of: Some(self.name.clone()),
                ..self.clone()
            })
            .collect())
    }

    /// Builds the embedder.
    pub fn build(&self, ctx: &BuildContext) -> Result<Box<dyn Embedder>, EmbedError> {
        self.check().map_err(|e| EmbedError::Config {
            model: self.name.clone(),
            msg: e.to_string(),
        })?;
        self.kind.spec().build(self, ctx)
    }
}

/// `p` against `base` unless absolute.
pub fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// Content hash of a model folder (`weights:`, a path or hub id): its
/// config, vocabulary and weight files.
pub fn folder_hash(spec: &ModelSpec, base_dir: &Path) -> String {
    let raw = spec.weights.as_deref().unwrap_or(Path::new(""));
    let dir = crate::models::hub::resolve(raw, base_dir).unwrap_or_else(|_| resolve(base_dir, raw));
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.extension().is_some_and(|x| {
                        ["safetensors", "bin", "pth", "json", "txt", "model", "py"]
                            .iter()
                            .any(|e| x == *e)
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut h = Sha256::new();
    for p in names {
        if let Ok(d) = crate::file_hash::sha256_cached(&p) {
            h.update(
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .as_bytes(),
            );
            h.update(d.as_bytes());
        }
    }
    hex::encode(h.finalize())
}

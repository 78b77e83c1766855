//! `kind: hf`: any Hugging Face transformers model, embedded by the adapter
//! shipped in this crate (`workers/python/genoprot_hf.py`, compiled into the
//! binary) and run by the site's Python under the `command` contract: the
//! adapter is written to `store/tmp/`, called with the model folder (a hub id
//! is resolved offline first), the FASTA and output paths, and the model's
//! settings; genoprot checks its output like any command's.

use super::Embedder;
use super::command::{CommandEmbedder, shell_quote};
use super::kinds::KindSpec;
use super::spec::read_model_config;
use super::spec::{BuildContext, ModelSpec};
use super::{EmbedError, Modality};
use crate::models::ModelError;
use std::path::Path;
use std::time::Duration;

/// The adapter's source.
pub const ADAPTER: &str = include_str!("../../python/genoprot_hf.py");

/// The command line that runs the adapter (before the contract's
/// placeholders are filled in).
pub fn command_line(spec: &ModelSpec, python: &str, adapter: &Path, weights: &Path) -> String {
    let mut c = format!(
        "{} {} --weights {} --in {{fasta}} --out {{out}} --device {{device}} --modality {} --pooling {} --layer {} --dtype {} --max-tokens {}",
        shell_quote(python),
        shell_quote(&adapter.display().to_string()),
        shell_quote(&weights.display().to_string()),
        spec.modality.unwrap_or(Modality::Protein).as_str(),
        spec.pooling.as_deref().unwrap_or("mean"),
        spec.layer.unwrap_or(-1),
        spec.dtype.as_deref().unwrap_or("float32"),
        spec.max_tokens.unwrap_or(4096),
    );
    if let Some(w) = spec.window {
        c.push_str(&format!(" --window {w}"));
    }
    if spec.trust_remote_code == Some(true) {
        c.push_str(" --trust-remote-code");
    }
    c
}

/// Builds the embedder: resolves the weights, writes the adapter where the
/// exchange files go, and wraps it in a [`CommandEmbedder`].
pub fn hf_embedder(spec: &ModelSpec, ctx: &BuildContext) -> Result<CommandEmbedder, EmbedError> {
    let weights = spec
        .weights_dir(&ctx.base_dir)
        .map_err(|source| EmbedError::Load {
            model: spec.name.clone(),
            cause: source,
        })?;
    let work = ctx
        .workdir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("genoprot"));
    let work = std::path::absolute(&work).unwrap_or(work);
    let adapter = work.join("genoprot_hf.py");
    crate::atomic::write_atomic(&adapter, ADAPTER.as_bytes()).map_err(|e| EmbedError::Io {
        model: spec.name.clone(),
        cause: std::io::Error::new(e.kind(), format!("{}: {e}", adapter.display())),
    })?;
    let python = spec.python.clone().unwrap_or_else(|| "python3".into());
    Ok(CommandEmbedder {
        name: spec.name.clone(),
        modality: spec.modality.unwrap_or(Modality::Protein),
        template: command_line(spec, &python, &adapter, &weights),
        dim: spec.dim.unwrap_or(0),
        device: if ctx.device.is_empty() {
            "cpu".into()
        } else {
            ctx.device.clone()
        },
        batch_size: 0,
        timeout: Duration::from_secs(spec.timeout_s.unwrap_or(24 * 3600)),
        log: ctx.log.clone(),
        workdir: ctx.workdir.clone(),
    })
}

/// `kind: hf`: any transformers model through the adapter.
pub struct Hf;

impl KindSpec for Hf {
    fn fields(&self) -> &'static [&'static str] {
        &[
            "weights",
            "python",
            "trust_remote_code",
            "pooling",
            "layer",
            "dtype",
            "max_tokens",
            "window",
            "dim",
            "timeout_s",
        ]
    }

    fn required(&self) -> &'static [&'static str] {
        &["weights"]
    }

    fn poolings(&self) -> &'static [&'static str] {
        &["mean", "cls", "last"]
    }

    fn preflight(&self, spec: &ModelSpec, base: &Path) -> Result<(), ModelError> {
        let dir = spec.weights_dir(base)?;
        read_model_config(&dir).map(|_| ())
    }

    fn weights_hash(&self, spec: &ModelSpec, base: &Path) -> String {
        super::spec::folder_hash(spec, base)
    }

    fn build(&self, spec: &ModelSpec, ctx: &BuildContext) -> Result<Box<dyn Embedder>, EmbedError> {
        Ok(Box::new(hf_embedder(spec, ctx)?))
    }
}

//! The embedding stage: one model (or one shard of it) into
//! `store/embeddings/<model>.h5`, idempotently.

use crate::config::SweepConfig;
use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::time::Instant;
use workers::dataset::Dataset;
use workers::embed::spec::BuildContext;
use workers::embed::{SeqInput, embed_all};
use workers::store::{EmbeddingMeta, Embeddings, merge_shards, read_meta, shard_path};

/// What the stage did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmbedOutcome {
    /// A valid store with the same config hash was there already.
    UpToDate(PathBuf),
    Written {
        path: PathBuf,
        genes: usize,
        seconds_x100: u64,
    },
}

/// Shard `i` of `n` (1 of 1 = the whole model).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?}: expected i/n, e.g. 0/4"))?;
        let (index, count): (usize, usize) = (
            i.parse()
                .map_err(|_| format!("{s:?}: shard index is not a number"))?,
            n.parse()
                .map_err(|_| format!("{s:?}: shard count is not a number"))?,
        );
        if count == 0 || index >= count {
            return Err(format!("{s:?}: need 0 <= i < n"));
        }
        Ok(Shard { index, count })
    }
}

pub fn store_path(cfg: &SweepConfig, model: &str) -> PathBuf {
    cfg.embeddings_dir().join(format!("{model}.h5"))
}

/// Is the model's store complete and current for this dataset and config?
pub fn is_current(cfg: &SweepConfig, ds: &Dataset, model: &str) -> bool {
    let Some(spec) = cfg.model(model) else {
        return false;
    };
    let hash = spec.config_hash(&ds.manifest.dataset_hash, &cfg.base_dir());
    match read_meta(&store_path(cfg, model)) {
        Ok((meta, ids, _)) => {
            meta.config_hash == hash
                && ids.len() == ds.genes.len()
                && ids.iter().zip(&ds.genes).all(|(a, g)| *a == g.id)
        }
        Err(_) => false,
    }
}

/// Embeds one model (or one shard) of the sweep.
pub fn run_embed(
    cfg: &SweepConfig,
    ds: &Dataset,
    model: &str,
    shard: Option<Shard>,
    show_progress: bool,
) -> anyhow::Result<EmbedOutcome> {
    let spec = cfg.model(model).with_context(|| {
        let names: Vec<&str> = cfg.models.iter().map(|m| m.name.as_str()).collect();
        format!(
            "{}: no model named {model:?} (models: {})",
            cfg.path.display(),
            names.join(", ")
        )
    })?;
    let base = cfg.base_dir();
    let hash = spec.config_hash(&ds.manifest.dataset_hash, &base);
    let shard = shard.unwrap_or(Shard { index: 0, count: 1 });
    let whole = store_path(cfg, model);
    let dest = if shard.count == 1 {
        whole.clone()
    } else {
        shard_path(&whole, shard.index, shard.count)
    };

    let lens: Vec<usize> = ds.genes.iter().map(|g| g.cds.len()).collect();
    let rows: Vec<usize> = if shard.count == 1 {
        (0..ds.genes.len()).collect()
    } else {
        workers::batching::shard_by_tokens(&lens, shard.count).swap_remove(shard.index)
    };
    let ids: Vec<String> = rows.iter().map(|r| ds.genes[*r].id.clone()).collect();

    if let Ok((meta, have, _)) = read_meta(&dest)
        && meta.config_hash == hash
        && have == ids
    {
        tracing::info!(model, store = %dest.display(), "embeddings up to date; skipping");
        return Ok(EmbedOutcome::UpToDate(dest));
    }
    if shard.count > 1 && is_current(cfg, ds, model) {
        return Ok(EmbedOutcome::UpToDate(whole));
    }
    workers::atomic::remove_stale(&dest);
    let log = cfg.logs_dir().join(format!(
        "embed-{model}{}.log",
        if shard.count > 1 {
            format!(".shard-{}-of-{}", shard.index, shard.count)
        } else {
            String::new()
        }
    ));
    let ctx = BuildContext {
        base_dir: base,
        log: Some(log),
        workdir: Some(cfg.store.join("tmp")),
        device: cfg.device.clone(),
    };
    let embedder = spec.build(&ctx)?;
    let inputs: Vec<SeqInput<'_>> = rows
        .iter()
        .map(|r| {
            let g = &ds.genes[*r];
            SeqInput {
                id: &g.id,
                dna: &g.cds,
                protein: &g.protein,
            }
        })
        .collect();
    if inputs.is_empty() {
        bail!(
            "model {model}: shard {}/{} has no genes (fewer genes than shards)",
            shard.index,
            shard.count
        );
    }
    let pb = if show_progress {
        ProgressBar::new(inputs.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    pb.set_style(
        ProgressStyle::with_template(
            "{prefix:>12} [{bar:30}] {pos}/{len} genes {per_sec} eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    pb.set_prefix(model.to_string());
    let t0 = Instant::now();
    let mut last_log = Instant::now();
    let emb = embed_all(embedder.as_ref(), &inputs, &mut |done| {
        pb.set_position(done as u64);
        if last_log.elapsed().as_secs() >= 10 {
            tracing::info!(model, done, total = inputs.len(), "embedding");
            last_log = Instant::now();
        }
    })?;
    pb.finish_and_clear();
    let store = Embeddings {
        ids,
        emb,
        meta: EmbeddingMeta {
            model: model.into(),
            modality: embedder.modality().as_str().into(),
            pooling: embedder.pooling().into(),
            weights_hash: match embedder.weights_hash() {
                h if h.is_empty() => spec.weights_hash(&cfg.base_dir()),
                h => h,
            },
            config_hash: hash,
            ..Default::default()
        },
    };
    store
        .write(&dest)
        .with_context(|| format!("writing {}", dest.display()))?;
    let secs = t0.elapsed().as_secs_f64();
    tracing::info!(model, genes = inputs.len(), dim = store.emb.ncols(), seconds = format!("{secs:.2}"), store = %dest.display(), "embeddings written");
    Ok(EmbedOutcome::Written {
        path: dest,
        genes: inputs.len(),
        seconds_x100: (secs * 100.0) as u64,
    })
}

/// Merges the `n` shard stores of a model into its store and removes the shards.
pub fn merge(cfg: &SweepConfig, ds: &Dataset, model: &str, n: usize) -> anyhow::Result<PathBuf> {
    let whole = store_path(cfg, model);
    if is_current(cfg, ds, model) {
        return Ok(whole);
    }
    let shards: Vec<PathBuf> = (0..n).map(|i| shard_path(&whole, i, n)).collect();
    for s in &shards {
        if !s.exists() {
            bail!(
                "model {model}: shard {} is missing (hint: rerun `genoprot worker embed --shard i/{n}` for it)",
                s.display()
            );
        }
    }
    let expected: Vec<String> = ds.genes.iter().map(|g| g.id.clone()).collect();
    merge_shards(&shards, &expected, &whole)?;
    for s in &shards {
        let _ = std::fs::remove_file(s);
    }
    Ok(whole)
}

//! The embedding stage: one model (or one shard of it) into
//! `store/embeddings/<model>.h5`, idempotently.

use crate::config::SweepConfig;
use anyhow::{Context, bail};
use std::path::PathBuf;
use std::time::Instant;
use workers::dataset::Dataset;
use workers::embed::spec::{BuildContext, ModelSpec};
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

/// A `--shard` value that is not `i/n` with `0 <= i < n`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{value:?}: {reason}")]
pub struct BadShard {
    pub value: String,
    pub reason: &'static str,
}

impl std::str::FromStr for Shard {
    type Err = BadShard;
    fn from_str(s: &str) -> Result<Self, BadShard> {
        let bad = |reason| BadShard {
            value: s.into(),
            reason,
        };
        let (i, n) = s.split_once('/').ok_or(bad("expected i/n, e.g. 0/4"))?;
        let (index, count): (usize, usize) = (
            i.parse().map_err(|_| bad("shard index is not a number"))?,
            n.parse().map_err(|_| bad("shard count is not a number"))?,
        );
        if count == 0 || index >= count {
            return Err(bad("need 0 <= i < n"));
        }
        Ok(Shard { index, count })
    }
}

pub fn store_path(cfg: &SweepConfig, model: &str) -> PathBuf {
    cfg.layout().embedding(model)
}

/// Is `spec`'s store complete and current for this dataset and config?
fn store_is_current(cfg: &SweepConfig, ds: &Dataset, spec: &ModelSpec) -> bool {
    let hash = spec.config_hash(&ds.manifest.dataset_hash, &cfg.base_dir());
    match read_meta(&store_path(cfg, &spec.name)) {
        Ok((meta, ids, _)) => {
            meta.config_hash == hash
                && ids.len() == ds.genes.len()
                && ids.iter().zip(&ds.genes).all(|(a, g)| *a == g.id)
        }
        Err(_) => false,
    }
}

/// Is the model's store (with a `layers:` entry's rows, every row's store)
/// complete and current for this dataset and config?
pub fn is_current(cfg: &SweepConfig, ds: &Dataset, model: &str) -> bool {
    let rows = cfg.pass_rows(model);
    !rows.is_empty() && rows.iter().all(|s| store_is_current(cfg, ds, s))
}

/// Writes the stores of one pass: `emb`'s column blocks, in `rows`' order,
/// each into its row's store at `dest_of(row)`.
fn write_rows(
    cfg: &SweepConfig,
    ds: &Dataset,
    rows: &[&ModelSpec],
    ids: Vec<String>,
    emb: ndarray::Array2<f32>,
    embedder: &dyn workers::embed::Embedder,
    dest_of: &dyn Fn(&ModelSpec) -> PathBuf,
) -> anyhow::Result<Vec<PathBuf>> {
    let base = cfg.base_dir();
    let d = emb.ncols() / rows.len().max(1);
    anyhow::ensure!(
        d * rows.len() == emb.ncols(),
        "{} columns do not split into {} layers",
        emb.ncols(),
        rows.len()
    );
    let mut written = Vec::new();
    for (j, spec) in rows.iter().enumerate() {
        let dest = dest_of(spec);
        let store = Embeddings {
            ids: ids.clone(),
            emb: emb.slice(ndarray::s![.., j * d..(j + 1) * d]).to_owned(),
            meta: EmbeddingMeta {
                model: spec.name.clone(),
                modality: embedder.modality().as_str().into(),
                pooling: embedder.pooling().into(),
                parts: embedder.parts(),
                weights_hash: match embedder.weights_hash() {
                    h if h.is_empty() => spec.weights_hash(&base),
                    h => h,
                },
                config_hash: spec.config_hash(&ds.manifest.dataset_hash, &base),
                ..Default::default()
            },
        };
        store
            .write(&dest)
            .with_context(|| format!("writing {}", dest.display()))?;
        written.push(dest);
    }
    Ok(written)
}

/// The entry that embeds `rows` in one pass: the first row's, asked for
/// every row's layer when there are several.
fn pass_spec(rows: &[&ModelSpec]) -> ModelSpec {
    let mut spec = rows[0].clone();
    if rows.len() > 1 || rows[0].layers_of.is_some() {
        spec.pass = rows.iter().map(|r| r.layer.unwrap_or(-1)).collect();
    }
    spec
}

/// Embeds one model (or one shard) of the sweep.
/// Kills `command` programs that a genoprot killed earlier (SIGKILL, lost
/// node) left running on this host for this store.
pub fn reap_orphans(cfg: &SweepConfig) {
    let n = workers::child::reap_orphans(&cfg.layout().tmp_dir());
    if n > 0 {
        tracing::warn!("killed {n} process(es) left running by an earlier genoprot of this store");
    }
}

/// The model entry named `model`, or an error listing the config's models
/// (the MPI and the single-process paths alike).
fn model_spec<'a>(
    cfg: &'a SweepConfig,
    model: &str,
) -> anyhow::Result<&'a workers::embed::spec::ModelSpec> {
    cfg.model(model).with_context(|| {
        let names: Vec<&str> = cfg.models.iter().map(|m| m.name.as_str()).collect();
        format!(
            "{}: no model named {model:?} (models: {})",
            cfg.path.display(),
            names.join(", ")
        )
    })
}

/// What building an embedder needs: the config's folder, its log, the
/// store's scratch folder, the device.
fn build_context(cfg: &SweepConfig, log: PathBuf) -> BuildContext {
    BuildContext {
        base_dir: cfg.base_dir(),
        log: Some(log),
        workdir: Some(cfg.layout().tmp_dir()),
        device: cfg.device.to_string(),
    }
}

/// The genes of `rows` as an embedder's input.
fn inputs_of<'a>(ds: &'a Dataset, rows: &[usize]) -> Vec<SeqInput<'a>> {
    rows.iter().map(|r| SeqInput::of(&ds.genes[*r])).collect()
}

pub fn run_embed(
    cfg: &SweepConfig,
    ds: &Dataset,
    model: &str,
    shard: Option<Shard>,
    show_progress: bool,
) -> anyhow::Result<EmbedOutcome> {
    model_spec(cfg, model)?;
    let base = cfg.base_dir();
    let shard = shard.unwrap_or(Shard { index: 0, count: 1 });
    let dest_of = |s: &ModelSpec| {
        let whole = store_path(cfg, &s.name);
        if shard.count == 1 {
            whole
        } else {
            shard_path(&whole, shard.index, shard.count)
        }
    };
    let dest = dest_of(cfg.model(model).expect("checked"));

    let lens: Vec<usize> = ds.genes.iter().map(|g| g.cds.len()).collect();
    let rows: Vec<usize> = if shard.count == 1 {
        (0..ds.genes.len()).collect()
    } else {
        workers::batching::shard_by_tokens(&lens, shard.count).swap_remove(shard.index)
    };
    let ids: Vec<String> = rows.iter().map(|r| ds.genes[*r].id.clone()).collect();

    // The rows of this job (a `layers:` entry's, from one pass) still to write.
    let pending: Vec<&ModelSpec> = cfg.pass_rows(model)
        .into_iter()
        .filter(|s| {
            let hash = s.config_hash(&ds.manifest.dataset_hash, &base);
            !matches!(read_meta(&dest_of(s)), Ok((meta, have, _)) if meta.config_hash == hash && have == ids)
        })
        .collect();
    if pending.is_empty() {
        tracing::info!(model, store = %dest.display(), "embeddings up to date; skipping");
        return Ok(EmbedOutcome::UpToDate(dest));
    }
    if shard.count > 1 && is_current(cfg, ds, model) {
        return Ok(EmbedOutcome::UpToDate(store_path(cfg, model)));
    }
    for s in &pending {
        workers::atomic::remove_stale(&dest_of(s));
    }
    reap_orphans(cfg);
    let log = cfg.layout().logs_dir().join(format!(
        "embed-{model}{}.log",
        if shard.count > 1 {
            format!(".shard-{}-of-{}", shard.index, shard.count)
        } else {
            String::new()
        }
    ));
    let embedder = pass_spec(&pending).build(&build_context(cfg, log))?;
    let inputs = inputs_of(ds, &rows);
    if inputs.is_empty() {
        bail!(
            "model {model}: shard {}/{} has no genes (fewer genes than shards)",
            shard.index,
            shard.count
        );
    }
    let n = inputs.len() as u64;
    let pb = crate::progress::bar(
        n,
        "{prefix:>12} [{bar:30}] {pos}/{len} genes {per_sec} ({msg}) eta {eta}",
        model,
        show_progress,
    );
    // Off a terminal: a progress line in genes every GENOPROT_PROGRESS_EVERY seconds.
    let ticker = crate::progress::ticker(&pb, &format!("embed {model}"), "genes", show_progress);
    let t0 = Instant::now();
    let emb = embed_all(embedder.as_ref(), &inputs, &mut |p| {
        pb.set_position(p.sequences as u64);
        let secs = t0.elapsed().as_secs_f64().max(1e-9);
        // Tokens where the model tokenizes itself, else letters.
        let (n, what) = match p.tokens {
            Some(t) => (t, "tokens"),
            None => (p.letters, "letters"),
        };
        pb.set_message(format!("{n} {what}, {:.0} {what}/s", n as f64 / secs));
    })?;
    drop(ticker);
    pb.finish_and_clear();
    let dim = emb.ncols() / pending.len();
    let written = write_rows(cfg, ds, &pending, ids, emb, embedder.as_ref(), &dest_of)?;
    let secs = t0.elapsed().as_secs_f64();
    let layers: Vec<&str> = pending.iter().map(|s| s.name.as_str()).collect();
    tracing::info!(model, genes = inputs.len(), dim, rows = ?layers, seconds = format!("{secs:.2}"), store = %written[0].display(), "embeddings written");
    Ok(EmbedOutcome::Written {
        path: written[0].clone(),
        genes: inputs.len(),
        seconds_x100: (secs * 100.0) as u64,
    })
}

/// Merges the `n` shard stores of a model into its store and removes the shards.
/// (With a `layers:` entry, each of its rows' stores.)
pub fn merge(cfg: &SweepConfig, ds: &Dataset, model: &str, n: usize) -> anyhow::Result<PathBuf> {
    for spec in cfg.pass_rows(model) {
        if store_is_current(cfg, ds, spec) {
            continue;
        }
        let whole = store_path(cfg, &spec.name);
        let shards: Vec<PathBuf> = (0..n).map(|i| shard_path(&whole, i, n)).collect();
        for s in &shards {
            if !s.exists() {
                bail!(
                    "model {}: shard {} is missing (hint: rerun `genoprot worker embed --shard i/{n}` for it)",
                    spec.name,
                    s.display()
                );
            }
        }
        let expected: Vec<String> = ds.genes.iter().map(|g| g.id.clone()).collect();
        merge_shards(&shards, &expected, &whole)?;
        for s in &shards {
            let _ = workers::seal::remove(s);
        }
    }
    Ok(store_path(cfg, model))
}

/// Is this process one rank of an MPI launch (mpirun / srun --mpi=pmix)?
pub fn launched_under_mpi() -> bool {
    [
        "OMPI_COMM_WORLD_SIZE",
        "PMI_SIZE",
        "PMIX_RANK",
        "MPI_LOCALNRANKS",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some())
}

/// Embeds one model across the ranks of `world`: every rank derives the same
/// token-balanced partition, embeds its part, and rank 0 gathers the rows
/// (variable-count gather) and writes the one store. Gathering to rank 0 was
/// chosen over per-rank shard files + merge: one write, no shard files on the
/// shared file system, and the matrix of a model fits in rank 0's memory
/// (20,000 genes × 4,096 features = 328 MB); shards + merge remain for
/// separate jobs (`--shard i/n`).
#[cfg(feature = "mpi")]
pub fn run_embed_mpi<C: mpi::traits::Communicator>(
    cfg: &SweepConfig,
    ds: &Dataset,
    model: &str,
    world: &C,
) -> anyhow::Result<EmbedOutcome> {
    use mpi::traits::*;
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    model_spec(cfg, model)?;
    let dest = store_path(cfg, model);
    if is_current(cfg, ds, model) {
        return Ok(EmbedOutcome::UpToDate(dest));
    }
    // Every rank reads the same stores: the same rows are pending everywhere.
    let pending: Vec<&ModelSpec> = cfg
        .pass_rows(model)
        .into_iter()
        .filter(|s| !store_is_current(cfg, ds, s))
        .collect();
    reap_orphans(cfg);
    let lens: Vec<usize> = ds.genes.iter().map(|g| g.cds.len()).collect();
    let parts = workers::batching::shard_by_tokens(&lens, size);
    let mine = &parts[rank];
    let ctx = build_context(
        cfg,
        cfg.layout()
            .logs_dir()
            .join(format!("embed-{model}.rank-{rank}.log")),
    );
    let t0 = Instant::now();
    // A rank that fails still takes part in the gather (with no rows), so the
    // others do not hang; the failure is reported by every rank.
    let embedder = pass_spec(&pending).build(&ctx);
    let result = embedder.as_ref().map_err(|e| e.to_string()).and_then(|e| {
        let inputs = inputs_of(ds, mine);
        embed_all(e.as_ref(), &inputs, &mut |_| {}).map_err(|e| e.to_string())
    });
    let (flat, dim, ok) = match &result {
        Ok(m) => (
            m.iter().copied().collect::<Vec<f32>>(),
            m.ncols() as u64,
            1u64,
        ),
        Err(_) => (Vec::new(), 0, 0),
    };
    // Everyone learns whether every rank succeeded, and the dimension.
    let mut all_ok = 0u64;
    world.all_reduce_into(&ok, &mut all_ok, mpi::collective::SystemOperation::min());
    let mut max_dim = 0u64;
    world.all_reduce_into(&dim, &mut max_dim, mpi::collective::SystemOperation::max());
    let gathered = workers::distributed::gather_varcount_to_root(world, &flat);
    if all_ok == 0 {
        let msg = match &result {
            Err(e) => format!("rank {rank}: {e}"),
            Ok(_) => "another rank failed (see its message)".to_string(),
        };
        anyhow::bail!("model {model}: MPI embedding failed on {msg}");
    }
    let Some(per_rank) = gathered else {
        return Ok(EmbedOutcome::Written {
            path: dest,
            genes: mine.len(),
            seconds_x100: (t0.elapsed().as_secs_f64() * 100.0) as u64,
        });
    };
    let d = max_dim as usize;
    let mut emb = ndarray::Array2::<f32>::zeros((ds.genes.len(), d));
    for (r, rows) in parts.iter().enumerate() {
        let v = &per_rank[r];
        anyhow::ensure!(
            v.len() == rows.len() * d,
            "rank {r} sent {} values for {} genes × {d}",
            v.len(),
            rows.len()
        );
        for (k, row) in rows.iter().enumerate() {
            emb.row_mut(*row)
                .assign(&ndarray::ArrayView1::from(&v[k * d..(k + 1) * d]));
        }
    }
    let e = embedder.map_err(|e| anyhow::anyhow!("{e}"))?;
    let ids: Vec<String> = ds.genes.iter().map(|g| g.id.clone()).collect();
    write_rows(cfg, ds, &pending, ids, emb, e.as_ref(), &|s| {
        store_path(cfg, &s.name)
    })?;
    let balance: Vec<usize> = parts
        .iter()
        .map(|p| p.iter().map(|r| lens[*r]).sum())
        .collect();
    tracing::info!(model, ranks = size, tokens_per_rank = ?balance, seconds = t0.elapsed().as_secs_f64(), "embeddings written (MPI)");
    Ok(EmbedOutcome::Written {
        path: dest,
        genes: ds.genes.len(),
        seconds_x100: (t0.elapsed().as_secs_f64() * 100.0) as u64,
    })
}

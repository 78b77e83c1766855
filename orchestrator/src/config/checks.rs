//! The checks of a parsed config that serde cannot make: names, lists that
//! must not be empty, split fractions, model entries, ensembles and their
//! members, and `executor.slurm`'s keys and resources at every level. Each
//! error is placed at the value it concerns (`position.rs`).

use super::hints::did_you_mean;
use super::position::{err_at, locate, locate_in_entry, locate_key};
use super::{
    BatchSettings, ConfigError, ExecutorKind, Fusion, SlurmConfig, SweepConfig, TaskSelection,
};
use std::collections::HashSet;

/// A key under `executor.slurm` that it does not take. Its resource keys
/// are flattened in (one `slurm::Resources` for every level), and serde
/// reports an unknown key of a flattened struct without a position or the
/// keys it expected: this check runs first and gives both.
pub(super) fn unknown_slurm_key(
    v: &yaml_serde::Value,
    text: &str,
    file: &str,
) -> Option<ConfigError> {
    let slurm = v.get("executor")?.get("slurm")?.as_mapping()?;
    let keys = SlurmConfig::keys();
    let bad = slurm
        .keys()
        .filter_map(|k| k.as_str())
        .find(|k| !keys.iter().any(|known| known == k))?;
    let (line, column) = locate_key(text, bad).unwrap_or((1, 1));
    let hint = did_you_mean(bad, keys.iter().map(String::as_str))
        .unwrap_or_else(|| format!("it takes {}", keys.join(", ")));
    Some(ConfigError {
        file: file.into(),
        line,
        column,
        message: format!("executor.slurm: unknown field `{bad}`; {hint}"),
    })
}

/// Split fractions: each in (0, 1), summing to 1.
fn check_fractions(f: [f64; 3]) -> Result<(), workers::invalid::InvalidField> {
    let bad = |reason: String| {
        workers::invalid::InvalidField::new("splits.fractions", format!("{f:?}"), reason)
    };
    if let Some((i, v)) = f
        .iter()
        .enumerate()
        .find(|(_, v)| !(**v > 0.0 && **v < 1.0))
    {
        return Err(bad(format!(
            "the {} share {v} must be between 0 and 1 (exclusive); e.g. [0.7, 0.15, 0.15]",
            ["train", "valid", "test"][i]
        )));
    }
    let sum: f64 = f.iter().sum();
    if (sum - 1.0).abs() > 1e-6 {
        return Err(bad(format!(
            "must sum to 1 (they sum to {sum:.6}); e.g. [0.7, 0.15, 0.15]"
        )));
    }
    Ok(())
}

/// The sweep's name, its lists, its split fractions.
pub(super) fn basics(cfg: &SweepConfig, text: &str, file: &str) -> Result<(), ConfigError> {
    let err = |key: &str, value: &str, message: String| err_at(text, file, key, value, message);
    if let Err(msg) = workers::embed::spec::check_name("sweep", &cfg.name) {
        return Err(err("name", &cfg.name, msg.to_string()));
    }
    if let TaskSelection::List(v) = &cfg.tasks
        && v.is_empty()
    {
        return Err(err(
            "tasks",
            "[]",
            "tasks: [] selects nothing; write `tasks: all` or list task names".into(),
        ));
    }
    let margin = cfg.report.margin;
    if !(margin > 0.0 && margin < 1.0) {
        return Err(err(
            "margin",
            &margin.to_string(),
            format!(
                "report.margin {margin} must be between 0 and 1 (exclusive): the equivalence margin δ, \
                 in units of the primary metric (AUROC, Spearman); e.g. 0.01"
            ),
        ));
    }
    if let Err(msg) = check_fractions(cfg.splits.fractions) {
        let (line, column) = locate_key(text, "fractions").unwrap_or((1, 1));
        return Err(ConfigError {
            file: file.into(),
            line,
            column,
            message: msg.to_string(),
        });
    }
    if cfg.models.is_empty() {
        return Err(err(
            "models",
            "",
            "no models: list at least one under `models:`".into(),
        ));
    }
    if cfg.seeds.is_empty() {
        return Err(err(
            "seeds",
            "[]",
            "no seeds: give at least one, e.g. `seeds: [0, 1, 2]`".into(),
        ));
    }
    let at_key = |key: &str, message: String| key_error(text, file, key, message);
    if let Some(s) = first_repeat(&cfg.seeds) {
        return Err(at_key(
            "seeds",
            format!(
                "seeds: {s} is listed twice; each seed is one replicate (every row would be computed and counted twice)"
            ),
        ));
    }
    if let TaskSelection::List(v) = &cfg.tasks
        && let Some(t) = first_repeat(v)
    {
        return Err(at_key(
            "tasks",
            format!("tasks: `{t}` is listed twice; list each task once"),
        ));
    }
    if cfg.store.as_os_str().is_empty() {
        return Err(at_key(
            "store",
            "store: '' names no folder; give the store's folder, e.g. `store: runs/my-sweep` (genoprot writes everything under it)".into(),
        ));
    }
    if cfg.dataset.as_os_str().is_empty() {
        return Err(at_key(
            "dataset",
            "dataset: '' names no folder; give the dataset folder, e.g. `dataset: data/demo`"
                .into(),
        ));
    }
    Ok(())
}

/// The bundling and retry settings of a batch executor (`at`:
/// `executor.slurm`, `executor.processes`): the same rules for every one.
fn batch_settings(at: &str, b: &BatchSettings, text: &str, file: &str) -> Result<(), ConfigError> {
    let err = |key: &str, value: &str, message: String| err_at(text, file, key, value, message);
    if let Some(f) = b.time_factor
        && !(f >= 1.0 && f.is_finite())
    {
        return Err(err(
            "time_factor",
            "",
            format!(
                "{at}.time_factor = {f}: must be at least 1 (2 doubles a timed-out unit's time)"
            ),
        ));
    }
    if let Some(m) = b.bundle_minutes
        && !(m > 0.0 && m.is_finite())
    {
        return Err(err(
            "bundle_minutes",
            "",
            format!("{at}.bundle_minutes = {m}: must be a positive number of minutes"),
        ));
    }
    Ok(())
}

/// `executor.processes`: its settings by the rules of every batch executor.
pub(super) fn processes(cfg: &SweepConfig, text: &str, file: &str) -> Result<(), ConfigError> {
    batch_settings("executor.processes", &cfg.executor.processes, text, file)
}

/// A scheduler section's `models:` keys (`at`: `executor.slurm`, ...): each
/// names a model of the sweep.
fn model_keys<'a>(
    cfg: &SweepConfig,
    at: &str,
    keys: impl Iterator<Item = &'a String>,
    text: &str,
    file: &str,
) -> Result<(), ConfigError> {
    for name in keys {
        if !cfg
            .models
            .iter()
            .any(|m| &m.name == name || m.entry_name() == name)
        {
            return Err(err_at(
                text,
                file,
                name,
                "",
                format!(
                    "{at}.models.{name}: no model `{name}` in `models:` (its keys name models whose embed jobs need other resources)"
                ),
            ));
        }
    }
    Ok(())
}

/// `executor.flux`: model keys, time limits at every level, retry settings.
pub(super) fn flux(cfg: &SweepConfig, text: &str, file: &str) -> Result<(), ConfigError> {
    let err = |key: &str, value: &str, message: String| err_at(text, file, key, value, message);
    let fx = &cfg.executor.flux;
    model_keys(cfg, "executor.flux", fx.models.keys(), text, file)?;
    let levels = [
        ("executor.flux", &fx.resources),
        ("executor.flux.stages.embed", &fx.stages.embed),
        ("executor.flux.stages.probe", &fx.stages.probe),
        ("executor.flux.stages.fusion", &fx.stages.fusion),
        ("executor.flux.stages.aggregate", &fx.stages.aggregate),
    ]
    .into_iter()
    .map(|(a, r)| (a.to_string(), r))
    .chain(
        fx.models
            .iter()
            .map(|(m, r)| (format!("executor.flux.models.{m}"), r)),
    );
    for (at, r) in levels {
        if let Some(t) = &r.time
            && slurm::parse_time(t).is_none()
        {
            return Err(err(
                "time",
                t,
                format!(
                    "{at}.time = {t:?}: not a time limit; write [D-]HH:MM:SS or minutes, e.g. \"1:00:00\""
                ),
            ));
        }
        for (k, v) in [
            ("nodes", r.nodes),
            ("tasks", r.tasks),
            ("cores_per_task", r.cores_per_task),
        ] {
            if v == Some(0) {
                return Err(err(k, "0", format!("{at}.{k} = 0: must be at least 1")));
            }
        }
    }
    batch_settings("executor.flux", &fx.batch(), text, file)
}

/// An error at the line of `key:`.
fn key_error(text: &str, file: &str, key: &str, message: String) -> ConfigError {
    let (line, column) = locate_key(text, key).unwrap_or((1, 1));
    ConfigError {
        file: file.into(),
        line,
        column,
        message,
    }
}

/// The first value a list holds twice.
fn first_repeat<T: PartialEq>(v: &[T]) -> Option<&T> {
    v.iter()
        .enumerate()
        .find_map(|(i, x)| v[..i].contains(x).then_some(x))
}

/// Every model entry (at the field it concerns), and names used once.
pub(super) fn models(
    cfg: &SweepConfig,
    text: &str,
    file: &str,
    names: &mut HashSet<String>,
) -> Result<(), ConfigError> {
    let err = |key: &str, value: &str, message: String| err_at(text, file, key, value, message);
    for m in &cfg.models {
        if let Err(e) = m.check() {
            // At the field when the entry has it, else at the model's name.
            let (line, column) = e
                .key()
                .and_then(|k| locate_in_entry(text, &m.name, k))
                .unwrap_or_else(|| locate(text, "name", &m.name));
            return Err(ConfigError {
                file: file.into(),
                line,
                column,
                message: format!("model {}: {e}", m.name),
            });
        }
        if !names.insert(m.name.clone()) {
            return Err(err(
                "name",
                &m.name,
                format!("model name {} is used twice", m.name),
            ));
        }
    }
    Ok(())
}

/// Each `layers:` entry becomes its rows (`name@L<k>`, one per layer; the
/// folder's depth resolves `mid`, `last`, `all` and negative indices),
/// in place; `Err` at the entry's `layers`.
pub(super) fn expand_layers(
    cfg: &mut SweepConfig,
    text: &str,
    file: &str,
    names: &mut HashSet<String>,
) -> Result<(), ConfigError> {
    if cfg.models.iter().all(|m| m.layers.is_none()) {
        return Ok(());
    }
    let base = cfg.base_dir();
    let mut out = Vec::with_capacity(cfg.models.len());
    for m in &cfg.models {
        let rows = m.expand_layers(&base).map_err(|e| {
            let (line, column) = locate_in_entry(text, &m.name, "layers")
                .unwrap_or_else(|| locate(text, "name", &m.name));
            ConfigError {
                file: file.into(),
                line,
                column,
                message: format!("model {}: {e}", m.name),
            }
        })?;
        if m.layers.is_some() {
            names.remove(&m.name);
            for r in &rows {
                if !names.insert(r.name.clone()) {
                    return Err(err_at(
                        text,
                        file,
                        "name",
                        &m.name,
                        format!("model name {} (a row of `layers:`) is used twice", r.name),
                    ));
                }
            }
        }
        out.extend(rows);
    }
    cfg.models = out;
    Ok(())
}

/// Ensembles: names, members (models, each once), fusions, `pca`.
pub(super) fn ensembles(
    cfg: &SweepConfig,
    text: &str,
    file: &str,
    names: &mut HashSet<String>,
) -> Result<(), ConfigError> {
    let err = |key: &str, value: &str, message: String| err_at(text, file, key, value, message);
    for e in &cfg.ensembles {
        if let Err(msg) = workers::embed::spec::check_name("ensemble", &e.name) {
            return Err(err("name", &e.name, msg.to_string()));
        }
        if let Some(dup) = e
            .members
            .iter()
            .enumerate()
            .find_map(|(i, m)| e.members[..i].contains(m).then_some(m))
        {
            return Err(err(
                "name",
                &e.name,
                format!(
                    "ensemble {}: member `{dup}` is listed twice; an ensemble combines different models",
                    e.name
                ),
            ));
        }
        if !names.insert(e.name.clone()) {
            return Err(err(
                "name",
                &e.name,
                format!("ensemble name {} is already a model or ensemble", e.name),
            ));
        }
        if e.fusion.is_empty() || e.fusion.contains(&Fusion::None) {
            return Err(err(
                "name",
                &e.name,
                format!(
                    "ensemble {}: fusion must list one or more of concat, concat-balanced, mean-prob, weighted-prob, stacking, caruana",
                    e.name
                ),
            ));
        }
        if let Some(f) = first_repeat(&e.fusion) {
            return Err(err(
                "name",
                &e.name,
                format!(
                    "ensemble {}: fusion `{}` is listed twice; list each fusion once",
                    e.name,
                    f.as_str()
                ),
            ));
        }
        if e.members.len() < 2 {
            return Err(err(
                "name",
                &e.name,
                format!("ensemble {} needs at least two members", e.name),
            ));
        }
        if let Some(k) = e.pca {
            if k == 0 {
                return Err(err(
                    "name",
                    &e.name,
                    format!(
                        "ensemble {}: pca: 0 keeps nothing (give k >= 1 components per member)",
                        e.name
                    ),
                ));
            }
            if !e.fusion.contains(&Fusion::ConcatBalanced) {
                return Err(err(
                    "name",
                    &e.name,
                    format!(
                        "ensemble {}: pca applies to concat-balanced, which its fusion does not list \
                         (add concat-balanced, or remove pca)",
                        e.name
                    ),
                ));
            }
        }
        for m in &e.members {
            if !cfg.models.iter().any(|x| &x.name == m) {
                let known: Vec<&str> = cfg.models.iter().map(|x| x.name.as_str()).collect();
                let hint = did_you_mean(m, known.iter().copied())
                    .unwrap_or_else(|| format!("models are: {}", known.join(", ")));
                let (line, column) = text
                    .lines()
                    .enumerate()
                    .find_map(|(i, l)| {
                        let at = l.find("members")?;
                        l[at..].find(m.as_str()).map(|p| (i + 1, at + p + 1))
                    })
                    .unwrap_or_else(|| locate(text, "name", &e.name));
                return Err(ConfigError {
                    file: file.into(),
                    line,
                    column,
                    message: format!("ensemble {}: member `{m}` is not a model; {hint}", e.name),
                });
            }
        }
    }
    Ok(())
}

/// `executor.slurm`: model keys, resources at every level, retry settings.
pub(super) fn slurm(cfg: &SweepConfig, text: &str, file: &str) -> Result<(), ConfigError> {
    let err = |key: &str, value: &str, message: String| err_at(text, file, key, value, message);
    let sl = &cfg.executor.slurm;
    model_keys(cfg, "executor.slurm", sl.models.keys(), text, file)?;
    let levels = std::iter::once(("executor.slurm".to_string(), &sl.resources))
        .chain([
            ("executor.slurm.stages.embed".to_string(), &sl.stages.embed),
            ("executor.slurm.stages.probe".to_string(), &sl.stages.probe),
            (
                "executor.slurm.stages.fusion".to_string(),
                &sl.stages.fusion,
            ),
            (
                "executor.slurm.stages.aggregate".to_string(),
                &sl.stages.aggregate,
            ),
        ])
        .chain(
            sl.models
                .iter()
                .map(|(m, r)| (format!("executor.slurm.models.{m}"), r)),
        );
    for (at, r) in levels {
        let opts = slurm::JobOptions {
            account: sl.account.clone(),
            resources: r.clone(),
            ..Default::default()
        };
        if let Err(e) = opts.validate() {
            let (key, value) = match &e {
                slurm::SlurmError::Options { key, value, .. } => (key.as_str(), value.as_str()),
                _ => ("slurm", ""),
            };
            return Err(err(key, value, format!("{at}: {e}")));
        }
    }
    batch_settings("executor.slurm", &sl.batch(), text, file)?;
    if cfg.executor.kind == ExecutorKind::Slurm
        && let Some(l) = &cfg.executor.slurm.launcher
        && !["srun", "mpirun"].contains(&l.as_str())
    {
        return Err(err(
            "launcher",
            l,
            format!("launcher {l:?}: expected srun or mpirun"),
        ));
    }
    Ok(())
}

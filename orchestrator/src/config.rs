//! The YAML sweep config (reference: docs/config.md). Unknown keys, wrong
//! types and dangling references are rejected with file:line:column and a
//! suggestion.
//!
//! Length: about 610 lines of code; the rest (214 lines) are the
//! unit tests of this module, kept beside the code they check.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use workers::dataset::splits::SplitConfig;
use workers::embed::spec::ModelSpec;
pub use workers::probe::ProbeParams as ProbeConfig;
pub use workers::probe::fusion::Fusion;

#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// `tasks: all` or a list of task names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(untagged)]
pub enum TaskSelection {
    #[default]
    #[serde(skip)]
    All,
    Word(String),
    List(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnsembleSpec {
    pub name: String,
    pub members: Vec<String>,
    #[serde(default = "default_fusion")]
    pub fusion: Vec<Fusion>,
    /// concat-balanced: each member reduced to this many principal
    /// components, fitted on the training split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pca: Option<usize>,
}

fn default_fusion() -> Vec<Fusion> {
    vec![Fusion::Concat, Fusion::MeanProb]
}

/// `report:` — when a task is too small to rank models on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportConfig {
    /// Fewer test examples than this (in any seed): "too small to rank".
    pub min_test: usize,
    /// Fewer test positives of the rarest label than this: "too small to rank".
    pub min_positives: usize,
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            min_test: 30,
            min_positives: 10,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ExecutorKind {
    #[default]
    Local,
    Slurm,
    /// Array tasks as local processes (tests of the batch path).
    Processes,
}

/// `executor.slurm` (docs/cluster-guide.md): the account, the resources of
/// every job (`partition`, `time`, `gpus_per_node`, ... at this level),
/// per-stage and per-model overrides of them, and how work is bundled and
/// retried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SlurmConfig {
    pub account: Option<String>,
    /// The resources of every stage's jobs (the aggregate job leaves out
    /// GPUs and tasks per node unless `stages.aggregate` asks for them).
    #[serde(flatten)]
    pub resources: slurm::Resources,
    /// Overrides per stage: `stages: {embed: {partition: pgpu, gpus_per_node: 4}}`.
    pub stages: StageResources,
    /// Overrides of the embed stage per model:
    /// `models: {esm2_15b: {gpus_per_node: 4, time: "12:00:00"}}`; one embed
    /// array per distinct resource shape.
    pub models: std::collections::BTreeMap<String, slurm::Resources>,
    pub max_array_size: Option<u32>,
    pub throttle: Option<u32>,
    /// Probe cells per array task: a number, or `auto` (sized to
    /// `bundle_minutes` from the measured time of earlier cells).
    pub cells_per_task: CellsPerTask,
    /// `cells_per_task: auto`: the target length of one bundle, in minutes
    /// (default 30).
    pub bundle_minutes: Option<f64>,
    /// Times a unit is resubmitted after it failed, timed out or went
    /// missing (default 2), by the job that runs after the arrays.
    pub retries: Option<u32>,
    /// A unit that hit its time limit is resubmitted in bundles half the
    /// size with `time × time_factor` (default 2), capped by the
    /// partition's MaxTime.
    pub time_factor: Option<f64>,
    pub launcher: Option<String>,
}

/// `executor.slurm.stages`: resource overrides per stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct StageResources {
    pub embed: slurm::Resources,
    pub probe: slurm::Resources,
    pub fusion: slurm::Resources,
    pub aggregate: slurm::Resources,
}

/// `cells_per_task`: a fixed count or `auto`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CellsPerTask {
    Count(usize),
    Auto,
}

impl Default for CellsPerTask {
    fn default() -> Self {
        CellsPerTask::Count(20)
    }
}

impl Serialize for CellsPerTask {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            CellsPerTask::Count(n) => s.serialize_u64(*n as u64),
            CellsPerTask::Auto => s.serialize_str("auto"),
        }
    }
}

impl<'de> Deserialize<'de> for CellsPerTask {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = CellsPerTask;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number of cells (at least 1) or `auto`")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<CellsPerTask, E> {
                if v == 0 {
                    return Err(E::custom("cells_per_task must be at least 1 (or `auto`)"));
                }
                Ok(CellsPerTask::Count(v as usize))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<CellsPerTask, E> {
                match u64::try_from(v) {
                    Ok(u) => self.visit_u64(u),
                    Err(_) => Err(E::custom("cells_per_task must be at least 1 (or `auto`)")),
                }
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<CellsPerTask, E> {
                if v == "auto" {
                    Ok(CellsPerTask::Auto)
                } else {
                    Err(E::invalid_value(serde::de::Unexpected::Str(v), &self))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// How a batch executor bundles, limits and retries work, whatever the
/// scheduler (read from its config section: `executor.slurm`, ...).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchSettings {
    pub max_array_size: Option<u32>,
    pub throttle: Option<u32>,
    pub cells_per_task: CellsPerTask,
    pub bundle_minutes: Option<f64>,
    pub retries: Option<u32>,
    pub time_factor: Option<f64>,
}

impl BatchSettings {
    /// Times a unit is resubmitted (default 2).
    pub fn retries(&self) -> u32 {
        self.retries.unwrap_or(2)
    }

    /// A timed-out unit's next time is its last × this (default 2).
    pub fn time_factor(&self) -> f64 {
        self.time_factor.unwrap_or(2.0)
    }
}

impl SlurmConfig {
    /// The settings planning reads, whatever the scheduler.
    pub fn batch(&self) -> BatchSettings {
        BatchSettings {
            max_array_size: self.max_array_size,
            throttle: self.throttle,
            cells_per_task: self.cells_per_task,
            bundle_minutes: self.bundle_minutes,
            retries: self.retries,
            time_factor: self.time_factor,
        }
    }

    /// Every key `executor.slurm` takes (for "did you mean" hints).
    fn keys() -> Vec<String> {
        let mut keys: Vec<String> = match yaml_serde::to_value(SlurmConfig::default()) {
            Ok(yaml_serde::Value::Mapping(m)) => m
                .keys()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        keys.push("extra".into());
        keys
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ExecutorConfig {
    pub kind: ExecutorKind,
    /// Local executor: cells at a time (0 = one per core), sharing all cores.
    pub workers: usize,
    pub slurm: SlurmConfig,
    /// `kind: processes`: bundling and retries (the keys of
    /// `executor.slurm` that are not resources).
    pub processes: BatchSettings,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepConfig {
    pub name: String,
    /// Dataset folder (relative paths: to the directory genoprot runs in).
    pub dataset: PathBuf,
    /// Store folder: embeddings/, cells/, journal/, slurm/, logs/, results.h5, report/.
    pub store: PathBuf,
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    #[serde(default)]
    pub tasks: TaskSelection,
    pub models: Vec<ModelSpec>,
    #[serde(default)]
    pub ensembles: Vec<EnsembleSpec>,
    #[serde(default)]
    pub splits: SplitConfig,
    #[serde(default)]
    pub probe: ProbeConfig,
    #[serde(default)]
    pub executor: ExecutorConfig,
    /// `cpu` (default), `cuda`, `cuda:N`, `auto`: the YAML's `device` as
    /// written, parsed into [`SweepConfig::device`] once the file is read
    /// (a bad value is then reported at its key).
    #[serde(rename = "device", default, skip_serializing_if = "Option::is_none")]
    device_text: Option<String>,
    #[serde(skip)]
    pub device: workers::device::DeviceSpec,
    #[serde(default)]
    pub report: ReportConfig,
    /// The file this config was read from (not a YAML key).
    #[serde(skip)]
    pub path: PathBuf,
}

fn default_seeds() -> Vec<u64> {
    vec![0, 1, 2]
}

/// "did you mean `c`?" for the candidate closest to `bad`, if close.
fn closest<'a>(bad: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(bad, c), c))
        .filter(|(s, _)| *s > 0.75)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

/// A key under `executor.slurm` that it does not take. Its resource keys
/// are flattened in (one `slurm::Resources` for every level), and serde
/// reports an unknown key of a flattened struct without a position or the
/// keys it expected: this check runs first and gives both.
fn unknown_slurm_key(text: &str, file: &str) -> Option<ConfigError> {
    let v: yaml_serde::Value = yaml_serde::from_str(text).ok()?;
    let slurm = v.get("executor")?.get("slurm")?.as_mapping()?;
    let keys = SlurmConfig::keys();
    let bad = slurm
        .keys()
        .filter_map(|k| k.as_str())
        .find(|k| !keys.iter().any(|known| known == k))?;
    let (line, column) = locate_key(text, bad).unwrap_or((1, 1));
    let hint = closest(bad, keys.iter().map(String::as_str))
        .unwrap_or_else(|| format!("it takes {}", keys.join(", ")));
    Some(ConfigError {
        file: file.into(),
        line,
        column,
        message: format!("executor.slurm: unknown field `{bad}`; {hint}"),
    })
}

/// Top-level and nested keys, for "did you mean" hints.
fn suggest(message: &str) -> Option<String> {
    // serde: "unknown field `lenght`, expected one of `a`, `b`" / "unknown variant `x`, expected `a` or `b`"
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    let bad = &message[start..end];
    let rest = &message[end..];
    let candidates: Vec<&str> = rest.split('`').skip(2).step_by(2).collect();
    closest(bad, candidates)
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

/// 1-based line and column of the first `key:` in `text`.
fn locate_key(text: &str, key: &str) -> Option<(usize, usize)> {
    let pat = format!("{key}:");
    text.lines()
        .enumerate()
        .find_map(|(i, l)| l.find(&pat).map(|c| (i + 1, c + 1)))
}

/// Problems the YAML parser reports poorly: tab indentation and merge keys.
/// A key written twice in one block mapping: (line, column) of the second,
/// the key, and the line of the first. Flow mappings (`{a: 1, a: 2}`) are
/// left to the YAML parser, which reports them at the mapping.
fn duplicate_key(text: &str) -> Option<(usize, usize, String, usize)> {
    // Open mappings, outermost first: (column of their keys, key -> line).
    let mut open: Vec<(usize, std::collections::HashMap<String, usize>)> = Vec::new();
    // Inside a block scalar (`|`, `>`): lines indented deeper than this.
    let mut scalar_at: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start_matches(' ');
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut col = line.len() - trimmed.len();
        if let Some(at) = scalar_at {
            if col > at {
                continue;
            }
            scalar_at = None;
        }
        if trimmed.starts_with("---") || trimmed.starts_with("...") {
            open.clear();
            continue;
        }
        let mut rest = trimmed;
        while let Some(r) = rest
            .strip_prefix('-')
            .filter(|r| r.is_empty() || r.starts_with(' '))
        {
            // A sequence item starts a new mapping at its content's column.
            let inner = r.trim_start_matches(' ');
            col += rest.len() - inner.len();
            rest = inner;
            open.retain(|(c, _)| *c < col);
        }
        let Some((key, value)) = rest.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if key.is_empty()
            || key.starts_with(['{', '[', '"', '\'', '&', '*', '!', '|', '>'])
            || !(value.is_empty() || rest[key.len() + 1..].starts_with(' '))
        {
            continue;
        }
        open.retain(|(c, _)| *c <= col);
        match open.last_mut() {
            Some((c, keys)) if *c == col => {
                if let Some(first) = keys.get(key) {
                    return Some((i + 1, col + 1, key.to_string(), *first));
                }
                keys.insert(key.to_string(), i + 1);
            }
            _ => open.push((
                col,
                std::collections::HashMap::from([(key.to_string(), i + 1)]),
            )),
        }
        let v = value.split(" #").next().unwrap_or("").trim();
        if v.starts_with('|') || v.starts_with('>') {
            scalar_at = Some(col);
        }
    }
    None
}

fn lex_problem(text: &str, file: &str) -> Option<ConfigError> {
    if let Some((line, column, key, first)) = duplicate_key(text) {
        return Some(ConfigError {
            file: file.into(),
            line,
            column,
            message: format!(
                "duplicate field `{key}` (first on line {first}); a key may appear once in its mapping"
            ),
        });
    }
    for (i, line) in text.lines().enumerate() {
        let indent: String = line
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect();
        if let Some(col) = indent.find('\t') {
            return Some(ConfigError {
                file: file.into(),
                line: i + 1,
                column: col + 1,
                message: "a tab in the indentation; YAML indents with spaces only (replace the tab with spaces)".into(),
            });
        }
        let t = line.trim_start();
        if t.starts_with("<<:")
            || t.starts_with("- <<:")
            || t.contains("{<<:")
            || t.contains(", <<:")
        {
            return Some(ConfigError {
                file: file.into(),
                line: i + 1,
                column: line.find("<<").unwrap_or(0) + 1,
                message: "YAML merge keys (`<<: *anchor`) are not supported; write the fields out"
                    .into(),
            });
        }
    }
    None
}

/// 1-based line and column of the first line of `text` that contains `needle`
/// as a whole value (used to place semantic errors).
/// Where `key:` is written in the list entry whose `name` is `name`: after
/// the name (same line for a flow mapping, below it for a block one) and
/// before the next entry's `name:`.
fn locate_in_entry(text: &str, name: &str, key: &str) -> Option<(usize, usize)> {
    let (line, column) = locate(text, "name", name);
    let lines: Vec<&str> = text.lines().collect();
    let first = lines.get(line - 1)?;
    // The entry's `name` on its line (line and column are 1-based).
    let mut from = column - 1;
    for (i, l) in lines.iter().enumerate().skip(line - 1) {
        let t = l
            .trim_start()
            .trim_start_matches("- ")
            .trim_start_matches('{');
        if i > line - 1 && (t.starts_with("name:") || !l.starts_with([' ', '-'])) {
            // The next entry, or the end of the list.
            return None;
        }
        let scan = if i == line - 1 { &first[from..] } else { l };
        let offset = if i == line - 1 { from } else { 0 };
        let mut at = 0;
        while let Some(p) = scan[at..].find(key) {
            let pos = at + p;
            let before = scan[..pos].chars().last();
            let after = scan[pos + key.len()..].trim_start_matches(' ');
            if before.is_none_or(|c| !c.is_alphanumeric() && c != '_') && after.starts_with(':') {
                return Some((i + 1, offset + pos + 1));
            }
            at = pos + key.len();
        }
        from = 0;
    }
    None
}

fn locate(text: &str, key: &str, value: &str) -> (usize, usize) {
    for (i, line) in text.lines().enumerate() {
        let mut from = 0;
        while let Some(p) = line[from..].find(key) {
            let at = from + p;
            let after = line[at + key.len()..].trim_start_matches([':', ' ']);
            let word: String = after
                .chars()
                .take_while(|c| !",}]#\n".contains(*c))
                .collect();
            if word.trim().trim_matches(['"', '\'']) == value {
                return (i + 1, at + 1);
            }
            from = at + key.len();
        }
    }
    for (i, line) in text.lines().enumerate() {
        if let Some(p) = line.find(value) {
            return (i + 1, p + 1);
        }
    }
    (1, 1)
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
        if let Some(e) = lex_problem(text, file).or_else(|| unknown_slurm_key(text, file)) {
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
            if let Some(s) = suggest(&message) {
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
        if let Some(d) = &cfg.device_text {
            cfg.device = d.parse().map_err(|e: workers::device::DeviceError| {
                let (line, column) = locate(text, "device", d);
                ConfigError {
                    file: file.into(),
                    line,
                    column,
                    message: e.to_string(),
                }
            })?;
        }
        let err = |key: &str, value: &str, message: String| {
            let (line, column) = locate(text, key, value);
            ConfigError {
                file: file.into(),
                line,
                column,
                message,
            }
        };
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
        let mut names = std::collections::HashSet::new();
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
                    let hint = known
                        .iter()
                        .map(|k| (strsim::jaro_winkler(m, k), *k))
                        .filter(|(s, _)| *s > 0.75)
                        .max_by(|a, b| a.0.total_cmp(&b.0))
                        .map(|(_, k)| format!("did you mean `{k}`?"))
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
                        message: format!(
                            "ensemble {}: member `{m}` is not a model; {hint}",
                            e.name
                        ),
                    });
                }
            }
        }
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
        let sl = &cfg.executor.slurm;
        for name in sl.models.keys() {
            if !cfg.models.iter().any(|m| &m.name == name) {
                return Err(err(
                    name,
                    "",
                    format!(
                        "executor.slurm.models.{name}: no model `{name}` in `models:` (its keys name models whose embed jobs need other resources)"
                    ),
                ));
            }
        }
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
        if let Some(f) = sl.time_factor
            && !(f >= 1.0 && f.is_finite())
        {
            return Err(err(
                "time_factor",
                "",
                format!(
                    "executor.slurm.time_factor = {f}: must be at least 1 (2 doubles a timed-out unit's time)"
                ),
            ));
        }
        if let Some(m) = sl.bundle_minutes
            && !(m > 0.0 && m.is_finite())
        {
            return Err(err(
                "bundle_minutes",
                "",
                format!(
                    "executor.slurm.bundle_minutes = {m}: must be a positive number of minutes"
                ),
            ));
        }
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
                        let hint = available
                            .iter()
                            .map(|k| (strsim::jaro_winkler(t, k), k))
                            .filter(|(s, _)| *s > 0.75)
                            .max_by(|a, b| a.0.total_cmp(&b.0))
                            .map(|(_, k)| format!("did you mean `{k}`?"))
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
                let (line, column) = locate(&text, key, &value);
                return Err(ConfigError {
                    file: self.path.display().to_string(),
                    line,
                    column,
                    message: format!("model {}: {message}", m.name),
                });
            }
        }
        Ok(())
    }

    pub fn model(&self, name: &str) -> Option<&ModelSpec> {
        self.models.iter().find(|m| m.name == name)
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

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = "name: t\ndataset: data/demo\nstore: runs/t\nmodels:\n  - {name: k3, kind: kmer, modality: dna, k: 3}\n  - {name: aac, kind: kmer, modality: protein, k: 1}\nensembles:\n  - {name: both, members: [k3, aac]}\n";

    fn err(text: &str) -> String {
        SweepConfig::parse(text, "c.yaml").unwrap_err().to_string()
    }

    #[test]
    fn parses_defaults() {
        let c = SweepConfig::parse(OK, "c.yaml").unwrap();
        assert_eq!(c.seeds, vec![0, 1, 2]);
        assert_eq!(c.tasks, TaskSelection::All);
        assert_eq!(
            c.ensembles[0].fusion,
            vec![Fusion::Concat, Fusion::MeanProb]
        );
        assert_eq!(c.executor.kind, ExecutorKind::Local);
        assert_eq!(c.probe.hidden, vec![256]);
        assert_eq!(c.check_tasks(&["a".into()]).unwrap(), vec!["a".to_string()]);
    }

    #[test]
    fn errors_carry_positions_and_suggestions() {
        assert_eq!(
            err(&OK.replace("store:", "stroe:")),
            "c.yaml:3:1: unknown field `stroe`, expected one of `name`, `dataset`, `store`, `seeds`, `tasks`, `models`, `ensembles`, `splits`, `probe`, `executor`, `device`, `report`; did you mean `store`?"
        );
        let e = err(&format!("{OK}probe: {{kind: mlp, hiden: [8]}}\n"));
        assert!(
            e.starts_with("c.yaml:9:") && e.contains("did you mean `hidden`?"),
            "{e}"
        );
        let e = err(&format!("{OK}device: cuda:x\n"));
        assert!(
            e.starts_with("c.yaml:9:") && e.contains("is not one of `cpu`, `cuda`, `cuda:N`"),
            "{e}"
        );
        let c = SweepConfig::parse(&format!("{OK}device: cuda:1\n"), "c.yaml").unwrap();
        assert_eq!(c.device, workers::device::DeviceSpec::Cuda(Some(1)));
        let e = err(&format!("{OK}seeds: one\n"));
        assert!(
            e.starts_with("c.yaml:9:") && e.contains("invalid type"),
            "{e}"
        );
        let e = err(&OK.replace("members: [k3, aac]", "members: [k3, aacc]"));
        assert_eq!(
            e,
            "c.yaml:8:32: ensemble both: member `aacc` is not a model; did you mean `aac`?"
        );
        let e = err(&OK.replace(
            "kind: kmer, modality: dna, k: 3",
            "kind: kmer, modality: dna",
        ));
        assert_eq!(e, "c.yaml:5:6: model k3: a kmer model needs `k`");
        let e = err(&OK.replace("k: 1}", "k: 1, weights: w}"));
        assert!(
            e.starts_with("c.yaml:6:54: model aac: `weights` does not apply to a kmer model"),
            "{e}"
        );
        let e = err(&OK.replace("name: aac", "name: k3"));
        assert!(e.contains("model name k3 is used twice"), "{e}");
        let e = err(&OK.replace("kind: kmer, modality: dna", "kind: kmers, modality: dna"));
        assert!(
            e.starts_with("c.yaml:5:") && e.contains("did you mean `kmer`?"),
            "{e}"
        );
        let e = err(&format!("{OK}tasks: everything\n"));
        assert!(e.contains("expected `all` or a list"), "{e}");
        // A probe setting out of range: at its key.
        let e = err(&format!("{OK}seeds: [1]\nprobe: {{kind: logreg, c: -1}}\n"));
        assert_eq!(
            e,
            "c.yaml:10:23: probe.c = -1: must be > 0 (the inverse L2 strength; leave it out for none)"
        );
        let e = err(&format!("{OK}probe:\n  lr: 0\n"));
        assert!(
            e.starts_with("c.yaml:10:3: probe.lr = 0: must be > 0"),
            "{e}"
        );
        let e = err(&format!("{OK}probe: {{c: []}}\n"));
        assert!(
            e.starts_with("c.yaml:9:12: probe.c = []: give one value"),
            "{e}"
        );
        // A setting the probe kind does not use would silently change every cell id.
        let e = err(&format!("{OK}probe: {{kind: logreg, hidden: [64]}}\n"));
        assert!(
            e.contains("probe.hidden = [64]: does not apply to a logreg probe (its settings: c, alpha, tol, max_iter, class_weights)"),
            "{e}"
        );
        let e = err(&format!("{OK}probe: {{kind: mlp, max_iter: 50}}\n"));
        assert!(
            e.contains("c.yaml:9:")
                && e.contains("probe.max_iter = 50: does not apply to a mlp probe"),
            "{e}"
        );
        let c = SweepConfig::parse(&format!("{OK}probe: {{c: [0.1, 1, 10]}}\n"), "c.yaml").unwrap();
        assert_eq!(c.probe.c.map(|c| c.values()), Some(vec![0.1, 1.0, 10.0]));
    }

    #[test]
    fn repeated_keys_are_found_where_they_repeat() {
        // Top level, inside a nested mapping, inside a list item; a block
        // scalar's lines and separate list items are not keys of one mapping.
        let e = err(&format!("{OK}seeds: [1]\nseeds: [2]\n"));
        assert_eq!(
            e,
            "c.yaml:10:1: duplicate field `seeds` (first on line 9); a key may appear once in its mapping"
        );
        let e = err(&format!(
            "{OK}probe:\n  kind: mlp\n  lr: 0.1\n  kind: logreg\n"
        ));
        assert!(
            e.starts_with("c.yaml:12:3: duplicate field `kind` (first on line 10)"),
            "{e}"
        );
        let text = "name: t\ndataset: d\nstore: s\nmodels:\n  - name: a\n    kind: kmer\n    modality: dna\n    k: 2\n  - name: b\n    kind: kmer\n    modality: dna\n    k: 3\n    k: 4\n";
        assert!(err(text).starts_with("c.yaml:13:5: duplicate field `k` (first on line 12)"));
        let ok = "name: t\ndataset: d\nstore: s\nmodels:\n  - name: a\n    kind: command\n    modality: dna\n    dim: 2\n    command: |\n      run: 1\n      run: 2\n";
        assert_eq!(duplicate_key(ok), None);
    }

    #[test]
    fn slurm_keys_and_resources_are_checked_at_every_level() {
        let slurm = |s: &str| format!("{OK}executor:\n  kind: slurm\n  slurm:\n{s}");
        let e = err(&slurm("    partition: pbatch\n    partiton: pgpu\n"));
        assert_eq!(
            e,
            "c.yaml:13:5: executor.slurm: unknown field `partiton`; did you mean `partition`?"
        );
        let e = err(&slurm("    stages: {embed: {partiton: pgpu}}\n"));
        assert!(
            e.starts_with("c.yaml:12:") && e.contains("did you mean `partition`?"),
            "{e}"
        );
        let e = err(&slurm("    stages:\n      probe: {time: 1h}\n"));
        assert!(
            e.starts_with(
                "c.yaml:13:15: executor.slurm.stages.probe: time = \"1h\": expected minutes"
            ),
            "{e}"
        );
        let e = err(&slurm("    models: {k3: {nodes: 0}}\n"));
        assert!(
            e.contains("executor.slurm.models.k3: nodes = \"0\": must be at least 1"),
            "{e}"
        );
        let e = err(&slurm("    cells_per_task: 0\n"));
        assert!(
            e.contains("cells_per_task must be at least 1 (or `auto`)"),
            "{e}"
        );
        let c = SweepConfig::parse(
            &slurm("    partition: pbatch\n    gpus_per_node: 4\n    cells_per_task: auto\n    stages: {probe: {gpus_per_node: 0}, aggregate: {partition: pdebug}}\n    models: {k3: {time: \"2:00:00\"}}\n"),
            "c.yaml",
        )
        .unwrap();
        let s = &c.executor.slurm;
        assert_eq!(s.cells_per_task, CellsPerTask::Auto);
        use crate::grid::Stage;
        assert!(s.resources_for(Stage::Embed, None).asks_gpus());
        assert!(!s.resources_for(Stage::Probe, None).asks_gpus());
        assert!(!s.resources_for(Stage::Aggregate, None).asks_gpus());
        assert_eq!(
            s.resources_for(Stage::Aggregate, None).partition.as_deref(),
            Some("pdebug")
        );
        assert_eq!(
            s.resources_for(Stage::Embed, Some("k3")).time.as_deref(),
            Some("2:00:00")
        );
        assert_eq!(s.resources_for(Stage::Probe, Some("k3")).time, None);
    }

    #[test]
    fn model_field_errors_point_at_the_field_of_that_model() {
        let e = err(&OK.replace("k: 1}", "k: 0}"));
        assert!(
            e.starts_with("c.yaml:6:48: model aac: k = 0: must be >= 1"),
            "{e}"
        );
        let block = "name: t\ndataset: d\nstore: s\nmodels:\n  - name: a\n    kind: kmer\n    modality: dna\n    k: 2\n  - name: b\n    kind: kmer\n    modality: dna\n    k: 0\n";
        assert!(
            err(block).starts_with("c.yaml:12:5: model b: k = 0"),
            "{}",
            err(block)
        );
        // A field that is absent: at the model's name.
        let e = err(&OK.replace(", k: 1}", "}"));
        assert!(
            e.starts_with("c.yaml:6:6: model aac: a kmer model needs `k`"),
            "{e}"
        );
        assert_eq!(locate_in_entry(block, "a", "k"), Some((8, 5)));
        assert_eq!(locate_in_entry(block, "a", "dim"), None);
    }

    #[test]
    fn values_that_cannot_work_are_refused_at_their_position() {
        let cases: Vec<(String, &str)> = vec![
            (OK.replace("  - {name: k3", "\t- {name: k3"), "c.yaml:5:1: a tab in the indentation"),
            (
                format!("{OK}defaults: &d {{kind: mlp}}\nprobe:\n  <<: *d\n"),
                "c.yaml:11:3: YAML merge keys",
            ),
            (OK.replace("name: t\n", "name: a/b\n"), "c.yaml:1:1: sweep name \"a/b\""),
            (OK.replace("name: t\n", "name: \"x;rm\"\n"), "sweep name \"x;rm\""),
            (OK.replace("name: k3,", "name: ..,"), "model name \"..\": use letters"),
            (OK.replace("name: both,", "name: .hidden,"), "ensemble name \".hidden\""),
            (
                OK.replace("members: [k3, aac]", "members: [aac, aac]"),
                "ensemble both: member `aac` is listed twice",
            ),
            (
                OK.replace("members: [k3, aac]", "members: [k3, aac], pca: 4"),
                "ensemble both: pca applies to concat-balanced, which its fusion does not list",
            ),
            (
                OK.replace(
                    "members: [k3, aac]",
                    "members: [k3, aac], fusion: [concat-balanced], pca: 0",
                ),
                "ensemble both: pca: 0 keeps nothing",
            ),
            (OK.replace("k: 3}", "k: 9}"), "k = 9 gives too many features for dna"),
            (
                format!("{OK}  - {{name: c, kind: command, command: \"x {{fasta}} {{nope}}\"}}\n")
                    .replace("ensembles:\n  - {name: both, members: [k3, aac]}\n", "")
                    + "",
                "command: unknown placeholder {nope}",
            ),
            (
                OK.replace(
                    "ensembles:",
                    "  - {name: c, kind: command, command: \"x {fasta} {ot}\"}\nensembles:",
                ),
                "did you mean {out}?",
            ),
            (
                OK.replace(
                    "ensembles:",
                    "  - {name: c, kind: command, timeout_s: 0, command: \"x {fasta}\"}\nensembles:",
                ),
                "timeout_s = 0: must be >= 1",
            ),
            (
                OK.replace(
                    "ensembles:",
                    "  - {name: e, kind: esm, weights: w, window: 0}\nensembles:",
                ),
                "window = 0: must be >= 1",
            ),
            (
                OK.replace(
                    "ensembles:",
                    "  - {name: e, kind: esm, weights: w, max_tokens: 1}\nensembles:",
                ),
                "max_tokens = 1: must be >= 2",
            ),
            (
                OK.replace(
                    "ensembles:",
                    "  - {name: e, kind: esm, weights: w, window: 8, stride: 9}\nensembles:",
                ),
                "stride = 9 > window = 8",
            ),
        ];
        for (text, want) in cases {
            let e = err(&text);
            assert!(e.contains(want), "want {want:?}, got {e:?} for\n{text}");
        }
        // Shell-like braces are not placeholders.
        let ok = OK.replace(
            "ensembles:",
            "  - {name: c, kind: command, command: \"x ${HOME} {fasta} {out} a{1,2}\"}\nensembles:",
        );
        SweepConfig::parse(&ok, "c.yaml").unwrap();
    }

    #[test]
    fn unreadable_config_files_are_named_with_a_position_and_a_hint() {
        let d = tempfile::tempdir().unwrap();
        let e = SweepConfig::load(&d.path().join("nope.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("nope.yaml:1:1: no such file (hint: give the path of a sweep config, e.g. configs/demo.yaml)"), "{e}");
        let e = SweepConfig::load(d.path()).unwrap_err().to_string();
        assert!(e.contains(":1:1: is a folder"), "{e}");
        let p = d.path().join("bin.yaml");
        std::fs::write(&p, b"name: t\ndataset: d\nstore: \xff\xfe\n").unwrap();
        let e = SweepConfig::load(&p).unwrap_err().to_string();
        assert!(e.contains("bin.yaml:3:8: not UTF-8 text (byte 26)"), "{e}");
    }

    #[test]
    fn task_names_are_checked_against_the_dataset() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("c.yaml");
        std::fs::write(&p, format!("{OK}tasks: [membrane, expresion]\n")).unwrap();
        let c = SweepConfig::load(&p).unwrap();
        let e = c
            .check_tasks(&["membrane".into(), "expression".into()])
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("c.yaml:9:19: task `expresion` is not in the dataset data/demo; did you mean `expression`?"), "{e}");
    }
}

//! The `command` embedder: runs an external program (e.g. a site's own Python
//! environment with any Hugging Face model) under a documented contract
//! (docs/embedders.md):
//!
//! * genoprot writes the batch as FASTA (header = gene id) and substitutes the
//!   placeholders `{fasta}` (the model's modality), `{dna_fasta}`,
//!   `{protein_fasta}`, `{out}`, `{device}`, `{batch_size}`, `{model}` into the
//!   command line (paths are shell-quoted), then runs it with `sh -c`;
//! * the program writes `{out}`: an HDF5 file with `ids` (strings) and `emb`
//!   (float32 or float64, [N, D]); any row order;
//! * genoprot checks that the ids are exactly the input ids, the dimension
//!   (when declared), and that every value is finite; stderr goes to the log
//!   file; a non-zero exit, a timeout or a bad output is one clear error.

use super::kinds::KindSpec;
use super::spec::{BuildContext, ModelSpec, SpecError};
use super::{EmbedError, Embedder, Modality, SeqInput};
use crate::child::{Outcome, Supervised};
use hdf5::types::VarLenUnicode;
use ndarray::Array2;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct CommandEmbedder {
    pub name: String,
    pub modality: Modality,
    pub template: String,
    /// Declared output dimension; 0 = take it from the output.
    pub dim: usize,
    pub device: String,
    pub batch_size: usize,
    pub timeout: Duration,
    /// Where the program's stderr (and stdout) go; a temp file when `None`.
    pub log: Option<PathBuf>,
    /// Folder for the FASTA/HDF5 exchange files (a temp folder when `None`).
    pub workdir: Option<PathBuf>,
}

/// Single-quotes a string for `sh`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn write_fasta(path: &Path, batch: &[SeqInput<'_>], m: Modality) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    for s in batch {
        w.write_all(b">")?;
        w.write_all(s.id.as_bytes())?;
        w.write_all(b"\n")?;
        w.write_all(s.seq(m))?;
        w.write_all(b"\n")?;
    }
    w.flush()
}

fn tail(path: &Path, max: usize) -> String {
    let mut s = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_string(&mut s);
    }
    let t = s.trim_end();
    if t.len() > max {
        let cut = t
            .char_indices()
            .map(|(i, _)| i)
            .find(|i| *i >= t.len() - max)
            .unwrap_or(0);
        format!("...{}", &t[cut..])
    } else {
        t.to_string()
    }
}

impl CommandEmbedder {
    fn err(&self, msg: impl Into<String>) -> EmbedError {
        EmbedError::Command {
            model: self.name.clone(),
            msg: msg.into(),
        }
    }

    /// Reads and checks the program's output against the batch; rows in batch order.
    pub fn read_output(
        &self,
        out: &Path,
        batch: &[SeqInput<'_>],
    ) -> Result<Array2<f32>, EmbedError> {
        let bad = |msg: String| EmbedError::Output {
            model: self.name.clone(),
            path: out.to_path_buf(),
            msg,
        };
        if !out.exists() {
            return Err(bad("the command exited 0 but wrote no output file (hint: write HDF5 to the {out} path)".into()));
        }
        let f = hdf5::File::open(out).map_err(|e| bad(format!("not an HDF5 file: {e}")))?;
        let ids: Vec<VarLenUnicode> = f
            .dataset("ids")
            .and_then(|d| d.read_raw())
            .map_err(|e| bad(format!("no readable `ids` string dataset: {e}")))?;
        let emb_ds = f
            .dataset("emb")
            .map_err(|e| bad(format!("no `emb` dataset: {e}")))?;
        let emb: Array2<f32> = match emb_ds.read_2d::<f32>() {
            Ok(a) => a,
            Err(_) => emb_ds
                .read_2d::<f64>()
                .map(|a| a.mapv(|x| x as f32))
                .map_err(|e| bad(format!("`emb` must be a float [N, D] array: {e}")))?,
        };
        if emb.nrows() != ids.len() {
            return Err(bad(format!(
                "{} ids but {} embedding rows",
                ids.len(),
                emb.nrows()
            )));
        }
        if self.dim > 0 && emb.ncols() != self.dim {
            return Err(bad(format!(
                "dimension {} but the config declares dim: {}",
                emb.ncols(),
                self.dim
            )));
        }
        let pos: HashMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i))
            .collect();
        if pos.len() != ids.len() {
            return Err(bad("duplicate ids in the output".into()));
        }
        let missing: Vec<&str> = batch
            .iter()
            .filter(|s| !pos.contains_key(s.id))
            .map(|s| s.id)
            .take(5)
            .collect();
        if !missing.is_empty() {
            return Err(bad(format!(
                "ids missing from the output, e.g. {missing:?}"
            )));
        }
        if ids.len() != batch.len() {
            let want: std::collections::HashSet<&str> = batch.iter().map(|s| s.id).collect();
            let extra: Vec<&str> = ids
                .iter()
                .map(|s| s.as_str())
                .filter(|s| !want.contains(s))
                .take(5)
                .collect();
            return Err(bad(format!("ids not in the input, e.g. {extra:?}")));
        }
        let mut rows = Array2::<f32>::zeros((batch.len(), emb.ncols()));
        for (r, s) in batch.iter().enumerate() {
            let src = emb.row(pos[s.id]);
            if let Some(c) = src.iter().position(|x| !x.is_finite()) {
                return Err(bad(format!(
                    "non-finite value for id {} at column {c}",
                    s.id
                )));
            }
            rows.row_mut(r).assign(&src);
        }
        Ok(rows)
    }
}

impl Embedder for CommandEmbedder {
    fn name(&self) -> &str {
        &self.name
    }
    fn modality(&self) -> Modality {
        self.modality
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn embed(&self, batch: &[SeqInput<'_>]) -> Result<Array2<f32>, EmbedError> {
        let io = |source| EmbedError::Io {
            model: self.name.clone(),
            cause: source,
        };
        let tmp = match &self.workdir {
            Some(d) => {
                std::fs::create_dir_all(d).map_err(io)?;
                tempfile::Builder::new()
                    .prefix("cmd-")
                    .tempdir_in(d)
                    .map_err(io)?
            }
            None => tempfile::Builder::new()
                .prefix("genoprot-cmd-")
                .tempdir()
                .map_err(io)?,
        };
        let dna = tmp.path().join("input.dna.fa");
        let prot = tmp.path().join("input.protein.fa");
        let out = tmp.path().join("output.h5");
        write_fasta(&dna, batch, Modality::Dna).map_err(io)?;
        write_fasta(&prot, batch, Modality::Protein).map_err(io)?;
        let main = if self.modality == Modality::Protein {
            &prot
        } else {
            &dna
        };
        let q = |p: &Path| shell_quote(&p.display().to_string());
        let cmdline = self
            .template
            .replace("{fasta}", &q(main))
            .replace("{dna_fasta}", &q(&dna))
            .replace("{protein_fasta}", &q(&prot))
            .replace("{out}", &q(&out))
            .replace("{device}", &shell_quote(&self.device))
            .replace("{batch_size}", &self.batch_size.to_string())
            .replace("{model}", &shell_quote(&self.name));
        let log_path = self
            .log
            .clone()
            .unwrap_or_else(|| tmp.path().join("command.log"));
        let log = crate::child::open_log(&log_path).map_err(io)?;
        // Output goes through a pipe so a flood of it is capped, not a 50 GB log.
        let (out_r, out_w) = std::io::pipe().map_err(io)?;
        tracing::info!(model = %self.name, cmd = %cmdline, log = %log_path.display(), n = batch.len(), "running embed command");
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(&cmdline)
            .stdin(Stdio::null())
            .stdout(out_w.try_clone().map_err(io)?)
            .stderr(out_w);
        let logged = crate::child::capture(out_r, log, crate::child::LOG_CAP);
        let scope = self.workdir.clone().unwrap_or_else(std::env::temp_dir);
        let child = Supervised::spawn(cmd, &scope)
            .map_err(|e| self.err(format!("could not start `sh -c {cmdline}`: {e}")))?;
        let outcome = child.wait(self.timeout).map_err(io)?;
        // Everything that held the pipe is dead now; the log is complete
        // once the copier has drained it.
        let _ = logged.recv_timeout(Duration::from_secs(5));
        let status = match outcome {
            Outcome::Exited(s) => s,
            Outcome::TimedOut => {
                return Err(self.err(format!(
                    "timed out after {:?} and was killed with everything it started \
                     (raise `timeout_s` in the model config); log {}: {}",
                    self.timeout,
                    log_path.display(),
                    tail(&log_path, 800)
                )));
            }
            Outcome::Stopped => {
                return Err(EmbedError::Stopped {
                    model: self.name.clone(),
                });
            }
        };
        if !status.success() {
            return Err(self.err(format!(
                "`{}` exited with {status}; log {}:\n{}",
                self.template,
                log_path.display(),
                tail(&log_path, 2000)
            )));
        }
        self.read_output(&out, batch)
    }
}

/// `kind: command`: an external program under the command contract.
pub struct CommandKind;

impl KindSpec for CommandKind {
    fn fields(&self) -> &'static [&'static str] {
        &["command", "dim", "timeout_s", "batch_size", "max_tokens"]
    }

    fn required(&self) -> &'static [&'static str] {
        &["command"]
    }

    fn check(&self, spec: &ModelSpec) -> Result<(), SpecError> {
        match &spec.command {
            Some(c) if c.trim().is_empty() => Err(SpecError::value(
                "command",
                "command is empty: give the program to run, e.g. \
                 `python embed.py --in {fasta} --out {out}`",
            )),
            Some(c) => super::spec::check_placeholders(c),
            None => Ok(()),
        }
    }

    fn build(&self, spec: &ModelSpec, ctx: &BuildContext) -> Result<Box<dyn Embedder>, EmbedError> {
        Ok(Box::new(CommandEmbedder {
            name: spec.name.clone(),
            modality: spec.modality(),
            template: spec.command.clone().unwrap_or_default(),
            dim: spec.dim.unwrap_or(0),
            device: if ctx.device.is_empty() {
                "cpu".into()
            } else {
                ctx.device.clone()
            },
            batch_size: spec.batch_size.unwrap_or(8),
            timeout: Duration::from_secs(spec.timeout_s.unwrap_or(3600)),
            log: ctx.log.clone(),
            workdir: ctx.workdir.clone(),
        }))
    }
}

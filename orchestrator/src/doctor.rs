//! `genoprot doctor`: what a user runs first on a new cluster — can genoprot
//! write HDF5 here, are Slurm and Flux reachable and with which limits, is there an MPI launcher.

use anyhow::Context;
use std::path::PathBuf;
use std::process::Command;

#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Folder for the HDF5 write test (default: a temp folder).
    #[arg(long)]
    pub scratch: Option<PathBuf>,
    /// Fail (exit 1) unless Slurm answers too.
    #[arg(long)]
    pub require_slurm: bool,
}

fn which(prog: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(prog))
            .find(|p| p.is_file())
    })
}

/// One check of `doctor`.
#[derive(Debug, serde::Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, serde::Serialize)]
pub struct DoctorResult {
    pub checks: Vec<Check>,
}

impl crate::output::Human for DoctorResult {
    fn human(&self) -> String {
        self.checks
            .iter()
            .map(|c| {
                format!(
                    "{:<7} {}   {}\n",
                    c.name,
                    if c.ok { "ok" } else { "--" },
                    c.detail
                )
            })
            .collect()
    }
}

pub fn run(a: &DoctorArgs, json: bool) -> anyhow::Result<()> {
    let mut checks = Vec::new();
    let mut check = |name: &str, ok: bool, detail: String| {
        checks.push(Check {
            name: name.into(),
            ok,
            detail,
        })
    };
    // HDF5: write a tiny store and read it back.
    let tmp = tempfile::Builder::new()
        .prefix("genoprot-doctor")
        .tempdir_in(a.scratch.clone().unwrap_or_else(std::env::temp_dir))?;
    let p = tmp.path().join("doctor.h5");
    let e = workers::store::Embeddings {
        ids: vec!["g1".into(), "g2".into()],
        emb: ndarray::Array2::from_shape_vec((2, 2), vec![1.0, 2.0, 3.0, 4.0])?,
        meta: Default::default(),
    };
    e.write(&p).context("HDF5 write test")?;
    let back = workers::store::Embeddings::read(&p).context("HDF5 read test")?;
    anyhow::ensure!(back.emb == e.emb, "HDF5 round trip changed the values");
    check("hdf5", true, format!("(wrote and read {})", p.display()));

    // Slurm.
    match crate::executor::slurm::doctor() {
        Ok(line) => check("slurm", true, line),
        Err(e) if a.require_slurm => return Err(e).context("Slurm is required (--require-slurm)"),
        Err(e) => check(
            "slurm",
            false,
            format!("not usable: {e} (the local executor still works)"),
        ),
    }

    // Flux (El Capitan-class systems): usable only inside an instance.
    match crate::executor::flux::doctor() {
        Ok(line) => check("flux", true, line),
        Err(e) => check(
            "flux",
            false,
            format!("not usable: {e} (Slurm or the local executor still work)"),
        ),
    }

    // Compute backend and GPUs.
    use workers::device::{DeviceSpec, Placement, local_rank, place};
    let gpus = workers::device::visible_gpus();
    let cvd = workers::device::cuda_visible_devices();
    match workers::device::BACKEND {
        "libtorch" if gpus > 0 => {
            // The placement `device: cuda` would get here.
            let rank = local_rank();
            let gpu = match place(DeviceSpec::Cuda(None), rank, gpus, &cvd) {
                Ok(Placement::Gpu(i)) => format!("cuda:{i}"),
                other => format!("{other:?}"),
            };
            check(
                "backend",
                true,
                format!(
                    "(libtorch; {gpus} CUDA GPU(s) visible, CUDA_VISIBLE_DEVICES={cvd}; local rank {rank} takes {gpu})"
                ),
            )
        }
        "libtorch" => check(
            "backend",
            true,
            format!(
                "(libtorch; no CUDA GPU usable here, CUDA_VISIBLE_DEVICES={cvd}: `device: cuda` would fail, `auto` runs on the CPU)"
            ),
        ),
        b => check(
            "backend",
            true,
            format!(
                "({b}, CPU only; `device: cuda` needs a build with `--features tch`, see docs/cluster-guide.md)"
            ),
        ),
    }

    // MPI launchers.
    for l in ["srun", "mpirun"] {
        match which(l) {
            Some(p) => {
                let (ok, what) = match Command::new(&p).arg("--version").output() {
                    Ok(o) => version_words(
                        o.status.success(),
                        o.status.code(),
                        &String::from_utf8_lossy(&o.stdout),
                        &String::from_utf8_lossy(&o.stderr),
                    ),
                    Err(e) => (false, format!("`{l} --version` could not start: {e}")),
                };
                check(l, ok, format!("({}; {what})", p.display()));
            }
            None => check(l, false, "not on PATH".into()),
        }
    }
    crate::output::print(json, &DoctorResult { checks })
}

/// What a launcher's `--version` said: its first non-empty line (stdout,
/// else stderr); a failed run is not ok and says how it ended.
fn version_words(success: bool, code: Option<i32>, stdout: &str, stderr: &str) -> (bool, String) {
    let first = |t: &str| {
        t.lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(str::to_string)
    };
    if success {
        let v = first(stdout)
            .or_else(|| first(stderr))
            .unwrap_or_else(|| "`--version` printed nothing".into());
        (true, v)
    } else {
        let why = first(stderr).or_else(|| first(stdout)).unwrap_or_default();
        (
            false,
            format!(
                "`--version` failed ({}){}",
                slurm::exit_words(code),
                if why.is_empty() {
                    String::new()
                } else {
                    format!(": {why}")
                }
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::version_words;

    #[test]
    fn a_launchers_version_is_its_first_line_and_a_failure_says_so() {
        assert_eq!(
            version_words(true, Some(0), "\nslurm-wlm 22.05.8\n", ""),
            (true, "slurm-wlm 22.05.8".into())
        );
        assert_eq!(
            version_words(true, Some(0), "", "mpirun (Open MPI) 4.1.4\n"),
            (true, "mpirun (Open MPI) 4.1.4".into())
        );
        assert_eq!(
            version_words(true, Some(0), "", ""),
            (true, "`--version` printed nothing".into())
        );
        assert_eq!(
            version_words(false, Some(1), "", "srun: error: no config\n"),
            (
                false,
                "`--version` failed (exit 1): srun: error: no config".into()
            )
        );
    }
}

//! Where models and probes run: the sweep's `device:` (`cpu`, `cuda`,
//! `cuda:N`, `auto`) resolved to a burn [`Device`] for this process.
//!
//! Backends (cargo features of `workers`, passed through by `genoprot`):
//! - default: burn `flex`, pure-Rust CPU. `cuda*` is refused with a hint.
//! - `tch`: burn's LibTorch backend; `cpu` is LibTorch's CPU device and
//!   `cuda[:N]` a CUDA device. Built against an existing libtorch 2.9.0
//!   (docs/cluster-guide.md).
//!
//! GPU choice per MPI rank: `cuda` (no index) takes the process's local rank
//! on its node modulo the number of GPUs it can see, so `--gpus-per-node=4`
//! with 4 tasks gives each task its own GPU, and Slurm's per-task binding
//! (`--gpus-per-task=1`: `CUDA_VISIBLE_DEVICES` holds one GPU) gives index 0.
//! `cuda:N` is an index among the visible GPUs (CUDA renumbers
//! `CUDA_VISIBLE_DEVICES` from 0).

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

/// Which burn backend this build runs on.
pub const BACKEND: &str = if cfg!(feature = "tch") {
    "libtorch"
} else {
    "flex"
};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DeviceError {
    #[error(
        "device {0:?} is not one of `cpu`, `cuda`, `cuda:N` (N = 0, 1, ...) or `auto`; hint: for the first GPU write `cuda:0`"
    )]
    Parse(String),
    #[error(
        "device `{requested}` needs a GPU backend, but this genoprot was built without the `tch` feature; hint: build with `cargo build --release --features tch` against libtorch 2.9.0 (docs/cluster-guide.md, \"GPUs\"), or set `device: cpu`"
    )]
    NotBuilt { requested: String },
    #[error(
        "device `{requested}`: no usable CUDA GPU (LibTorch sees {visible}; CUDA_VISIBLE_DEVICES={cvd}); hint: run on a GPU node (request GPUs with executor.slurm.gpus_per_node / gpus_per_task / gres), check `nvidia-smi`, or set `device: auto` to fall back to the CPU"
    )]
    NoGpu {
        requested: String,
        visible: usize,
        cvd: String,
    },
    #[error(
        "device `{requested}`: GPU index {index} is out of range, this process sees {visible} GPU(s) (CUDA_VISIBLE_DEVICES={cvd}); hint: indices count the visible GPUs from 0, or write `cuda` to take the rank's own GPU"
    )]
    OutOfRange {
        requested: String,
        index: usize,
        visible: usize,
        cvd: String,
    },
}

/// The sweep's `device:` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceSpec {
    #[default]
    Cpu,
    /// `cuda` (`None`: the local rank's GPU) or `cuda:N`.
    Cuda(Option<usize>),
    /// A GPU when one is usable, else the CPU.
    Auto,
}

impl FromStr for DeviceSpec {
    type Err = DeviceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        match t.as_str() {
            "cpu" => Ok(DeviceSpec::Cpu),
            "cuda" | "gpu" => Ok(DeviceSpec::Cuda(None)),
            "auto" => Ok(DeviceSpec::Auto),
            _ => match t.strip_prefix("cuda:") {
                Some(n) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => n
                    .parse()
                    .map(|n| DeviceSpec::Cuda(Some(n)))
                    .map_err(|_| DeviceError::Parse(s.into())),
                _ => Err(DeviceError::Parse(s.into())),
            },
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Cpu => f.write_str("cpu"),
            DeviceSpec::Cuda(None) => f.write_str("cuda"),
            DeviceSpec::Cuda(Some(n)) => write!(f, "cuda:{n}"),
            DeviceSpec::Auto => f.write_str("auto"),
        }
    }
}

impl serde::Serialize for DeviceSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for DeviceSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl DeviceSpec {
    /// Whether this spec can only run on a GPU.
    pub fn needs_gpu(&self) -> bool {
        matches!(self, DeviceSpec::Cuda(_))
    }

    /// Whether this spec may use a GPU (`cuda*` or `auto`).
    pub fn wants_gpu(&self) -> bool {
        !matches!(self, DeviceSpec::Cpu)
    }

    /// Refuses `cuda*` in a build without a GPU backend. The check a login
    /// node can make before submitting: compute nodes run the same binary.
    pub fn check_build(&self) -> Result<(), DeviceError> {
        if self.needs_gpu() && !cfg!(feature = "tch") {
            return Err(DeviceError::NotBuilt {
                requested: self.to_string(),
            });
        }
        Ok(())
    }
}

/// Where a resolved spec runs: the CPU or a visible GPU index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    Cpu,
    Gpu(usize),
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Placement::Cpu => write!(f, "cpu ({BACKEND})"),
            Placement::Gpu(i) => write!(f, "cuda:{i} ({BACKEND})"),
        }
    }
}

/// The rule, without touching hardware: `visible` GPUs seen by this process,
/// `local_rank` its rank on the node (0 without MPI).
pub fn place(
    spec: DeviceSpec,
    local_rank: usize,
    visible: usize,
    cvd: &str,
) -> Result<Placement, DeviceError> {
    spec.check_build()?;
    match spec {
        DeviceSpec::Cpu => Ok(Placement::Cpu),
        DeviceSpec::Auto if visible == 0 => Ok(Placement::Cpu),
        DeviceSpec::Auto | DeviceSpec::Cuda(None) if visible > 0 => {
            Ok(Placement::Gpu(local_rank % visible))
        }
        DeviceSpec::Cuda(Some(i)) if i < visible => Ok(Placement::Gpu(i)),
        DeviceSpec::Cuda(Some(i)) if visible > 0 => Err(DeviceError::OutOfRange {
            requested: spec.to_string(),
            index: i,
            visible,
            cvd: cvd.into(),
        }),
        _ => Err(DeviceError::NoGpu {
            requested: spec.to_string(),
            visible,
            cvd: cvd.into(),
        }),
    }
}

/// This process's rank among the processes of its job on this node:
/// mpirun's (Open MPI, MPICH/Hydra, MVAPICH) variable first — it is set per
/// process, while an `mpirun` inside a batch step inherits the step's single
/// `SLURM_LOCALID` — then srun's `SLURM_LOCALID`; 0 when none is set.
pub fn local_rank() -> usize {
    local_rank_from(|k| std::env::var(k).ok())
}

fn local_rank_from(get: impl Fn(&str) -> Option<String>) -> usize {
    [
        "OMPI_COMM_WORLD_LOCAL_RANK",
        "MPI_LOCALRANKID",
        "MV2_COMM_WORLD_LOCAL_RANK",
        "PMI_LOCAL_RANK",
        "SLURM_LOCALID",
    ]
    .iter()
    .find_map(|k| get(k).and_then(|v| v.trim().parse().ok()))
    .unwrap_or(0)
}

/// GPUs this process can use (0 without the `tch` feature or a driver).
pub fn visible_gpus() -> usize {
    #[cfg(feature = "tch")]
    {
        if tch::Cuda::is_available() {
            return tch::Cuda::device_count().max(0) as usize;
        }
    }
    0
}

/// `CUDA_VISIBLE_DEVICES` as this process sees it, `(unset)` when absent.
pub fn cuda_visible_devices() -> String {
    std::env::var("CUDA_VISIBLE_DEVICES").unwrap_or_else(|_| "(unset)".into())
}

/// The burn device of a placement.
pub fn device_of(p: Placement) -> Device {
    match p {
        Placement::Cpu => cpu(),
        #[cfg(feature = "tch")]
        #[allow(deprecated)] // burn-tch is the LibTorch backend the clusters have
        Placement::Gpu(i) => Device::libtorch_cuda(i),
        #[cfg(not(feature = "tch"))]
        Placement::Gpu(_) => unreachable!("place() refuses GPUs without the tch feature"),
    }
}

/// This build's CPU device: flex, or LibTorch's CPU device with `tch`.
pub fn cpu() -> Device {
    #[cfg(feature = "tch")]
    #[allow(deprecated)]
    return Device::libtorch();
    #[cfg(not(feature = "tch"))]
    Device::flex()
}

/// Resolves `spec` for this process (local rank from the environment) and
/// logs the choice.
pub fn resolve(spec: DeviceSpec) -> Result<(Placement, Device), DeviceError> {
    let visible = if spec.wants_gpu() { visible_gpus() } else { 0 };
    let cvd = cuda_visible_devices();
    let rank = local_rank();
    let p = place(spec, rank, visible, &cvd)?;
    tracing::info!(device = %spec, local_rank = rank, visible, cuda_visible_devices = %cvd, placement = %p, "device");
    Ok((p, device_of(p)))
}

/// Whether `d` is a LibTorch device (only possible with the `tch` feature).
pub fn is_libtorch(d: &Device) -> bool {
    cfg!(feature = "tch") && format!("{:?}", d.as_dispatch()).starts_with("LibTorch")
}

/// Whether `d` is burn's flex (CPU) backend.
pub fn is_flex(d: &Device) -> bool {
    format!("{:?}", d.as_dispatch()).starts_with("Flex")
}

/// Whether `d` is a GPU (a LibTorch CUDA device).
pub fn is_gpu(d: &Device) -> bool {
    format!("{:?}", d.as_dispatch()).contains("Cuda")
}

/// The attributes stores record about where their work ran.
pub const RUNTIME_KEYS: [&str; 5] = [
    "device",
    "host",
    "local_rank",
    "cuda_visible_devices",
    "slurm_job",
];

/// This machine's name (`/proc/sys/kernel/hostname`, else `$HOSTNAME`; empty
/// when neither is known).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default()
}

/// Where this process runs `device`: burn device, host, local rank,
/// `CUDA_VISIBLE_DEVICES` and the Slurm job (`<array job>_<task>` or
/// `<job>`), empty strings where unknown.
pub fn runtime_info(device: &Device) -> std::collections::BTreeMap<String, String> {
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    let host = hostname();
    let job = match (env("SLURM_ARRAY_JOB_ID"), env("SLURM_ARRAY_TASK_ID")) {
        (a, t) if !a.is_empty() && !t.is_empty() => format!("{a}_{t}"),
        _ => env("SLURM_JOB_ID"),
    };
    [
        ("device", format!("{:?}", device.as_dispatch())),
        ("host", host),
        ("local_rank", local_rank().to_string()),
        ("cuda_visible_devices", env("CUDA_VISIBLE_DEVICES")),
        ("slurm_job", job),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for (s, d) in [
            ("cpu", DeviceSpec::Cpu),
            ("CUDA", DeviceSpec::Cuda(None)),
            ("cuda:3", DeviceSpec::Cuda(Some(3))),
            ("auto", DeviceSpec::Auto),
        ] {
            assert_eq!(s.parse::<DeviceSpec>().unwrap(), d);
        }
        assert_eq!(DeviceSpec::Cuda(Some(2)).to_string(), "cuda:2");
        for bad in ["", "cuda:", "cuda:-1", "cuda:x", "tpu", "cuda0"] {
            let e = bad.parse::<DeviceSpec>().unwrap_err();
            assert!(e.to_string().contains("cuda:N"), "{e}");
        }
    }

    #[test]
    fn ranks_take_their_own_gpu() {
        if !cfg!(feature = "tch") {
            return; // covered by `without_tch_gpus_are_refused`
        }
        let c = DeviceSpec::Cuda(None);
        // --gpus-per-node=4, 4 tasks: one GPU each.
        let got: Vec<_> = (0..4).map(|r| place(c, r, 4, "0,1,2,3").unwrap()).collect();
        assert_eq!(got, (0..4).map(Placement::Gpu).collect::<Vec<_>>());
        // 8 ranks on 4 GPUs share them round robin.
        assert_eq!(place(c, 6, 4, "").unwrap(), Placement::Gpu(2));
        // Slurm binds one GPU per task: every rank sees index 0.
        assert_eq!(place(c, 3, 1, "5").unwrap(), Placement::Gpu(0));
        // Explicit index among the visible ones.
        assert_eq!(
            place(DeviceSpec::Cuda(Some(1)), 0, 2, "").unwrap(),
            Placement::Gpu(1)
        );
        let e = place(DeviceSpec::Cuda(Some(2)), 0, 2, "4,5").unwrap_err();
        assert!(matches!(e, DeviceError::OutOfRange { index: 2, .. }), "{e}");
        assert!(e.to_string().contains("CUDA_VISIBLE_DEVICES=4,5"));
        let e = place(c, 0, 0, "(unset)").unwrap_err();
        assert!(matches!(e, DeviceError::NoGpu { .. }), "{e}");
        assert!(e.to_string().contains("no usable CUDA GPU"));
        assert_eq!(
            place(DeviceSpec::Auto, 1, 2, "").unwrap(),
            Placement::Gpu(1)
        );
    }

    #[test]
    fn cpu_and_auto_without_gpus() {
        assert_eq!(place(DeviceSpec::Cpu, 3, 4, "").unwrap(), Placement::Cpu);
        assert_eq!(place(DeviceSpec::Auto, 3, 0, "").unwrap(), Placement::Cpu);
    }

    #[test]
    fn without_tch_gpus_are_refused() {
        if cfg!(feature = "tch") {
            return;
        }
        for spec in [DeviceSpec::Cuda(None), DeviceSpec::Cuda(Some(0))] {
            let e = place(spec, 0, 8, "").unwrap_err();
            assert!(matches!(e, DeviceError::NotBuilt { .. }));
            let msg = e.to_string();
            assert!(msg.contains("without the `tch` feature"), "{msg}");
            assert!(msg.contains("--features tch"), "{msg}");
        }
        // auto never asks for a GPU backend: it falls back to the CPU.
        assert_eq!(place(DeviceSpec::Auto, 0, 0, "").unwrap(), Placement::Cpu);
        assert_eq!(BACKEND, "flex");
    }

    #[test]
    fn local_rank_prefers_the_launcher() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(local_rank_from(env(&[])), 0);
        assert_eq!(local_rank_from(env(&[("SLURM_LOCALID", "2")])), 2);
        // mpirun inside a batch step: the step's SLURM_LOCALID=0 is inherited.
        assert_eq!(
            local_rank_from(env(&[
                ("SLURM_LOCALID", "0"),
                ("OMPI_COMM_WORLD_LOCAL_RANK", "3")
            ])),
            3
        );
        assert_eq!(local_rank_from(env(&[("MPI_LOCALRANKID", "1")])), 1);
        assert_eq!(local_rank_from(env(&[("SLURM_LOCALID", "x")])), 0);
    }
}

//! The binary's edge: --version, --help, exit codes, -q/-v.

mod common;

#[test]
fn version_and_help_list_only_real_subcommands() {
    let out = common::genoprot().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("genoprot {}", env!("CARGO_PKG_VERSION"))
    );

    let out = common::genoprot().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    let commands: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        commands,
        [
            "dataset",
            "plan",
            "run",
            "aggregate",
            "report",
            "submit",
            "status",
            "resume",
            "cancel",
            "doctor",
            "list",
            "clean",
            "completions",
            "help"
        ],
        "{help}"
    );
    assert!(help.contains("--verbose") && help.contains("--quiet") && help.contains("--json"));
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    let out = common::genoprot().arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unrecognized subcommand"));
}

#[test]
fn doctor_checks_hdf5_and_reports_slurm() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::genoprot()
        .args(["doctor", "--scratch"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("hdf5    ok"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("slurm")), "{text}");
}

#[test]
fn doctor_names_the_backend_and_run_refuses_an_unusable_gpu_before_any_work() {
    let out = common::genoprot().arg("doctor").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let want = if cfg!(feature = "tch") {
        "backend ok   (libtorch"
    } else {
        "backend ok   (flex, CPU only"
    };
    assert!(text.contains(want), "{text}");

    let d = tempfile::tempdir().unwrap();
    let synth = common::genoprot()
        .current_dir(d.path())
        .args(["-q", "dataset", "synth", "--out", "data", "--genes", "60"])
        .output()
        .unwrap();
    assert!(synth.status.success());
    std::fs::write(
        d.path().join("s.yaml"),
        "name: t\ndataset: data\nstore: runs/s\nmodels:\n  - {name: aac, kind: kmer, modality: protein, k: 1}\ndevice: cuda:0\n",
    )
    .unwrap();
    // No GPU here (CI), and without `tch` no GPU backend either: refused up front.
    let out = common::genoprot()
        .current_dir(d.path())
        .args(["run", "s.yaml"])
        .env("CUDA_VISIBLE_DEVICES", "")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let want = if cfg!(feature = "tch") {
        "s.yaml: device: device `cuda:0`: no usable CUDA GPU"
    } else {
        "s.yaml: device: device `cuda:0` needs a GPU backend"
    };
    assert!(err.contains(want), "{err}");
    assert!(
        !d.path().join("runs/s/embeddings").exists(),
        "nothing may run before the device check"
    );
}

//! Never lose a user's data: the defects found by feeding bad inputs and
//! faults to the binary, each reproduced end to end — dataset folders that
//! are not genoprot's, a full and a read-only store (real tmpfs mounts when
//! run as root, as in CI), SIGTERM/SIGKILL while a `command` embedder runs,
//! oversized probes, a cell store copied under another cell's name, temp
//! files of killed writers.

mod common;

use common::gp;
#[path = "common/fuzz.rs"]
mod fuzz;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every file under `dir` (relative path → bytes).
fn snapshot(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

fn synth(dir: &Path, out: &str, genes: &str) {
    let (code, _, err) = gp(
        dir,
        &["-q", "dataset", "synth", "--out", out, "--genes", genes],
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn dataset_out_never_deletes_or_overwrites_what_genoprot_did_not_write() {
    let d = tempfile::tempdir().unwrap();
    // A folder of the user's: files and a subfolder.
    let mine = d.path().join("mine");
    std::fs::create_dir_all(mine.join("sub")).unwrap();
    std::fs::write(mine.join("notes.txt"), b"my notes").unwrap();
    std::fs::write(mine.join("sub/data.csv"), b"1,2,3").unwrap();
    let before = snapshot(&mine);
    for args in [
        vec!["dataset", "synth", "--out", "mine", "--genes", "20"],
        vec![
            "dataset",
            "build",
            "--cds",
            "x.fa",
            "--proteins",
            "y.fa",
            "--out",
            "mine",
        ],
    ] {
        let (code, out, err) = gp(d.path(), &args);
        assert_eq!(code, 1, "{out}{err}");
        assert!(
            err.contains("mine: exists and is not a genoprot dataset") && err.contains("--force"),
            "{err}"
        );
        assert_eq!(snapshot(&mine), before, "{args:?} changed the folder");
    }
    // --force writes the dataset's files and leaves every other file alone.
    let (code, _, err) = gp(
        d.path(),
        &[
            "-q", "dataset", "synth", "--out", "mine", "--genes", "20", "--force",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let after = snapshot(&mine);
    for (p, bytes) in &before {
        assert_eq!(after.get(p), Some(bytes), "{} was changed", p.display());
    }
    assert!(mine.join("manifest.json").exists());
    let (code, _, err) = gp(d.path(), &["dataset", "validate", "mine"]);
    assert_eq!(code, 0, "{err}");
    // Now it is a dataset: a rebuild replaces the dataset's files, keeps the notes.
    let (code, _, err) = gp(
        d.path(),
        &["-q", "dataset", "synth", "--out", "mine", "--genes", "24"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(mine.join("notes.txt")).unwrap(), b"my notes");
    assert_eq!(std::fs::read(mine.join("sub/data.csv")).unwrap(), b"1,2,3");
    let (code, out, _) = gp(d.path(), &["dataset", "validate", "mine"]);
    assert_eq!(code, 0);
    assert!(out.contains("24 genes"), "{out}");

    // --out naming a regular file: refused, the file untouched, nothing hidden left.
    std::fs::write(d.path().join("afile"), b"keep me").unwrap();
    let (code, _, err) = gp(
        d.path(),
        &["dataset", "synth", "--out", "afile", "--genes", "20"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("afile: exists and is a file"), "{err}");
    assert_eq!(std::fs::read(d.path().join("afile")).unwrap(), b"keep me");
    let hidden: Vec<String> = std::fs::read_dir(d.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "left behind: {hidden:?}");

    // --out holding the inputs: refused even with --force, inputs intact.
    let inputs = d.path().join("inputs");
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::copy(mine.join("cds.fa"), inputs.join("cds.fa")).unwrap();
    std::fs::copy(mine.join("protein.fa"), inputs.join("protein.fa")).unwrap();
    let held = snapshot(&inputs);
    let (code, _, err) = gp(
        d.path(),
        &[
            "dataset",
            "build",
            "--cds",
            "inputs/cds.fa",
            "--proteins",
            "inputs/protein.fa",
            "--out",
            "inputs",
            "--force",
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("holds the input"), "{err}");
    assert_eq!(snapshot(&inputs), held);

    // `--out .` in a folder of the user's: refused, no temp folder left.
    let (code, _, err) = gp(&mine.join("sub"), &["dataset", "synth", "--out", "."]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        std::fs::read_dir(mine.join("sub")).unwrap().count(),
        1,
        "a temp folder was left"
    );
    // ... and in an empty folder it writes there, leaving no temp folder.
    let empty = d.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let (code, _, err) = gp(
        &empty,
        &["-q", "dataset", "synth", "--out", ".", "--genes", "20"],
    );
    assert_eq!(code, 0, "{err}");
    let names: Vec<String> = std::fs::read_dir(&empty)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 7, "{names:?}");
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
}

const SWEEP: &str = "name: safety
dataset: data
store: STORE
seeds: [0, 1, 2]
tasks: [membrane, expression, essential, fold_class]
models:
  - {name: aac, kind: kmer, modality: protein, k: 1}
  - {name: nuc, kind: kmer, modality: dna, k: 2}
probe: {kind: logreg}
executor: {workers: 1}
";

/// Mounts a tmpfs of `size` at `dir`; `false` where this is not allowed
/// (not root): the caller then skips, saying so.
fn mount_tmpfs(dir: &Path, size: &str) -> bool {
    std::fs::create_dir_all(dir).unwrap();
    Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size}"),
            "tmpfs",
            s(dir),
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

struct Unmount(PathBuf);
impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").args(["-l", s(&self.0)]).status();
    }
}

/// A dataset of `genes` genes and `c.yaml`: SWEEP with one seed, store runs/x.
fn one_seed_sweep(genes: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    synth(d.path(), "data", genes);
    std::fs::write(
        d.path().join("c.yaml"),
        SWEEP
            .replace("STORE", "runs/x")
            .replace("seeds: [0, 1, 2]", "seeds: [0]"),
    )
    .unwrap();
    d
}

fn plan_counts(dir: &Path, cfg: &str) -> serde_json::Value {
    let (code, out, err) = gp(dir, &["plan", cfg, "--json"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn a_full_store_stops_the_run_at_the_first_failed_write_and_keeps_every_file_whole() {
    let d = tempfile::tempdir().unwrap();
    synth(d.path(), "data", "120");
    let store = d.path().join("store");
    if !mount_tmpfs(&store, "400k") {
        eprintln!("skipped: mounting a tmpfs needs root (CI runs as root)");
        return;
    }
    let _guard = Unmount(store.clone());
    std::fs::write(d.path().join("c.yaml"), SWEEP.replace("STORE", s(&store))).unwrap();
    let (code, out, err) = gp(d.path(), &["run", "c.yaml"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("the store stopped accepting writes")
            && err.contains("No space left on device (errno 28)")
            && err.contains(s(&store)),
        "{err}"
    );
    // One error, not one per remaining cell.
    assert_eq!(err.matches("stopped accepting writes").count(), 1, "{err}");
    // Every cell store under its final name reads back whole (h5py too), and
    // `plan` counts exactly those as done.
    let cells: Vec<PathBuf> = std::fs::read_dir(store.join("cells"))
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    let finals: Vec<&PathBuf> = cells
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "h5"))
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    for p in &finals {
        let c = workers::probe::cell::CellResult::read(p).unwrap_or_else(|e| {
            panic!(
                "{} is under its final name but unreadable: {e}",
                p.display()
            )
        });
        assert_eq!(
            format!("{}.h5", c.id),
            p.file_name().unwrap().to_string_lossy()
        );
    }
    if let Some(p) = finals.first() {
        let py = common::python_with_h5py();
        let out = Command::new(py)
            .args(["-c", "import h5py,sys; f=h5py.File(sys.argv[1]); print(f.attrs['cell_id'], f['test/pred'].shape)", s(p)])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let plan = plan_counts(d.path(), "c.yaml");
    let probe = plan["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "probe")
        .unwrap()
        .clone();
    assert_eq!(
        probe["done"].as_u64().unwrap() as usize,
        finals.len(),
        "{plan}"
    );
    assert!(probe["missing"].as_u64().unwrap() > 0, "{plan}");
}

#[test]
fn a_read_only_store_is_one_error_naming_the_path() {
    let d = tempfile::tempdir().unwrap();
    synth(d.path(), "data", "60");
    let store = d.path().join("store");
    if !mount_tmpfs(&store, "64m") {
        eprintln!("skipped: mounting a tmpfs needs root (CI runs as root)");
        return;
    }
    let _guard = Unmount(store.clone());
    std::fs::write(
        d.path().join("c.yaml"),
        SWEEP.replace("STORE", &format!("{}/run", s(&store))),
    )
    .unwrap();
    // A finished run, then the file system turns read-only.
    let (code, _, err) = gp(d.path(), &["-q", "run", "c.yaml"]);
    assert_eq!(code, 0, "{err}");
    let before = snapshot(&store);
    let ro = Command::new("mount")
        .args(["-o", "remount,ro", s(&store)])
        .status()
        .unwrap();
    assert!(ro.success());
    // Another probe setting: every cell is new.
    std::fs::write(
        d.path().join("c2.yaml"),
        SWEEP
            .replace("STORE", &format!("{}/run", s(&store)))
            .replace("probe: {kind: logreg}", "probe: {kind: logreg, c: 0.5}"),
    )
    .unwrap();
    let (code, _, err) = gp(d.path(), &["run", "c2.yaml"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("Read-only file system") && err.contains(s(&store)),
        "{err}"
    );
    assert_eq!(err.matches("error:").count(), 1, "{err}");
    assert_eq!(snapshot(&store), before);
    // A store path that is a file: the path and a hint.
    std::fs::write(d.path().join("afile"), b"x").unwrap();
    std::fs::write(d.path().join("c3.yaml"), SWEEP.replace("STORE", "afile")).unwrap();
    let (code, _, err) = gp(d.path(), &["run", "c3.yaml"]);
    assert_eq!(code, 1);
    assert!(err.contains("afile") && err.contains("hint"), "{err}");
}

#[test]
fn store_parts_that_are_files_or_folders_are_named_with_the_fix() {
    let d = one_seed_sweep("40");
    let store = d.path().join("runs/x");
    std::fs::create_dir_all(&store).unwrap();
    // `cells` is a file.
    std::fs::write(store.join("cells"), b"not a folder").unwrap();
    let (code, _, err) = gp(d.path(), &["run", "c.yaml"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("runs/x/cells") && err.contains("it is a file: move it away"),
        "{err}"
    );
    assert_eq!(std::fs::read(store.join("cells")).unwrap(), b"not a folder");
    std::fs::remove_file(store.join("cells")).unwrap();
    // `journal` is a file (the first run made the folder: it is genoprot's to replace here).
    std::fs::remove_dir_all(store.join("journal")).unwrap();
    std::fs::write(store.join("journal"), b"x").unwrap();
    let (code, _, err) = gp(d.path(), &["run", "c.yaml"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("runs/x/journal") && err.contains("is `journal` a file?"),
        "{err}"
    );
    std::fs::remove_file(store.join("journal")).unwrap();
    // `results.h5` is a folder.
    std::fs::create_dir_all(store.join("results.h5/keep")).unwrap();
    let (code, _, err) = gp(d.path(), &["run", "c.yaml"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("runs/x/results.h5: is a folder; results.h5 is the file aggregate writes"),
        "{err}"
    );
    assert!(store.join("results.h5/keep").is_dir());
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|st| !st[st.rfind(')').unwrap() + 2..].starts_with('Z'))
        .unwrap_or(false)
}

fn read_pid(p: &Path) -> i32 {
    let t = Instant::now();
    loop {
        if let Ok(s) = std::fs::read_to_string(p)
            && s.ends_with('\n')
        {
            return s.trim().parse().unwrap();
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "{} never written",
            p.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_dead(pid: i32) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(10) {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A sweep whose one model is a `command` that starts a background child
/// and a `setsid` grandchild, writes their pids, and sleeps.
fn sleeping_command_sweep(d: &Path) -> PathBuf {
    synth(d, "data", "20");
    let pids = d.join("pids");
    std::fs::create_dir_all(&pids).unwrap();
    let p = s(&pids);
    let cmd = format!(
        "if [ -e {p}/second ]; then exit 3; fi; sleep 300 & echo $! > {p}/bg; \
         setsid sh -c 'echo $$ > {p}/detached; exec sleep 300' & echo $$ > {p}/sh; sleep 300"
    );
    std::fs::write(
        d.join("c.yaml"),
        format!(
            "name: cmd\ndataset: data\nstore: runs\ntasks: [membrane]\nseeds: [0]\nmodels:\n  - name: slow\n    kind: command\n    modality: protein\n    dim: 4\n    timeout_s: 600\n    command: \"{cmd}\"\n"
        ),
    )
    .unwrap();
    pids
}

#[test]
fn sigterm_kills_the_embedder_and_everything_it_started() {
    let d = tempfile::tempdir().unwrap();
    let pids = sleeping_command_sweep(d.path());
    let child = common::genoprot()
        .current_dir(d.path())
        .args(["run", "c.yaml"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (sh, bg, detached) = (
        read_pid(&pids.join("sh")),
        read_pid(&pids.join("bg")),
        read_pid(&pids.join("detached")),
    );
    assert!(alive(sh) && alive(bg) && alive(detached));
    Command::new("kill")
        .args(["-s", "TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{err}");
    assert!(err.contains("terminated; run again to continue"), "{err}");
    assert_eq!(err.matches("terminated").count(), 1, "{err}");
    for (what, pid) in [
        ("sh", sh),
        ("background child", bg),
        ("setsid grandchild", detached),
    ] {
        assert!(wait_dead(pid), "the {what} ({pid}) outlived SIGTERM");
    }
}

#[test]
fn after_sigkill_the_embedder_dies_and_the_next_run_reaps_what_it_left() {
    let d = tempfile::tempdir().unwrap();
    let pids = sleeping_command_sweep(d.path());
    let mut child = common::genoprot()
        .current_dir(d.path())
        .args(["-q", "run", "c.yaml"])
        .spawn()
        .unwrap();
    let (sh, bg, detached) = (
        read_pid(&pids.join("sh")),
        read_pid(&pids.join("bg")),
        read_pid(&pids.join("detached")),
    );
    child.kill().unwrap();
    child.wait().unwrap();
    // The program itself dies with genoprot (parent-death signal) ...
    assert!(wait_dead(sh), "sh ({sh}) outlived SIGKILL of genoprot");
    // ... what it left running is killed by the next run of the same store.
    std::fs::write(pids.join("second"), b"").unwrap();
    let (_, _, err) = gp(d.path(), &["run", "c.yaml"]);
    assert!(err.contains("left running by an earlier genoprot"), "{err}");
    for (what, pid) in [("background child", bg), ("setsid grandchild", detached)] {
        assert!(wait_dead(pid), "the {what} ({pid}) survived the next run");
    }
}

#[test]
fn oversized_probes_are_config_errors_before_anything_is_written() {
    let d = tempfile::tempdir().unwrap();
    synth(d.path(), "data", "20");
    let cfg = SWEEP.replace("STORE", "runs/x");
    for (bad, want) in [
        (
            cfg.replace("probe: {kind: logreg}", "probe: {hidden: [2000000000]}"),
            "c.yaml:9:18: probe.hidden = 2000000000: each width must be between 1 and 65536",
        ),
        (
            cfg.replace(
                "tasks: [membrane, expression, essential, fold_class]",
                "tasks: []",
            ),
            "c.yaml:5:8: tasks: [] selects nothing",
        ),
        (
            format!("{cfg}seeds: [4]\n"),
            "c.yaml:11:1: duplicate field `seeds`",
        ),
        (
            format!("{cfg}splits: {{fractions: [0.8, 0.2, 0.0]}}\n"),
            "the test share 0 must be between 0 and 1",
        ),
        (
            format!("{cfg}splits: {{fractions: [0.5, 0.2, 0.2]}}\n"),
            "must sum to 1 (they sum to 0.9",
        ),
        (
            cfg.replace("k: 1}", "k: 0}"),
            "c.yaml:7:48: model aac: k = 0: must be >= 1",
        ),
    ] {
        std::fs::write(d.path().join("c.yaml"), &bad).unwrap();
        let (code, _, err) = gp(d.path(), &["run", "c.yaml"]);
        assert_eq!(code, 1, "{bad}\n{err}");
        assert!(err.contains(want), "want {want:?}\n{err}");
        assert!(
            !d.path().join("runs").exists(),
            "a store was written for {bad}"
        );
    }
}

#[test]
fn a_cell_store_under_another_cells_name_is_missing_not_done() {
    let d = one_seed_sweep("60");
    let (code, _, err) = gp(d.path(), &["-q", "run", "c.yaml"]);
    assert_eq!(code, 0, "{err}");
    let cells = d.path().join("runs/x/cells");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&cells)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "h5"))
        .collect();
    files.sort();
    let (a, b) = (&files[0], &files[1]);
    // The store copied with its digest (which names the other file) and
    // without: neither counts.
    std::fs::copy(a, b).unwrap();
    let plan = plan_counts(d.path(), "c.yaml");
    assert_eq!(plan["stages"][1]["missing"], 1, "{plan}");
    std::fs::copy(workers::seal::sidecar(a), workers::seal::sidecar(b)).unwrap();
    let plan = plan_counts(d.path(), "c.yaml");
    let probe = &plan["stages"][1];
    assert_eq!(probe["missing"], 1, "{plan}");
    let (code, _, err) = gp(d.path(), &["aggregate", "c.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("1 of 8 cells are missing"), "{err}");
    let csv = std::fs::read_to_string(d.path().join("runs/x/results.csv")).unwrap();
    let a_id = a.file_stem().unwrap().to_string_lossy().into_owned();
    assert_eq!(csv.matches(&a_id).count(), 1, "{csv}");
    // A rerun computes the real cell again.
    let (code, _, err) = gp(d.path(), &["run", "c.yaml"]);
    assert_eq!(code, 0, "{err}");
    let back = workers::probe::cell::CellResult::read(b).unwrap();
    assert_eq!(back.id, b.file_stem().unwrap().to_string_lossy());
}

#[test]
fn temp_files_of_killed_writers_are_removed_at_start_and_others_kept() {
    let d = one_seed_sweep("40");
    let store = d.path().join("runs/x");
    std::fs::create_dir_all(store.join("cells")).unwrap();
    let host = workers::child::host();
    let dead = [
        store.join(format!(".results.h5.{host}~4194305-0.AbC123.tmp")),
        store.join(format!("cells/.0123.h5.{host}~4194305-0.AbC123.tmp")),
    ];
    for p in &dead {
        std::fs::write(p, b"torn").unwrap();
    }
    let keep = store.join("my-notes.tmp");
    std::fs::write(&keep, b"mine").unwrap();
    let (code, _, err) = gp(d.path(), &["-q", "run", "c.yaml"]);
    assert_eq!(code, 0, "{err}");
    for p in &dead {
        assert!(!p.exists(), "{} survived", p.display());
    }
    assert_eq!(std::fs::read(&keep).unwrap(), b"mine");
}

/// Exit code and stderr of the binary on one input; a panic (101) or an
/// abort (134, a signal) fails the test.
fn checked(dir: &Path, args: &[&str], what: &str, bad: &[u8]) -> (i32, String) {
    let (code, _, err) = gp(dir, args);
    assert!(
        code == 0 || code == 1,
        "{what}: exit {code} on {:?}\n{err}",
        String::from_utf8_lossy(bad)
    );
    assert!(!err.contains("panicked"), "{what}: {err}");
    (code, err)
}

#[test]
fn fuzzed_configs_and_dataset_inputs_exit_1_naming_the_file() {
    use rand::SeedableRng;
    let d = tempfile::tempdir().unwrap();
    synth(d.path(), "data", "24");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20);
    let good_cfg = SWEEP.replace("STORE", "runs/f");
    let mut tried = 0;
    // The config loader, through `plan`.
    for i in 0..120 {
        let bad = fuzz::mutate(&mut rng, good_cfg.as_bytes());
        let name = format!("f{i}.yaml");
        std::fs::write(d.path().join(&name), &bad).unwrap();
        let (code, err) = checked(d.path(), &["plan", &name], "plan", &bad);
        if code == 1 {
            assert!(
                err.contains(&name),
                "plan: the error does not name {name}: {err}"
            );
        }
        tried += 1;
    }
    // `dataset build` on mutated FASTA and label files.
    let cds = std::fs::read(d.path().join("data/cds.fa")).unwrap();
    let prot = std::fs::read(d.path().join("data/protein.fa")).unwrap();
    let labels = std::fs::read(d.path().join("data/labels.tsv")).unwrap();
    for i in 0..90 {
        let which = i % 3;
        let (file, good) = match which {
            0 => ("cds.fa", &cds),
            1 => ("protein.fa", &prot),
            _ => ("labels.tsv", &labels),
        };
        let bad = fuzz::mutate(&mut rng, good);
        let w = d.path().join(format!("in{i}"));
        std::fs::create_dir_all(&w).unwrap();
        std::fs::write(w.join("cds.fa"), &cds).unwrap();
        std::fs::write(w.join("protein.fa"), &prot).unwrap();
        std::fs::write(w.join("labels.tsv"), &labels).unwrap();
        std::fs::write(w.join(file), &bad).unwrap();
        let out = format!("out{i}");
        let (code, err) = checked(
            d.path(),
            &[
                "dataset",
                "build",
                "--cds",
                &format!("in{i}/cds.fa"),
                "--proteins",
                &format!("in{i}/protein.fa"),
                "--labels",
                &format!("in{i}/labels.tsv"),
                "--tasks",
                "data/tasks.yaml",
                "--out",
                &out,
            ],
            file,
            &bad,
        );
        if code == 1 {
            assert!(
                err.contains(&format!("in{i}/")),
                "build: no input named: {err}"
            );
            assert!(!d.path().join(&out).exists(), "a failed build wrote {out}");
        }
        tried += 1;
    }
    assert!(tried >= 200);
}

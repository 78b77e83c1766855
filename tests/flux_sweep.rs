//! Flux sweeps inside a real Flux instance (`flux start --test-size=2`,
//! flux-core built by `scripts/flux-up.sh`): one scheduler-neutral test
//! body heals a model that fails on its first attempt with no user action
//! and matches a local run — on Flux and on the local Slurm; a `flux
//! cancel` midway and `resume` finish identically; a unit past its time
//! limit is resubmitted with more time; `submit --dry-run` prints the
//! scripts and the `flux submit` lines. Without a Flux build (a clone
//! without `../shared/vendor`), the Flux tests say "skipped: no flux".

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `flux` program: `GENOPROT_FLUX`, flux-up.sh's prefix, or PATH.
fn flux_bin() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("GENOPROT_FLUX").map(PathBuf::from),
        Some(PathBuf::from("/opt/flux/bin/flux")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.exists())
        .or_else(|| {
            let out = Command::new("sh")
                .args(["-c", "command -v flux"])
                .output()
                .ok()?;
            let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
            (!p.is_empty()).then(|| PathBuf::from(p))
        })
}

/// A running `flux start --test-size=2` (shut down when dropped).
struct Instance {
    flux: PathBuf,
    uri: String,
    child: Child,
    path: String,
}

impl Instance {
    fn start(dir: &Path) -> Option<Instance> {
        let Some(flux) = flux_bin() else {
            eprintln!("skipped: no flux (bash scripts/flux-up.sh builds it)");
            return None;
        };
        let uri_file = dir.join("flux-uri");
        let child = Command::new(&flux)
            .args(["start", "--test-size=2", "bash", "-c"])
            .arg(format!(
                "echo \"$FLUX_URI\" > {f}.tmp && mv {f}.tmp {f} && exec sleep 100000",
                f = uri_file.display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("flux start");
        let start = Instant::now();
        while !uri_file.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "flux start gave no FLUX_URI"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let uri = std::fs::read_to_string(&uri_file)
            .unwrap()
            .trim()
            .to_string();
        let bin = flux.parent().unwrap().display().to_string();
        let path = format!("{bin}:{}", std::env::var("PATH").unwrap_or_default());
        Some(Instance {
            flux,
            uri,
            child,
            path,
        })
    }

    fn env(&self) -> Vec<(&'static str, PathBuf)> {
        vec![
            ("FLUX_URI", PathBuf::from(&self.uri)),
            ("PATH", PathBuf::from(&self.path)),
        ]
    }

    fn flux(&self, args: &[&str]) -> String {
        let out = Command::new(&self.flux)
            .args(args)
            .env("FLUX_URI", &self.uri)
            .env("FLUX_F58_FORCE_ASCII", "1")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `flux jobs --json` of every copy of the submission genoprot recorded
    /// as `id` (`store/flux/arrays/<id>`), and how many copies there are.
    fn copies_json(&self, store: &Path, id: &str) -> (String, usize) {
        let copies = std::fs::read_to_string(store.join("flux/arrays").join(id)).unwrap();
        let ids: Vec<&str> = copies.lines().skip(1).collect();
        let mut args = vec!["jobs", "--json"];
        args.extend(&ids);
        (self.flux(&args), ids.len())
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = Command::new(&self.flux)
            .args(["shutdown", "--quiet"])
            .env("FLUX_URI", &self.uri)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scheduler the neutral test body runs on.
trait Cluster {
    /// `executor.kind`.
    fn kind(&self) -> &'static str;
    /// The executor's section (`  slurm: {...}`) with `settings` inside.
    fn section(&self, settings: &str) -> String;
    fn env(&self) -> Vec<(&'static str, PathBuf)>;
    /// Whether every task of the recorded job `id` has ended.
    fn ended(&self, store: &Path, id: &str) -> bool;
}

impl Cluster for Instance {
    fn kind(&self) -> &'static str {
        "flux"
    }
    fn section(&self, settings: &str) -> String {
        format!("  flux: {{resources: {{time: \"00:10:00\"}}, {settings}}}\n")
    }
    fn env(&self) -> Vec<(&'static str, PathBuf)> {
        Instance::env(self)
    }
    fn ended(&self, store: &Path, id: &str) -> bool {
        let (out, n) = self.copies_json(store, id);
        let v: serde_json::Value =
            serde_json::from_str(&out).unwrap_or(serde_json::json!({"jobs": []}));
        // One id: the job's object alone.
        let jobs = match v["jobs"].as_array() {
            Some(a) => a.clone(),
            None if v["id"].is_u64() => vec![v],
            None => Vec::new(),
        };
        jobs.len() == n && jobs.iter().all(|j| j["state"] == "INACTIVE")
    }
}

/// The local Slurm (scripts/slurm-up.sh).
struct Slurm;

impl Cluster for Slurm {
    fn kind(&self) -> &'static str {
        "slurm"
    }
    fn section(&self, settings: &str) -> String {
        format!("  slurm: {{partition: pdebug, time: \"00:10:00\", {settings}}}\n")
    }
    fn env(&self) -> Vec<(&'static str, PathBuf)> {
        Vec::new()
    }
    fn ended(&self, _store: &Path, id: &str) -> bool {
        use slurm::Scheduler;
        slurm::SlurmCli::new()
            .query(&[id.to_string()])
            .map(|v| !v.is_empty() && v.iter().all(|t| t.state.is_terminal()))
            .unwrap_or(false)
    }
}

fn gp(c: &dyn Cluster, dir: &Path, args: &[&str]) -> (i32, String, String) {
    let env = c.env();
    let env: Vec<(&str, &Path)> = env.iter().map(|(k, v)| (*k, v.as_path())).collect();
    common::gp_env(dir, args, &env)
}

fn config(store: &str, kind: &str, ext: &str) -> String {
    format!(
        "name: fx\ndataset: data\nstore: {store}\nseeds: [0, 1]\ntasks: [membrane, expression]\n\
         models:\n  - {{name: rscu, kind: codon, rscu: true}}\n  - {ext}\n\
         ensembles:\n  - {{name: both, members: [rscu, ext], fusion: [concat, mean-prob]}}\n\
         probe: {{hidden: [16], max_epochs: 15}}\n\
         executor:\n  kind: {kind}\n"
    )
}

/// Waits until every recorded job has ended and no new one appeared (a
/// finishing job may submit another attempt).
fn wait_for_the_chain(c: &dyn Cluster, store: &Path, timeout: Duration) {
    let start = Instant::now();
    loop {
        let ids: Vec<String> = common::slurm_jobs(store)
            .iter()
            .map(|j| j["job_id"].as_str().unwrap().to_string())
            .collect();
        if !ids.is_empty()
            && ids.iter().all(|id| c.ended(store, id))
            && common::slurm_jobs(store).len() == ids.len()
        {
            return;
        }
        assert!(
            start.elapsed() < timeout,
            "the chain did not end in {timeout:?}: {:?}",
            common::slurm_jobs(store)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn status_json(c: &dyn Cluster, dir: &Path) -> serde_json::Value {
    let (code, out, err) = gp(c, dir, &["--json", "status", "s.yaml"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

/// Runs the sweep `runs/s` ran, locally in one go (`runs/l`), and asserts
/// the same results.
fn assert_matches_a_local_run(p: &Path, ext: &str) {
    std::fs::write(p.join("l.yaml"), config("runs/l", "local", ext)).unwrap();
    let (code, _, err) = common::gp(p, &["-q", "run", "l.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        common::sorted_long_results(p, "runs/s"),
        common::sorted_long_results(p, "runs/l")
    );
}

/// The scheduler-neutral body: a model that fails on its first attempt is
/// resubmitted by the finishing job, every stage ends done, and the
/// results equal an uninterrupted local run.
fn a_failing_model_heals_and_matches_a_local_run(c: &dyn Cluster, p: &Path) {
    common::synth_data(p, 150, 3);
    let ext = common::failing_first_model("ext.ok", "echo first attempt fails >&2; exit 3");
    std::fs::write(
        p.join("s.yaml"),
        config("runs/s", c.kind(), &ext) + &c.section("cells_per_task: auto, retries: 2"),
    )
    .unwrap();
    let (code, out, err) = gp(c, p, &["submit", "s.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    wait_for_the_chain(c, &p.join("runs/s"), Duration::from_secs(900));
    let s = status_json(c, p);
    common::assert_all_done(&s);
    assert_eq!(s["attempts"]["embed"], 2, "{s}");
    assert!(s["gave_up"].is_null(), "{s}");
    assert!(p.join("runs/s/report/summary.md").exists());
    assert_matches_a_local_run(p, &ext);
}

#[test]
fn on_flux_a_failing_model_heals_and_matches_a_local_run() {
    let d = tempfile::tempdir().unwrap();
    let Some(flux) = Instance::start(d.path()) else {
        return;
    };
    a_failing_model_heals_and_matches_a_local_run(&flux, d.path());
    // Flux's own record: a copy of the first embed array failed (the
    // worker exits 1 when its model's command fails).
    let j = common::slurm_jobs(&d.path().join("runs/s"));
    let first = j.iter().find(|j| j["stage"] == "embed").unwrap();
    let id = first["job_id"].as_str().unwrap();
    let (out, _) = flux.copies_json(&d.path().join("runs/s"), id);
    assert!(out.contains("\"result\": \"FAILED\""), "{out}");
    // doctor reports the instance beside Slurm.
    let (code, out, err) = gp(&flux, d.path(), &["--json", "doctor"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let check = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "flux")
        .unwrap();
    let detail = check["detail"].as_str().unwrap();
    assert!(
        check["ok"] == true && detail.contains("flux-core 0.88.0") && detail.contains("4 cores"),
        "{check}"
    );
}

#[test]
fn on_slurm_the_same_body_heals_and_matches_a_local_run() {
    common::require_slurm();
    let d = tempfile::tempdir().unwrap();
    a_failing_model_heals_and_matches_a_local_run(&Slurm, d.path());
}

#[test]
fn a_flux_sweep_cancelled_midway_resumes_to_the_same_results_and_dry_run_shows_it() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let Some(flux) = Instance::start(p) else {
        return;
    };
    common::synth_data(p, 150, 3);
    // A slow first embedding keeps the sweep busy long enough to cancel it.
    let ext = common::failing_first_model("ext.slow", "sleep 30");
    std::fs::write(
        p.join("s.yaml"),
        config("runs/s", "flux", &ext) + &flux.section("cells_per_task: 4, retries: 0"),
    )
    .unwrap();
    let (code, out, err) = gp(&flux, p, &["submit", "--dry-run", "s.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("# flux: --job-name=gp-fx-embed"), "{out}");
    assert!(out.contains("# flux: --time-limit=600s"), "{out}");
    assert!(out.contains("flux submit --cc=0-1 --output="), "{out}");
    assert!(!p.join("runs/s/flux/arrays").exists(), "nothing submitted");

    let (code, out, err) = gp(&flux, p, &["submit", "s.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    // Wait for the slow embedding to start, then cancel everything.
    let start = Instant::now();
    while !p.join("ext.slow").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "the embedding never started"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (code, out, err) = gp(&flux, p, &["--json", "cancel", "s.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(!v["jobs"].as_array().unwrap().is_empty(), "{out}");
    wait_for_the_chain(&flux, &p.join("runs/s"), Duration::from_secs(600));
    let s = status_json(&flux, p);
    let embed = s["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|st| st["stage"] == "embed")
        .unwrap();
    assert_ne!(
        embed["done"], embed["total"],
        "cancelled before the end: {s}"
    );

    // Resume: what is left is submitted again and finishes.
    let (code, out, err) = gp(&flux, p, &["resume", "s.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    wait_for_the_chain(&flux, &p.join("runs/s"), Duration::from_secs(900));
    let s = status_json(&flux, p);
    common::assert_all_done(&s);
    assert_matches_a_local_run(p, &ext);
}

#[test]
fn a_flux_unit_past_its_time_limit_is_resubmitted_with_more_time() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let Some(flux) = Instance::start(p) else {
        return;
    };
    common::synth_data(p, 150, 3);
    let ext = common::failing_first_model("ext.ok", "sleep 300");
    // The embed stage gets 20 seconds: the first attempt times out, the
    // next gets 20 × 3.
    std::fs::write(
        p.join("s.yaml"),
        config("runs/s", "flux", &ext)
            + "  flux:\n    resources: {time: \"00:10:00\"}\n    stages: {embed: {time: \"00:20\"}}\n    cells_per_task: 4\n    time_factor: 3\n",
    )
    .unwrap();
    let (code, out, err) = gp(&flux, p, &["submit", "s.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    wait_for_the_chain(&flux, &p.join("runs/s"), Duration::from_secs(900));
    let s = status_json(&flux, p);
    common::assert_all_done(&s);
    let j = common::slurm_jobs(&p.join("runs/s"));
    let embeds: Vec<&serde_json::Value> = j.iter().filter(|j| j["stage"] == "embed").collect();
    assert_eq!(embeds.len(), 2, "{j:?}");
    assert_eq!(embeds[1]["time"], "0-00:01:00", "{j:?}");
    let id = embeds[0]["job_id"].as_str().unwrap();
    let (out, _) = flux.copies_json(&p.join("runs/s"), id);
    assert!(out.contains("TIMEOUT"), "{out}");
    assert!(p.join("runs/s/report/summary.md").exists());
}

/// results.csv without its timing column, sorted.
fn results_without_timings(store: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(store.join("results.csv")).unwrap();
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let secs = head.iter().position(|c| *c == "seconds").unwrap();
    let mut rows: Vec<String> = lines
        .map(|l| {
            let mut f: Vec<&str> = l.split(',').collect();
            f.remove(secs);
            f.join(",")
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn the_demo_sweep_on_flux_equals_the_local_run() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let Some(flux) = Instance::start(p) else {
        return;
    };
    common::synth_data(p, 1200, 7);
    let demo = std::fs::read_to_string(common::workspace_root().join("configs/demo.yaml"))
        .unwrap()
        .replace(
            "weights: fixtures/",
            &format!(
                "weights: {}/",
                common::workspace_root().join("fixtures").display()
            ),
        )
        .replace("dataset: data/demo", "dataset: data");
    let (head, _) = demo.split_once("executor:").unwrap();
    std::fs::write(
        p.join("s.yaml"),
        head.replace("store: runs/demo", "store: runs/s")
            + "executor:\n  kind: flux\n  flux: {resources: {time: \"00:30:00\"}, cells_per_task: 60}\n",
    )
    .unwrap();
    std::fs::write(
        p.join("l.yaml"),
        head.replace("store: runs/demo", "store: runs/l") + "executor: {kind: local}\n",
    )
    .unwrap();
    let (code, out, err) = gp(&flux, p, &["submit", "s.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    wait_for_the_chain(&flux, &p.join("runs/s"), Duration::from_secs(1200));
    let s = status_json(&flux, p);
    common::assert_all_done(&s);
    let (code, _, err) = common::gp(p, &["-q", "run", "l.yaml"]);
    assert_eq!(code, 0, "{err}");
    let (fx, local) = (
        results_without_timings(&p.join("runs/s")),
        results_without_timings(&p.join("runs/l")),
    );
    assert_eq!(fx.len(), 936);
    assert_eq!(fx, local);
}

#[test]
fn a_flux_probe_bundle_past_its_time_limit_is_retried_in_smaller_bundles() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let Some(flux) = Instance::start(p) else {
        return;
    };
    common::synth_data(p, 150, 3);
    // Probe bundles of 8 MLP cells get 1 second: the first attempt times
    // out; the finishing job resubmits the cells in bundles half as big
    // with at least 4 times the time, until they fit.
    std::fs::write(
        p.join("s.yaml"),
        config("runs/s", "flux", "{name: ext, kind: kmer, modality: protein, k: 1}")
            .replace("probe: {hidden: [16], max_epochs: 15}", "probe: {hidden: [64], max_epochs: 300, patience: 300}")
            + "  flux:\n    resources: {time: \"00:10:00\"}\n    stages: {probe: {time: \"00:01\"}}\n    cells_per_task: 8\n    time_factor: 4\n    retries: 4\n",
    )
    .unwrap();
    let (code, out, err) = gp(&flux, p, &["submit", "s.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    wait_for_the_chain(&flux, &p.join("runs/s"), Duration::from_secs(600));
    let s = status_json(&flux, p);
    common::assert_all_done(&s);
    let j = common::slurm_jobs(&p.join("runs/s"));
    let probes: Vec<&serde_json::Value> = j.iter().filter(|j| j["stage"] == "probe").collect();
    assert!(probes.len() >= 2, "{j:?}");
    // Cells per bundle: the manifest's lines hold the cells, one bundle a line.
    let per_bundle = |job: &serde_json::Value| {
        let text = std::fs::read_to_string(job["bundles"].as_str().unwrap()).unwrap();
        text.lines()
            .map(|l| l.split_whitespace().count())
            .max()
            .unwrap_or(0)
    };
    let (first, retry) = (probes[0], probes[1]);
    assert_eq!(retry["attempt"], 2, "{j:?}");
    assert!(per_bundle(retry) * 2 <= per_bundle(first).max(2), "{j:?}");
    // More time (genoprot rounds a retry's limit up to whole minutes).
    let t = |job: &serde_json::Value| slurm::parse_time(job["time"].as_str().unwrap()).unwrap();
    assert!(t(retry) >= 4 * t(first), "{j:?}");
    let id = first["job_id"].as_str().unwrap();
    assert!(
        flux.copies_json(&p.join("runs/s"), id)
            .0
            .contains("TIMEOUT")
    );
}

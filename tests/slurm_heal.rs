//! A Slurm sweep that heals itself, on the real local Slurm (with accounting
//! where scripts/slurm-up.sh could start slurmdbd): a model that fails on
//! its first attempt and a model that runs past a tiny time limit both
//! finish with no user action after `submit`; the healed results equal an
//! uninterrupted local run; sbatch calls grow with stages × attempts, not
//! with cells; per-stage and per-model resources reach the scripts.

mod common;

use slurm::{Scheduler, SlurmCli};
use std::path::Path;
use std::time::{Duration, Instant};

fn config(store: &str, executor: &str, extra_model: &str) -> String {
    format!(
        "name: heal\ndataset: data\nstore: {store}\nseeds: [0, 1]\ntasks: [membrane, expression]\n\
         models:\n  - {{name: rscu, kind: codon, rscu: true}}\n  - {extra_model}\n\
         ensembles:\n  - {{name: both, members: [rscu, ext], fusion: [concat, mean-prob]}}\n\
         probe: {{hidden: [16], max_epochs: 15}}\n\
         executor:\n  kind: {executor}\n"
    )
}

fn setup() -> tempfile::TempDir {
    common::require_slurm();
    let d = tempfile::tempdir().unwrap();
    common::synth_data(d.path(), 150, 3);
    d
}

fn jobs(dir: &Path) -> Vec<serde_json::Value> {
    common::slurm_jobs(&dir.join("runs/s"))
}

fn wait_for_the_chain(dir: &Path, timeout: Duration) {
    common::wait_for_slurm_chain(&dir.join("runs/s"), timeout);
}

fn status_json(dir: &Path) -> serde_json::Value {
    let (code, out, err) = common::gp(dir, &["--json", "status", "s.yaml"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn a_model_that_fails_once_heals_with_no_user_action_and_matches_a_local_run() {
    let d = setup();
    let p = d.path();
    let ext = common::failing_first_model("ext.ok", "echo first attempt fails >&2; exit 3");
    std::fs::write(
        p.join("s.yaml"),
        config("runs/s", "slurm", &ext)
            + "  slurm: {partition: pdebug, time: \"00:10:00\", cells_per_task: auto, retries: 2}\n",
    )
    .unwrap();
    let (code, out, err) = common::gp(p, &["submit", "s.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    wait_for_the_chain(p, Duration::from_secs(300));

    let s = status_json(p);
    common::assert_all_done(&s);
    assert_eq!(s["attempts"]["embed"], 2, "{s}");
    assert_eq!(s["max_attempts"], 3, "{s}");
    assert!(s["gave_up"].is_null(), "{s}");
    assert!(p.join("runs/s/report/summary.md").exists());
    // The first finishing job said what it resubmitted.
    let j = jobs(p);
    let first_finish = j.iter().find(|j| j["stage"] == "aggregate").unwrap();
    let log = std::fs::read_to_string(p.join(format!(
        "runs/s/logs/slurm/gp-heal-aggregate-{}.out",
        first_finish["job_id"].as_str().unwrap()
    )))
    .unwrap();
    assert!(log.contains("attempt 2: resubmitted"), "{log}");
    // O(stages × attempts) sbatch calls: embed, probe, fusion and the
    // finishing job per attempt, for 2 models × 2 tasks × 2 seeds × 5 rows.
    let attempts = j
        .iter()
        .map(|j| j["attempt"].as_u64().unwrap())
        .max()
        .unwrap();
    assert_eq!(attempts, 2);
    assert!(j.len() <= 4 * attempts as usize, "{j:?}");

    // With accounting, sacct (which answers for jobs the controller has
    // purged) agrees with the controller once it has caught up.
    let ids: Vec<String> = j
        .iter()
        .map(|j| j["job_id"].as_str().unwrap().to_string())
        .collect();
    let key = |v: Vec<slurm::TaskStatus>| {
        let mut k: Vec<(String, String)> =
            v.into_iter().map(|t| (t.id, t.state.to_string())).collect();
        k.sort();
        k
    };
    let cli = SlurmCli::new();
    if cli.has_accounting() {
        let live = key(cli.query(&ids).unwrap());
        let start = Instant::now();
        loop {
            let acct = key(cli.query_sacct(&ids).unwrap());
            if acct == live {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "sacct {acct:?} != scontrol {live:?}"
            );
            std::thread::sleep(Duration::from_secs(1));
        }
    } else {
        eprintln!("NOTE: the local Slurm has no accounting; sacct was not exercised");
    }

    // The same sweep run locally in one go gives the same metrics.
    std::fs::write(p.join("l.yaml"), config("runs/l", "local", &ext)).unwrap();
    let (code, _, err) = common::gp(p, &["-q", "run", "l.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        common::sorted_long_results(p, "runs/s"),
        common::sorted_long_results(p, "runs/l")
    );
}

#[test]
fn a_unit_past_its_time_limit_is_resubmitted_with_more_time_and_finishes() {
    let d = setup();
    let p = d.path();
    let ext = common::failing_first_model("ext.ok", "sleep 300");
    // The embed stage on pshort (MaxTime 2 min) with 1 minute: the first
    // attempt times out, the next gets 1 × 3 minutes capped at 2.
    let slurm = "  slurm:\n    partition: pdebug\n    time: \"00:10:00\"\n    cells_per_task: 4\n    time_factor: 3\n\
                 \x20   stages: {embed: {partition: pshort, time: \"1\"}, aggregate: {partition: pbatch}}\n";
    std::fs::write(p.join("s.yaml"), config("runs/s", "slurm", &ext) + slurm).unwrap();
    // With accounting, genoprot (and, through sbatch's --export=ALL, its
    // finishing jobs) sees a controller that has purged every job, as on a
    // cluster with the default MinJobAge: states come from sacct alone.
    let accounting = SlurmCli::new().has_accounting();
    let path = if accounting {
        let shim = p.join("shim");
        std::fs::create_dir(&shim).unwrap();
        let real = String::from_utf8(
            std::process::Command::new("sh")
                .args(["-c", "command -v scontrol"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        let f = shim.join("scontrol");
        std::fs::write(
            &f,
            format!(
                "#!/bin/sh\necho \"$*\" >> {}/calls.log\nif [ \"$1\" = show ] && [ \"$2\" = job ]; then\n  echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1\nfi\nexec {} \"$@\"\n",
                shim.display(),
                real.trim()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
        format!("{}:{}", shim.display(), std::env::var("PATH").unwrap())
    } else {
        eprintln!("NOTE: the local Slurm has no accounting; states come from scontrol");
        std::env::var("PATH").unwrap()
    };
    let (code, out, err) = common::gp_env(p, &["submit", "s.yaml"], &[("PATH", Path::new(&path))]);
    assert_eq!(code, 0, "{out}{err}");
    let script = |name: &str| std::fs::read_to_string(p.join("runs/s/slurm").join(name)).unwrap();
    assert!(script("embed.sh").contains("#SBATCH --partition=pshort\n#SBATCH --time=1\n"));
    assert!(script("probe.sh").contains("#SBATCH --partition=pdebug\n#SBATCH --time=00:10:00\n"));
    assert!(script("aggregate.sh").contains("#SBATCH --partition=pbatch\n"));
    wait_for_the_chain(p, Duration::from_secs(420));

    let s = status_json(p);
    common::assert_all_done(&s);
    let j = jobs(p);
    let embeds: Vec<&serde_json::Value> = j.iter().filter(|j| j["stage"] == "embed").collect();
    assert_eq!(embeds.len(), 2, "{j:?}");
    assert_eq!(embeds[1]["time"], "0-00:02:00", "{j:?}");
    assert_eq!(embeds[1]["attempt"], 2);
    if accounting {
        // The finishing jobs asked the "purged" controller, then sacct.
        let calls = std::fs::read_to_string(p.join("shim/calls.log")).unwrap();
        assert!(calls.contains("show job -o"), "{calls}");
    }
    let first = embeds[0]["job_id"].as_str().unwrap().to_string();
    let states = SlurmCli::new().query(&[first]).unwrap();
    assert!(
        states.iter().any(|t| t.state == slurm::JobState::Timeout),
        "{states:?}"
    );
    assert!(p.join("runs/s/report/summary.md").exists());
}

#[test]
fn per_model_resources_get_their_own_embed_array() {
    let d = setup();
    let p = d.path();
    let ext = "{name: ext, kind: kmer, modality: protein, k: 1}";
    let slurm = "  slurm:\n    account: mybank\n    partition: pbatch\n    time: \"00:10:00\"\n\
                 \x20   stages: {embed: {partition: pdebug, gpus_per_node: 1}}\n\
                 \x20   models: {ext: {gpus_per_node: 2, time: \"02:00:00\"}}\n";
    std::fs::write(p.join("s.yaml"), config("runs/s", "slurm", ext) + slurm).unwrap();
    let (code, out, err) = common::gp(p, &["submit", "s.yaml", "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    let script = |name: &str| std::fs::read_to_string(p.join("runs/s/slurm").join(name)).unwrap();
    let embed = script("embed.sh");
    let ext_script = script("embed-ext.sh");
    assert!(
        embed.contains(
            "#SBATCH --account=mybank\n#SBATCH --partition=pdebug\n#SBATCH --time=00:10:00\n"
        ) && embed.contains("#SBATCH --gpus-per-node=1\n"),
        "{embed}"
    );
    assert!(
        ext_script.contains("#SBATCH --time=02:00:00\n")
            && ext_script.contains("#SBATCH --gpus-per-node=2\n"),
        "{ext_script}"
    );
    let probe = script("probe.sh");
    assert!(
        probe.contains("#SBATCH --partition=pbatch\n") && !probe.contains("gpus"),
        "{probe}"
    );
    // One embed array per shape.
    let commands = out.split("would run:").nth(1).unwrap();
    assert_eq!(commands.matches("slurm/embed.sh").count(), 1, "{out}");
    assert_eq!(commands.matches("slurm/embed-ext.sh").count(), 1, "{out}");
    // A model key that names no model is a config error at its line.
    std::fs::write(
        p.join("b.yaml"),
        config("runs/s", "slurm", ext) + "  slurm:\n    models: {exx: {time: \"1\"}}\n",
    )
    .unwrap();
    let (code, _, err) = common::gp(p, &["submit", "b.yaml", "--dry-run"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("b.yaml:") && err.contains("executor.slurm.models.exx: no model `exx`"),
        "{err}"
    );
}

//! The whole batch path — submit → arrays → the finishing job → heal →
//! aggregate and report — through the neutral scheduler seam, on the
//! `processes` scheduler (array tasks as local processes, no cluster): the
//! proof that a second scheduler is one module. A model that fails on its
//! first attempt heals with no user action; the healed results equal an
//! uninterrupted local run's; status and cancel go through the same seam.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

fn config(store: &str, executor: &str, ext: &str) -> String {
    format!(
        "name: proc\ndataset: data\nstore: {store}\nseeds: [0, 1]\ntasks: [membrane, expression]\n\
         models:\n  - {{name: rscu, kind: codon, rscu: true}}\n  - {ext}\n\
         ensembles:\n  - {{name: both, members: [rscu, ext], fusion: [concat, mean-prob]}}\n\
         executor:\n  kind: {executor}\n"
    )
}

fn setup() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    common::synth_data(d.path(), 150, 3);
    d
}

fn jobs(store: &Path) -> Vec<serde_json::Value> {
    common::slurm_jobs(store)
}

/// Waits until every recorded job's runner has ended and no new job
/// appeared meanwhile (a finishing job may chain another attempt).
fn wait_for_the_chain(store: &Path, timeout: Duration) {
    let start = Instant::now();
    loop {
        let ids: Vec<String> = jobs(store)
            .iter()
            .map(|j| j["job_id"].as_str().unwrap().to_string())
            .collect();
        let ended = ids
            .iter()
            .all(|id| store.join("processes/jobs").join(id).join("ended").exists());
        if !ids.is_empty() && ended && jobs(store).len() == ids.len() {
            return;
        }
        assert!(
            start.elapsed() < timeout,
            "the chain did not end in {timeout:?}: {:?}",
            jobs(store)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn a_second_scheduler_drives_submit_heal_and_aggregate_through_the_neutral_seam() {
    let d = setup();
    let p = d.path();
    let ext = common::failing_first_model("ext.ok", "echo first attempt fails >&2; exit 3");
    std::fs::write(
        p.join("s.yaml"),
        config("runs/s", "processes", &ext) + "  processes: {cells_per_task: 3, retries: 1}\n",
    )
    .unwrap();
    // --dry-run writes the scripts and says what it would submit.
    let (code, out, err) = common::gp(p, &["submit", "--dry-run", "s.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("#PROCESSES job-name=gp-proc-embed"), "{out}");
    assert!(out.contains("processes-submit --array=0-1"), "{out}");
    assert!(
        !p.join("runs/s/processes/jobs").exists(),
        "nothing submitted"
    );

    let (code, out, err) = common::gp(p, &["submit", "s.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("submitted embed job 1 (2 tasks)"), "{out}");
    let store = p.join("runs/s");
    wait_for_the_chain(&store, Duration::from_secs(300));

    // Healed with no user action: attempt 2 of the embed stage, all done.
    let (code, out, err) = common::gp(p, &["--json", "status", "s.yaml"]);
    assert_eq!(code, 0, "{err}");
    let s: serde_json::Value = serde_json::from_str(&out).unwrap();
    common::assert_all_done(&s);
    assert_eq!(s["attempts"]["embed"], 2, "{s}");
    assert_eq!(s["max_attempts"], 2, "{s}");
    assert!(s["gave_up"].is_null(), "{s}");
    // The first finishing job said what it resubmitted; the last reported.
    let j = jobs(&store);
    let first_finish = j.iter().find(|j| j["stage"] == "aggregate").unwrap();
    let log = std::fs::read_to_string(store.join(format!(
        "logs/processes/gp-proc-aggregate-{}.out",
        first_finish["job_id"].as_str().unwrap()
    )))
    .unwrap();
    assert!(log.contains("attempt 2: resubmitted"), "{log}");
    assert!(store.join("report/summary.md").exists());
    // Bundles of 3 cells per array task: 2 models × 2 tasks × 2 seeds of
    // probes plus concat = 12 cells in 4 tasks on the first attempt.
    let probe = j.iter().find(|j| j["stage"] == "probe").unwrap();
    assert_eq!(probe["indices"].as_array().unwrap().len(), 4, "{probe}");

    // The same sweep run locally in one go gives the same metrics.
    std::fs::write(p.join("l.yaml"), config("runs/l", "local", &ext)).unwrap();
    let (code, _, err) = common::gp(p, &["-q", "run", "l.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        common::sorted_long_results(p, "runs/s"),
        common::sorted_long_results(p, "runs/l")
    );

    // Nothing left: a second submit submits nothing; cancel has nothing
    // queued or running to stop.
    let (code, out, err) = common::gp(p, &["submit", "s.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("nothing to submit"), "{out}");
    let (code, out, err) = common::gp(p, &["--json", "cancel", "s.yaml"]);
    assert_eq!(code, 0, "{err}");
    let c: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(c["jobs"].as_array().is_none_or(|a| a.is_empty()), "{c}");
}

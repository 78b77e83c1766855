//! The Slurm room over the `slurm` crate's recording fake: submissions,
//! activity, cancel and the finishing job's healing, as sbatch sees them.

use super::Slurm;
use crate::executor::batch::Batch;
use crate::executor::{Executor, Launch};
use crate::sweep::Sweep;
use slurm::JobState;
use slurm::{RecordedCall, RecordingScheduler};
use std::path::{Path, PathBuf};

/// The batch executor over Slurm over the fake.
fn batch<'a>(fake: &'a RecordingScheduler, sweep: &Sweep) -> Batch<'a> {
    Batch::new(
        Box::new(Slurm::over(Box::new(fake), &sweep.cfg)),
        sweep.cfg.executor.slurm.batch(),
    )
}

/// A two-model Slurm sweep of one task on a synthetic dataset.
fn sweep(dir: &Path) -> (Sweep, PathBuf) {
    sweep_with(
        dir,
        "{partition: pdebug, launcher: mpirun, cells_per_task: 1}",
    )
}

fn sweep_with(dir: &Path, slurm: &str) -> (Sweep, PathBuf) {
    let mut ds = workers::dataset::synth::synthesize(&workers::dataset::synth::SynthConfig {
        genes: 120,
        ..Default::default()
    });
    ds.write(&dir.join("data"), false).unwrap();
    let config = dir.join("s.yaml");
    std::fs::write(
        &config,
        format!(
            "name: s\ndataset: {d}/data\nstore: {d}/runs/s\nseeds: [0, 1]\ntasks: [membrane]\n\
             models:\n  - {{name: rscu, kind: codon, rscu: true}}\n  - {{name: aac, kind: kmer, modality: protein, k: 1}}\n\
             ensembles:\n  - {{name: both, members: [rscu, aac], fusion: [mean-prob]}}\n\
             executor: {{kind: slurm, slurm: {slurm}}}\n",
            d = dir.display()
        ),
    )
    .unwrap();
    (Sweep::open(&config).unwrap(), config)
}

#[test]
fn launch_activity_and_cancel_go_through_the_scheduler() {
    let d = tempfile::tempdir().unwrap();
    let (sweep, config) = sweep(d.path());
    let fake = RecordingScheduler::default();
    let ex = batch(&fake, &sweep);
    // Nothing submitted yet: no activity, nothing to cancel, no calls.
    assert!(ex.activity(&sweep).unwrap().jobs.is_empty());
    assert!(ex.cancel(&sweep).unwrap().jobs.is_empty());
    assert!(fake.calls().is_empty());

    let Launch::Batch(r) = ex.launch(&sweep, &config, false).unwrap() else {
        panic!("a Slurm launch")
    };
    // One array per stage with work, one cell per array task
    // (`cells_per_task: 1`): 2 embeddings, 2 models × 2 seeds of probes,
    // 2 seeds of the late fusion; then the aggregate job.
    let stages: Vec<(&str, usize)> = r.jobs.iter().map(|j| (j.stage.as_str(), j.tasks)).collect();
    assert_eq!(
        stages,
        [("embed", 2), ("probe", 4), ("fusion", 2), ("aggregate", 1)],
        "{r:?}"
    );
    let subs = fake.submissions();
    assert_eq!(subs.len(), 4);
    assert!(subs[0].0.ends_with("slurm/embed.sh"), "{subs:?}");
    // The aggregate job runs after every array, whatever their outcome.
    assert!(
        subs[3]
            .1
            .iter()
            .any(|a| a.starts_with("--dependency=afterany:")),
        "{subs:?}"
    );

    // Slurm's states show per stage; a failed task names its log.
    let probe = r.jobs[1].job_id.clone();
    fake.set_state(&probe, Some(0), JobState::Failed, Some(1));
    fake.set_state(&probe, Some(1), JobState::Running, None);
    let a = ex.activity(&sweep).unwrap();
    assert_eq!(a.jobs["probe"].get("FAILED"), Some(&1), "{a:?}");
    assert_eq!(a.jobs["probe"].get("RUNNING"), Some(&1), "{a:?}");
    assert_eq!(a.failed_jobs.len(), 1);
    assert!(a.failed_jobs[0].contains(".out"), "{:?}", a.failed_jobs);

    // A second launch submits nothing that is queued or running.
    let Launch::Batch(again) = ex.launch(&sweep, &config, false).unwrap() else {
        panic!()
    };
    assert!(again.skipped_busy > 0, "{again:?}");

    // Cancel reaches every recorded job that is not finished.
    let stopped = ex.cancel(&sweep).unwrap();
    assert!(stopped.jobs.contains(&probe), "{stopped:?}");
    assert!(
        fake.calls()
            .iter()
            .any(|c| matches!(c, RecordedCall::Cancel(ids) if ids.contains(&probe))),
        "{:?}",
        fake.calls()
    );
}

/// The `--time=` argument and the manifest of a recorded submission.
fn args_of(fake: &RecordingScheduler, job: &str) -> Vec<String> {
    fake.calls()
        .into_iter()
        .find_map(|c| match c {
            RecordedCall::Submit { args, id, .. } if id == job => Some(args),
            _ => None,
        })
        .unwrap()
}

#[test]
fn the_finishing_job_resubmits_failures_gives_timeouts_more_time_then_gives_up() {
    let d = tempfile::tempdir().unwrap();
    let (sweep, config) = sweep_with(
        d.path(),
        "{partition: pdebug, time: \"00:10:00\", launcher: mpirun, cells_per_task: 2, retries: 1, time_factor: 2}",
    );
    let fake = RecordingScheduler::default();
    fake.set_max_time(Some(std::time::Duration::from_secs(15 * 60)));
    let ex = batch(&fake, &sweep);
    let Launch::Batch(first) = ex.launch(&sweep, &config, false).unwrap() else {
        panic!()
    };
    let ids: Vec<String> = first.jobs.iter().map(|j| j.job_id.clone()).collect();
    // Nothing really ran (the fake runs nothing): the embeddings "failed",
    // probe bundle 0 hit its time limit, the rest failed.
    fake.set_state(&ids[0], Some(0), JobState::Failed, Some(1));
    fake.set_state(&ids[0], Some(1), JobState::Failed, Some(1));
    fake.set_state(&ids[1], Some(0), JobState::Timeout, Some(0));
    fake.set_state(&ids[1], Some(1), JobState::Failed, Some(1));
    fake.set_state(&ids[2], Some(0), JobState::Failed, Some(1));
    fake.set_state(&ids[3], None, JobState::Running, None);
    let before = fake.submissions().len();
    let out = ex.finish(&sweep, &config).unwrap();
    let crate::executor::batch::heal::Finish::Resubmitted {
        attempt,
        jobs,
        timed_out,
        ..
    } = &out
    else {
        panic!("{out:?}")
    };
    assert_eq!((*attempt, *timed_out), (2, 2), "{out:?}");
    // embed, probe (the rest), probe (timed out: more time, half the
    // bundle), fusion, and a new finishing job: O(stages) calls.
    let subs = crate::executor::batch::journal::submissions(&sweep.cfg);
    let new: Vec<&crate::executor::batch::journal::Submission> =
        subs.iter().filter(|s| jobs.contains(&s.job_id)).collect();
    assert_eq!(fake.submissions().len() - before, 5, "{new:?}");
    assert!(new.iter().all(|s| s.attempt == 2), "{new:?}");
    let longer = new
        .iter()
        .find(|s| s.time.as_deref() == Some("0-00:15:00"))
        .expect("the timed-out bundle gets 10 min × 2, capped at MaxTime 15 min");
    assert_eq!(longer.stage, crate::grid::Stage::Probe);
    let lines =
        crate::executor::batch::bundles::read_manifest(longer.bundles.as_ref().unwrap()).unwrap();
    assert_eq!(
        lines,
        [vec![lines[0][0].clone()], vec![lines[1][0].clone()]]
    );
    assert!(args_of(&fake, &longer.job_id).contains(&"--time=0-00:15:00".to_string()));
    // The probes wait for the embeddings whatever their outcome (one
    // failed model must not hold back the others' cells).
    let probe = new
        .iter()
        .find(|s| s.stage == crate::grid::Stage::Probe)
        .unwrap();
    assert!(
        args_of(&fake, &probe.job_id)
            .iter()
            .any(|a| a.starts_with("--dependency=afterany:"))
    );
    // The new finishing job waits for every new array.
    let fin = new.last().unwrap();
    assert_eq!(fin.stage, crate::grid::Stage::Aggregate);
    let dep = args_of(&fake, &fin.job_id)
        .into_iter()
        .find(|a| a.starts_with("--dependency=afterany:"))
        .unwrap();
    for s in &new[..new.len() - 1] {
        assert!(dep.contains(&s.job_id), "{dep}");
    }
    // Status shows the attempt.
    let a = ex.activity(&sweep).unwrap();
    assert_eq!(a.retries.attempts.get("probe"), Some(&2));
    assert_eq!(a.retries.max_attempts, Some(2));

    // Attempt 2 fails too: retries (1) are used up.
    for s in &new {
        for i in &s.indices {
            fake.set_state(&s.job_id, Some(*i), JobState::Failed, Some(1));
        }
        fake.set_state(&s.job_id, None, JobState::Failed, Some(1));
    }
    let n = fake.submissions().len();
    let out = ex.finish(&sweep, &config).unwrap();
    let crate::executor::batch::heal::Finish::GaveUp { units, .. } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(fake.submissions().len(), n, "nothing resubmitted");
    assert_eq!(
        units.len(),
        2 + 4 + 2,
        "every unit, with its reason: {units:?}"
    );
    assert!(
        units
            .iter()
            .all(|g| g.attempts == 2 && g.last.starts_with("FAILED"))
    );
    assert!(units.iter().any(|g| g.what.contains(" × membrane × seed ")));
    let a = ex.activity(&sweep).unwrap();
    assert_eq!(a.retries.gave_up.len(), 8);

    // `resume --retry-given-up`: attempts count from now on.
    std::thread::sleep(std::time::Duration::from_millis(20));
    crate::executor::batch::journal::reset_attempts(&sweep.cfg).unwrap();
    assert!(ex.activity(&sweep).unwrap().retries.gave_up.is_empty());
    let out = ex.finish(&sweep, &config).unwrap();
    let crate::executor::batch::heal::Finish::Resubmitted { attempt, .. } = &out else {
        panic!("{out:?}")
    };
    assert_eq!(*attempt, 1);
}

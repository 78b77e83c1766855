//! Smoke tests against the real local Slurm (scripts/slurm-up.sh): arrays,
//! afterok dependencies, final states, cancel. Every wait has a timeout.

mod common;

use slurm::{
    Dependency, DependencyKind, JobOptions, JobState, Resources, Scheduler, SlurmCli, wait_terminal,
};
use std::path::Path;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(90);
const POLL: Duration = Duration::from_millis(300);

fn script(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    let opts = JobOptions {
        job_name: Some(format!("gp-smoke-{name}")),
        resources: Resources {
            partition: Some("pdebug".into()),
            time: Some("00:05:00".into()),
            ..Default::default()
        },
        output: Some(dir.join(format!("{name}-%A_%a.out")).display().to_string()),
        ..Default::default()
    };
    let p = dir.join(format!("{name}.sh"));
    std::fs::write(&p, opts.render(body).unwrap()).unwrap();
    p
}

#[test]
fn array_tasks_write_files_then_afterok_job_runs_after_them() {
    common::require_slurm();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sched = SlurmCli::new();
    let arr = script(
        d,
        "array",
        &format!(
            "sleep 1\necho \"task $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_JOB_ID\" > {}/task_$SLURM_ARRAY_TASK_ID.txt\n",
            d.display()
        ),
    );
    let array_id = sched.submit(&arr, &["--array=0-3".into()]).unwrap();
    assert!(array_id.chars().all(|c| c.is_ascii_digit()), "{array_id}");

    // The dependent job records how many task files existed when it started.
    let after = script(
        d,
        "after",
        &format!("ls {0}/task_*.txt | wc -l > {0}/after.txt\n", d.display()),
    );
    let dep = Dependency::new(DependencyKind::AfterOk, [array_id.clone()])
        .to_arg()
        .unwrap();
    let after_id = sched.submit(&after, &[dep]).unwrap();

    let states = wait_terminal(&sched, &[array_id.clone(), after_id.clone()], WAIT, POLL).unwrap();
    let tasks: Vec<_> = states.iter().filter(|t| t.job == array_id).collect();
    assert_eq!(tasks.len(), 4, "{states:?}");
    for t in &tasks {
        assert_eq!(t.state, JobState::Completed, "{t:?}");
        assert_eq!(t.exit_code, Some(0));
        let i = t.array_index.unwrap();
        let text = std::fs::read_to_string(d.join(format!("task_{i}.txt"))).unwrap();
        assert_eq!(text.trim(), format!("task {i} of {array_id}"));
    }
    let a = states.iter().find(|t| t.job == after_id).unwrap();
    assert_eq!(a.state, JobState::Completed);
    let seen = std::fs::read_to_string(d.join("after.txt")).unwrap();
    assert_eq!(
        seen.trim(),
        "4",
        "the afterok job started before all array tasks finished"
    );
}

#[test]
fn failing_task_reads_back_failed_and_blocks_afterok_until_cancelled() {
    common::require_slurm();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sched = SlurmCli::new();
    let arr = script(
        d,
        "fail",
        "if [ \"$SLURM_ARRAY_TASK_ID\" = 1 ]; then echo boom >&2; exit 1; fi\n",
    );
    let array_id = sched.submit(&arr, &["--array=0-1".into()]).unwrap();
    let after = script(d, "never", &format!("touch {}/never-ran\n", d.display()));
    let dep = Dependency::new(DependencyKind::AfterOk, [array_id.clone()])
        .to_arg()
        .unwrap();
    let after_id = sched.submit(&after, &[dep]).unwrap();

    let states = wait_terminal(&sched, std::slice::from_ref(&array_id), WAIT, POLL).unwrap();
    let by_index = |i| states.iter().find(|t| t.array_index == Some(i)).unwrap();
    assert_eq!(by_index(0).state, JobState::Completed);
    assert_eq!(by_index(1).state, JobState::Failed);
    assert_eq!(by_index(1).exit_code, Some(1));

    // afterok can never be satisfied: the job stays pending until cancelled.
    let s = sched.query(std::slice::from_ref(&after_id)).unwrap();
    assert_eq!(s[0].state, JobState::Pending, "{s:?}");
    sched.cancel(std::slice::from_ref(&after_id)).unwrap();
    let s = wait_terminal(&sched, std::slice::from_ref(&after_id), WAIT, POLL).unwrap();
    assert_eq!(s[0].state, JobState::Cancelled);
    assert!(!d.join("never-ran").exists());
}

#[test]
fn refused_submission_carries_sbatch_message() {
    common::require_slurm();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.sh");
    let opts = JobOptions {
        resources: Resources {
            partition: Some("no-such-partition".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    std::fs::write(&p, opts.render("true").unwrap()).unwrap();
    let err = SlurmCli::new().submit(&p, &[]).unwrap_err().to_string();
    assert!(
        err.contains("invalid partition") || err.contains("Invalid partition"),
        "{err}"
    );
    assert!(err.contains("bad.sh"), "{err}");
}

#[test]
fn reads_max_array_size_from_the_cluster() {
    common::require_slurm();
    assert_eq!(SlurmCli::new().max_array_size().unwrap(), 100_001);
}

//! The Flux scheduler over recorded `flux` answers: the submit line of an
//! array with dependencies and a retry's time, f58 ids kept per copy,
//! states and exceptions from `flux jobs --json`, unknown ids, cancel,
//! queue time limits from `flux config get`.

use super::*;
use crate::executor::batch::scheduler::ArrayChunk;
use std::sync::Mutex;

/// Answers `flux` calls from a queue of recorded outputs; keeps the calls.
#[derive(Default)]
struct Recorded {
    calls: Mutex<Vec<Vec<String>>>,
    answers: Mutex<Vec<Result<String, String>>>,
}

impl FluxCommand for std::sync::Arc<Recorded> {
    fn run(&self, args: &[String]) -> Result<String, SchedulerError> {
        self.calls.lock().unwrap().push(args.to_vec());
        let mut a = self.answers.lock().unwrap();
        assert!(!a.is_empty(), "unexpected call flux {args:?}");
        a.remove(0).map_err(SchedulerError)
    }
}

fn sweep(dir: &Path, flux: &str) -> SweepConfig {
    let text = format!(
        "name: t\ndataset: data\nstore: {}\nmodels:\n  - {{name: k3, kind: kmer, modality: dna, k: 3}}\n\
         executor:\n  kind: flux\n  flux: {flux}\n",
        dir.join("store").display()
    );
    SweepConfig::parse(&text, "t.yaml").unwrap()
}

fn flux(
    dir: &Path,
    flux_yaml: &str,
    answers: Vec<Result<String, String>>,
) -> (Flux, std::sync::Arc<Recorded>) {
    let rec = std::sync::Arc::new(Recorded::default());
    *rec.answers.lock().unwrap() = answers;
    (
        Flux::over(Box::new(rec.clone()), &sweep(dir, flux_yaml)),
        rec,
    )
}

/// `flux jobs --json` of a job that completed, one that exited 3, one
/// cancelled while running, one that timed out, one failed by its
/// dependency, one still waiting (recorded from flux-core 0.88.0; fields
/// the parser does not read trimmed).
const JOBS: &str = r#"{"jobs": [
 {"id": 14931722240, "jobid": "fPkTyou", "state": "INACTIVE", "result": "COMPLETED", "returncode": 0, "waitstatus": 0, "success": true, "exception": {"occurred": false}},
 {"id": 14931722241, "jobid": "fPkTyov", "state": "INACTIVE", "result": "FAILED", "returncode": 3, "waitstatus": 768, "success": false, "exception": {"occurred": false}},
 {"id": 14931722242, "state": "INACTIVE", "result": "CANCELED", "returncode": 143, "exception": {"occurred": true, "severity": 0, "type": "cancel", "note": ""}},
 {"id": 14931722243, "state": "INACTIVE", "result": "TIMEOUT", "returncode": 142, "exception": {"occurred": true, "severity": 0, "type": "timeout", "note": "resource allocation expired"}},
 {"id": 14931722244, "state": "INACTIVE", "result": "FAILED", "exception": {"occurred": true, "severity": 0, "type": "dependency", "note": "dependency: afterok: job fPkTyov failed"}},
 {"id": 14931722245, "state": "SCHED", "exception": {"occurred": false}}
]}"#;

#[test]
fn an_array_is_one_submit_with_every_copy_kept_and_its_states_mapped() {
    let d = tempfile::tempdir().unwrap();
    let script = d.path().join("probe.sh");
    let (fx, rec) = flux(
        d.path(),
        "{bank: mybank, resources: {queue: pbatch, time: \"00:30:00\", cores_per_task: 2}, stages: {probe: {queue: pdebug}}}",
        vec![
            Ok("fPkTyou\nfPkTyov\nfPkTyow\n".into()),
            Ok(JOBS.replace("14931722242", "14931722999")),
        ],
    );
    let text = fx
        .render(&ScriptSpec {
            stage: Stage::Probe,
            model: None,
            name: "gp-t-probe".into(),
            log_dir: d.path().join("logs"),
            body: "cd /x\nexec genoprot worker probe\n".into(),
        })
        .unwrap();
    assert!(
        text.starts_with("#!/usr/bin/env bash\n# flux: --job-name=gp-t-probe\n")
            && text.contains("# flux: --bank=mybank\n# flux: --queue=pdebug\n# flux: --time-limit=1800s\n# flux: --cores-per-task=2\n"),
        "{text}"
    );
    std::fs::write(&script, &text).unwrap();
    // A dependency on a job genoprot did not record is passed as it is.
    let job = JobRequest {
        script: &script,
        array: Some(ArrayChunk { offset: 0, len: 3 }),
        throttle: None,
        env: vec![("GENOPROT_BUNDLES".into(), "/b/m.tsv".into())],
        time: Some("0-01:00:00".into()),
        after: Some((After::Any, vec!["fEXTERNAL".into()])),
    };
    let id = fx.submit(&job).unwrap();
    assert_eq!(id, "fPkTyou");
    let call = rec.calls.lock().unwrap()[0].clone();
    let line = call.join(" ");
    assert!(line.starts_with("submit --cc=0-2 --output="), "{line}");
    assert!(
        line.contains("gp-t-probe-s") && line.contains("_{cc}.out"),
        "{line}"
    );
    for want in [
        "--job-name=gp-t-probe",
        "--bank=mybank",
        "--queue=pdebug",
        "--time-limit=1800s",
        "--env=GENOPROT_BUNDLES=/b/m.tsv",
        "--time-limit=3600s",
        "--dependency=afterany:fEXTERNAL",
    ] {
        assert!(call.contains(&want.to_string()), "{want}: {line}");
    }
    assert_eq!(
        &call[call.len() - 2..],
        ["bash".to_string(), script.display().to_string()]
    );
    // The task index and the copies' log files.
    assert_eq!(fx.task_index_var(), "${FLUX_JOB_CC:-0}");
    let log = fx.task_log(Path::new("/l"), "gp-t-probe", &id, 2);
    let name = log.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("gp-t-probe-s") && name.ends_with("_2.out"),
        "{name}"
    );
    // States: one call for the three copies, mapped by number.
    let st = fx.query(std::slice::from_ref(&id)).unwrap();
    let call = rec.calls.lock().unwrap()[1].clone();
    assert_eq!(call, ["jobs", "--json", "fPkTyou", "fPkTyov", "fPkTyow"]);
    let got: Vec<(Option<u32>, Phase, String, Option<i32>)> = st
        .iter()
        .map(|t| {
            (
                t.array_index,
                t.state.phase,
                t.state.word.clone(),
                t.exit_code,
            )
        })
        .collect();
    // The third copy (…yow = 14931722242) is not in the answer: left out.
    assert_eq!(
        got,
        [
            (Some(0), Phase::Done, "COMPLETED".into(), Some(0)),
            (Some(1), Phase::Failed, "FAILED".into(), Some(3)),
        ]
    );
}

#[test]
fn exceptions_give_phases_and_reasons() {
    let rows = parse_jobs(JOBS).unwrap();
    let got: Vec<(Phase, &str, Option<&str>)> = rows
        .iter()
        .map(|r| (r.1.phase, r.1.word.as_str(), r.3.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (Phase::Done, "COMPLETED", None),
            (Phase::Failed, "FAILED", None),
            (Phase::Cancelled, "CANCELED", Some("exception cancel")),
            (
                Phase::TimedOut,
                "TIMEOUT",
                Some("exception timeout: resource allocation expired")
            ),
            (
                Phase::Failed,
                "FAILED",
                Some("exception dependency: dependency: afterok: job fPkTyov failed")
            ),
            (Phase::Queued, "SCHED", None),
        ]
    );
    // One id: its object alone.
    let one =
        parse_jobs(r#"{"id": 14931722240, "state": "RUN", "exception": {"occurred": false}}"#)
            .unwrap();
    assert_eq!((one.len(), one[0].1.phase), (1, Phase::Running));
    assert_eq!(phase("RUN", None), Phase::Running);
    assert_eq!(phase("DEPEND", None), Phase::Queued);
    assert!(
        parse_jobs("not json")
            .unwrap_err()
            .0
            .contains("flux jobs --json")
    );
}

#[test]
fn dependencies_reach_every_copy_unknown_ids_are_skipped_and_cancel_reaches_all() {
    let d = tempfile::tempdir().unwrap();
    let script = d.path().join("s.sh");
    std::fs::write(&script, "#!/usr/bin/env bash\n# flux: --job-name=j\n").unwrap();
    let one = "{\"jobs\": [{\"id\": 14931722240, \"state\": \"RUN\"}]}".to_string();
    let (fx, rec) = flux(
        d.path(),
        "{}",
        vec![
            Ok("fPkTyou\nfPkTyov\n".into()),
            Ok("fPmwy6F\n".into()),
            Err("`flux jobs` failed (exit 1): JobID fPkTyov unknown".into()),
            Ok(one),
            Err("`flux jobs` failed (exit 1): JobID fPkTyov unknown".into()),
            Ok(String::new()),
        ],
    );
    let array = |len| JobRequest {
        script: &script,
        array: Some(ArrayChunk { offset: 0, len }),
        throttle: None,
        env: vec![],
        time: None,
        after: None,
    };
    let a = fx.submit(&array(2)).unwrap();
    let b = fx
        .submit(&JobRequest {
            array: None,
            after: Some((After::Ok, vec![a.clone()])),
            ..array(1)
        })
        .unwrap();
    let calls = rec.calls.lock().unwrap().clone();
    assert!(
        calls[1].contains(&"--dependency=afterok:fPkTyou".to_string())
            && calls[1].contains(&"--dependency=afterok:fPkTyov".to_string()),
        "{:?}",
        calls[1]
    );
    assert!(!calls[1].iter().any(|c| c.starts_with("--cc")));
    let st = fx.query(std::slice::from_ref(&a)).unwrap();
    assert_eq!(st.len(), 1);
    assert_eq!(
        (st[0].array_index, st[0].state.phase),
        (Some(0), Phase::Running)
    );
    fx.cancel(&[a, b]).unwrap();
    let calls = rec.calls.lock().unwrap().clone();
    assert_eq!(
        calls.last().unwrap(),
        &["cancel", "fPkTyou", "fPkTyov", "fPmwy6F"]
    );
    // Flux refuses an afterok on a job that already failed at submit: the
    // error carries its words.
    let (fx, _) = flux(
        d.path(),
        "{}",
        vec![Err("`flux submit` failed (exit 1): flux-submit: ERROR: [Errno 22] dependency: afterok: job fPkTyov failed".into())],
    );
    let e = fx
        .submit(&JobRequest {
            after: Some((After::Ok, vec!["fPkTyov".into()])),
            ..array(2)
        })
        .unwrap_err();
    assert!(e.0.contains("[Errno 22] dependency"), "{e}");
    // A submit that prints something else is an error, and records nothing.
    let (fx, _) = flux(d.path(), "{}", vec![Ok("Error: no such queue\n".into())]);
    assert!(
        fx.submit(&array(2))
            .unwrap_err()
            .0
            .contains("expected 2 job id(s)")
    );
}

#[test]
fn queue_time_limits_come_from_the_instance_config() {
    let d = tempfile::tempdir().unwrap();
    let conf = r#"{"policy": {"limits": {"duration": "2h"}}, "queues": {"pdebug": {"policy": {"limits": {"duration": "30m"}}}, "pbatch": {}}}"#;
    let (fx, _) = flux(
        d.path(),
        "{}",
        vec![Ok(conf.into()), Ok(conf.into()), Ok("{}".into())],
    );
    assert_eq!(
        fx.max_time(Some("pdebug")).unwrap(),
        Some(Duration::from_secs(1800))
    );
    assert_eq!(
        fx.max_time(Some("pbatch")).unwrap(),
        Some(Duration::from_secs(7200))
    );
    assert_eq!(fx.max_time(None).unwrap(), None);
    assert_eq!(parse_fsd("1.5h"), Some(Duration::from_secs(5400)));
    assert_eq!(parse_fsd("90"), Some(Duration::from_secs(90)));
    assert_eq!(parse_fsd("inf"), None);
    assert_eq!(parse_fsd("2x"), None);
}

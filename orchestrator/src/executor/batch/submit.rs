//! Submits what is neither done nor queued, for any scheduler: one array
//! per stage (embed → probe → fusion; one embed array per resource shape)
//! and, after them (`afterany`), the finishing job (`genoprot worker
//! finish`, `heal.rs`) that retries what failed or aggregates and reports.
//! Each array task runs one bundle of a manifest (`bundles.rs`); arrays are
//! chunked to the scheduler's array size with a throttle. The journal
//! (`journal/jobs.jsonl`) records only what the scheduler accepted.

use super::BatchSettings;
use super::bundles::{Estimates, bundle_by_count, bundle_cells, write_manifest};
use super::journal::{Submission, record, submissions};
use super::scheduler::{After, ArrayChunk, BatchScheduler, JobRequest, Phase};
use super::scripts::{Scripts, write_scripts};
use super::todo::{Todo, estimates, what};
use super::track::{Tracks, UnitTrack, query_recorded, track};
use crate::config::SweepConfig;
use crate::grid::{Grid, Stage};
use anyhow::Context;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use workers::probe::cell::CellSpec;

/// A unit given up: it was submitted `attempts` times, more than `retries + 1`.
#[derive(Debug, Clone, Serialize)]
pub struct GaveUp {
    pub stage: Stage,
    pub unit: String,
    /// `model × task × seed N` for a cell, the model for an embedding.
    pub what: String,
    pub attempts: u32,
    /// The last state, exit code and reason.
    pub last: String,
    pub log: PathBuf,
}

impl GaveUp {
    pub fn new(
        stage: Stage,
        unit: &str,
        grid: &Grid,
        t: &UnitTrack,
        sched: &dyn BatchScheduler,
    ) -> Self {
        GaveUp {
            stage,
            unit: unit.to_string(),
            what: what(grid, unit),
            attempts: t.attempts,
            last: t.describe(sched.name()),
            log: t.log.clone(),
        }
    }
}

#[derive(Debug, Default)]
pub struct SubmitReport {
    pub scripts: Vec<PathBuf>,
    pub commands: Vec<String>,
    pub jobs: Vec<Submission>,
    pub skipped_busy: usize,
    pub gave_up: Vec<GaveUp>,
    /// Units resubmitted with more time or smaller bundles after a time limit.
    pub timed_out: usize,
    /// Units in the arrays submitted.
    pub units: usize,
}

/// Units (with their next attempt) resubmitted together: script, bundle
/// size, time limit.
type Shape = (PathBuf, usize, Option<String>);

/// One array to submit: a script, its bundles, a time override.
struct ArrayPlan {
    script: PathBuf,
    bundles: Vec<Vec<String>>,
    /// A time limit overriding the script's (more time after a time limit).
    time: Option<String>,
    /// The time limit its tasks get.
    effective_time: Option<String>,
    attempt: u32,
}

/// The time a timed-out unit gets next: `time × time_factor`, capped by the
/// queue's longest time; with no time known, that longest time itself.
pub fn longer_time(
    prev: Option<&str>,
    factor: f64,
    max: Option<std::time::Duration>,
) -> Option<String> {
    use super::scheduler::{format_time, parse_time};
    let grown = prev
        .and_then(parse_time)
        .map(|t| t.mul_f64(factor))
        .or(max)?;
    let capped = match max {
        Some(m) if grown > m => m,
        _ => grown,
    };
    Some(format_time(capped))
}

/// A stage's units left, sorted by what happens to them next.
#[derive(Default)]
struct Sorted<'t> {
    /// Units to submit as usual, with their next attempt.
    fresh: Vec<(String, u32)>,
    /// Units whose last task hit its time limit.
    timed_out: Vec<(String, &'t UnitTrack)>,
    /// Jobs still running some of the stage's units.
    busy_jobs: BTreeSet<String>,
}

/// Everything one submission round reads.
struct Round<'a> {
    cfg: &'a SweepConfig,
    grid: &'a Grid,
    sched: &'a dyn BatchScheduler,
    settings: BatchSettings,
    scripts: Scripts,
    tracks: Tracks,
    estimates: Estimates,
    max_array: u32,
    dry_run: bool,
}

impl Round<'_> {
    fn sort<'t>(&'t self, stage: Stage, units: &[String], rep: &mut SubmitReport) -> Sorted<'t> {
        let retries = self.settings.retries();
        let mut s = Sorted::default();
        for u in units {
            match self.tracks.get(&(stage, u.clone())) {
                Some(t) if t.busy() => {
                    rep.skipped_busy += 1;
                    s.busy_jobs.insert(t.job_id.clone());
                }
                Some(t) if t.attempts > retries => rep
                    .gave_up
                    .push(GaveUp::new(stage, u, self.grid, t, self.sched)),
                Some(t) if t.phase() == Some(Phase::TimedOut) => s.timed_out.push((u.clone(), t)),
                t => s.fresh.push((u.clone(), t.map_or(1, |t| t.attempts + 1))),
            }
        }
        s
    }

    /// Arrays of units that ran out of time: half the bundle, more time.
    fn longer(
        &self,
        stage: Stage,
        timed_out: &[(String, &UnitTrack)],
        rep: &mut SubmitReport,
    ) -> anyhow::Result<Vec<ArrayPlan>> {
        let mut longer: BTreeMap<Shape, Vec<(String, u32)>> = BTreeMap::new();
        for (u, t) in timed_out {
            let script = self.scripts.of(stage, u);
            let max = if self.dry_run {
                None
            } else {
                self.sched
                    .max_time(script.shape.queue.as_deref())
                    .context("reading the queue's longest time limit")?
            };
            let prev_time = t.time.clone().or_else(|| script.shape.time.clone());
            let time = longer_time(prev_time.as_deref(), self.settings.time_factor(), max);
            if time.is_none() {
                tracing::warn!(
                    "{stage} unit {u} hit its time limit, and neither a time nor the queue's longest time is known: resubmitted in smaller bundles only"
                );
            }
            longer
                .entry((script.path.clone(), (t.bundle_len / 2).max(1), time))
                .or_default()
                .push((u.clone(), t.attempts + 1));
            rep.timed_out += 1;
        }
        Ok(longer
            .into_iter()
            .map(|((script, size, time), units)| {
                let ids: Vec<String> = units.iter().map(|u| u.0.clone()).collect();
                ArrayPlan {
                    script,
                    bundles: bundle_by_count(&ids, size),
                    effective_time: time.clone(),
                    time,
                    attempt: attempt_of(&units),
                }
            })
            .collect())
    }

    /// Arrays of units submitted as usual: embeddings one model per task,
    /// one array per resource shape; cells bundled by count or time.
    fn usual(&self, stage: Stage, fresh: Vec<(String, u32)>) -> Vec<ArrayPlan> {
        if fresh.is_empty() {
            return Vec::new();
        }
        if stage == Stage::Embed {
            let mut shapes: BTreeMap<PathBuf, Vec<(String, u32)>> = BTreeMap::new();
            for (u, a) in fresh {
                shapes
                    .entry(self.scripts.embed[u.as_str()].path.clone())
                    .or_default()
                    .push((u, a));
            }
            return shapes
                .into_iter()
                .rev()
                .map(|(script, units)| {
                    let ids: Vec<String> = units.iter().map(|u| u.0.clone()).collect();
                    let effective_time = self
                        .scripts
                        .embed
                        .values()
                        .find(|s| s.path == script)
                        .and_then(|s| s.shape.time.clone());
                    ArrayPlan {
                        script,
                        bundles: bundle_by_count(&ids, 1),
                        time: None,
                        effective_time,
                        attempt: attempt_of(&units),
                    }
                })
                .collect();
        }
        let specs: BTreeMap<&str, &CellSpec> =
            self.grid.all_cells().map(|c| (c.id.as_str(), c)).collect();
        let cells: Vec<&CellSpec> = fresh
            .iter()
            .filter_map(|(u, _)| specs.get(u.as_str()).copied())
            .collect();
        let script = &self.scripts.stages[&stage];
        vec![ArrayPlan {
            script: script.path.clone(),
            bundles: bundle_cells(&self.settings, &cells, &self.estimates),
            time: None,
            effective_time: script.shape.time.clone(),
            attempt: attempt_of(&fresh),
        }]
    }

    /// Submits one array plan, chunked to the array size; returns its jobs.
    fn submit_plan(
        &self,
        stage: Stage,
        plan: &ArrayPlan,
        after: Option<(After, Vec<String>)>,
        rep: &mut SubmitReport,
    ) -> anyhow::Result<Vec<String>> {
        let manifest = if self.dry_run {
            PathBuf::from(format!("<{stage} manifest>"))
        } else {
            write_manifest(
                &self.cfg.layout().bundles_dir(self.sched.name()),
                stage,
                &plan.bundles,
            )?
        };
        let n = plan.bundles.len() as u32;
        if !self.dry_run {
            rep.units += plan.bundles.iter().map(Vec::len).sum::<usize>();
        }
        let mut jobs = Vec::new();
        for offset in (0..n).step_by(self.max_array.max(1) as usize) {
            let len = (n - offset).min(self.max_array.max(1));
            let req = JobRequest {
                script: &plan.script,
                array: Some(ArrayChunk { offset, len }),
                throttle: self.settings.throttle,
                env: vec![
                    ("GENOPROT_OFFSET".into(), offset.to_string()),
                    ("GENOPROT_BUNDLES".into(), manifest.display().to_string()),
                ],
                time: plan.time.clone(),
                after: after.clone().filter(|(_, j)| !j.is_empty()),
            };
            rep.commands.push(self.sched.command_line(&req));
            if self.dry_run {
                jobs.push(format!("<{stage}>"));
                continue;
            }
            let job = self
                .sched
                .submit(&req)
                .map_err(|e| anyhow::anyhow!("{stage} array: {e}"))?;
            let s = Submission {
                stage,
                job_id: job.clone(),
                indices: (offset..offset + len).collect(),
                offset,
                script: plan.script.display().to_string(),
                bundles: Some(manifest.clone()),
                attempt: plan.attempt,
                time: plan.effective_time.clone(),
                t: crate::journal::now(),
            };
            record(self.cfg, &s)?;
            tracing::info!(stage = %stage, job = %job, tasks = len, offset, attempt = plan.attempt, "submitted");
            rep.jobs.push(s);
            jobs.push(job);
        }
        Ok(jobs)
    }

    /// The finishing job, after every job of this round.
    fn finishing_job(
        &self,
        all_jobs: Vec<String>,
        attempt: u32,
        rep: &mut SubmitReport,
    ) -> anyhow::Result<()> {
        let script = &self.scripts.stages[&Stage::Aggregate];
        let req = JobRequest {
            script: &script.path,
            array: None,
            throttle: None,
            env: Vec::new(),
            time: None,
            after: Some((After::Any, all_jobs)).filter(|(_, j)| !j.is_empty()),
        };
        rep.commands.push(self.sched.command_line(&req));
        if self.dry_run {
            return Ok(());
        }
        let job = self
            .sched
            .submit(&req)
            .map_err(|e| anyhow::anyhow!("finishing job: {e}"))?;
        let s = Submission {
            stage: Stage::Aggregate,
            job_id: job,
            indices: vec![],
            offset: 0,
            script: script.path.display().to_string(),
            bundles: None,
            attempt,
            time: script.shape.time.clone(),
            t: crate::journal::now(),
        };
        record(self.cfg, &s)?;
        rep.jobs.push(s);
        Ok(())
    }
}

fn attempt_of(units: &[(String, u32)]) -> u32 {
    units.iter().map(|u| u.1).max().unwrap_or(1)
}

/// Submits what is neither done nor queued: the arrays of each stage
/// (`embed` → `probe` afterany → `fusion` afterany) and the finishing job
/// (afterany every array). A unit submitted more than `retries + 1` times
/// is given up (reported); one whose last task hit its time limit goes into
/// bundles half as big, with more time.
pub fn submit(
    cfg: &SweepConfig,
    grid: &Grid,
    todo: &Todo,
    config_path: &Path,
    sched: &dyn BatchScheduler,
    settings: &BatchSettings,
    dry_run: bool,
) -> anyhow::Result<SubmitReport> {
    let scripts = write_scripts(cfg, sched, config_path)?;
    crate::journal::Journal::open(&cfg.store)?.write_plan(grid)?;
    let mut rep = SubmitReport {
        scripts: scripts.paths(),
        ..Default::default()
    };
    let (subs, states) = if dry_run {
        (submissions(cfg), Vec::new())
    } else {
        query_recorded(cfg, sched)?
    };
    let max_array = match settings.max_array_size {
        Some(m) => m,
        None if dry_run => 1001,
        None => sched
            .max_array_size()
            .context("reading the scheduler's largest array (set max_array_size to skip)")?,
    };
    let round = Round {
        cfg,
        grid,
        sched,
        settings: settings.clone(),
        tracks: track(cfg, sched, &subs, &states),
        estimates: estimates(cfg, settings, grid, todo),
        scripts,
        max_array,
        dry_run,
    };
    let mut prev: Vec<String> = Vec::new();
    let mut all_jobs: Vec<String> = Vec::new();
    let mut max_attempt = 1;
    for (stage, after) in [
        (Stage::Embed, After::Ok),
        // afterany: one model's failed embedding must not hold back the
        // cells of the others (its own cells fail at once and are retried).
        (Stage::Probe, After::Any),
        (Stage::Fusion, After::Any),
    ] {
        let sorted = round.sort(stage, &todo.units[&stage], &mut rep);
        let mut plans = round.usual(stage, sorted.fresh);
        plans.extend(round.longer(stage, &sorted.timed_out, &mut rep)?);
        // Still-queued jobs of this stage are what later stages must wait for.
        let mut this_stage: Vec<String> = sorted.busy_jobs.into_iter().collect();
        for plan in &plans {
            max_attempt = max_attempt.max(plan.attempt);
            let jobs = round.submit_plan(stage, plan, Some((after, prev.clone())), &mut rep)?;
            this_stage.extend(jobs);
        }
        if !this_stage.is_empty() {
            prev = this_stage.clone();
            all_jobs.extend(this_stage);
        }
    }
    // The finishing job follows new arrays only (a resubmission while
    // everything is still queued submits nothing at all).
    if !rep.jobs.is_empty() || (dry_run && !rep.commands.is_empty()) {
        round.finishing_job(all_jobs, max_attempt, &mut rep)?;
    }
    Ok(rep)
}

//! The journal under `store/journal/`: the current plan (`plan.json`, replaced
//! atomically) and an append-only event log (`events.jsonl`: one JSON object
//! per line, each written with a single `write` and flushed). A line cut short
//! by a crash is ignored when reading (reported once), and the next event
//! starts on a fresh line so it is never glued onto the torn one. The stores themselves are the truth
//! about what is done; the journal adds attempts, failures and timings.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// What happened to a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// An attempt began.
    Start,
    /// The attempt finished; the unit's store is written.
    Done,
    /// The unit was already done (nothing run).
    Skip,
    /// The attempt failed (`error` says why).
    Failed,
    /// A finished unit whose result needs a look (e.g. a probe that did not
    /// converge); recorded before its `done`.
    Warning,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Seconds since the Unix epoch.
    pub t: f64,
    /// `embed:<model>` or a cell id.
    pub unit: String,
    pub event: EventKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    /// Who ran it: `local` or a Slurm job id.
    #[serde(default)]
    pub by: String,
}

pub struct Journal {
    layout: crate::layout::StoreLayout,
}

/// Seconds since the Unix epoch.
/// Each unit's history from journal events (as [`Journal::history`]).
pub fn history_of(events: &[Event]) -> BTreeMap<String, UnitHistory> {
    let mut m: BTreeMap<String, UnitHistory> = BTreeMap::new();
    for e in events {
        let h = m.entry(e.unit.clone()).or_default();
        match e.event {
            EventKind::Start => {
                h.attempts += 1;
                h.warning = None;
            }
            EventKind::Done => h.completions += 1,
            EventKind::Warning => {
                h.warning = e.error.clone();
                continue;
            }
            EventKind::Skip | EventKind::Failed => {}
        }
        if e.event != EventKind::Start {
            h.error = e.error.clone();
        }
        h.last = Some(e.event);
    }
    m
}

/// Per stage, units finished per second: the `done` events of the last
/// `window` seconds over the time since the first of them (at least a
/// minute, so one unit finished a second ago is not a rate of one per
/// second). Stages with no such event are absent.
pub fn done_rates(
    events: &[Event],
    stage_of: &std::collections::HashMap<&str, crate::grid::Stage>,
    now: f64,
    window: f64,
) -> BTreeMap<crate::grid::Stage, f64> {
    let mut seen: BTreeMap<crate::grid::Stage, (f64, usize)> = BTreeMap::new();
    for e in events {
        if e.event != EventKind::Done || now - e.t > window {
            continue;
        }
        if let Some(stage) = stage_of.get(e.unit.as_str()) {
            let s = seen.entry(*stage).or_insert((e.t, 0));
            s.0 = s.0.min(e.t);
            s.1 += 1;
        }
    }
    seen.into_iter()
        .map(|(stage, (first, n))| (stage, n as f64 / (now - first).max(60.0)))
        .collect()
}

pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Per unit: number of starts, last event, last error.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UnitHistory {
    pub attempts: usize,
    /// The latest event other than a warning.
    pub last: Option<EventKind>,
    pub error: Option<String>,
    pub completions: usize,
    /// The warning of the latest attempt, if it had one.
    pub warning: Option<String>,
}

impl Journal {
    pub fn open(store: &Path) -> std::io::Result<Journal> {
        let layout = crate::layout::StoreLayout::new(store);
        let dir = layout.journal_dir();
        std::fs::create_dir_all(&dir).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "creating {}: {e} (hint: it must be a writable folder; is the store on a \
                     read-only or full file system, or is `journal` a file?)",
                    dir.display()
                ),
            )
        })?;
        Ok(Journal { layout })
    }

    pub fn write_plan<T: Serialize>(&self, plan: &T) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(plan).map_err(std::io::Error::other)?;
        let p = self.layout.plan();
        workers::atomic::write_atomic(&p, &bytes)
            .map_err(|e| std::io::Error::new(e.kind(), format!("writing {}: {e}", p.display())))
    }

    pub fn record(
        &self,
        unit: &str,
        event: EventKind,
        error: Option<String>,
        seconds: Option<f64>,
    ) -> std::io::Result<()> {
        let e = Event {
            t: now(),
            unit: unit.into(),
            event,
            error,
            seconds,
            by: std::env::var("SLURM_JOB_ID")
                .map(|j| format!("slurm:{j}"))
                .unwrap_or_else(|_| "local".into()),
        };
        crate::jsonl::append(&self.layout.events(), &e)
    }

    /// Every readable event line, in order. Unreadable lines (a line torn by a
    /// crash, garbage, bytes that are not UTF-8) are skipped and reported once
    /// per process as a warning; the rest of the file still counts.
    pub fn events(&self) -> Vec<Event> {
        let path = self.layout.events();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
            Err(e) => {
                tracing::warn!("{}: cannot read the journal: {e}", path.display());
                return Vec::new();
            }
        };
        let mut events = Vec::new();
        let mut bad = Vec::new();
        for (i, l) in bytes.split(|b| *b == b'\n').enumerate() {
            if l.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match crate::jsonl::parse_summed::<Event>(l) {
                Some(e) => events.push(e),
                None => bad.push(i + 1),
            }
        }
        if !bad.is_empty() {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                tracing::warn!(
                    "{}: {} unreadable line{} skipped (line{} {}); the other {} events count",
                    path.display(),
                    bad.len(),
                    if bad.len() == 1 { "" } else { "s" },
                    if bad.len() == 1 { "" } else { "s" },
                    bad.iter()
                        .take(5)
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    events.len()
                );
            });
        }
        events
    }

    pub fn history(&self) -> BTreeMap<String, UnitHistory> {
        history_of(&self.events())
    }

    /// [`Journal::warnings`] of the store's journal, without creating one
    /// (empty when the store has none yet).
    pub fn warnings_in(store: &Path) -> Vec<(String, String)> {
        if !crate::layout::StoreLayout::new(store)
            .journal_dir()
            .is_dir()
        {
            return Vec::new();
        }
        Journal::open(store)
            .map(|j| j.warnings())
            .unwrap_or_default()
    }

    /// Finished units whose latest attempt left a warning: (unit, warning).
    pub fn warnings(&self) -> Vec<(String, String)> {
        warnings_of(&self.history())
    }
}

/// Warnings of finished units, from their histories.
pub fn warnings_of(hist: &BTreeMap<String, UnitHistory>) -> Vec<(String, String)> {
    hist.iter()
        .filter(|(_, h)| h.last == Some(EventKind::Done))
        .filter_map(|(u, h)| h.warning.clone().map(|w| (u.clone(), w)))
        .collect()
}

/// The sweep that owns a store: the first `run` or `submit` records its
/// name in `journal/sweep` (`record`); a sweep of another name is refused,
/// since its results.csv, report and `clean` would take the first one's
/// cells for its own.
pub fn claim(cfg: &crate::config::SweepConfig, config: &Path, record: bool) -> anyhow::Result<()> {
    let p = cfg.layout().owner();
    let text = match std::fs::read(&p) {
        Ok(bytes) => bytes,
        Err(_) if record => {
            // Made (or refused, naming a file in its place) as the journal is.
            Journal::open(&cfg.store)?;
            let line = workers::seal::checked_line(&cfg.name);
            workers::atomic::write_atomic(&p, line.as_bytes())?;
            return Ok(());
        }
        Err(_) => return Ok(()),
    };
    // `<name>\t<checksum>` (a plain name: written before owners were checked).
    let text = String::from_utf8_lossy(&text);
    let line = text.trim_end_matches('\n');
    let owner = if line.contains('\t') {
        workers::seal::line_text(line)
    } else {
        Some(line)
    };
    match owner {
        Some(owner) if owner == cfg.name => Ok(()),
        Some(owner) => anyhow::bail!(
            "{}: store {} belongs to sweep `{}` ({}), not `{}`: two sweeps in one store would \
             overwrite each other's results (hint: give this sweep its own `store:`)",
            config.display(),
            cfg.store.display(),
            owner,
            p.display(),
            cfg.name
        ),
        None => anyhow::bail!(
            "{}: damaged: the record of which sweep owns store {} does not match its checksum, \
             so the owner cannot be known (hint: if the store is sweep `{}`'s, delete that file \
             and run again)",
            p.display(),
            cfg.store.display(),
            cfg.name
        ),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn done_rates_count_recent_done_events_per_stage() {
        use crate::grid::Stage;
        let ev = |t: f64, unit: &str, event: EventKind| Event {
            t,
            unit: unit.into(),
            event,
            error: None,
            seconds: None,
            by: "local".into(),
        };
        let events = vec![
            ev(0.0, "c1", EventKind::Done), // outside the window
            ev(800.0, "c1", EventKind::Done),
            ev(850.0, "c2", EventKind::Failed),
            ev(900.0, "c2", EventKind::Done),
            ev(990.0, "embed:m", EventKind::Done),
        ];
        let stage_of = std::collections::HashMap::from([
            ("c1", Stage::Probe),
            ("c2", Stage::Probe),
            ("embed:m", Stage::Embed),
        ]);
        let r = done_rates(&events, &stage_of, 1000.0, 600.0);
        // Two probe units in the 200 s since the first of them.
        assert!((r[&Stage::Probe] - 2.0 / 200.0).abs() < 1e-12, "{r:?}");
        // One embedding 10 s ago: over at least a minute.
        assert!((r[&Stage::Embed] - 1.0 / 60.0).abs() < 1e-12, "{r:?}");
        assert!(!r.contains_key(&Stage::Fusion));
    }

    use super::*;
    use std::io::Write;

    #[test]
    fn a_warning_belongs_to_its_attempt() {
        let d = tempfile::tempdir().unwrap();
        let j = Journal::open(d.path()).unwrap();
        j.record("c1", EventKind::Start, None, None).unwrap();
        j.record(
            "c1",
            EventKind::Warning,
            Some("did not converge".into()),
            None,
        )
        .unwrap();
        j.record("c1", EventKind::Done, None, Some(1.0)).unwrap();
        j.record("c2", EventKind::Start, None, None).unwrap();
        j.record("c2", EventKind::Done, None, Some(1.0)).unwrap();
        assert_eq!(
            j.warnings(),
            vec![("c1".to_string(), "did not converge".to_string())]
        );
        assert_eq!(j.history()["c1"].last, Some(EventKind::Done));
        // Run again without the problem: the warning is gone.
        j.record("c1", EventKind::Start, None, None).unwrap();
        j.record("c1", EventKind::Done, None, Some(1.0)).unwrap();
        assert!(j.warnings().is_empty());
    }

    #[test]
    fn events_survive_a_torn_last_line() {
        let d = tempfile::tempdir().unwrap();
        let j = Journal::open(d.path()).unwrap();
        j.record("c1", EventKind::Start, None, None).unwrap();
        j.record("c1", EventKind::Failed, Some("boom".into()), Some(1.0))
            .unwrap();
        j.record("c1", EventKind::Start, None, None).unwrap();
        j.record("c1", EventKind::Done, None, Some(2.0)).unwrap();
        // A crash mid-write leaves half a line.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(d.path().join("journal/events.jsonl"))
            .unwrap();
        f.write_all(b"{\"t\": 1.0, \"unit\": \"c2\", \"ev").unwrap();
        let h = j.history();
        assert_eq!(
            h["c1"],
            UnitHistory {
                attempts: 2,
                last: Some(EventKind::Done),
                error: None,
                completions: 1,
                warning: None
            }
        );
        assert!(!h.contains_key("c2"));
        // The next event is not glued onto the torn line.
        j.record("c3", EventKind::Failed, Some("x".into()), None)
            .unwrap();
        let h = j.history();
        assert_eq!(h["c3"].last, Some(EventKind::Failed));
        assert_eq!(h["c1"].completions, 1);
        j.write_plan(&vec!["a", "b"]).unwrap();
        assert!(d.path().join("journal/plan.json").exists());
    }

    #[test]
    fn garbage_lines_do_not_reset_the_history() {
        let d = tempfile::tempdir().unwrap();
        let j = Journal::open(d.path()).unwrap();
        j.record("c1", EventKind::Start, None, None).unwrap();
        j.record("c1", EventKind::Failed, Some("boom".into()), None)
            .unwrap();
        // Binary garbage (not UTF-8) in the middle, then more events.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(d.path().join("journal/events.jsonl"))
            .unwrap();
        f.write_all(b"\xff\xfe\x00garbage\n").unwrap();
        j.record("c2", EventKind::Failed, Some("bad".into()), None)
            .unwrap();
        let h = j.history();
        assert_eq!(h["c1"].last, Some(EventKind::Failed));
        assert_eq!(h["c1"].error.as_deref(), Some("boom"));
        assert_eq!(h["c2"].last, Some(EventKind::Failed));
        assert_eq!(j.events().len(), 3);
    }
}

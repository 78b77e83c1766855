//! The journal under `store/journal/`: the current plan (`plan.json`, replaced
//! atomically) and an append-only event log (`events.jsonl`: one JSON object
//! per line, each written with a single `write` and flushed). A line cut short
//! by a crash is ignored when reading. The stores themselves are the truth
//! about what is done; the journal adds attempts, failures and timings.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Seconds since the Unix epoch.
    pub t: f64,
    /// `embed:<model>` or a cell id.
    pub unit: String,
    /// `start`, `done`, `skip`, `failed`.
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    /// Who ran it: `local` or a Slurm job id.
    #[serde(default)]
    pub by: String,
}

pub struct Journal {
    dir: PathBuf,
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Per unit: number of starts, last event, last error.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UnitHistory {
    pub attempts: usize,
    pub last: String,
    pub error: Option<String>,
    pub completions: usize,
}

impl Journal {
    pub fn open(store: &Path) -> std::io::Result<Journal> {
        let dir = store.join("journal");
        std::fs::create_dir_all(&dir)?;
        Ok(Journal { dir })
    }

    pub fn write_plan<T: Serialize>(&self, plan: &T) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(plan).map_err(std::io::Error::other)?;
        workers::atomic::write_atomic(&self.dir.join("plan.json"), &bytes)
    }

    pub fn record(
        &self,
        unit: &str,
        event: &str,
        error: Option<String>,
        seconds: Option<f64>,
    ) -> std::io::Result<()> {
        let e = Event {
            t: now(),
            unit: unit.into(),
            event: event.into(),
            error,
            seconds,
            by: std::env::var("SLURM_JOB_ID")
                .map(|j| format!("slurm:{j}"))
                .unwrap_or_else(|_| "local".into()),
        };
        let mut line = serde_json::to_vec(&e).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("events.jsonl"))?;
        f.write_all(&line)?;
        f.flush()
    }

    /// Every complete event line, in order.
    pub fn events(&self) -> Vec<Event> {
        let text = std::fs::read_to_string(self.dir.join("events.jsonl")).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    pub fn history(&self) -> BTreeMap<String, UnitHistory> {
        let mut m: BTreeMap<String, UnitHistory> = BTreeMap::new();
        for e in self.events() {
            let h = m.entry(e.unit.clone()).or_default();
            match e.event.as_str() {
                "start" => h.attempts += 1,
                "done" => h.completions += 1,
                _ => {}
            }
            if e.event != "start" {
                h.error = e.error.clone();
            }
            h.last = e.event;
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_survive_a_torn_last_line() {
        let d = tempfile::tempdir().unwrap();
        let j = Journal::open(d.path()).unwrap();
        j.record("c1", "start", None, None).unwrap();
        j.record("c1", "failed", Some("boom".into()), Some(1.0))
            .unwrap();
        j.record("c1", "start", None, None).unwrap();
        j.record("c1", "done", None, Some(2.0)).unwrap();
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
                last: "done".into(),
                error: None,
                completions: 1
            }
        );
        assert!(!h.contains_key("c2"));
        j.write_plan(&vec!["a", "b"]).unwrap();
        assert!(d.path().join("journal/plan.json").exists());
    }
}

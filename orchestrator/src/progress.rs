//! Progress of long stages off a terminal (`nohup`, batch logs, CI): a log
//! line every few seconds with the stage, done/total, rate and ETA, read
//! from the stage's progress bar (hidden there, but still counting). On a
//! terminal the bars show the same. The interval is
//! `GENOPROT_PROGRESS_EVERY` seconds (default 30; 0 turns the lines off).
//! Every terminal bar belongs to one [`bars`] group, and log lines are
//! printed above it.

use indicatif::{MultiProgress, ProgressBar};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

static BARS: OnceLock<MultiProgress> = OnceLock::new();

/// The process's terminal progress bars, one draw target for all of them:
/// log lines are written above the bars ([`write_above`]), never between a
/// bar's stale copies.
pub fn bars() -> &'static MultiProgress {
    BARS.get_or_init(MultiProgress::new)
}

/// A progress bar of `len` units: drawn in the [`bars`] group on a terminal
/// (`show`), else hidden but counting (the progress lines read it).
/// `template` is indicatif's, `prefix` its `{prefix}`.
pub fn bar(len: u64, template: &str, prefix: &str, show: bool) -> ProgressBar {
    let pb = if show {
        bars().add(ProgressBar::new(len))
    } else {
        ProgressBar::with_draw_target(Some(len), indicatif::ProgressDrawTarget::hidden())
    };
    pb.set_style(style(template));
    pb.set_prefix(prefix.to_string());
    pb
}

/// The bars' style: indicatif's `template`, `=> ` bar characters.
fn style(template: &str) -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template(template)
        .expect("valid template")
        .progress_chars("=> ")
}

/// The share of a stage's work that is done, when its units differ in cost
/// (the probe stage's cells, weighed by [`crate::cost`]): the ETA of its bar
/// and of its progress lines is the pace so far applied to the cost left.
#[derive(Debug, Default)]
pub struct Work {
    total: f64,
    done: std::sync::Mutex<f64>,
}

impl Work {
    pub fn new(total: f64) -> Arc<Work> {
        Arc::new(Work {
            total,
            done: Default::default(),
        })
    }

    /// A unit of `cost` finished (or was given up).
    pub fn add(&self, cost: f64) {
        *self.done.lock().unwrap() += cost;
    }

    /// The seconds left after `elapsed` seconds; `None` before anything is done.
    pub fn eta(&self, elapsed: f64) -> Option<f64> {
        crate::cost::eta(*self.done.lock().unwrap(), self.total, elapsed)
    }
}

/// [`bar`] whose `{eta}` comes from `work` instead of the count of units.
pub fn weighted_bar(
    len: u64,
    template: &str,
    prefix: &str,
    show: bool,
    work: &Arc<Work>,
) -> ProgressBar {
    let pb = bar(len, template, prefix, show);
    let w = work.clone();
    pb.set_style(style(template).with_key(
        "eta",
        move |s: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
            let e = w.eta(s.elapsed().as_secs_f64());
            let _ = out.write_str(&e.map_or("?".into(), duration));
        },
    ));
    pb
}

/// Writes log output to stderr above the bars (they are hidden for the
/// write and redrawn below it).
pub fn write_above(buf: &[u8]) -> std::io::Result<()> {
    match BARS.get() {
        Some(mp) => mp.suspend(|| std::io::stderr().write_all(buf)),
        None => std::io::stderr().write_all(buf),
    }
}

/// The interval of progress lines.
pub fn interval() -> Option<Duration> {
    let s: f64 = std::env::var("GENOPROT_PROGRESS_EVERY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30.0);
    (s > 0.0).then(|| Duration::from_secs_f64(s))
}

/// `1h02m`, `3m05s`, `12s`.
pub fn duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// One progress line: `probe: 120/756 cells (16%), 4.10/s, eta 2m35s`; the
/// ETA from `work` when the units differ in cost, else from their count.
pub fn line(
    stage: &str,
    unit: &str,
    done: u64,
    total: u64,
    elapsed: f64,
    work: Option<&Work>,
) -> String {
    let rate = if elapsed > 0.0 {
        done as f64 / elapsed
    } else {
        0.0
    };
    let left = match work {
        Some(w) => w.eta(elapsed),
        None => crate::cost::eta(done as f64, total as f64, elapsed),
    };
    let eta = left.map_or("?".into(), duration);
    format!(
        "{stage}: {done}/{total} {unit} ({:.0}%), {rate:.2}/s, eta {eta}",
        100.0 * done as f64 / total.max(1) as f64
    )
}

/// Logs progress lines for a bar until dropped.
pub struct Ticker {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Starts progress lines for `pb` (when off a terminal and enabled).
pub fn ticker(pb: &ProgressBar, stage: &str, unit: &str, on_terminal: bool) -> Option<Ticker> {
    weighted_ticker(pb, stage, unit, on_terminal, None)
}

/// [`ticker`] whose ETA comes from `work`.
pub fn weighted_ticker(
    pb: &ProgressBar,
    stage: &str,
    unit: &str,
    on_terminal: bool,
    work: Option<Arc<Work>>,
) -> Option<Ticker> {
    let every = interval()?;
    if on_terminal || pb.length().unwrap_or(0) == 0 {
        return None;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (pb, stage, unit, flag) = (
        pb.clone(),
        stage.to_string(),
        unit.to_string(),
        stop.clone(),
    );
    let handle = std::thread::Builder::new()
        .name("progress".into())
        .spawn(move || {
            let t0 = Instant::now();
            let mut next = t0 + every;
            while !flag.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(100).min(every));
                if Instant::now() >= next {
                    next += every;
                    let total = pb.length().unwrap_or(0);
                    let l = line(
                        &stage,
                        &unit,
                        pb.position(),
                        total,
                        t0.elapsed().as_secs_f64(),
                        work.as_deref(),
                    );
                    // A bar's message adds what it counts besides units
                    // (embedding: tokens or letters, and their rate).
                    let msg = pb.message();
                    if msg.is_empty() {
                        tracing::info!("progress {l}");
                    } else {
                        tracing::info!("progress {l}; {msg}");
                    }
                }
            }
        })
        .ok()?;
    Some(Ticker {
        stop,
        handle: Some(handle),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_give_counts_rate_and_eta() {
        assert_eq!(
            line("probe", "cells", 120, 756, 30.0, None),
            "probe: 120/756 cells (16%), 4.00/s, eta 2m39s"
        );
        assert_eq!(
            line("embed", "models", 0, 3, 5.0, None),
            "embed: 0/3 models (0%), 0.00/s, eta ?"
        );
        assert_eq!(duration(3725.0), "1h02m");
        // Weighed by cost: 120 cells done but only a tenth of the work.
        let w = Work::new(10.0);
        w.add(1.0);
        assert_eq!(
            line("probe", "cells", 120, 756, 30.0, Some(&w)),
            "probe: 120/756 cells (16%), 4.00/s, eta 4m30s"
        );
    }
}

//! Validation findings: every problem names the file, the line and the record id.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum Severity {
    Warning,
    Error,
}

/// One problem found in an input file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// Short stable name of the rule (`cds-length`, `translation`, ...).
    pub rule: &'static str,
    pub file: PathBuf,
    /// 1-based line; 0 when the finding is about the file as a whole.
    pub line: u64,
    /// The gene/record id concerned, when there is one.
    pub id: Option<String>,
    pub message: String,
    /// Input rows this finding stands for (1; more for a summary line such as
    /// "5,084 pairs in all name genes not in the sequences").
    pub rows: u64,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        write!(f, ": {sev}[{}]", self.rule)?;
        if let Some(id) = &self.id {
            write!(f, " {id}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Collects findings while reading inputs.
#[derive(Debug, Default, Clone)]
pub struct Findings {
    pub items: Vec<Finding>,
    /// Promote warnings to errors.
    pub strict: bool,
}

impl Findings {
    pub fn new(strict: bool) -> Self {
        Findings {
            items: Vec::new(),
            strict,
        }
    }

    pub fn push(
        &mut self,
        severity: Severity,
        rule: &'static str,
        file: &Path,
        line: u64,
        id: Option<&str>,
        message: impl Into<String>,
    ) {
        let severity = if self.strict {
            Severity::Error
        } else {
            severity
        };
        self.items.push(Finding {
            severity,
            rule,
            file: file.to_path_buf(),
            line,
            id: id.map(str::to_string),
            message: message.into(),
            rows: 1,
        });
    }

    /// A warning that sums up `rows` input rows not reported one by one.
    pub fn warn_rows(
        &mut self,
        rule: &'static str,
        file: &Path,
        id: Option<&str>,
        msg: impl Into<String>,
        rows: u64,
    ) {
        self.push(Severity::Warning, rule, file, 0, id, msg);
        if let Some(last) = self.items.last_mut() {
            last.rows = rows;
        }
    }

    pub fn error(
        &mut self,
        rule: &'static str,
        file: &Path,
        line: u64,
        id: Option<&str>,
        msg: impl Into<String>,
    ) {
        self.push(Severity::Error, rule, file, line, id, msg);
    }

    pub fn warn(
        &mut self,
        rule: &'static str,
        file: &Path,
        line: u64,
        id: Option<&str>,
        msg: impl Into<String>,
    ) {
        self.push(Severity::Warning, rule, file, line, id, msg);
    }

    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.items.iter().filter(|f| f.severity == Severity::Error)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Finding> {
        self.items
            .iter()
            .filter(|f| f.severity == Severity::Warning)
    }

    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }

    /// Warnings per rule: (rule, findings, input rows they stand for, the first).
    pub fn warning_summary(&self) -> Vec<(&'static str, usize, u64, &Finding)> {
        let mut out: Vec<(&'static str, usize, u64, &Finding)> = Vec::new();
        for w in self.warnings() {
            match out.iter_mut().find(|(r, _, _, _)| *r == w.rule) {
                Some(e) => {
                    e.1 += 1;
                    e.2 += w.rows;
                }
                None => out.push((w.rule, 1, w.rows, w)),
            }
        }
        out
    }

    /// A report for the terminal: every error (up to `max`), then warnings summarized.
    pub fn report(&self, max: usize) -> String {
        let mut s = String::new();
        let errs: Vec<_> = self.errors().collect();
        for e in errs.iter().take(max) {
            s.push_str(&format!("{e}\n"));
        }
        if errs.len() > max {
            s.push_str(&format!("... and {} more errors\n", errs.len() - max));
        }
        // Every rule's first three warnings, then a count of the rows in all.
        for (rule, n, rows, _) in self.warning_summary() {
            for w in self.warnings().filter(|w| w.rule == rule).take(3) {
                s.push_str(&format!("{w}\n"));
            }
            if n > 3 {
                s.push_str(&format!("  (warning[{rule}]: {rows} rows in all; rerun with --strict to make them errors)\n"));
            }
        }
        s
    }
}

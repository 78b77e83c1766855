//! The report's verdicts: what one paired comparison shows, in words a
//! statistician would sign, and the two families they are corrected in.
//!
//! Every comparison on a rankable task whose rows are not identical is in
//! two families, each corrected with Holm's step-down method at α:
//! - **superiority**: the two-sided bootstrap z test of "no difference";
//! - **equivalence**: two one-sided tests (TOST; Schuirmann 1987) of
//!   "the difference is at most −δ" and "at least +δ", p = the larger of the
//!   two one-sided p's, with the bootstrap's mean and standard deviation of
//!   the replicate differences as estimate and standard error (normal
//!   approximation). δ is `report.margin`, in units of the primary metric.
//!
//! The verdict of `a` against `b`, in this order:
//! - *too small*: the task is too small to rank; it is shown (†) and
//!   counted nowhere;
//! - *identical*: both rows have the same metric on every draw of every
//!   seed (a fusion that kept one member alone): nothing to test;
//! - *better* / *worse*: superiority Holm-p < α and the 95% CI entirely
//!   above / below 0;
//! - *equivalent within ±δ*: TOST Holm-p < α, and the 95% CI is not
//!   entirely below 0 (a row shown to be lower is never called "not worse");
//! - *inconclusive*: neither a difference nor equivalence was shown.
//!   Absence of a significant difference is not evidence of equivalence.

use super::stats::{ALPHA, holm, normal_sf};
use serde::{Deserialize, Serialize};

/// Which question a comparison answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Question {
    /// `a` is an ensemble (one fusion), `b` its best member on the task.
    EnsembleVsBestMember,
    /// `a` is the task's top row, `b` the runner-up.
    TopVsRunnerUp,
}

impl Question {
    pub fn as_str(self) -> &'static str {
        match self {
            Question::EnsembleVsBestMember => "ensemble-vs-best-member",
            Question::TopVsRunnerUp => "top-vs-runner-up",
        }
    }
}

/// One paired comparison on one task.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub question: Question,
    pub task: String,
    pub metric: String,
    /// The ensemble, or the top row.
    pub a: String,
    /// The ensemble's best member, or the runner-up.
    pub b: String,
    /// Mean over seeds of each row's primary metric.
    pub a_mean: f64,
    pub b_mean: f64,
    /// `a_mean − b_mean`.
    pub diff: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub p_value: f64,
    /// Holm-adjusted p over the report's family of superiority tests
    /// (NaN where the comparison is in no family: identical rows, tasks
    /// too small to rank).
    pub p_holm: f64,
    /// The equivalence test (TOST) against ±`margin`: its p (the larger
    /// of the two one-sided p's) and Holm over the family of TOSTs.
    pub p_equiv: f64,
    pub p_equiv_holm: f64,
    /// The equivalence margin δ, in units of the primary metric.
    pub margin: f64,
    /// Bootstrap estimate of the difference and its standard error.
    pub boot_mean: f64,
    pub boot_sd: f64,
    pub seeds: usize,
    /// False for a task too small to rank: shown (†), never in a family or a count.
    pub ranked: bool,
    /// The rows have the same metric on every draw ([`Interval::identical`]).
    pub identical: bool,
    pub verdict: Verdict,
    /// Top vs runner-up: rows with exactly the top's score (not tested).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tied_with: Vec<String>,
}

/// What a comparison shows about `a` against `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Better,
    Equivalent,
    Identical,
    Inconclusive,
    Worse,
    TooSmall,
}

impl Verdict {
    /// Every verdict, in the order tables show them.
    pub const ALL: [Verdict; 6] = [
        Verdict::Better,
        Verdict::Equivalent,
        Verdict::Identical,
        Verdict::Inconclusive,
        Verdict::Worse,
        Verdict::TooSmall,
    ];

    /// The word of the CSVs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Better => "better",
            Verdict::Equivalent => "equivalent",
            Verdict::Identical => "identical",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Worse => "worse",
            Verdict::TooSmall => "too-small",
        }
    }

    /// The words of the report's tables (`margin`: δ).
    pub fn words(self, margin: f64) -> String {
        match self {
            Verdict::Equivalent => format!("equivalent within ±{margin}"),
            Verdict::TooSmall => "† too small to rank".into(),
            v => v.as_str().into(),
        }
    }
}

/// The TOST p of "|difference| ≥ δ" from an estimate `m` and its standard
/// error `se`: max(P(Z > (m + δ)/se), P(Z > (δ − m)/se)). With no spread
/// (se = 0) it is 0 inside the margin and 1 outside.
pub fn tost_p(m: f64, se: f64, margin: f64) -> f64 {
    if !m.is_finite() || se.is_nan() {
        return 1.0;
    }
    if se <= 1e-12 {
        return if m.abs() < margin { 0.0 } else { 1.0 };
    }
    let lower = normal_sf((m + margin) / se);
    let upper = normal_sf((margin - m) / se);
    lower.max(upper).min(1.0)
}

/// The verdict of one comparison whose Holm-adjusted p's are set.
pub fn verdict_of(c: &Comparison) -> Verdict {
    if !c.ranked {
        Verdict::TooSmall
    } else if c.identical {
        Verdict::Identical
    } else if c.p_holm < ALPHA && c.diff > 0.0 && c.ci_low > 0.0 {
        Verdict::Better
    } else if c.p_holm < ALPHA && c.diff < 0.0 && c.ci_high < 0.0 {
        Verdict::Worse
    } else if c.p_equiv_holm < ALPHA && c.ci_high >= 0.0 {
        Verdict::Equivalent
    } else {
        Verdict::Inconclusive
    }
}

/// Sets the TOST p, both Holm adjustments (over the comparisons in the
/// families: ranked and not identical; NaN elsewhere) and every verdict.
pub fn assign(comparisons: &mut [Comparison]) {
    for c in comparisons.iter_mut() {
        c.p_equiv = if c.identical {
            f64::NAN
        } else {
            tost_p(c.boot_mean, c.boot_sd, c.margin)
        };
    }
    let family: Vec<usize> = (0..comparisons.len())
        .filter(|i| in_families(&comparisons[*i]))
        .collect();
    let sup = holm(
        &family
            .iter()
            .map(|i| comparisons[*i].p_value)
            .collect::<Vec<_>>(),
    );
    let equiv = holm(
        &family
            .iter()
            .map(|i| comparisons[*i].p_equiv)
            .collect::<Vec<_>>(),
    );
    for c in comparisons.iter_mut() {
        c.p_holm = f64::NAN;
        c.p_equiv_holm = f64::NAN;
    }
    for (k, i) in family.iter().enumerate() {
        comparisons[*i].p_holm = sup[k];
        comparisons[*i].p_equiv_holm = equiv[k];
    }
    for c in comparisons.iter_mut() {
        c.verdict = verdict_of(c);
    }
}

/// How many comparisons of a family there are (for the report's words).
pub fn family_size(comparisons: &[Comparison]) -> usize {
    comparisons.iter().filter(|c| in_families(c)).count()
}

/// Whether a comparison is tested (in both Holm families): on a rankable
/// task, between rows that are not identical.
fn in_families(c: &Comparison) -> bool {
    c.ranked && !c.identical
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A comparison with a bootstrap estimate `m` ± `se`, its 95% CI the
    /// normal one, and a raw two-sided p from the same z.
    fn cmp(m: f64, se: f64) -> Comparison {
        Comparison {
            question: Question::EnsembleVsBestMember,
            task: "t".into(),
            metric: "auroc".into(),
            a: "e:concat".into(),
            b: "m".into(),
            a_mean: 0.8 + m,
            b_mean: 0.8,
            diff: m,
            ci_low: m - 1.96 * se,
            ci_high: m + 1.96 * se,
            p_value: crate::report::stats::z_p(m, se),
            p_holm: f64::NAN,
            p_equiv: f64::NAN,
            p_equiv_holm: f64::NAN,
            margin: 0.01,
            boot_mean: m,
            boot_sd: se,
            seeds: 3,
            ranked: true,
            identical: false,
            verdict: Verdict::Inconclusive,
            tied_with: vec![],
        }
    }

    #[test]
    fn tost_matches_a_hand_computed_reference() {
        // Python, standard library only (exact erfc):
        //   sf = lambda z: 0.5 * math.erfc(z / math.sqrt(2))
        //   max(sf((m + d) / se), sf((d - m) / se))
        let reference = [
            // (m, se, δ, p)
            (0.004, 0.003, 0.01, 0.022_750_131_948_179_2),
            (-0.002, 0.004, 0.01, 0.022_750_131_948_179_2),
            (0.0, 0.005, 0.01, 0.022_750_131_948_179_2),
            (0.0, 0.01, 0.01, 0.158_655_253_931_457_07),
            (-0.019, 0.006, 0.01, 0.933_192_798_731_141_9),
            (-0.006, 0.0025, 0.01, 0.054_799_291_699_558),
            (0.012, 0.002, 0.01, 0.841_344_746_068_542_9),
            (0.001, 0.0025, 0.02, 1.480_653_749_004_818_3e-14),
        ];
        for (m, se, d, want) in reference {
            let got = tost_p(m, se, d);
            assert!(
                (got - want).abs() <= 1e-6 * want.max(1e-6),
                "tost({m}, {se}, {d}) = {got}, want {want}"
            );
        }
        assert_eq!(tost_p(0.001, 0.0, 0.01), 0.0);
        assert_eq!(tost_p(0.02, 0.0, 0.01), 1.0);
    }

    #[test]
    fn the_verdict_rule_on_constructed_comparisons() {
        let mut v = vec![
            cmp(0.05, 0.005),    // clearly better
            cmp(-0.05, 0.005),   // clearly worse
            cmp(0.001, 0.002),   // tight around 0: equivalent within ±0.01
            cmp(0.0, 0.03),      // wide: inconclusive
            cmp(-0.004, 0.0015), // CI below 0, inside ±δ; superiority not shown (below)
            cmp(0.0, 0.0),       // identical rows
            cmp(-0.3, 0.01),     // a too-small task
        ];
        // A percentile CI below 0 while the z test is not significant.
        v[4].p_value = 0.2;
        v[5].identical = true;
        v[6].ranked = false;
        assign(&mut v);
        let got: Vec<Verdict> = v.iter().map(|c| c.verdict).collect();
        use Verdict::*;
        assert_eq!(
            got,
            [
                Better,
                Worse,
                Equivalent,
                Inconclusive,
                Inconclusive,
                Identical,
                TooSmall
            ]
        );
        // A CI entirely below 0 is never "equivalent": the fifth has a TOST
        // p below α, and still is not.
        assert!(
            v[4].ci_high < 0.0 && v[4].p_equiv_holm < ALPHA,
            "{:?}",
            v[4]
        );
        // The families hold the five ranked, non-identical comparisons.
        assert_eq!(family_size(&v), 5);
        assert!(v[5].p_holm.is_nan() && v[6].p_holm.is_nan() && v[6].p_equiv_holm.is_nan());
        // Holm inflates: p_equiv of the equivalent row × (rank factor).
        assert!(v[2].p_equiv_holm >= v[2].p_equiv);
        // Significant after Holm, with the CI below 0: worse.
        let mut w = vec![cmp(-0.019, 0.006)];
        assign(&mut w);
        assert_eq!(w[0].verdict, Worse);
        // Not significant after Holm, CI below 0: inconclusive, not worse, not equivalent.
        let mut many: Vec<Comparison> = (0..40).map(|_| cmp(0.0, 0.03)).collect();
        many.push(cmp(-0.019, 0.006)); // raw p 0.0015, Holm ≈ 0.063
        assign(&mut many);
        let last = many.last().unwrap();
        assert!(last.p_value < ALPHA && last.p_holm > ALPHA, "{last:?}");
        assert_eq!(last.verdict, Inconclusive);
    }
}

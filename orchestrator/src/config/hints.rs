//! "did you mean": the one helper every config message uses for a word
//! that is close to a known one.

/// "did you mean `c`?" for the candidate closest to `bad`, if close.
pub fn did_you_mean<'a>(
    bad: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(bad, c), c))
        .filter(|(s, _)| *s > 0.75)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

/// Top-level and nested keys, for "did you mean" hints.
pub(super) fn suggest(message: &str) -> Option<String> {
    // serde: "unknown field `lenght`, expected one of `a`, `b`" / "unknown variant `x`, expected `a` or `b`"
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    let bad = &message[start..end];
    let rest = &message[end..];
    let candidates: Vec<&str> = rest.split('`').skip(2).step_by(2).collect();
    did_you_mean(bad, candidates)
}

//! A config value that is not allowed, as data: the key, the value as
//! written and why. Whoever reads the config file turns it into a position
//! (file:line:column) by finding the key and value, with no need to parse a
//! message.

/// `probe.lr = -1: must be > 0`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{key} = {value}: {reason}")]
pub struct InvalidField {
    /// The dotted key (`probe.lr`).
    pub key: String,
    /// The value as the config gives it.
    pub value: String,
    pub reason: String,
}

impl InvalidField {
    pub fn new(key: impl Into<String>, value: impl ToString, reason: impl Into<String>) -> Self {
        InvalidField {
            key: key.into(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    /// The last part of the key (`lr` of `probe.lr`): what the file shows.
    pub fn leaf(&self) -> &str {
        self.key.rsplit('.').next().unwrap_or(&self.key)
    }
}

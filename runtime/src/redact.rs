//! Secret values out of everything that leaves the sandbox: guest logs,
//! stderr, error messages, checkpoints.

use std::sync::Arc;

/// Replaces secret values in text that leaves the sandbox (guest logs,
/// stderr, error messages).
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Arc<Vec<String>>,
}

impl Redactor {
    /// A redactor for these secret values (short ones are ignored: a
    /// two-letter secret would blank out ordinary words).
    pub fn new(secrets: Vec<String>) -> Self {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| s.len() >= 4).collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Redactor {
            secrets: Arc::new(secrets),
        }
    }

    /// This redactor plus `more` secret values.
    pub fn with(&self, more: Vec<String>) -> Self {
        if more.is_empty() {
            return self.clone();
        }
        let mut all = self.values();
        all.extend(more);
        Redactor::new(all)
    }

    /// The secret values it replaces.
    pub(crate) fn values(&self) -> Vec<String> {
        self.secrets.to_vec()
    }

    /// Whether `text` holds any secret value.
    pub fn contains_secret(&self, text: &str) -> bool {
        self.secrets.iter().any(|s| text.contains(s.as_str()))
    }

    /// `text` with every secret value replaced.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in self.secrets.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), sluice_protocol::config::REDACTED);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redactor_replaces_long_secrets_only() {
        let r = Redactor::new(vec!["s3cr3t-token".into(), "ab".into()]);
        assert_eq!(
            r.scrub("auth with s3cr3t-token failed for ab"),
            "auth with ********** failed for ab"
        );
    }
}

//! [`Secret`]: a configured value (a hash salt) that never reaches a log.

use serde::{Deserialize, Deserializer};
use std::fmt;

/// A secret string, such as the salt of a `hash` step.
///
/// `Debug` and `Display` print `***`, and there is deliberately no
/// `Serialize`: the value leaves only through [`Secret::expose`], and the
/// host learns what to scrub from logs through `secret_values()` on
/// [`Step`](crate::Step) and [`Plan`](crate::Plan).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a value (already `${ENV}`-substituted by the caller).
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for the code that needs it (hashing).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A string; anything else is refused without echoing it (serde's own
/// "invalid type" message would print the value).
impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(s) => Ok(Secret(s)),
            _ => Err(serde::de::Error::custom(
                "a salt must be a string (its value is not shown)",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("s3cret");
        assert_eq!(format!("{s:?} {s}"), "*** ***");
        assert_eq!(s.expose(), "s3cret");
    }

    #[test]
    fn a_salt_of_the_wrong_type_is_not_echoed() {
        let e = serde_json::from_str::<Secret>("987654321")
            .unwrap_err()
            .to_string();
        assert!(
            !e.contains("987654321") && e.contains("must be a string"),
            "{e}"
        );
        assert_eq!(
            serde_json::from_str::<Secret>("\"k\"").unwrap().expose(),
            "k"
        );
    }
}

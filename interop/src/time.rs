//! Instants as Singer writes them (RFC 3339) and as sluice keeps them
//! (milliseconds since the Unix epoch).

use chrono::{DateTime, SecondsFormat};

/// `ms` since the Unix epoch as RFC 3339 UTC, to the millisecond.
pub fn rfc3339_from_ms(ms: u64) -> String {
    let ms = i64::try_from(ms).unwrap_or(i64::MAX);
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// An RFC 3339 instant (any offset) as ms since the Unix epoch; `None`
/// when it is not one or is before the epoch.
pub fn ms_from_rfc3339(text: &str) -> Option<u64> {
    let t = DateTime::parse_from_rfc3339(text).ok()?;
    u64::try_from(t.timestamp_millis()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_offsets() {
        let ms = 951_827_696_789;
        assert_eq!(rfc3339_from_ms(ms), "2000-02-29T12:34:56.789Z");
        assert_eq!(ms_from_rfc3339("2000-02-29T12:34:56.789Z"), Some(ms));
        assert_eq!(ms_from_rfc3339("2000-02-29T13:34:56.789+01:00"), Some(ms));
        assert_eq!(ms_from_rfc3339("yesterday"), None);
    }
}

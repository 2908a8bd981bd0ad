//! When to send again: the backoff schedule, `Retry-After`, and the
//! client-side rate limit. Pure arithmetic over times handed in, so it is
//! tested without clocks.

use super::Retry;
use std::time::{Duration, SystemTime};

/// Exponential backoff with full jitter: the `n`-th retry (from 0) waits a
/// delay drawn uniformly from `[0, min(max, base * 2^n)]`.
///
/// ```
/// use sluice_guest::http::Backoff;
/// use std::time::Duration;
/// let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
/// assert_eq!(b.cap(0), Duration::from_millis(100));
/// assert_eq!(b.cap(3), Duration::from_millis(800));
/// assert_eq!(b.cap(10), Duration::from_secs(1));
/// assert!(b.delay(3, 12345) <= Duration::from_millis(800));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    max: Duration,
}

impl Backoff {
    /// A schedule starting at `base`, never above `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        Backoff { base, max }
    }

    /// The schedule of a retry budget.
    pub fn of(retry: &Retry) -> Self {
        Backoff::new(
            Duration::from_millis(retry.base_ms),
            Duration::from_millis(retry.max_ms),
        )
    }

    /// The largest delay before retry `attempt` (from 0).
    pub fn cap(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// The delay before retry `attempt`, drawn from `[0, cap(attempt)]`
    /// with the random number `random`.
    pub fn delay(&self, attempt: u32, random: u64) -> Duration {
        // `random / 2^64` scaled onto the span: 0 is no wait, u64::MAX the cap.
        let span = self.cap(attempt).as_nanos().min(u128::from(u64::MAX)) + 1;
        let nanos = (u128::from(random) * span) >> 64;
        Duration::from_nanos(nanos as u64)
    }

    /// The longest delay of the schedule.
    pub fn max(&self) -> Duration {
        self.max
    }
}

/// How long a `Retry-After` header asks to wait: delay-seconds, or an
/// HTTP-date (a date in the past is no wait). `None` when it is neither.
///
/// ```
/// use sluice_guest::http::retry_after;
/// use std::time::{Duration, SystemTime};
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
/// assert_eq!(retry_after("1", now), Some(Duration::from_secs(1)));
/// // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT.
/// assert_eq!(retry_after("Sun, 06 Nov 1994 08:49:40 GMT", now), Some(Duration::from_secs(3)));
/// assert_eq!(retry_after("soon", now), None);
/// ```
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A client-side rate limit: requests at least `1 / rate` seconds apart.
///
/// ```
/// use sluice_guest::http::RateLimit;
/// use std::time::Duration;
/// let mut limit = RateLimit::new(Some(4.0)); // one request every 250 ms
/// assert_eq!(limit.reserve(Duration::from_secs(10)), Duration::ZERO);
/// assert_eq!(limit.reserve(Duration::from_millis(10_100)), Duration::from_millis(150));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    interval: Option<Duration>,
    next: Option<Duration>,
}

impl RateLimit {
    /// At most `per_second` requests a second; `None` (or a rate that is
    /// not positive) is no limit.
    pub fn new(per_second: Option<f64>) -> Self {
        let interval = per_second
            .filter(|r| r.is_finite() && *r > 0.0)
            .map(|r| Duration::from_secs_f64(1.0 / r));
        RateLimit {
            interval,
            next: None,
        }
    }

    /// Take the next request's slot at monotonic time `now`; how long to
    /// wait before sending it.
    pub fn reserve(&mut self, now: Duration) -> Duration {
        let Some(interval) = self.interval else {
            return Duration::ZERO;
        };
        let at = self.next.map_or(now, |next| next.max(now));
        self.next = Some(at + interval);
        at - now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_jitter_stays_within_the_cap_and_reaches_it() {
        let b = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        assert_eq!(b.cap(0), Duration::from_millis(500));
        assert_eq!(b.cap(1), Duration::from_secs(1));
        assert_eq!(b.cap(6), Duration::from_secs(30));
        assert_eq!(b.cap(200), Duration::from_secs(30));
        assert_eq!(b.delay(2, u64::MAX), b.cap(2));
        assert_eq!(b.delay(2, 0), Duration::ZERO);
        assert_eq!(b.delay(2, u64::MAX / 2), Duration::from_millis(1000));
        for r in [0, 1, 17, u64::MAX / 3, u64::MAX] {
            assert!(b.delay(4, r) <= b.cap(4));
        }
        let zero = Backoff::new(Duration::ZERO, Duration::ZERO);
        assert_eq!(zero.delay(3, 99), Duration::ZERO);
    }

    #[test]
    fn retry_after_in_seconds_or_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(retry_after(" 120 ", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after("0", now), Some(Duration::ZERO));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:48:37 GMT", now),
            Some(Duration::ZERO),
            "a date in the past"
        );
        assert_eq!(
            retry_after("Sunday, 06-Nov-94 08:50:37 GMT", now),
            Some(Duration::from_secs(60)),
            "RFC 850 dates are HTTP-dates too"
        );
        assert_eq!(retry_after("-1", now), None);
        assert_eq!(retry_after("", now), None);
    }

    #[test]
    fn rate_limit_spaces_requests_and_forgets_idle_time() {
        let mut limit = RateLimit::new(Some(2.0));
        let s = Duration::from_secs;
        assert_eq!(limit.reserve(s(0)), Duration::ZERO);
        assert_eq!(limit.reserve(s(0)), Duration::from_millis(500));
        assert_eq!(limit.reserve(s(0)), s(1));
        // After a quiet spell the next request goes at once.
        assert_eq!(limit.reserve(s(60)), Duration::ZERO);
        let mut none = RateLimit::new(None);
        assert_eq!(none.reserve(s(1)), Duration::ZERO);
        assert_eq!(none.reserve(s(1)), Duration::ZERO);
        assert_eq!(RateLimit::new(Some(0.0)), RateLimit::new(None));
    }
}

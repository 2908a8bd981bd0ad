//! The deterministic dataset: users and their orders, computed from their
//! position rather than stored, so a million users cost no memory.
//!
//! User `i` (1-based) was updated `i` seconds after [`EPOCH_MS`]
//! (2026-01-01T00:00:00Z); its order `k` (1-based) `k` milliseconds after
//! its user. Ids grow with `updated_at`, so "sorted by id" and "sorted by
//! `updated_at`" are one order.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use std::ops::RangeInclusive;

/// 2026-01-01T00:00:00Z in milliseconds since the Unix epoch.
pub const EPOCH_MS: i64 = 1_767_225_600_000;

/// The most orders a user can have: an order's id is `user * 100 + k`.
pub const MAX_ORDERS_PER_USER: usize = 99;

/// How many users there are and how many orders each has.
#[derive(Debug, Clone, Copy)]
pub struct Dataset {
    /// Users `1..=users` exist.
    pub users: u64,
    /// Orders `1..=orders_per_user` of every user exist.
    pub orders_per_user: u64,
}

impl Dataset {
    /// The ids of the users updated strictly after `since` (milliseconds
    /// since the Unix epoch; `None`: every user), in `updated_at` order.
    pub fn users_since(&self, since: Option<i64>) -> RangeInclusive<u64> {
        let first = match since {
            // User i is newer than `since` when EPOCH_MS + 1000 i > since.
            Some(since) => (since - EPOCH_MS).div_euclid(1000).saturating_add(1).max(1),
            None => 1,
        };
        u64::try_from(first).unwrap_or(u64::MAX)..=self.users
    }

    /// User `user`'s orders updated strictly after `since`, in `updated_at`
    /// order; `None` when there is no such user.
    pub fn orders_of(&self, user: u64, since: Option<i64>) -> Option<Vec<Value>> {
        if !(1..=self.users).contains(&user) {
            return None;
        }
        let orders = (1..=self.orders_per_user)
            .filter(|&k| since.is_none_or(|since| order_updated_ms(user, k) > since))
            .map(|k| order(user, k))
            .collect();
        Some(orders)
    }

    /// Every user, in `updated_at` order.
    pub fn all_users(&self) -> Vec<Value> {
        (1..=self.users).map(user).collect()
    }

    /// Every order, in `updated_at` order.
    pub fn all_orders(&self) -> Vec<Value> {
        (1..=self.users)
            .flat_map(|i| (1..=self.orders_per_user).map(move |k| order(i, k)))
            .collect()
    }
}

/// User `i`.
pub fn user(i: u64) -> Value {
    json!({
        "id": i,
        "name": format!("user-{i}"),
        "email": format!("user-{i}@example.com"),
        "updated_at": rfc3339(user_updated_ms(i), SecondsFormat::Secs),
    })
}

/// Order `k` of user `i`: id `i * 100 + k`, an amount in cents that looks
/// random but is a function of `(i, k)`.
pub fn order(i: u64, k: u64) -> Value {
    let cents = (i * 7919 + k * 104_729) % 100_000;
    json!({
        "id": i * 100 + k,
        "user_id": i,
        "amount": cents as f64 / 100.0,
        "updated_at": rfc3339(order_updated_ms(i, k), SecondsFormat::Millis),
    })
}

fn user_updated_ms(i: u64) -> i64 {
    EPOCH_MS.saturating_add(i64::try_from(i).unwrap_or(i64::MAX).saturating_mul(1000))
}

fn order_updated_ms(i: u64, k: u64) -> i64 {
    user_updated_ms(i).saturating_add(i64::try_from(k).unwrap_or(i64::MAX))
}

/// `ms` as RFC 3339 in UTC with a `Z`.
fn rfc3339(ms: i64, format: SecondsFormat) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(format, true)
}

/// An RFC 3339 time (any offset, any fraction) as milliseconds since the
/// Unix epoch. A `+` that a query string decoded as a space is read as `+`.
pub fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim().replace(' ', "+");
    let time = DateTime::parse_from_rfc3339(&text).ok()?;
    // Records sit on whole milliseconds, so dropping a fraction of one
    // keeps "strictly after" exact.
    Some(time.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(users: u64) -> Dataset {
        Dataset {
            users,
            orders_per_user: 3,
        }
    }

    #[test]
    fn records_are_as_documented() {
        assert_eq!(
            user(7),
            json!({"id": 7, "name": "user-7", "email": "user-7@example.com",
                   "updated_at": "2026-01-01T00:00:07Z"})
        );
        let o = order(7, 2);
        assert_eq!(o["id"], 702);
        assert_eq!(o["user_id"], 7);
        assert_eq!(o["updated_at"], "2026-01-01T00:00:07.002Z");
        assert!(o["amount"].is_f64());
    }

    #[test]
    fn since_keeps_strictly_later_users() {
        let d = data(10);
        assert_eq!(d.users_since(None), 1..=10);
        let at = |s: &str| parse_time(s);
        assert_eq!(d.users_since(at("2026-01-01T00:00:05Z")), 6..=10);
        assert_eq!(d.users_since(at("2026-01-01T00:00:05.5Z")), 6..=10);
        assert_eq!(d.users_since(at("2026-01-01T00:00:04.999Z")), 5..=10);
        assert_eq!(d.users_since(at("2025-12-31T23:00:00Z")), 1..=10);
        assert_eq!(d.users_since(at("2026-01-01T01:00:05+01:00")), 6..=10);
        assert_eq!(d.users_since(at("2026-01-01T00:00:05 00:00")), 6..=10);
        assert!(d.users_since(at("2027-01-01T00:00:00Z")).is_empty());
    }

    #[test]
    fn orders_follow_their_user() {
        let d = data(4);
        assert_eq!(d.orders_of(5, None), None);
        assert_eq!(d.orders_of(2, None).unwrap().len(), 3);
        let later = d.orders_of(2, parse_time("2026-01-01T00:00:02.001Z"));
        assert_eq!(later.unwrap().len(), 2);
        let all = d.all_orders();
        assert_eq!(all.len(), 12);
        let times: Vec<&str> = all
            .iter()
            .map(|o| o["updated_at"].as_str().unwrap())
            .collect();
        assert!(times.is_sorted());
    }
}

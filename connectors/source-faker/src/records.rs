//! Generating one record: deterministic values from the seed and the id,
//! written into reused buffers so that a record allocates nothing.

use crate::Config;
use chrono::{DateTime, SecondsFormat};
use serde::Serialize;
use sluice_guest::{BatchBuilder, Result};

/// 2024-01-01T00:00:00Z: the first record's timestamp.
pub(crate) const T0: i64 = 1_704_067_200;

/// RFC 3339 text of `secs` since the epoch.
pub(crate) fn timestamp(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// A 64-bit mix of `seed` and `n` (splitmix64's finaliser).
pub(crate) fn mix(seed: u64, n: u64) -> u64 {
    let mut z = seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const FIRST: [&str; 16] = [
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "Ken",
    "Margaret",
    "Dennis",
    "Radia",
    "John",
    "Hedy",
    "Niklaus",
    "Katherine",
    "Tony",
];
const LAST: [&str; 16] = [
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton",
    "Ritchie", "Perlman", "Backus", "Lamarr", "Wirth", "Johnson", "Hoare",
];
/// The values of `orders.status`.
pub(crate) const STATUS: [&str; 4] = ["pending", "paid", "shipped", "delivered"];
/// The values of `events.kind`.
pub(crate) const KINDS: [&str; 5] = ["login", "view", "search", "add_to_cart", "logout"];
const CITIES: [&str; 8] = [
    "Lisbon", "Nairobi", "Osaka", "Lima", "Oslo", "Austin", "Pune", "Perth",
];
/// In schema version 2, every order whose id is a multiple of 100 is a bulk
/// order of at least this many cents: beyond the int32 range.
const BULK_CENTS: u64 = 2_500_000_000;

#[derive(Serialize)]
struct User<'a> {
    id: u64,
    name: &'a str,
    email: &'a str,
    age: u64,
    city: &'a str,
    version: u64,
    created_at: &'a str,
    updated_at: &'a str,
}

#[derive(Serialize)]
struct Order<'a> {
    id: u64,
    user_id: u64,
    amount_cents: u64,
    currency: &'a str,
    status: &'a str,
    version: u64,
    created_at: &'a str,
    updated_at: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    coupon: Option<&'a str>,
}

#[derive(Serialize)]
struct Event<'a> {
    id: u64,
    user_id: u64,
    kind: &'a str,
    occurred_at: &'a str,
}

/// RFC 3339 timestamps (`2024-01-01T00:00:01Z`) written into reused
/// buffers: chrono computes the date once per day, the time of day is three
/// two-digit numbers.
#[derive(Default)]
pub(crate) struct Clock {
    day: Option<i64>,
    date: String,
}

impl Clock {
    /// Write the RFC 3339 text of `secs` into `out`.
    pub(crate) fn write(&mut self, secs: i64, out: &mut String) {
        let day = secs.div_euclid(86_400);
        if self.day != Some(day) {
            self.date = timestamp(day * 86_400);
            self.date.truncate(11); // "YYYY-MM-DDT"
            self.day = Some(day);
        }
        let in_day = secs.rem_euclid(86_400);
        out.clear();
        out.push_str(&self.date);
        for (i, part) in [in_day / 3600, in_day / 60 % 60, in_day % 60]
            .into_iter()
            .enumerate()
        {
            if i > 0 {
                out.push(':');
            }
            out.push(char::from(b'0' + (part / 10) as u8));
            out.push(char::from(b'0' + (part % 10) as u8));
        }
        out.push('Z');
    }
}

/// Buffers reused for every record, so generating one allocates nothing.
#[derive(Default)]
pub(crate) struct Scratch {
    clock: Clock,
    name: String,
    email: String,
    created: String,
    updated: String,
}

/// One record to generate: its stream, id, version and cursor.
pub(crate) struct Record<'a> {
    pub(crate) stream: &'a str,
    pub(crate) id: u64,
    pub(crate) version: u64,
    pub(crate) cursor: i64,
}

impl Scratch {
    /// Append record `rec` to `batch`.
    pub(crate) fn push(
        &mut self,
        config: &Config,
        rec: &Record,
        batch: &mut BatchBuilder,
    ) -> Result<()> {
        let r = mix(
            config.seed ^ mix(rec.stream.len() as u64, rec.version),
            rec.id,
        );
        match rec.stream {
            "users" => self.user(rec, r, batch),
            "orders" => self.order(config, rec, r, batch),
            _ => {
                self.clock.write(rec.cursor, &mut self.updated);
                batch.push(&Event {
                    id: rec.id,
                    user_id: 1 + mix(config.seed ^ 7, rec.id) % config.count.max(1),
                    kind: KINDS[(r % 5) as usize],
                    occurred_at: &self.updated,
                })
            }
        }
    }

    fn user(&mut self, rec: &Record, r: u64, batch: &mut BatchBuilder) -> Result<()> {
        let first = FIRST[(r % 16) as usize];
        let last = LAST[((r >> 8) % 16) as usize];
        let mut digits = itoa::Buffer::new();
        self.name.clear();
        self.name.push_str(first);
        self.name.push(' ');
        self.name.push_str(last);
        if rec.version > 0 {
            self.name.push_str(" (v");
            self.name.push_str(digits.format(rec.version));
            self.name.push(')');
        }
        self.email.clear();
        self.email
            .extend(first.chars().map(|c| c.to_ascii_lowercase()));
        self.email.push('.');
        self.email
            .extend(last.chars().map(|c| c.to_ascii_lowercase()));
        self.email.push_str(digits.format(rec.id));
        self.email.push_str("@example.com");
        self.clock.write(T0 + rec.id as i64, &mut self.created);
        self.clock.write(rec.cursor, &mut self.updated);
        batch.push(&User {
            id: rec.id,
            name: &self.name,
            email: &self.email,
            age: 18 + (r >> 16) % 70,
            city: CITIES[((r >> 24) % 8) as usize],
            version: rec.version,
            created_at: &self.created,
            updated_at: &self.updated,
        })
    }

    fn order(
        &mut self,
        config: &Config,
        rec: &Record,
        r: u64,
        batch: &mut BatchBuilder,
    ) -> Result<()> {
        let v2 = config.schema_version >= 2;
        let amount_cents = match v2 && rec.id.is_multiple_of(100) {
            true => BULK_CENTS + r % 1_000_000,
            false => 100 + r % 100_000,
        };
        self.clock.write(T0 + rec.id as i64, &mut self.created);
        self.clock.write(rec.cursor, &mut self.updated);
        batch.push(&Order {
            id: rec.id,
            user_id: 1 + mix(config.seed, rec.id) % config.count.max(1),
            amount_cents,
            currency: if r.is_multiple_of(3) { "EUR" } else { "USD" },
            status: STATUS[((r >> 20) % 4) as usize],
            version: rec.version,
            created_at: &self.created,
            updated_at: &self.updated,
            coupon: (v2 && (r >> 40).is_multiple_of(4)).then_some("WELCOME10"),
        })
    }
}

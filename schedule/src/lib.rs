//! When a pipeline runs. A pipeline file's `[schedule]` table says either
//! `every = "15m"` (any duration people write: `90s`, `6h`, `4d`) or
//! `cron = "0 */6 * * *"` (five-field crontab, evaluated by croner) with
//! an optional IANA `timezone` (default UTC), and `catch_up`: what to do
//! when the service was down at a time the pipeline should have run
//! (`"once"`, the default: run once at start; `"skip"`: wait for the next
//! time).
//!
//! ```
//! use sluice_schedule::{Schedule, ScheduleSpec};
//! let spec: ScheduleSpec = toml::from_str("cron = \"0 */6 * * *\"\ntimezone = \"Europe/Paris\"").unwrap();
//! let schedule = Schedule::from_spec(&spec).unwrap();
//! assert_eq!(schedule.to_string(), "cron `0 */6 * * *` (Europe/Paris)");
//! ```
//!
//! [`Schedule::next_run`] is the whole policy: from the start of the last
//! run (if any) and the time now, when the next run starts. The service
//! that runs pipelines (`sluice serve`, or an embedder) sleeps until then.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The `[schedule]` table of a pipeline file, as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// A period: `"15m"`, `"6h"`, `"4d"`, `"1s"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<String>,
    /// A five-field cron expression: minute hour day-of-month month
    /// day-of-week.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// The IANA time zone `cron` is read in (default `UTC`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// What a time missed while nothing was running leads to.
    #[serde(default)]
    pub catch_up: CatchUp,
}

/// What happens to a run missed while the service was down.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CatchUp {
    /// Run once at start, however many times were missed.
    #[default]
    Once,
    /// Wait for the next scheduled time.
    Skip,
}

/// A schedule that is wrong, naming its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`schedule.{key}`: {message}")]
pub struct ScheduleError {
    /// The key of `[schedule]` at fault: `every`, `cron` or `timezone`.
    pub key: &'static str,
    /// What is wrong, with an example of what is right.
    pub message: String,
}

fn invalid(key: &'static str, message: impl Into<String>) -> ScheduleError {
    ScheduleError {
        key,
        message: message.into(),
    }
}

/// When runs happen.
#[derive(Debug, Clone)]
enum When {
    /// A fixed period after the start of the last run.
    Every { period: Duration, text: String },
    /// The times a cron expression matches, in a time zone.
    Cron {
        cron: Box<Cron>,
        zone: Tz,
        text: String,
    },
}

/// A parsed, valid schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    when: When,
    catch_up: CatchUp,
}

impl Schedule {
    /// Parse `spec`; exactly one of `every` and `cron` must be set, and
    /// `timezone` only with `cron`.
    pub fn from_spec(spec: &ScheduleSpec) -> Result<Schedule, ScheduleError> {
        let when = match (&spec.every, &spec.cron) {
            (Some(_), Some(_)) => {
                return Err(invalid("every", "set `every` or `cron`, not both"));
            }
            (None, None) => {
                return Err(invalid(
                    "every",
                    "missing: set `every = \"15m\"` or `cron = \"0 */6 * * *\"`",
                ));
            }
            (Some(every), None) => {
                if spec.timezone.is_some() {
                    return Err(invalid(
                        "timezone",
                        "applies to `cron` only (`every` counts from the last run)",
                    ));
                }
                parse_every(every)?
            }
            (None, Some(cron)) => parse_cron(cron, spec.timezone.as_deref())?,
        };
        Ok(Schedule {
            when,
            catch_up: spec.catch_up,
        })
    }

    /// What a missed run leads to.
    pub fn catch_up(&self) -> CatchUp {
        self.catch_up
    }

    /// The first scheduled time strictly after `t`: `t` plus the period,
    /// or the cron expression's next match.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.when {
            When::Every { period, .. } => chrono::Duration::from_std(*period)
                .ok()
                .and_then(|d| t.checked_add_signed(d)),
            When::Cron { cron, zone, .. } => cron
                .find_next_occurrence(&t.with_timezone(zone), false)
                .ok()
                .map(|next| next.with_timezone(&Utc)),
        }
    }

    /// When the next run starts, given when the last one started (none:
    /// never) and the time `now`. A pipeline that never ran on `every`
    /// runs now, on `cron` at the next match. A time missed while nothing
    /// ran (it lies before `now`) means now with `catch_up = "once"`, the
    /// first time after `now` with `"skip"`. `None`: no time ever comes
    /// (a cron expression that can never match again).
    pub fn next_run(
        &self,
        last: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let due = match (last, &self.when) {
            (None, When::Every { .. }) => return Some(now),
            (None, When::Cron { .. }) => return self.next_after(now),
            (Some(last), _) => self.next_after(last)?,
        };
        if due > now {
            return Some(due);
        }
        match self.catch_up {
            CatchUp::Once => Some(now),
            CatchUp::Skip => self.first_after(due, now),
        }
    }

    /// The first scheduled time after `now`, stepping on from `from`.
    fn first_after(&self, from: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.when {
            When::Every { period, .. } => {
                let step = i64::try_from(period.as_millis()).ok()?.max(1);
                let behind = (now - from).num_milliseconds();
                let steps = behind / step + 1;
                from.checked_add_signed(chrono::Duration::milliseconds(steps.checked_mul(step)?))
            }
            When::Cron { .. } => self.next_after(now),
        }
    }
}

/// Two schedules are equal when they run at the same times with the same
/// catch-up policy (as written: `every = "60m"` is not `every = "1h"`).
impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.catch_up == other.catch_up && self.to_string() == other.to_string()
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.when {
            When::Every { text, .. } => write!(f, "every {text}"),
            When::Cron { text, zone, .. } => write!(f, "cron `{text}` ({zone})"),
        }
    }
}

/// `every = "..."`: a duration of at least a second.
fn parse_every(text: &str) -> Result<When, ScheduleError> {
    let period = humantime::parse_duration(text.trim()).map_err(|e| {
        invalid(
            "every",
            format!(
                "`{text}` is not a duration ({e}); write e.g. \"90s\", \"15m\", \"6h\" or \"4d\""
            ),
        )
    })?;
    if period < Duration::from_secs(1) {
        return Err(invalid(
            "every",
            format!("`{text}` is shorter than a second"),
        ));
    }
    Ok(When::Every {
        period,
        text: text.trim().to_string(),
    })
}

/// `cron = "..."` in `timezone` (default UTC).
fn parse_cron(text: &str, timezone: Option<&str>) -> Result<When, ScheduleError> {
    let fields = text.split_whitespace().count();
    if fields != 5 {
        return Err(invalid(
            "cron",
            format!(
                "`{text}` has {fields} fields; a cron expression has five: minute hour day-of-month month day-of-week, e.g. \"0 */6 * * *\""
            ),
        ));
    }
    let cron = Cron::from_str(text).map_err(|e| invalid("cron", format!("`{text}`: {e}")))?;
    let zone = match timezone {
        None => Tz::UTC,
        Some(name) => name.parse::<Tz>().map_err(|_| {
            invalid(
                "timezone",
                format!("`{name}` is not an IANA time zone; write e.g. \"UTC\", \"Europe/Paris\" or \"America/New_York\""),
            )
        })?,
    };
    Ok(When::Cron {
        cron: Box::new(cron),
        zone,
        text: text.to_string(),
    })
}

#[cfg(test)]
mod tests;

use super::*;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn schedule(toml_text: &str) -> Result<Schedule, ScheduleError> {
    let spec: ScheduleSpec = toml::from_str(toml_text).unwrap();
    Schedule::from_spec(&spec)
}

#[test]
fn every_counts_from_the_start_of_the_last_run() {
    let s = schedule(r#"every = "15m""#).unwrap();
    let now = at("2026-12-02T10:00:00Z");
    assert_eq!(s.next_run(None, now), Some(now), "never ran: now");
    let last = at("2026-12-02T09:50:00Z");
    assert_eq!(
        s.next_run(Some(last), now),
        Some(at("2026-12-02T10:05:00Z"))
    );
    assert_eq!(s.to_string(), "every 15m");
    for (text, secs) in [("1s", 1), ("90s", 90), ("6h", 21_600), ("4d", 345_600)] {
        let s = schedule(&format!("every = {text:?}")).unwrap();
        let t = at("2026-01-01T00:00:00Z");
        assert_eq!((s.next_after(t).unwrap() - t).num_seconds(), secs, "{text}");
    }
}

#[test]
fn a_missed_time_runs_once_at_start_or_is_skipped() {
    let now = at("2026-12-02T10:00:00Z");
    let last = at("2026-12-02T06:00:00Z");
    let once = schedule(r#"every = "1h""#).unwrap();
    assert_eq!(once.next_run(Some(last), now), Some(now));
    let skip = schedule("every = \"1h\"\ncatch_up = \"skip\"").unwrap();
    assert_eq!(skip.catch_up(), CatchUp::Skip);
    // 06:00 + k hours: the first after 10:00 is 11:00.
    assert_eq!(
        skip.next_run(Some(last), now),
        Some(at("2026-12-02T11:00:00Z"))
    );
    // Last ran at 05:00: the 06:00 run was missed.
    let last = at("2026-12-02T05:00:00Z");
    let cron = schedule("cron = \"0 */6 * * *\"\ncatch_up = \"skip\"").unwrap();
    assert_eq!(
        cron.next_run(Some(last), now),
        Some(at("2026-12-02T12:00:00Z"))
    );
    let cron = schedule("cron = \"0 */6 * * *\"").unwrap();
    assert_eq!(
        cron.next_run(Some(last), now),
        Some(now),
        "missed 06:00: now"
    );
    let on_time = at("2026-12-02T06:00:00Z");
    assert_eq!(
        cron.next_run(Some(on_time), now),
        Some(at("2026-12-02T12:00:00Z"))
    );
}

#[test]
fn cron_matches_in_its_time_zone() {
    let s = schedule("cron = \"30 9 * * 1-5\"\ntimezone = \"Europe/Paris\"").unwrap();
    // Wednesday 2 December 2026, 07:00 UTC is 08:00 in Paris (CET, UTC+1).
    let now = at("2026-12-02T07:00:00Z");
    assert_eq!(s.next_run(None, now), Some(at("2026-12-02T08:30:00Z")));
    // Friday 09:30 Paris, then Monday: the weekend is skipped.
    let friday = at("2026-12-04T08:30:00Z");
    assert_eq!(s.next_after(friday), Some(at("2026-12-07T08:30:00Z")));
    // Summer time: 09:30 in Paris is 07:30 UTC.
    assert_eq!(
        s.next_after(at("2026-07-01T00:00:00Z")),
        Some(at("2026-07-01T07:30:00Z"))
    );
    let utc = schedule(r#"cron = "0 */6 * * *""#).unwrap();
    assert_eq!(utc.to_string(), "cron `0 */6 * * *` (UTC)");
    assert_eq!(
        utc.next_after(at("2026-12-02T06:00:00Z")),
        Some(at("2026-12-02T12:00:00Z"))
    );
}

#[test]
fn mistakes_name_the_key_and_show_what_is_right() {
    let cases = [
        (r#"every = "soon""#, "every", "\"15m\""),
        (r#"every = "500ms""#, "every", "shorter than a second"),
        (r#"cron = "0 */6 * *""#, "cron", "five"),
        (r#"cron = "61 * * * *""#, "cron", "61 * * * *"),
        (
            "cron = \"0 * * * *\"\ntimezone = \"Mars/Olympus\"",
            "timezone",
            "Europe/Paris",
        ),
        ("every = \"1h\"\ntimezone = \"UTC\"", "timezone", "cron"),
        ("every = \"1h\"\ncron = \"0 * * * *\"", "every", "not both"),
        ("catch_up = \"once\"", "every", "missing"),
    ];
    for (text, key, hint) in cases {
        let e = schedule(text).unwrap_err();
        assert_eq!(e.key, key, "{text}: {e}");
        let shown = e.to_string();
        assert!(shown.starts_with(&format!("`schedule.{key}`")), "{shown}");
        assert!(shown.contains(hint), "{text}: {shown}");
    }
    let unknown = toml::from_str::<ScheduleSpec>("evry = \"1h\"").unwrap_err();
    assert!(unknown.to_string().contains("evry"), "{unknown}");
}

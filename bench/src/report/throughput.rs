//! The end-to-end rows: sandboxed against native at both sizes, fuel
//! metered, one stream in partitions, source-file incremental, peak RSS.

use super::{Ctx, Plan, e2e, e2e_with, met, mib, rate, write_users};

/// Targets, from the design.
const TARGET_RATE: f64 = 3_000_000.0;
const TARGET_NATIVE_RATIO: f64 = 1.25;
const TARGET_RSS_MIB: f64 = 64.0;
/// Two partitions of one stream against one.
const TARGET_PARTITION_GAIN: f64 = 1.8;
/// source-file incremental on a large file.
const TARGET_FILE_RATE: f64 = 1_500_000.0;

/// Every end-to-end row, in the table's order.
pub(super) fn rows(ctx: &Ctx, plan: &Plan) -> Result<Vec<String>, String> {
    let mut rows = Vec::new();
    let mut e2e_results = Vec::new();
    for size in plan.sizes {
        let wasm = e2e(ctx, "wasm", "faker", "all", size, plan.runs)?;
        let native = e2e(ctx, "native", "faker", "all", size, plan.runs)?;
        e2e_results.push((size, wasm, native));
    }
    for (size, wasm, native) in &e2e_results {
        let ratio = wasm.secs / native.secs;
        rows.push(format!(
            "| end to end, {size} records: source-faker -> dest-file (JSON lines, 3 streams, {:.0} B/record) | {} ({:.0} MB/s) | native {} ({:.0} MB/s) | {ratio:.2}x native time | >= 3 M rec/s; <= 1.25x native | {} ; {} |",
            wasm.bytes as f64 / wasm.records as f64,
            rate(wasm.rate()),
            wasm.mb_per_s(),
            rate(native.rate()),
            native.mb_per_s(),
            met(wasm.rate() >= TARGET_RATE),
            met(ratio <= TARGET_NATIVE_RATIO),
        ));
    }
    let (small, big) = (&e2e_results[0], &e2e_results[1]);
    let metered = e2e_with(
        ctx,
        "wasm",
        "faker",
        "all",
        big.0,
        plan.runs,
        &["--fuel", "200000000000"],
    )?;
    rows.push(format!(
        "| end to end, {} records, fuel metered (`limits.fuel = 200000000000`; the default is 0, unmetered) | {} ({:.0} MB/s) | native {} | {:.2}x native time | | metering costs {:.0}% |",
        big.0,
        rate(metered.rate()),
        metered.mb_per_s(),
        rate(big.2.rate()),
        metered.secs / big.2.secs,
        (metered.secs / big.1.secs - 1.0) * 100.0,
    ));
    rows.push(partition_row(ctx, plan, big.0)?);
    rows.push(file_row(ctx, plan, small.0)?);
    rows.push(format!(
        "| peak RSS, {} / {} records (whole process) | {} / {} | native {} / {} | | < 64 MiB at the larger size, flat | {} |",
        small.0,
        big.0,
        mib(small.1.peak_rss_kib),
        mib(big.1.peak_rss_kib),
        mib(small.2.peak_rss_kib),
        mib(big.2.peak_rss_kib),
        met((big.1.peak_rss_kib as f64 / 1024.0) < TARGET_RSS_MIB),
    ));
    Ok(rows)
}

/// One stream of `records` users read by source-faker in 2 partitions
/// (two readers) against the same stream read whole by one.
fn partition_row(ctx: &Ctx, plan: &Plan, records: u64) -> Result<String, String> {
    let read = |n: &str| {
        e2e_with(
            ctx,
            "wasm",
            "faker",
            "users",
            records,
            plan.runs,
            &["--parallelism", n],
        )
    };
    let (one, two) = (read("1")?, read("2")?);
    let gain = two.rate() / one.rate();
    Ok(format!(
        "| one stream of {records} users: source-faker in 2 partitions (2 readers) -> dest-file | {} ({}) | 1 partition {} | {gain:.2}x the 1-partition rate | >= {TARGET_PARTITION_GAIN}x | {} |",
        rate(two.rate()),
        mib(two.peak_rss_kib),
        rate(one.rate()),
        met(gain >= TARGET_PARTITION_GAIN),
    ))
}

/// source-file -> dest-file on a JSON-lines file of `records` users,
/// incremental (the stream's default: cursor `updated_at`).
fn file_row(ctx: &Ctx, plan: &Plan, records: u64) -> Result<String, String> {
    write_users(&ctx.work.join("input").join("users.jsonl"), records)?;
    let file = e2e(ctx, "wasm", "file", "users", records, plan.runs)?;
    Ok(format!(
        "| source-file -> dest-file, incremental (cursor `updated_at`), a {records}-line JSON-lines file of users | {} ({:.0} MB/s, {}) | | | >= 1.5 M rec/s | {} |",
        rate(file.rate()),
        file.mb_per_s(),
        mib(file.peak_rss_kib),
        met(file.rate() >= TARGET_FILE_RATE),
    ))
}

//! Reading libFuzzer's output (as `cargo fuzz run` prints it): how many
//! inputs ran, the input a crash saved, and what went wrong, in one line.
//! Text in, values out: no files, no processes.

use std::path::PathBuf;

/// Inputs executed and seconds taken: `Done N runs in S second(s)` at a
/// normal end, else `stat::number_of_executed_units`, else the last
/// `#N` status line (a crash ends the run without a summary).
pub fn parse_runs(output: &str) -> (Option<u64>, Option<u64>) {
    for line in output.lines().rev() {
        if let Some(rest) = line.strip_prefix("Done ") {
            let mut words = rest.split_whitespace();
            let runs = words.next().and_then(|w| w.parse().ok());
            let secs = words.nth(2).and_then(|w| w.parse().ok());
            if runs.is_some() {
                return (runs, secs);
            }
        }
    }
    let stat = |name: &str| {
        output.lines().rev().find_map(|l| {
            l.strip_prefix(name)
                .and_then(|v| v.trim_start_matches(':').trim().parse::<u64>().ok())
        })
    };
    if let Some(runs) = stat("stat::number_of_executed_units") {
        return (Some(runs), None);
    }
    let last = output.lines().rev().find_map(|l| {
        let n = l.strip_prefix('#')?.split_whitespace().next()?;
        n.parse::<u64>().ok()
    });
    (last, None)
}

/// The input libFuzzer saved: `... Test unit written to PATH`.
pub fn parse_artifact(output: &str) -> Option<PathBuf> {
    output.lines().rev().find_map(|l| {
        let (_, path) = l.split_once("Test unit written to ")?;
        Some(PathBuf::from(path.trim()))
    })
}

/// What went wrong, in one line: the panic message (the line after
/// `panicked at`), else libFuzzer's `ERROR:` or `SUMMARY:` line.
pub fn parse_summary(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    if let Some(i) = lines.iter().position(|l| l.contains("panicked at")) {
        let place = lines[i]
            .split_once("panicked at ")
            .map_or("", |(_, p)| p.trim_end_matches(':'));
        let message = lines.get(i + 1).copied().unwrap_or("").trim();
        return clip(&format!("panic: {message} (at {place})"), 300);
    }
    lines
        .iter()
        .find(|l| l.contains("ERROR: libFuzzer") || l.starts_with("SUMMARY:"))
        .map_or("the fuzzer exited with an error".to_string(), |l| {
            clip(
                l.trim_start_matches(['=', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ' ']),
                300,
            )
        })
}

/// The last `n` lines of `text`, each cut to 300 characters (libFuzzer
/// prints a crashing input's bytes on one line).
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| clip(l, 300))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn clip(line: &str, max: usize) -> String {
    match line.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &line[..i]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_come_from_the_done_line_or_the_last_status() {
        let done = "#2\tINITED cov: 1\n#100\tpulse\nstat::number_of_executed_units: 450844\nDone 450844 runs in 11 second(s)\n";
        assert_eq!(parse_runs(done), (Some(450844), Some(11)));
        let crash = "#5\tINITED cov: 4077\n#20\tNEW    cov: 4126 ft: 4487\n\nthread '<unnamed>' panicked at src/x.rs:1:2:\nboom\n";
        assert_eq!(parse_runs(crash), (Some(20), None));
        assert_eq!(parse_runs(""), (None, None));
    }

    #[test]
    fn crashes_are_summarised_with_their_input() {
        let out = "thread '<unnamed>' (1044) panicked at /r/redb-4.4.0/src/tuple_types.rs:509:1:\n\
                   range end index 116 out of range for slice of length 20\n\
                   ==1044== ERROR: libFuzzer: deadly signal\n\
                   artifact_prefix='/w/fuzz/artifacts/s/'; Test unit written to /w/fuzz/artifacts/s/crash-1dbf\n";
        assert_eq!(
            parse_artifact(out),
            Some(PathBuf::from("/w/fuzz/artifacts/s/crash-1dbf"))
        );
        assert_eq!(
            parse_summary(out),
            "panic: range end index 116 out of range for slice of length 20 (at /r/redb-4.4.0/src/tuple_types.rs:509:1)"
        );
        let oom = "==7== ERROR: libFuzzer: out-of-memory (used: 2100Mb; exceeds: 2048Mb)\n";
        assert_eq!(
            parse_summary(oom),
            "ERROR: libFuzzer: out-of-memory (used: 2100Mb; exceeds: 2048Mb)"
        );
    }

    #[test]
    fn runs_fall_back_to_the_final_stats() {
        let stats =
            "#1024\tpulse  cov: 9\nstat::number_of_executed_units: 2048\nstat::peak_rss_mb: 60\n";
        assert_eq!(parse_runs(stats), (Some(2048), None));
    }

    #[test]
    fn an_exit_without_a_known_line_is_still_summarised() {
        assert_eq!(
            parse_summary("INFO: Seed: 1\n"),
            "the fuzzer exited with an error"
        );
        assert_eq!(parse_artifact("INFO: Seed: 1\n"), None);
    }

    #[test]
    fn long_lines_are_clipped_and_only_the_tail_is_kept() {
        assert_eq!(clip("abcdef", 3), "abc...");
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("\u{e9}\u{e9}\u{e9}\u{e9}", 2), "\u{e9}\u{e9}...");
        assert_eq!(tail("1\n2\n3\n4", 2), "3\n4");
        assert_eq!(tail("only", 5), "only");
    }
}

//! AuroraDB's benchmarks (`cargo bench -p auroradb-benches`), and the small timing helpers they
//! share.
//!
//! Criterion measures each operation next to the raw `postcard` and `blake3` work it cannot avoid,
//! in the same run. After the criterion groups, a bench prints a short summary table of the same
//! comparisons, timed with [`std::time::Instant`] by [`time_per_iter`], so the ratios can be read
//! at a glance.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// The mean time of one call of `f`, measured over roughly `budget` after a short warm-up. The
/// result of `f` is passed through [`black_box`] so the work is not optimized away.
pub fn time_per_iter<T>(budget: Duration, mut f: impl FnMut() -> T) -> Duration {
    // Warm up and find how many calls fit in a tenth of the budget.
    let mut batch: u64 = 1;
    loop {
        let start = Instant::now();
        for _ in 0..batch {
            black_box(f());
        }
        if start.elapsed() >= budget / 10 || batch >= 1 << 40 {
            break;
        }
        batch *= 2;
    }
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < budget {
        for _ in 0..batch {
            black_box(f());
        }
        calls += batch;
    }
    Duration::from_secs_f64(start.elapsed().as_secs_f64() / calls.max(1) as f64)
}

/// One line of a summary: an AuroraDB operation and the raw work it is compared with.
#[derive(Debug, Clone)]
pub struct Row {
    /// What is measured.
    pub what: String,
    /// Time of one AuroraDB call.
    pub ours: Duration,
    /// Time of the raw work on the same input.
    pub raw: Duration,
    /// What the raw work is.
    pub raw_what: String,
    /// Bytes processed per call, when throughput in bytes is meaningful.
    pub bytes: Option<u64>,
}

/// Formats rows as a fixed-width table: time per call and throughput of both sides, and the ratio
/// of AuroraDB's time to the raw time.
pub fn summary_table(title: &str, rows: &[Row]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "\n{title}");
    let _ = writeln!(
        out,
        "{:<34} {:>12} {:>12}  {:<34} {:>12} {:>12} {:>7}",
        "operation", "time", "rate", "raw baseline", "time", "rate", "ratio"
    );
    let _ = writeln!(out, "{}", "-".repeat(34 + 13 + 13 + 2 + 34 + 13 + 13 + 8));
    for r in rows {
        let ratio = r.ours.as_secs_f64() / r.raw.as_secs_f64().max(1e-12);
        let _ = writeln!(
            out,
            "{:<34} {:>12} {:>12}  {:<34} {:>12} {:>12} {:>6.1}x",
            r.what,
            fmt_time(r.ours),
            fmt_rate(r.ours, r.bytes),
            r.raw_what,
            fmt_time(r.raw),
            fmt_rate(r.raw, r.bytes),
            ratio
        );
    }
    out
}

/// `123.4 ns`, `12.3 µs`, `1.2 ms`.
pub fn fmt_time(d: Duration) -> String {
    let ns = d.as_secs_f64() * 1e9;
    if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{:.1} ms", ns / 1e6)
    }
}

/// Throughput: `MiB/s` when `bytes` is known, calls per second otherwise.
pub fn fmt_rate(per_call: Duration, bytes: Option<u64>) -> String {
    let per_sec = 1.0 / per_call.as_secs_f64().max(1e-12);
    match bytes {
        Some(b) => format!("{:.0} MiB/s", per_sec * b as f64 / (1024.0 * 1024.0)),
        None if per_sec >= 1e6 => format!("{:.2} M/s", per_sec / 1e6),
        None => format!("{:.0} k/s", per_sec / 1e3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_and_rates() {
        assert_eq!(fmt_time(Duration::from_nanos(250)), "250.0 ns");
        assert_eq!(fmt_time(Duration::from_nanos(2_500)), "2.5 µs");
        assert_eq!(fmt_time(Duration::from_micros(2_500)), "2.5 ms");
        assert_eq!(fmt_rate(Duration::from_micros(1), Some(1024 * 1024)), "1000000 MiB/s");
        assert_eq!(fmt_rate(Duration::from_nanos(500), None), "2.00 M/s");
        assert_eq!(fmt_rate(Duration::from_micros(10), None), "100 k/s");
    }

    #[test]
    fn tables_show_ratios() {
        let row = Row {
            what: "a".into(),
            ours: Duration::from_nanos(300),
            raw: Duration::from_nanos(100),
            raw_what: "b".into(),
            bytes: Some(100),
        };
        let table = summary_table("t", &[row]);
        assert!(table.contains("3.0x"), "{table}");
        assert!(table.lines().any(|l| l.starts_with("a ")), "{table}");
    }

    #[test]
    fn timing_counts_calls() {
        let mut calls = 0u64;
        let t = time_per_iter(Duration::from_millis(5), || calls += 1);
        assert!(calls > 0);
        assert!(t < Duration::from_millis(5));
    }
}

//! Latency summaries (HdrHistogram, microseconds) and disk usage.

use std::path::Path;
use std::time::Duration;

use hdrhistogram::Histogram;

/// A latency histogram in microseconds, 1 µs to 60 s, 3 significant digits.
#[allow(clippy::expect_used)] // fixed, valid bounds: construction cannot fail
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// Records a duration, clamped into the histogram's range.
pub fn record(histogram: &mut Histogram<u64>, elapsed: Duration) {
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    histogram.saturating_record(micros.max(1));
}

/// "n=… p50=… p90=… p99=… max=…", in milliseconds.
pub fn summary(histogram: &Histogram<u64>) -> String {
    if histogram.is_empty() {
        return "n=0".into();
    }
    let ms = |v: u64| v as f64 / 1000.0;
    format!(
        "n={} p50={:.3} ms p90={:.3} ms p99={:.3} ms max={:.3} ms",
        histogram.len(),
        ms(histogram.value_at_quantile(0.50)),
        ms(histogram.value_at_quantile(0.90)),
        ms(histogram.value_at_quantile(0.99)),
        ms(histogram.max()),
    )
}

/// Bytes a directory takes on disk (allocated blocks, as `du` counts) and
/// its files' apparent size.
pub fn disk_usage(dir: &Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut allocated = 0;
    let mut apparent = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_dir() {
            let (a, b) = disk_usage(&entry.path())?;
            allocated += a;
            apparent += b;
        } else {
            allocated += meta.blocks() * 512;
            apparent += meta.len();
        }
    }
    Ok((allocated, apparent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_reads_in_milliseconds() {
        let mut h = histogram();
        for ms in 1..=100 {
            record(&mut h, Duration::from_millis(ms));
        }
        let text = summary(&h);
        assert!(text.starts_with("n=100 p50=50."), "{text}");
        assert!(text.contains("max=100."), "{text}");
        assert_eq!(summary(&histogram()), "n=0");
    }
}

//! The figures of each phase, the ratios to the quiet run before each
//! attack, and the table printed at the end.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

use super::floods::Tally;
use super::well_behaved::Sample;

/// What one phase (quiet or under one attack) showed.
#[derive(Debug)]
pub struct Phase {
    /// "quiet" or the attack's description.
    pub name: String,
    /// Whether an attack ran during it.
    pub attacked: bool,
    /// What the well-behaved client saw.
    pub sample: Sample,
    /// Node VmRSS, kB: before the phase, its peak while the client was
    /// measured, and after (for an attack: after it was torn down and the
    /// node had a moment to let go).
    pub rss_kb: [u64; 3],
    /// What the attackers saw (none when quiet).
    pub tally: Option<Tally>,
    /// The node's refusal counters that grew, and the peak of its open
    /// streams gauge, when its metrics page was given.
    pub node_counters: Vec<(String, f64)>,
}

/// p50, p99 and max in milliseconds.
pub fn percentiles(histogram: &Histogram<u64>) -> [f64; 3] {
    if histogram.is_empty() {
        return [0.0; 3];
    }
    let ms = |micros: u64| micros as f64 / 1000.0;
    [
        ms(histogram.value_at_quantile(0.50)),
        ms(histogram.value_at_quantile(0.99)),
        ms(histogram.max()),
    ]
}

/// The index of the last quiet phase before phase `i`.
pub fn quiet_before(phases: &[Phase], i: usize) -> Option<usize> {
    phases[..i].iter().rposition(|phase| !phase.attacked)
}

/// Read and write p99 of phase `i` over those of the quiet phase before it.
pub fn p99_ratios(phases: &[Phase], i: usize) -> Option<[f64; 2]> {
    let quiet = &phases[quiet_before(phases, i)?].sample;
    let phase = &phases[i].sample;
    let ratio = |a: &Histogram<u64>, b: &Histogram<u64>| percentiles(a)[1] / percentiles(b)[1];
    Some([
        ratio(&phase.read, &quiet.read),
        ratio(&phase.write, &quiet.write),
    ])
}

/// The well-behaved client's errors in every phase, one line each.
pub fn client_errors(phases: &[Phase]) -> Vec<String> {
    phases
        .iter()
        .flat_map(|phase| {
            phase
                .sample
                .errors
                .iter()
                .map(move |(what, n)| format!("{}: {what} × {n}", phase.name))
        })
        .collect()
}

fn triple(values: [f64; 3]) -> String {
    format!("{:.2} / {:.2} / {:.1}", values[0], values[1], values[2])
}

fn pair(values: [f64; 3]) -> String {
    format!("{:.2} / {:.1}", values[0], values[2])
}

fn megabytes(kb: u64) -> u64 {
    kb / 1024
}

/// The attackers' tally in one cell: each count, then the peak held.
fn tally_cell(tally: Option<&Tally>) -> String {
    let Some(tally) = tally else {
        return "—".into();
    };
    let mut cell = tally
        .counts
        .iter()
        .map(|(what, n)| format!("{what}: {n}"))
        .collect::<Vec<_>>()
        .join("; ");
    let _ = write!(cell, "; peak open at once: {}", tally.held_peak);
    cell
}

/// The node's counters in one cell, without the common `pledge_` and
/// `_total`: `connections_refused{why="preface_timeout"} +256`.
fn counters_cell(counters: &[(String, f64)]) -> String {
    if counters.is_empty() {
        return "—".into();
    }
    counters
        .iter()
        .map(|(name, value)| {
            let short = name.trim_start_matches("pledge_").replacen("_total", "", 1);
            match short.strip_suffix(" (peak)") {
                Some(gauge) => format!("{gauge} peak {value}"),
                None => format!("{short} +{value}"),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The figures as a Markdown table, one row per phase.
pub fn table(phases: &[Phase]) -> String {
    let mut out = String::from(
        "| phase | read p50 / p99 / max ms | write p50 / p99 / max ms | new connection + GetHead p50 / max ms | p99 × quiet before (read, write) | pairs | client errors | node RSS MB before → peak → after | what the attackers saw | what the node counted |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (i, phase) in phases.iter().enumerate() {
        let ratios = p99_ratios(phases, i)
            .filter(|_| phase.attacked)
            .map_or("—".into(), |[r, w]| format!("{r:.1}×, {w:.1}×"));
        let errors: u64 = phase.sample.errors.values().sum();
        let [before, peak, after] = phase.rss_kb.map(megabytes);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {before} → {peak} → {after} | {} | {} |",
            phase.name,
            triple(percentiles(&phase.sample.read)),
            triple(percentiles(&phase.sample.write)),
            pair(percentiles(&phase.sample.connect)),
            ratios,
            phase.sample.write.len(),
            errors,
            tally_cell(phase.tally.as_ref()),
            counters_cell(&phase.node_counters),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::stats;

    fn phase(name: &str, attacked: bool, read_ms: u64, write_ms: u64) -> Phase {
        let (mut read, mut write) = (stats::histogram(), stats::histogram());
        for _ in 0..100 {
            stats::record(&mut read, Duration::from_millis(read_ms));
            stats::record(&mut write, Duration::from_millis(write_ms));
        }
        let mut connect = stats::histogram();
        stats::record(&mut connect, Duration::from_millis(3));
        Phase {
            name: name.into(),
            attacked,
            sample: Sample {
                read,
                write,
                connect,
                errors: BTreeMap::new(),
                seconds: 10.0,
            },
            rss_kb: [150 * 1024, 160 * 1024, 151 * 1024],
            tally: attacked.then(Tally::default),
            node_counters: Vec::new(),
        }
    }

    #[test]
    fn an_attack_is_compared_with_the_quiet_run_just_before_it() {
        let phases = [
            phase("quiet", false, 1, 2),
            phase("flood", true, 4, 10),
            phase("quiet", false, 2, 4),
            phase("loris", true, 2, 4),
        ];
        assert_eq!(quiet_before(&phases, 1), Some(0));
        assert_eq!(quiet_before(&phases, 3), Some(2));
        assert_eq!(quiet_before(&phases, 0), None);
        let [read, write] = p99_ratios(&phases, 1).unwrap();
        assert!((read - 4.0).abs() < 0.01, "{read}");
        assert!((write - 5.0).abs() < 0.01, "{write}");
        let [read, write] = p99_ratios(&phases, 3).unwrap();
        assert!((read - 1.0).abs() < 0.01 && (write - 1.0).abs() < 0.01);
    }

    #[test]
    fn node_counters_are_shortened() {
        let counters = vec![
            (
                "pledge_connections_refused_total{why=\"preface_timeout\"}".to_owned(),
                256.0,
            ),
            ("pledge_open_streams (peak)".to_owned(), 64.0),
        ];
        assert_eq!(
            counters_cell(&counters),
            "connections_refused{why=\"preface_timeout\"} +256; open_streams peak 64"
        );
        assert_eq!(counters_cell(&[]), "—");
    }

    #[test]
    fn the_table_has_a_row_per_phase_and_names_client_errors() {
        let mut phases = vec![phase("quiet", false, 1, 2), phase("flood", true, 4, 10)];
        phases[1]
            .sample
            .errors
            .insert("Submit: Unavailable ".into(), 3);
        let text = table(&phases);
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(text.contains("| flood | 4.00 / 4.00 / 4.0 |"), "{text}");
        assert!(
            text.contains("| 3.00 / 3.0 | 4.0×, 5.0× | 100 | 3 | 150 → 160 → 151 |"),
            "{text}"
        );
        assert!(text.ends_with("peak open at once: 0 | — |\n"), "{text}");
        assert_eq!(
            client_errors(&phases),
            vec!["flood: Submit: Unavailable  × 3".to_owned()]
        );
    }
}

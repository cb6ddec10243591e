//! What the load generator counts and reports: setups, sessions held, setup latency
//! percentiles, failures by reason, traffic.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::time::Duration;

use serde::Serialize;

use crate::client::{Failure, Stage};

/// A log-linear latency histogram in microseconds: exact below 64 µs, then 32 buckets per
/// power of two (at most ~3 % error), up to about 2^40 µs. Fixed size, no allocation per
/// sample.
#[derive(Debug, Clone)]
pub struct Histogram {
    buckets: Vec<u64>,
    count: u64,
    max: u64,
    sum: u64,
}

const LINEAR: u64 = 64;
const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;
const MAX_EXP: u32 = 40;

impl Default for Histogram {
    fn default() -> Self {
        let n = LINEAR as usize + (MAX_EXP as usize - 6 + 1) * SUB as usize;
        Self {
            buckets: vec![0; n],
            count: 0,
            max: 0,
            sum: 0,
        }
    }
}

impl Histogram {
    fn index(v: u64) -> usize {
        if v < LINEAR {
            return v as usize;
        }
        let exp = (63 - v.leading_zeros()).min(MAX_EXP);
        let mant = (v >> (exp - SUB_BITS)) & (SUB - 1);
        LINEAR as usize + (exp as usize - 6) * SUB as usize + mant as usize
    }

    /// The smallest value of bucket `i` (what percentiles report: a lower bound).
    fn lower(i: usize) -> u64 {
        let i = i as u64;
        if i < LINEAR {
            return i;
        }
        let exp = (i - LINEAR) / SUB + 6;
        let mant = (i - LINEAR) % SUB;
        (1 << exp) | (mant << (exp - u64::from(SUB_BITS)))
    }

    /// Record one sample.
    pub fn record(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        if let Some(b) = self.buckets.get_mut(Self::index(us)) {
            *b += 1;
        }
        self.count += 1;
        self.sum = self.sum.saturating_add(us);
        self.max = self.max.max(us);
    }

    /// Samples recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The `q` quantile (0.0-1.0), `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        if rank >= self.count {
            return Some(Duration::from_micros(self.max));
        }
        let mut seen = 0;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(Duration::from_micros(Self::lower(i).min(self.max)));
            }
        }
        Some(Duration::from_micros(self.max))
    }

    /// The largest sample.
    pub fn max(&self) -> Option<Duration> {
        (self.count > 0).then(|| Duration::from_micros(self.max))
    }

    /// The mean.
    pub fn mean(&self) -> Option<Duration> {
        (self.count > 0).then(|| Duration::from_micros(self.sum / self.count))
    }

    /// Add another histogram's samples.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
        self.count += other.count;
        self.sum = self.sum.saturating_add(other.sum);
        self.max = self.max.max(other.max);
    }
}

/// Every counter of a run.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Control connections opened (TCP connect started).
    pub connections_started: u64,
    /// Control connections established (Start-Control-Connection-Reply OK).
    pub connections_established: u64,
    /// Control connections open now (TCP connected or connecting).
    pub connections_open: u64,
    /// Sessions (calls) whose setup started.
    pub sessions_started: u64,
    /// Sessions completely set up: call, LCP, MS-CHAPv2, CCP/MPPE, IPCP, traffic answered.
    pub sessions_up: u64,
    /// Sessions up right now.
    pub sessions_active: u64,
    /// The most sessions up at once.
    pub sessions_peak: u64,
    /// Sessions that failed to set up, by reason.
    pub failures: BTreeMap<Failure, u64>,
    /// Setup time-outs by the stage they were stuck in.
    pub timeouts: BTreeMap<Stage, u64>,
    /// Sessions up that went down before we closed them, by reason.
    pub dropped: BTreeMap<Failure, u64>,
    /// Sessions closed by us after their hold time (or at the end of the run).
    pub sessions_closed: u64,
    /// Echo requests sent through sessions.
    pub echo_sent: u64,
    /// Echo replies received through sessions.
    pub echo_answered: u64,
    /// Call IDs the server would have seen twice on one source address (the call was
    /// cleared and placed again).
    pub call_id_collisions: u64,
    /// GRE packets received.
    pub gre_rx: u64,
    /// GRE packets that matched no session (unknown address/Call ID, malformed).
    pub gre_rx_unmatched: u64,
    /// GRE packets sent.
    pub gre_tx: u64,
    /// GRE packets the socket refused (send buffer full, no route).
    pub gre_tx_errors: u64,
    /// Setup latency: TCP connect to the session being complete.
    pub latency: Histogram,
}

impl Stats {
    /// Count a failed setup.
    pub fn fail(&mut self, failure: Failure) {
        *self.failures.entry(failure).or_default() += 1;
        if let Failure::Timeout(stage) = failure {
            *self.timeouts.entry(stage).or_default() += 1;
        }
    }

    /// Count a session that came up.
    pub fn up(&mut self, latency: Duration) {
        self.sessions_up += 1;
        self.sessions_active += 1;
        self.sessions_peak = self.sessions_peak.max(self.sessions_active);
        self.latency.record(latency);
    }

    /// Count a session that was up going down: `lost` is why if we did not close it.
    pub fn down(&mut self, lost: Option<Failure>) {
        self.sessions_active = self.sessions_active.saturating_sub(1);
        match lost {
            Some(f) => *self.dropped.entry(f).or_default() += 1,
            None => self.sessions_closed += 1,
        }
    }

    /// Failed setups in total.
    pub fn failed(&self) -> u64 {
        self.failures.values().sum()
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl Percentiles {
    /// The percentiles of `h`.
    pub fn of(h: &Histogram) -> Self {
        let ms = |d: Option<Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        Self {
            count: h.count(),
            p50: ms(h.quantile(0.5)),
            p90: ms(h.quantile(0.9)),
            p99: ms(h.quantile(0.99)),
            p999: ms(h.quantile(0.999)),
            max: ms(h.max()),
            mean: ms(h.mean()),
        }
    }
}

/// One report line: cumulative figures plus the rate over the last interval (`--json` prints
/// it as one JSON object per line).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `"progress"` or `"final"`.
    pub kind: &'static str,
    /// Seconds since the run started.
    pub elapsed_s: f64,
    /// Sessions set up per second over the last interval.
    pub setup_rate: f64,
    /// Sessions set up per second from the first start to the last completed setup.
    pub setup_rate_overall: f64,
    /// Seconds from the first start to the last completed setup.
    pub ramp_s: f64,
    /// Sessions whose setup started.
    pub started: u64,
    /// Sessions completely set up.
    pub up: u64,
    /// Sessions held now.
    pub active: u64,
    /// Most sessions held at once.
    pub peak: u64,
    /// Sessions in setup now.
    pub in_setup: u64,
    /// Failed setups in total.
    pub failed: u64,
    /// Failed setups by reason.
    pub failures: BTreeMap<String, u64>,
    /// Setup time-outs by stage.
    pub timeouts: BTreeMap<String, u64>,
    /// Sessions lost while held, by reason.
    pub dropped: BTreeMap<String, u64>,
    /// Sessions we closed.
    pub closed: u64,
    /// Control connections open.
    pub connections_open: u64,
    /// Setup latency over the whole run.
    pub latency_ms: Percentiles,
    /// Setup latency over the last interval.
    pub interval_latency_ms: Percentiles,
    /// Echo requests sent / answered.
    pub echo_sent: u64,
    /// Echo replies received.
    pub echo_answered: u64,
    /// Call ID collisions worked around.
    pub call_id_collisions: u64,
    /// GRE packets received / unmatched / sent / send errors.
    pub gre: GreReport,
}

/// GRE socket counters of a [`Report`].
#[derive(Debug, Clone, Copy, Serialize)]
pub struct GreReport {
    /// Received.
    pub rx: u64,
    /// Received for no session.
    pub rx_unmatched: u64,
    /// Sent.
    pub tx: u64,
    /// Refused by the socket.
    pub tx_errors: u64,
}

fn names<K: fmt::Display>(m: &BTreeMap<K, u64>) -> BTreeMap<String, u64> {
    m.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

impl Report {
    /// Build a report from the cumulative `stats`, the interval's setups and latencies.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kind: &'static str,
        stats: &Stats,
        elapsed: Duration,
        ramp: Duration,
        interval: Duration,
        interval_up: u64,
        interval_latency: &Histogram,
    ) -> Self {
        let per_s = |n: u64, d: Duration| {
            if d.is_zero() {
                0.0
            } else {
                n as f64 / d.as_secs_f64()
            }
        };
        let in_setup = stats
            .sessions_started
            .saturating_sub(stats.sessions_up)
            .saturating_sub(stats.failed());
        Self {
            kind,
            elapsed_s: elapsed.as_secs_f64(),
            setup_rate: per_s(interval_up, interval),
            setup_rate_overall: per_s(stats.sessions_up, ramp),
            ramp_s: ramp.as_secs_f64(),
            started: stats.sessions_started,
            up: stats.sessions_up,
            active: stats.sessions_active,
            peak: stats.sessions_peak,
            in_setup,
            failed: stats.failed(),
            failures: names(&stats.failures),
            timeouts: names(&stats.timeouts),
            dropped: names(&stats.dropped),
            closed: stats.sessions_closed,
            connections_open: stats.connections_open,
            latency_ms: Percentiles::of(&stats.latency),
            interval_latency_ms: Percentiles::of(interval_latency),
            echo_sent: stats.echo_sent,
            echo_answered: stats.echo_answered,
            call_id_collisions: stats.call_id_collisions,
            gre: GreReport {
                rx: stats.gre_rx,
                rx_unmatched: stats.gre_rx_unmatched,
                tx: stats.gre_tx,
                tx_errors: stats.gre_tx_errors,
            },
        }
    }

    /// One JSON object.
    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// Human-readable text: one line for progress, a block for the final report.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let failures = if self.failures.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = self
                .failures
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!(" [{}]", list.join(" "))
        };
        if self.kind == "progress" {
            let _ = write!(
                s,
                "{:7.1}s up {:6} active {:6} in-setup {:5} failed {:5}{} | {:7.1} setups/s | \
                 latency p50 {:.1} p99 {:.1} max {:.1} ms",
                self.elapsed_s,
                self.up,
                self.active,
                self.in_setup,
                self.failed,
                failures,
                self.setup_rate,
                self.interval_latency_ms.p50,
                self.interval_latency_ms.p99,
                self.interval_latency_ms.max,
            );
            return s;
        }
        let l = &self.latency_ms;
        let _ = writeln!(s, "== pptp-loadgen final report ({:.1} s)", self.elapsed_s);
        let _ = writeln!(
            s,
            "sessions: {} started, {} up, {} held at the end, peak {} held at once",
            self.started, self.up, self.active, self.peak
        );
        let _ = writeln!(
            s,
            "setup rate: {:.1} sessions/s over the ramp of {:.2} s",
            self.setup_rate_overall, self.ramp_s
        );
        let _ = writeln!(
            s,
            "setup latency (ms): p50 {:.2} p90 {:.2} p99 {:.2} p99.9 {:.2} max {:.2} mean {:.2}",
            l.p50, l.p90, l.p99, l.p999, l.max, l.mean
        );
        let _ = writeln!(s, "failed setups: {}{}", self.failed, failures);
        if !self.timeouts.is_empty() {
            let _ = writeln!(s, "time-outs by stage: {:?}", self.timeouts);
        }
        let _ = writeln!(
            s,
            "sessions closed by us: {}, lost while held: {:?}",
            self.closed, self.dropped
        );
        let _ = writeln!(
            s,
            "echo: {} sent, {} answered; GRE: {} rx ({} unmatched), {} tx ({} errors); \
             call ID collisions: {}",
            self.echo_sent,
            self.echo_answered,
            self.gre.rx,
            self.gre.rx_unmatched,
            self.gre.tx,
            self.gre.tx_errors,
            self.call_id_collisions
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles_are_within_bucket_precision() {
        let mut h = Histogram::default();
        for ms in 1..=1000u64 {
            h.record(Duration::from_millis(ms));
        }
        assert_eq!(h.count(), 1000);
        for (q, want) in [(0.5, 500.0), (0.9, 900.0), (0.99, 990.0)] {
            let got = h.quantile(q).unwrap().as_secs_f64() * 1000.0;
            assert!(
                got <= want && got >= want * 0.96,
                "q{q}: got {got}, want about {want}"
            );
        }
        assert_eq!(h.max(), Some(Duration::from_millis(1000)));
        assert_eq!(h.quantile(1.0), Some(Duration::from_millis(1000)));
    }

    #[test]
    fn histogram_small_values_are_exact_and_huge_ones_do_not_overflow() {
        let mut h = Histogram::default();
        h.record(Duration::from_micros(7));
        assert_eq!(h.quantile(0.5), Some(Duration::from_micros(7)));
        h.record(Duration::from_secs(10_000_000));
        assert_eq!(h.count(), 2);
        assert!(Histogram::default().quantile(0.5).is_none());
        for i in 0..Histogram::default().buckets.len() {
            assert_eq!(Histogram::index(Histogram::lower(i)), i, "bucket {i}");
        }
    }

    #[test]
    fn stats_track_peak_and_failures_by_reason() {
        let mut s = Stats {
            sessions_started: 4,
            ..Stats::default()
        };
        s.up(Duration::from_millis(3));
        s.up(Duration::from_millis(5));
        s.down(None);
        s.fail(Failure::AuthFailed);
        s.fail(Failure::Timeout(Stage::Lcp));
        assert_eq!((s.sessions_active, s.sessions_peak, s.failed()), (1, 2, 2));
        let r = Report::new(
            "final",
            &s,
            Duration::from_secs(2),
            Duration::from_secs(1),
            Duration::from_secs(1),
            2,
            &s.latency,
        );
        assert_eq!(r.in_setup, 0);
        assert_eq!(r.setup_rate_overall, 2.0);
        let json: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
        assert_eq!(json["failures"]["auth_failed"], 1);
        assert_eq!(json["timeouts"]["lcp"], 1);
        assert_eq!(json["up"], 2);
        assert!(r.text().contains("auth_failed=1"));
    }
}

//! Throughput history and host figures: `GET /v1/stats/history`.
//!
//! routerd samples, every [`SAMPLE_INTERVAL`], the traffic of every session (ended ones
//! included, so the totals only grow), the current session count and the box's CPU use, into
//! a [`StatsRing`] of [`HISTORY_POINTS`] points: the last hour. The answer also carries the
//! box's memory and routerd's own resident size, read when asked.
//!
//! The `/proc` readers ([`CpuTimes::parse`], [`MemInfo::parse`], [`parse_rss`]) take the
//! file's text, so they are tested without a `/proc`; [`HostReader`] does the reading.

use std::collections::VecDeque;
use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::control::ApiError;
use super::http::ApiState;
use crate::time::Timestamp;

/// Time between two samples.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(10);

/// Points kept: one hour at [`SAMPLE_INTERVAL`].
pub const HISTORY_POINTS: usize = 360;

/// One sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StatsPoint {
    /// When it was taken.
    pub time: Timestamp,
    /// Bytes received from peers since routerd started (every session, ended ones included).
    pub bytes_in: u64,
    /// Bytes sent to peers since routerd started.
    pub bytes_out: u64,
    /// Sessions at that moment.
    pub sessions: u64,
    /// The box's CPU use since the previous sample, in percent of all CPUs (none for the
    /// first sample, or without `/proc/stat`).
    pub cpu_percent: Option<f64>,
}

/// Traffic rates between two consecutive [`StatsPoint`]s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// The later point's time.
    pub time: Timestamp,
    /// Bits per second received from peers.
    pub in_bps: f64,
    /// Bits per second sent to peers.
    pub out_bps: f64,
    /// Sessions at the later point.
    pub sessions: u64,
}

/// The box's memory and routerd's size, read when asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HostMemory {
    /// `MemTotal` of `/proc/meminfo`, in bytes.
    pub total_bytes: Option<u64>,
    /// `MemAvailable` of `/proc/meminfo`, in bytes.
    pub available_bytes: Option<u64>,
    /// routerd's resident set size (`VmRSS` of `/proc/self/status`), in bytes.
    pub routerd_rss_bytes: Option<u64>,
}

/// `GET /v1/stats/history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsHistory {
    /// Seconds between samples.
    pub interval_secs: u64,
    /// The samples, oldest first (at most [`HISTORY_POINTS`]).
    pub points: Vec<StatsPoint>,
    /// Memory now.
    pub memory: HostMemory,
    /// CPUs of the box (`cpuN` lines of `/proc/stat`).
    pub cpus: Option<u32>,
}

impl StatsHistory {
    /// The rates between consecutive points (one fewer than the points). A counter that went
    /// backwards counts as 0.
    pub fn rates(&self) -> Vec<Rate> {
        self.points
            .windows(2)
            .filter_map(|w| {
                let [a, b] = w else { return None };
                let ms = b.time.ms_since(a.time);
                let secs = if ms == 0 { 1.0 } else { ms as f64 / 1000.0 };
                Some(Rate {
                    time: b.time,
                    in_bps: b.bytes_in.saturating_sub(a.bytes_in) as f64 * 8.0 / secs,
                    out_bps: b.bytes_out.saturating_sub(a.bytes_out) as f64 * 8.0 / secs,
                    sessions: b.sessions,
                })
            })
            .collect()
    }

    /// The newest CPU figure.
    pub fn cpu_percent(&self) -> Option<f64> {
        self.points.iter().rev().find_map(|p| p.cpu_percent)
    }
}

/// The last [`HISTORY_POINTS`] samples; the oldest goes when a new one comes.
#[derive(Debug, Clone)]
pub struct StatsRing {
    points: VecDeque<StatsPoint>,
    capacity: usize,
}

impl Default for StatsRing {
    fn default() -> Self {
        StatsRing::with_capacity(HISTORY_POINTS)
    }
}

impl StatsRing {
    /// A ring keeping at most `capacity` points (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        StatsRing {
            points: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    /// Adds a point, dropping the oldest when full.
    pub fn push(&mut self, point: StatsPoint) {
        if self.points.len() == self.capacity {
            self.points.pop_front();
        }
        self.points.push_back(point);
    }

    /// The points, oldest first.
    pub fn points(&self) -> Vec<StatsPoint> {
        self.points.iter().copied().collect()
    }

    /// How many points are kept.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether no point was taken yet.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

/// CPU time counters of the `cpu` line of `/proc/stat`, in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuTimes {
    /// Every state's ticks (guest time is inside user time and not counted twice).
    pub total: u64,
    /// `idle` + `iowait`.
    pub idle: u64,
    /// `cpuN` lines: the number of CPUs.
    pub cpus: u32,
}

impl CpuTimes {
    /// Reads the aggregate `cpu` line of `/proc/stat` (proc(5)): user nice system idle iowait
    /// irq softirq steal guest guest_nice. `None` without a well-formed `cpu` line.
    pub fn parse(text: &str) -> Option<CpuTimes> {
        let mut out = None;
        let mut cpus = 0u32;
        for line in text.lines() {
            let mut fields = line.split_ascii_whitespace();
            match fields.next() {
                Some("cpu") => {
                    let v: Vec<u64> = fields.map_while(|f| f.parse().ok()).collect();
                    if v.len() < 4 {
                        return None;
                    }
                    // user..steal: guest and guest_nice are already inside user and nice.
                    let total = v.iter().take(8).fold(0u64, |a, b| a.saturating_add(*b));
                    let idle = v.get(3)?.saturating_add(v.get(4).copied().unwrap_or(0));
                    out = Some(CpuTimes {
                        total,
                        idle,
                        cpus: 0,
                    });
                }
                Some(name) if name.starts_with("cpu") => cpus = cpus.saturating_add(1),
                _ => {}
            }
        }
        out.map(|c| CpuTimes { cpus, ..c })
    }

    /// Percent of CPU time spent busy from `earlier` to `self` (`None` when no tick passed).
    pub fn busy_percent_since(&self, earlier: &CpuTimes) -> Option<f64> {
        let total = self.total.checked_sub(earlier.total)?;
        let idle = self.idle.checked_sub(earlier.idle)?;
        if total == 0 {
            return None;
        }
        Some(total.saturating_sub(idle) as f64 * 100.0 / total as f64)
    }
}

/// What the memory card needs from `/proc/meminfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemInfo {
    /// `MemTotal`, bytes.
    pub total_bytes: Option<u64>,
    /// `MemAvailable`, bytes.
    pub available_bytes: Option<u64>,
}

/// The value of a `Name:   1234 kB` line of a `/proc` file, in bytes.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(':')?;
        let mut parts = rest.split_ascii_whitespace();
        let n: u64 = parts.next()?.parse().ok()?;
        match parts.next() {
            Some("kB") => n.checked_mul(1024),
            None => Some(n),
            Some(_) => None,
        }
    })
}

impl MemInfo {
    /// Reads `MemTotal` and `MemAvailable` (proc(5); values in kB, which are KiB).
    pub fn parse(text: &str) -> MemInfo {
        MemInfo {
            total_bytes: kib_field(text, "MemTotal"),
            available_bytes: kib_field(text, "MemAvailable"),
        }
    }
}

/// `VmRSS` of a `/proc/PID/status` text, in bytes.
pub fn parse_rss(status: &str) -> Option<u64> {
    kib_field(status, "VmRSS")
}

/// Reads the host figures from a `/proc` directory (`/proc`, or a copy in tests), keeping the
/// previous CPU counters to compute the use between two calls.
#[derive(Debug, Clone)]
pub struct HostReader {
    proc_dir: std::path::PathBuf,
    last_cpu: Option<CpuTimes>,
}

impl Default for HostReader {
    fn default() -> Self {
        HostReader::new("/proc")
    }
}

impl HostReader {
    /// A reader of `proc_dir`.
    pub fn new(proc_dir: impl Into<std::path::PathBuf>) -> Self {
        HostReader {
            proc_dir: proc_dir.into(),
            last_cpu: None,
        }
    }

    fn read(&self, file: &str) -> Option<String> {
        std::fs::read_to_string(self.proc_dir.join(file)).ok()
    }

    /// CPU use since the previous call (`None` the first time), and the number of CPUs.
    pub fn cpu(&mut self) -> (Option<f64>, Option<u32>) {
        let Some(now) = self.read("stat").as_deref().and_then(CpuTimes::parse) else {
            return (None, None);
        };
        let busy = self
            .last_cpu
            .as_ref()
            .and_then(|prev| now.busy_percent_since(prev));
        self.last_cpu = Some(now);
        (busy, Some(now.cpus))
    }

    /// The number of CPUs, from the last read.
    pub fn cpus(&self) -> Option<u32> {
        self.last_cpu.map(|c| c.cpus)
    }

    /// Memory now.
    pub fn memory(&self) -> HostMemory {
        let mem = self
            .read("meminfo")
            .map(|t| MemInfo::parse(&t))
            .unwrap_or_default();
        HostMemory {
            total_bytes: mem.total_bytes,
            available_bytes: mem.available_bytes,
            routerd_rss_bytes: self.read("self/status").as_deref().and_then(parse_rss),
        }
    }
}

/// `GET /v1/stats/history`.
pub(super) async fn history(State(s): State<ApiState>) -> Result<Response, ApiError> {
    s.control
        .stats_history()
        .await
        .map(|h| axum::Json(h).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(secs: u64, bytes_in: u64, bytes_out: u64) -> StatsPoint {
        StatsPoint {
            time: Timestamp::from_unix_ms(secs * 1000),
            bytes_in,
            bytes_out,
            sessions: secs / 10,
            cpu_percent: None,
        }
    }

    #[test]
    fn ring_keeps_the_last_hour() {
        let mut ring = StatsRing::default();
        assert!(ring.is_empty());
        for i in 0..(HISTORY_POINTS as u64 + 5) {
            ring.push(point(i * 10, i, i));
        }
        assert_eq!(ring.len(), HISTORY_POINTS);
        let points = ring.points();
        assert_eq!(points.first().map(|p| p.bytes_in), Some(5));
        assert_eq!(
            points.last().map(|p| p.bytes_in),
            Some(HISTORY_POINTS as u64 + 4)
        );
        let mut one = StatsRing::with_capacity(0);
        one.push(point(0, 1, 1));
        one.push(point(10, 2, 2));
        assert_eq!(one.points(), vec![point(10, 2, 2)]);
    }

    #[test]
    fn rates_between_points() {
        let h = StatsHistory {
            interval_secs: 10,
            points: vec![point(0, 0, 0), point(10, 1250, 2500), point(20, 100, 2500)],
            memory: HostMemory::default(),
            cpus: None,
        };
        let r = h.rates();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].in_bps, 1000.0);
        assert_eq!(r[0].out_bps, 2000.0);
        assert_eq!(r[0].sessions, 1);
        // A counter going backwards (a restart) is no traffic, not a huge one.
        assert_eq!(r[1].in_bps, 0.0);
        assert_eq!(r[1].out_bps, 0.0);
    }

    const STAT: &str = "cpu  4705 356 584 3699 23 0 23 0 0 0\n\
cpu0 1393280 32966 572056 13343292 6130 0 17875 0 23933 0\n\
cpu1 1393280 32966 572056 13343292 6130 0 17875 0 23933 0\n\
intr 1462898\nctxt 115315\nbtime 769041601\nprocesses 86031\n";

    #[test]
    fn proc_stat_cpu_line() {
        let c = CpuTimes::parse(STAT);
        assert_eq!(
            c,
            Some(CpuTimes {
                total: 4705 + 356 + 584 + 3699 + 23 + 23,
                idle: 3699 + 23,
                cpus: 2,
            })
        );
        let later = CpuTimes {
            total: 1000 + 200,
            idle: 500 + 50,
            cpus: 2,
        };
        let earlier = CpuTimes {
            total: 1000,
            idle: 500,
            cpus: 2,
        };
        assert_eq!(later.busy_percent_since(&earlier), Some(75.0));
        assert_eq!(earlier.busy_percent_since(&earlier), None);
        assert_eq!(earlier.busy_percent_since(&later), None);
        // Old kernels have four fields; fewer, or none, is not a cpu line.
        assert!(CpuTimes::parse("cpu 1 2 3 4\n").is_some());
        assert_eq!(CpuTimes::parse("cpu 1 2 x\n"), None);
        assert_eq!(CpuTimes::parse("intr 5\n"), None);
        assert_eq!(CpuTimes::parse(""), None);
    }

    #[test]
    fn proc_meminfo_and_status() {
        let m = MemInfo::parse(
            "MemTotal:        2030040 kB\nMemFree:          100000 kB\n\
MemAvailable:    1500000 kB\nHugePages_Total:       0\n",
        );
        assert_eq!(m.total_bytes, Some(2_030_040 * 1024));
        assert_eq!(m.available_bytes, Some(1_500_000 * 1024));
        assert_eq!(MemInfo::parse("MemTotal: lots\n"), MemInfo::default());
        assert_eq!(
            kib_field("HugePages_Total:       7\n", "HugePages_Total"),
            Some(7)
        );
        // A name is matched whole: MemTotalX is not MemTotal.
        assert_eq!(kib_field("MemTotalX: 5 kB\n", "MemTotal"), None);
        assert_eq!(
            parse_rss("Name:\trouterd\nVmHWM:\t  9000 kB\nVmRSS:\t  8192 kB\n"),
            Some(8192 * 1024)
        );
        assert_eq!(parse_rss("Name:\tkthreadd\n"), None);
        assert_eq!(
            kib_field("MemTotal: 99999999999999999999 kB\n", "MemTotal"),
            None
        );
    }

    #[test]
    fn host_reader_on_this_box() {
        let mut r = HostReader::default();
        let (first, cpus) = r.cpu();
        assert_eq!(first, None, "no CPU figure before two reads");
        if std::path::Path::new("/proc/stat").exists() {
            assert!(cpus.is_some_and(|n| n >= 1));
            let m = r.memory();
            assert!(m.total_bytes.is_some_and(|t| t > 0));
            assert!(m.routerd_rss_bytes.is_some_and(|t| t > 0));
        }
        let mut missing = HostReader::new("/nonexistent-proc");
        assert_eq!(missing.cpu(), (None, None));
        assert_eq!(missing.memory(), HostMemory::default());
    }
}

//! The dashboard's throughput graph and host card, drawn on the server as inline SVG (no
//! script, no inline style: the CSP allows neither; colours come from `app.css` classes and
//! SVG presentation attributes).

use std::fmt::Write;

use dialgate_routerd::api::stats::{Rate, StatsHistory};

use crate::html::{self, esc};

/// The drawing's size in SVG user units (it scales to the card's width).
const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 240.0;
/// Room for the axis labels.
const LEFT: f64 = 80.0;
const BOTTOM: f64 = 22.0;
const TOP: f64 = 8.0;
const RIGHT: f64 = 8.0;

/// The time the graph spans: one hour, in milliseconds.
const SPAN_MS: u64 = 3_600_000;

/// Bits per second, for people: `512 b/s`, `1.5 kb/s`, `12.0 Mb/s` (SI prefixes, as line
/// rates are written).
pub fn bits(bps: f64) -> String {
    const UNITS: [&str; 4] = ["b/s", "kb/s", "Mb/s", "Gb/s"];
    let mut v = bps.max(0.0);
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} {}", UNITS[0])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The smallest 1, 2 or 5 times a power of ten at or above `v` (at least 1000 b/s), so the
/// axis has a round top.
pub fn nice_ceiling(v: f64) -> f64 {
    let v = v.max(1000.0);
    let mut step = 1000.0;
    loop {
        for m in [1.0, 2.0, 5.0] {
            if step * m >= v {
                return step * m;
            }
        }
        if step > 1e15 {
            return v;
        }
        step *= 10.0;
    }
}

/// The `points` attribute of one line: x from the hour before `end_ms` to `end_ms`, y from 0
/// to `top`.
fn polyline(rates: &[Rate], end_ms: u64, top: f64, pick: impl Fn(&Rate) -> f64) -> String {
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let start_ms = end_ms.saturating_sub(SPAN_MS);
    let mut out = String::new();
    for r in rates {
        let t = r.time.unix_ms().clamp(start_ms, end_ms) - start_ms;
        let x = LEFT + plot_w * t as f64 / SPAN_MS as f64;
        let y = TOP + plot_h * (1.0 - (pick(r) / top).clamp(0.0, 1.0));
        let _ = write!(out, "{x:.1},{y:.1} ");
    }
    out.trim_end().to_owned()
}

/// The throughput card's contents: the graph of the last hour (received from peers and sent
/// to them), or a note while fewer than two samples exist.
pub fn throughput(h: &StatsHistory) -> String {
    let rates = h.rates();
    let mut out = String::from("<h2 id=\"throughput-title\">Throughput, last hour</h2>");
    let (Some(last), Some(end)) = (rates.last(), h.points.last()) else {
        let _ = write!(
            out,
            "<p id=\"throughput-wait\">Collecting: routerd samples every {} s; the graph appears after two samples.</p>",
            h.interval_secs
        );
        return out;
    };
    let end_ms = end.time.unix_ms();
    let peak = rates
        .iter()
        .map(|r| r.in_bps.max(r.out_bps))
        .fold(0.0, f64::max);
    let top = nice_ceiling(peak);
    let plot_h = HEIGHT - TOP - BOTTOM;
    let peak_sessions = rates.iter().map(|r| r.sessions).max().unwrap_or(0);
    let _ = write!(
        out,
        "<svg class=\"graph\" id=\"throughput\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
aria-labelledby=\"throughput-title throughput-desc\" data-points=\"{n}\" \
focusable=\"false\">\
<desc id=\"throughput-desc\">Received {now_in}, sent {now_out} in the last {interval} s; \
peak {peak} in the last hour.</desc>",
        n = rates.len(),
        now_in = bits(last.in_bps),
        now_out = bits(last.out_bps),
        interval = h.interval_secs,
        peak = bits(peak),
    );
    // Grid: 0, half, top.
    for (frac, label) in [(0.0, bits(0.0)), (0.5, bits(top / 2.0)), (1.0, bits(top))] {
        let y = TOP + plot_h * (1.0 - frac);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{x2}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
<text class=\"axis\" x=\"{lx}\" y=\"{ty:.1}\" text-anchor=\"end\">{label}</text>",
            x2 = WIDTH - RIGHT,
            lx = LEFT - 4.0,
            ty = y + 4.0,
            label = esc(&label),
        );
    }
    let base = HEIGHT - 6.0;
    for (x, anchor, label) in [
        (LEFT, "start", "−60 min"),
        (LEFT + (WIDTH - LEFT - RIGHT) / 2.0, "middle", "−30 min"),
        (WIDTH - RIGHT, "end", "now"),
    ] {
        let _ = write!(
            out,
            "<text class=\"axis\" x=\"{x:.1}\" y=\"{base}\" text-anchor=\"{anchor}\">{label}</text>"
        );
    }
    for (class, pick) in [
        ("rx", (|r: &Rate| r.in_bps) as fn(&Rate) -> f64),
        ("tx", |r: &Rate| r.out_bps),
    ] {
        let _ = write!(
            out,
            "<polyline class=\"{class}\" fill=\"none\" stroke-width=\"2\" \
vector-effect=\"non-scaling-stroke\" points=\"{}\"/>",
            polyline(&rates, end_ms, top, pick)
        );
    }
    out.push_str("</svg>");
    let _ = write!(
        out,
        "<p class=\"legend\"><span class=\"key rx\">received</span> {} · \
<span class=\"key tx\">sent</span> {} (last {} s) · peak {} · sessions: {} now, {} at most</p>",
        bits(last.in_bps),
        bits(last.out_bps),
        h.interval_secs,
        bits(peak),
        last.sessions,
        peak_sessions
    );
    out
}

/// The host card's contents: CPU, memory, routerd's size.
pub fn host(h: &StatsHistory) -> String {
    let mut out = String::from("<h2>CPU and memory</h2>");
    let cpus = h
        .cpus
        .map(|n| format!(" of {n} CPU{}", if n == 1 { "" } else { "s" }))
        .unwrap_or_default();
    match h.cpu_percent() {
        Some(p) => {
            let _ = write!(
                out,
                "<p class=\"big\" id=\"cpu-percent\">{p:.0}%</p><p>CPU busy{cpus} (last {} s)</p>",
                h.interval_secs
            );
        }
        None => {
            let _ = write!(
                out,
                "<p id=\"cpu-percent\">CPU: measured after the second sample{cpus}</p>"
            );
        }
    }
    let m = &h.memory;
    match (m.total_bytes, m.available_bytes) {
        (Some(total), Some(avail)) => {
            let used = total.saturating_sub(avail);
            let pct = if total == 0 {
                0.0
            } else {
                used as f64 * 100.0 / total as f64
            };
            let _ = write!(
                out,
                "<p id=\"memory\">Memory: {} used of {} ({pct:.0}%)</p>\
<meter min=\"0\" max=\"{total}\" value=\"{used}\" aria-label=\"Memory used\">{pct:.0}%</meter>",
                html::bytes(used),
                html::bytes(total)
            );
        }
        _ => out.push_str("<p id=\"memory\">Memory: not available</p>"),
    }
    if let Some(rss) = m.routerd_rss_bytes {
        let _ = write!(out, "<p>routerd: {} resident</p>", html::bytes(rss));
    }
    out
}

#[cfg(test)]
mod tests {
    use dialgate_routerd::api::stats::{HostMemory, StatsPoint};
    use dialgate_routerd::time::Timestamp;

    use super::*;

    fn history(points: &[(u64, u64, u64)]) -> StatsHistory {
        StatsHistory {
            interval_secs: 10,
            points: points
                .iter()
                .map(|&(secs, bytes_in, bytes_out)| StatsPoint {
                    time: Timestamp::from_unix_ms(1_800_000_000_000 + secs * 1000),
                    bytes_in,
                    bytes_out,
                    sessions: 2,
                    cpu_percent: Some(12.4),
                })
                .collect(),
            memory: HostMemory {
                total_bytes: Some(1 << 30),
                available_bytes: Some(1 << 29),
                routerd_rss_bytes: Some(8 << 20),
            },
            cpus: Some(2),
        }
    }

    #[test]
    fn rates_and_round_axes() {
        assert_eq!(bits(512.0), "512 b/s");
        assert_eq!(bits(1500.0), "1.5 kb/s");
        assert_eq!(bits(12_000_000.0), "12.0 Mb/s");
        assert_eq!(nice_ceiling(0.0), 1000.0);
        assert_eq!(nice_ceiling(1001.0), 2000.0);
        assert_eq!(nice_ceiling(4_100_000.0), 5_000_000.0);
        assert_eq!(nice_ceiling(5_000_000.0), 5_000_000.0);
        assert_eq!(nice_ceiling(6e6), 1e7);
    }

    #[test]
    fn one_sample_is_no_graph_yet() {
        let h = history(&[(0, 0, 0)]);
        let s = throughput(&h);
        assert!(s.contains("throughput-wait"), "{s}");
        assert!(!s.contains("<svg"));
    }

    #[test]
    fn graph_has_a_point_per_interval_inside_the_drawing() {
        // 10 s apart: 1000 B then 2000 B received, 500 B each time sent.
        let h = history(&[(0, 0, 0), (10, 1000, 500), (20, 3000, 1000)]);
        let s = throughput(&h);
        assert!(s.contains("data-points=\"2\""), "{s}");
        assert!(s.contains("role=\"img\""));
        assert!(!s.contains("style="), "the CSP forbids inline styles");
        let lines: Vec<&str> = s
            .split(" points=\"")
            .skip(1)
            .map(|p| p.split('"').next().unwrap_or(""))
            .collect();
        assert_eq!(lines.len(), 2, "received and sent");
        for line in &lines {
            let pts: Vec<(f64, f64)> = line
                .split(' ')
                .map(|xy| {
                    let (x, y) = xy.split_once(',').unwrap_or(("nan", "nan"));
                    (x.parse().unwrap_or(f64::NAN), y.parse().unwrap_or(f64::NAN))
                })
                .collect();
            assert_eq!(pts.len(), 2);
            for (x, y) in &pts {
                assert!((LEFT..=WIDTH - RIGHT).contains(x), "{line}");
                assert!((TOP..=HEIGHT - BOTTOM).contains(y), "{line}");
            }
            // The newest point is at the right edge.
            assert_eq!(pts[1].0, WIDTH - RIGHT);
        }
        // Peak 1600 b/s received: the axis tops at 2 kb/s; the peak is 80% up.
        assert!(s.contains("2.0 kb/s"), "{s}");
        let rx_peak_y: f64 = lines[0]
            .rsplit(',')
            .next()
            .and_then(|y| y.parse().ok())
            .unwrap_or(f64::NAN);
        let expected = TOP + (HEIGHT - TOP - BOTTOM) * 0.2;
        assert!((rx_peak_y - expected).abs() < 0.1, "{rx_peak_y} {expected}");
        assert!(s.contains("received</span> 1.6 kb/s"), "{s}");
    }

    #[test]
    fn host_card() {
        let s = host(&history(&[(0, 0, 0)]));
        assert!(s.contains("12%"), "{s}");
        assert!(s.contains("of 2 CPUs"), "{s}");
        assert!(s.contains("512.0 MiB used of 1.0 GiB (50%)"), "{s}");
        assert!(s.contains("routerd: 8.0 MiB resident"), "{s}");
        let mut empty = history(&[]);
        empty.memory = HostMemory::default();
        empty.cpus = None;
        let s = host(&empty);
        assert!(s.contains("not available"), "{s}");
        assert!(s.contains("after the second sample"), "{s}");
    }
}

//! Request counters and latency histograms per route and status, kept in plain atomics
//! (no lock on the request path), rendered as Prometheus text on demand.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Statuses with their own series; anything else is counted as `other`.
const STATUSES: [u16; 20] = [
    200, 201, 202, 204, 304, 400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500, 502, 503, 504,
    505,
];
const STATUS_SLOTS: usize = STATUSES.len() + 1;

/// Upper bounds of the latency buckets, in microseconds (100 µs … 10 s).
const BUCKETS_MICROS: [u64; 14] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000,
    2_500_000, 10_000_000,
];

/// Route label for requests that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// One (route, status) series. Buckets are stored non-cumulative so recording touches one
/// bucket; rendering sums them.
struct Series {
    count: AtomicU64,
    sum_micros: AtomicU64,
    buckets: [AtomicU64; BUCKETS_MICROS.len() + 1],
}

impl Series {
    fn new() -> Series {
        Series {
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// All server metrics.
pub struct Metrics {
    routes: Vec<&'static str>,
    series: Box<[Series]>,
    /// Successful reloads.
    pub reloads: AtomicU64,
    /// Refused reloads.
    pub reload_failures: AtomicU64,
    /// Events accepted by `POST /v1/events` (journaled and applied).
    pub events_accepted: AtomicU64,
    /// Events refused one by one by `POST /v1/events`.
    pub events_rejected: AtomicU64,
    /// Erasures journaled by `DELETE /v1/customers/{id}`.
    pub erasures: AtomicU64,
    /// Time of each journal append, fsync included.
    pub journal_append: Histogram,
}

/// A latency histogram over the request buckets (100 µs … 10 s).
pub struct Histogram(Series);

impl Default for Histogram {
    fn default() -> Self {
        Histogram(Series::new())
    }
}

impl Histogram {
    /// Records one duration.
    pub fn observe(&self, micros: u64) {
        let b = BUCKETS_MICROS.partition_point(|&bound| bound < micros);
        self.0.count.fetch_add(1, Relaxed);
        self.0.sum_micros.fetch_add(micros, Relaxed);
        self.0.buckets[b].fetch_add(1, Relaxed);
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.0.count.load(Relaxed)
    }

    /// Appends the histogram `name` in Prometheus text format, in seconds.
    pub fn render(&self, name: &str, help: &str, out: &mut String) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, bound) in BUCKETS_MICROS.iter().enumerate() {
            cumulative += self.0.buckets[i].load(Relaxed);
            let le = *bound as f64 / 1e6;
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
        }
        cumulative += self.0.buckets[BUCKETS_MICROS.len()].load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let sum = self.0.sum_micros.load(Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {cumulative}");
    }
}

impl Metrics {
    /// Metrics for the given route names (plus [`UNMATCHED_ROUTE`]).
    pub fn new(routes: &[&'static str]) -> Metrics {
        let mut routes = routes.to_vec();
        routes.push(UNMATCHED_ROUTE);
        let series = (0..routes.len() * STATUS_SLOTS)
            .map(|_| Series::new())
            .collect();
        Metrics {
            routes,
            series,
            reloads: AtomicU64::new(0),
            reload_failures: AtomicU64::new(0),
            events_accepted: AtomicU64::new(0),
            events_rejected: AtomicU64::new(0),
            erasures: AtomicU64::new(0),
            journal_append: Histogram::default(),
        }
    }

    /// Records one request. Route names are few, so a linear scan beats hashing.
    pub fn observe(&self, route: Option<&str>, status: u16, micros: u64) {
        let last = self.routes.len() - 1;
        let r = route
            .and_then(|name| self.routes[..last].iter().position(|&n| n == name))
            .unwrap_or(last);
        let s = STATUSES
            .iter()
            .position(|&x| x == status)
            .unwrap_or(STATUSES.len());
        let series = &self.series[r * STATUS_SLOTS + s];
        let b = BUCKETS_MICROS.partition_point(|&bound| bound < micros);
        series.count.fetch_add(1, Relaxed);
        series.sum_micros.fetch_add(micros, Relaxed);
        series.buckets[b].fetch_add(1, Relaxed);
    }

    /// Number of requests recorded for `route` and `status` (for tests and the dashboard).
    pub fn count(&self, route: &str, status: u16) -> u64 {
        let Some(r) = self.routes.iter().position(|&n| n == route) else {
            return 0;
        };
        let s = STATUSES
            .iter()
            .position(|&x| x == status)
            .unwrap_or(STATUSES.len());
        self.series[r * STATUS_SLOTS + s].count.load(Relaxed)
    }

    /// Appends the request series in Prometheus text format.
    pub fn render_requests(&self, out: &mut String) {
        out.push_str("# HELP propensity_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE propensity_http_requests_total counter\n");
        self.each_series(|route, status, s| {
            let _ = writeln!(
                out,
                "propensity_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {}",
                s.count.load(Relaxed)
            );
        });
        out.push_str(
            "# HELP propensity_http_request_duration_seconds Time from request to response, by route and status.\n",
        );
        out.push_str("# TYPE propensity_http_request_duration_seconds histogram\n");
        self.each_series(|route, status, s| {
            let labels = format!("route=\"{route}\",status=\"{status}\"");
            let mut cumulative = 0;
            for (i, bound) in BUCKETS_MICROS.iter().enumerate() {
                cumulative += s.buckets[i].load(Relaxed);
                let le = *bound as f64 / 1e6;
                let _ = writeln!(
                    out,
                    "propensity_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                );
            }
            cumulative += s.buckets[BUCKETS_MICROS.len()].load(Relaxed);
            let _ = writeln!(
                out,
                "propensity_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {cumulative}"
            );
            let sum = s.sum_micros.load(Relaxed) as f64 / 1e6;
            let _ = writeln!(out, "propensity_http_request_duration_seconds_sum{{{labels}}} {sum}");
            let _ = writeln!(
                out,
                "propensity_http_request_duration_seconds_count{{{labels}}} {cumulative}"
            );
        });
    }

    /// Calls `f` for every series that has seen a request.
    fn each_series(&self, mut f: impl FnMut(&str, &str, &Series)) {
        for (r, route) in self.routes.iter().enumerate() {
            for s in 0..STATUS_SLOTS {
                let series = &self.series[r * STATUS_SLOTS + s];
                if series.count.load(Relaxed) == 0 {
                    continue;
                }
                let status_buf;
                let status = match STATUSES.get(s) {
                    Some(code) => {
                        status_buf = code.to_string();
                        status_buf.as_str()
                    }
                    None => "other",
                };
                f(route, status, series);
            }
        }
    }
}

/// Escapes a Prometheus label value (`\`, `"` and newlines).
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_route_and_status_and_unmatched() {
        let m = Metrics::new(&["healthz", "model"]);
        m.observe(Some("healthz"), 200, 50);
        m.observe(Some("healthz"), 200, 70);
        m.observe(Some("model"), 401, 10);
        m.observe(None, 404, 10);
        m.observe(Some("not-a-route"), 404, 10);
        m.observe(Some("model"), 418, 10);
        assert_eq!(m.count("healthz", 200), 2);
        assert_eq!(m.count("model", 401), 1);
        assert_eq!(m.count("model", 200), 0);
        assert_eq!(m.count(UNMATCHED_ROUTE, 404), 2);
        let mut text = String::new();
        m.render_requests(&mut text);
        assert!(
            text.contains("propensity_http_requests_total{route=\"healthz\",status=\"200\"} 2\n")
        );
        assert!(
            text.contains("propensity_http_requests_total{route=\"model\",status=\"other\"} 1\n")
        );
        assert!(
            !text.contains("status=\"500\""),
            "empty series are not rendered"
        );
    }

    #[test]
    fn histogram_buckets_are_cumulative_with_inf() {
        let m = Metrics::new(&["r"]);
        m.observe(Some("r"), 200, 100); // le=0.0001 (bound is inclusive)
        m.observe(Some("r"), 200, 101); // le=0.00025
        m.observe(Some("r"), 200, 20_000_000); // only +Inf
        let mut text = String::new();
        m.render_requests(&mut text);
        let line = |le: &str| {
            format!(
                "propensity_http_request_duration_seconds_bucket{{route=\"r\",status=\"200\",le=\"{le}\"}} "
            )
        };
        assert!(text.contains(&(line("0.0001") + "1\n")), "{text}");
        assert!(text.contains(&(line("0.00025") + "2\n")), "{text}");
        assert!(text.contains(&(line("10") + "2\n")), "{text}");
        assert!(text.contains(&(line("+Inf") + "3\n")), "{text}");
        assert!(text.contains(
            "propensity_http_request_duration_seconds_count{route=\"r\",status=\"200\"} 3\n"
        ));
        assert!(text.contains(
            "propensity_http_request_duration_seconds_sum{route=\"r\",status=\"200\"} 20.000201\n"
        ));
    }

    #[test]
    fn label_escaping() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}

//! Prometheus metrics: requests and latencies per route, the writer's queue depth and batches,
//! orders, exits and members.

use std::sync::atomic::Ordering;
use std::time::Duration;

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};
use zengzhi_journal::writer::WriterStats;

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    rate_limited: IntCounterVec,
    connections_refused: prometheus::IntCounter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("zengzhi_http_requests_total", "HTTP requests by route, method and status"),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new("zengzhi_http_request_duration_seconds", "HTTP request latency by route")
                .buckets(vec![0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]),
            &["route"],
        )
        .expect("valid metric");
        let rate_limited = IntCounterVec::new(
            Opts::new("zengzhi_rate_limited_total", "Requests refused by a rate limit, by the kind of bucket"),
            &["kind"],
        )
        .expect("valid metric");
        let connections_refused = prometheus::IntCounter::new(
            "zengzhi_connections_refused_total",
            "Connections answered 503 because max_connections were open",
        )
        .expect("valid metric");
        registry.register(Box::new(requests.clone())).expect("registered once");
        registry.register(Box::new(latency.clone())).expect("registered once");
        registry.register(Box::new(rate_limited.clone())).expect("registered once");
        registry.register(Box::new(connections_refused.clone())).expect("registered once");
        for kind in crate::limits::Kind::ALL {
            rate_limited.with_label_values(&[kind.as_str()]);
        }
        Metrics { registry, requests, latency, rate_limited, connections_refused }
    }

    pub fn observe(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.requests.with_label_values(&[route, method, &status.to_string()]).inc();
        self.latency.with_label_values(&[route]).observe(elapsed.as_secs_f64());
    }

    pub fn rate_limited(&self, kind: &str) {
        self.rate_limited.with_label_values(&[kind]).inc();
    }

    pub fn connection_refused(&self) {
        self.connections_refused.inc();
    }

    /// The text exposition format, with the writer's, the projector's (`projected`: the last
    /// journal entry in the query tables) and the engine's figures appended.
    pub fn render(
        &self,
        writer: &WriterStats,
        projected: u64,
        (orders, exits, members, engine_bytes): (u64, u64, u64, u64),
    ) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        let mut text = String::from_utf8(buf).unwrap_or_default();
        let batches = writer.batches.load(Ordering::Relaxed);
        let commands = writer.commands.load(Ordering::Relaxed);
        for (name, kind, help, value) in [
            (
                "zengzhi_writer_queue_depth",
                "gauge",
                "Requests waiting for the writer",
                writer.queue_depth.load(Ordering::Relaxed),
            ),
            ("zengzhi_writer_batches_total", "counter", "Group commits", batches),
            ("zengzhi_writer_commands_total", "counter", "Commands applied by the writer", commands),
            (
                "zengzhi_writer_entries_total",
                "counter",
                "Journal entries appended",
                writer.entries.load(Ordering::Relaxed),
            ),
            (
                "zengzhi_writer_largest_batch",
                "gauge",
                "Largest group commit so far",
                writer.largest_batch.load(Ordering::Relaxed),
            ),
            ("zengzhi_journal_head", "gauge", "Sequence number of the last journal entry", writer.head().0),
            (
                "zengzhi_projection_watermark",
                "gauge",
                "Last journal entry in the query tables (history lags by head minus this)",
                projected,
            ),
            ("zengzhi_orders_total", "counter", "Orders accepted", orders),
            ("zengzhi_exits_total", "counter", "Capped exits", exits),
            ("zengzhi_members", "gauge", "Registered members", members),
            (
                "zengzhi_engine_heap_bytes",
                "gauge",
                "Heap bytes of the engine's own tables: members, stores, order ids, exit index (approximate)",
                engine_bytes,
            ),
        ] {
            text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"));
        }
        for (name, help, h) in [
            (
                "zengzhi_writer_apply_seconds",
                "Per group commit, the writer's own work (apply, journal lines, hashes)",
                &writer.apply_time,
            ),
            ("zengzhi_writer_append_seconds", "Per group commit, the durable journal append", &writer.append_time),
        ] {
            render_histogram(&mut text, name, help, h);
        }
        text
    }
}

/// A writer histogram in the text format (cumulative buckets, seconds), with its largest value
/// as a gauge `{name}_max`.
fn render_histogram(text: &mut String, name: &str, help: &str, h: &zengzhi_journal::writer::Histogram) {
    use std::fmt::Write as _;
    let seconds = |us: u64| format!("{}.{:06}", us / 1_000_000, us % 1_000_000);
    let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} histogram");
    let mut cumulative = 0;
    for (bound, bucket) in zengzhi_journal::writer::HISTOGRAM_BOUNDS_US.iter().zip(&h.buckets) {
        cumulative += bucket.load(Ordering::Relaxed);
        let _ = writeln!(text, "{name}_bucket{{le=\"{}\"}} {cumulative}", seconds(*bound));
    }
    // The overflow bucket, read once: +Inf is never below the buckets before it.
    let count = cumulative + h.buckets[zengzhi_journal::writer::HISTOGRAM_BOUNDS_US.len()].load(Ordering::Relaxed);
    let _ = writeln!(text, "{name}_bucket{{le=\"+Inf\"}} {count}");
    let _ = writeln!(text, "{name}_sum {}", seconds(h.sum_us.load(Ordering::Relaxed)));
    let _ = writeln!(text, "{name}_count {count}");
    let _ = writeln!(
        text,
        "# HELP {name}_max The largest so far\n# TYPE {name}_max gauge\n{name}_max {}",
        seconds(h.max_us.load(Ordering::Relaxed))
    );
}

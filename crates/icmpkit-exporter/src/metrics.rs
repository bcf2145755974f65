//! /metrics: the running configuration's counters in smokeping_prober's
//! shapes, encoded with prometheus-client (Prometheus text format 0.0.4).

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use icmpkit::monitor::TargetStats;
use icmpkit::socket::Family;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::state::{Exporter, Labels, Running};
use crate::traces::{RunningTrace, TraceBooks};

/// One scrape's view of the exporter: the running configuration and its
/// counters read once, shared by the threads that encode the page.
#[derive(Debug)]
struct Snapshot {
    exporter: Arc<Exporter>,
    running: Arc<Running>,
    stats: Vec<TargetStats>,
}

/// Which part of the page a collector writes: the histogram family is by
/// far the biggest (buckets + sum + count per series: 23 of every 28
/// lines), so its series are split among threads.
#[derive(Debug, Clone)]
enum Part {
    /// The families before the histogram.
    Head,
    /// The histogram's series in this range.
    Histogram(Range<usize>),
    /// The families after it.
    Tail,
}

/// Writes one part of the page from a snapshot.
#[derive(Debug)]
struct ExporterCollector {
    snapshot: Arc<Snapshot>,
    part: Part,
}

/// Series per histogram chunk below which one thread encodes them all.
const SERIES_PER_THREAD: usize = 1000;

/// The page /metrics serves. With thousands of targets the histogram's
/// series are encoded by several threads (up to the CPUs), each chunk
/// with prometheus-client, and joined in order: a 10,000-target page is
/// ~29 MB.
pub fn render(exporter: &Arc<Exporter>) -> Result<String, std::fmt::Error> {
    let running = exporter.current();
    let stats = running.stats();
    let series = running.series.len();
    let snapshot = Arc::new(Snapshot {
        exporter: Arc::clone(exporter),
        running,
        stats,
    });
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(series.div_ceil(SERIES_PER_THREAD))
        .max(1);
    let chunk = series.div_ceil(threads).max(1);
    let ranges: Vec<Range<usize>> = (0..threads)
        .map(|i| (i * chunk).min(series)..((i + 1) * chunk).min(series))
        .collect();
    let histogram = std::thread::scope(|scope| {
        let workers: Vec<_> = ranges
            .into_iter()
            .map(|range| {
                let snapshot = Arc::clone(&snapshot);
                scope.spawn(move || encode_part(snapshot, Part::Histogram(range)))
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or(Err(std::fmt::Error)))
            .collect::<Result<Vec<String>, _>>()
    })?;
    let last = exporter.last_page_len.load(Ordering::Relaxed);
    let mut out = String::with_capacity(last + last / 8);
    out.push_str(&encode_part(Arc::clone(&snapshot), Part::Head)?);
    for (i, part) in histogram.iter().enumerate() {
        // One family, one HELP/TYPE: the later chunks' are dropped.
        out.push_str(if i == 0 { part } else { samples_only(part) });
    }
    out.push_str(&encode_part(snapshot, Part::Tail)?);
    exporter.last_page_len.store(out.len(), Ordering::Relaxed);
    Ok(out)
}

fn encode_part(snapshot: Arc<Snapshot>, part: Part) -> Result<String, std::fmt::Error> {
    let prefix = if snapshot.exporter.args.smokeping_names {
        "smokeping"
    } else {
        "icmpkit"
    };
    let mut registry = Registry::with_prefix(prefix);
    registry.register_collector(Box::new(ExporterCollector { snapshot, part }));
    let mut out = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)?;
    Ok(out)
}

/// A family's text without its `# HELP`/`# TYPE`/`# UNIT` lines.
fn samples_only(family: &str) -> &str {
    let mut rest = family;
    while rest.starts_with("# ") {
        rest = rest.split_once('\n').map_or("", |(_, after)| after);
    }
    rest
}

/// Encodes one counter per series.
fn counters(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: &[Labels],
    stats: &[TargetStats],
    value: impl Fn(&TargetStats) -> u64,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, stats) in series.iter().zip(stats) {
        ConstCounter::new(value(stats)).encode(metric.encode_family(labels)?)?;
    }
    Ok(())
}

impl Collector for ExporterCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let series = &self.snapshot.running.series;
        let stats = &self.snapshot.stats;
        match &self.part {
            Part::Head => counters(
                &mut encoder,
                "requests",
                "Number of ping requests sent",
                series,
                stats,
                |s| s.requests,
            ),
            Part::Histogram(range) => self.durations(
                &mut encoder,
                series.get(range.clone()).unwrap_or_default(),
                stats.get(range.clone()).unwrap_or_default(),
            ),
            Part::Tail => self.tail(&mut encoder, series, stats),
        }
    }
}

impl ExporterCollector {
    fn tail(
        &self,
        encoder: &mut DescriptorEncoder,
        series: &[Labels],
        stats: &[TargetStats],
    ) -> Result<(), std::fmt::Error> {
        {
            let mut metric = encoder.encode_descriptor(
                "response_ttl",
                "The last response Time To Live (TTL).",
                None,
                MetricType::Gauge,
            )?;
            for (labels, stats) in series.iter().zip(stats) {
                if let Some(ttl) = stats.last_ttl {
                    ConstGauge::new(i64::from(ttl)).encode(metric.encode_family(labels)?)?;
                }
            }
        }
        counters(
            encoder,
            "response_duplicates",
            "The number of duplicated response packets.",
            series,
            stats,
            |s| s.duplicates,
        )?;
        counters(
            encoder,
            "send_errors",
            "The number of errors when sending echo requests.",
            series,
            stats,
            |s| s.send_errors,
        )?;
        counters(
            encoder,
            "late_responses",
            "Replies that came after 64 newer requests to the same target (not counted as responses).",
            series,
            stats,
            |s| s.late,
        )?;
        self.icmp_errors(encoder, series, stats)?;
        self.receive_errors(encoder, &self.snapshot.running.receive_errors())?;
        self.traces(encoder, &self.snapshot.running.traces)?;
        self.process(encoder)
    }
}

impl ExporterCollector {
    fn durations(
        &self,
        encoder: &mut DescriptorEncoder,
        series: &[Labels],
        stats: &[TargetStats],
    ) -> Result<(), std::fmt::Error> {
        let bounds = &self.snapshot.exporter.args.buckets.0;
        let mut metric = encoder.encode_descriptor(
            "response_duration_seconds",
            "A histogram of latencies for ping responses.",
            None,
            MetricType::Histogram,
        )?;
        let mut buckets: Vec<(f64, u64)> = Vec::with_capacity(bounds.len() + 1);
        for (labels, stats) in series.iter().zip(stats) {
            buckets.clear();
            buckets.extend(
                bounds
                    .iter()
                    .copied()
                    .chain([f64::INFINITY])
                    .zip(stats.bucket_counts.iter().copied()),
            );
            metric.encode_family(labels)?.encode_histogram::<Labels>(
                stats.rtt_sum.as_secs_f64(),
                stats.responses,
                &buckets,
                None,
            )?;
        }
        Ok(())
    }

    fn icmp_errors(
        &self,
        encoder: &mut DescriptorEncoder,
        series: &[Labels],
        stats: &[TargetStats],
    ) -> Result<(), std::fmt::Error> {
        let mut metric = encoder.encode_descriptor(
            "icmp_errors",
            "ICMP errors received about echo requests, by ICMP type and code.",
            None,
            MetricType::Counter,
        )?;
        for (labels, stats) in series.iter().zip(stats) {
            for &(icmp_type, code, count) in &stats.icmp_errors {
                let mut labels = labels.clone();
                labels.push(("type".into(), icmp_type.to_string()));
                labels.push(("code".into(), code.to_string()));
                ConstCounter::new(count).encode(metric.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }

    /// Per socket family: a socket carries many targets, so its failed
    /// receives are nobody's in particular.
    fn receive_errors(
        &self,
        encoder: &mut DescriptorEncoder,
        per_family: &[(Family, u64)],
    ) -> Result<(), std::fmt::Error> {
        let mut metric = encoder.encode_descriptor(
            "receive_errors",
            "Failed receives on the ICMP sockets (other than no data), per address family.",
            None,
            MetricType::Counter,
        )?;
        for &(family, count) in per_family {
            let family = match family {
                Family::V4 => "ipv4",
                Family::V6 => "ipv6",
            };
            let mut labels: Labels = vec![("family".into(), family.into())];
            if let Some(prober) = &self.snapshot.exporter.args.prober {
                labels.push(("prober".into(), prober.clone()));
            }
            ConstCounter::new(count).encode(metric.encode_family(&labels)?)?;
        }
        Ok(())
    }

    /// The trace targets: per trace its rounds and path changes, per hop
    /// its probes, each responder's answers and mtr's RTT columns.
    fn traces(
        &self,
        encoder: &mut DescriptorEncoder,
        traces: &[RunningTrace],
    ) -> Result<(), std::fmt::Error> {
        let books: Vec<_> = traces.iter().map(|t| (&t.labels, t.books())).collect();
        let per_trace = |encoder: &mut DescriptorEncoder,
                         name: &str,
                         help: &str,
                         value: &dyn Fn(&TraceBooks) -> u64|
         -> Result<(), std::fmt::Error> {
            let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (labels, b) in &books {
                ConstCounter::new(value(b)).encode(metric.encode_family(*labels)?)?;
            }
            Ok(())
        };
        per_trace(
            encoder,
            "trace_rounds",
            "Complete rounds of the trace (every hop probed once).",
            &|b| b.rounds,
        )?;
        per_trace(
            encoder,
            "trace_path_changes",
            "Rounds whose responder at some hop differed from the round before.",
            &|b| b.paths.changes(),
        )?;
        let hop_labels = |labels: &Labels, hop: u8| {
            let mut l = labels.clone();
            l.push(("hop".into(), hop.to_string()));
            l
        };
        {
            let mut metric = encoder.encode_descriptor(
                "trace_hop_requests",
                "Probes sent to the hop (mtr's Snt).",
                None,
                MetricType::Counter,
            )?;
            for (labels, b) in &books {
                for hop in b.statistics.hops() {
                    ConstCounter::new(hop.sent)
                        .encode(metric.encode_family(&hop_labels(labels, hop.distance))?)?;
                }
            }
        }
        {
            let mut metric = encoder.encode_descriptor(
                "trace_hop_responses",
                "Answers from each responder at the hop (several where paths split).",
                None,
                MetricType::Counter,
            )?;
            for (labels, b) in &books {
                for hop in b.statistics.hops() {
                    for r in &hop.responders {
                        let mut l = hop_labels(labels, hop.distance);
                        l.push(("responder".into(), r.address.to_string()));
                        ConstCounter::new(r.received).encode(metric.encode_family(&l)?)?;
                    }
                }
            }
        }
        let mut metric = encoder.encode_descriptor(
            "trace_hop_rtt_seconds",
            "mtr's RTT columns of the hop: stat is last, avg, best, worst or stdev.",
            None,
            MetricType::Gauge,
        )?;
        for (labels, b) in &books {
            for hop in b.statistics.hops() {
                let rtt = hop.rtt();
                for (stat, value) in [
                    ("last", hop.last_rtt()),
                    ("avg", rtt.avg),
                    ("best", rtt.min),
                    ("worst", rtt.max),
                    ("stdev", rtt.mdev),
                ] {
                    let Some(value) = value else { continue };
                    let mut l = hop_labels(labels, hop.distance);
                    l.push(("stat".into(), stat.into()));
                    ConstGauge::new(value.as_secs_f64()).encode(metric.encode_family(&l)?)?;
                }
            }
        }
        Ok(())
    }

    /// Name resolution failures and the reload status.
    fn process(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        {
            let mut metric = encoder.encode_descriptor(
                "dns_failures",
                "Failed resolutions of a host's name.",
                None,
                MetricType::Counter,
            )?;
            for (host, count) in self.snapshot.exporter.dns_failures() {
                let labels: Labels = vec![("host".into(), host)];
                ConstCounter::new(count).encode(metric.encode_family(&labels)?)?;
            }
        }
        ConstGauge::new(i64::from(self.snapshot.exporter.last_reload_ok())).encode(
            encoder.encode_descriptor(
                "config_last_reload_successful",
                "Whether the last configuration reload succeeded.",
                None,
                MetricType::Gauge,
            )?,
        )?;
        ConstGauge::new(self.snapshot.exporter.last_reload_success_seconds() as i64).encode(
            encoder.encode_descriptor(
                "config_last_reload_success_timestamp_seconds",
                "When the configuration was last loaded successfully.",
                None,
                MetricType::Gauge,
            )?,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_chunks_keep_only_their_samples() {
        let chunk = "# HELP x_seconds A histogram.\n# TYPE x_seconds histogram\n# UNIT x_seconds seconds\nx_seconds_count{host=\"a\"} 1\n";
        assert_eq!(samples_only(chunk), "x_seconds_count{host=\"a\"} 1\n");
        assert_eq!(samples_only("# HELP x y\n# TYPE x counter\n"), "");
        assert_eq!(samples_only("x 1\n"), "x 1\n");
    }
}

//! /metrics: the running configuration's counters in smokeping_prober's
//! shapes, encoded with prometheus-client (Prometheus text format 0.0.4).

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

use crate::state::{Exporter, Labels};

/// Reads the exporter's state at each scrape.
#[derive(Debug)]
struct ExporterCollector {
    exporter: Arc<Exporter>,
}

/// The page /metrics serves.
pub fn render(exporter: &Arc<Exporter>) -> Result<String, std::fmt::Error> {
    let prefix = if exporter.args.smokeping_names {
        "smokeping"
    } else {
        "icmpkit"
    };
    let mut registry = Registry::with_prefix(prefix);
    registry.register_collector(Box::new(ExporterCollector {
        exporter: Arc::clone(exporter),
    }));
    let last = exporter.last_page_len.load(Ordering::Relaxed);
    let mut out = String::with_capacity(last + last / 8);
    prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)?;
    exporter.last_page_len.store(out.len(), Ordering::Relaxed);
    Ok(out)
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
        let running = self.exporter.current();
        let series = &running.series;
        let stats = running.stats();
        counters(
            &mut encoder,
            "requests",
            "Number of ping requests sent",
            series,
            &stats,
            |s| s.requests,
        )?;
        self.durations(&mut encoder, series, &stats)?;
        {
            let mut metric = encoder.encode_descriptor(
                "response_ttl",
                "The last response Time To Live (TTL).",
                None,
                MetricType::Gauge,
            )?;
            for (labels, stats) in series.iter().zip(&stats) {
                if let Some(ttl) = stats.last_ttl {
                    ConstGauge::new(i64::from(ttl)).encode(metric.encode_family(labels)?)?;
                }
            }
        }
        counters(
            &mut encoder,
            "response_duplicates",
            "The number of duplicated response packets.",
            series,
            &stats,
            |s| s.duplicates,
        )?;
        counters(
            &mut encoder,
            "send_errors",
            "The number of errors when sending echo requests.",
            series,
            &stats,
            |s| s.send_errors,
        )?;
        counters(
            &mut encoder,
            "late_responses",
            "Replies that came after 64 newer requests to the same target (not counted as responses).",
            series,
            &stats,
            |s| s.late,
        )?;
        self.icmp_errors(&mut encoder, series, &stats)?;
        self.receive_errors(&mut encoder, &running.receive_errors())?;
        self.process(&mut encoder)
    }
}

impl ExporterCollector {
    fn durations(
        &self,
        encoder: &mut DescriptorEncoder,
        series: &[Labels],
        stats: &[TargetStats],
    ) -> Result<(), std::fmt::Error> {
        let bounds = &self.exporter.args.buckets.0;
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
            if let Some(prober) = &self.exporter.args.prober {
                labels.push(("prober".into(), prober.clone()));
            }
            ConstCounter::new(count).encode(metric.encode_family(&labels)?)?;
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
            for (host, count) in self.exporter.dns_failures() {
                let labels: Labels = vec![("host".into(), host)];
                ConstCounter::new(count).encode(metric.encode_family(&labels)?)?;
            }
        }
        ConstGauge::new(i64::from(self.exporter.last_reload_ok())).encode(
            encoder.encode_descriptor(
                "config_last_reload_successful",
                "Whether the last configuration reload succeeded.",
                None,
                MetricType::Gauge,
            )?,
        )?;
        ConstGauge::new(self.exporter.last_reload_success_seconds() as i64).encode(
            encoder.encode_descriptor(
                "config_last_reload_success_timestamp_seconds",
                "When the configuration was last loaded successfully.",
                None,
                MetricType::Gauge,
            )?,
        )
    }
}

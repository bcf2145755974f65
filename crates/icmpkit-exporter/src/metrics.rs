//! /metrics: the running configuration's counters in smokeping_prober's
//! shapes, encoded with prometheus-client (Prometheus text format 0.0.4).
//!
//! The page is streamed: one snapshot of the counters is taken per scrape,
//! then the page is encoded piece by piece (each per-target family in
//! blocks of [`SERIES_PER_PIECE`] series, then the small families) and each
//! piece is handed to the HTTP body as soon as it is encoded, so a scrape
//! holds a few pieces, never the whole page (29 MB at 10,000 targets).

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use axum::body::Bytes;
use futures_util::{Stream, StreamExt};
use icmpkit::monitor::TargetStats;
use icmpkit::socket::Family;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::labels::SeriesLabels;
use crate::state::{Exporter, Labels, Running};
use crate::traces::{RunningTrace, TraceBooks};

/// One scrape's view of the exporter: what the page shows, read once,
/// shared by the threads that encode its pieces.
#[derive(Debug)]
pub struct Snapshot {
    /// `icmpkit` or `smokeping`.
    pub prefix: &'static str,
    /// Histogram upper bounds (seconds), `+Inf` implied.
    pub buckets: Vec<f64>,
    pub prober: Option<String>,
    /// The series' labels and the traces.
    pub running: Arc<Running>,
    /// Each series' counters, in the order of `running.series`.
    pub stats: StatsTable,
    pub receive_errors: Vec<(Family, u64)>,
    pub dns_failures: BTreeMap<String, u64>,
    pub last_reload_ok: bool,
    pub last_reload_success_seconds: u64,
}

impl Snapshot {
    /// The exporter's state now: series and counters read together.
    pub fn take(exporter: &Exporter) -> Snapshot {
        let buckets = exporter.args.buckets.0.len();
        let (running, stats) =
            exporter.current_with(|monitor, series| StatsTable::read(monitor, series, buckets));
        Snapshot {
            prefix: if exporter.args.smokeping_names {
                "smokeping"
            } else {
                "icmpkit"
            },
            buckets: exporter.args.buckets.0.clone(),
            prober: exporter.args.prober.clone(),
            receive_errors: exporter.receive_errors(),
            running,
            stats,
            dns_failures: exporter.dns_failures(),
            last_reload_ok: exporter.last_reload_ok(),
            last_reload_success_seconds: exporter.last_reload_success_seconds(),
        }
    }
}

/// Every series' counters, copied once per scrape into a few flat arrays:
/// no allocation per target (10,000 small ones a scrape, freed, left the
/// allocator's arenas holding megabytes).
#[derive(Debug, Default)]
pub struct StatsTable {
    counters: Vec<Counters>,
    /// A row of `row` bucket counts per series (not cumulative, `+Inf`
    /// last).
    buckets: Vec<u64>,
    row: usize,
    /// (series, type, code, count), by series.
    icmp_errors: Vec<(usize, u8, u8, u64)>,
}

/// One series' counters, as exported.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counters {
    requests: u64,
    responses: u64,
    duplicates: u64,
    late: u64,
    send_errors: u64,
    rtt_sum: std::time::Duration,
    last_ttl: Option<u8>,
}

/// One series' part of the table.
#[derive(Debug, Clone, Copy)]
struct StatsRow<'a> {
    counters: &'a Counters,
    buckets: &'a [u64],
    icmp_errors: &'a [(usize, u8, u8, u64)],
}

impl std::ops::Deref for StatsRow<'_> {
    type Target = Counters;
    fn deref(&self) -> &Counters {
        self.counters
    }
}

impl StatsTable {
    /// `series` series of `buckets` histogram bounds, all zero.
    fn new(series: usize, buckets: usize) -> StatsTable {
        let row = buckets + 1;
        StatsTable {
            counters: vec![Counters::default(); series],
            buckets: vec![0; series * row],
            row,
            icmp_errors: Vec::new(),
        }
    }

    /// The monitor's counters, in series order.
    fn read(monitor: &icmpkit::monitor::Monitor, series: usize, buckets: usize) -> StatsTable {
        let mut table = StatsTable::new(series, buckets);
        monitor.visit_stats(|index, stats| table.set(index, stats));
        // Visits come per socket: errors back in series order.
        table.icmp_errors.sort_by_key(|e| e.0);
        table
    }

    /// Series `index`'s counters (icmp errors appended: sort afterwards).
    fn set(&mut self, index: usize, stats: &TargetStats) {
        let (Some(counters), Some(row)) = (
            self.counters.get_mut(index),
            self.buckets
                .get_mut(index * self.row..(index + 1) * self.row),
        ) else {
            return;
        };
        *counters = Counters {
            requests: stats.requests,
            responses: stats.responses,
            duplicates: stats.duplicates,
            late: stats.late,
            send_errors: stats.send_errors,
            rtt_sum: stats.rtt_sum,
            last_ttl: stats.last_ttl,
        };
        for (slot, &count) in row.iter_mut().zip(&stats.bucket_counts) {
            *slot = count;
        }
        self.icmp_errors
            .extend(stats.icmp_errors.iter().map(|&(t, c, n)| (index, t, c, n)));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.counters.len()
    }

    /// The rows of the series in `range`.
    fn rows(&self, range: Range<usize>) -> impl Iterator<Item = StatsRow<'_>> {
        let errors_from = self.icmp_errors.partition_point(|e| e.0 < range.start);
        let mut errors = &self.icmp_errors[errors_from..];
        range.filter_map(move |i| {
            let mine = errors.partition_point(|e| e.0 == i);
            let (icmp_errors, rest) = errors.split_at(mine);
            errors = rest;
            Some(StatsRow {
                counters: self.counters.get(i)?,
                buckets: self.buckets.get(i * self.row..(i + 1) * self.row)?,
                icmp_errors,
            })
        })
    }
}

/// The families with one series (or more) per target, in page order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SeriesFamily {
    Requests,
    Durations,
    Ttl,
    Duplicates,
    SendErrors,
    Late,
    IcmpErrors,
}

const SERIES_FAMILIES: [SeriesFamily; 7] = [
    SeriesFamily::Requests,
    SeriesFamily::Durations,
    SeriesFamily::Ttl,
    SeriesFamily::Duplicates,
    SeriesFamily::SendErrors,
    SeriesFamily::Late,
    SeriesFamily::IcmpErrors,
];

/// Which part of the page a collector writes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// One family's series of the targets in this range.
    Series(SeriesFamily, Range<usize>),
    /// The families that are not per target (sockets, traces, process).
    Rest,
    /// The whole page in one piece (the reference the pieces must equal).
    #[cfg(test)]
    Whole,
}

/// Targets per piece: the histogram's 23 lines a target make a piece of
/// about 230 kB at most. Measured at 10,000 targets: as fast as 250 or 500
/// per piece, and 1 to 3 MB less peak RSS.
const SERIES_PER_PIECE: usize = 100;

/// The pieces of a page of `series` targets, in order.
fn pieces(series: usize) -> Vec<Piece> {
    let mut out = Vec::new();
    for family in SERIES_FAMILIES {
        // A family without series still has its HELP/TYPE: one piece.
        let blocks = series.div_ceil(SERIES_PER_PIECE).max(1);
        for block in 0..blocks {
            let start = block * SERIES_PER_PIECE;
            out.push(Piece::Series(
                family,
                start..(start + SERIES_PER_PIECE).min(series),
            ));
        }
    }
    out.push(Piece::Rest);
    out
}

/// Writes one piece of the page from a snapshot.
#[derive(Debug)]
struct ExporterCollector {
    snapshot: Arc<Snapshot>,
    piece: Piece,
}

/// The page as a stream of pieces: encoded off the runtime's workers (so
/// the probe sockets keep their timing) by the encoder threads, up to one
/// piece per thread at once, handed out in order.
pub fn stream(snapshot: Arc<Snapshot>) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    let encoders = Encoders::get();
    let count = snapshot.running.series.len();
    futures_util::stream::iter(pieces(count))
        .map(move |piece| encoders.encode(Arc::clone(&snapshot), piece))
        .buffered(encoders.threads)
        .map(|encoded| match encoded {
            Ok(Ok(text)) => Ok(text),
            _ => Err(std::io::Error::other("encoding the metrics failed")),
        })
}

/// A piece to encode and where its text goes.
type Job = (
    Arc<Snapshot>,
    Piece,
    tokio::sync::oneshot::Sender<Result<Bytes, std::fmt::Error>>,
);

/// The threads that encode pieces, one per CPU, started with the first
/// scrape and kept. A fixed few rather than the runtime's blocking pool:
/// each thread that allocates a piece gets its own malloc arena, which
/// keeps what it freed, and the blocking pool's many threads kept ~5 MB
/// more after a 10,000-target scrape.
struct Encoders {
    jobs: std::sync::Mutex<std::sync::mpsc::Sender<Job>>,
    threads: usize,
}

impl Encoders {
    fn get() -> &'static Encoders {
        static ENCODERS: std::sync::OnceLock<Encoders> = std::sync::OnceLock::new();
        ENCODERS.get_or_init(|| {
            let threads = std::thread::available_parallelism().map_or(1, usize::from);
            let (jobs, queue) = std::sync::mpsc::channel::<Job>();
            let queue = Arc::new(std::sync::Mutex::new(queue));
            for i in 0..threads {
                let queue = Arc::clone(&queue);
                let spawned = std::thread::Builder::new()
                    .name(format!("metrics-{i}"))
                    .spawn(move || {
                        loop {
                            let job = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
                            let Ok((snapshot, piece, done)) = job else {
                                return;
                            };
                            // A scrape that went away no longer waits.
                            let _ = done.send(encode_piece(snapshot, piece));
                        }
                    });
                if let Err(error) = spawned {
                    tracing::error!(%error, "cannot start a metrics encoder thread");
                }
            }
            Encoders {
                jobs: std::sync::Mutex::new(jobs),
                threads,
            }
        })
    }

    /// Queues `piece`; its text comes through the receiver (an error if
    /// no thread could take it).
    fn encode(
        &self,
        snapshot: Arc<Snapshot>,
        piece: Piece,
    ) -> tokio::sync::oneshot::Receiver<Result<Bytes, std::fmt::Error>> {
        let (done, text) = tokio::sync::oneshot::channel();
        // A failed send drops `done`: the receiver then reports the error.
        let _ = self
            .jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send((snapshot, piece, done));
        text
    }
}

/// The text of one piece; a family's later blocks without its HELP/TYPE
/// (one family, one HELP/TYPE: cut off without copying the rest).
fn encode_piece(snapshot: Arc<Snapshot>, piece: Piece) -> Result<Bytes, std::fmt::Error> {
    let later_block = matches!(&piece, Piece::Series(_, range) if range.start > 0);
    let mut registry = Registry::with_prefix(snapshot.prefix);
    registry.register_collector(Box::new(ExporterCollector { snapshot, piece }));
    let mut out = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)?;
    let header = if later_block {
        out.len() - samples_only(&out).len()
    } else {
        0
    };
    Ok(Bytes::from(out).slice(header..))
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
fn counters<'a>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: &[SeriesLabels],
    stats: impl Iterator<Item = StatsRow<'a>>,
    value: impl Fn(&Counters) -> u64,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, stats) in series.iter().zip(stats) {
        ConstCounter::new(value(stats.counters)).encode(metric.encode_family(labels)?)?;
    }
    Ok(())
}

impl Collector for ExporterCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        match &self.piece {
            Piece::Series(family, range) => self.family(&mut encoder, *family, range.clone()),
            Piece::Rest => self.rest(&mut encoder),
            #[cfg(test)]
            Piece::Whole => {
                for family in SERIES_FAMILIES {
                    self.family(&mut encoder, family, 0..self.snapshot.stats.len())?;
                }
                self.rest(&mut encoder)
            }
        }
    }
}

impl ExporterCollector {
    /// One per-target family, for the targets in `range`.
    fn family(
        &self,
        encoder: &mut DescriptorEncoder,
        family: SeriesFamily,
        range: Range<usize>,
    ) -> Result<(), std::fmt::Error> {
        let series = self
            .snapshot
            .running
            .series
            .get(range.clone())
            .unwrap_or_default();
        let stats = self.snapshot.stats.rows(range);
        match family {
            SeriesFamily::Requests => counters(
                encoder,
                "requests",
                "Number of ping requests sent",
                series,
                stats,
                |s| s.requests,
            ),
            SeriesFamily::Durations => self.durations(encoder, series, stats),
            SeriesFamily::Ttl => {
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
                Ok(())
            }
            SeriesFamily::Duplicates => counters(
                encoder,
                "response_duplicates",
                "The number of duplicated response packets.",
                series,
                stats,
                |s| s.duplicates,
            ),
            SeriesFamily::SendErrors => counters(
                encoder,
                "send_errors",
                "The number of errors when sending echo requests.",
                series,
                stats,
                |s| s.send_errors,
            ),
            SeriesFamily::Late => counters(
                encoder,
                "late_responses",
                "Replies that came after 64 newer requests to the same target (not counted as responses).",
                series,
                stats,
                |s| s.late,
            ),
            SeriesFamily::IcmpErrors => self.icmp_errors(encoder, series, stats),
        }
    }

    /// The families that are not per target.
    fn rest(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        self.receive_errors(encoder, &self.snapshot.receive_errors)?;
        self.traces(encoder, &self.snapshot.running.traces)?;
        self.process(encoder)
    }
}

impl ExporterCollector {
    fn durations<'a>(
        &self,
        encoder: &mut DescriptorEncoder,
        series: &[SeriesLabels],
        stats: impl Iterator<Item = StatsRow<'a>>,
    ) -> Result<(), std::fmt::Error> {
        let bounds = &self.snapshot.buckets;
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
                    .zip(stats.buckets.iter().copied()),
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

    fn icmp_errors<'a>(
        &self,
        encoder: &mut DescriptorEncoder,
        series: &[SeriesLabels],
        stats: impl Iterator<Item = StatsRow<'a>>,
    ) -> Result<(), std::fmt::Error> {
        let mut metric = encoder.encode_descriptor(
            "icmp_errors",
            "ICMP errors received about echo requests, by ICMP type and code.",
            None,
            MetricType::Counter,
        )?;
        for (labels, stats) in series.iter().zip(stats) {
            for &(_, icmp_type, code, count) in stats.icmp_errors {
                let labels = (
                    labels.clone(),
                    [("type", icmp_type.to_string()), ("code", code.to_string())],
                );
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
            if let Some(prober) = &self.snapshot.prober {
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
        traces: &[Arc<RunningTrace>],
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
            for (host, count) in &self.snapshot.dns_failures {
                let labels: Labels = vec![("host".into(), host.clone())];
                ConstCounter::new(*count).encode(metric.encode_family(&labels)?)?;
            }
        }
        ConstGauge::new(i64::from(self.snapshot.last_reload_ok)).encode(
            encoder.encode_descriptor(
                "config_last_reload_successful",
                "Whether the last configuration reload succeeded.",
                None,
                MetricType::Gauge,
            )?,
        )?;
        ConstGauge::new(self.snapshot.last_reload_success_seconds as i64).encode(
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
    use futures_util::TryStreamExt;
    use std::time::Duration;

    #[test]
    fn later_chunks_keep_only_their_samples() {
        let chunk = "# HELP x_seconds A histogram.\n# TYPE x_seconds histogram\n# UNIT x_seconds seconds\nx_seconds_count{host=\"a\"} 1\n";
        assert_eq!(samples_only(chunk), "x_seconds_count{host=\"a\"} 1\n");
        assert_eq!(samples_only("# HELP x y\n# TYPE x counter\n"), "");
        assert_eq!(samples_only("x 1\n"), "x 1\n");
    }

    /// A fixed snapshot of `targets` series with varied counters: some
    /// without a TTL, some with ICMP errors, every bucket used somewhere.
    fn snapshot(targets: usize) -> Snapshot {
        let buckets = vec![0.0001, 0.001, 0.01];
        let mut running = Running::default();
        let mut interner =
            crate::labels::LabelInterner::new(&["host", "ip", "source", "tos", "site", "prober"]);
        running.series = (0..targets)
            .map(|i| {
                interner.series(&[
                    &format!("host-{i}.example"),
                    &format!("192.0.2.{}", i % 250),
                    "",
                    "0",
                    &format!("site-{}", i % 3),
                    "p0",
                ])
            })
            .collect();
        let stats: Vec<TargetStats> = (0..targets as u64)
            .map(|i| TargetStats {
                requests: 100 + i,
                responses: 90 + i,
                duplicates: i % 2,
                late: i % 5,
                send_errors: i % 7,
                last_ttl: (i % 4 != 0).then_some(64 - (i % 10) as u8),
                rtt_sum: Duration::from_micros(1234 * i),
                bucket_counts: vec![i % 3, 50, 40 + i, i % 11],
                icmp_errors: if i % 9 == 0 {
                    vec![(3, 1, i), (11, 0, 2)]
                } else {
                    Vec::new()
                },
            })
            .collect();
        Snapshot {
            prefix: "icmpkit",
            buckets: buckets.clone(),
            prober: Some("p0".into()),
            running: Arc::new(running),
            stats: {
                let mut table = StatsTable::new(targets, buckets.len());
                for (i, s) in stats.iter().enumerate() {
                    table.set(i, s);
                }
                table
            },
            receive_errors: vec![(Family::V4, 3), (Family::V6, 0)],
            dns_failures: BTreeMap::from([("gone.example".to_string(), 4)]),
            last_reload_ok: true,
            last_reload_success_seconds: 1_700_000_000,
        }
    }

    async fn pieces_of(snapshot: Arc<Snapshot>) -> Vec<String> {
        let pieces: Vec<Bytes> = stream(snapshot).try_collect().await.expect("encoded");
        pieces
            .into_iter()
            .map(|p| String::from_utf8(p.to_vec()).expect("UTF-8"))
            .collect()
    }

    async fn streamed(snapshot: Arc<Snapshot>) -> String {
        pieces_of(snapshot).await.concat()
    }

    /// The page streamed in pieces (blocks of series per family) is the
    /// page prometheus-client encodes in one buffer, byte for byte.
    #[tokio::test]
    async fn the_streamed_page_equals_the_single_buffer_encoding() {
        for targets in [0, 1, SERIES_PER_PIECE, 2 * SERIES_PER_PIECE + 234] {
            let snapshot = Arc::new(snapshot(targets));
            let whole = encode_piece(Arc::clone(&snapshot), Piece::Whole).unwrap();
            let whole = std::str::from_utf8(&whole).unwrap();
            let page = streamed(snapshot).await;
            assert_eq!(
                page.matches("# TYPE icmpkit_response_duration_seconds ")
                    .count(),
                1
            );
            assert!(
                page == whole,
                "{targets} targets: the pieces differ from the page"
            );
            assert_eq!(
                page.matches("icmpkit_requests_total{").count(),
                targets,
                "one requests series per target"
            );
        }
    }

    /// A scrape holds pieces, not the page: the biggest piece of a
    /// 2,234-target page is a small part of it.
    #[tokio::test]
    async fn the_page_is_handed_out_in_small_pieces() {
        let snapshot = Arc::new(snapshot(4 * SERIES_PER_PIECE + SERIES_PER_PIECE / 2));
        let pieces = pieces_of(snapshot).await;
        let page: usize = pieces.iter().map(String::len).sum();
        let biggest = pieces.iter().map(String::len).max().unwrap();
        assert_eq!(pieces.len(), SERIES_FAMILIES.len() * 5 + 1);
        assert!(
            biggest * 6 < page,
            "biggest piece {biggest} bytes of a {page}-byte page"
        );
    }

    /// The table hands each series its own counters, histogram row and
    /// ICMP errors, whatever the order the monitor's sockets visited them.
    #[test]
    fn the_stats_table_keeps_each_series_rows() {
        let mut table = StatsTable::new(6, 1);
        let stats = |n: u64, errors: Vec<(u8, u8, u64)>| TargetStats {
            requests: n,
            bucket_counts: vec![n, 2 * n],
            icmp_errors: errors,
            ..TargetStats::default()
        };
        table.set(5, &stats(5, vec![(3, 1, 7)]));
        table.set(2, &stats(2, vec![(11, 0, 1), (3, 3, 2)]));
        table.set(4, &stats(4, Vec::new()));
        table.icmp_errors.sort_by_key(|e| e.0);
        let rows: Vec<_> = table.rows(1..6).collect();
        assert_eq!(rows.len(), 5);
        assert_eq!(rows[1].requests, 2);
        assert_eq!(rows[1].buckets, &[2, 4]);
        assert_eq!(rows[1].icmp_errors, &[(2, 11, 0, 1), (2, 3, 3, 2)]);
        assert!(rows[0].icmp_errors.is_empty() && rows[3].icmp_errors.is_empty());
        assert_eq!(rows[4].icmp_errors, &[(5, 3, 1, 7)]);
        assert_eq!(rows[2].buckets, &[0, 0], "series 3 was never set");
        let tail: Vec<_> = table.rows(5..6).collect();
        assert_eq!(tail[0].icmp_errors, &[(5, 3, 1, 7)]);
    }

    /// promtool accepts the streamed page.
    #[tokio::test]
    async fn promtool_accepts_the_streamed_page() {
        let test = "promtool_accepts_the_streamed_page";
        icmpkit_lab::require_or_skip!(test, icmpkit_lab::require_tool("promtool"));
        let page = streamed(Arc::new(snapshot(2 * SERIES_PER_PIECE + 1))).await;
        let path = std::env::temp_dir().join(format!("icmpkit-{test}-{}.prom", std::process::id()));
        std::fs::write(&path, &page).unwrap();
        let check = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("promtool check metrics < {}", path.display()))
            .output()
            .unwrap();
        let _ = std::fs::remove_file(&path);
        assert!(
            check.status.success(),
            "promtool: {}",
            icmpkit_lab::output_text(&check)
        );
    }
}

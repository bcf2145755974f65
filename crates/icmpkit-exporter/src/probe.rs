//! /probe?target=…&module=…: blackbox_exporter's multi-target pattern and
//! metric names, plus what it refuses: several packets per probe, with
//! loss and RTT statistics.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use icmpkit::ping::{PingEvent, PingOptions, Pinger};
use icmpkit::socket::{Family, IcmpSocket, Privilege, SocketKind, SocketOptions, TypeFilter};
use prometheus_client::metrics::family::Family as MetricFamily;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::Deserialize;
use std::sync::Mutex;

use crate::args::parse_duration;

/// A `modules:` entry (blackbox_exporter's shape, `prober: icmp` only).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleFile {
    prober: String,
    timeout: Option<String>,
    #[serde(default)]
    icmp: IcmpModuleFile,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct IcmpModuleFile {
    preferred_ip_protocol: Option<String>,
    ip_protocol_fallback: Option<bool>,
    payload_size: Option<usize>,
    ttl: Option<u8>,
    /// icmpkit: echo requests per probe (blackbox sends one).
    packets: Option<u64>,
    /// icmpkit: time between them.
    interval: Option<String>,
}

/// A checked module.
#[derive(Debug, Clone, PartialEq)]
pub struct Module {
    pub timeout: Duration,
    pub preferred: Family,
    pub fallback: bool,
    pub payload_size: usize,
    pub ttl: Option<u8>,
    pub packets: u64,
    pub interval: Duration,
}

impl Default for Module {
    /// The built-in `icmp` module: blackbox_exporter's defaults (IPv6
    /// preferred, IPv4 fallback, 5 s), one packet.
    fn default() -> Self {
        Module {
            timeout: Duration::from_secs(5),
            preferred: Family::V6,
            fallback: true,
            payload_size: 56,
            ttl: None,
            packets: 1,
            interval: Duration::from_secs(1),
        }
    }
}

impl ModuleFile {
    /// Checks the entry.
    pub fn check(&self) -> anyhow::Result<Module> {
        anyhow::ensure!(
            self.prober == "icmp",
            "prober {:?}: only icmp is supported",
            self.prober
        );
        let default = Module::default();
        let preferred = match self.icmp.preferred_ip_protocol.as_deref() {
            None | Some("ip6") => Family::V6,
            Some("ip4") => Family::V4,
            Some(other) => anyhow::bail!("preferred_ip_protocol {other:?}: expected ip4 or ip6"),
        };
        let duration = |field: &str, text: &Option<String>, default: Duration| match text {
            Some(t) => parse_duration(t).map_err(|e| anyhow::anyhow!("{field}: {e}")),
            None => Ok(default),
        };
        let packets = self.icmp.packets.unwrap_or(1);
        anyhow::ensure!(
            (1..=1000).contains(&packets),
            "packets {packets}: expected 1..=1000"
        );
        Ok(Module {
            timeout: duration("timeout", &self.timeout, default.timeout)?,
            preferred,
            fallback: self.icmp.ip_protocol_fallback.unwrap_or(true),
            payload_size: self.icmp.payload_size.unwrap_or(default.payload_size),
            ttl: self.icmp.ttl,
            packets,
            interval: duration("interval", &self.icmp.interval, default.interval)?,
        })
    }
}

/// The modules of a configuration: the file's, and `icmp` unless it has one.
pub fn modules(file: &BTreeMap<String, ModuleFile>) -> anyhow::Result<BTreeMap<String, Module>> {
    let mut out = BTreeMap::from([("icmp".to_string(), Module::default())]);
    for (name, module) in file {
        let module = module
            .check()
            .map_err(|e| e.context(format!("modules.{name}")))?;
        out.insert(name.clone(), module);
    }
    Ok(out)
}

type F64Gauge = Gauge<f64, AtomicU64>;

fn gauge(registry: &mut Registry, name: &str, help: &str, value: f64) {
    let g = F64Gauge::default();
    g.set(value);
    registry.register(name, help, g);
}

/// Runs one probe and returns its page (Prometheus text format).
pub async fn run(
    target: &str,
    module: &Module,
    scrape_timeout: Option<Duration>,
    sockets: &ProbeSockets,
    privilege: Privilege,
) -> String {
    let started = Instant::now();
    // As blackbox_exporter: leave half a second of the scrape's time for
    // the answer to travel.
    let timeout = scrape_timeout
        .map(|t| t.saturating_sub(Duration::from_millis(500)))
        .map_or(module.timeout, |t| t.min(module.timeout))
        .max(Duration::from_millis(100));
    let mut registry = Registry::default();
    let phases = MetricFamily::<Vec<(String, String)>, F64Gauge>::default();
    registry.register(
        "probe_icmp_duration_seconds",
        "Duration of icmp request by phase",
        phases.clone(),
    );
    let phase = |name: &str, d: Duration| {
        phases
            .get_or_create(&vec![("phase".to_string(), name.to_string())])
            .set(d.as_secs_f64());
    };
    let success = probe(
        target,
        module,
        timeout,
        sockets,
        privilege,
        &mut registry,
        phase,
    )
    .await;
    gauge(
        &mut registry,
        "probe_success",
        "Displays whether or not the probe was a success",
        f64::from(u8::from(success)),
    );
    gauge(
        &mut registry,
        "probe_duration_seconds",
        "Returns how long the probe took to complete in seconds",
        started.elapsed().as_secs_f64(),
    );
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry);
    out
}

async fn resolve(target: &str, module: &Module) -> icmpkit::Result<icmpkit::resolve::Target> {
    let first = icmpkit::resolve::resolve(target, Some(module.preferred)).await;
    match first {
        Err(_) if module.fallback => {
            let other = match module.preferred {
                Family::V4 => Family::V6,
                Family::V6 => Family::V4,
            };
            icmpkit::resolve::resolve(target, Some(other)).await
        }
        result => result,
    }
}

/// Raw sockets for /probe, opened at start while privileged: a probe
/// borrows one of its family (each probe reads its own socket: a raw socket
/// hands every ICMP message to whoever reads it first). Where datagram
/// sockets are allowed none are kept: a probe opens one, as any user may.
#[derive(Debug, Default)]
pub struct ProbeSockets {
    pools: Vec<(Family, SocketPool)>,
}

#[derive(Debug)]
struct SocketPool {
    idle: Mutex<Vec<IcmpSocket>>,
    /// One permit per socket.
    permits: tokio::sync::Semaphore,
    /// The TTL a probe without `ttl:` sends with.
    default_ttl: u8,
}

impl ProbeSockets {
    /// Per family: nothing if a datagram socket opens (probes open theirs
    /// then), else `count` raw sockets. A family that opens neither is
    /// logged; its probes fail with the reason.
    pub fn open(privilege: Privilege, count: u16) -> ProbeSockets {
        let mut pools = Vec::new();
        for family in [Family::V4, Family::V6] {
            match open_pool(family, privilege, count) {
                Ok(Some(pool)) => pools.push((family, pool)),
                Ok(None) => {}
                Err(error) => tracing::warn!(?family, %error, "no ICMP socket for /probe"),
            }
        }
        ProbeSockets { pools }
    }

    fn pool(&self, family: Family) -> Option<&SocketPool> {
        self.pools
            .iter()
            .find(|(f, _)| *f == family)
            .map(|(_, p)| p)
    }
}

fn open_pool(
    family: Family,
    privilege: Privilege,
    count: u16,
) -> icmpkit::Result<Option<SocketPool>> {
    let first = IcmpSocket::open(family, privilege, &SocketOptions::default())?;
    if first.kind() == SocketKind::Datagram {
        return Ok(None);
    }
    let default_ttl = first.ttl().unwrap_or(64);
    let mut idle = vec![first];
    for _ in 1..count {
        idle.push(IcmpSocket::open(
            family,
            Privilege::Privileged,
            &SocketOptions::default(),
        )?);
    }
    for socket in &idle {
        // Idle: the kernel queues nothing for it (the filter acts before
        // the packet is copied to the socket).
        let _ = socket.set_type_filter(&TypeFilter::block_all());
    }
    Ok(Some(SocketPool {
        permits: tokio::sync::Semaphore::new(idle.len()),
        idle: Mutex::new(idle),
        default_ttl,
    }))
}

/// A pooled socket lent to one probe, put back (blocked again) on drop.
struct Lent<'a> {
    pool: &'a SocketPool,
    socket: Option<IcmpSocket>,
    _permit: tokio::sync::SemaphorePermit<'a>,
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        if let Some(socket) = self.socket.take() {
            let _ = socket.set_type_filter(&TypeFilter::block_all());
            self.pool
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(socket);
        }
    }
}

/// The socket a probe of `family` pings on: a raw one of the pool (waiting
/// up to `timeout` for one), or `None` to open its own.
async fn lend<'a>(
    sockets: &'a ProbeSockets,
    family: Family,
    module: &Module,
    timeout: Duration,
) -> Result<Option<(Lent<'a>, IcmpSocket)>, String> {
    let Some(pool) = sockets.pool(family) else {
        return Ok(None);
    };
    let permit = tokio::time::timeout(timeout, pool.permits.acquire())
        .await
        .map_err(|_| "every /probe socket of the family is busy".to_string())?
        .map_err(|e| e.to_string())?;
    let socket = pool
        .idle
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .pop()
        .ok_or("no idle /probe socket")?;
    let lent = Lent {
        pool,
        socket: Some(socket),
        _permit: permit,
    };
    let socket = lent.socket.as_ref().ok_or("no socket")?;
    let setup = || -> std::io::Result<IcmpSocket> {
        socket.set_ttl(module.ttl.unwrap_or(pool.default_ttl))?;
        socket.set_type_filter(&TypeFilter::replies_and_errors(family))?;
        socket.try_clone()
    };
    let handle = setup().map_err(|e| format!("preparing a /probe socket: {e}"))?;
    Ok(Some((lent, handle)))
}

/// True if any echo came back.
async fn probe(
    target: &str,
    module: &Module,
    timeout: Duration,
    sockets: &ProbeSockets,
    privilege: Privilege,
    registry: &mut Registry,
    phase: impl Fn(&str, Duration),
) -> bool {
    let start = Instant::now();
    let resolved = match tokio::time::timeout(timeout, resolve(target, module)).await {
        Ok(Ok(t)) => t,
        Ok(Err(error)) => {
            tracing::debug!(%target, %error, "probe: cannot resolve");
            return false;
        }
        Err(_) => return false,
    };
    phase("resolve", start.elapsed());
    let protocol = match resolved.family() {
        Family::V4 => 4.0,
        Family::V6 => 6.0,
    };
    gauge(
        registry,
        "probe_ip_protocol",
        "Specifies whether probe ip protocol is IP4 or IP6",
        protocol,
    );
    let setup = Instant::now();
    let waited_for_socket = timeout.saturating_sub(start.elapsed());
    let lent = match lend(sockets, resolved.family(), module, waited_for_socket).await {
        Ok(lent) => lent,
        Err(error) => {
            tracing::warn!(%target, %error, "probe: cannot ping");
            return false;
        }
    };
    // The ping gets what the wait for a pooled socket left of the probe's
    // time, not what there was before it: a probe that waited for a busy
    // pool would otherwise run past the scrape's timeout.
    let remaining = timeout.saturating_sub(start.elapsed());
    if remaining.is_zero() {
        tracing::warn!(%target, "probe: no time left to ping");
        return false;
    }
    let mut opts = PingOptions::default();
    opts.timing.count = Some(module.packets);
    opts.timing.interval = module.interval;
    opts.timing.timeout = remaining;
    opts.timing.deadline = Some(remaining);
    opts.payload_size = module.payload_size;
    opts.socket.ttl = module.ttl;
    opts.privilege = privilege;
    let (_lent, pinger) = match lent {
        Some((lent, socket)) => (Some(lent), Pinger::with_socket(resolved, socket, &opts)),
        None => (None, Pinger::with_target(resolved, &opts)),
    };
    let mut pinger = match pinger {
        Ok(p) => p,
        Err(error) => {
            tracing::warn!(%target, %error, "probe: cannot ping");
            return false;
        }
    };
    phase("setup", setup.elapsed());
    let mut hop_limit = None;
    let mut errors: BTreeMap<(u8, u8), u64> = BTreeMap::new();
    while let Some(event) = pinger.next_event().await {
        match event {
            PingEvent::Reply {
                ttl,
                duplicate: false,
                bad_checksum: false,
                ..
            } => hop_limit = ttl.or(hop_limit),
            PingEvent::Error { error, .. } => {
                *errors.entry((error.icmp_type, error.code)).or_default() += 1
            }
            _ => {}
        }
    }
    let report = pinger.report();
    if let Some(avg) = report.rtt.avg {
        phase("rtt", avg);
    }
    if let Some(ttl) = hop_limit {
        gauge(
            registry,
            "probe_icmp_reply_hop_limit",
            "Replied packet hop limit (TTL for ipv4)",
            f64::from(ttl),
        );
    }
    packet_statistics(registry, &report, &errors);
    report.packets_received > 0
}

/// What blackbox_exporter refuses: several packets, their loss and RTTs.
fn packet_statistics(
    registry: &mut Registry,
    report: &icmpkit::ping::PingReport,
    errors: &BTreeMap<(u8, u8), u64>,
) {
    gauge(
        registry,
        "probe_icmp_packets_sent",
        "Echo requests sent by this probe",
        report.packets_sent as f64,
    );
    gauge(
        registry,
        "probe_icmp_packets_received",
        "Echo replies received by this probe",
        report.packets_received as f64,
    );
    gauge(
        registry,
        "probe_icmp_duplicates",
        "Duplicate echo replies received by this probe",
        report.duplicates as f64,
    );
    if report.packets_sent > 0 {
        let loss = 1.0 - report.packets_received as f64 / report.packets_sent as f64;
        gauge(
            registry,
            "probe_icmp_packet_loss_ratio",
            "Share of echo requests not answered (0 to 1)",
            loss,
        );
    }
    let rtts = MetricFamily::<Vec<(String, String)>, F64Gauge>::default();
    for (stat, value) in [
        ("min", report.rtt.min),
        ("avg", report.rtt.avg),
        ("max", report.rtt.max),
    ] {
        if let Some(d) = value {
            rtts.get_or_create(&vec![("stat".to_string(), stat.to_string())])
                .set(d.as_secs_f64());
        }
    }
    registry.register(
        "probe_icmp_rtt_seconds",
        "Round-trip times of the probe's replies",
        rtts,
    );
    let icmp_errors = MetricFamily::<Vec<(String, String)>, F64Gauge>::default();
    for (&(t, c), &n) in errors {
        icmp_errors
            .get_or_create(&vec![
                ("type".to_string(), t.to_string()),
                ("code".to_string(), c.to_string()),
            ])
            .set(n as f64);
    }
    registry.register(
        "probe_icmp_errors",
        "ICMP errors received by this probe, by type and code",
        icmp_errors,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Raw sockets for /probe on loopback, or a reported skip.
    fn raw_pool(test: &str, count: u16) -> Option<ProbeSockets> {
        let sockets = ProbeSockets::open(Privilege::Privileged, count);
        if sockets.pool(Family::V4).is_none() {
            icmpkit_lab::report_skip(test, &"no raw ICMP socket (needs CAP_NET_RAW)");
            return None;
        }
        Some(sockets)
    }

    #[tokio::test]
    async fn a_probe_that_waited_for_a_pooled_socket_still_ends_within_its_timeout() {
        let test = "a_probe_that_waited_for_a_pooled_socket_still_ends_within_its_timeout";
        let Some(sockets) = raw_pool(test, 1) else {
            return;
        };
        // Loopback answers every request: 20 at 100 ms would take 2 s, so
        // the ping runs until the probe's time is up.
        let module = Module {
            preferred: Family::V4,
            fallback: false,
            packets: 20,
            interval: Duration::from_millis(100),
            ..Module::default()
        };
        let timeout = Duration::from_millis(1000);
        // Another probe holds the pool's only socket for 600 ms.
        let held = lend(&sockets, Family::V4, &module, timeout)
            .await
            .unwrap()
            .expect("a pooled socket");
        let holder = async move {
            tokio::time::sleep(Duration::from_millis(600)).await;
            drop(held);
        };
        let started = Instant::now();
        let mut registry = Registry::default();
        let probing = probe(
            "127.0.0.1",
            &module,
            timeout,
            &sockets,
            Privilege::Privileged,
            &mut registry,
            |_, _| {},
        );
        let ((), answered) = tokio::join!(holder, probing);
        let took = started.elapsed();
        assert!(answered, "loopback answers");
        assert!(
            took < timeout + Duration::from_millis(150),
            "the probe took {took:?}, its timeout is {timeout:?}"
        );
    }
}

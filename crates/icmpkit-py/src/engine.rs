//! Every call into the `icmpkit` library lives here, so a change of the
//! library's API touches one file of the binding. Options are built by field
//! assignment on `Default` values (never struct literals): the library's
//! option structs may gain fields.
//!
//! What this file returns is plain Rust data (addresses, counts, RTTs in
//! milliseconds); `lib.rs` turns it into Python objects and errors.

// Field assignment on defaults is deliberate: struct literals break when the
// library's option structs become `#[non_exhaustive]`.
#![allow(clippy::field_reassign_with_default)]

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use icmpkit::Result;
use icmpkit::ping::{PingEvent, PingOptions, Pinger};
use icmpkit::resolve::{Target, resolve};
use icmpkit::socket::{Family, IcmpSocket, Privilege, SocketOptions};
use icmpkit::sweep::{Schedule, SweepEvent, SweepOptions, Sweeper, TargetSpec};
use icmpkit::trace::{ReplyKind, TraceOptions, traceroute};

pub use icmpkit::Error;

/// What icmplib's `Host` is built from: the address pinged, requests sent,
/// and the RTT (ms) of each answered request in sequence order.
#[derive(Debug, Clone)]
pub struct HostStats {
    pub address: String,
    pub packets_sent: u64,
    pub rtts_ms: Vec<f64>,
}

/// What icmplib's `Hop` is built from.
#[derive(Debug, Clone)]
pub struct HopStats {
    pub distance: u8,
    pub host: HostStats,
}

/// The options icmplib's `ping`, `multiping` and `traceroute` share.
#[derive(Debug, Clone, Default)]
pub struct Common {
    pub count: u64,
    pub interval: Duration,
    pub timeout: Duration,
    pub id: Option<u16>,
    pub source: Option<IpAddr>,
    pub family: Option<Family>,
    pub privilege: Privilege,
    pub payload: Option<Vec<u8>>,
    pub payload_size: usize,
    pub ttl: Option<u8>,
    pub traffic_class: Option<u8>,
}

impl Common {
    fn socket_options(&self) -> SocketOptions {
        let mut socket = SocketOptions::default();
        socket.source = self.source;
        socket.ttl = self.ttl;
        socket.tos = self.traffic_class;
        socket
    }

    /// The payload's length when one is given (icmplib ignores
    /// `payload_size` then).
    fn data_size(&self) -> usize {
        self.payload.as_ref().map_or(self.payload_size, Vec::len)
    }
}

pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Resolves a name or literal to the one address a ping would use.
pub async fn resolve_one(name: &str, family: Option<Family>) -> Result<IpAddr> {
    Ok(resolve(name, family).await?.address)
}

/// icmplib's `count=0`: resolve and open the socket (so missing privileges
/// raise, as Home Assistant's probe relies on), send nothing.
pub async fn open_only(address: &str, common: &Common) -> Result<HostStats> {
    let target: Target = resolve(address, common.family).await?;
    IcmpSocket::open(target.family(), common.privilege, &common.socket_options())?;
    Ok(HostStats {
        address: target.address.to_string(),
        packets_sent: 0,
        rtts_ms: Vec::new(),
    })
}

/// Pings one host. RTTs are those icmplib would count: the first reply to
/// each request within its timeout (no duplicates, no late replies), in
/// sequence order.
pub async fn ping(address: &str, common: &Common) -> Result<HostStats> {
    if common.count == 0 {
        return open_only(address, common).await;
    }
    let mut opts = PingOptions::default();
    opts.timing.count = Some(common.count);
    opts.timing.interval = common.interval;
    opts.timing.timeout = common.timeout;
    opts.payload_size = common.data_size();
    opts.pattern = common.payload.clone().unwrap_or_default();
    opts.socket = common.socket_options();
    opts.privilege = common.privilege;
    opts.family = common.family;
    opts.id = common.id;
    let mut pinger = Pinger::start(address, &opts).await?;
    let mut answered: BTreeMap<u16, f64> = BTreeMap::new();
    let mut sent = 0u64;
    while let Some(event) = pinger.next_event().await {
        match event {
            PingEvent::Sent { .. } => sent += 1,
            PingEvent::Reply {
                sequence,
                rtt: Some(rtt),
                duplicate: false,
                late: false,
                ..
            } => {
                answered.entry(sequence).or_insert(millis(rtt));
            }
            _ => {}
        }
    }
    Ok(HostStats {
        address: pinger.target().address.to_string(),
        packets_sent: sent,
        rtts_ms: answered.into_values().collect(),
    })
}

/// Pings every address at once on the sweep engine (one socket per
/// family), one result per address in input order.
pub async fn multiping(addresses: &[String], common: &Common) -> Result<Vec<HostStats>> {
    let specs = addresses
        .iter()
        .map(|a| a.parse())
        .collect::<Result<Vec<TargetSpec>>>()?;
    let mut opts = SweepOptions::default();
    let mut schedule = Schedule::default();
    schedule.count = u32::try_from(common.count.max(1))
        .map_err(|_| Error::InvalidOption("count is too large".into()))?;
    // icmplib sends each request once: no retries.
    schedule.retries = 0;
    schedule.timeout = common.timeout;
    schedule.period = common.interval;
    opts.schedule = schedule;
    opts.payload_size = common.data_size();
    opts.family = common.family;
    opts.privilege = common.privilege;
    opts.socket = common.socket_options();
    opts.id = common.id;
    let (mut sweeper, name_errors) = Sweeper::start(&specs, &opts).await?;
    if let Some(failure) = name_errors.into_iter().next() {
        return Err(failure.error);
    }
    let mut results = Vec::new();
    while let Some(event) = sweeper.next_event().await {
        if let SweepEvent::Host(host) = event {
            results.push(host);
        }
    }
    results.sort_by_key(|h| h.index);
    Ok(results
        .into_iter()
        .map(|h| HostStats {
            address: h.report.address.to_string(),
            packets_sent: h.report.packets_sent,
            rtts_ms: h.probe_rtts.into_iter().flatten().map(millis).collect(),
        })
        .collect())
}

/// The trace-only options of icmplib's `traceroute`.
#[derive(Debug, Clone, Copy)]
pub struct TracePlan {
    pub first_hop: u8,
    pub max_hops: u8,
    pub fast: bool,
}

/// Traces the path; hops that answered, up to the destination or the first
/// hop that answered with an error other than time exceeded (where
/// traceroute(8) stops too).
pub async fn trace(address: &str, common: &Common, plan: TracePlan) -> Result<Vec<HopStats>> {
    let mut opts = TraceOptions::default();
    opts.plan.first_ttl = plan.first_hop;
    opts.plan.max_ttl = plan.max_hops;
    opts.plan.queries = u16::try_from(common.count)
        .map_err(|_| Error::InvalidOption("count is too large".into()))?;
    opts.plan.wait = common.timeout;
    opts.plan.send_interval = common.interval;
    opts.plan.fast = plan.fast;
    opts.privilege = common.privilege;
    opts.family = common.family;
    opts.data_size = common.data_size();
    opts.socket = common.socket_options();
    let hops = traceroute(address, &opts).await?;
    let mut answered = Vec::new();
    for hop in hops {
        let Some(responder) = hop.address else {
            continue;
        };
        let last = hop.reached
            || hop.probes.iter().any(|p| {
                p.reply
                    .as_ref()
                    .is_some_and(|r| r.kind != ReplyKind::TimeExceeded)
            });
        answered.push(HopStats {
            distance: hop.distance,
            host: HostStats {
                address: responder.to_string(),
                packets_sent: hop.packets_sent as u64,
                rtts_ms: hop.rtts.iter().copied().map(millis).collect(),
            },
        });
        if last {
            break;
        }
    }
    Ok(answered)
}

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
    /// `base` (a command's default socket options) with the caller's
    /// source, TTL and traffic class.
    fn socket_options(&self, mut socket: SocketOptions) -> SocketOptions {
        socket.source = self.source;
        socket.ttl = self.ttl;
        socket.tos = self.traffic_class;
        socket
    }

    /// Socket options of one ping. Every raw socket gets a copy of every
    /// echo reply of the host: with hundreds of pings at once (asyncio
    /// gather) the default buffer overflows before the shared runtime
    /// drains it.
    fn ping_socket_options(&self) -> SocketOptions {
        let mut socket = SocketOptions::default();
        socket.recv_buffer = Some(RECV_BUFFER);
        self.socket_options(socket)
    }

    /// The payload's length when one is given (icmplib ignores
    /// `payload_size` then).
    fn data_size(&self) -> usize {
        self.payload.as_ref().map_or(self.payload_size, Vec::len)
    }
}

/// Receive buffer asked for per socket (the kernel caps it at rmem_max).
const RECV_BUFFER: usize = 1 << 20;

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
    IcmpSocket::open(
        target.family(),
        common.privilege,
        &common.ping_socket_options(),
    )?;
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
    opts.socket = common.ping_socket_options();
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
    schedule.count = count_within(common.count.max(1))?;
    // icmplib sends each request once: no retries.
    schedule.retries = 0;
    schedule.timeout = common.timeout;
    schedule.period = common.interval;
    // icmplib sends as fast as its tasks go, with no rate limit: so does
    // multiping here (the sweep's 10,000/s default would make 4,096 hosts
    // take 0.4 s more than their timeout).
    schedule.rate = 0;
    opts.schedule = schedule;
    opts.payload_size = common.data_size();
    opts.family = common.family;
    opts.privilege = common.privilege;
    opts.socket = common.socket_options(opts.socket.clone());
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
    opts.plan.queries = count_within(common.count)?;
    opts.plan.wait = common.timeout;
    opts.plan.send_interval = common.interval;
    opts.plan.fast = plan.fast;
    opts.privilege = common.privilege;
    opts.family = common.family;
    opts.data_size = common.data_size();
    opts.socket = common.socket_options(opts.socket.clone());
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

/// What icmplib's `ICMPReply` is built from: a message a socket received
/// for an echo request (its reply, or an ICMP error quoting it).
#[derive(Debug, Clone)]
pub struct Message {
    pub source: IpAddr,
    pub icmp_type: u8,
    pub code: u8,
    /// The echo id and sequence of the reply, or of the request an error
    /// quotes; `None` for messages about nothing we sent.
    pub echo: Option<(u16, u16)>,
    /// ICMP bytes (header + data).
    pub bytes: usize,
    /// Reply TTL / hop limit, when the socket reports it.
    pub ttl: Option<u8>,
    /// Arrival time, seconds since the UNIX epoch: the kernel's receive
    /// stamp when there is one (so an RTT never includes our scheduling).
    pub time: f64,
}

/// An ICMP socket for icmplib's socket-level API (`ICMPv4Socket`...).
#[derive(Debug)]
pub struct Socket {
    inner: IcmpSocket,
    buffer: Vec<u8>,
}

/// Largest message kept whole (icmplib truncates at 1024 bytes).
const SOCKET_BUFFER: usize = 65_536;

fn realtime_now() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

impl Socket {
    /// Opens a raw, datagram or (`Auto`) either socket bound to `source`.
    pub fn open(family: Family, privilege: Privilege, source: Option<IpAddr>) -> Result<Socket> {
        let mut opts = SocketOptions::default();
        opts.source = source;
        Ok(Socket {
            inner: IcmpSocket::open(family, privilege, &opts)?,
            buffer: vec![0; SOCKET_BUFFER],
        })
    }

    pub fn family(&self) -> Family {
        self.inner.family()
    }

    /// Whether this is a raw socket (icmplib's `is_privileged`).
    pub fn is_raw(&self) -> bool {
        self.inner.kind() == icmpkit::socket::SocketKind::Raw
    }

    pub fn raw_fd(&self) -> i32 {
        use std::os::fd::AsRawFd;
        self.inner.as_raw_fd()
    }

    /// Sends an echo request with this TTL and traffic class; returns the
    /// send time (seconds since the epoch) and the echo id that left (the
    /// kernel's own on datagram sockets).
    pub fn send_echo(
        &self,
        destination: IpAddr,
        id: u16,
        sequence: u16,
        payload: &[u8],
        ttl: u8,
        traffic_class: u8,
    ) -> std::io::Result<(f64, u16)> {
        let mut message = Vec::new();
        icmpkit::unstable::echo_request(self.family(), id, sequence, payload, &mut message);
        self.inner.set_ttl(ttl)?;
        self.inner.set_tos(traffic_class)?;
        let sent = self.inner.send_to(&message, destination)?;
        Ok((
            sent.realtime.as_secs_f64(),
            self.inner.echo_id().unwrap_or(id),
        ))
    }

    /// Waits at most `wait` for one message (a reply, or on datagram
    /// sockets an error from the error queue); `None` if nothing came.
    pub fn receive(&mut self, wait: Duration) -> std::io::Result<Option<Message>> {
        let ready = self.inner.wait(Some(wait))?;
        if ready.error && self.is_raw() {
            // A raw socket also reads the error itself, whole (with the
            // quoted IP header): the queue's copy is dropped.
            self.inner.recv_error(&mut self.buffer)?;
            if !ready.readable {
                return Ok(None);
            }
        } else if ready.error {
            if let Some(queued) = self.inner.recv_error(&mut self.buffer)? {
                let quoted = self
                    .buffer
                    .get(..queued.len)
                    .and_then(|own| icmpkit::unstable::parse_own_request(self.family(), own));
                if let (Some(source), Some(q)) = (queued.offender, quoted) {
                    return Ok(Some(Message {
                        source,
                        icmp_type: queued.icmp_type,
                        code: queued.icmp_code,
                        echo: Some((q.id, q.sequence)),
                        bytes: queued.len + 8,
                        ttl: None,
                        time: queued
                            .kernel_time
                            .unwrap_or_else(realtime_now)
                            .as_secs_f64(),
                    }));
                }
            }
            return Ok(None);
        }
        if !ready.readable {
            return Ok(None);
        }
        let received = self.inner.recv(&mut self.buffer)?;
        let icmp = &self.buffer[received.icmp.clone()];
        let (icmp_type, code) = (icmp.first().copied(), icmp.get(1).copied());
        let (Some(icmp_type), Some(code)) = (icmp_type, code) else {
            return Ok(None);
        };
        let echo = match icmpkit::unstable::classify(self.family(), icmp) {
            icmpkit::unstable::Incoming::EchoReply { id, sequence, .. } => Some((id, sequence)),
            icmpkit::unstable::Incoming::Error { quoted, .. } => Some((quoted.id, quoted.sequence)),
            // A bad checksum: the message is shown as received, as a raw
            // socket would, but it answers nothing.
            icmpkit::unstable::Incoming::Corrupted | icmpkit::unstable::Incoming::Other => None,
        };
        Ok(Some(Message {
            source: received.source,
            icmp_type,
            code,
            echo,
            bytes: icmp.len(),
            ttl: received.ttl,
            time: received
                .kernel_time
                .unwrap_or_else(realtime_now)
                .as_secs_f64(),
        }))
    }
}

/// A destination for a socket's send: an IP literal, or a name resolved
/// as `ping` would (icmplib's send resolves too).
pub fn destination(name: &str, family: Family) -> Result<IpAddr> {
    Ok(icmpkit::resolve::resolve_blocking(name, Some(family))?.address)
}

/// `count` as the engine's narrower integer (`u32` probes per target, `u16`
/// probes per hop), refused by range when it does not fit.
fn count_within<T: TryFrom<u64> + Into<u64> + num_max::Max>(count: u64) -> Result<T> {
    T::try_from(count).map_err(|_| {
        Error::invalid(
            "count",
            icmpkit::InvalidReason::Between {
                min: 1,
                max: T::MAX.into(),
                got: Some(count),
            },
        )
    })
}

mod num_max {
    /// The largest value of an unsigned integer type.
    pub trait Max {
        const MAX: Self;
    }
    impl Max for u16 {
        const MAX: u16 = u16::MAX;
    }
    impl Max for u32 {
        const MAX: u32 = u32::MAX;
    }
}

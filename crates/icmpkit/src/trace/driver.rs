//! Trace's entry points: [`Tracer`] (the streaming API), [`traceroute`]
//! and [`traceroute_blocking`]. They open the socket set of the chosen
//! probe transport and privilege; the I/O is the generic driver's, the
//! framing and matching the pure protocol's (`protocol.rs`), the books the
//! [`Session`]'s. Reverse names are looked up in tasks beside the driver
//! and given back to the protocol.

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use icmpkit_wire::Family;

use crate::driver::{Driver, Protocol, StopHandle, TransportCounters};
use crate::engine::stamp::StampKey;
use crate::resolve::{Target, ToTarget, resolve};
use crate::socket::{
    AsyncIcmpSocket, AsyncRawTcpSocket, AsyncTransportSocket, IcmpSocket, PmtuDisc, Privilege,
    RawTcpSocket, SocketKind, TransportKind, TransportSocket, route_source,
};
use crate::{Error, Result};

use super::dns::{NamingHop, ReverseNames};
use super::options::{TraceOptions, unprivileged_tcp_mtu};
use super::probe::{Matcher, ProbeProtocol};
use super::protocol::{Framing, TraceProtocol, TraceSetup};
use super::report::{Hop, TraceEvent};
use super::session::{Plan, Session};
use super::transport::{Connects, ProbeSockets, TraceTransport};

/// Receive buffer of the ICMP socket with path-MTU discovery.
const PMTU_RECV_BUFFER: usize = 4 << 20;
/// Largest packet read whole.
const RECV_LEN: usize = 65_536;

/// Default UDP destination port (traceroute's base port).
pub const DEFAULT_UDP_PORT: u16 = 33434;
/// Default TCP destination port.
pub const DEFAULT_TCP_PORT: u16 = 80;

/// The raw TCP sender and what its probes need.
#[derive(Debug)]
struct RawTcp {
    socket: Arc<AsyncRawTcpSocket>,
    source: IpAddr,
    sequence_base: u32,
    /// Bound (not listening) TCP sockets holding each flow's source port,
    /// so no other socket of the host takes it while the trace runs. The
    /// kernel still answers the destination's SYN-ACKs with resets, as for
    /// `traceroute -T`: nothing here accepts them.
    reserved: Vec<TransportSocket>,
}

/// Unprivileged TCP (`connect()`) probes in flight at most (see
/// [`Tracer::with_target`]).
const CONNECT_IN_FLIGHT: usize = 4;

/// A trace in progress: pull [`TraceEvent`]s with [`Tracer::next_event`]
/// (the streaming API; [`Tracer`] is also a `futures_core::Stream`), then
/// read [`Tracer::hops`]. It runs on the crate's one probe driver: the
/// trace's pure protocol on the socket set of its probe transport.
#[derive(Debug)]
pub struct Tracer {
    target: Target,
    driver: Driver<TraceProtocol, TraceTransport>,
    kind: SocketKind,
    names: Option<ReverseNames>,
    /// What the driver gave out behind a hop whose responders are being
    /// named, in order. The probing goes on meanwhile (each hop's lookups
    /// start when it is taken: a slow name server costs the longest lookup,
    /// not one per hop). It lives here, not in a `next_event` future, so a
    /// call dropped while the lookups run loses nothing.
    held: VecDeque<Held>,
}

/// One event held back so that events come out in order.
#[derive(Debug)]
enum Held {
    /// A hop being named.
    Naming(NamingHop),
    /// Any other event, or the end (`None`).
    Event(Option<TraceEvent>),
}

impl Tracer {
    /// Resolves `target` and opens the sockets (needs a tokio runtime).
    pub async fn start(target: impl ToTarget, opts: &TraceOptions) -> Result<Tracer> {
        let target = resolve(&target.target_text(), opts.family).await?;
        Tracer::with_target(target, opts)
    }

    /// Opens the sockets for an already resolved target.
    pub fn with_target(target: Target, opts: &TraceOptions) -> Result<Tracer> {
        opts.validate()?;
        let family = target.family();
        let port = opts.port.unwrap_or(match opts.protocol {
            ProbeProtocol::Tcp => DEFAULT_TCP_PORT,
            _ => DEFAULT_UDP_PORT,
        });
        let (icmp, kind) = open_icmp(family, opts)?;
        let mut plan = opts.plan.clone();
        if opts.protocol == ProbeProtocol::Tcp && icmp.is_none() {
            // Unprivileged TCP probes are full connections: every probe at
            // or past the destination's distance opens one to the service.
            // With all TTLs in flight at once that was 30 connections per
            // trace (a small accept backlog dropped SYNs and their retries
            // came a second late); a few at a time, the destination
            // answers before many go past it.
            plan.in_flight = plan.in_flight.min(CONNECT_IN_FLIGHT);
        }
        let session = Session::new(plan)?;
        if opts.plan.path_mtu.is_some()
            && opts.protocol == ProbeProtocol::Tcp
            && kind != SocketKind::Raw
        {
            return Err(unprivileged_tcp_mtu());
        }
        let echo_id = match (&icmp, kind) {
            (Some(s), SocketKind::Datagram) => s.echo_id().unwrap_or(0),
            _ => crate::engine::random::random(),
        };
        let mut destination = target.socket_addr();
        destination.set_port(port);
        let opened = open_probe_sockets(family, destination, icmp, opts)?;
        let matcher = Matcher {
            family,
            target: target.address,
            protocol: opts.protocol,
            echo_id,
            dst_port: port,
            flow_ports: opened.flow_ports,
            tcp_sequence_base: match opened.framing {
                Framing::RawTcp { sequence_base, .. } => Some(sequence_base),
                _ => None,
            },
        };
        let setup = TraceSetup {
            matcher,
            framing: opened.framing,
            destination,
            scope_id: target.scope_id,
            data_size: opts.data_size,
            stamp_key: StampKey::random(),
            datagram: kind == SocketKind::Datagram,
        };
        let protocol = TraceProtocol::new(session, setup);
        let transport = TraceTransport::new(opened.sockets);
        Ok(Tracer {
            names: opts
                .resolve_names
                .then(|| ReverseNames::new(opts.dns_timeout)),
            target,
            driver: Driver::new(protocol, transport, RECV_LEN),
            kind,
            held: VecDeque::new(),
        })
    }

    /// The resolved target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The ICMP socket's kind: raw, or datagram (unprivileged). For UDP and
    /// TCP probes, raw means a raw listener sees the errors (with their
    /// extensions), and TCP SYNs are built and sent on a raw TCP socket
    /// (one source port per flow: Paris-stable); datagram means the errors
    /// come from the error queues and each TCP probe is a `connect()`.
    pub fn socket_kind(&self) -> SocketKind {
        self.kind
    }

    /// Path-MTU discovery: the path MTU to the destination (or the last
    /// hop) as known so far, tracepath's `Resume: pmtu`.
    pub fn path_mtu(&self) -> Option<u32> {
        self.driver.protocol().session().path_mtu()
    }

    /// ICMPv4 messages received with a bad checksum so far (damaged on
    /// their way): dropped, never taken as a hop's answer. Always 0 for
    /// IPv6 and datagram sockets, where the kernel verifies checksums.
    pub fn corrupted(&self) -> u64 {
        self.driver.protocol().corrupted()
    }

    /// What the driver counted on the trace's sockets: receive errors
    /// (counted, logged and read past) and sends that waited for room.
    pub fn transport_counters(&self) -> TransportCounters {
        self.driver.counters()
    }

    /// Ends the trace at the next step; unanswered probes count as lost.
    pub fn stop(&mut self) {
        self.driver.protocol_mut().stop();
    }

    /// A handle that stops the trace from another task or thread (as
    /// [`Tracer::stop`]); its event stream then ends.
    pub fn stop_handle(&self) -> StopHandle {
        self.driver.stop_handle()
    }

    /// Starts `plan`'s rounds on the same sockets once this run is over
    /// (its stream ended): the live trace goes on without reopening them,
    /// so raw sockets keep working after privileges are dropped.
    pub(super) fn renew(&mut self, plan: Plan) -> Result<()> {
        let session = Session::new(plan)?;
        self.driver.protocol_mut().renew(session);
        Ok(())
    }

    /// Changes the time between round starts from the next round on.
    pub(super) fn set_round_interval(&mut self, interval: std::time::Duration) {
        self.driver
            .protocol_mut()
            .session_mut()
            .set_round_interval(interval);
    }

    /// The hops complete so far, in order.
    pub fn hops(&self) -> Vec<Hop> {
        self.driver.protocol().session().hops().to_vec()
    }

    /// The next event, or `None` when the trace is over. Cancel-safe: if
    /// the future is dropped, nothing is lost, not even a hop waiting for
    /// its reverse names (the next call yields it, the lookups going on
    /// meanwhile).
    pub async fn next_event(&mut self) -> Option<TraceEvent> {
        std::future::poll_fn(|cx| self.poll_event(cx)).await
    }

    /// Polls for the next event (the `Stream` form of
    /// [`Tracer::next_event`]).
    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<TraceEvent>> {
        loop {
            if let Some(event) = self.take_held(cx) {
                return Poll::Ready(event);
            }
            if matches!(self.held.back(), Some(Held::Event(None))) {
                // The driver is done: only the hops being named are left.
                return Poll::Pending;
            }
            let event = std::task::ready!(self.driver.poll_event(cx));
            match (event, &self.names) {
                // Yielded once named, in its turn.
                (Some(TraceEvent::Hop(hop)), Some(names)) => {
                    self.held.push_back(Held::Naming(names.start(hop)));
                }
                (other, _) if self.held.is_empty() => return Poll::Ready(other),
                (other, _) => self.held.push_back(Held::Event(other)),
            }
        }
    }

    /// The first held event if it may go out (a hop: once its lookups are
    /// over, the hop then also given to the protocol named).
    fn take_held(&mut self, cx: &mut Context<'_>) -> Option<Option<TraceEvent>> {
        if let Held::Naming(naming) = self.held.front_mut()? {
            let names = self.names.as_mut()?;
            if naming.poll_wait(names, cx).is_pending() {
                return None;
            }
        }
        match self.held.pop_front()? {
            Held::Event(event) => Some(event),
            Held::Naming(naming) => {
                let names = self.names.as_ref()?;
                let hop = naming.finish(names);
                self.driver.protocol_mut().name_hop(hop.clone());
                Some(Some(TraceEvent::Hop(hop)))
            }
        }
    }
}

impl futures_core::Stream for Tracer {
    type Item = TraceEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<TraceEvent>> {
        self.get_mut().poll_event(cx)
    }
}

/// The probe transport's sockets, and what framing and matching need of
/// them.
struct OpenedSockets {
    sockets: ProbeSockets,
    framing: Framing,
    /// UDP: each flow socket's port; raw TCP: each flow's reserved port.
    flow_ports: Vec<u16>,
}

/// Opens the sockets of `opts.protocol`'s probe transport (`icmp`: the
/// ICMP socket already opened, probe socket or raw listener).
fn open_probe_sockets(
    family: Family,
    destination: SocketAddr,
    icmp: Option<Arc<AsyncIcmpSocket>>,
    opts: &TraceOptions,
) -> Result<OpenedSockets> {
    match (opts.protocol, icmp) {
        (ProbeProtocol::Icmp, Some(socket)) => Ok(OpenedSockets {
            sockets: ProbeSockets::Icmp(socket),
            framing: Framing::Icmp,
            flow_ports: Vec::new(),
        }),
        (ProbeProtocol::Icmp, None) => Err(Error::SocketUnavailable {
            context: "opening the ICMP probe socket".into(),
            source: io::Error::other("no ICMP socket"),
        }),
        (ProbeProtocol::Udp, listener) => {
            let flows = open_udp_flows(family, opts)?;
            let flow_ports = flows
                .iter()
                .map(|s| s.get_ref().local_addr().map(|a| a.port()))
                .collect::<io::Result<Vec<_>>>()
                .map_err(|source| Error::SocketUnavailable {
                    context: "reading a UDP probe socket's port".into(),
                    source,
                })?;
            Ok(OpenedSockets {
                sockets: ProbeSockets::Udp {
                    flows,
                    listener,
                    port: destination.port(),
                },
                framing: Framing::Udp,
                flow_ports,
            })
        }
        (ProbeProtocol::Tcp, Some(listener)) => {
            let raw = open_raw_tcp(family, destination, opts)?;
            let flow_ports = raw
                .reserved
                .iter()
                .map(|s| s.local_addr().map(|a| a.port()))
                .collect::<io::Result<Vec<_>>>()
                .map_err(|source| Error::SocketUnavailable {
                    context: "reading a reserved TCP port".into(),
                    source,
                })?;
            Ok(OpenedSockets {
                sockets: ProbeSockets::RawTcp {
                    sender: raw.socket,
                    listener,
                    reserved: raw.reserved,
                },
                framing: Framing::RawTcp {
                    source: raw.source,
                    sequence_base: raw.sequence_base,
                },
                flow_ports,
            })
        }
        (ProbeProtocol::Tcp, None) => {
            let flow_ports = (0..opts.plan.flows)
                .map(|_| free_tcp_port(family, opts.socket.source))
                .collect::<Result<Vec<_>>>()?;
            Ok(OpenedSockets {
                sockets: ProbeSockets::TcpConnect(Connects::new(
                    family,
                    destination.port(),
                    flow_ports,
                )),
                framing: Framing::TcpConnect,
                // Unprivileged probes are told apart by their socket.
                flow_ports: Vec::new(),
            })
        }
    }
}

/// One UDP socket per flow (its port is the flow), DF set with path-MTU
/// discovery.
fn open_udp_flows(family: Family, opts: &TraceOptions) -> Result<Vec<Arc<AsyncTransportSocket>>> {
    let mut flows = Vec::new();
    for _ in 0..opts.plan.flows {
        let socket = TransportSocket::open(family, TransportKind::Udp, opts.socket.source, 0)?;
        // Path-MTU discovery sets DF (each probe tests its own size); so
        // does a caller's `socket.pmtu` (traceroute -F).
        let pmtu = match opts.plan.path_mtu {
            Some(_) => Some(PmtuDisc::Probe),
            None => opts.socket.pmtu,
        };
        if let Some(pmtu) = pmtu {
            socket
                .set_pmtu_discovery(pmtu)
                .map_err(|source| Error::SocketUnavailable {
                    context: "setting DF on a UDP probe socket".into(),
                    source,
                })?;
        }
        flows.push(Arc::new(AsyncTransportSocket::register(socket)?));
    }
    Ok(flows)
}

/// Opens the ICMP socket: the probe socket for ICMP, the raw listener for
/// UDP/TCP (none when unprivileged).
fn open_icmp(
    family: Family,
    opts: &TraceOptions,
) -> Result<(Option<Arc<AsyncIcmpSocket>>, SocketKind)> {
    let mut socket_opts = opts.socket.clone();
    socket_opts.ttl = None;
    if opts.plan.path_mtu.is_some() {
        // DF set, and the interface MTU, not the one the kernel learnt,
        // bounds a send: each probe tests its own size (tracepath).
        socket_opts.pmtu = Some(PmtuDisc::Probe);
    }
    let attempt = |privilege| IcmpSocket::open(family, privilege, &socket_opts);
    let socket = match (opts.protocol, opts.privilege) {
        (ProbeProtocol::Icmp, privilege) => attempt(privilege),
        // UDP/TCP probes always work unprivileged (plain UDP sockets, TCP
        // connects): datagram-first means no raw listener.
        (_, Privilege::Unprivileged | Privilege::Auto) => return Ok((None, SocketKind::Datagram)),
        (_, Privilege::Privileged) => attempt(Privilege::Privileged),
        (_, Privilege::PreferRaw) => match attempt(Privilege::Privileged) {
            Err(Error::Permission(_)) => return Ok((None, SocketKind::Datagram)),
            other => other,
        },
    }?;
    let kind = socket.kind();
    if opts.plan.path_mtu.is_some() {
        // Answers to large probes quote them (ICMPv6: up to 1232 bytes
        // each), and a whole trace of them arrives at once: room for them
        // where allowed (`CAP_NET_ADMIN`); the default buffer otherwise.
        let _ = socket.set_recv_buffer_force(PMTU_RECV_BUFFER);
    }
    let socket = AsyncIcmpSocket::register(socket)?;
    Ok((Some(Arc::new(socket)), kind))
}

/// Opens the raw TCP sender for probes to `destination`: DF set with
/// path-MTU discovery, the source address the route picks (for the
/// checksum), one reserved source port per flow.
fn open_raw_tcp(family: Family, destination: SocketAddr, opts: &TraceOptions) -> Result<RawTcp> {
    let mut socket_opts = opts.socket.clone();
    socket_opts.ttl = None;
    if opts.plan.path_mtu.is_some() {
        socket_opts.pmtu = Some(PmtuDisc::Probe);
    }
    let socket = RawTcpSocket::open(family, &socket_opts)?;
    socket
        .accept_only_from_port(destination.port())
        .map_err(|source| Error::SocketUnavailable {
            context: "filtering the raw TCP socket to the probed port".into(),
            source,
        })?;
    let source = route_source(destination, &socket_opts)?;
    let reserved = (0..opts.plan.flows)
        .map(|_| TransportSocket::open(family, TransportKind::Tcp, opts.socket.source, 0))
        .collect::<Result<Vec<_>>>()?;
    let socket = AsyncRawTcpSocket::register(socket)?;
    Ok(RawTcp {
        socket: Arc::new(socket),
        source,
        sequence_base: crate::engine::random::random(),
        reserved,
    })
}

/// A local TCP port free right now, for a flow's probes.
fn free_tcp_port(family: Family, source: Option<IpAddr>) -> Result<u16> {
    let socket = TransportSocket::open(family, TransportKind::Tcp, source, 0)?;
    socket
        .local_addr()
        .map(|a| a.port())
        .map_err(|source| Error::SocketUnavailable {
            context: "reading a TCP probe socket's port".into(),
            source,
        })
}

/// Traces the route to `target` and returns its hops (icmplib's
/// `traceroute`): every hop from the first TTL to the destination (or the
/// last TTL), silent ones included.
pub async fn traceroute(target: impl ToTarget, opts: &TraceOptions) -> Result<Vec<Hop>> {
    let mut tracer = Tracer::start(target, opts).await?;
    while tracer.next_event().await.is_some() {}
    Ok(tracer.hops())
}

/// Blocking form of [`traceroute`] (runs its own single-threaded runtime).
pub fn traceroute_blocking(target: impl ToTarget, opts: &TraceOptions) -> Result<Vec<Hop>> {
    crate::blocking::run(traceroute(target, opts))
}

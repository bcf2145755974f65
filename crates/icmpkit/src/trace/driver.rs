//! The I/O of a trace: opens the sockets for the chosen protocol and
//! privilege, sends what the [`Session`] says, and turns what the sockets
//! deliver (raw ICMP messages, error-queue entries, TCP segments read raw
//! or TCP connection results) into answers for it. Each socket has a
//! reader task; they all feed one channel, so the loop waits on one thing
//! besides its next deadline.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use icmpkit_wire::Family;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::engine::clock::{Timestamp, nanos, round_trip};
use crate::engine::stamp::{ProbeId, STAMP_LEN, StampKey};
use crate::resolve::{Target, ToTarget, resolve};
use crate::socket::{
    AsyncIcmpSocket, AsyncRawTcpSocket, AsyncTransportSocket, ErrorOrigin, IcmpSocket, PmtuDisc,
    Privilege, QueuedError, RawTcpSocket, SocketKind, TransportKind, TransportSocket, route_source,
};
use crate::{Error, Result};

use super::dns::{NamingHop, ReverseNames};
use super::options::{TraceOptions, unprivileged_tcp_mtu};
use super::probe::{self, Matcher, ProbeKey, ProbeProtocol, Response};
use super::report::{Hop, ProbeReply, ReplyKind, TraceEvent};
use super::session::{Next, Session};

/// Receive buffer of the ICMP socket with path-MTU discovery.
const PMTU_RECV_BUFFER: usize = 4 << 20;

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

/// Something a reader task got.
#[derive(Debug)]
struct Arrival {
    response: Response,
    reply_ttl: Option<u8>,
    kernel_time: Option<Duration>,
    received: Timestamp,
}

impl Arrival {
    /// `response`, just read from a socket that said when the kernel got
    /// it and with what TTL.
    fn now(response: Response, reply_ttl: Option<u8>, kernel_time: Option<Duration>) -> Self {
        Arrival {
            response,
            reply_ttl,
            kernel_time,
            received: Timestamp::now(),
        }
    }
}

/// A trace in progress: pull [`TraceEvent`]s with [`Tracer::next_event`]
/// (the streaming API), then read [`Tracer::hops`].
#[derive(Debug)]
pub struct Tracer {
    target: Target,
    session: Session,
    matcher: Arc<Matcher>,
    protocol: ProbeProtocol,
    /// ICMP probes' socket; for UDP/TCP, the raw listener when allowed.
    icmp: Option<Arc<AsyncIcmpSocket>>,
    /// UDP: one socket per flow (its port is the flow).
    udp: Vec<Arc<AsyncTransportSocket>>,
    /// Unprivileged TCP: the probe each local port belongs to.
    tcp_ports: HashMap<u16, u16>,
    /// TCP: one source port per flow, reused by each probe of the flow.
    tcp_flow_ports: Vec<u16>,
    /// Raw TCP probes (privileged): their socket, the source address their
    /// checksum covers, and the sequence number of probe 0.
    raw_tcp: Option<RawTcp>,
    /// Raw TCP: the probe each acknowledgment number answers (a probe's
    /// sequence + 1, and + its payload for a reset to a path-MTU probe).
    tcp_acks: HashMap<u32, u16>,
    kind: SocketKind,
    port: u16,
    data_size: usize,
    stamp_key: StampKey,
    tx: mpsc::UnboundedSender<Arrival>,
    rx: mpsc::UnboundedReceiver<Arrival>,
    tasks: Vec<JoinHandle<()>>,
    events: VecDeque<TraceEvent>,
    names: Option<ReverseNames>,
    /// The hop taken from `events` whose responders are being named: it
    /// lives here, not in a `next_event` future, so a call dropped while
    /// the lookups run loses nothing and the next call yields it.
    naming: Option<NamingHop>,
    send_buf: Vec<u8>,
    /// ICMPv4 messages the raw listener dropped for a bad checksum.
    corrupted: Arc<AtomicU64>,
    done: bool,
}

impl Drop for Tracer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
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
        let session = Session::new(opts.plan.clone())?;
        let family = target.family();
        let discover_mtu = opts.plan.path_mtu.is_some();
        let port = opts.port.unwrap_or(match opts.protocol {
            ProbeProtocol::Tcp => DEFAULT_TCP_PORT,
            _ => DEFAULT_UDP_PORT,
        });
        let (icmp, kind) = open_icmp(family, opts)?;
        if discover_mtu && opts.protocol == ProbeProtocol::Tcp && kind != SocketKind::Raw {
            return Err(unprivileged_tcp_mtu());
        }
        let echo_id = match (&icmp, kind) {
            (Some(s), SocketKind::Datagram) => s.echo_id().unwrap_or(0),
            _ => crate::engine::random::random(),
        };
        let mut udp = Vec::new();
        if opts.protocol == ProbeProtocol::Udp {
            for _ in 0..opts.plan.flows {
                let socket =
                    TransportSocket::open(family, TransportKind::Udp, opts.socket.source, 0)?;
                if discover_mtu {
                    socket
                        .set_pmtu_discovery(PmtuDisc::Probe)
                        .map_err(|source| Error::SocketUnavailable {
                            context: "setting DF on a UDP probe socket".into(),
                            source,
                        })?;
                }
                udp.push(Arc::new(AsyncTransportSocket::register(socket)?));
            }
        }
        let udp_ports = udp
            .iter()
            .map(|s| s.get_ref().local_addr().map(|a| a.port()))
            .collect::<io::Result<Vec<_>>>()
            .map_err(|source| Error::SocketUnavailable {
                context: "reading a UDP probe socket's port".into(),
                source,
            })?;
        let raw_tcp = if opts.protocol == ProbeProtocol::Tcp && kind == SocketKind::Raw {
            let mut destination = target.socket_addr();
            destination.set_port(port);
            Some(open_raw_tcp(family, destination, opts)?)
        } else {
            None
        };
        let tcp_flow_ports = match (&raw_tcp, opts.protocol) {
            (Some(raw), _) => raw
                .reserved
                .iter()
                .map(|s| s.local_addr().map(|a| a.port()))
                .collect::<io::Result<Vec<_>>>()
                .map_err(|source| Error::SocketUnavailable {
                    context: "reading a reserved TCP port".into(),
                    source,
                })?,
            (None, ProbeProtocol::Tcp) => (0..opts.plan.flows)
                .map(|_| free_tcp_port(family, opts.socket.source))
                .collect::<Result<Vec<_>>>()?,
            (None, _) => Vec::new(),
        };
        let flow_ports = if raw_tcp.is_some() {
            tcp_flow_ports.clone()
        } else {
            udp_ports
        };
        let matcher = Arc::new(Matcher {
            family,
            target: target.address,
            protocol: opts.protocol,
            echo_id,
            dst_port: port,
            flow_ports,
            tcp_sequence_base: raw_tcp.as_ref().map(|r| r.sequence_base),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let mut tracer = Tracer {
            names: opts
                .resolve_names
                .then(|| ReverseNames::new(opts.dns_timeout)),
            target,
            session,
            matcher,
            protocol: opts.protocol,
            icmp,
            udp,
            tcp_ports: HashMap::new(),
            tcp_flow_ports,
            raw_tcp,
            tcp_acks: HashMap::new(),
            kind,
            port,
            data_size: opts.data_size,
            stamp_key: StampKey::random(),
            tx,
            rx,
            tasks: Vec::new(),
            events: VecDeque::new(),
            naming: None,
            send_buf: Vec::new(),
            corrupted: Arc::default(),
            done: false,
        };
        tracer.spawn_readers()?;
        Ok(tracer)
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
        self.session.path_mtu()
    }

    /// ICMPv4 messages received with a bad checksum so far (damaged on
    /// their way): dropped, never taken as a hop's answer. Always 0 for
    /// IPv6 and datagram sockets, where the kernel verifies checksums.
    pub fn corrupted(&self) -> u64 {
        self.corrupted.load(Ordering::Relaxed)
    }

    /// Ends the trace at the next step; unanswered probes count as lost.
    pub fn stop(&mut self) {
        self.session.stop();
    }

    /// The hops complete so far, in order.
    pub fn hops(&self) -> Vec<Hop> {
        self.session.hops().to_vec()
    }

    /// The next event, or `None` when the trace is over. Cancel-safe: if
    /// the future is dropped, nothing is lost, not even a hop waiting for
    /// its reverse names (the next call yields it, the lookups going on
    /// meanwhile).
    pub async fn next_event(&mut self) -> Option<TraceEvent> {
        loop {
            if let Some(hop) = self.take_named_hop().await {
                return Some(TraceEvent::Hop(hop));
            }
            if let Some(event) = self.events.pop_front() {
                match (event, &self.names) {
                    // Yielded by the next turn, once named.
                    (TraceEvent::Hop(hop), Some(names)) => self.naming = Some(names.start(hop)),
                    (event, _) => return Some(event),
                }
                continue;
            }
            if self.done {
                return None;
            }
            self.step().await;
        }
    }

    /// The hop being named once its lookups are over (waiting for them),
    /// also stored named; `None` if no hop is being named. Cancel-safe:
    /// the hop leaves `self` only when it is returned.
    async fn take_named_hop(&mut self) -> Option<Hop> {
        let (naming, names) = (self.naming.as_mut()?, self.names.as_mut()?);
        naming.wait(names).await;
        let hop = self.naming.take()?.finish(names);
        if let Some(stored) = self
            .session
            .hops_mut()
            .iter_mut()
            .find(|h| h.distance == hop.distance)
        {
            *stored = hop.clone();
        }
        Some(hop)
    }

    async fn step(&mut self) {
        // Answers that arrived while the caller was away (a slow consumer,
        // reverse DNS) wait in the channel: count them before their probes
        // expire.
        while let Ok(arrival) = self.rx.try_recv() {
            self.on_arrival(arrival);
        }
        let now = Timestamp::now();
        let expired = self.session.expire(now);
        if !expired.is_empty() {
            self.events.extend(expired);
            return;
        }
        match self.session.next(now) {
            Next::Done => self.done = true,
            Next::Send(seq) => self.send(seq),
            Next::WaitUntil(wake_ns) => {
                let wait = Duration::from_nanos(wake_ns.saturating_sub(now.monotonic_ns));
                tokio::select! {
                    arrival = self.rx.recv() => {
                        if let Some(a) = arrival {
                            self.on_arrival(a);
                        }
                        // Take whatever else is already there.
                        while let Ok(a) = self.rx.try_recv() {
                            self.on_arrival(a);
                        }
                    }
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }

    fn on_arrival(&mut self, arrival: Arrival) {
        let seq = match arrival.response.key {
            ProbeKey::Sequence(seq) => seq,
            ProbeKey::TcpPort(port) => match self.tcp_ports.get(&port) {
                Some(&seq) => seq,
                None => return,
            },
            ProbeKey::TcpAck { port, ack } => match self.tcp_acks.get(&ack) {
                Some(&seq)
                    if self
                        .tcp_flow_ports
                        .get(usize::from(self.session.probe(seq).flow))
                        == Some(&port) =>
                {
                    seq
                }
                _ => return,
            },
        };
        let Some(sent) = self.session.sent_at(seq) else {
            return;
        };
        if let Some(data) = &arrival.response.echo_data {
            // Echo replies must carry the stamp we wrote (after the two
            // Paris bytes), when the probe had room for one.
            let id = ProbeId {
                destination: self.target.address,
                id: self.matcher.echo_id,
                sequence: seq,
            };
            if self.data_size >= 2 + STAMP_LEN
                && self.stamp_key.check(&id, data.get(2..).unwrap_or(&[])) != Some(sent)
            {
                return;
            }
        }
        let kernel_ns = arrival.kernel_time.map(nanos);
        let reply = ProbeReply {
            from: arrival.response.from,
            rtt: round_trip(sent, kernel_ns, arrival.received),
            kind: arrival.response.kind,
            annotation: arrival.response.annotation,
            reply_ttl: arrival.reply_ttl,
            extensions: arrival.response.extensions,
        };
        let events = self.session.on_reply(seq, reply);
        self.events.extend(events);
    }

    fn send(&mut self, seq: u16) {
        let spec = self.session.probe(seq);
        let data_size = spec
            .size
            .map_or(self.data_size, |size| self.data_size_for(size));
        let at = Timestamp::now();
        let result = match self.protocol {
            ProbeProtocol::Icmp => self.send_icmp(seq, spec.ttl, spec.flow, data_size, at),
            ProbeProtocol::Udp => self.send_udp(seq, spec.ttl, spec.flow, data_size),
            ProbeProtocol::Tcp if self.raw_tcp.is_some() => {
                self.send_raw_tcp(seq, spec.ttl, spec.flow, spec.size.map_or(0, |_| data_size))
            }
            ProbeProtocol::Tcp => self.send_tcp(seq, spec.ttl, spec.flow),
        };
        let events = match result {
            Ok(()) => {
                self.session.on_sent(seq, at);
                return;
            }
            Err(e) if spec.size.is_some() && e.raw_os_error() == Some(libc::EMSGSIZE) => {
                let mtu = self.take_local_mtu(spec.flow);
                self.session.on_send_too_big(seq, at, mtu, e.to_string())
            }
            Err(e) => self.session.on_send_error(seq, at, e.to_string()),
        };
        self.events.extend(events);
    }

    /// Bytes of probe data that make an IP packet of `size` bytes.
    fn data_size_for(&self, size: u32) -> usize {
        let (ip_header, size) = match self.matcher.family {
            Family::V4 => (20, size),
            // Every IPv6 link carries 1280 bytes (RFC 8200).
            Family::V6 => (40, size.max(1280)),
        };
        match self.protocol {
            ProbeProtocol::Tcp => (size as usize).saturating_sub(ip_header + 20),
            // ICMP echo and UDP headers are both 8 bytes; ICMP needs 2 data
            // bytes for its Paris checksum.
            ProbeProtocol::Icmp | ProbeProtocol::Udp => {
                (size as usize).saturating_sub(ip_header + 8).max(2)
            }
        }
    }

    /// After a send refused with `EMSGSIZE`: the MTU the kernel queued
    /// with its local error (the interface's, under `IP_PMTUDISC_PROBE`).
    /// ICMP errors met on the way are matched as the reader would.
    fn take_local_mtu(&mut self, flow: u16) -> Option<u32> {
        let mut buf = vec![0u8; 65_536];
        let mut mtu = None;
        let mut arrivals = Vec::new();
        let mut take = |q: QueuedError, buf: &[u8]| {
            if q.origin == ErrorOrigin::Local {
                if q.errno == libc::EMSGSIZE && q.info != 0 {
                    mtu = mtu.or(Some(q.info));
                }
            } else if self.kind == SocketKind::Datagram {
                arrivals.extend(queued_arrival(&self.matcher, &q, buf));
            }
        };
        match self.protocol {
            ProbeProtocol::Udp => {
                if let Some(socket) = self.udp.get(usize::from(flow)) {
                    while let Ok(Some(q)) = socket.get_ref().recv_error(&mut buf) {
                        take(q, &buf);
                    }
                }
            }
            ProbeProtocol::Tcp => {
                if let Some(raw) = &self.raw_tcp {
                    while let Ok(Some(q)) = raw.socket.get_ref().recv_error(&mut buf) {
                        take(q, &buf);
                    }
                }
            }
            _ => {
                if let Some(socket) = &self.icmp {
                    while let Ok(Some(q)) = socket.get_ref().recv_error(&mut buf) {
                        take(q, &buf);
                    }
                }
            }
        }
        for arrival in arrivals {
            self.on_arrival(arrival);
        }
        mtu
    }

    fn send_icmp(
        &mut self,
        seq: u16,
        ttl: u8,
        flow: u16,
        data_size: usize,
        at: Timestamp,
    ) -> io::Result<()> {
        let socket = self
            .icmp
            .as_ref()
            .ok_or_else(|| io::Error::other("no ICMP socket"))?;
        let mut data = vec![0u8; data_size];
        let id = ProbeId {
            destination: self.target.address,
            id: self.matcher.echo_id,
            sequence: seq,
        };
        if let Some(stamp) = data.get_mut(2..) {
            self.stamp_key.write(&id, at, stamp);
        }
        probe::paris_echo_request(
            self.matcher.family,
            self.matcher.echo_id,
            seq,
            &data,
            probe::flow_checksum(flow),
            &mut self.send_buf,
        );
        let socket = socket.get_ref();
        socket.set_ttl(ttl)?;
        socket.send_to_scoped(&self.send_buf, self.target.address, self.target.scope_id)?;
        Ok(())
    }

    fn destination(&self) -> SocketAddr {
        let mut addr = self.target.socket_addr();
        addr.set_port(self.port);
        addr
    }

    fn send_udp(&mut self, seq: u16, ttl: u8, flow: u16, data_size: usize) -> io::Result<()> {
        let socket = self
            .udp
            .get(usize::from(flow))
            .ok_or_else(|| io::Error::other("no UDP socket for this flow"))?;
        probe::udp_payload(seq, data_size, &mut self.send_buf);
        let socket = socket.get_ref();
        socket.set_ttl(ttl)?;
        socket.send_to(&self.send_buf, self.destination())?;
        Ok(())
    }

    /// A raw SYN from the flow's reserved port, numbered by its sequence.
    fn send_raw_tcp(&mut self, seq: u16, ttl: u8, flow: u16, payload_len: usize) -> io::Result<()> {
        let raw = self
            .raw_tcp
            .as_ref()
            .ok_or_else(|| io::Error::other("no raw TCP socket"))?;
        let port = *self
            .tcp_flow_ports
            .get(usize::from(flow))
            .ok_or_else(|| io::Error::other("no TCP port for this flow"))?;
        let sequence = probe::tcp_sequence(raw.sequence_base, seq);
        probe::tcp_syn(
            SocketAddr::new(raw.source, port),
            self.destination(),
            sequence,
            payload_len,
            &mut self.send_buf,
        )
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let socket = raw.socket.get_ref();
        socket.set_ttl(ttl)?;
        socket.send_to(&self.send_buf, self.target.address, self.target.scope_id)?;
        // A SYN-ACK acknowledges the SYN alone (data in a SYN is dropped
        // without a Fast Open cookie); a reset acknowledges the data too.
        let ack = sequence.wrapping_add(1);
        self.tcp_acks.insert(ack, seq);
        self.tcp_acks
            .insert(ack.wrapping_add(payload_len as u32), seq);
        Ok(())
    }

    /// An unprivileged TCP probe: a non-blocking `connect()`.
    fn send_tcp(&mut self, seq: u16, ttl: u8, flow: u16) -> io::Result<()> {
        // A flow keeps its source port (Paris) while none of its probes is
        // in flight and the port can be bound and connected again;
        // otherwise the kernel picks one.
        let flow_port = self.tcp_flow_ports.get(usize::from(flow)).copied();
        let busy = |port: u16| {
            self.tcp_ports
                .get(&port)
                .is_some_and(|&s| self.session.sent_at(s).is_some())
        };
        let wanted = flow_port.filter(|&p| !busy(p));
        let (socket, local) = match wanted.map(|port| self.connect_tcp(ttl, port)) {
            Some(Ok(done)) => done,
            _ => self.connect_tcp(ttl, 0)?,
        };
        self.tcp_ports.insert(local, seq);
        let task = tokio::spawn(watch_tcp_probe(
            socket,
            seq,
            Arc::clone(&self.matcher),
            self.kind == SocketKind::Datagram,
            self.tx.clone(),
        ));
        self.tasks.retain(|t| !t.is_finished());
        self.tasks.push(task);
        Ok(())
    }

    /// Opens a TCP probe socket on `port` (0: any) and sends its SYN.
    fn connect_tcp(&self, ttl: u8, port: u16) -> io::Result<(TransportSocket, u16)> {
        let family = self.matcher.family;
        let socket = TransportSocket::open(family, TransportKind::Tcp, None, port)
            .map_err(io::Error::other)?;
        socket.set_ttl(ttl)?;
        let local = socket.local_addr()?.port();
        socket.connect(self.destination())?;
        Ok((socket, local))
    }

    fn spawn_readers(&mut self) -> Result<()> {
        if let Some(icmp) = &self.icmp {
            self.tasks.push(tokio::spawn(read_icmp(
                Arc::clone(icmp),
                Arc::clone(&self.matcher),
                self.tx.clone(),
                Arc::clone(&self.corrupted),
            )));
        }
        if let Some(raw) = &self.raw_tcp {
            self.tasks.push(tokio::spawn(read_raw_tcp(
                Arc::clone(&raw.socket),
                Arc::clone(&self.matcher),
                self.tx.clone(),
            )));
        }
        // With a raw listener, errors are taken from it (it has the
        // extensions); the error queues are then only emptied.
        let use_queue = self.kind == SocketKind::Datagram;
        for socket in &self.udp {
            self.tasks.push(tokio::spawn(read_udp(
                Arc::clone(socket),
                Arc::clone(&self.matcher),
                use_queue,
                self.tx.clone(),
            )));
        }
        Ok(())
    }
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

/// An ICMP error from an error queue as an answer to one of our probes
/// (`buf` holds the start of the datagram it quotes).
fn queued_arrival(matcher: &Matcher, q: &QueuedError, buf: &[u8]) -> Option<Arrival> {
    let from = q.offender.unwrap_or(matcher.target);
    let original = buf.get(..q.len).unwrap_or(&[]);
    let (key, kind, annotation) =
        matcher.queued(q.icmp_type, q.icmp_code, q.info, from, original)?;
    Some(Arrival {
        response: Response {
            key: key?,
            from,
            kind,
            annotation,
            extensions: Vec::new(),
            echo_data: None,
        },
        reply_ttl: None,
        kernel_time: q.kernel_time,
        received: Timestamp::now(),
    })
}

/// Reads the ICMP socket: raw messages (replies and errors, with their
/// extensions) and, on datagram sockets, the error queue.
async fn read_icmp(
    socket: Arc<AsyncIcmpSocket>,
    matcher: Arc<Matcher>,
    tx: mpsc::UnboundedSender<Arrival>,
    corrupted: Arc<AtomicU64>,
) {
    let mut buf = vec![0u8; 65_536];
    let datagram = socket.kind() == SocketKind::Datagram;
    loop {
        let Ok(mut guard) = socket.ready().await else {
            return;
        };
        let inner = guard.get_inner();
        while let Ok(Some(q)) = inner.recv_error(&mut buf) {
            if !datagram || q.origin == ErrorOrigin::Local {
                continue;
            }
            if let Some(arrival) = queued_arrival(&matcher, &q, &buf)
                && tx.send(arrival).is_err()
            {
                return;
            }
        }
        while let Ok(received) = inner.recv(&mut buf) {
            let icmp = buf.get(received.icmp.clone()).unwrap_or(&[]);
            if !matcher.checksum_ok(icmp) {
                corrupted.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(from = %received.source, "ICMP message with a bad checksum dropped");
                continue;
            }
            if let Some(response) = matcher.raw_message(icmp, received.source) {
                if tx
                    .send(Arrival::now(response, received.ttl, received.kernel_time))
                    .is_err()
                {
                    return;
                }
            }
        }
        guard.clear_ready();
    }
}

/// Reads the raw TCP socket: the destination's SYN-ACKs and resets. Its
/// error queue is only emptied (the ICMP listener reads the errors, with
/// their extensions; the driver takes local `EMSGSIZE`s right after the
/// send that caused them).
async fn read_raw_tcp(
    socket: Arc<AsyncRawTcpSocket>,
    matcher: Arc<Matcher>,
    tx: mpsc::UnboundedSender<Arrival>,
) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok(mut guard) = socket.ready().await else {
            return;
        };
        let inner = guard.get_inner();
        while let Ok(Some(_)) = inner.recv_error(&mut buf) {}
        while let Ok(received) = inner.recv(&mut buf) {
            let segment = buf.get(received.segment.clone()).unwrap_or(&[]);
            if let Some(response) = matcher.tcp_segment(segment, received.source) {
                if tx
                    .send(Arrival::now(response, received.ttl, received.kernel_time))
                    .is_err()
                {
                    return;
                }
            }
        }
        guard.clear_ready();
    }
}

/// Reads a UDP probe socket's error queue (time exceeded, port
/// unreachable) and drops any datagram that comes back.
async fn read_udp(
    fd: Arc<AsyncTransportSocket>,
    matcher: Arc<Matcher>,
    use_queue: bool,
    tx: mpsc::UnboundedSender<Arrival>,
) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok(mut guard) = fd.ready().await else {
            return;
        };
        let socket = guard.get_inner();
        while let Ok(Some(q)) = socket.recv_error(&mut buf) {
            if !use_queue || q.origin == ErrorOrigin::Local {
                continue;
            }
            if let Some(arrival) = queued_arrival(&matcher, &q, &buf)
                && tx.send(arrival).is_err()
            {
                return;
            }
        }
        while let Ok(Some(_)) = socket.recv_datagram(&mut buf) {}
        guard.clear_ready();
    }
}

/// Waits for one TCP probe's fate: an ICMP error on its error queue
/// (unprivileged), or the connection answered (SYN-ACK or reset: the
/// destination is reached).
async fn watch_tcp_probe(
    socket: TransportSocket,
    seq: u16,
    matcher: Arc<Matcher>,
    use_queue: bool,
    tx: mpsc::UnboundedSender<Arrival>,
) {
    let Ok(fd) = AsyncTransportSocket::new(socket) else {
        return;
    };
    let mut buf = vec![0u8; 2048];
    loop {
        let Ok(mut guard) = fd.ready().await else {
            return;
        };
        let socket = guard.get_inner();
        let received = Timestamp::now();
        let mut queued = None;
        while let Ok(Some(q)) = socket.recv_error(&mut buf) {
            if q.origin != ErrorOrigin::Local {
                queued = Some(q);
            }
        }
        let error = socket.take_error().ok().flatten();
        let refused = error
            .as_ref()
            .is_some_and(|e| e.raw_os_error() == Some(libc::ECONNREFUSED));
        let response = match queued {
            Some(q) if use_queue => {
                let from = q.offender.unwrap_or(matcher.target);
                matcher
                    .queued(q.icmp_type, q.icmp_code, q.info, from, &[])
                    .map(|(_, kind, annotation)| (from, kind, annotation, q.kernel_time))
            }
            _ if refused || (error.is_none() && socket.is_connected()) => {
                Some((matcher.target, ReplyKind::Reached, None, None))
            }
            // An ICMP error ended the attempt (the raw listener reports
            // it), or the readiness was spurious: watch on only then.
            Some(_) => None,
            None if error.is_some() => None,
            None => {
                guard.clear_ready();
                continue;
            }
        };
        if let Some((from, kind, annotation, kernel_time)) = response {
            let _ = tx.send(Arrival {
                response: Response {
                    key: ProbeKey::Sequence(seq),
                    from,
                    kind,
                    annotation,
                    extensions: Vec::new(),
                    echo_data: None,
                },
                reply_ttl: None,
                kernel_time,
                received,
            });
        }
        return;
    }
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

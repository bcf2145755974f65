//! Sweep's entry points: [`Sweeper`] (the streaming API), [`multiping`]
//! and [`multiping_blocking`]. The I/O loop is the generic driver's
//! ([`crate::driver`]): the sweep's pure protocol (`protocol.rs`, over
//! the session) on its socket set (`transport.rs`: one socket per family,
//! `sendmmsg`/`recvmmsg` batches, the extra sending threads of fast raw
//! sweeps).

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use icmpkit_wire::Family;

use crate::driver::{BoxFuture, Driver, IcmpTransport, Protocol, StopHandle};
use crate::engine::clock::Timestamp;
use crate::engine::stamp::StampKey;
use crate::ping::PingReport;
use crate::resolve::ToTarget;
use crate::socket::netlink::RouteQuery;
use crate::socket::{
    IcmpSocket, PacketSender, PmtuDisc, Privilege, SocketKind, SocketOptions, TypeFilter,
};
use crate::{Error, InvalidReason, Result};

use super::egress::PacketPlan;
use super::frames::{ETHERNET_LEN, FrameSettings};
use super::options::{
    MAX_AUTO_SENDERS, PACKET_MIN_TARGETS, PARALLEL_MIN_RATE, PARALLEL_MIN_TARGETS, SenderKind,
    SweepOptions,
};
use super::protocol::{FamilyRoute, SweepProtocol};
use super::report::{SweepEvent, SweepSummary};
use super::sender::{ExtraSender, FrameMaker, MessageBuilder, Shared};
use super::session::Session;
use super::targets::{NameError, TargetSet, TargetSpec, resolve_targets};
use super::transport::{FamilySocket, SweepTransport, recv_buf_len};

/// Receive buffer asked for by default (root may exceed `rmem_max`).
const RECV_BUFFER: usize = 16 << 20;

/// A sweep in progress: pull events with [`Sweeper::next_event`] or as a
/// `futures_core::Stream` (the streaming API); [`Sweeper::summary`] has
/// the totals. Stop it from elsewhere with [`Sweeper::stop_handle`].
pub struct Sweeper {
    driver: Driver<SweepProtocol, SweepTransport>,
    sender_count: usize,
    seed: u64,
    /// The wait for the sending threads once the driver is done (so the
    /// totals include their last sends); `Some` once started.
    joining: Option<BoxFuture<()>>,
    /// The event stream has ended.
    ended: bool,
}

impl Sweeper {
    /// Resolves `specs` (names that fail are returned
    /// beside the sweeper, which goes on without them) and opens the
    /// sockets.
    pub async fn start(
        specs: &[TargetSpec],
        opts: &SweepOptions,
    ) -> Result<(Sweeper, Vec<NameError>)> {
        let (targets, name_errors) = resolve_targets(specs, &opts.exclude, opts.family).await?;
        Ok((Sweeper::with_targets(targets, opts)?, name_errors))
    }

    /// Opens one socket per family present in `targets` (exclusions in
    /// `opts` are not applied again).
    pub fn with_targets(targets: TargetSet, opts: &SweepOptions) -> Result<Sweeper> {
        opts.validate()?;
        let seed = opts.seed.unwrap_or_else(crate::engine::random::random);
        let mut session = Session::new(
            targets,
            opts.schedule.clone(),
            seed,
            opts.shard,
            StampKey::random(),
        )?;
        let mut sockets = Vec::new();
        let mut routes = [None, None];
        let mut ip_header = None;
        for family in [Family::V4, Family::V6] {
            if !session.targets().has(family) {
                continue;
            }
            // IPv6's larger limit was allowed before the targets were known.
            opts.check_payload(family)?;
            let socket = open(family, opts)?;
            let id = match socket.kind() {
                SocketKind::Datagram => socket.echo_id().unwrap_or(0),
                SocketKind::Raw => opts.id.unwrap_or_else(crate::engine::random::random),
            };
            session.set_id(family, id);
            if family == Family::V4 {
                ip_header = header_template(&socket, opts);
            }
            let datagram = socket.kind() == SocketKind::Datagram;
            routes[usize::from(family == Family::V6)] = Some(FamilyRoute {
                via: sockets.len(),
                datagram,
            });
            sockets.push(FamilySocket {
                transport: IcmpTransport::new(socket)?,
                family,
                datagram,
            });
        }
        let batch = opts.schedule.batch;
        let mut builder = MessageBuilder::new(
            session.shared_targets(),
            opts.payload_size,
            batch,
            ip_header,
        );
        let packet = packet_sender(&session, &sockets, opts)?;
        let thread_count = sender_count(&session, &sockets, opts);
        let shared = Arc::new(Shared::new(session));
        let recv_len = recv_buf_len(opts.payload_size);
        let mut transport = SweepTransport::new(sockets, Arc::clone(&shared), recv_len);
        if let Some((plan, socket)) = packet {
            builder.set_frames(FrameMaker::new(plan));
            transport.set_packet_socket(socket);
        }
        for _ in 1..thread_count {
            transport.add_sender(spawn_sender(&transport, &shared, &builder, opts)?);
        }
        let protocol = SweepProtocol::new(shared, builder, routes, batch);
        Ok(Sweeper {
            driver: Driver::new(protocol, transport, recv_len),
            sender_count: thread_count,
            seed,
            joining: None,
            ended: false,
        })
    }

    /// The seed of the order (pass it back to reproduce it).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The targets.
    pub fn targets(&self) -> &TargetSet {
        self.driver.protocol().builder().targets()
    }

    /// Threads sending probes (1 unless [`SweepOptions::senders`] or a
    /// fast raw sweep asked for more).
    pub fn sender_count(&self) -> usize {
        self.sender_count
    }

    /// What sends the probes: [`SenderKind::Packet`] if the packet sender
    /// is on (some probes may still go through the raw socket, see
    /// [`SweepSummary::fallbacks`]), else [`SenderKind::Raw`].
    pub fn sender_kind(&self) -> SenderKind {
        match self.driver.protocol().builder().frames() {
            Some(_) => SenderKind::Packet,
            None => SenderKind::Raw,
        }
    }

    /// The kind of socket used (raw or datagram), for the first family.
    pub fn socket_kind(&self) -> Option<SocketKind> {
        let sockets = self.driver.transport().sockets();
        sockets.first().map(|s| s.transport.socket().kind())
    }

    /// The totals so far.
    pub fn summary(&self) -> SweepSummary {
        let mut summary = self.session().summary(Timestamp::now());
        let protocol = self.driver.protocol();
        summary.frames_sent = protocol.shared().frames_sent.load(Ordering::Relaxed);
        summary.ring_frames_sent = protocol.shared().ring_frames_sent.load(Ordering::Relaxed);
        if let Some(frames) = protocol.builder().frames() {
            summary.fallbacks = frames.notes();
        }
        summary
    }

    fn session(&self) -> std::sync::MutexGuard<'_, Session> {
        self.driver.protocol().shared().session()
    }

    /// Probes waiting for an answer.
    pub fn in_flight(&self) -> u64 {
        self.session().in_flight()
    }

    /// Receive errors and full-buffer waits the driver met so far.
    pub fn transport_counters(&self) -> crate::TransportCounters {
        self.driver.counters()
    }

    /// A handle that stops this sweep from another task or thread (as
    /// [`Sweeper::stop`]).
    pub fn stop_handle(&self) -> StopHandle {
        self.driver.stop_handle()
    }

    /// Ends the sweep at the next step; targets not finished get no result.
    /// Never blocks: the sender threads are told to stop and left to end
    /// on their own (one may be inside a blocking `sendmmsg`).
    pub fn stop(&mut self) {
        self.driver.protocol_mut().stop();
        self.driver.transport_mut().detach_senders();
    }

    /// Stops sending and waiting (Ctrl-C) but, unlike [`Sweeper::stop`],
    /// still gives out what was learnt: with `count > 1` a
    /// [`SweepEvent::Host`] for every target with the probes sent to it so
    /// far, then `None`. Never blocks.
    pub fn finish_early(&mut self) {
        self.driver.transport_mut().detach_senders();
        self.driver.protocol_mut().finish_early(Timestamp::now());
    }

    /// The next event, or `None` when the sweep is over. Cancel-safe.
    pub async fn next_event(&mut self) -> Option<SweepEvent> {
        std::future::poll_fn(|cx| self.poll_next_event(cx)).await
    }

    /// The next event; once the driver is done, waits for the sending
    /// threads before the end.
    fn poll_next_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<SweepEvent>> {
        if self.ended {
            return Poll::Ready(None);
        }
        if self.joining.is_none() {
            if let Some(event) = std::task::ready!(self.driver.poll_event(cx)) {
                return Poll::Ready(Some(event));
            }
            self.joining = Some(self.driver.transport_mut().join_senders());
        }
        if let Some(joining) = self.joining.as_mut() {
            std::task::ready!(joining.as_mut().poll(cx));
        }
        self.ended = true;
        Poll::Ready(None)
    }
}

impl std::fmt::Debug for Sweeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sweeper")
            .field("driver", &self.driver)
            .field("sender_count", &self.sender_count)
            .field("seed", &self.seed)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl futures_core::Stream for Sweeper {
    type Item = SweepEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<SweepEvent>> {
        self.get_mut().poll_next_event(cx)
    }
}

/// Starts one more sending thread with send-only sockets of its own
/// (raw, receiving no ICMP type, so the kernel hands them no copies).
fn spawn_sender(
    transport: &SweepTransport,
    shared: &Arc<Shared>,
    builder: &MessageBuilder,
    opts: &SweepOptions,
) -> Result<ExtraSender> {
    let mut sockets = Vec::new();
    for s in transport.sockets() {
        let socket_opts = SocketOptions {
            // Receive nothing: the kernel then hands it no copies.
            type_filter: Some(TypeFilter::block_all()),
            ..family_options(s.family, opts)
        };
        let socket = IcmpSocket::open(s.family, Privilege::Privileged, &socket_opts)?;
        if s.family == Family::V4 && builder.has_ip_header() {
            socket
                .set_header_included(true)
                .map_err(|source| Error::SocketUnavailable {
                    context: "including the IP header on a sending socket".into(),
                    source,
                })?;
        }
        sockets.push((s.family, socket));
    }
    // With the packet sender, a blocking packet socket of its own too.
    let packet = match builder.frames() {
        Some(_) => Some(PacketSender::open(
            false,
            BYPASS_QDISC,
            Some(max_frame_len(opts)),
        )?),
        None => None,
    };
    ExtraSender::spawn(Arc::clone(shared), sockets, packet, builder.clone()).map_err(|source| {
        Error::SocketUnavailable {
            context: "starting a sending thread".into(),
            source,
        }
    })
}

/// Whether the packet sender's frames skip the qdisc
/// (`PACKET_QDISC_BYPASS`), as zmap's do.
const BYPASS_QDISC: bool = true;

/// The packet sender's plan and the driver's packet socket, if the sweep
/// uses it ([`SenderKind`]): asked for, or chosen for a large fast sweep
/// on raw sockets. A forced packet sender that cannot be had is an
/// error; a chosen one falls back to the raw socket.
fn packet_sender(
    session: &Session,
    sockets: &[FamilySocket],
    opts: &SweepOptions,
) -> Result<Option<(Arc<PacketPlan>, PacketSender)>> {
    let raw = !sockets.is_empty() && sockets.iter().all(|s| !s.datagram);
    let rate = opts.schedule.rate;
    let fast = rate == 0 || rate >= PARALLEL_MIN_RATE;
    let large = session.targets().len() >= PACKET_MIN_TARGETS;
    match opts.sender {
        SenderKind::Raw => return Ok(None),
        SenderKind::Packet if !raw => {
            return Err(Error::invalid(
                "sender",
                InvalidReason::Conflicts {
                    with: "datagram sockets: the packet sender needs CAP_NET_RAW and a raw \
                           socket for the replies",
                },
            ));
        }
        SenderKind::Auto if !(raw && fast && large) => return Ok(None),
        _ => {}
    }
    let forced = opts.sender == SenderKind::Packet;
    let families: Vec<Family> = sockets.iter().map(|s| s.family).collect();
    let opened =
        PacketSender::open(true, BYPASS_QDISC, Some(max_frame_len(opts))).and_then(|socket| {
            let plan = PacketPlan::new(
                &families,
                route_query(opts),
                opts.socket.source,
                frame_settings(opts),
            )
            .map_err(|source| Error::SocketUnavailable {
                context: "reading the routing tables (netlink) for the packet sender".into(),
                source,
            })?;
            Ok((Arc::new(plan), socket))
        });
    match opened {
        Ok(packet) => Ok(Some(packet)),
        Err(e) if !forced => {
            tracing::info!("packet sender unavailable, sending through the raw socket: {e}");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// What the kernel's own route lookup would be given for the sweep's
/// sockets.
fn route_query(opts: &SweepOptions) -> RouteQuery {
    let oif = opts
        .socket
        .interface
        .as_deref()
        .and_then(|name| nix::net::if_::if_nametoindex(name).ok());
    RouteQuery {
        oif,
        source: opts.socket.source,
        mark: opts.socket.mark,
    }
}

/// TTL, TOS, DF and size of the packet sender's probes, as the raw
/// socket would send them.
fn frame_settings(opts: &SweepOptions) -> FrameSettings {
    FrameSettings {
        ttl: opts.socket.ttl.unwrap_or(64),
        tos: opts.socket.tos.unwrap_or(0),
        dont_fragment: dont_fragment(opts),
        payload_size: opts.payload_size,
    }
}

/// The longest frame the packet sender sends (an IPv6 probe's), what its
/// transmit ring's slots must hold.
fn max_frame_len(opts: &SweepOptions) -> usize {
    ETHERNET_LEN + frame_settings(opts).ip_len(Family::V6)
}

/// Largest IPv4 probe sent with its own header (`IP_HDRINCL`) when DF is
/// off: the kernel never fragments such packets (it refuses those above
/// the device MTU), and every IPv4 link carries 576 bytes.
const MAX_HEADER_INCLUDED: usize = 576;

/// Whether IPv4 probes carry DF (fping's `-M`).
fn dont_fragment(opts: &SweepOptions) -> bool {
    opts.socket.pmtu == Some(PmtuDisc::Do)
}

/// Turns on `IP_HDRINCL` for a raw IPv4 socket and returns the header its
/// probes carry (DF if asked for, the TTL and TOS asked for, the source if
/// one is bound); `None` for other sockets, for probes the kernel might
/// have to fragment, or if the kernel refuses.
fn header_template(socket: &IcmpSocket, opts: &SweepOptions) -> Option<[u8; 20]> {
    let raw_v4 = socket.kind() == SocketKind::Raw && socket.family() == Family::V4;
    let packet = 20 + 8 + opts.payload_size;
    let unfragmented = dont_fragment(opts) || packet <= MAX_HEADER_INCLUDED;
    if !raw_v4 || !unfragmented || socket.set_header_included(true).is_err() {
        return None;
    }
    let src = match opts.socket.source {
        Some(IpAddr::V4(src)) => src,
        _ => std::net::Ipv4Addr::UNSPECIFIED,
    };
    let tos = opts.socket.tos.unwrap_or(0);
    // The kernel fills in what is left zero here: total length, checksum,
    // the destination from sendto, the source if unset (the builder writes
    // an id into each probe, sender.rs).
    let header = icmpkit_wire::ip::ipv4::Repr {
        src,
        dst: std::net::Ipv4Addr::UNSPECIFIED,
        protocol: icmpkit_wire::ip::ipv4::PROTOCOL_ICMP,
        ttl: opts.socket.ttl.unwrap_or(64),
        ident: 0,
        dont_frag: dont_fragment(opts),
        more_frags: false,
        frag_offset: 0,
        dscp: tos >> 2,
        ecn: tos & 3,
        options: &[],
        payload_len: 0,
    };
    let mut h = [0u8; 20];
    header.emit(&mut h).ok()?;
    // Zero what the kernel fills in (emit wrote a length and checksum for
    // an empty payload).
    h[2..4].fill(0);
    h[10..12].fill(0);
    Some(h)
}

/// How many threads send: [`SweepOptions::senders`], else one per CPU for
/// a fast raw sweep of many targets; always one on datagram sockets.
fn sender_count(session: &Session, sockets: &[FamilySocket], opts: &SweepOptions) -> usize {
    if sockets.is_empty() || sockets.iter().any(|s| s.datagram) {
        return 1;
    }
    if let Some(n) = opts.senders {
        return n;
    }
    let rate = opts.schedule.rate;
    let fast = rate == 0 || rate >= PARALLEL_MIN_RATE;
    if !fast || session.targets().len() < PARALLEL_MIN_TARGETS {
        return 1;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_AUTO_SENDERS))
}

/// The sweep's socket options for `family`'s sockets.
fn family_options(family: Family, opts: &SweepOptions) -> SocketOptions {
    let mut socket_opts = opts.socket.clone();
    if family == Family::V4 && socket_opts.pmtu.is_none() {
        // No DF, as fping: a probe above the path MTU is fragmented, not
        // refused. (DF made the kernel skip drawing a hashed IP id per
        // probe; raw sweeps of small probes still skip it by writing
        // their own ids, header_template.)
        socket_opts.pmtu = Some(PmtuDisc::Dont);
    }
    socket_opts
}

fn open(family: Family, opts: &SweepOptions) -> Result<IcmpSocket> {
    let mut socket_opts = family_options(family, opts);
    let forced = socket_opts.recv_buffer.is_none();
    if forced {
        socket_opts.recv_buffer = Some(RECV_BUFFER);
    }
    let socket = IcmpSocket::open(family, opts.privilege, &socket_opts)?;
    if forced {
        // Beyond rmem_max for root (CAP_NET_ADMIN); the capped size
        // asked for above stays if refused.
        let _ = socket.set_recv_buffer_force(RECV_BUFFER);
    }
    Ok(socket)
}

/// Sweeps `targets` (CIDRs, ranges, addresses or names) as icmplib's
/// `multiping`: one `Ok(report)` per target address in input order (a
/// prefix gives one per address), then one `Err(NameError)` per name that
/// did not resolve: the other targets are still probed. Text that is no
/// target at all, or options no sweep can run, fail the call.
///
/// ```no_run
/// # async fn demo() -> icmpkit::Result<()> {
/// use icmpkit::sweep::{SweepOptions, multiping};
/// // Documentation addresses: run this only inside a lab that routes them.
/// let opts = SweepOptions::builder().retries(1).build()?;
/// for result in multiping(&["192.0.2.0/30", "no-such-host.invalid"], &opts).await? {
///     match result {
///         Ok(report) => println!("{} alive={}", report.address, report.is_alive),
///         Err(unresolved) => println!("{}: {}", unresolved.target, unresolved.error),
///     }
/// }
/// # Ok(()) }
/// ```
pub async fn multiping<S: ToTarget>(
    targets: &[S],
    opts: &SweepOptions,
) -> Result<Vec<std::result::Result<PingReport, NameError>>> {
    let specs = targets
        .iter()
        .map(|t| t.target_text().parse())
        .collect::<Result<Vec<TargetSpec>>>()?;
    let (mut sweeper, name_errors) = Sweeper::start(&specs, opts).await?;
    let mut results = Vec::new();
    while let Some(event) = sweeper.next_event().await {
        if let SweepEvent::Host(h) = event {
            results.push(h);
        }
    }
    results.sort_by_key(|h| h.index);
    let reports = results.into_iter().map(|h| Ok(h.report));
    Ok(reports.chain(name_errors.into_iter().map(Err)).collect())
}

/// Blocking form of [`multiping`] (runs its own single-threaded runtime).
pub fn multiping_blocking<S: ToTarget>(
    targets: &[S],
    opts: &SweepOptions,
) -> Result<Vec<std::result::Result<PingReport, NameError>>> {
    crate::blocking::run(multiping(targets, opts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::MAX_SENDERS;
    use crate::sweep::session::MIN_PAYLOAD;

    /// Options no sweep can run with are refused before any socket opens.
    #[test]
    fn nonsensical_options_are_refused() {
        let mut builder = TargetSet::builder();
        builder.net("192.0.2.0/30".parse().unwrap());
        let targets = builder.build().unwrap();
        let cases = [
            SweepOptions {
                senders: Some(0),
                ..SweepOptions::default()
            },
            SweepOptions {
                senders: Some(MAX_SENDERS + 1),
                ..SweepOptions::default()
            },
            SweepOptions {
                payload_size: MIN_PAYLOAD - 1,
                ..SweepOptions::default()
            },
        ];
        for opts in cases {
            let err = Sweeper::with_targets(targets.clone(), &opts).unwrap_err();
            assert!(err.invalid_option().is_some(), "{err}");
        }
    }
}

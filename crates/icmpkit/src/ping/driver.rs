//! Ping's entry points: [`Pinger`] (the streaming API), [`ping`] and
//! [`ping_blocking`]. The I/O is the generic driver's; ping's own logic is
//! its pure protocol (`protocol.rs`) and session (`session.rs`).

use std::net::{IpAddr, UdpSocket};

use crate::driver::{Driver, IcmpTransport, Protocol, StopHandle};
use crate::engine::clock::Timestamp;
use crate::engine::sequence::Sequence;
use crate::engine::stamp::StampKey;
use crate::resolve::{Target, ToTarget, resolve_preferred};
use crate::socket::{IcmpSocket, SocketKind};
use crate::{Error, InvalidReason, Result};

use super::options::PingOptions;
use super::protocol::{PingProtocol, SocketTraits};
use super::report::{PingEvent, PingReport};
use super::session::Session;

/// Largest packet read whole.
const RECV_LEN: usize = 65_536;

/// Replies taken without a wait after which the socket leaves tokio's
/// reactor until the next wait. A flood on a fast path (veth, loopback)
/// finds each reply queued when `sendmsg` returns and never waits; while
/// registered, each packet in and out woke epoll in the kernel (5% of the
/// time per probe, measured). Joining again costs two `epoll_ctl` calls,
/// at most once per this many replies.
const LEAVE_REACTOR_AFTER: u32 = 64;

/// A ping in progress: pull events with [`Pinger::next_event`] or as a
/// `futures_core::Stream` (the streaming API), then read
/// [`Pinger::report`]. Stop it from elsewhere with [`Pinger::stop_handle`].
///
/// ```no_run
/// # async fn demo() -> icmpkit::Result<()> {
/// use icmpkit::ping::{PingEvent, PingOptions, Pinger};
///
/// let opts = PingOptions::builder().until_stopped().build()?;
/// let mut pinger = Pinger::start("127.0.0.1", &opts).await?;
/// let stop = pinger.stop_handle();
/// tokio::spawn(async move {
///     tokio::time::sleep(std::time::Duration::from_secs(5)).await;
///     stop.stop(); // from another task
/// });
/// while let Some(event) = pinger.next_event().await {
///     if let PingEvent::Reply { sequence, rtt, .. } = event {
///         println!("seq={sequence} rtt={rtt:?}");
///     }
/// }
/// println!("{:?}", pinger.report().rtt);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Pinger {
    target: Target,
    driver: Driver<PingProtocol, IcmpTransport>,
}

impl Pinger {
    /// Resolves `target` and opens the socket.
    pub async fn start(target: impl ToTarget, opts: &PingOptions) -> Result<Pinger> {
        // iputils takes the resolver's first address of a dual-stack name.
        let target = resolve_preferred(&target.target_text(), opts.family).await?;
        Pinger::with_target(target, opts)
    }

    /// Opens the socket for an already resolved target.
    pub fn with_target(target: Target, opts: &PingOptions) -> Result<Pinger> {
        // The target's family first: its limit is the one to name.
        opts.check_payload(target.family())?;
        opts.validate()?;
        check_broadcast(&target, opts.socket.broadcast)?;
        let socket = IcmpSocket::open(target.family(), opts.privilege, &opts.socket)?;
        Pinger::with_socket(target, socket, opts)
    }

    /// Pings an already resolved target on a socket opened beforehand
    /// (e.g. while privileged, or lent by a pool: see
    /// [`IcmpSocket::try_clone`]), of the target's family. `opts.socket`
    /// and `opts.privilege` are not applied: the socket is used as it was
    /// opened and configured. A raw socket must not be read by anyone else
    /// meanwhile (each reader takes what it reads).
    pub fn with_socket(
        target: Target,
        mut socket: IcmpSocket,
        opts: &PingOptions,
    ) -> Result<Pinger> {
        opts.check_payload(target.family())?;
        opts.validate()?;
        check_broadcast(&target, opts.socket.broadcast)?;
        if socket.family() != target.family() {
            return Err(Error::invalid(
                "socket",
                InvalidReason::WrongFamily {
                    expected: socket.family(),
                    got: target.address,
                },
            ));
        }
        if let Some(label) = opts.flow_label {
            let IpAddr::V6(v6) = target.address else {
                return Err(Error::invalid("flow_label", super::options::IPV4_FLOW));
            };
            socket
                .use_flow_label(v6, label)
                .map_err(|source| Error::SocketUnavailable {
                    context: format!("leasing flow label {label:#07x} (IPV6_FLOWLABEL_MGR)"),
                    source,
                })?;
        }
        // Kernel transmit stamps make RTTs kernel to kernel. A flood skips
        // them: they cost an error-queue read per packet.
        let tx_stamped = !opts.timing.flood && socket.enable_tx_timestamps().is_ok();
        // Ping reads only the TTL of a reply, which a raw IPv4 socket has in
        // the header: three control messages a packet less for the kernel
        // to write (measured: a flood's system time).
        let _ = socket.skip_header_info();
        let id = match socket.kind() {
            SocketKind::Datagram => socket.echo_id().unwrap_or(0),
            SocketKind::Raw => opts.id.unwrap_or_else(crate::engine::random::random),
        };
        let traits = SocketTraits {
            family: target.family(),
            datagram: socket.kind() == SocketKind::Datagram,
            scope_id: target.scope_id,
            tx_stamped,
            flood: opts.timing.flood,
        };
        let mut session = Session::new(
            target.name.clone(),
            target.address,
            id,
            StampKey::random(),
            opts.timing.clone(),
        );
        session.accept_any_source(opts.socket.broadcast || target.address.is_multicast());
        let mut payload = vec![0u8; opts.payload_size];
        Session::fill_pattern(&opts.pattern, &mut payload);
        let protocol = PingProtocol::new(session, traits, payload);
        Ok(Pinger {
            target,
            driver: Driver::new(
                protocol,
                IcmpTransport::leaving_reactor_after(socket, LEAVE_REACTOR_AFTER)?,
                RECV_LEN,
            ),
        })
    }

    /// The resolved target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The echo identifier of the requests (iputils' `ident`): the one
    /// asked for or a random one on a raw socket, the kernel's on a
    /// datagram socket.
    pub fn echo_id(&self) -> u16 {
        self.session().id()
    }

    /// Raw or datagram.
    pub fn socket_kind(&self) -> SocketKind {
        self.driver.transport().socket().kind()
    }

    /// Ends the ping at the next step; the report stays available.
    pub fn stop(&mut self) {
        self.driver.protocol_mut().stop();
    }

    /// A handle that stops this ping from another task or thread.
    pub fn stop_handle(&self) -> StopHandle {
        self.driver.stop_handle()
    }

    /// Receive errors and full-buffer waits the driver met so far.
    pub fn transport_counters(&self) -> crate::TransportCounters {
        self.driver.counters()
    }

    /// The figures so far.
    pub fn report(&self) -> PingReport {
        self.session().report(Timestamp::now())
    }

    /// The pure state machine behind it.
    fn session(&self) -> &Session {
        self.driver.protocol().session()
    }

    /// iputils' smoothed RTT so far (the `ewma` of its interim and flood
    /// statistics), `None` before the first reply.
    pub fn smoothed_rtt(&self) -> Option<std::time::Duration> {
        self.session().stats().ewma()
    }

    /// True once request `sequence` has been answered, by a reply or an
    /// ICMP error (iputils' `-O` prints "no answer yet" otherwise).
    pub fn is_answered(&self, sequence: u16) -> bool {
        self.session().is_answered(Sequence(sequence))
    }

    /// The next event, or `None` when the ping is over. Cancel-safe: if the
    /// future is dropped, nothing is lost.
    pub async fn next_event(&mut self) -> Option<PingEvent> {
        self.driver.next_event().await
    }
}

impl futures_core::Stream for Pinger {
    type Item = PingEvent;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<PingEvent>> {
        self.get_mut().driver.poll_event(cx)
    }
}

/// Refuses broadcast targets unless asked, as iputils does: the kernel
/// denies connecting a UDP socket to a broadcast address without
/// SO_BROADCAST.
fn check_broadcast(target: &Target, allowed: bool) -> Result<()> {
    let IpAddr::V4(v4) = target.address else {
        return Ok(());
    };
    if allowed {
        return Ok(());
    }
    if v4.is_broadcast() {
        return Err(Error::Broadcast(target.address));
    }
    let Ok(probe) = UdpSocket::bind("0.0.0.0:0") else {
        return Ok(());
    };
    match probe.connect((v4, 1025)) {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            Err(Error::Broadcast(target.address))
        }
        _ => Ok(()),
    }
}

/// Pings `target` (a name or an address) to the end and returns the report.
///
/// ```no_run
/// # async fn demo() -> icmpkit::Result<()> {
/// use icmpkit::ping::{PingOptions, ping};
///
/// let report = ping("127.0.0.1", &PingOptions::default()).await?;
/// assert_eq!(report.packets_sent, 4);
/// println!("alive={} loss={}", report.is_alive, report.packet_loss);
/// # Ok(()) }
/// ```
pub async fn ping(target: impl ToTarget, opts: &PingOptions) -> Result<PingReport> {
    let mut pinger = Pinger::start(target, opts).await?;
    while pinger.next_event().await.is_some() {}
    Ok(pinger.report())
}

/// Blocking form of [`ping`] (runs its own single-threaded runtime; inside
/// one it is [`Error::BlockingInRuntime`]).
///
/// ```no_run
/// use icmpkit::ping::{PingOptions, ping_blocking};
///
/// let opts = PingOptions::builder().count(2).ttl(64).build()?;
/// let report = ping_blocking("::1", &opts)?;
/// println!("{:?}", report.rtt.avg);
/// # Ok::<(), icmpkit::Error>(())
/// ```
pub fn ping_blocking(target: impl ToTarget, opts: &PingOptions) -> Result<PingReport> {
    crate::blocking::run(ping(target, opts))
}

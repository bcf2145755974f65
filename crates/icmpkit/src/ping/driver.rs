//! The I/O loop of a ping: asks the session what to do, sends through the
//! socket, feeds it what arrives (replies, and on datagram sockets the
//! errors from the error queue), and hands out events as they happen.

use std::collections::VecDeque;
use std::net::{IpAddr, UdpSocket};
use std::time::Duration;

use icmpkit_wire::Family;

use crate::InvalidReason;
use crate::engine::clock::{Timestamp, nanos};
use crate::engine::probe::{self, Incoming};
use crate::engine::sequence::Sequence;
use crate::engine::stamp::StampKey;
use crate::resolve::{Target, resolve};
use crate::socket::{
    AsyncIcmpSocket, ErrorOrigin, IcmpSocket, Privilege, QueuedError, Received, SocketKind,
    SocketOptions,
};
use crate::{Error, IcmpError, Result};

use super::report::{PingEvent, PingReport};
use super::session::{EchoReply, Next, Session, Timing};

/// How to ping.
#[derive(Debug, Clone)]
pub struct PingOptions {
    /// Count, interval, timeout, deadline, flood...
    pub timing: Timing,
    /// Bytes of echo data (iputils' `-s`, default 56).
    pub payload_size: usize,
    /// Fill pattern for the data (`-p`); empty: each byte is its offset.
    pub pattern: Vec<u8>,
    /// TTL, TOS, PMTU mode, source, interface, broadcast, mark.
    pub socket: SocketOptions,
    /// Raw, datagram, or whichever is allowed.
    pub privilege: Privilege,
    /// Force a family when resolving names.
    pub family: Option<Family>,
    /// Echo identifier for raw sockets (random if `None`; datagram sockets
    /// get theirs from the kernel).
    pub id: Option<u16>,
}

impl Default for PingOptions {
    fn default() -> Self {
        PingOptions {
            timing: Timing::default(),
            payload_size: 56,
            pattern: Vec::new(),
            socket: SocketOptions::default(),
            privilege: Privilege::Auto,
            family: None,
            id: None,
        }
    }
}

/// Largest echo data that fits an IPv4/IPv6 datagram.
const MAX_PAYLOAD: usize = 65_507;

/// A ping in progress: pull events with [`Pinger::next_event`] (the
/// streaming API), then read [`Pinger::report`].
#[derive(Debug)]
pub struct Pinger {
    target: Target,
    socket: AsyncIcmpSocket,
    session: Session,
    /// The echo data, filled with the pattern once; each send stamps it.
    payload: Vec<u8>,
    events: VecDeque<PingEvent>,
    /// Flood mode: read replies right after each send.
    flood: bool,
    /// Which transmit stamp belongs to which request.
    tx_stamps: TxStamps,
    /// One timer, re-armed for every wait (cheaper than a new one each time).
    timer: std::pin::Pin<Box<tokio::time::Sleep>>,
    send_buf: Vec<u8>,
    recv_buf: Vec<u8>,
    done: bool,
}

impl Pinger {
    /// Resolves `target` and opens the socket.
    pub async fn start(target: &str, opts: &PingOptions) -> Result<Pinger> {
        let target = resolve(target, opts.family).await?;
        Pinger::with_target(target, opts)
    }

    /// Opens the socket for an already resolved target.
    pub fn with_target(target: Target, opts: &PingOptions) -> Result<Pinger> {
        if opts.payload_size > MAX_PAYLOAD {
            return Err(Error::invalid(
                "payload_size",
                InvalidReason::Between {
                    min: 0,
                    max: MAX_PAYLOAD as u64,
                    got: Some(opts.payload_size as u64),
                },
            ));
        }
        opts.timing.validate()?;
        check_broadcast(&target, opts.socket.broadcast)?;
        let socket = IcmpSocket::open(target.family(), opts.privilege, &opts.socket)?;
        // Kernel transmit stamps make RTTs kernel to kernel. A flood skips
        // them: they cost an error-queue read per packet.
        let tx_stamped = !opts.timing.flood && socket.enable_tx_timestamps().is_ok();
        let id = match socket.kind() {
            SocketKind::Datagram => socket.echo_id().unwrap_or(0),
            SocketKind::Raw => opts.id.unwrap_or_else(crate::engine::random::random),
        };
        let socket = AsyncIcmpSocket::register(socket)?;
        let mut session = Session::new(
            target.name.clone(),
            target.address,
            id,
            StampKey::random(),
            opts.timing.clone(),
        );
        session.accept_any_source(opts.socket.broadcast || target.address.is_multicast());
        Ok(Pinger {
            target,
            socket,
            session,
            payload: {
                let mut data = vec![0u8; opts.payload_size];
                Session::fill_pattern(&opts.pattern, &mut data);
                data
            },
            events: VecDeque::new(),
            flood: opts.timing.flood,
            tx_stamps: TxStamps {
                enabled: tx_stamped,
                ..TxStamps::default()
            },
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            send_buf: Vec::with_capacity(opts.payload_size + 8),
            recv_buf: vec![0; 65_536],
            done: false,
        })
    }

    /// After a refused send: the local error the kernel queued for it, as
    /// iputils reads it (`message too long` with the path MTU, or the OS
    /// error text).
    fn take_local_error(&mut self) -> Option<(String, Option<u32>)> {
        self.read_error_queue()
    }

    /// Reads the error queue without waiting: transmit stamps and ICMP
    /// errors go to the session; the first local error is returned.
    fn read_error_queue(&mut self) -> Option<(String, Option<u32>)> {
        let socket = self.socket.get_ref();
        let target = self.target.address;
        while let Ok(Some(q)) = socket.recv_error(&mut self.recv_buf) {
            if q.origin != ErrorOrigin::Local {
                on_queued_error(
                    socket,
                    &q,
                    &self.recv_buf,
                    &mut self.session,
                    &mut self.events,
                    target,
                    &mut self.tx_stamps,
                );
                continue;
            }
            if q.errno == libc::EMSGSIZE {
                return Some(("message too long".into(), Some(q.info)));
            }
            return Some((std::io::Error::from_raw_os_error(q.errno).to_string(), None));
        }
        None
    }

    /// The resolved target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Raw or datagram.
    pub fn socket_kind(&self) -> SocketKind {
        self.socket.get_ref().kind()
    }

    /// Ends the ping at the next step; the report stays available.
    pub fn stop(&mut self) {
        self.session.stop();
    }

    /// The figures so far.
    pub fn report(&self) -> PingReport {
        self.session.report(Timestamp::now())
    }

    /// The session's live statistics (interim output).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The next event, or `None` when the ping is over. Cancel-safe: if the
    /// future is dropped, nothing is lost.
    pub async fn next_event(&mut self) -> Option<PingEvent> {
        loop {
            if let Some(e) = self.events.pop_front() {
                return Some(e);
            }
            if self.done {
                return None;
            }
            self.step().await;
        }
    }

    /// One turn of the loop: send what is due, or wait for a packet or the
    /// next deadline.
    async fn step(&mut self) {
        // With interval 0 (or a flood answered during sendto) every step
        // sends and nothing below waits: spend the task's budget so it
        // yields now and then, letting the runtime poll its drivers (signals,
        // timers) and other tasks run. Nothing has changed yet, so a future
        // dropped here loses nothing.
        tokio::task::consume_budget().await;
        let now = Timestamp::now();
        self.events.extend(self.session.expire(now));
        match self.session.next(now) {
            Next::Done => self.done = true,
            Next::Send(seq) => self.send(seq),
            Next::WaitUntil(wake_ns) => {
                let wait = Duration::from_nanos(wake_ns.saturating_sub(now.monotonic_ns));
                self.timer
                    .as_mut()
                    .reset(tokio::time::Instant::now() + wait);
                tokio::select! {
                    ready = self.socket.ready() => {
                        if let Ok(mut guard) = ready {
                            let errors_waiting = guard.ready().is_error();
                            let socket = guard.get_inner();
                            drain(socket, errors_waiting, &mut self.session, &mut self.events, &mut self.recv_buf, self.target.address, &mut self.tx_stamps);
                            guard.clear_ready();
                        }
                    }
                    _ = self.timer.as_mut() => {}
                }
            }
        }
    }

    fn send(&mut self, seq: Sequence) {
        // The send time is read as late as possible: only stamping, framing
        // and the system call stand between it and the wire.
        let at = Timestamp::now();
        self.session.stamp(seq, at, &mut self.payload);
        let family = self.target.family();
        probe::echo_request(
            family,
            self.session.id(),
            seq.0,
            &self.payload,
            &mut self.send_buf,
        );
        let sent = self.socket.get_ref().send_to_scoped(
            &self.send_buf,
            self.target.address,
            self.target.scope_id,
        );
        let event = match sent {
            Ok(_) => {
                let event = self.session.on_sent(seq, at);
                if self.tx_stamps.enabled {
                    self.tx_stamps.sent(seq);
                    // On most paths the stamp is queued before sendto returns.
                    self.read_error_queue();
                }
                event
            }
            Err(e) => match self.take_local_error() {
                Some((message, mtu)) => self.session.on_local_error(seq, at, message, mtu),
                None => self.session.on_send_error(seq, at, e.to_string()),
            },
        };
        self.events.push_back(event);
        // On fast paths (loopback, veth) the reply is queued before sendto
        // even returns: take it now instead of a trip through the reactor.
        // This also empties the socket between sends when the interval is
        // 0, where the loop never waits for readiness (replies would pile
        // up until the receive buffer drops them).
        let socket = self.socket.get_ref();
        if self.flood {
            // The hot path: stop once nothing is in flight (as iputils
            // does) rather than paying a read that finds the socket empty.
            while self.session.in_flight() > 0 {
                let Ok(received) = socket.recv(&mut self.recv_buf) else {
                    break;
                };
                on_packet(
                    socket,
                    &received,
                    &self.recv_buf,
                    &mut self.session,
                    &mut self.events,
                );
            }
        } else {
            // The error queue was just read if transmit stamps are on.
            drain(
                socket,
                !self.tx_stamps.enabled,
                &mut self.session,
                &mut self.events,
                &mut self.recv_buf,
                self.target.address,
                &mut self.tx_stamps,
            );
        }
    }
}

/// Reads everything queued on the socket (error-queue entries first, then
/// packets) and feeds it to the session.
fn drain(
    socket: &IcmpSocket,
    errors_waiting: bool,
    session: &mut Session,
    events: &mut VecDeque<PingEvent>,
    buf: &mut [u8],
    target: IpAddr,
    tx_stamps: &mut TxStamps,
) {
    // Only error readiness means the error queue has something: skip the
    // system call otherwise (it is the hot path of a flood).
    while errors_waiting && let Ok(Some(q)) = socket.recv_error(buf) {
        on_queued_error(socket, &q, buf, session, events, target, tx_stamps);
    }
    while let Ok(received) = socket.recv(buf) {
        on_packet(socket, &received, buf, session, events);
    }
}

/// Feeds one received ICMP packet to the session.
fn on_packet(
    socket: &IcmpSocket,
    received: &Received,
    buf: &[u8],
    session: &mut Session,
    events: &mut VecDeque<PingEvent>,
) {
    let family = socket.family();
    let datagram = socket.kind() == SocketKind::Datagram;
    let now = Timestamp::now();
    let icmp = buf.get(received.icmp.clone()).unwrap_or(&[]);
    match probe::classify(family, icmp) {
        Incoming::EchoReply { id, sequence, data } => {
            let reply = EchoReply {
                from: received.source,
                // Datagram sockets only ever deliver our own id.
                id: if datagram { session.id() } else { id },
                sequence,
                data,
                bytes: icmp.len(),
                ttl: received.ttl,
                kernel_rx_ns: received.kernel_time.map(nanos),
            };
            events.extend(session.on_reply(&reply, now));
        }
        Incoming::Error {
            icmp_type,
            code,
            info,
            quoted,
            ..
        } => {
            let err = IcmpError::classify(family, received.source, icmp_type, code, info);
            events.extend(session.on_error(quoted.id, quoted.sequence, quoted.destination, err));
        }
        Incoming::Other => {}
    }
}

/// Transmit stamps arrive numbered by successful sends (OPT_ID keys
/// counting from 0); this remembers which request each number was.
#[derive(Debug, Default)]
struct TxStamps {
    enabled: bool,
    next_key: u32,
    /// (key, sequence) of recent sends, oldest first.
    recent: VecDeque<(u32, u16)>,
}

impl TxStamps {
    /// Stamps still unread after this many newer sends are given up.
    const WINDOW: usize = 1024;

    fn sent(&mut self, seq: Sequence) {
        self.recent.push_back((self.next_key, seq.0));
        self.next_key = self.next_key.wrapping_add(1);
        if self.recent.len() > Self::WINDOW {
            self.recent.pop_front();
        }
    }

    fn sequence_of(&self, key: u32) -> Option<Sequence> {
        self.recent
            .iter()
            .find(|(k, _)| *k == key)
            .map(|&(_, seq)| Sequence(seq))
    }
}

/// Feeds one error-queue entry to the session: a transmit stamp, or an
/// ICMP error quoting our request (datagram sockets only: a raw socket also
/// receives each ICMP error as a packet, handled with the full quote, so it
/// is counted once there). Local errors are read where a send fails.
fn on_queued_error(
    socket: &IcmpSocket,
    q: &QueuedError,
    buf: &[u8],
    session: &mut Session,
    events: &mut VecDeque<PingEvent>,
    target: IpAddr,
    tx_stamps: &mut TxStamps,
) {
    if q.origin == ErrorOrigin::Timestamping {
        if let (Some(seq), Some(t)) = (tx_stamps.sequence_of(q.key), q.tx_time) {
            session.on_tx_timestamp(seq, nanos(t));
        }
        return;
    }
    if socket.kind() != SocketKind::Datagram || q.origin == ErrorOrigin::Local {
        return;
    }
    let family = socket.family();
    let Some(quoted) = probe::parse_own_request(family, &buf[..q.len.min(buf.len())]) else {
        return;
    };
    let from = q.offender.unwrap_or(target);
    let err = IcmpError::classify(family, from, q.icmp_type, q.icmp_code, q.info);
    events.extend(session.on_error(session.id(), quoted.sequence, q.destination, err));
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

/// Pings `target` to the end and returns the report.
pub async fn ping(target: &str, opts: &PingOptions) -> Result<PingReport> {
    let mut pinger = Pinger::start(target, opts).await?;
    while pinger.next_event().await.is_some() {}
    Ok(pinger.report())
}

/// Blocking form of [`ping`] (runs its own single-threaded runtime).
pub fn ping_blocking(target: &str, opts: &PingOptions) -> Result<PingReport> {
    crate::blocking::run(ping(target, opts))
}

//! The I/O loop of a ping: asks the session what to do, sends through the
//! socket, feeds it what arrives (replies, and on datagram sockets the
//! errors from the error queue), and hands out events as they happen.

use std::collections::VecDeque;
use std::net::{IpAddr, UdpSocket};
use std::time::Duration;

use icmpkit_wire::Family;

use crate::engine::clock::Timestamp;
use crate::engine::probe::{self, Incoming};
use crate::engine::sequence::Sequence;
use crate::engine::stamp::StampKey;
use crate::resolve::{Target, resolve};
use crate::socket::{
    AsyncIcmpSocket, ErrorOrigin, IcmpSocket, Privilege, SocketKind, SocketOptions,
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
    pattern: Vec<u8>,
    payload_size: usize,
    events: VecDeque<PingEvent>,
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
            return Err(Error::InvalidOption(format!(
                "packet size {} is too large (max {MAX_PAYLOAD})",
                opts.payload_size
            )));
        }
        check_broadcast(&target, opts.socket.broadcast)?;
        let socket = IcmpSocket::open(target.family(), opts.privilege, &opts.socket)?;
        let id = match socket.kind() {
            SocketKind::Datagram => socket.echo_id().unwrap_or(0),
            SocketKind::Raw => opts.id.unwrap_or_else(rand::random),
        };
        let socket = AsyncIcmpSocket::new(socket).map_err(|source| Error::SocketUnavailable {
            context: "registering the socket with the runtime".into(),
            source,
        })?;
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
            pattern: opts.pattern.clone(),
            payload_size: opts.payload_size,
            events: VecDeque::new(),
            send_buf: Vec::with_capacity(opts.payload_size + 8),
            recv_buf: vec![0; 65_536],
            done: false,
        })
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
        let now = Timestamp::now();
        self.events.extend(self.session.expire(now));
        match self.session.next(now) {
            Next::Done => self.done = true,
            Next::Send(seq) => self.send(seq),
            Next::WaitUntil(wake_ns) => {
                let wait = Duration::from_nanos(wake_ns.saturating_sub(now.monotonic_ns));
                tokio::select! {
                    ready = self.socket.ready() => {
                        if let Ok(mut guard) = ready {
                            drain(&mut guard, &mut self.session, &mut self.events, &mut self.recv_buf, self.target.address);
                            guard.clear_ready();
                        }
                    }
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }

    fn send(&mut self, seq: Sequence) {
        let at = Timestamp::now();
        let mut data = vec![0u8; self.payload_size];
        self.session.fill_payload(seq, at, &self.pattern, &mut data);
        probe::echo_request(
            self.target.family(),
            self.session.id(),
            seq.0,
            &data,
            &mut self.send_buf,
        );
        let event = match self.socket.get_ref().send_to_scoped(
            &self.send_buf,
            self.target.address,
            self.target.scope_id,
        ) {
            Ok(_) => self.session.on_sent(seq, at),
            Err(e) => self.session.on_send_error(seq, at, e.to_string()),
        };
        self.events.push_back(event);
    }
}

/// Reads everything queued on the socket (error-queue entries first, then
/// packets) and feeds it to the session.
fn drain(
    guard: &mut tokio::io::unix::AsyncFdReadyGuard<'_, IcmpSocket>,
    session: &mut Session,
    events: &mut VecDeque<PingEvent>,
    buf: &mut [u8],
    target: IpAddr,
) {
    let socket = guard.get_inner();
    let family = socket.family();
    let datagram = socket.kind() == SocketKind::Datagram;
    while let Ok(Some(q)) = socket.recv_error(buf) {
        // A raw socket also receives each ICMP error as a packet (handled
        // below, with the full quote); count it once. Local errors
        // (EMSGSIZE with -M do, ...) quote nothing from afar.
        if !datagram || q.origin == ErrorOrigin::Local {
            continue;
        }
        let Some(quoted) = probe::parse_own_request(family, &buf[..q.len.min(buf.len())]) else {
            continue;
        };
        let from = q.offender.unwrap_or(target);
        let err = IcmpError::classify(family, from, q.icmp_type, q.icmp_code, q.info);
        events.extend(session.on_error(session.id(), quoted.sequence, q.destination, err));
    }
    while let Ok(received) = socket.recv(buf) {
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
                    kernel_rx_ns: received.kernel_time.map(|d| d.as_nanos() as u64),
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
                events.extend(session.on_error(
                    quoted.id,
                    quoted.sequence,
                    quoted.destination,
                    err,
                ));
            }
            Incoming::Other => {}
        }
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

/// Pings `target` to the end and returns the report.
pub async fn ping(target: &str, opts: &PingOptions) -> Result<PingReport> {
    let mut pinger = Pinger::start(target, opts).await?;
    while pinger.next_event().await.is_some() {}
    Ok(pinger.report())
}

/// Blocking form of [`ping`] (runs its own single-threaded runtime).
pub fn ping_blocking(target: &str, opts: &PingOptions) -> Result<PingReport> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io {
            context: "starting the runtime".into(),
            source: e,
        })?;
    rt.block_on(ping(target, opts))
}

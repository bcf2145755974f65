//! The I/O loop of a sweep: one socket per family for the whole sweep,
//! probes sent in `sendmmsg` batches as the session allows, replies taken
//! in `recvmmsg` batches (and errors from the error queue), events handed
//! out as they happen.

use std::io;
use std::net::IpAddr;
use std::time::Duration;

use icmpkit_wire::Family;
use ipnet::IpNet;

use crate::engine::clock::Timestamp;
use crate::engine::permutation::Shard;
use crate::engine::probe::{self, Incoming};
use crate::engine::stamp::StampKey;
use crate::ping::PingReport;
use crate::resolve::family_of;
use crate::socket::{
    AsyncIcmpSocket, ErrorOrigin, IcmpSocket, PmtuDisc, Privilege, Received, SocketKind,
    SocketOptions,
};
use crate::{Error, IcmpError, Result};

use super::report::{SweepEvent, SweepSummary};
use super::session::{EchoReply, MIN_PAYLOAD, Next, Probe, Schedule, Session};
use super::targets::{NameError, TargetSet, TargetSpec, resolve_targets};

/// How to sweep.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// Count, retries, timeout, backoff, rate, in-flight cap.
    pub schedule: Schedule,
    /// Bytes of echo data (default 56, at least 32 for the stamp).
    pub payload_size: usize,
    /// Seed of the target order (random if `None`; the same seed gives the
    /// same order).
    pub seed: Option<u64>,
    /// Which share of the targets to probe.
    pub shard: Shard,
    /// Prefixes to leave out.
    pub exclude: Vec<IpNet>,
    /// Force a family when resolving names.
    pub family: Option<Family>,
    /// Raw, datagram, or whichever is allowed.
    pub privilege: Privilege,
    /// TTL, TOS, source, interface, mark... (`recv_buffer` defaults to a
    /// large buffer so bursts of replies are not dropped).
    pub socket: SocketOptions,
    /// Echo identifier for raw sockets (random if `None`).
    pub id: Option<u16>,
}

impl Default for SweepOptions {
    fn default() -> Self {
        SweepOptions {
            schedule: Schedule::default(),
            payload_size: 56,
            seed: None,
            shard: Shard::default(),
            exclude: Vec::new(),
            family: None,
            privilege: Privilege::Auto,
            socket: SocketOptions::default(),
            id: None,
        }
    }
}

/// Receive buffer asked for by default (root may exceed `rmem_max`).
const RECV_BUFFER: usize = 16 << 20;
/// Messages per `recvmmsg`.
const RECV_BATCH: usize = 64;
/// Bytes per receive buffer: an IPv4 header plus an error quoting 576
/// bytes, or an IPv6 error quoting 1232, fit.
const RECV_BUF_LEN: usize = 2048;
/// Pause after the kernel reports no buffer space (ENOBUFS).
const NOBUFS_PAUSE: Duration = Duration::from_millis(1);

#[derive(Debug)]
struct FamilySocket {
    socket: AsyncIcmpSocket,
    family: Family,
    datagram: bool,
    /// Raw IPv4 with `IP_HDRINCL`: messages start with this IPv4 header
    /// template (length, checksum and a zero source are the kernel's).
    ip_header: Option<[u8; 20]>,
}

/// A sweep in progress: pull events with [`Sweeper::next_event`] (the
/// streaming API); [`Sweeper::summary`] has the totals.
#[derive(Debug)]
pub struct Sweeper {
    session: Session,
    sockets: Vec<FamilySocket>,
    seed: u64,
    batch: Vec<Probe>,
    messages: Vec<Vec<u8>>,
    payload: Vec<u8>,
    recv_bufs: Vec<Vec<u8>>,
    received: Vec<Received>,
    done: bool,
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
        if opts.payload_size < MIN_PAYLOAD || opts.payload_size > 65_507 {
            return Err(Error::InvalidOption(format!(
                "payload size {} is out of range ({MIN_PAYLOAD} to 65507)",
                opts.payload_size
            )));
        }
        let seed = opts.seed.unwrap_or_else(rand::random);
        let mut session = Session::new(
            targets,
            opts.schedule.clone(),
            seed,
            opts.shard,
            StampKey::random(),
        )?;
        let mut sockets = Vec::new();
        for family in [Family::V4, Family::V6] {
            if !session.targets().has(family) {
                continue;
            }
            let socket = open(family, opts)?;
            let id = match socket.kind() {
                SocketKind::Datagram => socket.echo_id().unwrap_or(0),
                SocketKind::Raw => opts.id.unwrap_or_else(rand::random),
            };
            session.set_id(family, id);
            let ip_header = header_template(&socket, opts);
            sockets.push(FamilySocket {
                datagram: socket.kind() == SocketKind::Datagram,
                socket,
                family,
                ip_header,
            });
        }
        let batch = opts.schedule.batch;
        Ok(Sweeper {
            session,
            sockets,
            seed,
            batch: Vec::with_capacity(batch),
            messages: vec![Vec::with_capacity(opts.payload_size + 8); batch],
            payload: vec![0; opts.payload_size],
            recv_bufs: vec![vec![0; RECV_BUF_LEN]; RECV_BATCH],
            received: Vec::with_capacity(RECV_BATCH),
            done: false,
        })
    }

    /// The seed of the order (pass it back to reproduce it).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The targets.
    pub fn targets(&self) -> &TargetSet {
        self.session.targets()
    }

    /// The kind of socket used (raw or datagram), for the first family.
    pub fn socket_kind(&self) -> Option<SocketKind> {
        self.sockets.first().map(|s| s.socket.kind())
    }

    /// The totals so far.
    pub fn summary(&self) -> SweepSummary {
        self.session.summary(Timestamp::now())
    }

    /// Probes waiting for an answer.
    pub fn in_flight(&self) -> u64 {
        self.session.in_flight()
    }

    /// Ends the sweep at the next step; targets not finished get no result.
    pub fn stop(&mut self) {
        self.done = true;
    }

    /// The next event, or `None` when the sweep is over. Cancel-safe.
    pub async fn next_event(&mut self) -> Option<SweepEvent> {
        loop {
            if let Some(e) = self.session.poll_event() {
                return Some(e);
            }
            if self.done {
                return None;
            }
            self.step().await;
        }
    }

    async fn step(&mut self) {
        let now = Timestamp::now();
        self.drain();
        self.session.expire(now);
        match self.session.next_batch(now, &mut self.batch) {
            Next::Done => self.done = true,
            Next::Send => self.send(now).await,
            Next::WaitUntil(wake_ns) => {
                if self.session.has_events() {
                    return;
                }
                let wait = Duration::from_nanos(wake_ns.saturating_sub(now.monotonic_ns));
                self.wait(wait).await;
            }
        }
    }

    /// Sleeps until a socket has something or `wait` passes.
    async fn wait(&self, wait: Duration) {
        let sleep = tokio::time::sleep(wait.min(Duration::from_secs(3600)));
        let (first, second) = match self.sockets.as_slice() {
            [a] => (a, None),
            [a, b] => (a, Some(b)),
            _ => {
                sleep.await;
                return;
            }
        };
        let second_ready = async {
            match second {
                Some(s) => s.socket.ready().await.map(|mut g| g.clear_ready()),
                None => std::future::pending().await,
            }
        };
        // Readiness is cleared here; `drain` then reads until WouldBlock,
        // so nothing queued is missed.
        tokio::select! {
            r = first.socket.ready() => { if let Ok(mut g) = r { g.clear_ready() } }
            _ = second_ready => {}
            _ = sleep => {}
        }
    }

    /// Builds and sends the batch, per family, one `sendmmsg` each.
    async fn send(&mut self, at: Timestamp) {
        let batch = std::mem::take(&mut self.batch);
        for (i, p) in batch.iter().enumerate() {
            self.session.fill_payload(p, at, &mut self.payload);
            let address = self
                .targets()
                .address(p.index)
                .unwrap_or(IpAddr::from([0u8; 4]));
            let family = family_of(address);
            let message = &mut self.messages[i];
            probe::echo_request(
                family,
                self.session.id(family),
                p.sequence,
                &self.payload,
                message,
            );
            let header = self
                .sockets
                .iter()
                .find(|s| s.family == family)
                .and_then(|s| s.ip_header);
            if let (Some(mut header), IpAddr::V4(dst)) = (header, address) {
                header[16..20].copy_from_slice(&dst.octets());
                message.splice(0..0, header);
            }
        }
        for s in 0..self.sockets.len() {
            let family = self.sockets[s].family;
            let (mut probes, mut msgs) = (Vec::new(), Vec::new());
            for (i, p) in batch.iter().enumerate() {
                if let Some(a) = self.targets().address(p.index)
                    && family_of(a) == family
                {
                    probes.push(*p);
                    msgs.push((self.messages[i].as_slice(), a));
                }
            }
            let sent = send_all(
                &self.sockets[s].socket,
                &msgs,
                &probes,
                &mut self.session,
                at,
            )
            .await;
            if sent.is_err() {
                tokio::time::sleep(NOBUFS_PAUSE).await;
            }
        }
        self.batch = batch;
    }

    /// Reads everything queued on every socket and feeds it to the session.
    fn drain(&mut self) {
        for s in &self.sockets {
            let socket = s.socket.get_ref();
            let mut buf = [0u8; RECV_BUF_LEN];
            while let Ok(Some(q)) = socket.recv_error(&mut buf) {
                // Raw sockets get each ICMP error as a packet too (below,
                // with the whole quote); take it once.
                if !s.datagram || q.origin == ErrorOrigin::Local {
                    continue;
                }
                let Some(from) = q.offender.or(q.destination) else {
                    continue;
                };
                let err = IcmpError::classify(s.family, from, q.icmp_type, q.icmp_code, q.info);
                let quoted = buf.get(..q.len.min(buf.len())).unwrap_or(&[]);
                self.session.on_error(s.family, quoted, q.destination, err);
            }
            loop {
                match socket.recv_batch(&mut self.recv_bufs, &mut self.received) {
                    Ok(n) if n > 0 => {}
                    _ => break,
                }
                let now = Timestamp::now();
                for (r, buf) in self.received.iter().zip(&self.recv_bufs) {
                    let icmp = buf.get(r.icmp.clone()).unwrap_or(&[]);
                    handle(&mut self.session, s, r, icmp, now);
                }
                if self.received.len() < RECV_BATCH {
                    break;
                }
            }
        }
    }
}

fn handle(session: &mut Session, s: &FamilySocket, r: &Received, icmp: &[u8], now: Timestamp) {
    match probe::classify(s.family, icmp) {
        Incoming::EchoReply { id, sequence, data } => {
            let reply = EchoReply {
                from: r.source,
                // Datagram sockets only deliver replies to their own id.
                id: if s.datagram { session.id(s.family) } else { id },
                sequence,
                data,
                bytes: icmp.len(),
                ttl: r.ttl,
                kernel_rx_ns: r.kernel_time.map(|d| d.as_nanos() as u64),
            };
            session.on_reply(s.family, &reply, now);
        }
        Incoming::Error {
            icmp_type,
            code,
            info,
            quoted,
            quoted_icmp,
        } => {
            let err = IcmpError::classify(s.family, r.source, icmp_type, code, info);
            session.on_error(s.family, quoted_icmp, quoted.destination, err);
        }
        Incoming::Other => {}
    }
}

/// Sends `msgs` (the messages of `probes`) with as few `sendmmsg` as the
/// kernel allows; a full buffer puts the rest back in the session's queue
/// and waits for room. `Err` when the kernel is out of buffers (pause).
async fn send_all(
    socket: &AsyncIcmpSocket,
    msgs: &[(&[u8], IpAddr)],
    probes: &[Probe],
    session: &mut Session,
    at: Timestamp,
) -> io::Result<()> {
    let mut times = Vec::new();
    let mut offset = 0;
    while offset < msgs.len() {
        let Ok(mut guard) = socket.writable().await else {
            session.requeue(&probes[offset..]);
            return Ok(());
        };
        match guard.get_inner().send_batch(&msgs[offset..], &mut times) {
            Ok(n) if n > 0 => {
                session.on_sent(&probes[offset..offset + n], at);
                offset += n;
            }
            Ok(_) => {
                session.requeue(&probes[offset..]);
                return Ok(());
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                guard.clear_ready();
                session.requeue(&probes[offset..]);
                return Ok(());
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                session.requeue(&probes[offset..]);
                return Err(e);
            }
            Err(e) => {
                session.on_send_error(&probes[offset], at, &e.to_string());
                offset += 1;
            }
        }
    }
    Ok(())
}

/// Turns on `IP_HDRINCL` for a raw IPv4 socket and returns the header its
/// probes carry (DF, the TTL and TOS asked for, the source if one is
/// bound); `None` for other sockets or if the kernel refuses.
fn header_template(socket: &AsyncIcmpSocket, opts: &SweepOptions) -> Option<[u8; 20]> {
    let raw_v4 = socket.kind() == SocketKind::Raw && socket.family() == Family::V4;
    if !raw_v4 || socket.get_ref().set_header_included(true).is_err() {
        return None;
    }
    let src = match opts.socket.source {
        Some(IpAddr::V4(src)) => src,
        _ => std::net::Ipv4Addr::UNSPECIFIED,
    };
    let tos = opts.socket.tos.unwrap_or(0);
    // The kernel fills in what is left zero here: total length, checksum,
    // id (0 with DF), the destination from sendto, the source if unset.
    let header = icmpkit_wire::ip::ipv4::Repr {
        src,
        dst: std::net::Ipv4Addr::UNSPECIFIED,
        protocol: icmpkit_wire::ip::ipv4::PROTOCOL_ICMP,
        ttl: opts.socket.ttl.unwrap_or(64),
        ident: 0,
        dont_frag: true,
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

fn open(family: Family, opts: &SweepOptions) -> Result<AsyncIcmpSocket> {
    let mut socket_opts = opts.socket.clone();
    if family == Family::V4 && socket_opts.pmtu.is_none() {
        // DF set: the kernel then writes IP id 0 instead of drawing a hashed
        // per-destination id for every probe (5 % of the send path).
        socket_opts.pmtu = Some(PmtuDisc::Do);
    }
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
    AsyncIcmpSocket::new(socket).map_err(|source| Error::SocketUnavailable {
        context: "registering the socket with the runtime".into(),
        source,
    })
}

/// Sweeps `targets` (CIDRs, ranges, hosts or names) and returns one report
/// per target address in input order (a prefix gives one per address), as
/// icmplib's `multiping`. A name that does not resolve fails the call.
pub async fn multiping<S: AsRef<str>>(
    targets: &[S],
    opts: &SweepOptions,
) -> Result<Vec<PingReport>> {
    let specs = targets
        .iter()
        .map(|t| t.as_ref().parse())
        .collect::<Result<Vec<TargetSpec>>>()?;
    let (mut sweeper, name_errors) = Sweeper::start(&specs, opts).await?;
    if let Some(e) = name_errors.into_iter().next() {
        return Err(e.error);
    }
    let mut results = Vec::new();
    while let Some(event) = sweeper.next_event().await {
        if let SweepEvent::Host(h) = event {
            results.push(h);
        }
    }
    results.sort_by_key(|h| h.index);
    Ok(results.into_iter().map(|h| h.report).collect())
}

/// Blocking form of [`multiping`] (runs its own single-threaded runtime).
pub fn multiping_blocking<S: AsRef<str>>(
    targets: &[S],
    opts: &SweepOptions,
) -> Result<Vec<PingReport>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io {
            context: "starting the runtime".into(),
            source: e,
        })?;
    rt.block_on(multiping(targets, opts))
}

//! The I/O loop of a sweep: one socket per family for the whole sweep,
//! probes sent in `sendmmsg` batches as the session allows, replies taken
//! in `recvmmsg` batches (and errors from the error queue), events handed
//! out as they happen. Fast raw sweeps add sending threads
//! ([`super::sender`]); this task still receives everything.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use icmpkit_wire::Family;

use crate::engine::clock::{Timestamp, nanos};
use crate::engine::probe::{self, Incoming};
use crate::engine::stamp::StampKey;
use crate::ping::PingReport;
use crate::resolve::ToTarget;
use crate::socket::{
    AsyncIcmpSocket, ErrorOrigin, IcmpSocket, PmtuDisc, Privilege, Received, SocketKind,
    SocketOptions, TypeFilter,
};
use crate::{Error, IcmpError, Result};

use super::options::{MAX_AUTO_SENDERS, PARALLEL_MIN_RATE, PARALLEL_MIN_TARGETS, SweepOptions};
use super::report::{SweepEvent, SweepSummary};
use super::sender::{ExtraSender, MessageBuilder, NOBUFS_PAUSE, Shared, refusal_text};
use super::session::{EchoReply, Next, Probe, Session};
use super::targets::{NameError, TargetSet, TargetSpec, resolve_targets};

/// Receive buffer asked for by default (root may exceed `rmem_max`).
const RECV_BUFFER: usize = 16 << 20;
/// Messages per `recvmmsg`.
const RECV_BATCH: usize = 64;
/// Bytes per receive buffer: an IPv4 header plus an error quoting 576
/// bytes, or an IPv6 error quoting 1232, fit.
const RECV_BUF_LEN: usize = 2048;

/// How far the send of a batch got: the probes for socket `socket` from
/// `settled` on, and every probe for the sockets after it, are not yet
/// sent, refused or put back in the session.
#[derive(Debug, Clone, Copy)]
struct Sending {
    socket: usize,
    settled: usize,
}

#[derive(Debug)]
struct FamilySocket {
    socket: AsyncIcmpSocket,
    family: Family,
    datagram: bool,
}

/// A sweep in progress: pull events with [`Sweeper::next_event`] (the
/// streaming API); [`Sweeper::summary`] has the totals.
#[derive(Debug)]
pub struct Sweeper {
    shared: Arc<Shared>,
    sockets: Vec<FamilySocket>,
    senders: Vec<ExtraSender>,
    sender_count: usize,
    seed: u64,
    batch: Vec<Probe>,
    builder: MessageBuilder,
    /// The send of `batch` under way: set while it may wait for room in a
    /// socket's buffer, so that if `next_event` is dropped then, the next
    /// step gives the probes it had not sent back to the session (else
    /// they would never be sent nor expire, and the sweep never end).
    sending: Option<Sending>,
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
        let mut ip_header = None;
        for family in [Family::V4, Family::V6] {
            if !session.targets().has(family) {
                continue;
            }
            let socket = open(family, opts)?;
            let id = match socket.kind() {
                SocketKind::Datagram => socket.echo_id().unwrap_or(0),
                SocketKind::Raw => opts.id.unwrap_or_else(crate::engine::random::random),
            };
            session.set_id(family, id);
            if family == Family::V4 {
                ip_header = header_template(socket.get_ref(), opts);
            }
            sockets.push(FamilySocket {
                datagram: socket.kind() == SocketKind::Datagram,
                socket,
                family,
            });
        }
        let batch = opts.schedule.batch;
        let builder = MessageBuilder::new(
            session.shared_targets(),
            opts.payload_size,
            batch,
            ip_header,
        );
        let thread_count = sender_count(&session, &sockets, opts);
        let shared = Arc::new(Shared::new(session));
        let mut sweeper = Sweeper {
            shared,
            sockets,
            senders: Vec::new(),
            sender_count: thread_count,
            seed,
            batch: Vec::with_capacity(batch),
            builder,
            sending: None,
            recv_bufs: vec![vec![0; RECV_BUF_LEN]; RECV_BATCH],
            received: Vec::with_capacity(RECV_BATCH),
            done: false,
        };
        for _ in 1..thread_count {
            sweeper.spawn_sender(opts)?;
        }
        Ok(sweeper)
    }

    /// Starts one more sending thread with send-only sockets of its own
    /// (raw, receiving no ICMP type, so the kernel hands them no copies).
    fn spawn_sender(&mut self, opts: &SweepOptions) -> Result<()> {
        let mut sockets = Vec::new();
        for s in &self.sockets {
            let socket_opts = SocketOptions {
                // Receive nothing: the kernel then hands it no copies.
                type_filter: Some(TypeFilter::block_all()),
                ..family_options(s.family, opts)
            };
            let socket = IcmpSocket::open(s.family, Privilege::Privileged, &socket_opts)?;
            if s.family == Family::V4 && self.builder.has_ip_header() {
                socket
                    .set_header_included(true)
                    .map_err(|source| Error::SocketUnavailable {
                        context: "including the IP header on a sending socket".into(),
                        source,
                    })?;
            }
            sockets.push((s.family, socket));
        }
        let sender = ExtraSender::spawn(Arc::clone(&self.shared), sockets, self.builder.clone())
            .map_err(|source| Error::SocketUnavailable {
                context: "starting a sending thread".into(),
                source,
            })?;
        self.senders.push(sender);
        Ok(())
    }

    /// The seed of the order (pass it back to reproduce it).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The targets.
    pub fn targets(&self) -> &TargetSet {
        self.builder.targets()
    }

    /// Threads sending probes (1 unless [`SweepOptions::senders`] or a
    /// fast raw sweep asked for more).
    pub fn sender_count(&self) -> usize {
        self.sender_count
    }

    /// The kind of socket used (raw or datagram), for the first family.
    pub fn socket_kind(&self) -> Option<SocketKind> {
        self.sockets.first().map(|s| s.socket.kind())
    }

    /// The totals so far.
    pub fn summary(&self) -> SweepSummary {
        self.shared.session().summary(Timestamp::now())
    }

    /// Probes waiting for an answer.
    pub fn in_flight(&self) -> u64 {
        self.shared.session().in_flight()
    }

    /// Ends the sweep at the next step; targets not finished get no result.
    /// Never blocks: the sender threads are told to stop and left to end
    /// on their own (one may be inside a blocking `sendmmsg`).
    pub fn stop(&mut self) {
        self.done = true;
        self.detach_senders();
    }

    /// Stops sending and waiting (Ctrl-C) but, unlike [`Sweeper::stop`],
    /// still gives out what was learnt: with `count > 1` a
    /// [`SweepEvent::Host`] for every target with the probes sent to it so
    /// far, then `None`. Never blocks.
    pub fn finish_early(&mut self) {
        self.detach_senders();
        self.shared.session().cut_short(Timestamp::now());
    }

    /// Tells the sender threads to stop and lets them end on their own.
    fn detach_senders(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        for s in self.senders.drain(..) {
            s.detach();
        }
    }

    /// Tells the sender threads to stop and waits for them off the async
    /// thread, so that the totals include their last sends.
    async fn join_senders(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        while let Some(sender) = self.senders.pop() {
            sender.join().await;
        }
    }

    /// The next event, or `None` when the sweep is over. Cancel-safe.
    pub async fn next_event(&mut self) -> Option<SweepEvent> {
        loop {
            if let Some(e) = self.shared.session().poll_event() {
                return Some(e);
            }
            if self.done {
                self.join_senders().await;
                return None;
            }
            self.step().await;
        }
    }

    async fn step(&mut self) {
        self.requeue_unsent();
        let now = Timestamp::now();
        self.drain();
        let next = {
            let mut session = self.shared.session();
            session.expire(now);
            let next = session.next_batch(now, &mut self.batch);
            if next == Next::Send {
                self.builder.build(&session, &self.batch, now);
            }
            if matches!(next, Next::WaitUntil(_)) && session.has_events() {
                return;
            }
            next
        };
        match next {
            Next::Done => self.done = true,
            Next::Send => self.send(now).await,
            Next::WaitUntil(wake_ns) => {
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
            _ = self.shared.wake.notified() => {}
            _ = sleep => {}
        }
    }

    /// Sends the built batch, per family, one `sendmmsg` each. Cancel-safe:
    /// [`Sweeper::sending`] keeps track of what is sent.
    async fn send(&mut self, at: Timestamp) {
        let mut probes = Vec::new();
        for (i, s) in self.sockets.iter().enumerate() {
            let msgs = self.builder.of_family(&self.batch, s.family, &mut probes);
            let progress = self.sending.insert(Sending {
                socket: i,
                settled: 0,
            });
            let sent = send_all(
                &s.socket,
                &msgs,
                &probes,
                &self.shared,
                at,
                &mut progress.settled,
            )
            .await;
            // This family's probes are all settled: only the next ones are
            // left if the pause below is cut short.
            self.sending = Some(Sending {
                socket: i + 1,
                settled: 0,
            });
            if sent.is_err() {
                tokio::time::sleep(NOBUFS_PAUSE).await;
            }
        }
        self.sending = None;
    }

    /// Gives back to the session the probes of a send that was dropped
    /// before it was over (they go first in the next batch).
    fn requeue_unsent(&mut self) {
        let Some(sending) = self.sending.take() else {
            return;
        };
        let mut probes = Vec::new();
        let mut session = self.shared.session();
        for (i, s) in self.sockets.iter().enumerate().skip(sending.socket) {
            self.builder.of_family(&self.batch, s.family, &mut probes);
            let settled = if i == sending.socket {
                sending.settled
            } else {
                0
            };
            session.requeue(probes.get(settled..).unwrap_or_default());
        }
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
                self.shared
                    .session()
                    .on_error(s.family, quoted, q.destination, err);
            }
            loop {
                match socket.recv_batch(&mut self.recv_bufs, &mut self.received) {
                    Ok(n) if n > 0 => {}
                    _ => break,
                }
                let now = Timestamp::now();
                let mut session = self.shared.session();
                for (r, buf) in self.received.iter().zip(&self.recv_bufs) {
                    let icmp = buf.get(r.icmp.clone()).unwrap_or(&[]);
                    handle(&mut session, s, r, icmp, now);
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
        Incoming::EchoReply {
            id,
            sequence,
            data,
            checksum_ok,
        } => {
            let reply = EchoReply {
                from: r.source,
                // Datagram sockets only deliver replies to their own id.
                id: if s.datagram { session.id(s.family) } else { id },
                sequence,
                data,
                bytes: icmp.len(),
                ttl: r.ttl,
                kernel_rx_ns: r.kernel_time.map(nanos),
                checksum_ok,
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
        Incoming::Corrupted => session.on_corrupted(),
        Incoming::Other => {}
    }
}

/// Sends `msgs` (the messages of `probes`) with as few `sendmmsg` as the
/// kernel allows; a full buffer puts the rest back in the session's queue
/// and waits for room. `Err` when the kernel is out of buffers (pause).
/// `settled` counts the probes sent, refused or put back so far, kept by
/// the caller: this may be dropped while it waits for room, and the
/// probes from `settled` on are then still the caller's to put back.
async fn send_all(
    socket: &AsyncIcmpSocket,
    msgs: &[(&[u8], SocketAddr)],
    probes: &[Probe],
    shared: &Shared,
    at: Timestamp,
    settled: &mut usize,
) -> io::Result<()> {
    let mut times = Vec::new();
    while *settled < msgs.len() {
        let Ok(mut guard) = socket.writable().await else {
            requeue_rest(shared, probes, settled);
            return Ok(());
        };
        let offset = *settled;
        match guard.get_inner().send_batch(&msgs[offset..], &mut times) {
            Ok(n) if n > 0 => {
                shared.session().on_sent(&probes[offset..offset + n], at);
                *settled += n;
            }
            Ok(_) => {
                requeue_rest(shared, probes, settled);
                return Ok(());
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                guard.clear_ready();
                requeue_rest(shared, probes, settled);
                return Ok(());
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                requeue_rest(shared, probes, settled);
                return Err(e);
            }
            Err(e) => {
                shared
                    .session()
                    .on_send_error(&probes[offset], at, &refusal_text(&e));
                *settled += 1;
            }
        }
    }
    Ok(())
}

/// Puts the probes from `settled` on back in the session's queue: they
/// are all settled then.
fn requeue_rest(shared: &Shared, probes: &[Probe], settled: &mut usize) {
    shared
        .session()
        .requeue(probes.get(*settled..).unwrap_or_default());
    *settled = probes.len();
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

fn open(family: Family, opts: &SweepOptions) -> Result<AsyncIcmpSocket> {
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
    AsyncIcmpSocket::register(socket)
}

impl Drop for Sweeper {
    fn drop(&mut self) {
        self.detach_senders();
    }
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

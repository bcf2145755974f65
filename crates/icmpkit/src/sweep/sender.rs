//! Sending side of a sweep: probe batches turned into wire messages, and
//! the extra sending threads that spread a fast sweep over several CPUs.
//!
//! Why threads: on Linux most of the cost of a probe is paid inside
//! `sendmmsg` (routing, the device, and, on a virtual link, the peer's own
//! processing in the sender's softirq). One task sending saturates one CPU
//! at about 110–150k probes/s here; each extra thread with its own send-only
//! socket adds another CPU's worth (like zmap's `--sender-threads`). The
//! threads share the one [`Session`] behind a mutex, held only to take a
//! batch and to record it sent, never across a system call.

use std::io;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use icmpkit_wire::Family;

use crate::engine::clock::Timestamp;
use crate::engine::probe;
use crate::resolve::family_of;
use crate::socket::{IcmpSocket, SendTime};

use super::session::{Next, Probe, Session};
use super::targets::TargetSet;

/// Longest an extra sender sleeps before it looks at the session again
/// (retries and waves may make probes due sooner than it was told).
const MAX_IDLE: Duration = Duration::from_millis(2);
/// Shortest sleep of an idle extra sender: a deadline already passed waits
/// for the sweep's task to expire it, which this thread leaves to it.
const MIN_IDLE: Duration = Duration::from_micros(200);
/// Pause after the kernel reports no buffer space (ENOBUFS).
pub(super) const NOBUFS_PAUSE: Duration = Duration::from_millis(1);

/// What the sweep's task and its extra senders share.
#[derive(Debug)]
pub(super) struct Shared {
    session: Mutex<Session>,
    /// Rung by an extra sender that left events for the task to hand out.
    pub(super) wake: tokio::sync::Notify,
    /// Set when the sweep is over or dropped: extra senders return.
    pub(super) stop: AtomicBool,
}

impl Shared {
    pub(super) fn new(session: Session) -> Self {
        Shared {
            session: Mutex::new(session),
            wake: tokio::sync::Notify::new(),
            stop: AtomicBool::new(false),
        }
    }

    /// The session (a thread that panicked while holding it left it
    /// consistent enough to report from: every update is a few fields).
    pub(super) fn session(&self) -> MutexGuard<'_, Session> {
        self.session.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Turns batches of probes into messages: the stamped payload, the echo
/// request, and for raw IPv4 sockets with `IP_HDRINCL` the IPv4 header.
#[derive(Debug, Clone)]
pub(super) struct MessageBuilder {
    targets: Arc<TargetSet>,
    payload: Vec<u8>,
    messages: Vec<Vec<u8>>,
    /// The IPv4 header template, if IPv4 messages carry their header.
    ip_header: Option<[u8; 20]>,
}

impl MessageBuilder {
    pub(super) fn new(
        targets: Arc<TargetSet>,
        payload_size: usize,
        batch: usize,
        ip_header: Option<[u8; 20]>,
    ) -> Self {
        MessageBuilder {
            targets,
            payload: vec![0; payload_size],
            messages: vec![Vec::with_capacity(payload_size + 28); batch],
            ip_header,
        }
    }

    /// True if IPv4 messages carry their IP header (`IP_HDRINCL`).
    pub(super) fn has_ip_header(&self) -> bool {
        self.ip_header.is_some()
    }

    /// The targets the messages go to.
    pub(super) fn targets(&self) -> &TargetSet {
        &self.targets
    }

    /// Builds the message of each probe of `batch`, stamped with `at`.
    pub(super) fn build(&mut self, session: &Session, batch: &[Probe], at: Timestamp) {
        if self.messages.len() < batch.len() {
            self.messages.resize(batch.len(), Vec::new());
        }
        let mut messages = std::mem::take(&mut self.messages);
        for (p, message) in batch.iter().zip(&mut messages) {
            self.build_one(session, p, at, message);
        }
        self.messages = messages;
    }

    /// Builds the message of `probe`, stamped with `at`, into `message`.
    pub(super) fn build_one(
        &mut self,
        session: &Session,
        p: &Probe,
        at: Timestamp,
        message: &mut Vec<u8>,
    ) {
        session.fill_payload(p, at, &mut self.payload);
        let address = self
            .targets
            .address(p.index)
            .unwrap_or(IpAddr::from([0u8; 4]));
        let family = family_of(address);
        message.clear();
        if let (Some(mut header), IpAddr::V4(dst)) = (self.ip_header, address) {
            // A non-zero IP id: with id 0 the kernel draws a hashed
            // per-destination id for each packet. These probes are
            // never fragmented (DF, or small enough: header_template),
            // so the id identifies no fragments (RFC 6864).
            let ident = (p.index as u16 ^ p.sequence).max(1);
            header[4..6].copy_from_slice(&ident.to_be_bytes());
            header[16..20].copy_from_slice(&dst.octets());
            message.extend_from_slice(&header);
        }
        probe::append_echo_request(
            family,
            session.id(family),
            p.sequence,
            &self.payload,
            message,
        );
    }

    /// The built messages of `batch` that go to `family`, beside their
    /// probes; destinations carry the IPv6 zone of link-local targets.
    pub(super) fn of_family<'a>(
        &'a self,
        batch: &[Probe],
        family: Family,
        probes: &mut Vec<Probe>,
    ) -> Vec<(&'a [u8], SocketAddr)> {
        probes.clear();
        let mut msgs = Vec::with_capacity(batch.len());
        for (p, message) in batch.iter().zip(&self.messages) {
            let Some((address, scope_id)) = self.targets.destination(p.index) else {
                continue;
            };
            if family_of(address) != family {
                continue;
            }
            let destination = match address {
                IpAddr::V4(v4) => SocketAddr::from((v4, 0)),
                IpAddr::V6(v6) => SocketAddrV6::new(v6, 0, 0, scope_id).into(),
            };
            probes.push(*p);
            msgs.push((message.as_slice(), destination));
        }
        msgs
    }
}

/// A thread that takes batches from the shared session and sends them on
/// its own blocking, send-only sockets (one per family).
#[derive(Debug)]
pub(super) struct ExtraSender {
    handle: Option<JoinHandle<()>>,
}

impl ExtraSender {
    /// Starts a sender on `sockets` (raw, blocking, receiving nothing).
    pub(super) fn spawn(
        shared: Arc<Shared>,
        sockets: Vec<(Family, IcmpSocket)>,
        builder: MessageBuilder,
    ) -> io::Result<Self> {
        let handle = std::thread::Builder::new()
            .name("icmpkit-sweep-send".into())
            .spawn(move || run(&shared, &sockets, builder))?;
        Ok(ExtraSender {
            handle: Some(handle),
        })
    }

    /// Waits for the thread to return (after [`Shared::stop`] is set) on
    /// tokio's blocking pool: the thread may be inside a blocking
    /// `sendmmsg` (a full send buffer), which must not hold up the async
    /// thread. Dropped before it is over, the wait goes on without anyone
    /// waiting.
    pub(super) async fn join(mut self) {
        let Some(handle) = self.handle.take() else {
            return;
        };
        // A panic in the thread has already been reported by the hook.
        let _ = tokio::task::spawn_blocking(move || handle.join()).await;
    }

    /// Lets the thread end on its own (after [`Shared::stop`] is set):
    /// what a synchronous stop or a drop can do without blocking. It sends
    /// at most the batch it holds, then returns.
    pub(super) fn detach(mut self) {
        drop(self.handle.take());
    }
}

fn run(shared: &Shared, sockets: &[(Family, IcmpSocket)], mut builder: MessageBuilder) {
    let mut batch = Vec::new();
    let mut probes = Vec::new();
    let mut times: Vec<SendTime> = Vec::new();
    while !shared.stop.load(Ordering::Relaxed) {
        let now = Timestamp::now();
        let next = {
            let mut session = shared.session();
            let next = session.next_batch(now, &mut batch);
            if next == Next::Send {
                builder.build(&session, &batch, now);
            }
            next
        };
        match next {
            Next::Send => {}
            Next::WaitUntil(wake_ns) => {
                let wait = Duration::from_nanos(wake_ns.saturating_sub(now.monotonic_ns));
                std::thread::sleep(wait.clamp(MIN_IDLE, MAX_IDLE));
                continue;
            }
            Next::Done => return,
        }
        for (family, socket) in sockets {
            let msgs = builder.of_family(&batch, *family, &mut probes);
            send_blocking(shared, socket, &msgs, &probes, now, &mut times);
        }
        if shared.session().has_events() {
            shared.wake.notify_one();
        }
    }
}

/// Sends `msgs` on a blocking socket, recording each probe as sent,
/// refused, or put back (no buffer space).
fn send_blocking(
    shared: &Shared,
    socket: &IcmpSocket,
    msgs: &[(&[u8], SocketAddr)],
    probes: &[Probe],
    at: Timestamp,
    times: &mut Vec<SendTime>,
) {
    let mut offset = 0;
    while offset < msgs.len() {
        match socket.send_batch(msgs[offset..].iter().copied(), times) {
            Ok(n) if n > 0 => {
                shared.session().on_sent(&probes[offset..offset + n], at);
                offset += n;
            }
            Ok(_) => break,
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                std::thread::sleep(NOBUFS_PAUSE);
                break;
            }
            Err(e) => {
                shared
                    .session()
                    .on_send_error(&probes[offset], at, &refusal_text(&e));
                offset += 1;
            }
        }
    }
    if offset < msgs.len() {
        shared.session().requeue(&probes[offset..]);
    }
}

/// The OS's words for a refused send, as fping prints them ("Message too
/// long"), without std's " (os error 90)".
pub(super) fn refusal_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(end) if e.raw_os_error().is_some() => text[..end].to_string(),
        _ => text,
    }
}

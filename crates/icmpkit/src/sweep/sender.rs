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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use icmpkit_wire::Family;

use crate::engine::clock::Timestamp;
use crate::engine::probe;
use crate::resolve::family_of;
use crate::socket::{Frame, IcmpSocket, PacketSender};

use super::egress::{Decision, PacketPlan};
use super::frames::FrameTemplate;
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
    /// Probes the packet sender sent as frames.
    pub(super) frames_sent: AtomicU64,
    /// Of those, the frames sent through a transmit ring.
    pub(super) ring_frames_sent: AtomicU64,
}

impl Shared {
    pub(super) fn new(session: Session) -> Self {
        Shared {
            session: Mutex::new(session),
            wake: tokio::sync::Notify::new(),
            stop: AtomicBool::new(false),
            frames_sent: AtomicU64::new(0),
            ring_frames_sent: AtomicU64::new(0),
        }
    }

    /// Counts `sent` frames, sent through a ring if `ring`.
    pub(super) fn count_frames(&self, sent: usize, ring: bool) {
        self.frames_sent.fetch_add(sent as u64, Ordering::Relaxed);
        if ring {
            self.ring_frames_sent
                .fetch_add(sent as u64, Ordering::Relaxed);
        }
    }

    /// The session (a thread that panicked while holding it left it
    /// consistent enough to report from: every update is a few fields).
    pub(super) fn session(&self) -> MutexGuard<'_, Session> {
        self.session.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The IPv4 id of `p`'s probe when icmpkit writes the header: non-zero
/// (with id 0 the kernel draws a hashed per-destination id for each
/// packet). These probes are never fragmented (DF, or small enough:
/// header_template; frames no larger than the link's MTU), so the id
/// identifies no fragments (RFC 6864).
fn ip_ident(p: &Probe) -> u16 {
    (p.index as u16 ^ p.sequence).max(1)
}

/// How a built message goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Via {
    /// Through the family's ICMP socket.
    Socket,
    /// As a whole frame on the packet socket, out of this interface.
    Frame(u32),
}

/// The packet sender's side of a builder: the plan that says where each
/// probe goes, and a frame template per egress (made when first used).
#[derive(Debug, Clone)]
pub(super) struct FrameMaker {
    plan: Arc<PacketPlan>,
    templates: Vec<Option<(FrameTemplate, u32)>>,
    stamp: Vec<u8>,
}

impl FrameMaker {
    pub(super) fn new(plan: Arc<PacketPlan>) -> Self {
        FrameMaker {
            plan,
            templates: Vec::new(),
            stamp: vec![0; crate::engine::stamp::TAGGED_STAMP_LEN],
        }
    }

    /// The template of egress number `egress` and its interface.
    fn template(&mut self, egress: usize, session: &Session) -> Option<&(FrameTemplate, u32)> {
        if self.templates.len() <= egress {
            self.templates.resize(egress + 1, None);
        }
        if self.templates[egress].is_none() {
            let e = self.plan.egress(egress)?;
            let id = session.id(family_of(e.source));
            let template = FrameTemplate::new(e.mac, e.source, id, &self.plan.settings());
            self.templates[egress] = Some((template, e.ifindex));
        }
        self.templates[egress].as_ref()
    }

    /// Writes `probe`'s frame into `message` if it can go as one.
    fn build(
        &mut self,
        session: &Session,
        p: &Probe,
        destination: (IpAddr, u32),
        at: Timestamp,
        message: &mut Vec<u8>,
    ) -> Option<Via> {
        let Decision::Frame {
            egress,
            next_hop_mac,
        } = self.plan.decide(destination.0, destination.1)
        else {
            return None;
        };
        let mut stamp = std::mem::take(&mut self.stamp);
        session.fill_payload(p, at, &mut stamp);
        let built = self.template(egress, session).map(|(template, ifindex)| {
            let ident = ip_ident(p);
            template.write(
                message,
                next_hop_mac,
                destination.0,
                ident,
                p.sequence,
                &stamp,
            );
            Via::Frame(*ifindex)
        });
        self.stamp = stamp;
        built
    }

    /// Why some probes went through the raw socket.
    pub(super) fn notes(&self) -> Vec<String> {
        self.plan.notes()
    }
}

/// Turns batches of probes into messages: the stamped payload, the echo
/// request, and for raw IPv4 sockets with `IP_HDRINCL` the IPv4 header;
/// with the packet sender, whole frames for the probes that can go as one.
#[derive(Debug, Clone)]
pub(super) struct MessageBuilder {
    targets: Arc<TargetSet>,
    payload: Vec<u8>,
    messages: Vec<Vec<u8>>,
    /// How each of `messages` goes.
    vias: Vec<Via>,
    /// The IPv4 header template, if IPv4 messages carry their header.
    ip_header: Option<[u8; 20]>,
    /// The packet sender, if the sweep uses it.
    frames: Option<FrameMaker>,
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
            messages: vec![Vec::with_capacity(payload_size + 62); batch],
            vias: vec![Via::Socket; batch],
            ip_header,
            frames: None,
        }
    }

    /// Builds frames for the probes the packet sender can send.
    pub(super) fn set_frames(&mut self, frames: FrameMaker) {
        self.frames = Some(frames);
    }

    /// The packet sender, if on.
    pub(super) fn frames(&self) -> Option<&FrameMaker> {
        self.frames.as_ref()
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
            self.vias.resize(batch.len(), Via::Socket);
        }
        let mut messages = std::mem::take(&mut self.messages);
        for (i, (p, message)) in batch.iter().zip(&mut messages).enumerate() {
            self.vias[i] = self.build_one(session, p, at, message);
        }
        self.messages = messages;
    }

    /// Builds the message of `probe`, stamped with `at`, into `message`:
    /// a frame if the packet sender can send it, else the socket's message.
    pub(super) fn build_one(
        &mut self,
        session: &Session,
        p: &Probe,
        at: Timestamp,
        message: &mut Vec<u8>,
    ) -> Via {
        if let (Some(frames), Some(destination)) =
            (self.frames.as_mut(), self.targets.destination(p.index))
            && let Some(via) = frames.build(session, p, destination, at, message)
        {
            return via;
        }
        session.fill_payload(p, at, &mut self.payload);
        let address = self
            .targets
            .address(p.index)
            .unwrap_or(IpAddr::from([0u8; 4]));
        let family = family_of(address);
        message.clear();
        if let (Some(mut header), IpAddr::V4(dst)) = (self.ip_header, address) {
            let ident = ip_ident(p);
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
        Via::Socket
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
        for ((p, message), via) in batch.iter().zip(&self.messages).zip(&self.vias) {
            if *via != Via::Socket {
                continue;
            }
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

impl MessageBuilder {
    /// The built frames of `batch`, beside their probes.
    pub(super) fn frames_of<'a>(
        &'a self,
        batch: &[Probe],
        probes: &mut Vec<Probe>,
    ) -> Vec<Frame<'a>> {
        probes.clear();
        let mut frames = Vec::new();
        for ((p, message), via) in batch.iter().zip(&self.messages).zip(&self.vias) {
            if let Via::Frame(ifindex) = via {
                probes.push(*p);
                frames.push((message.as_slice(), *ifindex));
            }
        }
        frames
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
        packet: Option<PacketSender>,
        builder: MessageBuilder,
    ) -> io::Result<Self> {
        let handle = std::thread::Builder::new()
            .name("icmpkit-sweep-send".into())
            .spawn(move || run(&shared, &sockets, packet.as_ref(), builder))?;
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
        if handle.is_finished() {
            // Nothing to wait for (it returned when the sending was
            // over): no blocking-pool thread started at the very end.
            let _ = handle.join();
            return;
        }
        let _ = tokio::task::spawn_blocking(move || handle.join()).await;
    }

    /// Lets the thread end on its own (after [`Shared::stop`] is set):
    /// what a synchronous stop or a drop can do without blocking. It sends
    /// at most the batch it holds, then returns.
    pub(super) fn detach(mut self) {
        drop(self.handle.take());
    }
}

fn run(
    shared: &Shared,
    sockets: &[(Family, IcmpSocket)],
    packet: Option<&PacketSender>,
    mut builder: MessageBuilder,
) {
    let mut batch = Vec::new();
    let mut probes = Vec::new();
    while !shared.stop.load(Ordering::Relaxed) {
        let now = Timestamp::now();
        let next = {
            let mut session = shared.session();
            let next = session.next_batch(now, &mut batch);
            if next == Next::Send {
                builder.build(&session, &batch, now);
            } else if !session.may_send_more() {
                // Only answers are awaited: the sockets close now (a
                // packet socket's close waits for an RCU grace period)
                // rather than at the end. The sweep's task sends anything
                // put back meanwhile.
                return;
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
        if let Some(packet) = packet {
            let frames = builder.frames_of(&batch, &mut probes);
            send_blocking(shared, &probes, now, |offset| {
                let sent = packet.send_batch(&frames[offset..])?;
                shared.count_frames(sent, packet.uses_ring());
                Ok(sent)
            });
        }
        for (family, socket) in sockets {
            let msgs = builder.of_family(&batch, *family, &mut probes);
            send_blocking(shared, &probes, now, |offset| {
                socket.send_batch_untimed(msgs[offset..].iter().copied())
            });
        }
        if shared.session().has_events() {
            shared.wake.notify_one();
        }
    }
}

/// Sends the messages of `probes` on a blocking socket (`send(offset)`
/// sends those from `offset` on), recording each probe as sent, refused,
/// or put back (no buffer space).
fn send_blocking(
    shared: &Shared,
    probes: &[Probe],
    at: Timestamp,
    mut send: impl FnMut(usize) -> io::Result<usize>,
) {
    let mut offset = 0;
    while offset < probes.len() {
        match send(offset) {
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
    if offset < probes.len() {
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

//! A sweep's sockets as the driver sees them: one ICMP socket per family
//! (the transmit's `via` picks it), probes sent in `sendmmsg` batches,
//! packets read in `recvmmsg` batches and handed to the driver one at a
//! time. The extra sending threads of a fast raw sweep ([`super::sender`])
//! are a detail of this transport: they send on their own send-only
//! sockets, and ring [`Shared::wake`] when they leave events, which wakes
//! the driver as readiness would.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use icmpkit_wire::Family;

use crate::driver::{BoxFuture, IcmpTransport, Transmit, Transport};
use crate::engine::clock::Timestamp;
use crate::socket::{Frame, PacketSender, QueuedError, Readiness, Received};

use super::sender::{ExtraSender, NOBUFS_PAUSE, Shared};

/// Messages per `recvmmsg`.
const RECV_BATCH: usize = 64;
/// Bytes per receive buffer: an IPv4 header plus an error quoting 576
/// bytes, or an IPv6 error quoting 1232, fit.
const RECV_BUF_LEN: usize = 2048;

/// Bytes per receive buffer for echo data of `payload_size`: the whole
/// reply with the longest IPv4 header (60) fits, however big the probes
/// (`-b` up to 65,527); a cut reply would fail its checksum.
pub(super) fn recv_buf_len(payload_size: usize) -> usize {
    RECV_BUF_LEN.max(60 + 8 + payload_size)
}

/// The `via` of a transmit whose message is a whole frame for the packet
/// socket (its `scope_id` then names the interface).
pub(super) const PACKET_VIA: usize = usize::MAX - 1;

/// What a receive tells about a packet: the socket's family and kind
/// beside what the kernel said.
#[derive(Debug)]
pub(crate) struct SweepMeta {
    pub received: Received,
    pub family: Family,
    /// Datagram sockets deliver only their own echo id.
    pub datagram: bool,
    /// Both clocks read right after the `recvmmsg` that brought it.
    pub read_at: Timestamp,
}

/// One socket of the set.
#[derive(Debug)]
pub(super) struct FamilySocket {
    pub transport: IcmpTransport,
    pub family: Family,
    pub datagram: bool,
}

/// Packets read by one `recvmmsg` and not yet handed out.
#[derive(Debug)]
struct RecvBatch {
    bufs: Vec<Vec<u8>>,
    received: Vec<Received>,
    /// The next of `received` to hand out.
    next: usize,
    /// The socket they came from.
    socket: usize,
    /// Both clocks, read once right after the `recvmmsg`: a reply's RTT
    /// ends no earlier than its arrival, as with a read per packet.
    read_at: Timestamp,
}

/// The sweep's sockets, and its extra sending threads.
#[derive(Debug)]
pub(crate) struct SweepTransport {
    sockets: Vec<FamilySocket>,
    /// The packet sender's socket (non-blocking), if it is on; closed
    /// once the session will send no more ([`SweepTransport::retire_packet`]).
    packet: Mutex<Option<PacketSender>>,
    /// The packet sender is on (its socket may be closed meanwhile).
    packet_on: bool,
    shared: Arc<Shared>,
    senders: Vec<ExtraSender>,
    recv: Mutex<RecvBatch>,
    /// The socket whose buffer was full at the last send.
    blocked: AtomicUsize,
    /// The last send found the kernel out of buffers (ENOBUFS): the wait
    /// for room is a pause (no readiness edge comes for it).
    out_of_buffers: AtomicBool,
}

impl SweepTransport {
    pub(super) fn new(sockets: Vec<FamilySocket>, shared: Arc<Shared>, recv_len: usize) -> Self {
        SweepTransport {
            sockets,
            packet: Mutex::new(None),
            packet_on: false,
            shared,
            senders: Vec::new(),
            recv: Mutex::new(RecvBatch {
                bufs: vec![vec![0; recv_len]; RECV_BATCH],
                received: Vec::with_capacity(RECV_BATCH),
                next: 0,
                socket: 0,
                read_at: Timestamp::default(),
            }),
            blocked: AtomicUsize::new(0),
            out_of_buffers: AtomicBool::new(false),
        }
    }

    pub(super) fn sockets(&self) -> &[FamilySocket] {
        &self.sockets
    }

    /// Sends frames on `packet` (the packet sender).
    pub(super) fn set_packet_socket(&mut self, packet: PacketSender) {
        *self
            .packet
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner) = Some(packet);
        self.packet_on = true;
    }

    /// Closes the packet sender's socket on a thread of its own once the
    /// session will send no more: a packet socket's close waits for an
    /// RCU grace period or three (its ring), which would otherwise come
    /// after the sweep's last timeout, at exit.
    fn retire_packet(&self) {
        if !self.packet_on || self.shared.session().may_send_more() {
            return;
        }
        let Some(packet) = self.packet_guard().take() else {
            return;
        };
        let closing = std::thread::Builder::new()
            .name("icmpkit-close".into())
            .spawn(move || drop(packet));
        if let Err(e) = closing {
            tracing::debug!("closing the packet socket here: {e}");
        }
    }

    fn packet_guard(&self) -> std::sync::MutexGuard<'_, Option<PacketSender>> {
        self.packet.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends the run of frames at the start of `transmits`.
    fn send_frames(&self, transmits: &[Transmit]) -> io::Result<usize> {
        if !self.packet_on {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a frame without a packet socket",
            ));
        }
        let mut guard = self.packet_guard();
        if guard.is_none() {
            // A probe put back after the socket was closed: a plain one
            // (no ring) sends it.
            *guard = Some(PacketSender::open(true, true, None).map_err(io::Error::other)?);
        }
        let Some(packet) = guard.as_ref() else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        let frames: Vec<Frame<'_>> = transmits
            .iter()
            .take_while(|t| t.via == PACKET_VIA)
            .map(|t| (t.message.as_slice(), t.scope_id))
            .collect();
        match packet.send_batch(&frames) {
            Ok(sent) => {
                self.shared.count_frames(sent, packet.uses_ring());
                Ok(sent)
            }
            // No readiness edge comes for a packet socket's full buffer
            // or the device queue: pause, as for ENOBUFS.
            Err(e)
                if e.raw_os_error() == Some(libc::ENOBUFS)
                    || e.kind() == io::ErrorKind::WouldBlock =>
            {
                self.out_of_buffers.store(true, Ordering::Relaxed);
                Err(io::ErrorKind::WouldBlock.into())
            }
            Err(e) => Err(e),
        }
    }

    /// Adds a sending thread (already running).
    pub(super) fn add_sender(&mut self, sender: ExtraSender) {
        self.senders.push(sender);
    }

    /// Tells the sending threads to stop and lets them end on their own
    /// (one may be inside a blocking `sendmmsg`): never blocks.
    pub(super) fn detach_senders(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        for s in self.senders.drain(..) {
            s.detach();
        }
    }

    /// Tells the sending threads to stop; the future waits for them off
    /// the async thread, so that the totals include their last sends.
    pub(super) fn join_senders(&mut self) -> BoxFuture<()> {
        self.shared.stop.store(true, Ordering::Relaxed);
        let senders = std::mem::take(&mut self.senders);
        Box::pin(async move {
            for sender in senders {
                sender.join().await;
            }
        })
    }

    fn recv_batch(&self) -> std::sync::MutexGuard<'_, RecvBatch> {
        self.recv.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for SweepTransport {
    fn drop(&mut self) {
        self.detach_senders();
    }
}

/// Where a transmit goes, with the IPv6 zone of a link-local target.
fn socket_address(transmit: &Transmit) -> io::Result<SocketAddr> {
    match transmit.destination {
        Some(IpAddr::V4(v4)) => Ok(SocketAddr::from((v4, 0))),
        Some(IpAddr::V6(v6)) => Ok(SocketAddrV6::new(v6, 0, 0, transmit.scope_id).into()),
        None => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no destination for the message",
        )),
    }
}

impl Transport for SweepTransport {
    type Meta = SweepMeta;

    fn send(&self, transmit: &Transmit) -> io::Result<()> {
        match self.send_batch(std::slice::from_ref(transmit))? {
            0 => Err(io::ErrorKind::WouldBlock.into()),
            _ => Ok(()),
        }
    }

    /// One `sendmmsg` of the first messages that go through the same
    /// socket.
    fn send_batch(&self, transmits: &[Transmit]) -> io::Result<usize> {
        let Some(via) = transmits.first().map(|t| t.via) else {
            return Ok(0);
        };
        if via == PACKET_VIA {
            return self.send_frames(transmits);
        }
        let Some(socket) = self.sockets.get(via) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no socket for the message's family",
            ));
        };
        // The first message's error is its own; a later one ends the batch
        // before it (the next call starts there and gets the error).
        socket_address(&transmits[0])?;
        let msgs = transmits
            .iter()
            .take_while(|t| t.via == via)
            .map_while(|t| socket_address(t).ok().map(|a| (t.message.as_slice(), a)));
        match socket.transport.socket().send_batch_untimed(msgs) {
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                // Not the probe's fault: put back and pause, as a full
                // buffer is waited out.
                self.out_of_buffers.store(true, Ordering::Relaxed);
                Err(io::ErrorKind::WouldBlock.into())
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.blocked.store(via, Ordering::Relaxed);
                self.out_of_buffers.store(false, Ordering::Relaxed);
                Err(e)
            }
            other => other,
        }
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<SweepMeta> {
        let mut batch = self.recv_batch();
        if batch.next >= batch.received.len() {
            refill(&self.sockets, &mut batch)?;
        }
        let RecvBatch {
            bufs,
            received,
            next,
            socket,
            read_at,
        } = &mut *batch;
        let r = received[*next].clone();
        let len = r.len.min(buf.len()).min(bufs[*next].len());
        buf[..len].copy_from_slice(&bufs[*next][..len]);
        *next += 1;
        let socket = &self.sockets[*socket];
        Ok(SweepMeta {
            received: r,
            family: socket.family,
            datagram: socket.datagram,
            read_at: *read_at,
        })
    }

    fn received_at(&self, meta: &SweepMeta) -> Option<Timestamp> {
        Some(meta.read_at)
    }

    fn recv_error(&self, buf: &mut [u8]) -> io::Result<Option<QueuedError>> {
        for s in &self.sockets {
            match s.transport.recv_error(buf) {
                Ok(None) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => return other,
            }
        }
        Ok(None)
    }

    fn wait_ready(&self) -> BoxFuture<io::Result<Readiness>> {
        self.retire_packet();
        let waits: Vec<_> = self
            .sockets
            .iter()
            .map(|s| s.transport.wait_ready())
            .collect();
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            let sockets = AnyReady(waits);
            tokio::select! {
                ready = sockets => ready,
                // A sending thread left events: go round and hand them out.
                _ = shared.wake.notified() => Ok(Readiness {
                    readable: true,
                    error: false,
                }),
            }
        })
    }

    fn clear_ready(&self) {
        for s in &self.sockets {
            s.transport.clear_ready();
        }
    }

    fn wait_writable(&self) -> BoxFuture<io::Result<()>> {
        if self.out_of_buffers.swap(false, Ordering::Relaxed) {
            return Box::pin(async {
                tokio::time::sleep(NOBUFS_PAUSE).await;
                Ok(())
            });
        }
        match self.sockets.get(self.blocked.load(Ordering::Relaxed)) {
            Some(s) => s.transport.wait_writable(),
            None => Box::pin(async { Ok(()) }),
        }
    }
}

/// Reads the next `recvmmsg` batch into `batch`, from the first socket
/// that has packets; `WouldBlock` when none has.
fn refill(sockets: &[FamilySocket], batch: &mut RecvBatch) -> io::Result<()> {
    batch.next = 0;
    batch.received.clear();
    for (i, s) in sockets.iter().enumerate() {
        let socket = s.transport.socket();
        match socket.recv_batch(&mut batch.bufs, &mut batch.received) {
            Ok(n) if n > 0 => {
                batch.read_at = Timestamp::now();
                batch.socket = i;
                return Ok(());
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => {
                batch.received.clear();
                return Err(e);
            }
        }
    }
    batch.received.clear();
    Err(io::ErrorKind::WouldBlock.into())
}

/// Ready when any of the sockets' readiness waits is.
struct AnyReady(Vec<BoxFuture<io::Result<Readiness>>>);

impl Future for AnyReady {
    type Output = io::Result<Readiness>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        for wait in &mut self.0 {
            if let Poll::Ready(ready) = wait.as_mut().poll(cx) {
                return Poll::Ready(ready);
            }
        }
        Poll::Pending
    }
}

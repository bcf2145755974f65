//! What the driver needs of a command's sockets, and the ICMP socket's
//! implementation of it.

use std::future::Future;
use std::io;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::Error;
use crate::engine::clock::Timestamp;
use crate::socket::{IcmpSocket, QueuedError, Readiness, Received, SharedIcmpSocket};

use super::{BoxFuture, Transmit};

/// The socket set a command probes through. Every call is non-blocking:
/// "nothing now" is `WouldBlock` (or `Ok(None)` for the error queue).
pub(crate) trait Transport {
    /// What a receive tells about the packet.
    type Meta;

    /// Sends one message; `WouldBlock` when the send buffer is full.
    fn send(&self, transmit: &Transmit) -> io::Result<()>;

    /// Sends the first messages of `transmits` (at least one) and says how
    /// many left; an error (`WouldBlock`: the buffer is full) is the first
    /// message's, none having left. The default sends one at a time; a
    /// transport with `sendmmsg` sends many in one call.
    fn send_batch(&self, transmits: &[Transmit]) -> io::Result<usize> {
        let mut sent = 0;
        for transmit in transmits {
            match self.send(transmit) {
                Ok(()) => sent += 1,
                Err(e) if sent == 0 => return Err(e),
                // The next call starts with this message and gets its error.
                Err(_) => break,
            }
        }
        Ok(sent)
    }

    /// Receives one packet into `buf`.
    fn recv(&self, buf: &mut [u8]) -> io::Result<Self::Meta>;

    /// When the packet `meta` describes was read, if the transport read the
    /// clock then (one read per `recvmmsg` batch instead of one per
    /// packet); `None` (the default): the driver reads the clock itself.
    fn received_at(&self, _meta: &Self::Meta) -> Option<Timestamp> {
        None
    }

    /// Takes one error-queue entry, its quote written into `buf`.
    fn recv_error(&self, buf: &mut [u8]) -> io::Result<Option<QueuedError>>;

    /// Waits until a packet or an error-queue entry may be waiting. The
    /// readiness stays set until [`Transport::clear_ready`].
    fn wait_ready(&self) -> BoxFuture<io::Result<Readiness>>;

    /// Forgets the readiness seen so far: the next [`Transport::wait_ready`]
    /// waits for a new edge. Called only after reads saw `WouldBlock`.
    fn clear_ready(&self);

    /// Waits until the send buffer has room.
    fn wait_writable(&self) -> BoxFuture<io::Result<()>>;
}

/// One ICMP socket (ping, sweep's receive side, craft).
///
/// While registered with tokio's reactor, every packet in or out of the
/// socket wakes epoll in the kernel: on a flood over a fast path, where
/// each answer is queued before `sendmsg` returns and nothing ever waits,
/// that was 5% of the time per probe. A transport made with
/// [`IcmpTransport::leaving_reactor_after`] therefore leaves the reactor
/// after that many packets taken without a wait, and joins it again at
/// the next wait (the kernel then reports what is already queued, so no
/// readiness is lost).
#[derive(Debug, Clone)]
pub(crate) struct IcmpTransport {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    socket: SharedIcmpSocket,
    /// The reactor registration, when there is one. A wait holds a clone,
    /// so it is only dropped (leaving the reactor) when nothing waits.
    registration: Mutex<Option<Arc<AsyncFd<SharedIcmpSocket>>>>,
    /// Packets taken since the last wait began.
    unwaited: AtomicU32,
    /// Leave the reactor after this many of them (`None`: never).
    leave_after: Option<u32>,
}

impl IcmpTransport {
    /// Makes `socket` non-blocking and registers it with the current
    /// runtime (an error outside one), for good.
    pub fn new(socket: IcmpSocket) -> Result<Self, Error> {
        Self::with_policy(socket, None)
    }

    /// [`IcmpTransport::new`], leaving the reactor after `packets` taken
    /// without a wait (ping: a flood on a fast path never waits).
    pub fn leaving_reactor_after(socket: IcmpSocket, packets: u32) -> Result<Self, Error> {
        Self::with_policy(socket, Some(packets))
    }

    fn with_policy(socket: IcmpSocket, leave_after: Option<u32>) -> Result<Self, Error> {
        socket
            .set_nonblocking(true)
            .map_err(|source| Error::SocketUnavailable {
                context: "making the ICMP socket non-blocking".into(),
                source,
            })?;
        let socket = SharedIcmpSocket(Arc::new(socket));
        // Registered at once, so that a missing runtime is an error here.
        let registration = Arc::new(socket.register()?);
        Ok(IcmpTransport {
            shared: Arc::new(Shared {
                socket,
                registration: Mutex::new(Some(registration)),
                unwaited: AtomicU32::new(0),
                leave_after,
            }),
        })
    }

    /// The socket, for its getters.
    pub fn socket(&self) -> &IcmpSocket {
        &self.shared.socket.0
    }

    /// Whether the socket is registered with the reactor now.
    #[cfg(test)]
    pub fn in_reactor(&self) -> bool {
        self.shared.lock().is_some()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Option<Arc<AsyncFd<SharedIcmpSocket>>>> {
        self.registration
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The registration for a wait, made anew if the socket left the
    /// reactor.
    fn for_wait(&self) -> io::Result<Arc<AsyncFd<SharedIcmpSocket>>> {
        self.unwaited.store(0, Ordering::Relaxed);
        let mut registration = self.lock();
        if let Some(r) = registration.as_ref() {
            return Ok(Arc::clone(r));
        }
        let r = Arc::new(self.socket.register().map_err(io::Error::other)?);
        *registration = Some(Arc::clone(&r));
        Ok(r)
    }

    /// Counts a packet taken; leaves the reactor once enough came without
    /// a wait and none is pending.
    fn taken(&self) {
        let Some(limit) = self.leave_after else {
            return;
        };
        let taken = self.unwaited.fetch_add(1, Ordering::Relaxed) + 1;
        if taken < limit {
            return;
        }
        self.unwaited.store(0, Ordering::Relaxed);
        let mut registration = self.lock();
        if registration
            .as_ref()
            .is_some_and(|r| Arc::strong_count(r) == 1)
        {
            // Dropping the last reference deregisters (epoll_ctl DEL).
            *registration = None;
        }
    }
}

impl Transport for IcmpTransport {
    type Meta = Received;

    fn send(&self, transmit: &Transmit) -> io::Result<()> {
        debug_assert!(
            transmit.ttl.is_none() && transmit.via == 0,
            "one ICMP socket: no per-message TTL or socket choice"
        );
        let Some(destination) = transmit.destination else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no destination for the message",
            ));
        };
        self.socket()
            .send_untimed(&transmit.message, destination, transmit.scope_id)
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        let received = self.socket().recv(buf)?;
        self.shared.taken();
        Ok(received)
    }

    fn received_at(&self, meta: &Received) -> Option<Timestamp> {
        Some(Timestamp::of_receive(meta.received_at, meta.kernel_time))
    }

    fn recv_error(&self, buf: &mut [u8]) -> io::Result<Option<QueuedError>> {
        self.socket().recv_error(buf)
    }

    fn wait_ready(&self) -> BoxFuture<io::Result<Readiness>> {
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            let registration = shared.for_wait()?;
            // The guard is dropped without clearing: the driver clears
            // only after it read to `WouldBlock`.
            let ready = registration
                .ready(Interest::READABLE | Interest::ERROR)
                .await?
                .ready();
            Ok(Readiness {
                readable: ready.is_readable(),
                error: ready.is_error(),
            })
        })
    }

    fn clear_ready(&self) {
        // Out of the reactor there is no readiness to clear.
        let Some(registration) = self.shared.lock().clone() else {
            return;
        };
        // The readiness is still set (nothing cleared it since the wait
        // that saw it), so this poll is ready at once.
        let mut cx = Context::from_waker(Waker::noop());
        let ready = std::pin::pin!(registration.ready(Interest::READABLE | Interest::ERROR));
        if let Poll::Ready(Ok(mut guard)) = ready.poll(&mut cx) {
            guard.clear_ready();
        }
    }

    fn wait_writable(&self) -> BoxFuture<io::Result<()>> {
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            let registration = shared.for_wait()?;
            loop {
                let mut guard = registration.ready(Interest::WRITABLE).await?;
                if has_send_room(&*shared.socket.0)? {
                    return Ok(());
                }
                // The send that failed proved the readiness stale.
                guard.clear_ready();
            }
        })
    }
}

/// True if a send would not block now (`POLLOUT`).
pub(crate) fn has_send_room(socket: &impl AsFd) -> io::Result<bool> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLOUT)];
    poll(&mut fds, PollTimeout::ZERO)?;
    Ok(fds[0]
        .revents()
        .is_some_and(|r| r.contains(PollFlags::POLLOUT)))
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::Duration;

    use super::*;
    use crate::engine::probe;
    use crate::socket::{Family, Privilege, SocketOptions};

    const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn echo(transport: &IcmpTransport, sequence: u16) {
        let mut message = Vec::new();
        probe::echo_request(Family::V4, 0x1ce, sequence, b"leave", &mut message);
        transport
            .socket()
            .send_untimed(&message, LOOPBACK, 0)
            .expect("send to 127.0.0.1");
    }

    /// Takes one reply, waiting through the transport as the driver does.
    async fn take_one(transport: &IcmpTransport, buf: &mut [u8]) {
        loop {
            match transport.recv(buf) {
                Ok(_) => return,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    transport.clear_ready();
                    tokio::time::timeout(Duration::from_secs(2), transport.wait_ready())
                        .await
                        .expect("a reply within 2 s")
                        .expect("wait");
                }
                Err(e) => panic!("recv: {e}"),
            }
        }
    }

    /// A flood's socket leaves the reactor after `n` replies taken without
    /// a wait, and a later wait joins it again and sees what was queued
    /// meanwhile (no readiness lost), and what comes after.
    #[tokio::test]
    async fn leaves_the_reactor_when_never_waiting_and_comes_back_on_a_wait() {
        let socket = match IcmpSocket::open(Family::V4, Privilege::Auto, &SocketOptions::default())
        {
            Ok(s) => s,
            Err(e) => {
                icmpkit_lab::report_skip("leaves_the_reactor_when_never_waiting", &e);
                return;
            }
        };
        let transport = IcmpTransport::leaving_reactor_after(socket, 3).expect("transport");
        assert!(transport.in_reactor(), "registered from the start");
        let mut buf = vec![0u8; 2048];
        for sequence in 0..3 {
            echo(&transport, sequence);
            take_one(&transport, &mut buf).await;
        }
        // A loopback reply is queued before the send returns: no waits, so
        // the third reply took the socket out (unless a wait was needed).
        let waited = transport.shared.unwaited.load(Ordering::Relaxed) != 0;
        assert!(
            waited || !transport.in_reactor(),
            "still registered after 3 unwaited replies"
        );
        if transport.in_reactor() {
            // A loaded machine deferred the loopback's softirq: we waited.
            eprintln!("SKIP the rest: a reply was waited for, the socket stayed registered");
            return;
        }
        // Queued while out of the reactor: the next wait must still see it.
        echo(&transport, 3);
        assert_eq!(
            transport.recv(&mut buf).map(drop).err().map(|e| e.kind()),
            None,
            "the reply is queued"
        );
        echo(&transport, 4);
        let ready = tokio::time::timeout(Duration::from_secs(2), transport.wait_ready())
            .await
            .expect("readiness of a reply queued before the wait")
            .expect("wait");
        assert!(ready.readable);
        assert!(transport.in_reactor(), "a wait joins the reactor again");
        take_one(&transport, &mut buf).await;
        // Nothing queued now: a wait ends when the next reply comes.
        transport.clear_ready();
        let wait = transport.wait_ready();
        echo(&transport, 5);
        let ready = tokio::time::timeout(Duration::from_secs(2), wait)
            .await
            .expect("readiness of a reply sent after the wait began")
            .expect("wait");
        assert!(ready.readable);
    }
}

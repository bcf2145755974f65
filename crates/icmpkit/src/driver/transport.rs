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

    /// Whether the driver drops a readiness wait still pending when a send
    /// goes out (a new one is made at the next wait). A transport that
    /// leaves the reactor while nothing waits cannot while a wait is kept:
    /// a flood whose timer sent a probe while it waited for a lost answer
    /// would otherwise keep its socket registered. Dropping a wait loses
    /// nothing: the readiness stays with the registration, and a socket
    /// joining the reactor again has the kernel report what is queued.
    fn drops_pending_wait_on_send(&self) -> bool {
        false
    }
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
    /// The runtime registered with at creation: joining again goes to the
    /// same reactor, even when the wait is polled outside its context
    /// (another executor, a plain thread), as a registration made once did.
    runtime: tokio::runtime::Handle,
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
                // `register` just proved there is a runtime.
                runtime: tokio::runtime::Handle::current(),
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
        let _runtime = self.runtime.enter();
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

    fn drops_pending_wait_on_send(&self) -> bool {
        self.shared.leave_after.is_some()
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
    use crate::engine::clock::Deadline;
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

    /// Takes one reply without waiting through the transport (so it
    /// counts towards leaving the reactor): a loopback reply is queued
    /// before the send returns, unless a loaded machine deferred the
    /// softirq, hence the short sleeps.
    fn take_unwaited(transport: &IcmpTransport, buf: &mut [u8]) {
        let end = std::time::Instant::now() + Duration::from_secs(2);
        while let Err(e) = transport.recv(buf) {
            assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "recv: {e}");
            assert!(std::time::Instant::now() < end, "no reply from 127.0.0.1");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Polls `future` on this thread, outside any runtime's context, as a
    /// caller's own executor would; `None` if not ready within `limit`.
    fn poll_outside_runtime<F: Future>(future: F, limit: Duration) -> Option<F::Output> {
        struct Unpark(std::thread::Thread);
        impl std::task::Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut future = std::pin::pin!(future);
        let end = std::time::Instant::now() + limit;
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return Some(output);
            }
            let left = end.checked_duration_since(std::time::Instant::now())?;
            std::thread::park_timeout(left);
        }
    }

    /// Rejoining the reactor goes to the runtime the transport was made
    /// in, even from a wait polled outside its context: a registration
    /// made once (before the transport could leave) allowed that, and a
    /// failed rejoin would leave the driver on timers alone.
    #[test]
    fn rejoins_its_own_runtime_when_waited_on_from_another_thread() {
        let socket = match IcmpSocket::open(Family::V4, Privilege::Auto, &SocketOptions::default())
        {
            Ok(s) => s,
            Err(e) => {
                icmpkit_lab::report_skip("rejoins_its_own_runtime", &e);
                return;
            }
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_io()
            .build()
            .expect("runtime");
        let transport = {
            let _runtime = runtime.enter();
            IcmpTransport::leaving_reactor_after(socket, 1).expect("transport")
        };
        echo(&transport, 0);
        let mut buf = vec![0u8; 2048];
        take_unwaited(&transport, &mut buf);
        assert!(!transport.in_reactor(), "one reply taken without a wait");
        echo(&transport, 1);
        let ready = poll_outside_runtime(transport.wait_ready(), Duration::from_secs(2))
            .expect("readiness of the queued reply within 2 s")
            .expect("the wait rejoins the transport's runtime");
        assert!(ready.readable);
        assert!(transport.in_reactor());
    }

    /// Echo requests to 127.0.0.1 sent one at a time, the next once the
    /// last is answered (a flood on a fast path), after a first pause
    /// that the driver spends waiting for readiness. It notes whether the
    /// socket was ever out of the reactor (through a clone of the
    /// transport: the same registration).
    struct PausedFlood {
        transport: IcmpTransport,
        start: Deadline,
        started: bool,
        to_send: u16,
        awaiting: bool,
        answered: u16,
        left_the_reactor: bool,
        raw: bool,
    }

    /// The flood's echo id (a raw socket sees every test's echoes).
    const PAUSED_FLOOD_ID: u16 = 0x5a5e;

    impl PausedFlood {
        /// Whether a packet read is an answer to this flood: a raw
        /// socket's has its IPv4 header first, and the socket also gets
        /// our requests looped back and other tests' echoes; a datagram
        /// socket gets its own answers alone.
        fn is_our_reply(&self, packet: &[u8]) -> bool {
            const ECHO_REPLY: u8 = 0;
            if !self.raw {
                return packet.first() == Some(&ECHO_REPLY);
            }
            let at = packet.first().map_or(0, |b| usize::from(b & 0x0f) * 4);
            let id = packet.get(at + 4..at + 6);
            packet.get(at) == Some(&ECHO_REPLY) && id == Some(&PAUSED_FLOOD_ID.to_be_bytes()[..])
        }
    }

    impl crate::driver::Protocol for PausedFlood {
        type Event = ();
        type Meta = Received;

        fn poll_timeout(&self) -> Option<Deadline> {
            (!self.started).then_some(self.start)
        }

        fn handle_timeout(&mut self, now: Timestamp) {
            self.started |= self.start.is_reached(now);
        }

        fn poll_transmit(&mut self, _now: Timestamp, out: &mut Transmit) -> bool {
            if !self.started || self.awaiting || self.to_send == 0 {
                return false;
            }
            self.to_send -= 1;
            self.awaiting = true;
            let seq = self.to_send;
            probe::echo_request(Family::V4, PAUSED_FLOOD_ID, seq, b"pause", &mut out.message);
            out.destination = Some(LOOPBACK);
            out.token = u64::from(self.to_send);
            true
        }

        fn on_sent(&mut self, _sent: &Transmit, outcome: crate::driver::SendOutcome) {
            if let crate::driver::SendOutcome::Failed { error, .. } = outcome {
                panic!("send to 127.0.0.1: {error}");
            }
        }

        fn handle_incoming(&mut self, packet: &[u8], _meta: &Received, _now: Timestamp) {
            if self.is_our_reply(packet) {
                self.awaiting = false;
                self.answered += 1;
            }
            self.left_the_reactor |= !self.transport.in_reactor();
        }

        fn handle_queued_error(&mut self, _: &QueuedError, _: &[u8], _: Timestamp) {}

        fn poll_event(&mut self) -> Option<()> {
            None
        }

        fn is_done(&self) -> bool {
            self.to_send == 0 && !self.awaiting
        }

        fn stop(&mut self) {
            self.to_send = 0;
        }
    }

    /// A flood that waited once (a pause here; a lost answer in a real
    /// one) and then never again still leaves the reactor: the wait left
    /// pending when the timer sent is dropped with the send, not kept
    /// (holding the registration) until a wait that never comes.
    #[tokio::test]
    async fn a_wait_left_pending_by_a_timed_send_does_not_hold_the_socket() {
        let socket = match IcmpSocket::open(Family::V4, Privilege::Auto, &SocketOptions::default())
        {
            Ok(s) => s,
            Err(e) => {
                icmpkit_lab::report_skip("a_wait_left_pending_by_a_timed_send", &e);
                return;
            }
        };
        let raw = socket.kind() == crate::socket::SocketKind::Raw;
        let transport = IcmpTransport::leaving_reactor_after(socket, 64).expect("transport");
        let flood = PausedFlood {
            transport: transport.clone(),
            start: Deadline::after(Timestamp::now(), Duration::from_millis(20)),
            started: false,
            to_send: 300,
            awaiting: false,
            answered: 0,
            left_the_reactor: false,
            raw,
        };
        let mut driver = crate::driver::Driver::new(flood, transport, 2048);
        let end = tokio::time::timeout(Duration::from_secs(10), driver.next_event())
            .await
            .expect("300 echoes on loopback within 10 s");
        assert_eq!(end, None);
        assert_eq!(driver.protocol().answered, 300);
        assert!(
            driver.protocol().left_the_reactor,
            "300 replies, nearly all taken without a wait, and still registered"
        );
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
            icmpkit_lab::report_skip(
                "leaves_the_reactor_when_never_waiting (rest)",
                &"a reply was waited for, the socket stayed registered",
            );
            return;
        }
        echo(&transport, 3);
        take_unwaited(&transport, &mut buf);
        // Queued while out of the reactor: the next wait must still see it.
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

//! What the driver needs of a command's sockets, and the ICMP socket's
//! implementation of it.

use std::future::Future;
use std::io;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crate::engine::clock::Timestamp;
use crate::socket::{AsyncIcmpSocket, QueuedError, Readiness, Received, SendTime};

use super::{BoxFuture, Transmit};

/// The socket set a command probes through. Every call is non-blocking:
/// "nothing now" is `WouldBlock` (or `Ok(None)` for the error queue).
pub(crate) trait Transport {
    /// What a receive tells about the packet.
    type Meta;

    /// Sends one message; `WouldBlock` when the send buffer is full.
    fn send(&self, transmit: &Transmit) -> io::Result<SendTime>;

    /// Sends the first messages of `transmits` (at least one), their send
    /// times in `times` (cleared first), and says how many left; an error
    /// (`WouldBlock`: the buffer is full) is the first message's, none
    /// having left. The default sends one at a time; a transport with
    /// `sendmmsg` sends many in one call.
    fn send_batch(&self, transmits: &[Transmit], times: &mut Vec<SendTime>) -> io::Result<usize> {
        times.clear();
        for transmit in transmits {
            match self.send(transmit) {
                Ok(at) => times.push(at),
                Err(e) if times.is_empty() => return Err(e),
                // The next call starts with this message and gets its error.
                Err(_) => break,
            }
        }
        Ok(times.len())
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
#[derive(Debug, Clone)]
pub(crate) struct IcmpTransport {
    socket: Arc<AsyncIcmpSocket>,
}

impl IcmpTransport {
    pub fn new(socket: AsyncIcmpSocket) -> Self {
        IcmpTransport {
            socket: Arc::new(socket),
        }
    }

    /// The socket, for its getters.
    pub fn socket(&self) -> &AsyncIcmpSocket {
        &self.socket
    }
}

impl Transport for IcmpTransport {
    type Meta = Received;

    fn send(&self, transmit: &Transmit) -> io::Result<SendTime> {
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
        self.socket
            .get_ref()
            .send_to_scoped(&transmit.message, destination, transmit.scope_id)
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        self.socket.get_ref().recv(buf)
    }

    fn recv_error(&self, buf: &mut [u8]) -> io::Result<Option<QueuedError>> {
        self.socket.get_ref().recv_error(buf)
    }

    fn wait_ready(&self) -> BoxFuture<io::Result<Readiness>> {
        let socket = Arc::clone(&self.socket);
        Box::pin(async move {
            // The guard is dropped without clearing: the driver clears
            // only after it read to `WouldBlock`.
            let ready = socket.ready().await?.ready();
            Ok(Readiness {
                readable: ready.is_readable(),
                error: ready.is_error(),
            })
        })
    }

    fn clear_ready(&self) {
        // The readiness is still set (nothing cleared it since the wait
        // that saw it), so this poll is ready at once.
        let mut cx = Context::from_waker(Waker::noop());
        let ready = std::pin::pin!(self.socket.ready());
        if let Poll::Ready(Ok(mut guard)) = ready.poll(&mut cx) {
            guard.clear_ready();
        }
    }

    fn wait_writable(&self) -> BoxFuture<io::Result<()>> {
        let socket = Arc::clone(&self.socket);
        Box::pin(async move {
            loop {
                let mut guard = socket.writable().await?;
                if has_send_room(socket.get_ref())? {
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

//! The responder's socket set: one raw ICMP socket per family answered,
//! waited on together. A receive says which socket heard the request; an
//! answer leaves by the socket its [`Transmit::via`] names.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;

use crate::driver::{BoxFuture, IcmpTransport, Transmit, Transport};
use crate::socket::{QueuedError, Readiness, Received};

/// A packet and the socket of the set that received it.
#[derive(Debug)]
pub(crate) struct Heard {
    /// The socket's place in the set.
    pub via: usize,
    pub received: Received,
}

/// Several ICMP sockets as one transport.
#[derive(Debug)]
pub(crate) struct SocketSet {
    sockets: Vec<IcmpTransport>,
    /// Where the next read starts, so that a flood on one socket does not
    /// keep the others waiting through a whole drain.
    next_read: AtomicUsize,
    /// The socket whose send found its buffer full.
    blocked: AtomicUsize,
}

impl SocketSet {
    pub fn new(sockets: Vec<IcmpTransport>) -> Self {
        SocketSet {
            sockets,
            next_read: AtomicUsize::new(0),
            blocked: AtomicUsize::new(0),
        }
    }

    pub fn sockets(&self) -> &[IcmpTransport] {
        &self.sockets
    }

    /// The sockets in reading order, starting after the last one read.
    fn read_order(&self) -> impl Iterator<Item = (usize, &IcmpTransport)> {
        let n = self.sockets.len().max(1);
        let start = self.next_read.load(Ordering::Relaxed) % n;
        (0..self.sockets.len())
            .map(move |k| (start + k) % n)
            .map(|i| (i, &self.sockets[i]))
    }
}

impl Transport for SocketSet {
    type Meta = Heard;

    fn send(&self, transmit: &Transmit) -> io::Result<()> {
        let Some(socket) = self.sockets.get(transmit.via) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no such socket in the set",
            ));
        };
        let Some(destination) = transmit.destination else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no destination for the message",
            ));
        };
        let result =
            socket
                .socket()
                .send_untimed(&transmit.message, destination, transmit.scope_id);
        if result
            .as_ref()
            .is_err_and(|e| e.kind() == io::ErrorKind::WouldBlock)
        {
            self.blocked.store(transmit.via, Ordering::Relaxed);
        }
        result
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<Heard> {
        for (via, socket) in self.read_order() {
            match socket.recv(buf) {
                Ok(received) => {
                    self.next_read.store(via + 1, Ordering::Relaxed);
                    return Ok(Heard { via, received });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    self.next_read.store(via + 1, Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
        Err(io::ErrorKind::WouldBlock.into())
    }

    fn recv_error(&self, buf: &mut [u8]) -> io::Result<Option<QueuedError>> {
        for (_, socket) in self.read_order() {
            match socket.recv_error(buf) {
                Ok(None) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => return other,
            }
        }
        Ok(None)
    }

    fn wait_ready(&self) -> BoxFuture<io::Result<Readiness>> {
        let mut waits: Vec<_> = self.sockets.iter().map(|s| s.wait_ready()).collect();
        Box::pin(std::future::poll_fn(move |cx| {
            for wait in waits.iter_mut() {
                if let Poll::Ready(result) = wait.as_mut().poll(cx) {
                    return Poll::Ready(result);
                }
            }
            Poll::Pending
        }))
    }

    fn clear_ready(&self) {
        // Called only after every socket read `WouldBlock`.
        for socket in &self.sockets {
            socket.clear_ready();
        }
    }

    fn wait_writable(&self) -> BoxFuture<io::Result<()>> {
        let blocked = self.blocked.load(Ordering::Relaxed);
        match self.sockets.get(blocked) {
            Some(socket) => socket.wait_writable(),
            None => Box::pin(std::future::ready(Ok(()))),
        }
    }
}

//! The ICMP socket on tokio.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;

use tokio::io::unix::AsyncFd;
use tokio::io::{Interest, Ready};

use super::{
    Family, IcmpSocket, PmtuDisc, Privilege, QueuedError, Received, SendTime, SocketKind,
    SocketOptions, TypeFilter, sys,
};
use crate::Error;

/// An [`IcmpSocket`] behind an `Arc`, as a reactor registration that can
/// come and go holds it (the driver's ICMP transport leaves the reactor
/// while it never waits: see `driver::transport`).
#[derive(Debug, Clone)]
pub(crate) struct SharedIcmpSocket(pub(crate) Arc<IcmpSocket>);

impl AsRawFd for SharedIcmpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

impl SharedIcmpSocket {
    /// Registers the socket with the current runtime: the registration
    /// lasts until the returned value is dropped.
    pub(crate) fn register(&self) -> Result<AsyncFd<SharedIcmpSocket>, Error> {
        sys::register_with_reactor(self.clone(), Interest::READABLE | Interest::WRITABLE)
            .map_err(super::registration_failed("the ICMP socket"))
    }
}

/// An [`IcmpSocket`] driven by tokio's reactor. Needs a tokio runtime with
/// I/O enabled.
#[derive(Debug)]
pub struct AsyncIcmpSocket {
    inner: AsyncFd<IcmpSocket>,
}

impl AsyncIcmpSocket {
    /// Opens a socket as [`IcmpSocket::open`] does and registers it with
    /// the current runtime.
    pub fn open(family: Family, privilege: Privilege, opts: &SocketOptions) -> Result<Self, Error> {
        Self::register(IcmpSocket::open(family, privilege, opts)?)
    }

    /// [`AsyncIcmpSocket::new`] with the library's error: fails with
    /// [`Error::SocketUnavailable`] outside a tokio runtime.
    pub fn register(socket: IcmpSocket) -> Result<Self, Error> {
        Self::new(socket).map_err(super::registration_failed("the ICMP socket"))
    }

    /// Makes `socket` non-blocking and registers it with the current
    /// runtime (an error outside one).
    pub fn new(socket: IcmpSocket) -> io::Result<Self> {
        socket.set_nonblocking(true)?;
        Ok(Self {
            inner: sys::register_with_reactor(socket, Interest::READABLE | Interest::WRITABLE)?,
        })
    }

    /// The synchronous socket, for its getters and setters.
    pub fn get_ref(&self) -> &IcmpSocket {
        self.inner.get_ref()
    }

    /// Deregisters and returns the synchronous socket (still non-blocking).
    pub fn into_inner(self) -> IcmpSocket {
        self.inner.into_inner()
    }

    /// Raw or datagram.
    pub fn kind(&self) -> SocketKind {
        self.get_ref().kind()
    }

    /// IPv4 or IPv6.
    pub fn family(&self) -> Family {
        self.get_ref().family()
    }

    /// See [`IcmpSocket::echo_id`].
    pub fn echo_id(&self) -> Option<u16> {
        self.get_ref().echo_id()
    }

    /// See [`IcmpSocket::set_ttl`].
    pub fn set_ttl(&self, ttl: u8) -> io::Result<()> {
        self.get_ref().set_ttl(ttl)
    }

    /// See [`IcmpSocket::set_tos`].
    pub fn set_tos(&self, tos: u8) -> io::Result<()> {
        self.get_ref().set_tos(tos)
    }

    /// See [`IcmpSocket::set_pmtu_discovery`].
    pub fn set_pmtu_discovery(&self, mode: PmtuDisc) -> io::Result<()> {
        self.get_ref().set_pmtu_discovery(mode)
    }

    /// See [`IcmpSocket::set_type_filter`].
    pub fn set_type_filter(&self, filter: &TypeFilter) -> io::Result<()> {
        self.get_ref().set_type_filter(filter)
    }

    /// See [`IcmpSocket::send_to`]; waits while the send buffer is full.
    pub async fn send_to(&self, icmp_message: &[u8], dst: IpAddr) -> io::Result<SendTime> {
        self.send_to_scoped(icmp_message, dst, 0).await
    }

    /// See [`IcmpSocket::send_to_scoped`].
    pub async fn send_to_scoped(
        &self,
        icmp_message: &[u8],
        dst: IpAddr,
        scope_id: u32,
    ) -> io::Result<SendTime> {
        self.inner
            .async_io(Interest::WRITABLE, |s| {
                s.send_to_scoped(icmp_message, dst, scope_id)
            })
            .await
    }

    /// See [`IcmpSocket::send_batch`].
    pub async fn send_batch(
        &self,
        msgs: &[(&[u8], SocketAddr)],
        times: &mut Vec<SendTime>,
    ) -> io::Result<usize> {
        self.inner
            .async_io(Interest::WRITABLE, |s| {
                s.send_batch(msgs.iter().copied(), times)
            })
            .await
    }

    /// Waits for and receives one ICMP message; see [`IcmpSocket::recv`].
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        self.inner
            .async_io(Interest::READABLE, |s| s.recv(buf))
            .await
    }

    /// Waits for at least one message and receives all that are queued, up
    /// to `bufs.len()`; see [`IcmpSocket::recv_batch`].
    pub async fn recv_batch<B: AsMut<[u8]>>(
        &self,
        bufs: &mut [B],
        out: &mut Vec<Received>,
    ) -> io::Result<usize> {
        self.inner
            .async_io(Interest::READABLE, |s| s.recv_batch(bufs, out))
            .await
    }

    /// Waits for an entry on the error queue and takes it; see
    /// [`IcmpSocket::recv_error`]. Run it next to [`AsyncIcmpSocket::recv`]
    /// (e.g. in `tokio::select!`): both can wait at once.
    pub async fn recv_error(&self, buf: &mut [u8]) -> io::Result<QueuedError> {
        loop {
            let mut guard = self.inner.ready(Interest::ERROR).await?;
            match guard.get_inner().recv_error(buf)? {
                Some(error) => return Ok(error),
                // Readiness was stale (or only the pending socket error
                // was set): wait for the next edge.
                None => guard.clear_ready_matching(Ready::ERROR),
            }
        }
    }

    /// Takes one entry off the error queue without waiting.
    pub fn try_recv_error(&self, buf: &mut [u8]) -> io::Result<Option<QueuedError>> {
        self.get_ref().recv_error(buf)
    }
}

impl AsyncIcmpSocket {
    /// Waits until a packet or an error-queue entry is waiting. Returns a
    /// guard: drain the socket with the synchronous calls
    /// (`get_ref().recv`/`recv_error`), then `clear_ready()` once they
    /// report `WouldBlock`/`None`.
    pub async fn ready(&self) -> io::Result<tokio::io::unix::AsyncFdReadyGuard<'_, IcmpSocket>> {
        self.inner.ready(Interest::READABLE | Interest::ERROR).await
    }

    /// Waits until the socket may take a send. Returns a guard: send with
    /// the synchronous calls (`get_inner().send_batch`), and
    /// `clear_ready()` when they report `WouldBlock`, so that the next wait
    /// is for buffer space to free up.
    pub async fn writable(&self) -> io::Result<tokio::io::unix::AsyncFdReadyGuard<'_, IcmpSocket>> {
        self.inner.ready(Interest::WRITABLE).await
    }
}

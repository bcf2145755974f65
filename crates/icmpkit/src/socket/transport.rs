//! UDP and TCP probe sockets for traceroute: ordinary (unprivileged)
//! sockets with `IP_RECVERR`, so the ICMP errors their datagrams cause
//! (time exceeded, unreachable) arrive on their error queue with the router
//! that sent them, as on datagram ICMP sockets.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Instant;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::icmp_socket::queued_error;
use super::{Family, QueuedError, SendTime, sys};
use crate::Error;

/// The transport of a [`TransportSocket`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// UDP datagrams.
    Udp,
    /// TCP: each probe is a connection attempt (one SYN).
    Tcp,
}

/// A non-blocking UDP or TCP socket whose ICMP errors are read from its
/// error queue ([`TransportSocket::recv_error`]). Needs no privilege.
#[derive(Debug)]
pub struct TransportSocket {
    socket: Socket,
    family: Family,
    kind: TransportKind,
}

impl TransportSocket {
    /// Opens a non-blocking socket bound to `source` (or the wildcard) and
    /// `port` (0: the kernel picks one), with the error queue, TTL and
    /// timestamp reporting on.
    pub fn open(
        family: Family,
        kind: TransportKind,
        source: Option<IpAddr>,
        port: u16,
    ) -> Result<Self, Error> {
        let unavailable = |context: &str| {
            let context = context.to_string();
            move |source| Error::SocketUnavailable { context, source }
        };
        let domain = match family {
            Family::V4 => Domain::IPV4,
            Family::V6 => Domain::IPV6,
        };
        let (ty, protocol) = match kind {
            TransportKind::Udp => (Type::DGRAM, Protocol::UDP),
            TransportKind::Tcp => (Type::STREAM, Protocol::TCP),
        };
        let socket = Socket::new(domain, ty, Some(protocol))
            .map_err(unavailable("opening a probe socket"))?;
        socket
            .set_nonblocking(true)
            .map_err(unavailable("making the probe socket non-blocking"))?;
        sys::enable_receive_info(&socket, family)
            .map_err(unavailable("enabling the probe socket's error queue"))?;
        let ip = source.unwrap_or(match family {
            Family::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Family::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        });
        if port != 0 && kind == TransportKind::Tcp {
            // Lets a new probe reuse the port of an earlier, closed one.
            socket
                .set_reuse_address(true)
                .map_err(unavailable("setting SO_REUSEADDR"))?;
        }
        socket
            .bind(&SockAddr::from(SocketAddr::new(ip, port)))
            .map_err(|source| Error::SocketUnavailable {
                context: format!("binding a probe socket to {ip} port {port}"),
                source,
            })?;
        Ok(Self {
            socket,
            family,
            kind,
        })
    }

    /// IPv4 or IPv6.
    pub fn family(&self) -> Family {
        self.family
    }

    /// UDP or TCP.
    pub fn kind(&self) -> TransportKind {
        self.kind
    }

    /// The local address and port.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::other("local address is not an IP address"))
    }

    /// Sets the TTL / hop limit of the following sends.
    pub fn set_ttl(&self, ttl: u8) -> io::Result<()> {
        match self.family {
            Family::V4 => self.socket.set_ttl_v4(u32::from(ttl)),
            Family::V6 => self.socket.set_unicast_hops_v6(u32::from(ttl)),
        }
    }

    /// Sets the path-MTU discovery mode (`IP_MTU_DISCOVER`), as
    /// [`IcmpSocket::set_pmtu_discovery`](super::IcmpSocket::set_pmtu_discovery).
    pub fn set_pmtu_discovery(&self, mode: super::PmtuDisc) -> io::Result<()> {
        sys::set_pmtu_discovery(&self.socket, self.family, mode)
    }

    /// UDP: sends one datagram to `dst`.
    pub fn send_to(&self, payload: &[u8], dst: SocketAddr) -> io::Result<SendTime> {
        super::refuse_ipv4_mapped(dst.ip())?;
        let addr = SockAddr::from(dst);
        loop {
            let time = SendTime::now();
            match self.socket.send_to(payload, &addr) {
                Ok(_) => return Ok(time),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // The pending error an earlier ICMP error left (its details
                // are on the error queue): cleared by this call, try again.
                Err(e) if sys::may_be_socket_error(&e) => {
                    let time = SendTime::now();
                    self.socket.send_to(payload, &addr)?;
                    return Ok(time);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// TCP: starts connecting to `dst` (sends the SYN) without waiting.
    pub fn connect(&self, dst: SocketAddr) -> io::Result<SendTime> {
        super::refuse_ipv4_mapped(dst.ip())?;
        let time = SendTime::now();
        match self.socket.connect(&SockAddr::from(dst)) {
            Ok(()) => Ok(time),
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(time),
            Err(e) => Err(e),
        }
    }

    /// Takes one entry off the error queue, never blocking.
    pub fn recv_error(&self, buf: &mut [u8]) -> io::Result<Option<QueuedError>> {
        match sys::recv_error_msg(self.socket.as_fd(), buf) {
            Ok(message) => Ok(Some(queued_error(&message, Instant::now())?)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// UDP: reads (and discards the contents of) one datagram that came
    /// back, e.g. from a service on the probed port. `Ok(None)` when none.
    pub fn recv_datagram(&self, buf: &mut [u8]) -> io::Result<Option<(usize, IpAddr)>> {
        match sys::recv_msg(self.socket.as_fd(), buf, libc::MSG_DONTWAIT) {
            Ok(message) => Ok(message.peer.map(|p| (message.len, p.ip()))),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The pending socket error (`SO_ERROR`), cleared by reading it. For a
    /// TCP probe: `None` once connected, `ECONNREFUSED` after a reset.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.socket.take_error()
    }

    /// TCP: whether the connection is established (the SYN was answered
    /// with SYN-ACK).
    pub fn is_connected(&self) -> bool {
        self.socket.peer_addr().is_ok()
    }
}

impl AsFd for TransportSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl AsRawFd for TransportSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

/// A [`TransportSocket`] registered with tokio's reactor.
#[derive(Debug)]
pub struct AsyncTransportSocket {
    inner: tokio::io::unix::AsyncFd<TransportSocket>,
}

impl AsyncTransportSocket {
    /// Registers `socket` (already non-blocking) with the current runtime
    /// (an error outside one).
    pub fn new(socket: TransportSocket) -> io::Result<Self> {
        Ok(Self {
            inner: sys::register_with_reactor(
                socket,
                tokio::io::Interest::READABLE | tokio::io::Interest::WRITABLE,
            )?,
        })
    }

    /// [`AsyncTransportSocket::new`] with the library's error: fails with
    /// [`Error::SocketUnavailable`](crate::Error::SocketUnavailable)
    /// outside a tokio runtime.
    pub fn register(socket: TransportSocket) -> crate::Result<Self> {
        Self::new(socket).map_err(super::registration_failed("a probe socket"))
    }

    /// The socket, for sending and its setters.
    pub fn get_ref(&self) -> &TransportSocket {
        self.inner.get_ref()
    }

    /// Waits until a datagram or an error-queue entry is pending (UDP), or
    /// the connection attempt has an outcome (TCP: writable or error).
    /// Drain with the synchronous calls, then `clear_ready()`.
    pub async fn ready(
        &self,
    ) -> io::Result<tokio::io::unix::AsyncFdReadyGuard<'_, TransportSocket>> {
        use tokio::io::Interest;
        let interest = match self.get_ref().kind() {
            TransportKind::Udp => Interest::READABLE | Interest::ERROR,
            TransportKind::Tcp => Interest::WRITABLE | Interest::ERROR,
        };
        self.inner.ready(interest).await
    }

    /// Waits until the socket may take a send (UDP after `WouldBlock`).
    pub async fn writable(
        &self,
    ) -> io::Result<tokio::io::unix::AsyncFdReadyGuard<'_, TransportSocket>> {
        self.inner.ready(tokio::io::Interest::WRITABLE).await
    }
}

//! A raw IP socket for messages whose IP header the caller writes
//! (`IPPROTO_RAW`, which implies `IP_HDRINCL` / `IPV6_HDRINCL`): crafted
//! identification, flags, TTL, and source addresses the host does not own.
//! Send-only: what comes back arrives on an [`IcmpSocket`](super::IcmpSocket).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::{Family, SendTime, sys};
use crate::Error;

/// A send-only raw IP socket: each datagram starts with its IP header.
#[derive(Debug)]
pub struct RawIpSocket {
    socket: Socket,
    family: Family,
}

impl RawIpSocket {
    /// Opens it. Needs `CAP_NET_RAW`; without it the error says so (and
    /// that a spoofed source or crafted IP header is why it was needed).
    pub fn open(family: Family) -> Result<Self, Error> {
        let domain = match family {
            Family::V4 => Domain::IPV4,
            Family::V6 => Domain::IPV6,
        };
        let socket = Socket::new(domain, Type::RAW, Some(Protocol::from(libc::IPPROTO_RAW)))
            .map_err(|source| {
                let context = if matches!(source.raw_os_error(), Some(libc::EPERM | libc::EACCES)) {
                    "a spoofed source address or crafted IP header needs a raw IP socket \
                     (IP_HDRINCL), which needs CAP_NET_RAW: run as root or give the program \
                     that capability"
                } else {
                    "opening a raw IP socket (IP_HDRINCL)"
                };
                Error::SocketUnavailable {
                    context: context.into(),
                    source,
                }
            })?;
        // IPPROTO_RAW implies header inclusion on Linux; saying so makes it
        // explicit and fails loudly where it would not.
        let included = match family {
            Family::V4 => socket.set_header_included_v4(true),
            Family::V6 => socket.set_header_included_v6(true),
        };
        included.map_err(|source| Error::SocketUnavailable {
            context: "enabling IP_HDRINCL".into(),
            source,
        })?;
        Ok(RawIpSocket { socket, family })
    }

    /// IPv4 or IPv6.
    pub fn family(&self) -> Family {
        self.family
    }

    /// Sends `packet` (IP header included) towards `dst`. The kernel fills
    /// in the IPv4 header checksum and total length; everything else goes
    /// out as written.
    pub fn send_to(&self, packet: &[u8], dst: IpAddr) -> io::Result<SendTime> {
        if matches!(
            (self.family, dst),
            (Family::V4, IpAddr::V6(_)) | (Family::V6, IpAddr::V4(_))
        ) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot send to {dst} on a raw IP socket of the other family"),
            ));
        }
        super::refuse_ipv4_mapped(dst)?;
        let addr = SockAddr::from(SocketAddr::new(dst, 0));
        let time = SendTime::now();
        self.socket.send_to(packet, &addr)?;
        Ok(time)
    }
}

impl AsFd for RawIpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl AsRawFd for RawIpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

/// A [`RawIpSocket`] made non-blocking and registered with tokio's reactor,
/// so that a full send buffer is waited out on the runtime instead of
/// blocking its thread inside `sendto`.
#[derive(Debug)]
pub(crate) struct AsyncRawIpSocket {
    inner: tokio::io::unix::AsyncFd<RawIpSocket>,
}

impl AsyncRawIpSocket {
    /// Registers `socket` with the current runtime (an error outside one).
    pub fn register(socket: RawIpSocket) -> crate::Result<Self> {
        let registered = socket
            .socket
            .set_nonblocking(true)
            .and_then(|()| sys::register_with_reactor(socket, tokio::io::Interest::WRITABLE));
        registered
            .map(|inner| AsyncRawIpSocket { inner })
            .map_err(super::registration_failed("the raw IP socket"))
    }

    /// The socket, for sending (`WouldBlock` when its buffer is full).
    pub fn get_ref(&self) -> &RawIpSocket {
        self.inner.get_ref()
    }

    /// Waits until the socket may take a send (after `WouldBlock`).
    pub async fn writable(
        &self,
    ) -> io::Result<tokio::io::unix::AsyncFdReadyGuard<'_, RawIpSocket>> {
        self.inner.ready(tokio::io::Interest::WRITABLE).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The crafted-header socket sends without blocking the runtime's
    /// thread: registered, it is non-blocking (a full buffer is
    /// `WouldBlock`, which the craft transport waits out).
    #[tokio::test]
    async fn registered_raw_ip_socket_is_non_blocking() {
        let socket = match RawIpSocket::open(Family::V4) {
            Ok(s) => s,
            Err(e) => {
                icmpkit_lab::report_skip("registered_raw_ip_socket_is_non_blocking", &e);
                return;
            }
        };
        let flags = nix::fcntl::fcntl(&socket, nix::fcntl::FcntlArg::F_GETFL).expect("F_GETFL");
        assert_eq!(flags & libc::O_NONBLOCK, 0, "opened blocking");
        let registered = AsyncRawIpSocket::register(socket).expect("register");
        let flags = nix::fcntl::fcntl(registered.get_ref(), nix::fcntl::FcntlArg::F_GETFL)
            .expect("F_GETFL");
        assert_ne!(flags & libc::O_NONBLOCK, 0, "registered but still blocking");
    }
}

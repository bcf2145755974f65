//! A raw TCP socket (`SOCK_RAW` + `IPPROTO_TCP`) for TCP traceroute: it
//! sends TCP segments the caller built (the kernel adds the IP header, with
//! the socket's TTL and DF setting) and receives a copy of every TCP
//! segment that reaches the host, so the SYN-ACK or RST that answers a
//! probe can be read whatever the kernel's own TCP stack does with it.
//!
//! Unlike a `connect()` per probe, every probe can leave from the same
//! source port while others are in flight: a TCP flow keeps one 5-tuple, so
//! per-flow load balancers keep it on one path (Paris traceroute). Needs
//! `CAP_NET_RAW`.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::ops::Range;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::icmp_socket::{
    apply_common_options, ipv4_header_len, queued_error, retry_past_socket_errors,
    send_past_socket_error,
};
use super::options::family_name;
use super::{Family, PmtuDisc, QueuedError, SendTime, SocketOptions, sys};
use crate::Error;

/// One TCP segment a [`RawTcpSocket`] received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedSegment {
    /// Bytes written into the buffer.
    pub len: usize,
    /// Where the TCP segment is in the buffer: IPv4 raw sockets deliver the
    /// IP header first, IPv6 ones the segment alone.
    pub segment: Range<usize>,
    /// Who sent it.
    pub source: IpAddr,
    /// The received TTL / hop limit.
    pub ttl: Option<u8>,
    /// The kernel's receive timestamp (`SO_TIMESTAMPNS`), since the UNIX
    /// epoch on the realtime clock.
    pub kernel_time: Option<Duration>,
    /// Monotonic time right after the receive system call returned.
    pub received_at: Instant,
}

/// A non-blocking raw TCP socket of one family: send segments built with
/// [`icmpkit_wire::tcp`], receive every incoming TCP segment.
#[derive(Debug)]
pub struct RawTcpSocket {
    socket: Socket,
    family: Family,
}

impl RawTcpSocket {
    /// Opens it with `opts`' interface, mark, TOS, buffers, path-MTU mode
    /// and source address (which also limits what it receives to segments
    /// for that address); the TTL is set per probe
    /// ([`RawTcpSocket::set_ttl`]). Without `CAP_NET_RAW` the error says
    /// that is what it needs.
    pub fn open(family: Family, opts: &SocketOptions) -> Result<Self, Error> {
        opts.validate(family)?;
        let domain = match family {
            Family::V4 => Domain::IPV4,
            Family::V6 => Domain::IPV6,
        };
        let socket = Socket::new(domain, Type::RAW, Some(Protocol::TCP)).map_err(|source| {
            let context = if matches!(source.raw_os_error(), Some(libc::EPERM | libc::EACCES)) {
                "TCP probes from one constant source port need a raw TCP socket, which needs \
                 CAP_NET_RAW: run as root or give the program that capability \
                 (unprivileged TCP probes connect() from a new port each)"
                    .to_string()
            } else {
                format!("opening an {} raw TCP socket", family_name(family))
            };
            Error::SocketUnavailable { context, source }
        })?;
        let this = RawTcpSocket { socket, family };
        this.configure(opts)?;
        Ok(this)
    }

    fn configure(&self, opts: &SocketOptions) -> Result<(), Error> {
        let socket = &self.socket;
        let unavailable =
            |context: String| move |source| Error::SocketUnavailable { context, source };
        socket
            .set_nonblocking(true)
            .map_err(unavailable("making the raw TCP socket non-blocking".into()))?;
        apply_common_options(socket, self.family, opts)?;
        if let Some(ttl) = opts.ttl {
            self.set_ttl(ttl)
                .map_err(unavailable(format!("setting the TTL to {ttl}")))?;
        }
        sys::enable_receive_info(socket, self.family).map_err(unavailable(
            "enabling error queue, TTL and timestamps on the raw TCP socket".into(),
        ))?;
        if let Some(source) = opts.source {
            socket
                .bind(&SockAddr::from(SocketAddr::new(source, 0)))
                .map_err(unavailable(format!(
                    "binding the raw TCP socket to {source}"
                )))?;
        }
        Ok(())
    }

    /// IPv4 or IPv6.
    pub fn family(&self) -> Family {
        self.family
    }

    /// Sets the TTL / hop limit of the following sends.
    pub fn set_ttl(&self, ttl: u8) -> io::Result<()> {
        if ttl == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "ttl must be between 1 and 255",
            ));
        }
        match self.family {
            Family::V4 => self.socket.set_ttl_v4(u32::from(ttl)),
            Family::V6 => self.socket.set_unicast_hops_v6(u32::from(ttl)),
        }
    }

    /// Sets the path-MTU discovery mode: [`PmtuDisc::Probe`] sets DF and
    /// makes a send larger than the interface MTU fail with `EMSGSIZE`
    /// (its MTU queued on the error queue).
    pub fn set_pmtu_discovery(&self, mode: PmtuDisc) -> io::Result<()> {
        sys::set_pmtu_discovery(&self.socket, self.family, mode)
    }

    /// Sends one TCP segment (header with its checksum filled in, then any
    /// payload) to `dst`; `scope_id` is the interface index of an IPv6
    /// link-local `dst` (ignored for IPv4). A pending socket error left by
    /// an earlier ICMP error is skipped as on
    /// [`IcmpSocket::send_to`](super::IcmpSocket::send_to).
    pub fn send_to(&self, segment: &[u8], dst: IpAddr, scope_id: u32) -> io::Result<SendTime> {
        super::refuse_ipv4_mapped(dst)?;
        // The port must be 0 (or the protocol) on raw sockets.
        let addr = match (self.family, dst) {
            (Family::V4, IpAddr::V4(v4)) => SocketAddr::from((v4, 0)),
            (Family::V6, IpAddr::V6(v6)) => SocketAddr::V6(SocketAddrV6::new(v6, 0, 0, scope_id)),
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "cannot send to {dst} on an {} raw TCP socket",
                        family_name(self.family)
                    ),
                ));
            }
        };
        let addr = SockAddr::from(addr);
        send_past_socket_error(|| {
            let time = SendTime::now();
            self.socket.send_to(segment, &addr)?;
            Ok(time)
        })
    }

    /// Lets through only segments from source port `port` (the port the
    /// probes go to), with a classic BPF filter in the kernel: without it
    /// the socket gets a copy of every TCP segment the host receives, which
    /// costs a busy host CPU and could crowd the answers out of the buffer.
    pub fn accept_only_from_port(&self, port: u16) -> io::Result<()> {
        use libc::{BPF_ABS, BPF_B, BPF_H, BPF_IND, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_LDX};
        use libc::{BPF_MSH, BPF_RET};
        use socket2::SockFilter;
        let op = |code: u32| code as u16;
        let (accept, drop) = (u32::MAX, 0);
        let port = u32::from(port);
        let program: Vec<SockFilter> = match self.family {
            // Raw IPv4 sockets see the IP header: X = its length, then the
            // source port at X + 0.
            Family::V4 => vec![
                SockFilter::new(op(BPF_LDX | BPF_B | BPF_MSH), 0, 0, 0),
                SockFilter::new(op(BPF_LD | BPF_H | BPF_IND), 0, 0, 0),
                SockFilter::new(op(BPF_JMP | BPF_JEQ | BPF_K), 0, 1, port),
                SockFilter::new(op(BPF_RET | BPF_K), 0, 0, accept),
                SockFilter::new(op(BPF_RET | BPF_K), 0, 0, drop),
            ],
            // Raw IPv6 sockets start at the TCP header.
            Family::V6 => vec![
                SockFilter::new(op(BPF_LD | BPF_H | BPF_ABS), 0, 0, 0),
                SockFilter::new(op(BPF_JMP | BPF_JEQ | BPF_K), 0, 1, port),
                SockFilter::new(op(BPF_RET | BPF_K), 0, 0, accept),
                SockFilter::new(op(BPF_RET | BPF_K), 0, 0, drop),
            ],
        };
        self.socket.attach_filter(&program)
    }

    /// Receives one incoming TCP segment without blocking (`WouldBlock`
    /// when none is pending).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<ReceivedSegment> {
        let message = retry_past_socket_errors(|| {
            sys::recv_msg(self.socket.as_fd(), buf, libc::MSG_DONTWAIT)
        })?;
        let received_at = Instant::now();
        let source = message.peer.map(|p| p.ip()).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "received a TCP segment without a source address",
            )
        })?;
        let len = message.len;
        let start = match self.family {
            Family::V4 => ipv4_header_len(buf.get(..len).unwrap_or_default()),
            Family::V6 => 0,
        };
        Ok(ReceivedSegment {
            len,
            segment: start..len,
            source,
            ttl: message.ancillary.ttl,
            kernel_time: message.ancillary.kernel_time,
            received_at,
        })
    }

    /// Takes one entry off the error queue, never blocking: local errors
    /// (`EMSGSIZE` with the interface MTU) and the ICMP errors the kernel
    /// also hands raw sockets.
    pub fn recv_error(&self, buf: &mut [u8]) -> io::Result<Option<QueuedError>> {
        match sys::recv_error_msg(self.socket.as_fd(), buf) {
            Ok(message) => Ok(Some(queued_error(&message, Instant::now())?)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The source address the kernel picks to reach `dst` with `opts`
/// (source, interface, mark): what a raw TCP segment's checksum must cover.
/// Found by connecting a UDP socket, which sends nothing.
pub fn route_source(dst: SocketAddr, opts: &SocketOptions) -> Result<IpAddr, Error> {
    if let Some(source) = opts.source {
        return Ok(source);
    }
    let unavailable = |context: String| move |source| Error::SocketUnavailable { context, source };
    let domain = Domain::for_address(dst);
    let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP)).map_err(unavailable(
        "opening a socket to find the source address".into(),
    ))?;
    if let Some(name) = &opts.interface {
        sys::bind_device(&socket, name).map_err(unavailable(format!(
            "binding to interface {name:?} (SO_BINDTODEVICE)"
        )))?;
    }
    if let Some(mark) = opts.mark {
        sys::set_mark(&socket, mark).map_err(unavailable(format!("setting SO_MARK {mark}")))?;
    }
    // Any port will do to route; 0 is refused by connect on some kernels.
    let mut routed = dst;
    routed.set_port(9);
    socket
        .connect(&SockAddr::from(routed))
        .map_err(unavailable(format!("finding a route to {}", dst.ip())))?;
    let local = socket
        .local_addr()
        .map_err(unavailable("reading the routed source address".into()))?;
    Ok(local.as_socket().map(|a| a.ip()).unwrap_or(match dst {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }))
}

impl AsFd for RawTcpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl AsRawFd for RawTcpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

/// A [`RawTcpSocket`] registered with tokio's reactor.
#[derive(Debug)]
pub struct AsyncRawTcpSocket {
    inner: tokio::io::unix::AsyncFd<RawTcpSocket>,
}

impl AsyncRawTcpSocket {
    /// Registers `socket` (non-blocking since [`RawTcpSocket::open`]) with
    /// the current runtime (an error outside one).
    pub fn new(socket: RawTcpSocket) -> io::Result<Self> {
        Ok(Self {
            inner: sys::register_with_reactor(socket, tokio::io::Interest::READABLE)?,
        })
    }

    /// [`AsyncRawTcpSocket::new`] with the library's error: fails with
    /// [`Error::SocketUnavailable`](crate::Error::SocketUnavailable)
    /// outside a tokio runtime.
    pub fn register(socket: RawTcpSocket) -> crate::Result<Self> {
        Self::new(socket).map_err(super::registration_failed("the raw TCP socket"))
    }

    /// The socket, for sending and its setters.
    pub fn get_ref(&self) -> &RawTcpSocket {
        self.inner.get_ref()
    }

    /// Waits until a segment or an error-queue entry is pending. Drain
    /// with the synchronous calls, then `clear_ready()`.
    pub async fn ready(&self) -> io::Result<tokio::io::unix::AsyncFdReadyGuard<'_, RawTcpSocket>> {
        use tokio::io::Interest;
        self.inner.ready(Interest::READABLE | Interest::ERROR).await
    }

    /// Waits until the socket may take a send (after `WouldBlock`).
    pub async fn writable(
        &self,
    ) -> io::Result<tokio::io::unix::AsyncFdReadyGuard<'_, RawTcpSocket>> {
        self.inner.ready(tokio::io::Interest::WRITABLE).await
    }
}

//! The synchronous ICMP socket.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::ops::Range;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::MAX_BATCH;
use super::options::family_name;
use super::privileges::permission_hint;
use super::sys::{self, RawMessage};
use super::{Family, PmtuDisc, Privilege, SocketKind, SocketOptions, TypeFilter};
use crate::Error;

/// When a message was handed to the kernel: both clocks read immediately
/// before the send system call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendTime {
    /// Wall-clock time since the UNIX epoch (`CLOCK_REALTIME`), comparable
    /// with [`Received::kernel_time`].
    pub realtime: Duration,
    /// Monotonic time, for intervals and timeouts.
    pub monotonic: Instant,
}

impl SendTime {
    pub(crate) fn now() -> Self {
        // SystemTime::now() is clock_gettime(CLOCK_REALTIME) on Linux; a
        // clock before 1970 reads as zero rather than failing the send.
        let realtime = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self {
            realtime,
            monotonic: Instant::now(),
        }
    }
}

/// One received ICMP message and what the kernel told us about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Bytes written into the buffer.
    pub len: usize,
    /// Where the ICMP message is in the buffer: raw IPv4 sockets deliver the
    /// IP header first, the others deliver the ICMP message alone.
    pub icmp: Range<usize>,
    /// The datagram was longer than the buffer and was cut.
    pub truncated: bool,
    /// Some control messages did not fit their buffer (`MSG_CTRUNC`) or
    /// were malformed: the kernel time, TTL, TOS or destination below may
    /// be missing for this packet (logged as a warning too).
    pub control_truncated: bool,
    /// Who sent it.
    pub source: IpAddr,
    /// The IP destination it was sent to (`IP_PKTINFO`/`IPV6_PKTINFO`):
    /// tells unicast from broadcast/multicast replies.
    pub destination: Option<IpAddr>,
    /// The received TTL / hop limit.
    pub ttl: Option<u8>,
    /// The received TOS byte / traffic class.
    pub tos: Option<u8>,
    /// The kernel's receive timestamp (`SO_TIMESTAMPNS`), since the UNIX
    /// epoch on the realtime clock: compare with [`SendTime::realtime`].
    pub kernel_time: Option<Duration>,
    /// Monotonic time right after the receive system call returned.
    pub received_at: Instant,
    /// The interface it arrived on.
    pub ifindex: Option<u32>,
}

/// Where an error-queue entry comes from (`sock_extended_err.ee_origin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorOrigin {
    /// The local stack (e.g. `EMSGSIZE` with [`PmtuDisc::Do`]).
    Local,
    /// An ICMPv4 error from a router or the target.
    Icmp,
    /// An ICMPv6 error from a router or the target.
    Icmp6,
    /// A transmit timestamp (see [`IcmpSocket::enable_tx_timestamps`]).
    Timestamping,
    /// Another origin (timestamping, zero-copy...), by its number.
    Other(u8),
}

/// An entry of the socket error queue (`MSG_ERRQUEUE`): an error about a
/// datagram we sent. The buffer holds the start of that datagram, our
/// ICMP message (`buf[..len]`), so its echo id and sequence tell which
/// probe it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedError {
    /// Where the error comes from.
    pub origin: ErrorOrigin,
    /// The errno the kernel maps it to (`EHOSTUNREACH`, `EMSGSIZE`...).
    pub errno: i32,
    /// The ICMP type of the error message (0 for local errors).
    pub icmp_type: u8,
    /// The ICMP code of the error message.
    pub icmp_code: u8,
    /// `ee_info`: the next-hop MTU for "fragmentation needed" / "packet too
    /// big" and local `EMSGSIZE`, the pointer of a parameter problem.
    pub info: u32,
    /// Who reported it (`SO_EE_OFFENDER`): the router or target that sent
    /// the ICMP error, or our own address for local errors.
    pub offender: Option<IpAddr>,
    /// The destination of the datagram the error is about.
    pub destination: Option<IpAddr>,
    /// Bytes of our original ICMP message written into the buffer.
    pub len: usize,
    /// The kernel's timestamp of the error, since the UNIX epoch.
    pub kernel_time: Option<Duration>,
    /// For [`ErrorOrigin::Timestamping`] entries: when the kernel handed
    /// the datagram to the device (CLOCK_REALTIME, since the epoch).
    pub tx_time: Option<Duration>,
    /// For [`ErrorOrigin::Timestamping`] entries: which send it stamps,
    /// counting successful sends from 0 (`SOF_TIMESTAMPING_OPT_ID`).
    pub key: u32,
    /// Monotonic time right after the system call returned.
    pub received_at: Instant,
}

impl QueuedError {
    /// The error as an `io::Error`.
    pub fn io_error(&self) -> io::Error {
        io::Error::from_raw_os_error(self.errno)
    }
}

/// Which events a socket has pending, from [`IcmpSocket::wait`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Readiness {
    /// A message can be read with `recv`.
    pub readable: bool,
    /// The error queue (or a pending socket error) has something:
    /// call [`IcmpSocket::recv_error`].
    pub error: bool,
}

/// An ICMP socket (raw or datagram, IPv4 or IPv6). Blocking by default;
/// see [`IcmpSocket::set_nonblocking`] and [`AsyncIcmpSocket`](super::AsyncIcmpSocket).
#[derive(Debug)]
pub struct IcmpSocket {
    socket: Socket,
    family: Family,
    kind: SocketKind,
    echo_id: Option<u16>,
    /// IPv6 flow label of each send (network order, as `sin6_flowinfo`),
    /// once [`IcmpSocket::use_flow_label`] leased one; else 0.
    flowinfo: u32,
    /// `recvmmsg`'s storage, allocated once for the socket's life (one
    /// batch at a time: the lock is never contended in practice).
    recv_space: Mutex<sys::RecvBatchSpace>,
    /// `sendmmsg`'s storage, likewise.
    send_space: Mutex<sys::SendBatchSpace>,
}

impl IcmpSocket {
    /// Opens and configures an ICMP socket.
    ///
    /// Fails with [`Error::Permission`] (naming `setcap`, the
    /// `ping_group_range` sysctl and `sudo`) when no allowed kind of socket
    /// may be opened, [`Error::InvalidOption`] for options no socket can
    /// take, and [`Error::SocketUnavailable`] when the kernel refuses one.
    pub fn open(family: Family, privilege: Privilege, opts: &SocketOptions) -> Result<Self, Error> {
        opts.validate(family)?;
        sys::check_supported().map_err(|source| Error::SocketUnavailable {
            context: "opening an ICMP socket".into(),
            source,
        })?;
        let (socket, kind) = create(family, privilege)?;
        let mut this = Self {
            socket,
            family,
            kind,
            echo_id: None,
            flowinfo: 0,
            recv_space: Mutex::default(),
            send_space: Mutex::default(),
        };
        this.configure(opts)?;
        Ok(this)
    }

    /// Raw or datagram.
    pub fn kind(&self) -> SocketKind {
        self.kind
    }

    /// IPv4 or IPv6.
    pub fn family(&self) -> Family {
        self.family
    }

    /// Datagram sockets: the echo identifier the kernel chose (and writes
    /// into every echo request we send). Raw sockets: `None`, the caller
    /// picks ids.
    pub fn echo_id(&self) -> Option<u16> {
        self.echo_id
    }

    /// The local address the socket is bound to.
    pub fn local_addr(&self) -> io::Result<IpAddr> {
        local_ip(&self.socket)
    }

    /// A second handle of this socket (a `dup` of its descriptor): the
    /// same socket, its options, filter and queue, under another
    /// descriptor (e.g. lent to a [`Pinger`](crate::ping::Pinger) while a
    /// pool keeps the first). Needs no privilege.
    pub fn try_clone(&self) -> io::Result<IcmpSocket> {
        Ok(IcmpSocket {
            socket: self.socket.try_clone()?,
            family: self.family,
            kind: self.kind,
            echo_id: self.echo_id,
            flowinfo: self.flowinfo,
            recv_space: Mutex::default(),
            send_space: Mutex::default(),
        })
    }

    /// The TTL / hop limit of unicast sends now (the system's default
    /// until [`IcmpSocket::set_ttl`]).
    pub fn ttl(&self) -> io::Result<u8> {
        let ttl = match self.family {
            Family::V4 => self.socket.ttl_v4()?,
            Family::V6 => self.socket.unicast_hops_v6()?,
        };
        Ok(u8::try_from(ttl).unwrap_or(u8::MAX))
    }

    /// Sets the TTL / hop limit of the following sends (per probe, as
    /// traceroute does).
    pub fn set_ttl(&self, ttl: u8) -> io::Result<()> {
        if ttl == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "ttl must be between 1 and 255",
            ));
        }
        match self.family {
            Family::V4 => {
                self.socket.set_ttl_v4(u32::from(ttl))?;
                self.socket.set_multicast_ttl_v4(u32::from(ttl))
            }
            Family::V6 => {
                self.socket.set_unicast_hops_v6(u32::from(ttl))?;
                self.socket.set_multicast_hops_v6(u32::from(ttl))
            }
        }
    }

    /// Sets the TOS byte / traffic class of the following sends.
    pub fn set_tos(&self, tos: u8) -> io::Result<()> {
        sys::set_tos(&self.socket, self.family, tos)
    }

    /// Sets the path-MTU discovery mode.
    pub fn set_pmtu_discovery(&self, mode: PmtuDisc) -> io::Result<()> {
        sys::set_pmtu_discovery(&self.socket, self.family, mode)
    }

    /// Asks for kernel transmit timestamps: each successful send then
    /// queues an [`ErrorOrigin::Timestamping`] entry on the error queue with
    /// [`QueuedError::tx_time`] and its [`QueuedError::key`]. RTTs from
    /// these and the receive stamps are kernel-to-kernel, free of any
    /// user-space delay before the send.
    pub fn enable_tx_timestamps(&self) -> io::Result<()> {
        sys::enable_tx_timestamps(&self.socket)
    }

    /// Raw IPv4: leaves out the TTL, TOS and packet-info control messages
    /// (the TTL and TOS are then read from the IP header; the destination
    /// address and interface index are not known). Other sockets: nothing.
    pub(crate) fn skip_header_info(&self) -> io::Result<()> {
        match (self.kind, self.family) {
            (SocketKind::Raw, Family::V4) => sys::skip_header_info_v4(&self.socket),
            _ => Ok(()),
        }
    }

    /// IPv6: sends to `destination` carry flow label `label` (20 bits;
    /// iputils' `ping -F`), leased from the kernel for this socket.
    pub fn use_flow_label(
        &mut self,
        destination: std::net::Ipv6Addr,
        label: u32,
    ) -> io::Result<()> {
        if self.family != Family::V6 || label > 0xF_FFFF {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "flow labels are 20-bit IPv6 header fields",
            ));
        }
        sys::use_flow_label(&self.socket, destination, label)?;
        self.flowinfo = label.to_be();
        Ok(())
    }

    /// Raw sockets: replaces the ICMP type filter (e.g.
    /// [`TypeFilter::pass_all`] for a sniffer). Datagram sockets have no
    /// such filter and return `ErrorKind::Unsupported`.
    pub fn set_type_filter(&self, filter: &TypeFilter) -> io::Result<()> {
        match self.kind {
            SocketKind::Raw => sys::set_type_filter(&self.socket, self.family, filter),
            SocketKind::Datagram => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "datagram ICMP sockets only receive their own replies; type filters apply to raw sockets",
            )),
        }
    }

    /// Raw IPv4 sockets: every send then starts with the IPv4 header,
    /// written by the caller (`IP_HDRINCL`; the kernel still fills in a
    /// zero source address, the total length and the header checksum).
    /// Saves the kernel's corking path per packet (sweeps). Other sockets
    /// return `ErrorKind::Unsupported`.
    pub fn set_header_included(&self, included: bool) -> io::Result<()> {
        match (self.kind, self.family) {
            (SocketKind::Raw, Family::V4) => self.socket.set_header_included_v4(included),
            _ => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "only raw IPv4 sockets take the IP header from the caller",
            )),
        }
    }

    /// Blocking (the default) or non-blocking I/O.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.socket.set_nonblocking(nonblocking)
    }

    /// Blocking receives give up with `WouldBlock`/`TimedOut` after
    /// `timeout` (`None`: wait forever).
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.socket.set_read_timeout(timeout)
    }

    /// Sets the receive buffer to `size` bytes even above
    /// `net.core.rmem_max` (`SO_RCVBUFFORCE`, needs `CAP_NET_ADMIN`), for
    /// receivers that must absorb bursts (a sniffer). Without the
    /// capability it fails with `PermissionDenied`; then
    /// [`SocketOptions::recv_buffer`] is the capped alternative.
    pub fn set_recv_buffer_force(&self, size: usize) -> io::Result<()> {
        sys::set_recv_buffer_force(&self.socket, size)
    }

    /// Waits until a message or a queued error is pending, or `timeout`
    /// passes (then both are false). `None` waits forever.
    pub fn wait(&self, timeout: Option<Duration>) -> io::Result<Readiness> {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        let timeout = match timeout {
            None => PollTimeout::NONE,
            Some(t) => PollTimeout::try_from(t).unwrap_or(PollTimeout::MAX),
        };
        let mut fds = [PollFd::new(self.socket.as_fd(), PollFlags::POLLIN)];
        loop {
            match poll(&mut fds, timeout) {
                Ok(_) => break,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        let events = fds[0].revents().unwrap_or(PollFlags::empty());
        Ok(Readiness {
            readable: events.contains(PollFlags::POLLIN),
            error: events.contains(PollFlags::POLLERR),
        })
    }

    /// Sends one ICMP message (header + payload, no IP header) to `dst`.
    ///
    /// A pending socket error left by an earlier ICMP error (see
    /// [`IcmpSocket::recv`]) does not fail the send: it is cleared and the
    /// send retried once. (A send that fails locally with `EMSGSIZE` under
    /// [`PmtuDisc::Do`] is thus tried twice and may queue two local errors.)
    ///
    /// IPv4 messages need their checksum; the kernel fills in the ICMPv6
    /// checksum. On datagram sockets the kernel also overwrites the echo
    /// id with [`IcmpSocket::echo_id`] (and fixes the IPv4 checksum).
    /// For an IPv6 link-local `dst` use [`IcmpSocket::send_to_scoped`].
    pub fn send_to(&self, icmp_message: &[u8], dst: IpAddr) -> io::Result<SendTime> {
        self.send_to_scoped(icmp_message, dst, 0)
    }

    /// [`IcmpSocket::send_to`] with the IPv6 scope (zone) id, the interface
    /// index of a link-local destination. Ignored for IPv4.
    pub fn send_to_scoped(
        &self,
        icmp_message: &[u8],
        dst: IpAddr,
        scope_id: u32,
    ) -> io::Result<SendTime> {
        let addr = SockAddr::from(self.destination(dst, scope_id)?);
        send_past_socket_error(|| {
            let time = SendTime::now();
            self.socket.send_to(icmp_message, &addr)?;
            Ok(time)
        })
    }

    /// [`IcmpSocket::send_to_scoped`] without reading the clocks: the
    /// driver's protocols stamp probes with the time they built them at.
    pub(crate) fn send_untimed(
        &self,
        icmp_message: &[u8],
        dst: IpAddr,
        scope_id: u32,
    ) -> io::Result<()> {
        let addr = SockAddr::from(self.destination(dst, scope_id)?);
        send_past_socket_error(|| self.socket.send_to(icmp_message, &addr).map(drop))
    }

    /// Sends several messages with one `sendmmsg`. Returns how many were
    /// sent (all of them, or fewer when the kernel stopped at an error
    /// after the first); `times` is cleared and gets one entry per message
    /// sent, all read once before the system call. Destinations are
    /// socket addresses for their IPv6 scope id (the zone of a link-local
    /// address); the port is ignored. The messages come as an iterator
    /// (walked twice: checked, then sent), so a caller need not gather them
    /// into a vector of its own for every batch.
    pub fn send_batch<'a, I>(&self, msgs: I, times: &mut Vec<SendTime>) -> io::Result<usize>
    where
        I: IntoIterator<Item = (&'a [u8], SocketAddr)>,
        I::IntoIter: Clone,
    {
        times.clear();
        let time = SendTime::now();
        let sent = self.send_batch_untimed(msgs)?;
        times.resize(sent, time);
        Ok(sent)
    }

    /// [`IcmpSocket::send_batch`] without reading the clocks (see
    /// [`IcmpSocket::send_untimed`]).
    pub(crate) fn send_batch_untimed<'a, I>(&self, msgs: I) -> io::Result<usize>
    where
        I: IntoIterator<Item = (&'a [u8], SocketAddr)>,
        I::IntoIter: Clone,
    {
        let msgs = msgs.into_iter().take(MAX_BATCH);
        // Every destination is checked before any is sent.
        for (_, dst) in msgs.clone() {
            self.destination(dst.ip(), scope_of(dst))?;
        }
        // Checked above: the fallback is never taken.
        let destinations = msgs.map(|(message, dst)| {
            let checked = self.destination(dst.ip(), scope_of(dst)).unwrap_or(dst);
            (message, checked)
        });
        let mut space = self
            .send_space
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        send_past_socket_error(|| {
            sys::send_mmsg(self.socket.as_fd(), destinations.clone(), &mut space)
        })
    }

    /// Receives one ICMP message into `buf`: blocks unless non-blocking
    /// (then `WouldBlock` when nothing is pending).
    ///
    /// An ICMP error about one of our datagrams also sets the socket's
    /// pending error, which the kernel would report here once; it is
    /// skipped because its details are on the error queue
    /// ([`IcmpSocket::recv_error`], [`Readiness::error`]). Sends skip it the
    /// same way.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        let message = retry_past_socket_errors(|| sys::recv_msg(self.socket.as_fd(), buf, 0))?;
        let received_at = Instant::now();
        self.received(buf, &message, received_at)
    }

    /// Receives up to `bufs.len()` messages with one `recvmmsg`: waits (if
    /// blocking) for the first, then takes whatever else is queued.
    /// `out` is cleared and `out[i]` describes `bufs[i]`. Returns how many
    /// were received.
    pub fn recv_batch<B: AsMut<[u8]>>(
        &self,
        bufs: &mut [B],
        out: &mut Vec<Received>,
    ) -> io::Result<usize> {
        let mut space = self
            .recv_space
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.recv_batch_into(bufs, out, &mut space)
    }

    /// [`IcmpSocket::recv_batch`] with its storage allocated for this call
    /// alone (as it was before the socket kept it): for the benchmark that
    /// measures what the reuse saves.
    #[doc(hidden)]
    pub fn recv_batch_allocating<B: AsMut<[u8]>>(
        &self,
        bufs: &mut [B],
        out: &mut Vec<Received>,
    ) -> io::Result<usize> {
        self.recv_batch_into(bufs, out, &mut sys::RecvBatchSpace::default())
    }

    fn recv_batch_into<B: AsMut<[u8]>>(
        &self,
        bufs: &mut [B],
        out: &mut Vec<Received>,
        space: &mut sys::RecvBatchSpace,
    ) -> io::Result<usize> {
        out.clear();
        retry_past_socket_errors(|| sys::recv_mmsg(self.socket.as_fd(), bufs, space))?;
        let received_at = Instant::now();
        for (message, buf) in space.messages().iter().zip(bufs.iter_mut()) {
            out.push(self.received(buf.as_mut(), message, received_at)?);
        }
        Ok(out.len())
    }

    /// Takes one entry off the error queue (`MSG_ERRQUEUE`), never
    /// blocking: `Ok(None)` when it is empty. `buf` receives the start of
    /// our original ICMP message.
    pub fn recv_error(&self, buf: &mut [u8]) -> io::Result<Option<QueuedError>> {
        let message = match sys::recv_error_msg(self.socket.as_fd(), buf) {
            Ok(message) => message,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(Some(queued_error(&message, Instant::now())?))
    }

    /// The pending socket error (`SO_ERROR`), cleared by reading it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.socket.take_error()
    }

    /// `dst` as a socket address, checked against the socket's family.
    fn destination(&self, dst: IpAddr, scope_id: u32) -> io::Result<SocketAddr> {
        super::refuse_ipv4_mapped(dst)?;
        match (self.family, dst) {
            (Family::V4, IpAddr::V4(v4)) => Ok(SocketAddr::from((v4, 0))),
            (Family::V6, IpAddr::V6(v6)) => Ok(SocketAddr::V6(SocketAddrV6::new(
                v6,
                0,
                self.flowinfo,
                scope_id,
            ))),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "cannot send to {dst} on an {} ICMP socket",
                    family_name(self.family)
                ),
            )),
        }
    }

    fn received(
        &self,
        buf: &[u8],
        message: &RawMessage,
        received_at: Instant,
    ) -> io::Result<Received> {
        let source = message.peer.map(|p| p.ip()).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "received an ICMP message without a source address",
            )
        })?;
        let len = message.len;
        let start = match (self.kind, self.family) {
            (SocketKind::Raw, Family::V4) => ipv4_header_len(buf.get(..len).unwrap_or_default()),
            _ => 0,
        };
        let ancillary = &message.ancillary;
        // Raw IPv4 without header-info messages: read them from the header.
        let header = |at: usize| {
            (start > at && self.family == Family::V4)
                .then(|| buf.get(at).copied())
                .flatten()
        };
        Ok(Received {
            len,
            icmp: start..len,
            truncated: message.truncated,
            control_truncated: message.control_truncated,
            source,
            destination: ancillary.destination,
            ttl: ancillary.ttl.or_else(|| header(8)),
            tos: ancillary.tos.or_else(|| header(1)),
            kernel_time: ancillary.kernel_time,
            received_at,
            ifindex: ancillary.ifindex,
        })
    }

    fn configure(&mut self, opts: &SocketOptions) -> Result<(), Error> {
        let family = self.family;
        let unavailable =
            |context: String| move |source| Error::SocketUnavailable { context, source };
        apply_common_options(&self.socket, family, opts)?;
        if opts.broadcast {
            self.socket
                .set_broadcast(true)
                .map_err(unavailable("enabling SO_BROADCAST".into()))?;
        }
        if let Some(ttl) = opts.ttl {
            self.set_ttl(ttl)
                .map_err(unavailable(format!("setting the TTL to {ttl}")))?;
        }
        sys::enable_receive_info(&self.socket, family).map_err(unavailable(
            "enabling error queue, TTL, packet info and timestamps".into(),
        ))?;
        if self.kind == SocketKind::Raw {
            let filter = opts
                .type_filter
                .unwrap_or_else(|| TypeFilter::replies_and_errors(family));
            self.set_type_filter(&filter)
                .map_err(unavailable("installing the ICMP type filter".into()))?;
        }
        self.bind(opts.source)
    }

    /// Binds to `source`; datagram sockets always bind so the kernel picks
    /// the echo id now (it is the local "port").
    fn bind(&mut self, source: Option<IpAddr>) -> Result<(), Error> {
        if source.is_none() && self.kind == SocketKind::Raw {
            return Ok(());
        }
        let ip = source.unwrap_or(match self.family {
            Family::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Family::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        });
        self.socket
            .bind(&SockAddr::from(SocketAddr::new(ip, 0)))
            .map_err(|source| Error::SocketUnavailable {
                context: format!("binding the ICMP socket to {ip}"),
                source,
            })?;
        if self.kind == SocketKind::Datagram {
            let local = self.socket.local_addr().and_then(|a| {
                a.as_socket()
                    .ok_or_else(|| io::Error::other("local address is not an IP address"))
            });
            let local = local.map_err(|source| Error::SocketUnavailable {
                context: "reading the kernel-assigned echo id (getsockname)".into(),
                source,
            })?;
            self.echo_id = Some(local.port());
        }
        Ok(())
    }
}

impl AsFd for IcmpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl AsRawFd for IcmpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

/// Decodes an error-queue message (shared with the transport probe
/// sockets, whose error queue has the same format).
pub(super) fn queued_error(message: &RawMessage, received_at: Instant) -> io::Result<QueuedError> {
    let ee = message.ancillary.extended_error.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "error-queue message without IP_RECVERR data",
        )
    })?;
    Ok(QueuedError {
        origin: ee.origin,
        errno: i32::try_from(ee.errno).unwrap_or(i32::MAX),
        icmp_type: ee.icmp_type,
        icmp_code: ee.icmp_code,
        info: ee.info,
        offender: ee.offender,
        destination: message.peer.map(|p| p.ip()),
        len: message.len,
        kernel_time: message.ancillary.kernel_time,
        tx_time: message.ancillary.software_timestamp,
        key: ee.data,
        received_at,
    })
}

/// Creates the socket `privilege` allows, mapping refusals to errors that
/// say what to do.
fn create(family: Family, privilege: Privilege) -> Result<(Socket, SocketKind), Error> {
    let attempt = |kind| new_socket(family, kind).map(|s| (s, kind));
    let result = match privilege {
        Privilege::Privileged => attempt(SocketKind::Raw),
        Privilege::Unprivileged => attempt(SocketKind::Datagram),
        // Datagram first: it needs no privilege and is what iputils picks.
        // The datagram error (EACCES outside ping_group_range, or no ping
        // socket support) is superseded by the raw one.
        Privilege::Auto => attempt(SocketKind::Datagram).or_else(|_| attempt(SocketKind::Raw)),
        // Raw first; only a refusal for want of privilege falls back (any
        // other error, e.g. no such interface, is the caller's to see).
        Privilege::PreferRaw => match attempt(SocketKind::Raw) {
            Err(e) if is_permission(&e) => attempt(SocketKind::Datagram),
            other => other,
        },
    };
    result.map_err(|source| {
        if is_permission(&source) {
            Error::Permission(permission_hint(family, privilege))
        } else {
            Error::SocketUnavailable {
                context: format!(
                    "opening an {} ICMP socket ({privilege:?})",
                    family_name(family)
                ),
                source,
            }
        }
    })
}

fn new_socket(family: Family, kind: SocketKind) -> io::Result<Socket> {
    let (domain, protocol) = match family {
        Family::V4 => (Domain::IPV4, Protocol::ICMPV4),
        Family::V6 => (Domain::IPV6, Protocol::ICMPV6),
    };
    let kind = match kind {
        SocketKind::Raw => Type::RAW,
        SocketKind::Datagram => Type::DGRAM,
    };
    Socket::new(domain, kind, Some(protocol))
}

fn is_permission(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::EPERM | libc::EACCES))
}

fn local_ip(socket: &Socket) -> io::Result<IpAddr> {
    socket
        .local_addr()?
        .as_socket()
        .map(|a| a.ip())
        .ok_or_else(|| io::Error::other("local address is not an IP address"))
}

/// The IPv4 header length a raw socket delivers before the ICMP message,
/// clamped to the data (a malformed header yields an empty ICMP range, not
/// a panic).
pub(super) fn ipv4_header_len(packet: &[u8]) -> usize {
    let ihl = packet.first().map_or(0, |b| usize::from(b & 0x0f) * 4);
    ihl.min(packet.len())
}

/// Runs a receive, skipping the socket's pending asynchronous errors (each
/// sits in detail on the error queue) and interruptions.
pub(super) fn retry_past_socket_errors<T>(
    mut receive: impl FnMut() -> io::Result<T>,
) -> io::Result<T> {
    // Each skipped error was cleared by the kernel; the bound keeps a storm
    // of ICMP errors from starving the caller.
    const MAX_SKIPS: usize = 64;
    let mut skips = 0;
    loop {
        match receive() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if sys::may_be_socket_error(&e) && skips < MAX_SKIPS => skips += 1,
            other => return other,
        }
    }
}

/// Runs a send; if it fails with what may be the pending asynchronous error
/// (now cleared), tries once more: a failed send transmitted nothing, and a
/// genuine failure (no route, `EMSGSIZE` under [`PmtuDisc::Do`], broadcast
/// without `SO_BROADCAST`) fails again and is returned.
pub(super) fn send_past_socket_error<T>(mut send: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match send() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if sys::may_be_socket_error(&e) => return send(),
            other => return other,
        }
    }
}

/// Applies the options every kind of socket takes the same way: interface
/// (`SO_BINDTODEVICE`), mark, buffer sizes, TOS / traffic class, path-MTU
/// discovery. (TTL, broadcast, filters and binding are each kind's own.)
pub(super) fn apply_common_options(
    socket: &Socket,
    family: Family,
    opts: &SocketOptions,
) -> Result<(), Error> {
    let unavailable = |context: String| move |source| Error::SocketUnavailable { context, source };
    if let Some(name) = &opts.interface {
        sys::bind_device(socket, name).map_err(unavailable(format!(
            "binding to interface {name:?} (SO_BINDTODEVICE)"
        )))?;
    }
    if let Some(mark) = opts.mark {
        sys::set_mark(socket, mark).map_err(unavailable(format!("setting SO_MARK {mark}")))?;
    }
    if let Some(size) = opts.recv_buffer {
        socket
            .set_recv_buffer_size(size)
            .map_err(unavailable(format!(
                "setting the receive buffer to {size} bytes"
            )))?;
    }
    if let Some(size) = opts.send_buffer {
        socket
            .set_send_buffer_size(size)
            .map_err(unavailable(format!(
                "setting the send buffer to {size} bytes"
            )))?;
    }
    if let Some(tos) = opts.tos {
        sys::set_tos(socket, family, tos).map_err(unavailable(format!(
            "setting the TOS/traffic class to {tos:#04x}"
        )))?;
    }
    if let Some(mode) = opts.pmtu {
        sys::set_pmtu_discovery(socket, family, mode).map_err(unavailable(format!(
            "setting path-MTU discovery to {mode:?}"
        )))?;
    }
    Ok(())
}

/// The IPv6 scope id of `addr` (0 for IPv4).
fn scope_of(addr: SocketAddr) -> u32 {
    match addr {
        SocketAddr::V4(_) => 0,
        SocketAddr::V6(v6) => v6.scope_id(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_header_length_is_clamped() {
        assert_eq!(ipv4_header_len(&[]), 0);
        assert_eq!(ipv4_header_len(&[0x45; 8]), 8);
        assert_eq!(ipv4_header_len(&[0x46; 40]), 24);
    }

    #[test]
    fn socket_errors_are_skipped_but_call_errors_are_not() {
        let mut errors = vec![
            io::Error::from_raw_os_error(libc::EHOSTUNREACH),
            io::Error::from_raw_os_error(libc::EINTR),
            io::Error::from_raw_os_error(libc::EMSGSIZE),
        ];
        let result = retry_past_socket_errors(|| errors.pop().map_or(Ok(7), Err));
        assert_eq!(result.unwrap(), 7);
        let mut calls = 0;
        let result: io::Result<()> = retry_past_socket_errors(|| {
            calls += 1;
            Err(io::Error::from_raw_os_error(libc::EAGAIN))
        });
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::WouldBlock);
        assert_eq!(calls, 1);
    }

    #[test]
    fn sends_retry_a_socket_error_once() {
        let mut calls = 0;
        let result = send_past_socket_error(|| {
            calls += 1;
            if calls == 1 {
                Err(io::Error::from_raw_os_error(libc::EHOSTUNREACH))
            } else {
                Ok(calls)
            }
        });
        assert_eq!(result.unwrap(), 2);
        let mut calls = 0;
        let result: io::Result<()> = send_past_socket_error(|| {
            calls += 1;
            Err(io::Error::from_raw_os_error(libc::EACCES))
        });
        assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::EACCES));
        assert_eq!(calls, 2, "a genuine failure is returned after one retry");
    }

    /// The `OPT_ID` keys of the transmit stamps of `sends` echo requests
    /// to 127.0.0.1.
    fn stamp_keys(socket: &IcmpSocket, sends: u16) -> Vec<u32> {
        let mut message = Vec::new();
        for sequence in 0..sends {
            crate::engine::probe::echo_request(Family::V4, 7, sequence, &[0; 8], &mut message);
            socket.send_to(&message, [127, 0, 0, 1].into()).unwrap();
        }
        let mut keys = Vec::new();
        let mut buf = [0u8; 256];
        let give_up = Instant::now() + Duration::from_secs(2);
        while keys.len() < usize::from(sends) && Instant::now() < give_up {
            match socket.recv_error(&mut buf).unwrap() {
                Some(q) if q.origin == ErrorOrigin::Timestamping => keys.push(q.key),
                Some(_) => {}
                None => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        keys
    }

    #[test]
    fn transmit_stamps_are_numbered_from_zero_each_time_they_are_enabled() {
        let test = "transmit_stamps_are_numbered_from_zero_each_time_they_are_enabled";
        let socket = match IcmpSocket::open(Family::V4, Privilege::Auto, &SocketOptions::default())
        {
            Ok(socket) => socket,
            Err(error) => {
                icmpkit_lab::report_skip(test, &format!("no ICMP socket: {error}"));
                return;
            }
        };
        socket.enable_tx_timestamps().unwrap();
        assert_eq!(stamp_keys(&socket, 2), [0, 1]);
        // The socket passed to its next user (a pooled socket).
        socket.enable_tx_timestamps().unwrap();
        assert_eq!(stamp_keys(&socket, 2), [0, 1]);
    }
}

//! The thin Linux platform layer: the only code in icmpkit that calls the C
//! socket API directly (`recvmsg` with control messages, the error queue,
//! `recvmmsg`/`sendmmsg`, socket options socket2 does not wrap, `capset`).
//!
//! Every function takes safe Rust types, keeps each `unsafe` block to one
//! system call or one control-message read, and returns `io::Result`.
#![allow(unsafe_code)]

use std::io;
use std::mem::{self, MaybeUninit};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::ptr;
use std::time::Duration;

use super::{ErrorOrigin, Family, MAX_BATCH, PmtuDisc, TypeFilter};

/// `ICMP_FILTER` (linux/icmp.h): a 32-bit mask of ICMPv4 types to drop, at
/// level `SOL_RAW`.
const ICMP_FILTER: libc::c_int = 1;
/// `ICMP6_FILTER` (linux/icmpv6.h): a 256-bit mask of ICMPv6 types to drop,
/// at level `IPPROTO_ICMPV6`.
const ICMP6_FILTER: libc::c_int = 1;

/// Room for every control message we enable (pktinfo, TTL/hop limit,
/// TOS/traffic class, timestamp, extended error + offender), generously
/// rounded up: the kernel sets `MSG_CTRUNC` rather than overflow it.
const CMSG_BUFFER_LEN: usize = 512;

/// Sets a socket option from a plain-old-data value.
fn set_option<T: Copy>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: `value` points to `size_of::<T>()` initialised bytes that
    // outlive the call; the kernel only reads them.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            ptr::from_ref(value).cast(),
            socklen_of::<T>(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn socklen_of<T>() -> libc::socklen_t {
    // Every type passed here is a small C struct or integer.
    mem::size_of::<T>() as libc::socklen_t
}

/// Sets an `int`-valued option.
fn set_int_option(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    set_option(fd, level, name, &value)
}

/// Linux's `struct in6_flowlabel_req` (linux/in6.h).
#[repr(C)]
#[derive(Clone, Copy)]
struct FlowLabelRequest {
    dst: [u8; 16],
    label: u32,
    action: u8,
    share: u8,
    flags: u16,
    expires: u16,
    linger: u16,
    pad: u32,
}

const IPV6_FLOWLABEL_MGR: libc::c_int = 32;
const IPV6_FLOWINFO_SEND: libc::c_int = 33;
const IPV6_FL_A_GET: u8 = 0;
const IPV6_FL_S_EXCL: u8 = 1;
const IPV6_FL_F_CREATE: u16 = 1;

/// Leases IPv6 flow label `label` (20 bits) toward `dst` for this socket
/// and has the kernel take each send's label from the destination
/// address (`IPV6_FLOWINFO_SEND`), as iputils' `ping -F` does.
pub(super) fn use_flow_label(
    socket: &socket2::Socket,
    dst: std::net::Ipv6Addr,
    label: u32,
) -> io::Result<()> {
    let request = FlowLabelRequest {
        dst: dst.octets(),
        label: label.to_be(),
        action: IPV6_FL_A_GET,
        share: IPV6_FL_S_EXCL,
        flags: IPV6_FL_F_CREATE,
        expires: 0,
        linger: 0,
        pad: 0,
    };
    let fd = socket.as_fd();
    set_option(fd, libc::IPPROTO_IPV6, IPV6_FLOWLABEL_MGR, &request)?;
    set_int_option(fd, libc::IPPROTO_IPV6, IPV6_FLOWINFO_SEND, 1)
}

/// `SO_RCVBUFFORCE`: a receive buffer above `net.core.rmem_max` (needs
/// `CAP_NET_ADMIN`).
pub(super) fn set_recv_buffer_force(socket: &socket2::Socket, size: usize) -> io::Result<()> {
    let size = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
    set_int_option(socket.as_fd(), libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, size)
}

/// Installs the raw ICMPv4 type filter; bit `t` set drops type `t` (< 32).
fn set_icmp_filter(fd: BorrowedFd<'_>, blocked: u32) -> io::Result<()> {
    set_option(fd, libc::SOL_RAW, ICMP_FILTER, &blocked)
}

/// Installs the raw ICMPv6 type filter; bit `t` set drops type `t`.
fn set_icmp6_filter(fd: BorrowedFd<'_>, blocked: [u32; 8]) -> io::Result<()> {
    set_option(fd, libc::IPPROTO_ICMPV6, ICMP6_FILTER, &blocked)
}

/// ICMP sockets work here.
pub(super) fn check_supported() -> io::Result<()> {
    Ok(())
}

/// Turns on every piece of receive information icmpkit reports: the error
/// queue, TTL/hop limit, TOS/traffic class, destination address and
/// interface, and nanosecond kernel receive timestamps.
pub(super) fn enable_receive_info(socket: &socket2::Socket, family: Family) -> io::Result<()> {
    let fd = socket.as_fd();
    set_int_option(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, 1)?;
    match family {
        Family::V4 => {
            set_int_option(fd, libc::IPPROTO_IP, libc::IP_RECVERR, 1)?;
            set_int_option(fd, libc::IPPROTO_IP, libc::IP_RECVTTL, 1)?;
            set_int_option(fd, libc::IPPROTO_IP, libc::IP_PKTINFO, 1)?;
            socket.set_recv_tos_v4(true)
        }
        Family::V6 => {
            set_int_option(fd, libc::IPPROTO_IPV6, libc::IPV6_RECVERR, 1)?;
            set_int_option(fd, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)?;
            socket.set_recv_hoplimit_v6(true)?;
            socket.set_recv_tclass_v6(true)
        }
    }
}

/// Raw IPv4: no TTL, TOS or packet-info control messages. The TTL and TOS
/// are in the IP header a raw socket receives; each control message left
/// out is kernel work saved on every packet (a flood's hot path).
pub(super) fn skip_header_info_v4(socket: &socket2::Socket) -> io::Result<()> {
    let fd = socket.as_fd();
    set_int_option(fd, libc::IPPROTO_IP, libc::IP_RECVTTL, 0)?;
    set_int_option(fd, libc::IPPROTO_IP, libc::IP_PKTINFO, 0)?;
    socket.set_recv_tos_v4(false)
}

/// `SO_TIMESTAMPING`: libc's per-architecture number, which is the
/// `_NEW` option (64-bit time fields) where `time_t` is wider than `long`
/// (32-bit systems with 64-bit time) and the `_OLD` one (`long` fields)
/// elsewhere; the kernel answers with `SCM_TIMESTAMPING` of the same number.
const SO_TIMESTAMPING: libc::c_int = libc::SO_TIMESTAMPING;
const SCM_TIMESTAMPING: libc::c_int = libc::SCM_TIMESTAMPING;

/// Whether [`SCM_TIMESTAMPING`] is the `_NEW` message (`struct
/// __kernel_timespec`: two 64-bit fields) rather than the `_OLD` one
/// (`struct timespec` of two `long`s): libc's own rule for picking it.
const TIMESTAMPING_IS_NEW: bool = mem::size_of::<libc::time_t>() != mem::size_of::<libc::c_long>();

/// `struct timespec` as `SCM_TIMESTAMPING_OLD` carries it.
#[repr(C)]
#[derive(Clone, Copy)]
struct OldTimespec {
    tv_sec: libc::c_long,
    tv_nsec: libc::c_long,
}

/// `struct __kernel_timespec`, as `SCM_TIMESTAMPING_NEW` carries it.
#[repr(C)]
#[derive(Clone, Copy)]
struct KernelTimespec {
    tv_sec: i64,
    tv_nsec: i64,
}

/// Asks the kernel to stamp each datagram as the driver sends it
/// (software transmit timestamps), numbered by `OPT_ID` from 0 and queued
/// on the error queue without the payload (`OPT_TSONLY`).
pub(super) fn enable_tx_timestamps(socket: &socket2::Socket) -> io::Result<()> {
    let flags = libc::SOF_TIMESTAMPING_TX_SOFTWARE
        | libc::SOF_TIMESTAMPING_SOFTWARE
        | libc::SOF_TIMESTAMPING_OPT_ID
        | libc::SOF_TIMESTAMPING_OPT_TSONLY;
    // The kernel restarts the numbering only when OPT_ID is newly set: on
    // a socket that had it (one reused, as the exporter's /probe pool
    // does) the keys went on from the last user's sends, and the new
    // user's stamps were paired with the wrong requests.
    set_int_option(socket.as_fd(), libc::SOL_SOCKET, SO_TIMESTAMPING, 0)?;
    set_int_option(
        socket.as_fd(),
        libc::SOL_SOCKET,
        SO_TIMESTAMPING,
        flags as libc::c_int,
    )
}

/// A timespec's fields as a duration since the epoch; `None` for the zero
/// stamp the kernel leaves in unused slots (and for nonsense).
fn timespec_duration(tv_sec: i64, tv_nsec: i64) -> Option<Duration> {
    let secs = u64::try_from(tv_sec).ok()?;
    let nanos = u32::try_from(tv_nsec).ok().filter(|&n| n < 1_000_000_000)?;
    (secs != 0 || nanos != 0).then(|| Duration::new(secs, nanos))
}

/// `IP_MTU_DISCOVER` / `IPV6_MTU_DISCOVER`.
pub(super) fn set_pmtu_discovery(
    socket: &socket2::Socket,
    family: Family,
    mode: PmtuDisc,
) -> io::Result<()> {
    let fd = socket.as_fd();
    match family {
        Family::V4 => {
            let value = match mode {
                PmtuDisc::Do => libc::IP_PMTUDISC_DO,
                PmtuDisc::Want => libc::IP_PMTUDISC_WANT,
                PmtuDisc::Dont => libc::IP_PMTUDISC_DONT,
                PmtuDisc::Probe => libc::IP_PMTUDISC_PROBE,
            };
            set_int_option(fd, libc::IPPROTO_IP, libc::IP_MTU_DISCOVER, value)
        }
        Family::V6 => {
            let value = match mode {
                PmtuDisc::Do => libc::IPV6_PMTUDISC_DO,
                PmtuDisc::Want => libc::IPV6_PMTUDISC_WANT,
                PmtuDisc::Dont => libc::IPV6_PMTUDISC_DONT,
                PmtuDisc::Probe => libc::IPV6_PMTUDISC_PROBE,
            };
            set_int_option(fd, libc::IPPROTO_IPV6, libc::IPV6_MTU_DISCOVER, value)
        }
    }
}

/// Installs a raw socket's ICMP type filter.
pub(super) fn set_type_filter(
    socket: &socket2::Socket,
    family: Family,
    filter: &TypeFilter,
) -> io::Result<()> {
    match family {
        Family::V4 => set_icmp_filter(socket.as_fd(), filter.blocked_v4()),
        Family::V6 => set_icmp6_filter(socket.as_fd(), filter.blocked_v6()),
    }
}

/// `IP_TOS` / `IPV6_TCLASS`.
pub(super) fn set_tos(socket: &socket2::Socket, family: Family, tos: u8) -> io::Result<()> {
    match family {
        Family::V4 => socket.set_tos_v4(u32::from(tos)),
        Family::V6 => socket.set_tclass_v6(u32::from(tos)),
    }
}

/// Whether `error` may be the socket's pending asynchronous error
/// (`sk_err`) rather than a failure of the call itself: the errnos ICMP
/// errors map to (`icmp_err_convert`, `icmpv6_err_convert`) and local
/// `EMSGSIZE`. With `IP_RECVERR` on, the kernel also sets `sk_err` for every
/// error it queues, and hands it (once, clearing it) to the next send or
/// receive, whatever that call is about.
pub(super) fn may_be_socket_error(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(
            libc::ENETUNREACH
                | libc::EHOSTUNREACH
                | libc::ENOPROTOOPT
                | libc::ECONNREFUSED
                | libc::EMSGSIZE
                | libc::EOPNOTSUPP
                | libc::EHOSTDOWN
                | libc::ENONET
                | libc::EACCES
                | libc::EPROTO
        )
    )
}

/// `SO_BINDTODEVICE`.
pub(super) fn bind_device(socket: &socket2::Socket, name: &str) -> io::Result<()> {
    socket.bind_device(Some(name.as_bytes()))
}

/// `SO_MARK`.
pub(super) fn set_mark(socket: &socket2::Socket, mark: u32) -> io::Result<()> {
    socket.set_mark(mark)
}

/// Reads one message from the error queue, never blocking.
pub(super) fn recv_error_msg(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<RawMessage> {
    recv_msg(fd, buf, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT)
}

/// The `sock_extended_err` of an error-queue message, plus the offender.
#[derive(Debug, Clone, Copy)]
pub(super) struct ExtendedError {
    /// `ee_data`: for timestamping entries, the send's `OPT_ID` key.
    pub data: u32,
    pub errno: u32,
    pub origin: ErrorOrigin,
    pub icmp_type: u8,
    pub icmp_code: u8,
    pub info: u32,
    pub offender: Option<IpAddr>,
}

/// The control messages of one received datagram, decoded.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Ancillary {
    pub destination: Option<IpAddr>,
    pub ifindex: Option<u32>,
    pub ttl: Option<u8>,
    pub tos: Option<u8>,
    pub kernel_time: Option<Duration>,
    /// `SCM_TIMESTAMPING`'s software stamp (a transmit time on the error
    /// queue).
    pub software_timestamp: Option<Duration>,
    pub extended_error: Option<ExtendedError>,
    /// A control message's length did not fit the buffer: the walk
    /// stopped there.
    pub malformed_control: bool,
    /// `PACKET_AUXDATA`'s `tp_len`: a packet socket frame's length
    /// before any cut.
    pub frame_len: Option<u32>,
}

/// One message received by [`recv_msg`] or [`recv_mmsg`].
#[derive(Debug, Clone, Copy)]
pub(super) struct RawMessage {
    /// Bytes written into the buffer.
    pub len: usize,
    /// The datagram was longer than the buffer (`MSG_TRUNC`).
    pub truncated: bool,
    /// Control messages did not all fit (`MSG_CTRUNC`), or one was
    /// malformed: the ancillary data may lack some.
    pub control_truncated: bool,
    /// `msg_name`: the sender (or, on the error queue, the original
    /// destination).
    pub peer: Option<SocketAddr>,
    /// `msg_name` of a packet socket: the frame's interface, protocol and
    /// direction.
    pub link: Option<LinkPeer>,
    pub ancillary: Ancillary,
}

/// What a packet socket's `sockaddr_ll` says about a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LinkPeer {
    /// The Ethernet type of the payload (`ETH_P_*`), host order.
    pub protocol: u16,
    pub ifindex: u32,
    /// `PACKET_HOST`, `PACKET_OUTGOING`...
    pub pkttype: u8,
    /// The interface's `ARPHRD_*` type.
    pub hatype: u16,
}

/// Storage for one `recvmsg` header: the peer address and the control
/// buffer. Kept together so a batch allocates once.
struct MessageSpace {
    name: MaybeUninit<libc::sockaddr_storage>,
    control: [u64; CMSG_BUFFER_LEN / 8],
}

impl MessageSpace {
    fn new() -> Self {
        Self {
            name: MaybeUninit::zeroed(),
            control: [0; CMSG_BUFFER_LEN / 8],
        }
    }

    /// A `msghdr` pointing at `self` and at `iov`.
    fn header(&mut self, iov: &mut libc::iovec) -> libc::msghdr {
        // SAFETY: msghdr is plain data; all-zero is a valid value (null
        // pointers, zero lengths), and we fill in the fields we use.
        let mut header: libc::msghdr = unsafe { mem::zeroed() };
        header.msg_name = self.name.as_mut_ptr().cast();
        header.msg_namelen = socklen_of::<libc::sockaddr_storage>();
        header.msg_iov = iov;
        header.msg_iovlen = 1;
        header.msg_control = self.control.as_mut_ptr().cast();
        header.msg_controllen = CMSG_BUFFER_LEN as _;
        header
    }
}

fn iovec_for(buf: &mut [u8]) -> libc::iovec {
    libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    }
}

/// `recvmsg(2)` into `buf`, decoding the peer and control messages.
pub(super) fn recv_msg(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    flags: libc::c_int,
) -> io::Result<RawMessage> {
    let mut space = MessageSpace::new();
    let mut iov = iovec_for(buf);
    let mut header = space.header(&mut iov);
    // SAFETY: `header` points at `buf`, `space.name` and `space.control`,
    // all live and exclusively borrowed for the duration of the call, with
    // their true lengths.
    let rc = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut header, flags) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    let len = rc as usize;
    Ok(decode(&header, len.min(buf.len())))
}

/// Decodes the header of a message the kernel has just filled in.
fn decode(header: &libc::msghdr, len: usize) -> RawMessage {
    let ancillary = ancillary(header);
    let control_cut = header.msg_flags & libc::MSG_CTRUNC != 0;
    if control_cut {
        // The buffer is sized for every message we enable: this is a bug
        // (or a kernel sending more than we asked for), and the timestamps
        // or TTL of this packet may be missing.
        tracing::warn!(
            capacity = CMSG_BUFFER_LEN,
            "control messages truncated (MSG_CTRUNC)"
        );
    }
    RawMessage {
        len,
        truncated: header.msg_flags & libc::MSG_TRUNC != 0,
        control_truncated: control_cut || ancillary.malformed_control,
        peer: peer_address(header),
        link: link_peer(header),
        ancillary,
    }
}

fn link_peer(header: &libc::msghdr) -> Option<LinkPeer> {
    if header.msg_name.is_null()
        || (header.msg_namelen as usize) < mem::size_of::<libc::sockaddr_ll>()
    {
        return None;
    }
    // SAFETY: msg_name points at a `sockaddr_storage` (see MessageSpace),
    // larger than a `sockaddr_ll`, of which the kernel wrote at least
    // `size_of::<sockaddr_ll>()` bytes (checked above); read unaligned.
    let ll = unsafe { ptr::read_unaligned(header.msg_name.cast::<libc::sockaddr_ll>()) };
    (libc::c_int::from(ll.sll_family) == libc::AF_PACKET).then(|| LinkPeer {
        protocol: u16::from_be(ll.sll_protocol),
        ifindex: u32::try_from(ll.sll_ifindex).unwrap_or(0),
        pkttype: ll.sll_pkttype,
        hatype: ll.sll_hatype,
    })
}

/// Binds a packet socket to `protocol` (`ETH_P_*`, host order; 0 receives
/// nothing) on interface `ifindex` (0: every interface).
pub(super) fn bind_packet(fd: BorrowedFd<'_>, protocol: u16, ifindex: u32) -> io::Result<()> {
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
    let mut addr: libc::sockaddr_ll = unsafe { mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as libc::sa_family_t;
    addr.sll_protocol = protocol.to_be();
    addr.sll_ifindex = libc::c_int::try_from(ifindex)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface index too large"))?;
    // SAFETY: `addr` is a whole, initialised sockaddr_ll that outlives the
    // call, and its true size is passed.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            ptr::from_ref(&addr).cast(),
            socklen_of::<libc::sockaddr_ll>(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The index of the interface called `name` (`if_nametoindex`).
pub(super) fn interface_index(name: &str) -> io::Result<u32> {
    let c_name = std::ffi::CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in an interface name"))?;
    // SAFETY: `c_name` is a NUL-terminated string alive for the call.
    match unsafe { libc::if_nametoindex(c_name.as_ptr()) } {
        0 => Err(io::Error::last_os_error()),
        index => Ok(index),
    }
}

/// `PACKET_STATISTICS`: frames the filter passed and frames dropped
/// (buffer full) since the last call; reading resets them.
pub(super) fn packet_statistics(fd: BorrowedFd<'_>) -> io::Result<(u64, u64)> {
    let mut stats = libc::tpacket_stats {
        tp_packets: 0,
        tp_drops: 0,
    };
    let mut len = socklen_of::<libc::tpacket_stats>();
    // SAFETY: `stats` and `len` are live, exclusively borrowed for the
    // call, and `len` is the size of `stats`.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            ptr::from_mut(&mut stats).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((u64::from(stats.tp_packets), u64::from(stats.tp_drops)))
}

/// A packet socket's receive information: nanosecond kernel timestamps
/// (`SO_TIMESTAMPNS`) and each frame's length before any cut
/// (`PACKET_AUXDATA`).
pub(super) fn enable_packet_receive_info(socket: &socket2::Socket) -> io::Result<()> {
    let fd = socket.as_fd();
    set_int_option(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, 1)?;
    set_int_option(fd, libc::SOL_PACKET, libc::PACKET_AUXDATA, 1)
}

fn peer_address(header: &libc::msghdr) -> Option<SocketAddr> {
    if header.msg_name.is_null() {
        return None;
    }
    // SAFETY: msg_name points at a `sockaddr_storage` (see MessageSpace)
    // that the kernel wrote `msg_namelen` bytes into; the rest is zeroed.
    unsafe { sockaddr_to_std(header.msg_name.cast(), header.msg_namelen as usize) }
}

/// Reads a `sockaddr_in`/`sockaddr_in6` of at most `len` valid bytes.
///
/// # Safety
/// `addr` must point to at least `len` readable bytes.
unsafe fn sockaddr_to_std(addr: *const libc::sockaddr, len: usize) -> Option<SocketAddr> {
    if len < mem::size_of::<libc::sa_family_t>() {
        return None;
    }
    // SAFETY: at least the family field is readable (checked above), and
    // each struct is read unaligned only when `len` covers it.
    unsafe {
        let family = ptr::read_unaligned(ptr::addr_of!((*addr).sa_family));
        match libc::c_int::from(family) {
            libc::AF_INET if len >= mem::size_of::<libc::sockaddr_in>() => {
                let sin = ptr::read_unaligned(addr.cast::<libc::sockaddr_in>());
                Some(SocketAddr::V4(SocketAddrV4::new(
                    ipv4_from(sin.sin_addr),
                    u16::from_be(sin.sin_port),
                )))
            }
            libc::AF_INET6 if len >= mem::size_of::<libc::sockaddr_in6>() => {
                let sin6 = ptr::read_unaligned(addr.cast::<libc::sockaddr_in6>());
                Some(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                    u16::from_be(sin6.sin6_port),
                    sin6.sin6_flowinfo,
                    sin6.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }
}

fn ipv4_from(addr: libc::in_addr) -> Ipv4Addr {
    // s_addr is in network byte order: its in-memory bytes are the octets.
    Ipv4Addr::from(addr.s_addr.to_ne_bytes())
}

/// Walks the control messages of a filled-in header. Each one's
/// `cmsg_len` is checked against what is left of the control buffer
/// (CMSG_FIRSTHDR does not check the first, and a length past the end
/// would have us read beyond it): a message that does not fit ends the walk.
fn ancillary(header: &libc::msghdr) -> Ancillary {
    let mut out = Ancillary::default();
    let control = header.msg_control.cast::<u8>().cast_const();
    // The field types differ across libcs and architectures.
    #[allow(clippy::unnecessary_cast)]
    let control_len = header.msg_controllen as usize;
    // SAFETY: the header's control pointer and length describe our own
    // buffer, as trimmed by the kernel; CMSG_FIRSTHDR/CMSG_NXTHDR never
    // return a header that starts outside it, and null at the end.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(header) };
    while !cmsg.is_null() {
        // SAFETY: `cmsg` is non-null and starts inside the control buffer
        // with a whole header before its end (both macros check that).
        let (hdr, offset, data_offset) = unsafe {
            (
                ptr::read_unaligned(cmsg),
                cmsg.cast::<u8>().cast_const().offset_from(control) as usize,
                libc::CMSG_DATA(cmsg).offset_from(cmsg.cast::<u8>()) as usize,
            )
        };
        #[allow(clippy::unnecessary_cast)] // a u32 on some libcs
        let cmsg_len = hdr.cmsg_len as usize;
        if cmsg_len < data_offset || cmsg_len > control_len.saturating_sub(offset) {
            tracing::warn!(cmsg_len, offset, control_len, "malformed control message");
            out.malformed_control = true;
            break;
        }
        // SAFETY: `data` is followed by `cmsg_len - data_offset` bytes,
        // all inside the buffer (checked just above).
        unsafe {
            let data = libc::CMSG_DATA(cmsg).cast_const();
            decode_cmsg(
                hdr.cmsg_level,
                hdr.cmsg_type,
                data,
                cmsg_len - data_offset,
                &mut out,
            );
        }
        // SAFETY: as for CMSG_FIRSTHDR.
        cmsg = unsafe { libc::CMSG_NXTHDR(header, cmsg) };
    }
    out
}

/// Reads a `T` from `data` if `len` bytes cover it.
///
/// # Safety
/// `data` must point to at least `len` readable bytes.
unsafe fn read<T: Copy>(data: *const u8, len: usize) -> Option<T> {
    // SAFETY: guarded by the length check; read_unaligned has no alignment
    // requirement.
    (len >= mem::size_of::<T>()).then(|| unsafe { ptr::read_unaligned(data.cast::<T>()) })
}

/// Decodes one control message into `out`; unknown ones are ignored.
///
/// # Safety
/// `data` must point to at least `len` readable bytes.
unsafe fn decode_cmsg(
    level: libc::c_int,
    kind: libc::c_int,
    data: *const u8,
    len: usize,
    out: &mut Ancillary,
) {
    // SAFETY (every `read` below): forwarded from the caller.
    unsafe {
        match (level, kind) {
            (libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS) => {
                if let Some(ts) = read::<libc::timespec>(data, len) {
                    out.kernel_time = Some(Duration::new(
                        u64::try_from(ts.tv_sec).unwrap_or(0),
                        u32::try_from(ts.tv_nsec).unwrap_or(0),
                    ));
                }
            }
            (libc::SOL_SOCKET, SCM_TIMESTAMPING) => {
                // struct scm_timestamping(64): [software, deprecated,
                // hardware]; the software stamp is the first.
                out.software_timestamp = if TIMESTAMPING_IS_NEW {
                    read::<[KernelTimespec; 3]>(data, len)
                        .and_then(|ts| timespec_duration(ts[0].tv_sec, ts[0].tv_nsec))
                } else {
                    // `long` is 32 bits on some targets, 64 on others.
                    #[allow(clippy::useless_conversion)]
                    read::<[OldTimespec; 3]>(data, len)
                        .and_then(|ts| timespec_duration(ts[0].tv_sec.into(), ts[0].tv_nsec.into()))
                };
            }
            (libc::SOL_PACKET, libc::PACKET_AUXDATA) => {
                out.frame_len = read::<libc::tpacket_auxdata>(data, len).map(|aux| aux.tp_len);
            }
            (libc::IPPROTO_IP, libc::IP_PKTINFO) => {
                if let Some(info) = read::<libc::in_pktinfo>(data, len) {
                    out.destination = Some(IpAddr::V4(ipv4_from(info.ipi_addr)));
                    out.ifindex = u32::try_from(info.ipi_ifindex).ok();
                }
            }
            (libc::IPPROTO_IP, libc::IP_TTL) => {
                out.ttl = read::<libc::c_int>(data, len).and_then(|v| u8::try_from(v).ok());
            }
            // IP_TOS is delivered as a single byte.
            (libc::IPPROTO_IP, libc::IP_TOS) => out.tos = read::<u8>(data, len),
            (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                if let Some(info) = read::<libc::in6_pktinfo>(data, len) {
                    out.destination = Some(IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr)));
                    out.ifindex = Some(info.ipi6_ifindex);
                }
            }
            (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) => {
                out.ttl = read::<libc::c_int>(data, len).and_then(|v| u8::try_from(v).ok());
            }
            (libc::IPPROTO_IPV6, libc::IPV6_TCLASS) => {
                out.tos = read::<libc::c_int>(data, len).and_then(|v| u8::try_from(v).ok());
            }
            (libc::IPPROTO_IP, libc::IP_RECVERR) | (libc::IPPROTO_IPV6, libc::IPV6_RECVERR) => {
                out.extended_error = extended_error(data, len);
            }
            _ => {}
        }
    }
}

/// Decodes a `sock_extended_err` followed by its offender address
/// (`SO_EE_OFFENDER`).
///
/// # Safety
/// `data` must point to at least `len` readable bytes.
unsafe fn extended_error(data: *const u8, len: usize) -> Option<ExtendedError> {
    // SAFETY: forwarded from the caller; the offender follows the struct
    // within the same control message, and `sockaddr_to_std` is bounded by
    // the remaining length.
    unsafe {
        let ee = read::<libc::sock_extended_err>(data, len)?;
        let head = mem::size_of::<libc::sock_extended_err>();
        let offender = sockaddr_to_std(data.add(head).cast(), len - head).map(|a| a.ip());
        Some(ExtendedError {
            data: ee.ee_data,
            errno: ee.ee_errno,
            origin: error_origin(ee.ee_origin),
            icmp_type: ee.ee_type,
            icmp_code: ee.ee_code,
            info: ee.ee_info,
            // An unknown offender is reported as AF_UNSPEC, which
            // `sockaddr_to_std` maps to None.
            offender,
        })
    }
}

/// `ee_origin` named (linux/errqueue.h's `SO_EE_ORIGIN_*`).
fn error_origin(ee_origin: u8) -> ErrorOrigin {
    match ee_origin {
        libc::SO_EE_ORIGIN_LOCAL => ErrorOrigin::Local,
        libc::SO_EE_ORIGIN_ICMP => ErrorOrigin::Icmp,
        libc::SO_EE_ORIGIN_ICMP6 => ErrorOrigin::Icmp6,
        libc::SO_EE_ORIGIN_TIMESTAMPING => ErrorOrigin::Timestamping,
        other => ErrorOrigin::Other(other),
    }
}

/// What one `recvmmsg` needs besides the caller's buffers (peer and
/// control storage, iovecs, headers, decoded messages), allocated and
/// zeroed once per socket and reused by every batch, as quinn-udp keeps
/// its per-socket state: a batch of 64 would otherwise build these vectors
/// and zero about 40 KB of control space per call, even for one packet.
#[derive(Default)]
pub(super) struct RecvBatchSpace {
    spaces: Vec<MessageSpace>,
    iovs: Vec<libc::iovec>,
    headers: Vec<libc::mmsghdr>,
    messages: Vec<RawMessage>,
}

// SAFETY: the raw pointers in `iovs` and `headers` are written and used
// only within one `recv_mmsg` call, which holds `&mut self` and the
// buffers they point to; between calls they are stale and never read.
unsafe impl Send for RecvBatchSpace {}

impl std::fmt::Debug for RecvBatchSpace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvBatchSpace")
            .field("capacity", &self.spaces.len())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SendBatchSpace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendBatchSpace")
            .field("capacity", &self.headers.capacity())
            .finish_non_exhaustive()
    }
}

impl RecvBatchSpace {
    /// The messages the last [`recv_mmsg`] received, in buffer order.
    pub(super) fn messages(&self) -> &[RawMessage] {
        &self.messages
    }
}

/// `recvmmsg(2)` with `MSG_WAITFORONE`: blocks (if the socket blocks) for
/// the first message only, then takes whatever else is queued, up to one
/// message per buffer. The messages are in [`RecvBatchSpace::messages`].
pub(super) fn recv_mmsg<B: AsMut<[u8]>>(
    fd: BorrowedFd<'_>,
    bufs: &mut [B],
    space: &mut RecvBatchSpace,
) -> io::Result<usize> {
    let count = bufs.len().min(MAX_BATCH);
    if space.spaces.len() < count {
        // Grows to the largest batch asked for, once.
        space.spaces.resize_with(count, MessageSpace::new);
    }
    let RecvBatchSpace {
        spaces,
        iovs,
        headers,
        messages,
    } = space;
    messages.clear();
    iovs.clear();
    iovs.extend(bufs[..count].iter_mut().map(|b| iovec_for(b.as_mut())));
    headers.clear();
    headers.extend(
        spaces
            .iter_mut()
            .zip(iovs.iter_mut())
            .map(|(space, iov)| libc::mmsghdr {
                msg_hdr: space.header(iov),
                msg_len: 0,
            }),
    );
    // SAFETY: each header points at its own buffer, name and control
    // storage, all alive and exclusively borrowed until after the call;
    // `count` is their number.
    let rc = unsafe {
        libc::recvmmsg(
            fd.as_raw_fd(),
            headers.as_mut_ptr(),
            count as libc::c_uint,
            libc::MSG_WAITFORONE,
            ptr::null_mut(),
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    let received = rc as usize;
    messages.extend(
        headers[..received]
            .iter()
            .zip(bufs.iter_mut())
            .map(|(header, buf)| {
                decode(
                    &header.msg_hdr,
                    (header.msg_len as usize).min(buf.as_mut().len()),
                )
            }),
    );
    Ok(received)
}

/// What one `sendmmsg` needs besides the messages (C destinations,
/// iovecs, headers), allocated once per socket and reused.
#[derive(Default)]
pub(super) struct SendBatchSpace {
    addresses: Vec<RawAddress>,
    iovs: Vec<libc::iovec>,
    headers: Vec<libc::mmsghdr>,
}

// SAFETY: as for RecvBatchSpace: the pointers live within one call.
unsafe impl Send for SendBatchSpace {}

/// A destination in C form.
struct RawAddress {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

fn raw_address(sock: &socket2::SockAddr) -> RawAddress {
    // SAFETY: sockaddr_storage is plain data, zero is valid.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let len = sock.len();
    // SAFETY: `sock.as_ptr()` points at `len` bytes of a sockaddr, and
    // sockaddr_storage is large enough for any of them.
    unsafe {
        ptr::copy_nonoverlapping(
            sock.as_ptr().cast::<u8>(),
            ptr::addr_of_mut!(storage).cast::<u8>(),
            (len as usize).min(mem::size_of::<libc::sockaddr_storage>()),
        );
    }
    RawAddress { storage, len }
}

/// `sendmmsg(2)`: sends each `(message, destination)`; returns how many the
/// kernel took (fewer than asked when it stopped at an error after the
/// first).
pub(super) fn send_mmsg<'a>(
    fd: BorrowedFd<'_>,
    msgs: impl Iterator<Item = (&'a [u8], SocketAddr)>,
    space: &mut SendBatchSpace,
) -> io::Result<usize> {
    let msgs = msgs.map(|(message, destination)| {
        (message, raw_address(&socket2::SockAddr::from(destination)))
    });
    send_mmsg_raw(fd, msgs, space)
}

/// `sendmmsg(2)` of whole link-layer frames on a packet socket, each to
/// its `sockaddr_ll` ([`link_address`]); as [`send_mmsg`] otherwise.
pub(super) fn send_mmsg_link<'a>(
    fd: BorrowedFd<'_>,
    frames: impl Iterator<Item = (&'a [u8], &'a socket2::SockAddr)>,
    space: &mut SendBatchSpace,
) -> io::Result<usize> {
    send_mmsg_raw(
        fd,
        frames.map(|(frame, link)| (frame, raw_address(link))),
        space,
    )
}

fn send_mmsg_raw<'a>(
    fd: BorrowedFd<'_>,
    msgs: impl Iterator<Item = (&'a [u8], RawAddress)>,
    space: &mut SendBatchSpace,
) -> io::Result<usize> {
    let SendBatchSpace {
        addresses,
        iovs,
        headers,
    } = space;
    addresses.clear();
    iovs.clear();
    for (message, destination) in msgs.take(MAX_BATCH) {
        addresses.push(destination);
        // The kernel only reads through iov_base on send.
        iovs.push(libc::iovec {
            iov_base: message.as_ptr().cast_mut().cast(),
            iov_len: message.len(),
        });
    }
    let count = iovs.len();
    headers.clear();
    headers.extend(
        addresses
            .iter_mut()
            .zip(iovs.iter_mut())
            .map(|(address, iov)| {
                // SAFETY: msghdr is plain data, zero is valid.
                let mut header: libc::msghdr = unsafe { mem::zeroed() };
                header.msg_name = ptr::addr_of_mut!(address.storage).cast();
                header.msg_namelen = address.len;
                header.msg_iov = iov;
                header.msg_iovlen = 1;
                libc::mmsghdr {
                    msg_hdr: header,
                    msg_len: 0,
                }
            }),
    );
    // SAFETY: every header points at storage in `space` and at the
    // caller's messages, all alive until after the call.
    let rc = unsafe {
        libc::sendmmsg(
            fd.as_raw_fd(),
            headers.as_mut_ptr(),
            count as libc::c_uint,
            0,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc as usize)
    }
}

/// `PACKET_QDISC_BYPASS` (linux/if_packet.h; not in libc): frames from
/// the packet socket go straight to the driver, past the qdisc.
const PACKET_QDISC_BYPASS: libc::c_int = 20;

/// Turns `PACKET_QDISC_BYPASS` on or off on a packet socket.
pub(super) fn set_qdisc_bypass(socket: &socket2::Socket, on: bool) -> io::Result<()> {
    set_int_option(
        socket.as_fd(),
        libc::SOL_PACKET,
        PACKET_QDISC_BYPASS,
        libc::c_int::from(on),
    )
}

/// The `sockaddr_ll` a packet socket sends a frame to: the interface and
/// the frame's EtherType (the link header itself is in the frame).
pub(super) fn link_address(ifindex: u32, ethertype: u16) -> io::Result<socket2::SockAddr> {
    let ifindex = libc::c_int::try_from(ifindex)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface index too large"))?;
    // SAFETY: `try_init` hands a zeroed sockaddr_storage, which is large
    // and aligned enough for a sockaddr_ll; only its fields are written.
    let ((), address) = unsafe {
        socket2::SockAddr::try_init(|storage, len| {
            let link = storage.cast::<libc::sockaddr_ll>();
            (*link).sll_family = libc::AF_PACKET as libc::c_ushort;
            (*link).sll_protocol = ethertype.to_be();
            (*link).sll_ifindex = ifindex;
            *len = socklen_of::<libc::sockaddr_ll>();
            Ok(())
        })
    }?;
    Ok(address)
}

/// Where a frame starts in a `TPACKET_V2` transmit slot: after the slot's
/// header, aligned (the kernel's `tp_hdrlen - sizeof(struct sockaddr_ll)`).
pub(super) const TX_SLOT_HEADER_LEN: usize =
    libc::TPACKET2_HDRLEN - mem::size_of::<libc::sockaddr_ll>();

/// A transmit slot's status word, as the kernel and we hand the slot to
/// each other (linux/if_packet.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SlotStatus {
    /// Ours to write.
    Available,
    /// Written, waiting for the next kick.
    SendRequest,
    /// Taken by the kernel, its buffer not yet released.
    Sending,
    /// Refused by the kernel (bad length for the device): ours to take back.
    WrongFormat,
}

impl SlotStatus {
    fn from_word(word: u32) -> SlotStatus {
        if word & libc::TP_STATUS_WRONG_FORMAT != 0 {
            SlotStatus::WrongFormat
        } else if word & libc::TP_STATUS_SENDING != 0 {
            SlotStatus::Sending
        } else if word & libc::TP_STATUS_SEND_REQUEST != 0 {
            SlotStatus::SendRequest
        } else {
            SlotStatus::Available
        }
    }
}

/// A `PACKET_TX_RING` (`TPACKET_V2`) mapped from a packet socket: `slots`
/// slots of `slot_size` bytes, back to back (the slot size divides the
/// block size, so no slot straddles two blocks). The kernel reads a slot
/// only while its status is [`SlotStatus::SendRequest`] or
/// [`SlotStatus::Sending`], and writes only status words; the rest of an
/// [`SlotStatus::Available`] slot is ours.
pub(super) struct TxRingMap {
    base: ptr::NonNull<u8>,
    len: usize,
    slot_size: usize,
    slots: usize,
}

// SAFETY: the mapping is plain shared memory; frames are written only
// through `&mut self` and status words only atomically.
unsafe impl Send for TxRingMap {}

impl std::fmt::Debug for TxRingMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxRingMap")
            .field("slot_size", &self.slot_size)
            .field("slots", &self.slots)
            .finish_non_exhaustive()
    }
}

impl TxRingMap {
    /// Sets `socket` to `TPACKET_V2` and gives it a transmit ring of
    /// `slots` slots of `slot_size` bytes in blocks of `block_size`, then
    /// maps it. `slot_size` must be a multiple of 16 that divides
    /// `block_size`, a multiple of the page size (the kernel refuses
    /// anything else).
    pub(super) fn new(
        socket: &socket2::Socket,
        slot_size: usize,
        slots: usize,
        block_size: usize,
    ) -> io::Result<TxRingMap> {
        let invalid = || io::Error::new(io::ErrorKind::InvalidInput, "transmit ring geometry");
        let len = slot_size.checked_mul(slots).ok_or_else(invalid)?;
        if slot_size < TX_SLOT_HEADER_LEN || block_size % slot_size != 0 || len % block_size != 0 {
            return Err(invalid());
        }
        let uint = |n: usize| libc::c_uint::try_from(n).map_err(|_| invalid());
        let request = libc::tpacket_req {
            tp_block_size: uint(block_size)?,
            tp_block_nr: uint(len / block_size)?,
            tp_frame_size: uint(slot_size)?,
            tp_frame_nr: uint(slots)?,
        };
        let fd = socket.as_fd();
        set_int_option(
            fd,
            libc::SOL_PACKET,
            libc::PACKET_VERSION,
            libc::tpacket_versions::TPACKET_V2 as libc::c_int,
        )?;
        set_option(fd, libc::SOL_PACKET, libc::PACKET_TX_RING, &request)?;
        // SAFETY: a fresh shared mapping of the socket's ring, `len` bytes
        // as the kernel was just told; no existing memory is touched.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = ptr::NonNull::new(base.cast::<u8>()).ok_or_else(invalid)?;
        Ok(TxRingMap {
            base,
            len,
            slot_size,
            slots,
        })
    }

    /// How many slots the ring has.
    pub(super) fn slots(&self) -> usize {
        self.slots
    }

    /// Most frame bytes a slot holds.
    pub(super) fn frame_capacity(&self) -> usize {
        self.slot_size - TX_SLOT_HEADER_LEN
    }

    /// The status word of `slot` (`slot < slots`), read with acquire
    /// ordering: what the kernel wrote before it is visible after.
    fn status_word(&self, slot: usize) -> &std::sync::atomic::AtomicU32 {
        // SAFETY: the slot lies within the mapping, starts 16-byte aligned
        // (page-aligned base, slot size a multiple of 16), and its first
        // four bytes are the status word the kernel also accesses only
        // atomically; the mapping lives as long as `self`.
        unsafe { std::sync::atomic::AtomicU32::from_ptr(self.slot_ptr(slot).cast::<u32>()) }
    }

    /// Where `slot` starts; panics unless `slot < slots`, checked here
    /// so that every access through it stays within the mapping
    /// (`request_send` wrote a slot's length before anything checked it).
    fn slot_ptr(&self, slot: usize) -> *mut u8 {
        assert!(slot < self.slots, "slot {slot} of {}", self.slots);
        self.base.as_ptr().wrapping_add(slot * self.slot_size)
    }

    /// Where `slot` is in its hand-over between us and the kernel.
    pub(super) fn status(&self, slot: usize) -> SlotStatus {
        SlotStatus::from_word(
            self.status_word(slot)
                .load(std::sync::atomic::Ordering::Acquire),
        )
    }

    /// The frame bytes of `slot` to write into, if the slot is ours
    /// ([`SlotStatus::Available`]).
    pub(super) fn frame_mut(&mut self, slot: usize) -> Option<&mut [u8]> {
        if self.status(slot) != SlotStatus::Available {
            return None;
        }
        let capacity = self.frame_capacity();
        // SAFETY: the bytes after the slot's header are within the
        // mapping; the kernel neither reads nor writes them while the
        // slot is available, and `&mut self` makes this the only
        // reference into the ring until it ends.
        Some(unsafe {
            std::slice::from_raw_parts_mut(self.slot_ptr(slot).add(TX_SLOT_HEADER_LEN), capacity)
        })
    }

    /// Hands `slot` (written through [`TxRingMap::frame_mut`]) to the
    /// kernel with a frame of `len` bytes: its length, then the status
    /// word with release ordering, so the kernel sees the frame written.
    pub(super) fn request_send(&mut self, slot: usize, len: usize) {
        assert!(len <= self.frame_capacity(), "a frame longer than its slot");
        let header = self.slot_ptr(slot).cast::<libc::tpacket2_hdr>();
        // SAFETY: the slot header is within the mapping and aligned; the
        // slot is ours (available), so the kernel does not read it now.
        unsafe {
            ptr::addr_of_mut!((*header).tp_len).write_volatile(len as u32);
        }
        self.status_word(slot).store(
            libc::TP_STATUS_SEND_REQUEST,
            std::sync::atomic::Ordering::Release,
        );
    }

    /// Takes back a slot the kernel left (still a send request, or
    /// refused) when a kick stopped before it.
    pub(super) fn take_back(&mut self, slot: usize) {
        self.status_word(slot).store(
            libc::TP_STATUS_AVAILABLE,
            std::sync::atomic::Ordering::Release,
        );
    }
}

impl Drop for TxRingMap {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once; no reference
        // into it outlives `self`.
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), self.len);
        }
    }
}

/// `PACKET_VNET_HDR` (linux/if_packet.h): each frame sent starts with a
/// `struct virtio_net_hdr`.
const PACKET_VNET_HDR: libc::c_int = 15;

/// Bytes of a `struct virtio_net_hdr` (linux/virtio_net.h): flags,
/// gso_type, hdr_len, gso_size, csum_start, csum_offset.
pub(super) const VNET_HEADER_LEN: usize = 10;

/// Has the frames of a packet socket start with a `virtio_net_hdr` (set
/// before its ring): its `hdr_len` tells a transmit ring how many bytes
/// to copy into the buffer it allocates.
pub(super) fn set_vnet_header(socket: &socket2::Socket) -> io::Result<()> {
    set_int_option(socket.as_fd(), libc::SOL_PACKET, PACKET_VNET_HDR, 1)
}

/// Sends every slot of the socket's transmit ring marked as a send
/// request, in ring order, out of `link`'s interface with its EtherType:
/// one `sendto(fd, NULL, 0, MSG_DONTWAIT, link)`. The bytes sent, or the
/// error that stopped it (maybe after some frames left).
pub(super) fn kick_tx_ring(fd: BorrowedFd<'_>, link: &socket2::SockAddr) -> io::Result<usize> {
    // SAFETY: no buffer; `link` points at `link.len()` bytes of a
    // sockaddr_ll alive during the call.
    let rc = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            ptr::null(),
            0,
            libc::MSG_DONTWAIT,
            link.as_ptr().cast(),
            link.len(),
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc as usize)
    }
}

/// `_LINUX_CAPABILITY_VERSION_3` (linux/capability.h): two 32-bit words.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Clears the calling thread's effective, permitted and inheritable
/// capability sets (`capset(2)`). Capabilities belong to threads: see
/// [`ask_thread_to_drop`] for the others.
pub(super) fn clear_capabilities() -> io::Result<()> {
    if clear_own_capabilities() == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `capset` clearing every set of the calling thread; the raw return value
/// (async-signal-safe: the signal handler below calls it).
fn clear_own_capabilities() -> libc::c_long {
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [CapData::default(); 2];
    // SAFETY: header and data are valid for the version-3 layout (two data
    // structs); the kernel reads them and may write the header's version
    // (hence the exclusive reference).
    unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) }
}

/// The signal that asks another thread to clear its own capabilities and
/// set its own `no_new_privs` (both are per thread, and only a thread can
/// change its own): a real-time signal near the top of the range, as
/// libcap's psx and glibc's setxid broadcast do with theirs.
fn drop_signal() -> libc::c_int {
    libc::SIGRTMAX() - 2
}

/// Runs on the thread [`ask_thread_to_drop`] signalled. Only raw system
/// calls (async-signal-safe); errno is preserved for the code interrupted.
extern "C" fn on_drop_signal(_: libc::c_int) {
    // SAFETY: __errno_location returns the calling thread's errno slot.
    let errno = unsafe { *libc::__errno_location() };
    clear_own_capabilities();
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// Installs the handler of [`drop_signal`] (idempotent). It stays
/// installed: a signal still queued for a thread when the drop is over must
/// not fall back to the default action, which ends the process. Refuses if
/// the program handles that signal itself.
pub(super) fn install_drop_handler() -> io::Result<()> {
    let handler = on_drop_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: a zeroed sigaction is a valid "query" argument.
    let mut old: libc::sigaction = unsafe { mem::zeroed() };
    // SAFETY: a null new action only reads the current one into `old`.
    if unsafe { libc::sigaction(drop_signal(), ptr::null(), &mut old) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if old.sa_sigaction == handler {
        return Ok(());
    }
    if old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN {
        return Err(io::Error::other(format!(
            "signal {} (SIGRTMAX-2), which asks each thread to drop its capabilities, is \
             already handled by this program",
            drop_signal()
        )));
    }
    // SAFETY: as above; every field is then set below.
    let mut action: libc::sigaction = unsafe { mem::zeroed() };
    action.sa_sigaction = handler;
    // Interrupted system calls resume: the threads signalled are in the
    // middle of whatever they were doing.
    action.sa_flags = libc::SA_RESTART;
    // SAFETY: sa_mask is a valid sigset_t to empty.
    unsafe { libc::sigemptyset(&mut action.sa_mask) };
    // SAFETY: `action` is fully initialised and its handler is
    // async-signal-safe.
    if unsafe { libc::sigaction(drop_signal(), &action, ptr::null_mut()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Asks thread `tid` of this process to clear its capabilities and set its
/// `no_new_privs` ([`install_drop_handler`] first). A thread gone
/// meanwhile (`ESRCH`) is no error.
pub(super) fn ask_thread_to_drop(tid: libc::pid_t) -> io::Result<()> {
    // SAFETY: tgkill takes integers; the target is a thread of this process.
    let rc = unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, drop_signal()) };
    if rc == 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    if error.raw_os_error() == Some(libc::ESRCH) {
        Ok(())
    } else {
        Err(error)
    }
}

/// `prctl(PR_SET_NO_NEW_PRIVS, 1)`: `execve` can no longer grant privileges
/// (setuid bits, file capabilities).
pub(super) fn set_no_new_privileges() -> io::Result<()> {
    nix::sys::prctl::set_no_new_privs().map_err(io::Error::from)
}

/// Registration needs a tokio runtime, and tokio panics without one: this
/// says so as an error instead.
fn require_runtime() -> io::Result<()> {
    tokio::runtime::Handle::try_current()
        .map(drop)
        .map_err(|_| io::Error::other(super::NO_RUNTIME))
}

/// Sockets whose descriptor stays open and the same for as long as the
/// value lives: each owns its descriptor and offers no way to close or
/// replace it (a [`super::SharedIcmpSocket`] holds a strong reference to
/// one). That is what a tokio registration asks of what it registers.
pub(super) trait OwnsItsDescriptor: std::os::fd::AsRawFd {}

impl OwnsItsDescriptor for super::IcmpSocket {}
impl OwnsItsDescriptor for super::SharedIcmpSocket {}
impl OwnsItsDescriptor for super::TransportSocket {}
impl OwnsItsDescriptor for super::RawIpSocket {}
impl OwnsItsDescriptor for super::PacketSocket {}
impl OwnsItsDescriptor for super::RawTcpSocket {}

/// Registers `socket` with the current tokio reactor for `interest`. Error
/// readiness (a non-empty error queue shows as EPOLLERR) is always
/// reported on Linux, whatever the interest.
pub(super) fn register_with_reactor<S: OwnsItsDescriptor>(
    socket: S,
    interest: tokio::io::Interest,
) -> io::Result<tokio::io::unix::AsyncFd<S>> {
    require_runtime()?;
    // SAFETY: `S` owns its descriptor (`OwnsItsDescriptor`), so the fd stays
    // valid and the same while registered.
    unsafe { tokio::io::unix::AsyncFd::register_with_interest(socket, interest) }
        .map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A control buffer (aligned as the kernel's) and a `msghdr` over its
    /// first `len` bytes.
    struct Control {
        buf: [u64; 32],
        len: usize,
    }

    impl Control {
        fn new() -> Control {
            Control {
                buf: [0; 32],
                len: 0,
            }
        }

        /// Appends one control message with `payload`, whose `cmsg_len`
        /// field says `claimed` (the true length if `None`).
        fn push(
            &mut self,
            level: libc::c_int,
            kind: libc::c_int,
            payload: &[u8],
            claimed: Option<usize>,
        ) {
            let bytes: &mut [u8] = as_bytes(&mut self.buf);
            // SAFETY: CMSG_LEN / CMSG_SPACE are arithmetic.
            let (cmsg_len, space) = unsafe {
                (
                    libc::CMSG_LEN(payload.len() as u32) as usize,
                    libc::CMSG_SPACE(payload.len() as u32) as usize,
                )
            };
            let header_len = cmsg_len - payload.len();
            let at = self.len;
            // SAFETY: all-zero is a valid cmsghdr.
            let mut header: libc::cmsghdr = unsafe { mem::zeroed() };
            header.cmsg_len = claimed.unwrap_or(cmsg_len) as _;
            header.cmsg_level = level;
            header.cmsg_type = kind;
            // Panics (failing the test) if the buffer has no room.
            let dst = &mut bytes[at..at + space];
            // SAFETY: `dst` has room for a header (it spans CMSG_SPACE).
            unsafe { ptr::write_unaligned(dst.as_mut_ptr().cast::<libc::cmsghdr>(), header) };
            dst[header_len..header_len + payload.len()].copy_from_slice(payload);
            self.len += space;
        }

        fn header(&mut self, flags: libc::c_int) -> libc::msghdr {
            // SAFETY: all-zero is a valid msghdr.
            let mut header: libc::msghdr = unsafe { mem::zeroed() };
            header.msg_control = self.buf.as_mut_ptr().cast();
            header.msg_controllen = self.len as _;
            header.msg_flags = flags;
            header
        }
    }

    fn as_bytes(words: &mut [u64; 32]) -> &mut [u8] {
        // SAFETY: u64s are plain bytes; the slice covers exactly the array.
        unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), 32 * 8) }
    }

    /// `struct scm_timestamping` in this target's layout: the software
    /// stamp first, then two zero slots.
    fn scm_timestamping(secs: i64, nanos: i64) -> Vec<u8> {
        let mut out = Vec::new();
        for (s, n) in [(secs, nanos), (0, 0), (0, 0)] {
            if TIMESTAMPING_IS_NEW {
                out.extend_from_slice(&s.to_ne_bytes());
                out.extend_from_slice(&n.to_ne_bytes());
            } else {
                out.extend_from_slice(&(s as libc::c_long).to_ne_bytes());
                out.extend_from_slice(&(n as libc::c_long).to_ne_bytes());
            }
        }
        out
    }

    #[test]
    fn transmit_stamps_decode_with_the_architectures_option_and_layout() {
        assert_eq!(SO_TIMESTAMPING, libc::SO_TIMESTAMPING);
        let mut control = Control::new();
        let ttl = 61 as libc::c_int;
        control.push(libc::IPPROTO_IP, libc::IP_TTL, &ttl.to_ne_bytes(), None);
        control.push(
            libc::SOL_SOCKET,
            libc::SCM_TIMESTAMPING,
            &scm_timestamping(1_700_000_000, 5),
            None,
        );
        let message = decode(&control.header(0), 0);
        assert_eq!(message.ancillary.ttl, Some(61));
        assert_eq!(
            message.ancillary.software_timestamp,
            Some(Duration::new(1_700_000_000, 5))
        );
        assert!(!message.control_truncated);
    }

    #[test]
    fn a_control_length_past_the_buffer_is_not_followed() {
        let mut control = Control::new();
        // The first message claims 4 KiB in a buffer of a few dozen bytes.
        control.push(
            libc::SOL_SOCKET,
            libc::SCM_TIMESTAMPING,
            &scm_timestamping(1_700_000_000, 5),
            Some(4096),
        );
        let message = decode(&control.header(0), 0);
        assert_eq!(message.ancillary.software_timestamp, None);
        assert!(message.ancillary.malformed_control);
        assert!(message.control_truncated);
        // Shorter than its own header: refused too.
        let mut control = Control::new();
        control.push(libc::IPPROTO_IP, libc::IP_TTL, &7i32.to_ne_bytes(), Some(2));
        let message = decode(&control.header(0), 0);
        assert_eq!(message.ancillary.ttl, None);
        assert!(message.control_truncated);
    }

    #[test]
    fn control_truncation_is_reported() {
        let mut control = Control::new();
        control.push(libc::IPPROTO_IP, libc::IP_TTL, &64i32.to_ne_bytes(), None);
        let whole = decode(&control.header(0), 0);
        assert!(!whole.control_truncated);
        let cut = decode(&control.header(libc::MSG_CTRUNC), 0);
        assert!(cut.control_truncated);
        // What did fit is still decoded.
        assert_eq!(cut.ancillary.ttl, Some(64));
    }

    /// Where each vector of a batch space keeps its elements.
    fn storage_of(space: &RecvBatchSpace) -> [usize; 4] {
        [
            space.spaces.as_ptr() as usize,
            space.iovs.as_ptr() as usize,
            space.headers.as_ptr() as usize,
            space.messages.as_ptr() as usize,
        ]
    }

    #[test]
    fn batches_reuse_the_sockets_storage() {
        // recvmmsg works the same on UDP: a loopback pair needs no privilege.
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = rx.local_addr().unwrap();
        let mut bufs = vec![vec![0u8; 2048]; 64];
        let mut space = RecvBatchSpace::default();
        let mut send_space = SendBatchSpace::default();
        let mut storage = None;
        for round in 0..4u8 {
            let datagrams = [[round; 3], [round + 100; 3]];
            let msgs = datagrams.iter().map(|d| (&d[..], to));
            assert_eq!(send_mmsg(tx.as_fd(), msgs, &mut send_space).unwrap(), 2);
            let mut got = 0;
            while got < 2 {
                got += recv_mmsg(rx.as_fd(), &mut bufs[got..], &mut space).unwrap();
            }
            assert_eq!(space.messages().last().map(|m| m.len), Some(3));
            // Allocated on the first round, the same memory ever after:
            // nothing allocated (or zeroed) per batch.
            let now = (storage_of(&space), send_space.headers.as_ptr() as usize);
            if let Some(before) = storage {
                assert_eq!(now, before, "round {round} reallocated");
            }
            storage = Some(now);
        }
        assert_eq!(space.spaces.len(), 64);
    }

    #[test]
    fn a_transmit_slot_past_the_ring_is_refused_before_anything_is_written() {
        let test = "a_transmit_slot_past_the_ring_is_refused_before_anything_is_written";
        let socket = match socket2::Socket::new(socket2::Domain::PACKET, socket2::Type::RAW, None) {
            Ok(socket) => socket,
            Err(error) => {
                icmpkit_lab::report_skip(test, &format!("no packet socket: {error}"));
                return;
            }
        };
        let (slot_size, slots, block_size) = (4096, 16, 65536);
        let mut map = TxRingMap::new(&socket, slot_size, slots, block_size).unwrap();
        let past_the_end = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            map.request_send(slots, 64);
        }));
        assert!(past_the_end.is_err(), "slot {slots} of {slots} was written");
        // Inside the ring all is as before: every slot ours.
        assert!((0..slots).all(|slot| map.status(slot) == SlotStatus::Available));
        assert!(map.frame_mut(slots - 1).is_some());
    }

    #[test]
    fn error_origins_are_named_by_the_kernel_constants() {
        assert_eq!(error_origin(libc::SO_EE_ORIGIN_LOCAL), ErrorOrigin::Local);
        assert_eq!(error_origin(libc::SO_EE_ORIGIN_ICMP), ErrorOrigin::Icmp);
        assert_eq!(error_origin(libc::SO_EE_ORIGIN_ICMP6), ErrorOrigin::Icmp6);
        assert_eq!(
            error_origin(libc::SO_EE_ORIGIN_TIMESTAMPING),
            ErrorOrigin::Timestamping
        );
        assert_eq!(error_origin(5), ErrorOrigin::Other(5));
    }
}

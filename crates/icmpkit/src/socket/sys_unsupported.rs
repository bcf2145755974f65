//! The platform layer on Unix systems other than Linux: ICMP sockets are
//! not supported yet, so every operation fails with `Unsupported`, and
//! [`IcmpSocket::open`](super::IcmpSocket::open) never returns a socket
//! (it fails at the first option, with a clear message).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::BorrowedFd;
use std::time::Duration;

use super::{Family, PmtuDisc, TypeFilter};

fn unsupported() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "icmpkit sockets are only implemented for Linux so far",
    )
}

pub(super) fn check_supported() -> io::Result<()> {
    Err(unsupported())
}

pub(super) fn enable_receive_info(_: &socket2::Socket, _: Family) -> io::Result<()> {
    Err(unsupported())
}

pub(super) fn set_pmtu_discovery(_: &socket2::Socket, _: Family, _: PmtuDisc) -> io::Result<()> {
    Err(unsupported())
}

pub(super) fn set_type_filter(_: &socket2::Socket, _: Family, _: &TypeFilter) -> io::Result<()> {
    Err(unsupported())
}

pub(super) fn set_tos(_: &socket2::Socket, _: Family, _: u8) -> io::Result<()> {
    Err(unsupported())
}

pub(super) fn may_be_socket_error(_: &io::Error) -> bool {
    false
}

pub(super) fn bind_device(_: &socket2::Socket, _: &str) -> io::Result<()> {
    Err(unsupported())
}

pub(super) fn set_mark(_: &socket2::Socket, _: u32) -> io::Result<()> {
    Err(unsupported())
}

pub(super) fn skip_header_info_v4(_: &socket2::Socket) -> io::Result<()> {
    Err(unsupported())
}

pub(super) fn use_flow_label(_: &socket2::Socket, _: std::net::Ipv6Addr, _: u32) -> io::Result<()> {
    Err(unsupported())
}

pub(super) fn set_recv_buffer_force(_: &socket2::Socket, _: usize) -> io::Result<()> {
    Err(unsupported())
}

#[derive(Debug, Clone, Copy)]
pub(super) struct ExtendedError {
    pub errno: u32,
    pub origin: super::ErrorOrigin,
    pub icmp_type: u8,
    pub icmp_code: u8,
    pub info: u32,
    pub offender: Option<IpAddr>,
}

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Ancillary {
    pub destination: Option<IpAddr>,
    pub ifindex: Option<u32>,
    pub ttl: Option<u8>,
    pub tos: Option<u8>,
    pub kernel_time: Option<Duration>,
    pub extended_error: Option<ExtendedError>,
    pub frame_len: Option<u32>,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct RawMessage {
    pub len: usize,
    pub truncated: bool,
    pub control_truncated: bool,
    pub peer: Option<SocketAddr>,
    pub link: Option<LinkPeer>,
    pub ancillary: Ancillary,
}

pub(super) fn recv_msg(_: BorrowedFd<'_>, _: &mut [u8], _: i32) -> io::Result<RawMessage> {
    Err(unsupported())
}

pub(super) fn recv_error_msg(_: BorrowedFd<'_>, _: &mut [u8]) -> io::Result<RawMessage> {
    Err(unsupported())
}

#[derive(Debug, Default)]
pub(super) struct RecvBatchSpace {
    messages: Vec<RawMessage>,
}

impl RecvBatchSpace {
    pub(super) fn messages(&self) -> &[RawMessage] {
        &self.messages
    }
}

#[derive(Debug, Default)]
pub(super) struct SendBatchSpace;

pub(super) fn recv_mmsg<B: AsMut<[u8]>>(
    _: BorrowedFd<'_>,
    _: &mut [B],
    _: &mut RecvBatchSpace,
) -> io::Result<usize> {
    Err(unsupported())
}

pub(super) fn send_mmsg<'a>(
    _: BorrowedFd<'_>,
    _: impl Iterator<Item = (&'a [u8], SocketAddr)>,
    _: &mut SendBatchSpace,
) -> io::Result<usize> {
    Err(unsupported())
}

pub(super) fn send_mmsg_link<'a>(
    _: BorrowedFd<'_>,
    _: impl Iterator<Item = (&'a [u8], &'a socket2::SockAddr)>,
    _: &mut SendBatchSpace,
) -> io::Result<usize> {
    Err(unsupported())
}

pub(super) fn set_qdisc_bypass(_: &socket2::Socket, _: bool) -> io::Result<()> {
    Err(unsupported())
}

pub(super) fn link_address(_: u32, _: u16) -> io::Result<socket2::SockAddr> {
    Err(unsupported())
}

pub(super) const TX_SLOT_HEADER_LEN: usize = 32;
pub(super) const VNET_HEADER_LEN: usize = 10;

pub(super) fn set_vnet_header(_: &socket2::Socket) -> io::Result<()> {
    Err(unsupported())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SlotStatus {
    Available,
    SendRequest,
    Sending,
    WrongFormat,
}

#[derive(Debug)]
pub(super) struct TxRingMap;

impl TxRingMap {
    pub(super) fn new(_: &socket2::Socket, _: usize, _: usize, _: usize) -> io::Result<TxRingMap> {
        Err(unsupported())
    }

    pub(super) fn slots(&self) -> usize {
        0
    }

    pub(super) fn frame_capacity(&self) -> usize {
        0
    }

    pub(super) fn status(&self, _: usize) -> SlotStatus {
        SlotStatus::Sending
    }

    pub(super) fn frame_mut(&mut self, _: usize) -> Option<&mut [u8]> {
        None
    }

    pub(super) fn request_send(&mut self, _: usize, _: usize) {}

    pub(super) fn take_back(&mut self, _: usize) {}
}

pub(super) fn kick_tx_ring(_: BorrowedFd<'_>, _: &socket2::SockAddr) -> io::Result<usize> {
    Err(unsupported())
}

pub(super) fn clear_capabilities() -> io::Result<()> {
    // No Linux capabilities here: returning to the real uid is all there is.
    Ok(())
}

pub(super) fn install_drop_handler() -> io::Result<()> {
    Ok(())
}

pub(super) fn ask_thread_to_drop(_: i32) -> io::Result<()> {
    Ok(())
}

pub(super) fn set_no_new_privileges() -> io::Result<()> {
    Ok(())
}

/// What a tokio registration asks of a socket (see the Linux `sys`).
pub(super) trait OwnsItsDescriptor: std::os::fd::AsRawFd {}

impl OwnsItsDescriptor for super::IcmpSocket {}
impl OwnsItsDescriptor for super::SharedIcmpSocket {}
impl OwnsItsDescriptor for super::TransportSocket {}
impl OwnsItsDescriptor for super::RawIpSocket {}
impl OwnsItsDescriptor for super::PacketSocket {}
impl OwnsItsDescriptor for super::RawTcpSocket {}

pub(super) fn register_with_reactor<S: OwnsItsDescriptor>(
    _: S,
    _: tokio::io::Interest,
) -> io::Result<tokio::io::unix::AsyncFd<S>> {
    Err(unsupported())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LinkPeer {
    pub protocol: u16,
    pub ifindex: u32,
    pub pkttype: u8,
    pub hatype: u16,
}

pub(super) fn bind_packet(_: BorrowedFd<'_>, _: u16, _: u32) -> io::Result<()> {
    Err(unsupported())
}

pub(super) fn packet_statistics(_: BorrowedFd<'_>) -> io::Result<(u64, u64)> {
    Err(unsupported())
}

pub(super) fn enable_packet_receive_info(_: &socket2::Socket) -> io::Result<()> {
    Err(unsupported())
}

pub(super) fn interface_index(_: &str) -> io::Result<u32> {
    Err(unsupported())
}

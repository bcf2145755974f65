//! [`PacketSender`]: a send-only `AF_PACKET` socket that writes whole
//! Ethernet frames to a link, past the kernel's IP output (no route
//! lookup, no netfilter, no neighbour lookup per packet): what zmap does.
//! Protocol 0, so the kernel hands it no received frame. The `unsafe`
//! parts (`sockaddr_ll`, `sendmmsg`, `PACKET_QDISC_BYPASS`) are in sys.rs.

use std::io;
use std::os::fd::AsFd;
use std::sync::{Mutex, PoisonError};

use socket2::{Domain, SockAddr, Socket, Type};

use super::sys;
use crate::Error;

/// A frame to send: its bytes (Ethernet header first) and the index of the
/// interface it leaves by.
pub(crate) type Frame<'a> = (&'a [u8], u32);

/// A send-only packet socket (needs `CAP_NET_RAW`).
#[derive(Debug)]
pub(crate) struct PacketSender {
    socket: Socket,
    /// The `sockaddr_ll` of each (interface, EtherType) sent to so far.
    addresses: Mutex<Vec<((u32, u16), SockAddr)>>,
    space: Mutex<(sys::SendBatchSpace, Vec<usize>)>,
}

impl PacketSender {
    /// Opens it, blocking or not; `bypass_qdisc` sets
    /// `PACKET_QDISC_BYPASS` (frames go straight to the driver).
    pub(crate) fn open(nonblocking: bool, bypass_qdisc: bool) -> Result<Self, Error> {
        let socket = Socket::new(Domain::PACKET, Type::RAW, None).map_err(|source| {
            let context = if matches!(source.raw_os_error(), Some(libc::EPERM | libc::EACCES)) {
                "the packet sender (--sender packet) needs CAP_NET_RAW: run as root or give \
                 the program that capability, or use --sender raw"
            } else {
                "opening a packet socket (AF_PACKET)"
            };
            Error::SocketUnavailable {
                context: context.into(),
                source,
            }
        })?;
        let configured = socket
            .set_nonblocking(nonblocking)
            .and_then(|()| socket.set_cloexec(true))
            .and_then(|()| sys::set_qdisc_bypass(&socket, bypass_qdisc));
        configured.map_err(|source| Error::SocketUnavailable {
            context: "configuring a packet socket".into(),
            source,
        })?;
        Ok(PacketSender {
            socket,
            addresses: Mutex::new(Vec::new()),
            space: Mutex::new((sys::SendBatchSpace::default(), Vec::new())),
        })
    }

    /// One `sendmmsg` of `frames`; how many the kernel took.
    pub(crate) fn send_batch(&self, frames: &[Frame<'_>]) -> io::Result<usize> {
        let mut known = self
            .addresses
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut space = self.space.lock().unwrap_or_else(PoisonError::into_inner);
        let (space, slots) = &mut *space;
        slots.clear();
        for &(frame, ifindex) in frames {
            slots.push(slot_of(&mut known, frame, ifindex)?);
        }
        let msgs = frames
            .iter()
            .zip(slots.iter())
            .map(|(&(frame, _), &slot)| (frame, &known[slot].1));
        sys::send_mmsg_link(self.socket.as_fd(), msgs, space)
    }
}

/// Where in `known` the `sockaddr_ll` of `frame` is (its EtherType read
/// from the frame), added if new: a sweep uses a few links at most.
fn slot_of(
    known: &mut Vec<((u32, u16), SockAddr)>,
    frame: &[u8],
    ifindex: u32,
) -> io::Result<usize> {
    let ethertype = frame
        .get(12..14)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame too short"))?;
    let key = (ifindex, ethertype);
    if let Some(slot) = known.iter().position(|(k, _)| *k == key) {
        return Ok(slot);
    }
    known.push((key, sys::link_address(ifindex, ethertype)?));
    Ok(known.len() - 1)
}

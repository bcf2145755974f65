//! [`PacketSender`]: a send-only `AF_PACKET` socket that writes whole
//! Ethernet frames to a link, past the kernel's IP output (no route
//! lookup, no netfilter, no neighbour lookup per packet): what zmap does.
//! Protocol 0, so the kernel hands it no received frame. Frames go through
//! a transmit ring ([`super::tx_ring`]) when the socket gets one, else by
//! `sendmmsg`. The `unsafe` parts (`sockaddr_ll`, `sendmmsg`, the ring's
//! mapping, `PACKET_QDISC_BYPASS`) are in sys.rs.

use std::io;
use std::os::fd::AsFd;
use std::sync::{Mutex, PoisonError};

use socket2::{Domain, SockAddr, Socket, Type};

use super::sys;
use super::tx_ring::TxRing;
use crate::Error;

/// A frame to send: its bytes (Ethernet header first) and the index of the
/// interface it leaves by.
pub(crate) type Frame<'a> = (&'a [u8], u32);

/// Set to `off` in the environment, the packet sender sends by `sendmmsg`
/// instead of its transmit ring (for comparisons, or a driver whose ring
/// misbehaves).
pub(crate) const TX_RING_ENV: &str = "ICMPKIT_TX_RING";

/// A send-only packet socket (needs `CAP_NET_RAW`).
#[derive(Debug)]
pub(crate) struct PacketSender {
    socket: Socket,
    state: Mutex<SendState>,
}

/// What sends reuse: the link addresses met so far, and the ring or the
/// `sendmmsg` space.
#[derive(Debug, Default)]
struct SendState {
    /// The `sockaddr_ll` of each (interface, EtherType) sent to so far.
    addresses: Vec<((u32, u16), SockAddr)>,
    ring: Option<TxRing>,
    space: sys::SendBatchSpace,
    slots: Vec<usize>,
}

impl PacketSender {
    /// Opens it, blocking or not; `bypass_qdisc` sets
    /// `PACKET_QDISC_BYPASS` (frames go straight to the driver). With
    /// `ring_frame_len`, frames of up to that many bytes go through a
    /// transmit ring if the kernel gives the socket one (else, and with
    /// [`TX_RING_ENV`] `off`, by `sendmmsg`).
    pub(crate) fn open(
        nonblocking: bool,
        bypass_qdisc: bool,
        ring_frame_len: Option<usize>,
    ) -> Result<Self, Error> {
        let wanted = ring_frame_len.filter(|_| ring_allowed());
        if let Some(max_frame_len) = wanted {
            let socket = open_socket(nonblocking, bypass_qdisc)?;
            match TxRing::new(&socket, max_frame_len) {
                Ok(ring) => return Ok(PacketSender::with(socket, Some(ring))),
                // A socket whose ring setup failed halfway may be left in
                // any state: a fresh one sends by sendmmsg.
                Err(e) => tracing::info!("no transmit ring, frames go by sendmmsg: {e}"),
            }
        }
        Ok(PacketSender::with(
            open_socket(nonblocking, bypass_qdisc)?,
            None,
        ))
    }

    fn with(socket: Socket, ring: Option<TxRing>) -> Self {
        PacketSender {
            socket,
            state: Mutex::new(SendState {
                ring,
                ..SendState::default()
            }),
        }
    }

    /// True if frames go through a transmit ring.
    pub(crate) fn uses_ring(&self) -> bool {
        self.state().ring.is_some()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, SendState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends the first frames of `frames`: one kick of the ring for those
    /// that leave by the same interface with the same EtherType, or one
    /// `sendmmsg`. How many the kernel took (the first one's error if
    /// none).
    pub(crate) fn send_batch(&self, frames: &[Frame<'_>]) -> io::Result<usize> {
        let mut state = self.state();
        let SendState {
            addresses,
            ring,
            space,
            slots,
        } = &mut *state;
        if let Some(ring) = ring {
            return send_ring(self.socket.as_fd(), ring, addresses, frames);
        }
        slots.clear();
        for &(frame, ifindex) in frames {
            slots.push(slot_of(addresses, frame, ifindex)?);
        }
        let msgs = frames
            .iter()
            .zip(slots.iter())
            .map(|(&(frame, _), &slot)| (frame, &addresses[slot].1));
        sys::send_mmsg_link(self.socket.as_fd(), msgs, space)
    }
}

/// [`TX_RING_ENV`] is not `off`.
fn ring_allowed() -> bool {
    std::env::var_os(TX_RING_ENV).is_none_or(|v| v != "off")
}

fn open_socket(nonblocking: bool, bypass_qdisc: bool) -> Result<Socket, Error> {
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
    Ok(socket)
}

/// The run of `frames` that leaves by the first one's interface with its
/// EtherType, written into the ring and sent by one kick.
fn send_ring(
    fd: std::os::fd::BorrowedFd<'_>,
    ring: &mut TxRing,
    addresses: &mut Vec<((u32, u16), SockAddr)>,
    frames: &[Frame<'_>],
) -> io::Result<usize> {
    let Some(&(first, ifindex)) = frames.first() else {
        return Ok(0);
    };
    let link = slot_of(addresses, first, ifindex)?;
    let key = addresses[link].0;
    let capacity = ring.frame_capacity();
    let run = frames
        .iter()
        .take_while(|&&(frame, ifindex)| {
            frame.len() <= capacity && ethertype(frame).is_ok_and(|e| (ifindex, e) == key)
        })
        .count();
    if run == 0 {
        // Longer than a slot: the ring was sized for the sweep's frames.
        return Err(io::Error::from_raw_os_error(libc::EMSGSIZE));
    }
    ring.send(fd, &addresses[link].1, run, |i, slot| {
        let frame = frames[i].0;
        slot[..frame.len()].copy_from_slice(frame);
        frame.len()
    })
}

/// The EtherType a frame carries.
fn ethertype(frame: &[u8]) -> io::Result<u16> {
    frame
        .get(12..14)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame too short"))
}

/// Where in `known` the `sockaddr_ll` of `frame` is (its EtherType read
/// from the frame), added if new: a sweep uses a few links at most.
fn slot_of(
    known: &mut Vec<((u32, u16), SockAddr)>,
    frame: &[u8],
    ifindex: u32,
) -> io::Result<usize> {
    let key = (ifindex, ethertype(frame)?);
    if let Some(slot) = known.iter().position(|(k, _)| *k == key) {
        return Ok(slot);
    }
    known.push((key, sys::link_address(ifindex, ethertype(frame)?)?));
    Ok(known.len() - 1)
}

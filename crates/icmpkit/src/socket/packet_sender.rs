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
use std::thread::JoinHandle;

use socket2::{Domain, SockAddr, Socket, Type};

use super::sys;
use super::tx_ring::TxRing;
use crate::Error;

/// A frame to send: its bytes (Ethernet header first) and the index of the
/// interface it leaves by.
pub(crate) type Frame<'a> = (&'a [u8], u32);

/// The packet sender's transmit ring, by the environment: `off` sends by
/// `sendmmsg` only (for comparisons, or a driver whose ring misbehaves);
/// `wait` waits for the ring's setup before the first frame, so that every
/// frame goes through it (tests, measurements of the ring alone); unset,
/// frames go by `sendmmsg` until the ring is ready.
pub(crate) const TX_RING_ENV: &str = "ICMPKIT_TX_RING";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RingMode {
    Off,
    Wait,
    Background,
}

/// The ring mode [`TX_RING_ENV`] asks for: unset (or empty) is the
/// default; a value other than `off` or `wait` is refused (it was taken
/// for the default: `ICMPKIT_TX_RING=OFF` compared the ring with itself).
fn ring_mode() -> Result<RingMode, Error> {
    ring_mode_of(std::env::var_os(TX_RING_ENV).as_deref())
}

fn ring_mode_of(value: Option<&std::ffi::OsStr>) -> Result<RingMode, Error> {
    match value.map(|v| v.to_str()) {
        None | Some(Some("")) => Ok(RingMode::Background),
        Some(Some("off")) => Ok(RingMode::Off),
        Some(Some("wait")) => Ok(RingMode::Wait),
        Some(_) => Err(Error::invalid(
            TX_RING_ENV,
            crate::error::InvalidReason::UnknownName {
                name: value.unwrap_or_default().to_string_lossy().into_owned(),
                context: "(the environment variable takes off or wait, or is unset)".into(),
            },
        )),
    }
}

/// A send-only packet socket (needs `CAP_NET_RAW`).
#[derive(Debug)]
pub(crate) struct PacketSender {
    /// Sends by `sendmmsg` until the ring is ready.
    socket: Socket,
    state: Mutex<SendState>,
}

/// A second packet socket with its transmit ring.
type RingSocket = (Socket, TxRing);

/// What sends reuse: the link addresses met so far, and the ring or the
/// `sendmmsg` space.
#[derive(Debug, Default)]
struct SendState {
    /// The `sockaddr_ll` of each (interface, EtherType) sent to so far.
    addresses: Vec<((u32, u16), SockAddr)>,
    ring: Option<RingSocket>,
    /// The ring being set up on its own thread: the kernel waits for an
    /// RCU grace period in it (10–15 ms here), which would otherwise hold
    /// up the first probe; frames go by `sendmmsg` meanwhile.
    ring_setup: Option<JoinHandle<io::Result<RingSocket>>>,
    space: sys::SendBatchSpace,
    slots: Vec<usize>,
}

impl PacketSender {
    /// Opens it, blocking or not; `bypass_qdisc` sets
    /// `PACKET_QDISC_BYPASS` (frames go straight to the driver). With
    /// `ring_frame_len`, a second socket gets a transmit ring for frames
    /// of up to that many bytes, set up in the background, and frames go
    /// through it once it is ready (unless [`TX_RING_ENV`] is `off`, or
    /// the kernel refuses it: then by `sendmmsg`).
    pub(crate) fn open(
        nonblocking: bool,
        bypass_qdisc: bool,
        ring_frame_len: Option<usize>,
    ) -> Result<Self, Error> {
        let mode = ring_mode()?;
        let socket = open_socket(nonblocking, bypass_qdisc)?;
        let mut state = SendState::default();
        if let Some(max_frame_len) = ring_frame_len.filter(|_| mode != RingMode::Off) {
            // Opened here, while this thread has CAP_NET_RAW; the ring's
            // options need none.
            let ring_socket = open_socket(nonblocking, bypass_qdisc)?;
            let setup = std::thread::Builder::new()
                .name("icmpkit-tx-ring".into())
                .spawn(move || {
                    let ring = TxRing::new(&ring_socket, max_frame_len)?;
                    Ok((ring_socket, ring))
                });
            match setup {
                Ok(handle) => state.ring_setup = Some(handle),
                Err(e) => tracing::info!("no transmit ring, frames go by sendmmsg: {e}"),
            }
        }
        if mode == RingMode::Wait
            && let Some(handle) = state.ring_setup.take()
        {
            state.ring = ring_of(handle);
        }
        Ok(PacketSender {
            socket,
            state: Mutex::new(state),
        })
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
            ring_setup,
            space,
            slots,
        } = &mut *state;
        if ring_setup.as_ref().is_some_and(JoinHandle::is_finished)
            && let Some(handle) = ring_setup.take()
        {
            *ring = ring_of(handle);
        }
        if let Some((socket, ring)) = ring {
            return send_ring(socket.as_fd(), ring, addresses, frames);
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

/// The ring a finished setup gave, if it did.
fn ring_of(handle: JoinHandle<io::Result<RingSocket>>) -> Option<RingSocket> {
    match handle.join() {
        Ok(Ok(ring)) => Some(ring),
        Ok(Err(e)) => {
            tracing::info!("no transmit ring, frames go by sendmmsg: {e}");
            None
        }
        Err(_) => None, // the panic hook has reported it
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_mode_is_off_wait_or_the_default_and_nothing_else() {
        use std::ffi::OsStr;
        assert_eq!(ring_mode_of(None).unwrap(), RingMode::Background);
        assert_eq!(
            ring_mode_of(Some(OsStr::new(""))).unwrap(),
            RingMode::Background
        );
        assert_eq!(
            ring_mode_of(Some(OsStr::new("off"))).unwrap(),
            RingMode::Off
        );
        assert_eq!(
            ring_mode_of(Some(OsStr::new("wait"))).unwrap(),
            RingMode::Wait
        );
        for bad in ["OFF", "0", "on", "yes"] {
            let error = ring_mode_of(Some(OsStr::new(bad))).unwrap_err().to_string();
            assert!(
                error.contains(TX_RING_ENV) && error.contains(bad),
                "{bad}: {error}"
            );
        }
    }
}

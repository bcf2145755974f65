//! The packet sender's transmit ring (`PACKET_TX_RING`, `TPACKET_V2`):
//! frames are written straight into slots of memory shared with the
//! kernel, and one `sendto` with no data ("the kick") sends every slot
//! handed over, so a batch costs one system call and no copy from user
//! space. The mapping and the slot access are in sys.rs; here is the pure
//! part: the ring's geometry, which slot comes next, and which of the
//! slots a kick took.
//!
//! Every kick leaves the ring as it found it apart from the slots the
//! kernel took: slots it did not take (a full send buffer, a refused
//! frame) are taken back at once, so the kernel's cursor and ours stay
//! together and a send means what `sendmmsg`'s does: the first frames,
//! all sent, or an error for the first.

use std::io;
use std::os::fd::BorrowedFd;

use super::sys::{self, SlotStatus, TX_SLOT_HEADER_LEN};

/// Bytes of ring per packet socket: 256 KiB, 1,024 slots of a 98-byte
/// echo frame (16 batches in flight before a full ring pauses the sender).
/// Every slot is written once per lap, so a smaller ring stays in cache:
/// with 1 MiB the user-space time per frame was 30-100 ns above
/// sendmmsg's (one thread, a /12 into a blackhole, six runs), with 64 KiB
/// 0-90 ns above (five runs on a busier machine).
const RING_BYTES: usize = 1 << 18;
/// Smallest slot: the header and a minimal frame.
const MIN_SLOT: usize = 128;
/// Largest slot; a frame larger than 64 KiB is never sent anyway (no
/// link's MTU is that large), and blocks this size are a multiple of every
/// page size Linux uses.
const BLOCK: usize = 1 << 16;

/// The shape of a ring: `slots` slots of `slot_size` bytes, in blocks of
/// `block_size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Geometry {
    pub slot_size: usize,
    pub slots: usize,
    pub block_size: usize,
}

impl Geometry {
    /// A ring whose slots hold frames of up to `max_frame_len` bytes, or
    /// none if such a frame is too large for a slot. The slot size is a
    /// power of two, so it divides the block and a slot's place in the
    /// mapping is `index * slot_size`.
    pub(super) fn for_frames(max_frame_len: usize) -> Option<Geometry> {
        let slot_size = TX_SLOT_HEADER_LEN
            .checked_add(max_frame_len)?
            .checked_next_power_of_two()?
            .max(MIN_SLOT);
        if slot_size > BLOCK {
            return None;
        }
        Some(Geometry {
            slot_size,
            slots: RING_BYTES / slot_size,
            block_size: BLOCK,
        })
    }
}

/// The slot `offset` places after `start` in a ring of `slots`.
fn slot_after(start: usize, offset: usize, slots: usize) -> usize {
    (start + offset) % slots
}

/// How many of the slots handed over for one kick (their statuses after
/// it, in ring order) the kernel took: the leading run it sent or is
/// sending. It goes through slots in order and stops at the first it
/// cannot send, leaving it (and all after it) a send request, or marking
/// it refused. With nothing sent and a full send buffer it marks the
/// first slot available again without sending it: `WouldBlock` means
/// none was taken.
fn taken_by_kick(statuses: impl Iterator<Item = SlotStatus>, kick: &io::Result<usize>) -> usize {
    if matches!(kick, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
        return 0;
    }
    statuses
        .take_while(|s| matches!(s, SlotStatus::Sending | SlotStatus::Available))
        .count()
}

/// The error a full ring or a full send buffer gives the caller: what
/// `sendmmsg` reports when the device queue is full (the senders pause and
/// try again).
fn no_room() -> io::Error {
    io::Error::from_raw_os_error(libc::ENOBUFS)
}

/// A transmit ring of a packet socket, with the slot the kernel looks at
/// next.
#[derive(Debug)]
pub(super) struct TxRing {
    map: sys::TxRingMap,
    next: usize,
    /// Bytes of `virtio_net_hdr` before each frame (0 without one).
    prefix: usize,
}

/// The `virtio_net_hdr` before a frame of `len` bytes: no offload, and
/// `hdr_len` the whole frame, so that the kernel copies it into the
/// buffer it allocates rather than pointing into the ring's page. A frame
/// left in the ring's page is copied out again wherever it is forwarded
/// or cloned (a veth pair, a capture), a page allocation per frame.
fn vnet_header(len: usize) -> [u8; sys::VNET_HEADER_LEN] {
    let mut header = [0u8; sys::VNET_HEADER_LEN];
    // The kernel reads it in the host's byte order (virtio's legacy rule
    // for packet sockets).
    header[2..4].copy_from_slice(&(len as u16).to_ne_bytes());
    header
}

impl TxRing {
    /// Sets up a ring on `socket` (before any send) for frames of up to
    /// `max_frame_len` bytes.
    pub(super) fn new(socket: &socket2::Socket, max_frame_len: usize) -> io::Result<TxRing> {
        // Without it the ring still works, its frames left in its pages.
        let prefix = match sys::set_vnet_header(socket) {
            Ok(()) => sys::VNET_HEADER_LEN,
            Err(_) => 0,
        };
        let geometry = Geometry::for_frames(prefix + max_frame_len).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "frames too large for a ring")
        })?;
        let map = sys::TxRingMap::new(
            socket,
            geometry.slot_size,
            geometry.slots,
            geometry.block_size,
        )?;
        Ok(TxRing {
            map,
            next: 0,
            prefix,
        })
    }

    /// Most frame bytes a slot holds.
    pub(super) fn frame_capacity(&self) -> usize {
        self.map.frame_capacity() - self.prefix
    }

    /// Sends up to `count` frames out of `link` (one interface and
    /// EtherType): `write(i, slot)` writes frame `i` into a free slot and
    /// returns its length, then one kick sends them all. Returns how many
    /// of the first frames left, or the error of the first (`ENOBUFS`
    /// when the ring or the send buffer is full).
    pub(super) fn send(
        &mut self,
        fd: BorrowedFd<'_>,
        link: &socket2::SockAddr,
        count: usize,
        mut write: impl FnMut(usize, &mut [u8]) -> usize,
    ) -> io::Result<usize> {
        let slots = self.map.slots();
        let start = self.next;
        let mut written = 0;
        while written < count.min(slots) {
            let slot = slot_after(start, written, slots);
            let Some(frame) = self.map.frame_mut(slot) else {
                break; // still the kernel's: the ring is full
            };
            let (header, frame) = frame.split_at_mut(self.prefix);
            let len = write(written, frame);
            if self.prefix > 0 {
                header.copy_from_slice(&vnet_header(len));
            }
            self.map.request_send(slot, self.prefix + len);
            written += 1;
        }
        if written == 0 {
            return Err(no_room());
        }
        let kick = sys::kick_tx_ring(fd, link);
        let statuses = (0..written).map(|i| self.map.status(slot_after(start, i, slots)));
        let taken = taken_by_kick(statuses, &kick);
        for i in taken..written {
            self.map.take_back(slot_after(start, i, slots));
        }
        self.next = slot_after(start, taken, slots);
        match kick {
            _ if taken > 0 => Ok(taken),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(no_room()),
            Err(e) => Err(e),
            // Nothing taken yet no error: cannot happen; as a full ring.
            Ok(_) => Err(no_room()),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn an_echo_frame_gets_a_256_byte_slot() {
        // 14 + 20 + 8 + 56 bytes (fping's default payload) and the headers.
        let g = Geometry::for_frames(98).unwrap();
        assert_eq!(g.slot_size, 256);
        assert_eq!(g.slots * g.slot_size, RING_BYTES);
        assert_eq!(g.block_size % g.slot_size, 0);
        // A jumbo frame still fits; 64 KiB does not.
        assert_eq!(Geometry::for_frames(9018).unwrap().slot_size, 16384);
        assert_eq!(Geometry::for_frames(BLOCK), None);
        assert_eq!(Geometry::for_frames(usize::MAX), None);
    }

    #[test]
    fn the_vnet_header_asks_for_the_whole_frame_copied_and_no_offload() {
        let h = vnet_header(98);
        // flags, gso_type (none), hdr_len, gso_size, csum_start, csum_offset
        assert_eq!((h[0], h[1]), (0, 0));
        assert_eq!(u16::from_ne_bytes([h[2], h[3]]), 98);
        assert!(h[4..].iter().all(|&b| b == 0));
    }

    #[test]
    fn a_kick_that_sent_nothing_for_a_full_buffer_took_nothing() {
        // The kernel marks the first slot available again without sending it.
        let statuses = [SlotStatus::Available, SlotStatus::SendRequest];
        let kick = Err(io::ErrorKind::WouldBlock.into());
        assert_eq!(taken_by_kick(statuses.into_iter(), &kick), 0);
    }

    #[test]
    fn a_refused_frame_ends_the_run_taken() {
        use SlotStatus::*;
        let statuses = [Available, Sending, WrongFormat, SendRequest];
        let kick = Err(io::Error::from_raw_os_error(libc::EMSGSIZE));
        assert_eq!(taken_by_kick(statuses.into_iter(), &kick), 2);
        assert_eq!(taken_by_kick([WrongFormat].into_iter(), &kick), 0);
        // A stop for the device queue leaves the frame a send request.
        let statuses = [Sending, SendRequest, SendRequest];
        assert_eq!(taken_by_kick(statuses.into_iter(), &Ok(98)), 1);
    }

    fn status() -> impl Strategy<Value = SlotStatus> {
        prop_oneof![
            Just(SlotStatus::Available),
            Just(SlotStatus::Sending),
            Just(SlotStatus::SendRequest),
            Just(SlotStatus::WrongFormat),
        ]
    }

    proptest! {
        /// The slots of a batch are consecutive modulo the ring and never
        /// repeat within a lap.
        #[test]
        fn slots_wrap_around_the_ring(slots in 1usize..10_000, start in 0usize..10_000, n in 0usize..10_000) {
            let start = start % slots;
            let n = n.min(slots);
            let seen: std::collections::HashSet<usize> =
                (0..n).map(|i| slot_after(start, i, slots)).collect();
            prop_assert_eq!(seen.len(), n);
            prop_assert!(seen.iter().all(|&s| s < slots));
            prop_assert_eq!(slot_after(start, slots, slots), start);
        }

        /// What a kick took is a leading run of slots sent or being sent,
        /// never past one it left or refused.
        #[test]
        fn what_a_kick_took_is_a_prefix_of_sent_slots(
            statuses in proptest::collection::vec(status(), 0..64),
            would_block in any::<bool>(),
        ) {
            let kick = if would_block { Err(io::ErrorKind::WouldBlock.into()) } else { Ok(1) };
            let taken = taken_by_kick(statuses.iter().copied(), &kick);
            prop_assert!(taken <= statuses.len());
            if would_block {
                prop_assert_eq!(taken, 0);
            } else {
                prop_assert!(statuses[..taken]
                    .iter()
                    .all(|s| matches!(s, SlotStatus::Sending | SlotStatus::Available)));
                if let Some(next) = statuses.get(taken) {
                    prop_assert!(matches!(next, SlotStatus::SendRequest | SlotStatus::WrongFormat));
                }
            }
        }
    }
}

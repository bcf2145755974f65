//! The stamp every echo probe carries in its payload: when it was sent and
//! a keyed cookie, so that a reply can be validated and timed from the
//! packet alone (no per-target table, as a sweep of millions of addresses
//! needs), and forged or foreign replies are rejected.
//!
//! Layout (24 bytes, at the start of the echo data):
//! `realtime_ns + R: u64 BE | monotonic_ns + M: u64 BE | cookie: u64 BE`,
//! where the cookie is SipHash-1-3 under a per-run random key of
//! (destination, echo id, sequence, both times).
//!
//! `R` and `M` are per-run secrets derived from the key (wrapping sums):
//! CLOCK_MONOTONIC is the time since boot, so a stamp carrying it would tell
//! every host probed (millions in a sweep) our uptime, and with the wall
//! clock beside it our boot time. Offset, the fields say nothing about
//! either clock; only their differences (the time between two of our
//! sends, which the target sees anyway) survive, and the RTT needs nothing
//! else once the offsets are taken off.

use std::hash::Hasher;
use std::net::IpAddr;

use siphasher::sip::SipHasher13;

use super::clock::Timestamp;

/// Bytes of echo data the stamp occupies; smaller payloads carry none and
/// are matched by id and sequence only (as iputils does below 16 bytes).
pub const STAMP_LEN: usize = 24;

/// Bytes of echo data a tagged stamp occupies: the stamp, then a 64-bit tag
/// the cookie also covers (a sweep's target index: which destination a reply
/// answers, even when it comes from another address).
pub const TAGGED_STAMP_LEN: usize = STAMP_LEN + 8;

/// The secret of one run; replies must carry a cookie made with it.
#[derive(Clone)]
pub struct StampKey {
    k0: u64,
    k1: u64,
    /// Added to the realtime send time on the wire.
    realtime_offset: u64,
    /// Added to the monotonic send time on the wire.
    monotonic_offset: u64,
}

impl std::fmt::Debug for StampKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StampKey(..)")
    }
}

/// Which probe a stamp is for: the fields its cookie covers besides time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeId {
    /// Where the probe was sent.
    pub destination: IpAddr,
    /// Echo identifier.
    pub id: u16,
    /// Echo sequence number.
    pub sequence: u16,
}

impl StampKey {
    /// A fresh random key.
    pub fn random() -> StampKey {
        StampKey::from_parts(
            crate::engine::random::random(),
            crate::engine::random::random(),
        )
    }

    /// A fixed key (tests, reproducible runs). The time offsets are drawn
    /// from it with SipHash (a keyed PRF), so they are as secret as it is.
    pub fn from_parts(k0: u64, k1: u64) -> StampKey {
        let derive = |label: &[u8]| {
            let mut h = SipHasher13::new_with_keys(k0, k1);
            h.write(b"icmpkit stamp time offset: ");
            h.write(label);
            h.finish()
        };
        StampKey {
            k0,
            k1,
            realtime_offset: derive(b"realtime"),
            monotonic_offset: derive(b"monotonic"),
        }
    }

    /// The send time as it goes on the wire: each clock offset by its secret.
    fn hide(&self, sent: Timestamp) -> Timestamp {
        Timestamp {
            realtime_ns: sent.realtime_ns.wrapping_add(self.realtime_offset),
            monotonic_ns: sent.monotonic_ns.wrapping_add(self.monotonic_offset),
        }
    }

    /// The send time read back from the wire ([`StampKey::hide`] undone).
    fn reveal(&self, wire: Timestamp) -> Timestamp {
        Timestamp {
            realtime_ns: wire.realtime_ns.wrapping_sub(self.realtime_offset),
            monotonic_ns: wire.monotonic_ns.wrapping_sub(self.monotonic_offset),
        }
    }

    fn cookie(&self, probe: &ProbeId, sent: Timestamp, tag: Option<u64>) -> u64 {
        // Whole 64-bit words only: SipHash takes them without buffering
        // partial ones (the flood's hot path hashes two cookies a probe).
        let mut h = SipHasher13::new_with_keys(self.k0, self.k1);
        let id_seq = (u64::from(probe.id) << 16) | u64::from(probe.sequence);
        match probe.destination {
            IpAddr::V4(a) => h.write_u64((u64::from(u32::from(a)) << 32) | id_seq),
            IpAddr::V6(a) => {
                let a = u128::from(a);
                h.write_u64((a >> 64) as u64);
                h.write_u64(a as u64);
                h.write_u64(id_seq);
            }
        }
        h.write_u64(sent.realtime_ns);
        h.write_u64(sent.monotonic_ns);
        if let Some(tag) = tag {
            h.write_u64(tag);
        }
        h.finish()
    }

    /// Writes the stamp into the first [`STAMP_LEN`] bytes of `data`;
    /// returns false (writing nothing) if `data` is shorter.
    pub fn write(&self, probe: &ProbeId, sent: Timestamp, data: &mut [u8]) -> bool {
        let Some(out) = data.get_mut(..STAMP_LEN) else {
            return false;
        };
        write_stamp(out, self.hide(sent), self.cookie(probe, sent, None));
        true
    }

    /// Writes a tagged stamp (the stamp, then `tag`, both covered by the
    /// cookie) into the first [`TAGGED_STAMP_LEN`] bytes of `data`; returns
    /// false (writing nothing) if `data` is shorter.
    pub fn write_tagged(
        &self,
        probe: &ProbeId,
        sent: Timestamp,
        tag: u64,
        data: &mut [u8],
    ) -> bool {
        let Some(out) = data.get_mut(..TAGGED_STAMP_LEN) else {
            return false;
        };
        write_stamp(
            &mut out[..STAMP_LEN],
            self.hide(sent),
            self.cookie(probe, sent, Some(tag)),
        );
        out[STAMP_LEN..].copy_from_slice(&tag.to_be_bytes());
        true
    }

    /// Reads a tagged stamp's send time and checks its cookie for `probe`
    /// and the tag it carries (read it first with [`peek_tag`]).
    pub fn check_tagged(&self, probe: &ProbeId, data: &[u8]) -> Option<Timestamp> {
        let tag = peek_tag(data)?;
        let (wire, cookie) = read_stamp(data)?;
        let sent = self.reveal(wire);
        (self.cookie(probe, sent, Some(tag)) == cookie).then_some(sent)
    }

    /// Reads the stamp from echo `data` and checks its cookie for `probe`:
    /// the send time if it is genuine, `None` if absent or forged.
    pub fn check(&self, probe: &ProbeId, data: &[u8]) -> Option<Timestamp> {
        let (wire, cookie) = read_stamp(data)?;
        let sent = self.reveal(wire);
        (self.cookie(probe, sent, None) == cookie).then_some(sent)
    }
}

/// The tag of a tagged stamp, unverified: it says which probe to check the
/// cookie against ([`StampKey::check_tagged`]).
pub fn peek_tag(data: &[u8]) -> Option<u64> {
    be_u64(data, STAMP_LEN)
}

fn be_u64(data: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(data.get(at..at + 8)?.try_into().ok()?))
}

fn write_stamp(out: &mut [u8], sent: Timestamp, cookie: u64) {
    out[0..8].copy_from_slice(&sent.realtime_ns.to_be_bytes());
    out[8..16].copy_from_slice(&sent.monotonic_ns.to_be_bytes());
    out[16..24].copy_from_slice(&cookie.to_be_bytes());
}

/// The send time as on the wire (offset) and cookie of a stamp, unverified.
fn read_stamp(data: &[u8]) -> Option<(Timestamp, u64)> {
    let sent = Timestamp {
        realtime_ns: be_u64(data, 0)?,
        monotonic_ns: be_u64(data, 8)?,
    };
    Some((sent, be_u64(data, 16)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe() -> ProbeId {
        ProbeId {
            destination: "192.0.2.7".parse().unwrap(),
            id: 0x1234,
            sequence: 9,
        }
    }

    #[test]
    fn genuine_stamp_checks() {
        let key = StampKey::from_parts(1, 2);
        let sent = Timestamp {
            realtime_ns: 11,
            monotonic_ns: 22,
        };
        let mut data = [0u8; 56];
        assert!(key.write(&probe(), sent, &mut data));
        assert_eq!(key.check(&probe(), &data), Some(sent));
    }

    #[test]
    fn forged_or_foreign_stamps_fail() {
        let key = StampKey::from_parts(1, 2);
        let sent = Timestamp {
            realtime_ns: 11,
            monotonic_ns: 22,
        };
        let mut data = [0u8; 24];
        key.write(&probe(), sent, &mut data);
        // Another run's key.
        assert_eq!(StampKey::from_parts(3, 4).check(&probe(), &data), None);
        // Another destination or sequence.
        let mut other = probe();
        other.destination = "192.0.2.8".parse().unwrap();
        assert_eq!(key.check(&other, &data), None);
        other = probe();
        other.sequence = 10;
        assert_eq!(key.check(&other, &data), None);
        // A tampered send time.
        data[7] ^= 1;
        assert_eq!(key.check(&probe(), &data), None);
        // Too short.
        assert_eq!(key.check(&probe(), &data[..23]), None);
        assert!(!key.write(&probe(), sent, &mut [0u8; 23]));
    }

    /// Every aligned or unaligned 8-byte window of `data`, as a u64 BE.
    fn windows(data: &[u8]) -> Vec<u64> {
        data.windows(8)
            .map(|w| u64::from_be_bytes(w.try_into().unwrap()))
            .collect()
    }

    #[test]
    fn stamps_do_not_carry_the_clocks_in_the_clear() {
        use crate::engine::clock::round_trip;
        // A machine up for 3 days, booted at a known wall-clock time.
        const BOOT_REALTIME_NS: u64 = 1_700_000_000_000_000_000;
        let uptime = 3 * 86_400 * 1_000_000_000u64;
        let at = |mono: u64| Timestamp {
            realtime_ns: BOOT_REALTIME_NS + mono,
            monotonic_ns: mono,
        };
        let (first, second) = (at(uptime), at(uptime + 1_000_000_000));
        for key in [StampKey::from_parts(1, 2), StampKey::random()] {
            let mut a = [0u8; TAGGED_STAMP_LEN];
            let mut b = [0u8; STAMP_LEN];
            assert!(key.write_tagged(&probe(), first, 7, &mut a));
            assert!(key.write(&probe(), second, &mut b));
            for (sent, data) in [(first, &a[..]), (second, &b[..])] {
                let found = windows(data);
                // Neither the uptime, nor the boot time (realtime minus
                // monotonic), nor the times themselves, anywhere.
                let wire_rt = be_u64(data, 0).unwrap();
                let wire_mono = be_u64(data, 8).unwrap();
                assert!(!found.contains(&sent.monotonic_ns), "uptime in {data:02x?}");
                assert!(
                    !found.contains(&sent.realtime_ns),
                    "wall clock in {data:02x?}"
                );
                assert_ne!(wire_rt.wrapping_sub(wire_mono), BOOT_REALTIME_NS);
                // Not within a day of the true values either (an offset,
                // not a rounding).
                let day = 86_400 * 1_000_000_000u64;
                assert!(wire_mono.abs_diff(sent.monotonic_ns) > day);
                assert!(wire_rt.abs_diff(sent.realtime_ns) > day);
            }
            // They still validate, give back the true send times, and time
            // a reply right.
            assert_eq!(key.check_tagged(&probe(), &a), Some(first));
            assert_eq!(key.check(&probe(), &b), Some(second));
            let rtt = round_trip(
                key.check(&probe(), &b).unwrap(),
                None,
                second.after(std::time::Duration::from_micros(250)),
            );
            assert_eq!(rtt, std::time::Duration::from_micros(250));
        }
        // Another run's key puts other values on the wire.
        let mut other = [0u8; STAMP_LEN];
        StampKey::from_parts(3, 4).write(&probe(), first, &mut other);
        let mut mine = [0u8; STAMP_LEN];
        StampKey::from_parts(1, 2).write(&probe(), first, &mut mine);
        assert_ne!(other[..16], mine[..16]);
    }

    #[test]
    fn tagged_stamp_covers_the_tag() {
        let key = StampKey::from_parts(5, 6);
        let sent = Timestamp {
            realtime_ns: 100,
            monotonic_ns: 200,
        };
        let mut data = [0u8; 40];
        assert!(key.write_tagged(&probe(), sent, 0xdead_beef, &mut data));
        assert_eq!(peek_tag(&data), Some(0xdead_beef));
        assert_eq!(key.check_tagged(&probe(), &data), Some(sent));
        // An untagged check of the same bytes fails: the cookies differ.
        assert_eq!(key.check(&probe(), &data), None);
        // Another tag (a forged target index) fails.
        let mut forged = data;
        forged[STAMP_LEN + 7] ^= 1;
        assert_eq!(key.check_tagged(&probe(), &forged), None);
        assert_eq!(key.check_tagged(&probe(), &data[..31]), None);
        assert!(!key.write_tagged(&probe(), sent, 1, &mut [0u8; 31]));
    }
}

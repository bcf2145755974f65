//! The stamp every echo probe carries in its payload: when it was sent and
//! a keyed cookie, so that a reply can be validated and timed from the
//! packet alone (no per-target table, as a sweep of millions of addresses
//! needs), and forged or foreign replies are rejected.
//!
//! Layout (24 bytes, at the start of the echo data):
//! `realtime_ns: u64 BE | monotonic_ns: u64 BE | cookie: u64 BE`, where the
//! cookie is SipHash-1-3 under a per-run random key of (destination, echo
//! id, sequence, both times).

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
        StampKey {
            k0: crate::engine::random::random(),
            k1: crate::engine::random::random(),
        }
    }

    /// A fixed key (tests, reproducible runs).
    pub fn from_parts(k0: u64, k1: u64) -> StampKey {
        StampKey { k0, k1 }
    }

    fn cookie(&self, probe: &ProbeId, sent: Timestamp, tag: Option<u64>) -> u64 {
        let mut h = SipHasher13::new_with_keys(self.k0, self.k1);
        match probe.destination {
            IpAddr::V4(a) => h.write(&a.octets()),
            IpAddr::V6(a) => h.write(&a.octets()),
        }
        h.write_u16(probe.id);
        h.write_u16(probe.sequence);
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
        write_stamp(out, sent, self.cookie(probe, sent, None));
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
            sent,
            self.cookie(probe, sent, Some(tag)),
        );
        out[STAMP_LEN..].copy_from_slice(&tag.to_be_bytes());
        true
    }

    /// Reads a tagged stamp's send time and checks its cookie for `probe`
    /// and the tag it carries (read it first with [`peek_tag`]).
    pub fn check_tagged(&self, probe: &ProbeId, data: &[u8]) -> Option<Timestamp> {
        let tag = peek_tag(data)?;
        let (sent, cookie) = read_stamp(data)?;
        (self.cookie(probe, sent, Some(tag)) == cookie).then_some(sent)
    }

    /// Reads the stamp from echo `data` and checks its cookie for `probe`:
    /// the send time if it is genuine, `None` if absent or forged.
    pub fn check(&self, probe: &ProbeId, data: &[u8]) -> Option<Timestamp> {
        let (sent, cookie) = read_stamp(data)?;
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

/// The send time and cookie of a stamp, unverified.
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

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
            k0: rand::random(),
            k1: rand::random(),
        }
    }

    /// A fixed key (tests, reproducible runs).
    pub fn from_parts(k0: u64, k1: u64) -> StampKey {
        StampKey { k0, k1 }
    }

    fn cookie(&self, probe: &ProbeId, sent: Timestamp) -> u64 {
        let mut h = SipHasher13::new_with_keys(self.k0, self.k1);
        match probe.destination {
            IpAddr::V4(a) => h.write(&a.octets()),
            IpAddr::V6(a) => h.write(&a.octets()),
        }
        h.write_u16(probe.id);
        h.write_u16(probe.sequence);
        h.write_u64(sent.realtime_ns);
        h.write_u64(sent.monotonic_ns);
        h.finish()
    }

    /// Writes the stamp into the first [`STAMP_LEN`] bytes of `data`;
    /// returns false (writing nothing) if `data` is shorter.
    pub fn write(&self, probe: &ProbeId, sent: Timestamp, data: &mut [u8]) -> bool {
        let Some(out) = data.get_mut(..STAMP_LEN) else {
            return false;
        };
        out[0..8].copy_from_slice(&sent.realtime_ns.to_be_bytes());
        out[8..16].copy_from_slice(&sent.monotonic_ns.to_be_bytes());
        out[16..24].copy_from_slice(&self.cookie(probe, sent).to_be_bytes());
        true
    }

    /// Reads the stamp from echo `data` and checks its cookie for `probe`:
    /// the send time if it is genuine, `None` if absent or forged.
    pub fn check(&self, probe: &ProbeId, data: &[u8]) -> Option<Timestamp> {
        let b = data.get(..STAMP_LEN)?;
        let word = |i: usize| u64::from_be_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
        let sent = Timestamp {
            realtime_ns: word(0),
            monotonic_ns: word(8),
        };
        (self.cookie(probe, sent) == word(16)).then_some(sent)
    }
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
}

//! Multicast Listener Discovery: MLDv2 report records (RFC 3810 §5.2) and
//! the exponential encodings of MLDv2 queries (RFC 3810 §5.1.3, §5.1.9).

use core::fmt;
use core::net::Ipv6Addr;

use super::addrs::Ipv6Addrs;
use crate::{Error, Result, bytes};

/// The fixed part of a multicast address record: type, aux data length,
/// number of sources, multicast address.
const RECORD_HEADER_LEN: usize = 20;

/// The kebab-case name of an MLDv2 record type (RFC 3810 §5.2.12).
pub fn record_type_name(record_type: u8) -> Option<&'static str> {
    Some(match record_type {
        1 => "mode-is-include",
        2 => "mode-is-exclude",
        3 => "change-to-include-mode",
        4 => "change-to-exclude-mode",
        5 => "allow-new-sources",
        6 => "block-old-sources",
        _ => return None,
    })
}

/// One multicast address record of an MLDv2 report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MldRecord<'a> {
    /// Record type (1 `MODE_IS_INCLUDE` .. 6 `BLOCK_OLD_SOURCES`); see
    /// [`record_type_name`].
    pub record_type: u8,
    /// The multicast address the record is about.
    pub multicast_address: Ipv6Addr,
    /// The sources listed.
    pub sources: Ipv6Addrs<'a>,
    /// Auxiliary data (a multiple of 4 bytes; none is defined yet).
    pub aux_data: &'a [u8],
}

impl<'a> MldRecord<'a> {
    /// Reads the record at the start of `buf`; returns it and its length.
    fn parse(buf: &'a [u8]) -> Result<(Self, usize)> {
        let record_type = bytes::u8_at(buf, 0, "MLDv2 record type")?;
        let aux_len = usize::from(bytes::u8_at(buf, 1, "MLDv2 aux data length")?) * 4;
        let sources = usize::from(bytes::u16_at(buf, 2, "MLDv2 number of sources")?);
        let multicast_address = bytes::ipv6_at(buf, 4, "MLDv2 multicast address")?;
        let sources =
            Ipv6Addrs::from_wire(buf, RECORD_HEADER_LEN, sources, "MLDv2 record sources")?;
        let aux_at = RECORD_HEADER_LEN + sources.buffer_len();
        let aux_data = bytes::slice(buf, aux_at, aux_len, "MLDv2 aux data")?;
        let record = MldRecord {
            record_type,
            multicast_address,
            sources,
            aux_data,
        };
        Ok((record, aux_at + aux_len))
    }

    /// Bytes the record takes on the wire.
    pub fn buffer_len(&self) -> usize {
        RECORD_HEADER_LEN + self.sources.buffer_len() + self.aux_data.len()
    }

    /// Writes the record at the start of `buf`; returns the bytes written.
    ///
    /// `Malformed` when the aux data is not a multiple of 4 bytes or too
    /// long for its length field, or there are more than 65535 sources.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if self.aux_data.len() % 4 != 0 || self.aux_data.len() > 255 * 4 {
            return Err(Error::Malformed(
                "MLDv2 aux data not a multiple of 4 bytes up to 1020",
            ));
        }
        let sources = u16::try_from(self.sources.len())
            .map_err(|_| Error::Malformed("more than 65535 MLDv2 sources"))?;
        let len = self.buffer_len();
        bytes::check_room(buf, len)?;
        bytes::put_u8(buf, 0, self.record_type);
        bytes::put_u8(buf, 1, (self.aux_data.len() / 4) as u8);
        bytes::put_u16(buf, 2, sources);
        bytes::put_bytes(buf, 4, &self.multicast_address.octets());
        self.sources.emit(buf, RECORD_HEADER_LEN);
        bytes::put_bytes(
            buf,
            RECORD_HEADER_LEN + self.sources.buffer_len(),
            self.aux_data,
        );
        Ok(len)
    }
}

/// The records of an MLDv2 report: read from the wire (all checked to fit
/// when the report was parsed) or a caller's slice to emit.
///
/// Two lists are equal when they yield the same records.
#[derive(Clone, Copy)]
pub struct MldRecords<'a>(Inner<'a>);

#[derive(Clone, Copy)]
enum Inner<'a> {
    Wire { area: &'a [u8], count: usize },
    Built(&'a [MldRecord<'a>]),
}

impl<'a> MldRecords<'a> {
    /// A list to emit, from the caller's records.
    pub const fn new(records: &'a [MldRecord<'a>]) -> Self {
        MldRecords(Inner::Built(records))
    }

    /// `count` records at the start of `area`; an error when any of them
    /// does not fit (an absurd count ends in `Truncated`, not a long loop:
    /// each record takes at least 20 bytes).
    pub(crate) fn parse(area: &'a [u8], count: usize) -> Result<Self> {
        let mut at = 0;
        for _ in 0..count {
            let (_, len) = MldRecord::parse(bytes::tail(area, at))?;
            at += len;
        }
        Ok(MldRecords(Inner::Wire {
            area: bytes::slice(area, 0, at, "MLDv2 records")?,
            count,
        }))
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        match self.0 {
            Inner::Wire { count, .. } => count,
            Inner::Built(list) => list.len(),
        }
    }

    /// True when there is no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The records, in order.
    pub fn iter(&self) -> MldRecordIter<'a> {
        MldRecordIter(match self.0 {
            Inner::Wire { area, count } => IterInner::Wire {
                rest: area,
                left: count,
            },
            Inner::Built(list) => IterInner::Built(list.iter()),
        })
    }

    /// Bytes the records take on the wire.
    pub fn buffer_len(&self) -> usize {
        match self.0 {
            Inner::Wire { area, .. } => area.len(),
            Inner::Built(list) => list.iter().map(MldRecord::buffer_len).sum(),
        }
    }

    /// Writes the records at the start of `buf`; returns the bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        bytes::check_room(buf, self.buffer_len())?;
        let mut at = 0;
        for record in self.iter() {
            at += record.emit(bytes::tail_mut(buf, at))?;
        }
        Ok(at)
    }
}

impl<'a> IntoIterator for MldRecords<'a> {
    type Item = MldRecord<'a>;
    type IntoIter = MldRecordIter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl PartialEq for MldRecords<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for MldRecords<'_> {}

impl fmt::Debug for MldRecords<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for MldRecords<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// Iterator over [`MldRecords`].
#[derive(Clone, Debug)]
pub struct MldRecordIter<'a>(IterInner<'a>);

#[derive(Clone, Debug)]
enum IterInner<'a> {
    Wire { rest: &'a [u8], left: usize },
    Built(core::slice::Iter<'a, MldRecord<'a>>),
}

impl<'a> Iterator for MldRecordIter<'a> {
    type Item = MldRecord<'a>;

    fn next(&mut self) -> Option<MldRecord<'a>> {
        match &mut self.0 {
            IterInner::Built(it) => it.next().copied(),
            IterInner::Wire { rest, left } => {
                if *left == 0 {
                    return None;
                }
                // Every record was checked to fit when the list was parsed.
                let (record, len) = MldRecord::parse(rest).ok()?;
                *rest = bytes::tail(rest, len);
                *left -= 1;
                Some(record)
            }
        }
    }
}

/// Milliseconds encoded by an MLDv2 Maximum Response Code (RFC 3810
/// §5.1.3): linear below 32768, then a 3-bit exponent and 12-bit mantissa.
pub fn max_response_delay_ms(code: u16) -> u32 {
    if code < 0x8000 {
        u32::from(code)
    } else {
        let mant = u32::from(code & 0x0fff);
        let exp = u32::from((code >> 12) & 0x7);
        (mant | 0x1000) << (exp + 3)
    }
}

/// Seconds encoded by an MLDv2 Querier's Query Interval Code (RFC 3810
/// §5.1.9): linear below 128, then a 3-bit exponent and 4-bit mantissa.
pub fn query_interval_s(qqic: u8) -> u32 {
    if qqic < 0x80 {
        u32::from(qqic)
    } else {
        let mant = u32::from(qqic & 0x0f);
        let exp = u32::from((qqic >> 4) & 0x7);
        (mant | 0x10) << (exp + 3)
    }
}

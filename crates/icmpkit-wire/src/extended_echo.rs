//! RFC 8335 extended echo (PROBE), the part both families share: ICMPv4
//! types 42/43 and ICMPv6 types 160/161 lay out bytes 4..8 the same way
//! (16-bit identifier, 8-bit sequence number, flags byte) and carry the
//! same extension structure and neighbour states. Each family's `Repr`
//! keeps its own variants and codes and calls in here for the rest.

use core::fmt;

use crate::display::fmt_interface_id;
use crate::extension::{Extensions, InterfaceId};
use crate::{Error, Result};

/// Request flags: L bit, the probed interface is on the node that receives
/// the request.
const LOCAL: u8 = 0x01;
/// Reply flags: A (active), 4 (runs IPv4), 6 (runs IPv6) bits.
const ACTIVE: u8 = 0x04;
const IPV4: u8 = 0x02;
const IPV6: u8 = 0x01;

/// The kebab-case name of a reply's neighbour state (RFC 8335 §3: the
/// IPv6 neighbour-discovery states, also used for ARP).
pub(crate) fn state_name(state: u8) -> Option<&'static str> {
    Some(match state {
        0 => "reserved",
        1 => "incomplete",
        2 => "reachable",
        3 => "stale",
        4 => "delay",
        5 => "probe",
        6 => "failed",
        _ => return None,
    })
}

/// Bytes 4..8 of a request or reply.
#[derive(Clone, Copy)]
pub(crate) struct Header {
    pub id: u16,
    pub sequence: u8,
    pub flags: u8,
}

impl Header {
    #[inline]
    pub fn from_rest_of_header(rest_of_header: u32) -> Self {
        let [id_hi, id_lo, sequence, flags] = rest_of_header.to_be_bytes();
        Header {
            id: u16::from_be_bytes([id_hi, id_lo]),
            sequence,
            flags,
        }
    }

    pub fn request(id: u16, sequence: u8, local: bool) -> Self {
        let flags = if local { LOCAL } else { 0 };
        Header {
            id,
            sequence,
            flags,
        }
    }

    /// `Malformed` for a state above 7 (three bits on the wire).
    pub fn reply(id: u16, sequence: u8, flags: ReplyFlags) -> Result<Self> {
        if flags.state > 7 {
            return Err(Error::Malformed("extended echo reply state above 7"));
        }
        Ok(Header {
            id,
            sequence,
            flags: flags.to_byte(),
        })
    }

    pub fn rest_of_header(self) -> u32 {
        let [id_hi, id_lo] = self.id.to_be_bytes();
        u32::from_be_bytes([id_hi, id_lo, self.sequence, self.flags])
    }

    /// The L bit of a request.
    pub fn local(self) -> bool {
        self.flags & LOCAL != 0
    }
}

/// The flags byte of a reply.
#[derive(Clone, Copy)]
pub(crate) struct ReplyFlags {
    pub state: u8,
    pub active: bool,
    pub ipv4: bool,
    pub ipv6: bool,
}

impl ReplyFlags {
    #[inline]
    pub fn from_byte(flags: u8) -> Self {
        ReplyFlags {
            state: flags >> 5,
            active: flags & ACTIVE != 0,
            ipv4: flags & IPV4 != 0,
            ipv6: flags & IPV6 != 0,
        }
    }

    fn to_byte(self) -> u8 {
        let bit = |on: bool, bit: u8| if on { bit } else { 0 };
        (self.state & 0x7) << 5
            | bit(self.active, ACTIVE)
            | bit(self.ipv4, IPV4)
            | bit(self.ipv6, IPV6)
    }
}

/// A request's body: the extension structure, or `None` when it is empty.
#[inline]
pub(crate) fn parse_request_body(body: &[u8]) -> Result<Option<Extensions<'_>>> {
    if body.is_empty() {
        Ok(None)
    } else {
        Extensions::parse(body).map(Some)
    }
}

/// `extended echo request, id I, seq S[, local][, interface X]`, after the
/// family's prefix.
pub(crate) fn fmt_request(
    f: &mut fmt::Formatter<'_>,
    id: u16,
    sequence: u8,
    local: bool,
    interface: Option<InterfaceId<'_>>,
) -> fmt::Result {
    write!(f, "extended echo request, id {id}, seq {sequence}")?;
    if local {
        f.write_str(", local")?;
    }
    if let Some(interface) = interface {
        f.write_str(", interface ")?;
        fmt_interface_id(f, &interface)?;
    }
    Ok(())
}

#[cfg(feature = "serde")]
pub(crate) use ser::{serialize_reply, serialize_request};

#[cfg(feature = "serde")]
mod ser {
    use serde::ser::SerializeMap;

    use super::{ReplyFlags, state_name};
    use crate::extension::Extensions;

    /// The JSON fields of a request (both families).
    pub(crate) fn serialize_request<M: SerializeMap>(
        map: &mut M,
        id: u16,
        sequence: u8,
        local: bool,
        extensions: Option<&Extensions<'_>>,
    ) -> Result<(), M::Error> {
        map.serialize_entry("id", &id)?;
        map.serialize_entry("sequence", &sequence)?;
        map.serialize_entry("local", &local)?;
        match extensions {
            Some(ext) => map.serialize_entry("extensions", ext),
            None => Ok(()),
        }
    }

    /// The JSON fields of a reply after its code (both families).
    pub(crate) fn serialize_reply<M: SerializeMap>(
        map: &mut M,
        id: u16,
        sequence: u8,
        flags: ReplyFlags,
    ) -> Result<(), M::Error> {
        map.serialize_entry("id", &id)?;
        map.serialize_entry("sequence", &sequence)?;
        map.serialize_entry("state", state_name(flags.state).unwrap_or("unknown"))?;
        map.serialize_entry("active", &flags.active)?;
        map.serialize_entry("ipv4", &flags.ipv4)?;
        map.serialize_entry("ipv6", &flags.ipv6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_through_rest_of_header() {
        let header = Header::from_rest_of_header(0x1234_0501);
        assert_eq!((header.id, header.sequence, header.flags), (0x1234, 5, 1));
        assert!(header.local());
        assert_eq!(header.rest_of_header(), 0x1234_0501);
        assert_eq!(
            Header::request(0x1234, 5, true).rest_of_header(),
            0x1234_0501
        );
        assert!(!Header::request(1, 2, false).local());
    }

    #[test]
    fn reply_flags_round_trip_and_mask_the_state() {
        let flags = ReplyFlags::from_byte(0b0100_0110);
        assert_eq!(flags.state, 2);
        assert!(flags.active && flags.ipv4 && !flags.ipv6);
        assert_eq!(flags.to_byte(), 0b0100_0110);
        let wide = ReplyFlags {
            state: 0x0f,
            active: false,
            ipv4: false,
            ipv6: true,
        };
        assert_eq!(wide.to_byte(), 0b1110_0001);
    }
}

crate::codes::code_enum! {
    /// Extended echo reply codes (RFC 8335 §3), the same on both families.
    pub enum ExtendedEchoCode (
        names: crate::icmpv6::code_name,
        type: crate::icmpv6::msg_type::EXTENDED_ECHO_REPLY
    ) {
        /// 0: no error.
        NoError = 0,
        /// 1: malformed query.
        MalformedQuery = 1,
        /// 2: no such interface.
        NoSuchInterface = 2,
        /// 3: no such table entry.
        NoSuchTableEntry = 3,
        /// 4: multiple interfaces satisfy query.
        MultipleInterfaces = 4,
    }
}

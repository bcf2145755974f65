//! The high-level ICMPv4 [`Repr`]: one variant per message type, parsed
//! zero-copy from a [`Packet`] and emitted with its checksum.

use core::fmt;
use core::net::Ipv4Addr;

use super::names::{
    self, DstUnreachableCode, ExtendedEchoCode, ParamProblemCode, RedirectCode, RouterAdvertCode,
    TimeExceededCode, msg_type as ty,
};
use super::packet::{HEADER_LEN, Packet};
use crate::bytes;
use crate::display::{Spaced, fmt_extensions};
use crate::extended_echo::{self, Header, ReplyFlags};
use crate::extension::{ErrorBody, Extensions, InterfaceId};
use crate::quoted::{Quoted, Transport};
use crate::{Error, Family, Result};

/// Length of a timestamp message (header plus three timestamps).
const TIMESTAMP_LEN: usize = HEADER_LEN + 12;
/// Length of an address mask message.
const ADDRESS_MASK_LEN: usize = HEADER_LEN + 4;

/// An ICMPv4 message.
///
/// Types and codes this crate does not model (and modelled types with a
/// code their RFC does not define, for types whose only code is 0) are
/// kept raw in [`Repr::Unknown`], never rejected. A modelled type whose
/// bytes are too short for its fields is an error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Repr<'a> {
    /// Echo request (type 8).
    EchoRequest {
        /// Identifier.
        id: u16,
        /// Sequence number.
        sequence: u16,
        /// Payload.
        data: &'a [u8],
    },
    /// Echo reply (type 0).
    EchoReply {
        /// Identifier.
        id: u16,
        /// Sequence number.
        sequence: u16,
        /// Payload.
        data: &'a [u8],
    },
    /// Destination unreachable (type 3).
    DstUnreachable {
        /// Code.
        code: DstUnreachableCode,
        /// Next-hop MTU (RFC 1191; meaningful for code 4, else usually 0).
        mtu: u16,
        /// The quoted datagram and RFC 4884 extensions.
        body: ErrorBody<'a>,
    },
    /// Source quench (type 4).
    SourceQuench {
        /// The quoted datagram.
        original: &'a [u8],
    },
    /// Redirect (type 5).
    Redirect {
        /// Code.
        code: RedirectCode,
        /// The gateway to use instead.
        gateway: Ipv4Addr,
        /// The quoted datagram.
        original: &'a [u8],
    },
    /// Router advertisement (type 9, RFC 1256).
    RouterAdvert {
        /// Code (0, or 16: does not route common traffic, RFC 3344).
        code: RouterAdvertCode,
        /// Seconds the addresses are valid.
        lifetime: u16,
        /// The advertised addresses with their preference.
        entries: RouterEntries<'a>,
    },
    /// Router solicitation (type 10, RFC 1256).
    RouterSolicit,
    /// Time exceeded (type 11).
    TimeExceeded {
        /// Code.
        code: TimeExceededCode,
        /// The quoted datagram and RFC 4884 extensions.
        body: ErrorBody<'a>,
    },
    /// Parameter problem (type 12).
    ParamProblem {
        /// Code.
        code: ParamProblemCode,
        /// Offset of the faulty byte in the quoted datagram (code 0).
        pointer: u8,
        /// The quoted datagram and RFC 4884 extensions.
        body: ErrorBody<'a>,
    },
    /// Timestamp request (type 13) or reply (type 14).
    Timestamp {
        /// True for the reply.
        reply: bool,
        /// Identifier.
        id: u16,
        /// Sequence number.
        sequence: u16,
        /// Originate timestamp (ms since midnight UT, or with the high bit
        /// set a non-standard value).
        originate: u32,
        /// Receive timestamp.
        receive: u32,
        /// Transmit timestamp.
        transmit: u32,
    },
    /// Information request (type 15) or reply (type 16).
    Information {
        /// True for the reply.
        reply: bool,
        /// Identifier.
        id: u16,
        /// Sequence number.
        sequence: u16,
    },
    /// Address mask request (type 17) or reply (type 18, RFC 950).
    AddressMask {
        /// True for the reply.
        reply: bool,
        /// Identifier.
        id: u16,
        /// Sequence number.
        sequence: u16,
        /// The subnet mask (0 in requests).
        mask: Ipv4Addr,
    },
    /// Extended echo request (type 42, RFC 8335): "is this interface up?"
    ExtendedEchoRequest {
        /// Identifier.
        id: u16,
        /// Sequence number (8 bits in RFC 8335).
        sequence: u8,
        /// L bit: the interface is on the node that receives the request.
        local: bool,
        /// The extension structure with the interface identification object.
        extensions: Option<Extensions<'a>>,
    },
    /// Extended echo reply (type 43).
    ExtendedEchoReply {
        /// Code.
        code: ExtendedEchoCode,
        /// Identifier.
        id: u16,
        /// Sequence number.
        sequence: u8,
        /// Neighbour state (see [`names::state_name`]).
        state: u8,
        /// A bit: the interface is active.
        active: bool,
        /// 4 bit: IPv4 runs on the interface.
        ipv4: bool,
        /// 6 bit: IPv6 runs on the interface.
        ipv6: bool,
    },
    /// Any other type or code, raw.
    Unknown {
        /// Type.
        msg_type: u8,
        /// Code.
        code: u8,
        /// Bytes 4..8 of the header.
        rest_of_header: u32,
        /// Everything after the header.
        data: &'a [u8],
    },
}

impl<'a> Repr<'a> {
    /// Reads a message. The checksum is not enforced (see
    /// [`Packet::verify_checksum`]); the caller decides what a bad sum
    /// means (a sniffer shows it, a ping drops it).
    #[inline]
    pub fn parse(packet: &Packet<&'a [u8]>) -> Result<Repr<'a>> {
        let buf = packet.as_slice();
        // One bounds check for the whole header; fields come from the array.
        let header: [u8; HEADER_LEN] = bytes::array_at(buf, 0, "ICMPv4 header")?;
        let data = bytes::tail(buf, HEADER_LEN);
        let [t, code, _, _, b4, b5, b6, b7] = header;
        let rest_of_header = u32::from_be_bytes([b4, b5, b6, b7]);
        // Both halves of one u32, so that LLVM can store them as one word:
        // two u16 stores reloaded as one u32 stall store forwarding.
        let id = || (rest_of_header >> 16) as u16;
        let sequence = || rest_of_header as u16;
        let error_body = || ErrorBody::parse(data, b5, Family::V4);
        let repr = match (t, code) {
            (ty::ECHO_REQUEST, 0) => Repr::EchoRequest {
                id: id(),
                sequence: sequence(),
                data,
            },
            (ty::ECHO_REPLY, 0) => Repr::EchoReply {
                id: id(),
                sequence: sequence(),
                data,
            },
            (ty::DST_UNREACHABLE, _) => Repr::DstUnreachable {
                code: code.into(),
                mtu: sequence(),
                body: error_body(),
            },
            (ty::SOURCE_QUENCH, 0) => Repr::SourceQuench { original: data },
            (ty::REDIRECT, _) => Repr::Redirect {
                code: code.into(),
                gateway: Ipv4Addr::from(rest_of_header),
                original: data,
            },
            (ty::ROUTER_ADVERT, _) => parse_router_advert(code, rest_of_header, data)?,
            (ty::ROUTER_SOLICIT, 0) => Repr::RouterSolicit,
            (ty::TIME_EXCEEDED, _) => Repr::TimeExceeded {
                code: code.into(),
                body: error_body(),
            },
            (ty::PARAM_PROBLEM, _) => Repr::ParamProblem {
                code: code.into(),
                pointer: b4,
                body: error_body(),
            },
            (ty::TIMESTAMP | ty::TIMESTAMP_REPLY, 0) => {
                let at = |i: usize| bytes::u32_at(data, i * 4, "ICMPv4 timestamp");
                Repr::Timestamp {
                    reply: t == ty::TIMESTAMP_REPLY,
                    id: id(),
                    sequence: sequence(),
                    originate: at(0)?,
                    receive: at(1)?,
                    transmit: at(2)?,
                }
            }
            (ty::INFO_REQUEST | ty::INFO_REPLY, 0) => Repr::Information {
                reply: t == ty::INFO_REPLY,
                id: id(),
                sequence: sequence(),
            },
            (ty::ADDRESS_MASK_REQUEST | ty::ADDRESS_MASK_REPLY, 0) => Repr::AddressMask {
                reply: t == ty::ADDRESS_MASK_REPLY,
                id: id(),
                sequence: sequence(),
                mask: bytes::ipv4_at(data, 0, "ICMPv4 address mask")?,
            },
            (ty::EXTENDED_ECHO_REQUEST, 0) => {
                let header = Header::from_rest_of_header(rest_of_header);
                Repr::ExtendedEchoRequest {
                    id: header.id,
                    sequence: header.sequence,
                    local: header.local(),
                    extensions: extended_echo::parse_request_body(data)?,
                }
            }
            (ty::EXTENDED_ECHO_REPLY, _) => {
                let header = Header::from_rest_of_header(rest_of_header);
                let flags = ReplyFlags::from_byte(header.flags);
                Repr::ExtendedEchoReply {
                    code: code.into(),
                    id: header.id,
                    sequence: header.sequence,
                    state: flags.state,
                    active: flags.active,
                    ipv4: flags.ipv4,
                    ipv6: flags.ipv6,
                }
            }
            _ => Repr::Unknown {
                msg_type: t,
                code,
                rest_of_header,
                data,
            },
        };
        Ok(repr)
    }

    /// Parses `bytes` as an ICMPv4 message (a shortcut for
    /// `Packet::new_checked` then [`parse`](Self::parse)).
    #[inline]
    pub fn parse_bytes(bytes: &'a [u8]) -> Result<Repr<'a>> {
        Self::parse(&Packet::new_checked(bytes)?)
    }

    /// The type number.
    pub fn msg_type(&self) -> u8 {
        match self {
            Repr::EchoRequest { .. } => ty::ECHO_REQUEST,
            Repr::EchoReply { .. } => ty::ECHO_REPLY,
            Repr::DstUnreachable { .. } => ty::DST_UNREACHABLE,
            Repr::SourceQuench { .. } => ty::SOURCE_QUENCH,
            Repr::Redirect { .. } => ty::REDIRECT,
            Repr::RouterAdvert { .. } => ty::ROUTER_ADVERT,
            Repr::RouterSolicit => ty::ROUTER_SOLICIT,
            Repr::TimeExceeded { .. } => ty::TIME_EXCEEDED,
            Repr::ParamProblem { .. } => ty::PARAM_PROBLEM,
            Repr::Timestamp { reply, .. } => pick(*reply, ty::TIMESTAMP_REPLY, ty::TIMESTAMP),
            Repr::Information { reply, .. } => pick(*reply, ty::INFO_REPLY, ty::INFO_REQUEST),
            Repr::AddressMask { reply, .. } => {
                pick(*reply, ty::ADDRESS_MASK_REPLY, ty::ADDRESS_MASK_REQUEST)
            }
            Repr::ExtendedEchoRequest { .. } => ty::EXTENDED_ECHO_REQUEST,
            Repr::ExtendedEchoReply { .. } => ty::EXTENDED_ECHO_REPLY,
            Repr::Unknown { msg_type, .. } => *msg_type,
        }
    }

    /// The code.
    pub fn code(&self) -> u8 {
        match *self {
            Repr::DstUnreachable { code, .. } => code.into(),
            Repr::Redirect { code, .. } => code.into(),
            Repr::RouterAdvert { code, .. } => code.into(),
            Repr::TimeExceeded { code, .. } => code.into(),
            Repr::ParamProblem { code, .. } => code.into(),
            Repr::ExtendedEchoReply { code, .. } => code.into(),
            Repr::Unknown { code, .. } => code,
            _ => 0,
        }
    }

    /// The kebab-case name of the type, `None` for an unassigned one.
    pub fn type_name(&self) -> Option<&'static str> {
        names::type_name(self.msg_type())
    }

    /// The kebab-case name of the code, `None` when the type has no such
    /// named code.
    pub fn code_name(&self) -> Option<&'static str> {
        names::code_name(self.msg_type(), self.code())
    }

    /// True for error messages (those that quote a datagram).
    pub fn is_error(&self) -> bool {
        self.error_body().is_some()
    }

    /// The body of an error message: quoted datagram and (for destination
    /// unreachable, time exceeded and parameter problem) RFC 4884
    /// extensions.
    pub fn error_body(&self) -> Option<ErrorBody<'a>> {
        match self {
            Repr::DstUnreachable { body, .. }
            | Repr::TimeExceeded { body, .. }
            | Repr::ParamProblem { body, .. } => Some(*body),
            Repr::SourceQuench { original } | Repr::Redirect { original, .. } => {
                Some(ErrorBody::new(original))
            }
            _ => None,
        }
    }

    /// The datagram quoted by an error message, when it parses.
    pub fn quoted(&self) -> Option<Quoted<'a>> {
        self.error_body()?.quoted().ok()
    }

    /// The interface an extended echo request asks about (its first
    /// interface identification object).
    pub fn interface_id(&self) -> Option<InterfaceId<'a>> {
        match self {
            Repr::ExtendedEchoRequest {
                extensions: Some(ext),
                ..
            } => ext.first_interface_id(),
            _ => None,
        }
    }

    /// Bytes after the 8-byte header.
    fn body_len(&self) -> usize {
        match self {
            Repr::EchoRequest { data, .. }
            | Repr::EchoReply { data, .. }
            | Repr::Unknown { data, .. } => data.len(),
            Repr::DstUnreachable { body, .. }
            | Repr::TimeExceeded { body, .. }
            | Repr::ParamProblem { body, .. } => body.buffer_len(Family::V4),
            Repr::SourceQuench { original } | Repr::Redirect { original, .. } => original.len(),
            Repr::RouterAdvert { entries, .. } => entries.buffer_len(),
            Repr::RouterSolicit | Repr::Information { .. } | Repr::ExtendedEchoReply { .. } => 0,
            Repr::Timestamp { .. } => TIMESTAMP_LEN - HEADER_LEN,
            Repr::AddressMask { .. } => ADDRESS_MASK_LEN - HEADER_LEN,
            Repr::ExtendedEchoRequest { extensions, .. } => {
                extensions.map_or(0, |e| e.buffer_len())
            }
        }
    }

    /// Bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.body_len()
    }

    /// Writes the message with its checksum into the start of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        let mut packet = Packet::new_unchecked(bytes::head_mut(buf, len)?);
        packet.set_msg_type(self.msg_type());
        packet.set_msg_code(self.code());
        packet.set_rest_of_header(self.rest_of_header()?);
        let body = packet.data_mut();
        match self {
            Repr::EchoRequest { data, .. }
            | Repr::EchoReply { data, .. }
            | Repr::Unknown { data, .. } => bytes::put_bytes(body, 0, data),
            Repr::DstUnreachable { body: b, .. }
            | Repr::TimeExceeded { body: b, .. }
            | Repr::ParamProblem { body: b, .. } => {
                b.emit(Family::V4, body)?;
            }
            Repr::SourceQuench { original } | Repr::Redirect { original, .. } => {
                bytes::put_bytes(body, 0, original)
            }
            Repr::RouterAdvert { entries, .. } => entries.emit(body),
            Repr::Timestamp {
                originate,
                receive,
                transmit,
                ..
            } => {
                bytes::put_u32(body, 0, *originate);
                bytes::put_u32(body, 4, *receive);
                bytes::put_u32(body, 8, *transmit);
            }
            Repr::AddressMask { mask, .. } => bytes::put_u32(body, 0, (*mask).into()),
            Repr::ExtendedEchoRequest {
                extensions: Some(ext),
                ..
            } => {
                ext.emit(body)?;
            }
            Repr::RouterSolicit
            | Repr::Information { .. }
            | Repr::ExtendedEchoReply { .. }
            | Repr::ExtendedEchoRequest {
                extensions: None, ..
            } => {}
        }
        packet.fill_checksum();
        Ok(len)
    }

    /// Bytes 4..8 of the header.
    fn rest_of_header(&self) -> Result<u32> {
        let id_seq = |id: u16, seq: u16| (u32::from(id) << 16) | u32::from(seq);
        Ok(match self {
            Repr::EchoRequest { id, sequence, .. }
            | Repr::EchoReply { id, sequence, .. }
            | Repr::Timestamp { id, sequence, .. }
            | Repr::Information { id, sequence, .. }
            | Repr::AddressMask { id, sequence, .. } => id_seq(*id, *sequence),
            Repr::DstUnreachable { mtu, body, .. } => {
                (u32::from(body.length_field(Family::V4)) << 16) | u32::from(*mtu)
            }
            Repr::TimeExceeded { body, .. } => u32::from(body.length_field(Family::V4)) << 16,
            Repr::ParamProblem { pointer, body, .. } => {
                (u32::from(*pointer) << 24) | (u32::from(body.length_field(Family::V4)) << 16)
            }
            Repr::SourceQuench { .. } | Repr::RouterSolicit => 0,
            Repr::Redirect { gateway, .. } => u32::from(*gateway),
            Repr::RouterAdvert {
                lifetime, entries, ..
            } => {
                let count = u8::try_from(entries.len()).map_err(|_| {
                    Error::Malformed("router advertisement with over 255 addresses")
                })?;
                (u32::from(count) << 24)
                    | (u32::from(entries.entry_size()) << 16)
                    | u32::from(*lifetime)
            }
            Repr::ExtendedEchoRequest {
                id,
                sequence,
                local,
                ..
            } => Header::request(*id, *sequence, *local).rest_of_header(),
            Repr::ExtendedEchoReply {
                id,
                sequence,
                state,
                active,
                ipv4,
                ipv6,
                ..
            } => {
                let flags = ReplyFlags {
                    state: *state,
                    active: *active,
                    ipv4: *ipv4,
                    ipv6: *ipv6,
                };
                Header::reply(*id, *sequence, flags)?.rest_of_header()
            }
            Repr::Unknown { rest_of_header, .. } => *rest_of_header,
        })
    }
}

fn pick(cond: bool, yes: u8, no: u8) -> u8 {
    if cond { yes } else { no }
}

fn parse_router_advert(code: u8, rest_of_header: u32, data: &[u8]) -> Result<Repr<'_>> {
    let [count, entry_size, ..] = rest_of_header.to_be_bytes();
    if entry_size < 2 {
        return Err(Error::Malformed(
            "router advertisement entry size below 2 words",
        ));
    }
    let len = usize::from(count) * usize::from(entry_size) * 4;
    let raw = bytes::slice(data, 0, len, "router advertisement addresses")?;
    Ok(Repr::RouterAdvert {
        code: code.into(),
        lifetime: rest_of_header as u16,
        entries: RouterEntries {
            source: EntrySource::Wire {
                bytes: raw,
                entry_size,
            },
        },
    })
}

// ---------------------------------------------------------------------------
// Router advertisement entries
// ---------------------------------------------------------------------------

/// One router address of a router advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RouterEntry {
    /// The router's address.
    pub address: Ipv4Addr,
    /// Its preference (signed; higher is better; 0x80000000 means never
    /// use as default).
    pub preference: i32,
}

#[derive(Clone, Copy)]
enum EntrySource<'a> {
    Wire { bytes: &'a [u8], entry_size: u8 },
    Items(&'a [RouterEntry]),
}

/// The address entries of a router advertisement, as received or to
/// build.
#[derive(Clone, Copy)]
pub struct RouterEntries<'a> {
    source: EntrySource<'a>,
}

impl<'a> RouterEntries<'a> {
    /// Entries to build (entry size 2 words).
    pub const fn from_entries(entries: &'a [RouterEntry]) -> Self {
        RouterEntries {
            source: EntrySource::Items(entries),
        }
    }

    /// The address entry size in 32-bit words (2 per RFC 1256; larger
    /// sizes are read and their extra words ignored).
    pub fn entry_size(&self) -> u8 {
        match self.source {
            EntrySource::Wire { entry_size, .. } => entry_size,
            EntrySource::Items(_) => 2,
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        match self.source {
            EntrySource::Wire { bytes, entry_size } => bytes.len() / (usize::from(entry_size) * 4),
            EntrySource::Items(items) => items.len(),
        }
    }

    /// True when there is no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries.
    pub fn iter(&self) -> impl Iterator<Item = RouterEntry> + Clone + 'a {
        let source = self.source;
        (0..self.len()).filter_map(move |i| match source {
            EntrySource::Wire { bytes, entry_size } => {
                let at = i * usize::from(entry_size) * 4;
                Some(RouterEntry {
                    address: bytes::ipv4_at(bytes, at, "").ok()?,
                    preference: bytes::u32_at(bytes, at + 4, "").ok()? as i32,
                })
            }
            EntrySource::Items(items) => items.get(i).copied(),
        })
    }

    fn buffer_len(&self) -> usize {
        self.len() * usize::from(self.entry_size()) * 4
    }

    fn emit(&self, buf: &mut [u8]) {
        match self.source {
            EntrySource::Wire { bytes: raw, .. } => bytes::put_bytes(buf, 0, raw),
            EntrySource::Items(items) => {
                for (i, e) in items.iter().enumerate() {
                    bytes::put_u32(buf, i * 8, e.address.into());
                    bytes::put_u32(buf, i * 8 + 4, e.preference as u32);
                }
            }
        }
    }
}

impl PartialEq for RouterEntries<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.entry_size() == other.entry_size() && self.iter().eq(other.iter())
    }
}

impl fmt::Debug for RouterEntries<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

// ---------------------------------------------------------------------------
// Display, tcpdump style
// ---------------------------------------------------------------------------

impl fmt::Display for Repr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = self.buffer_len();
        match self {
            Repr::EchoRequest { id, sequence, .. } => {
                write!(
                    f,
                    "ICMP echo request, id {id}, seq {sequence}, length {len}"
                )
            }
            Repr::EchoReply { id, sequence, .. } => {
                write!(f, "ICMP echo reply, id {id}, seq {sequence}, length {len}")
            }
            Repr::DstUnreachable { code, mtu, body } => fmt_unreachable(f, *code, *mtu, body),
            Repr::SourceQuench { .. } => write!(f, "ICMP source quench"),
            Repr::Redirect { code, gateway, .. } => {
                let to = match *code {
                    RedirectCode::Net => "net",
                    RedirectCode::Host => "host",
                    RedirectCode::TosNet => "tos and net",
                    RedirectCode::TosHost => "tos and host",
                    RedirectCode::Unknown(_) => "code",
                };
                match self.quoted() {
                    Some(q) => write!(f, "ICMP redirect {} to {to} {gateway}", q.dst),
                    None => write!(f, "ICMP redirect to {to} {gateway}"),
                }
            }
            Repr::RouterAdvert {
                lifetime, entries, ..
            } => {
                write!(
                    f,
                    "ICMP router advertisement, lifetime {lifetime}, {} address(es)",
                    entries.len()
                )
            }
            Repr::RouterSolicit => write!(f, "ICMP router solicitation"),
            Repr::TimeExceeded { code, body } => {
                match *code {
                    TimeExceededCode::TtlExceeded => write!(f, "ICMP time exceeded in-transit")?,
                    TimeExceededCode::FragReassemblyExceeded => {
                        write!(f, "ICMP ip reassembly time exceeded")?
                    }
                    TimeExceededCode::Unknown(c) => write!(f, "ICMP time exceeded, code {c}")?,
                }
                fmt_extensions(f, body)
            }
            Repr::ParamProblem {
                code,
                pointer,
                body,
            } => {
                match *code {
                    ParamProblemCode::Pointer => {
                        write!(f, "ICMP parameter problem - octet {pointer}")?
                    }
                    named => write!(
                        f,
                        "ICMP parameter problem - {}",
                        Spaced(named.name().unwrap_or("unknown code"))
                    )?,
                }
                fmt_extensions(f, body)
            }
            Repr::Timestamp {
                reply: false,
                id,
                sequence,
                ..
            } => write!(f, "ICMP time stamp query id {id} seq {sequence}"),
            Repr::Timestamp {
                reply: true,
                id,
                sequence,
                originate,
                receive,
                transmit,
            } => write!(
                f,
                "ICMP time stamp reply id {id} seq {sequence}: org {originate}, recv {receive}, xmit {transmit}"
            ),
            Repr::Information {
                reply,
                id,
                sequence,
            } => {
                let what = if *reply { "reply" } else { "request" };
                write!(f, "ICMP information {what}, id {id}, seq {sequence}")
            }
            Repr::AddressMask {
                reply: false,
                id,
                sequence,
                ..
            } => {
                write!(f, "ICMP address mask request, id {id}, seq {sequence}")
            }
            Repr::AddressMask {
                reply: true, mask, ..
            } => write!(f, "ICMP address mask is {mask}"),
            Repr::ExtendedEchoRequest {
                id,
                sequence,
                local,
                ..
            } => {
                f.write_str("ICMP ")?;
                extended_echo::fmt_request(f, *id, *sequence, *local, self.interface_id())
            }
            Repr::ExtendedEchoReply {
                code,
                id,
                sequence,
                state,
                active,
                ipv4,
                ipv6,
            } => {
                write!(f, "ICMP extended echo reply, id {id}, seq {sequence}")?;
                match *code {
                    ExtendedEchoCode::NoError => {
                        write!(
                            f,
                            ", state {}",
                            extended_echo::state_name(*state).unwrap_or("unknown")
                        )?;
                        let flag = |b: bool, s| if b { s } else { "" };
                        write!(
                            f,
                            "{}{}{}",
                            flag(*active, ", active"),
                            flag(*ipv4, ", ipv4"),
                            flag(*ipv6, ", ipv6")
                        )
                    }
                    named => write!(f, ", {}", Spaced(named.name().unwrap_or("unknown code"))),
                }
            }
            Repr::Unknown { msg_type, code, .. } => {
                write!(f, "ICMP type-#{msg_type}, code {code}, length {len}")
            }
        }
    }
}

fn fmt_unreachable(
    f: &mut fmt::Formatter<'_>,
    code: DstUnreachableCode,
    mtu: u16,
    body: &ErrorBody<'_>,
) -> fmt::Result {
    use DstUnreachableCode as u;
    let Ok(q) = body.quoted() else {
        let name = Spaced(code.name().unwrap_or("unknown code"));
        write!(f, "ICMP destination unreachable ({name})")?;
        return fmt_extensions(f, body);
    };
    let dst = q.dst;
    match code {
        u::NetUnreachable => write!(f, "ICMP net {dst} unreachable"),
        u::HostUnreachable => write!(f, "ICMP host {dst} unreachable"),
        u::ProtocolUnreachable => write!(f, "ICMP {dst} protocol {} unreachable", q.protocol),
        u::PortUnreachable => match q.transport {
            Transport::Udp { dst_port, .. } => {
                write!(f, "ICMP {dst} udp port {dst_port} unreachable")
            }
            Transport::Tcp { dst_port, .. } => {
                write!(f, "ICMP {dst} tcp port {dst_port} unreachable")
            }
            _ => write!(f, "ICMP {dst} port unreachable"),
        },
        u::FragmentationNeeded => write!(f, "ICMP {dst} unreachable - need to frag (mtu {mtu})"),
        u::SourceRouteFailed => write!(f, "ICMP {dst} unreachable - source route failed"),
        u::NetUnknown => write!(f, "ICMP net {dst} unreachable - unknown"),
        u::HostUnknown => write!(f, "ICMP host {dst} unreachable - unknown"),
        u::SourceHostIsolated => write!(f, "ICMP {dst} unreachable - source host isolated"),
        u::NetProhibited => write!(f, "ICMP net {dst} unreachable - admin prohibited"),
        u::HostProhibited => write!(f, "ICMP host {dst} unreachable - admin prohibited"),
        u::NetUnreachableForTos => write!(f, "ICMP net {dst} unreachable - tos prohibited"),
        u::HostUnreachableForTos => write!(f, "ICMP host {dst} unreachable - tos prohibited"),
        u::AdminProhibited => write!(f, "ICMP host {dst} unreachable - admin prohibited filter"),
        u::PrecedenceViolation => {
            write!(f, "ICMP host {dst} unreachable - host precedence violation")
        }
        u::PrecedenceCutoff => write!(f, "ICMP host {dst} unreachable - precedence cutoff"),
        u::Unknown(c) => write!(f, "ICMP {dst} unreachable - code {c}"),
    }?;
    fmt_extensions(f, body)
}

// ---------------------------------------------------------------------------
// serde: a flat map of the message's own fields
// ---------------------------------------------------------------------------

#[cfg(feature = "serde")]
mod ser {
    use serde::ser::{Serialize, SerializeMap, Serializer};

    use super::{Repr, RouterEntries};
    use crate::extended_echo::{self, ReplyFlags};
    use crate::serde_util::{Display, Hex};

    impl Serialize for RouterEntries<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(self.iter())
        }
    }

    impl Serialize for Repr<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(None)?;
            match self {
                Repr::EchoRequest { id, sequence, data }
                | Repr::EchoReply { id, sequence, data } => {
                    map.serialize_entry("id", id)?;
                    map.serialize_entry("sequence", sequence)?;
                    map.serialize_entry("data", &Display(&Hex(data)))?;
                }
                Repr::DstUnreachable { mtu, body, code } => {
                    if *code == super::DstUnreachableCode::FragmentationNeeded {
                        map.serialize_entry("mtu", mtu)?;
                    }
                    body.serialize_entries(&mut map)?;
                }
                Repr::SourceQuench { original } => {
                    super::ErrorBody::new(original).serialize_entries(&mut map)?
                }
                Repr::Redirect {
                    gateway, original, ..
                } => {
                    map.serialize_entry("gateway", gateway)?;
                    super::ErrorBody::new(original).serialize_entries(&mut map)?;
                }
                Repr::RouterAdvert {
                    lifetime, entries, ..
                } => {
                    map.serialize_entry("lifetime", lifetime)?;
                    map.serialize_entry("address_entry_size", &entries.entry_size())?;
                    map.serialize_entry("addresses", entries)?;
                }
                Repr::RouterSolicit => {}
                Repr::TimeExceeded { body, .. } => body.serialize_entries(&mut map)?,
                Repr::ParamProblem { pointer, body, .. } => {
                    map.serialize_entry("pointer", pointer)?;
                    body.serialize_entries(&mut map)?;
                }
                Repr::Timestamp {
                    id,
                    sequence,
                    originate,
                    receive,
                    transmit,
                    ..
                } => {
                    map.serialize_entry("id", id)?;
                    map.serialize_entry("sequence", sequence)?;
                    map.serialize_entry("originate", originate)?;
                    map.serialize_entry("receive", receive)?;
                    map.serialize_entry("transmit", transmit)?;
                }
                Repr::Information { id, sequence, .. } => {
                    map.serialize_entry("id", id)?;
                    map.serialize_entry("sequence", sequence)?;
                }
                Repr::AddressMask {
                    id, sequence, mask, ..
                } => {
                    map.serialize_entry("id", id)?;
                    map.serialize_entry("sequence", sequence)?;
                    map.serialize_entry("address_mask", mask)?;
                }
                Repr::ExtendedEchoRequest {
                    id,
                    sequence,
                    local,
                    extensions,
                } => {
                    extended_echo::serialize_request(
                        &mut map,
                        *id,
                        *sequence,
                        *local,
                        extensions.as_ref(),
                    )?;
                }
                Repr::ExtendedEchoReply {
                    id,
                    sequence,
                    state,
                    active,
                    ipv4,
                    ipv6,
                    ..
                } => {
                    let flags = ReplyFlags {
                        state: *state,
                        active: *active,
                        ipv4: *ipv4,
                        ipv6: *ipv6,
                    };
                    extended_echo::serialize_reply(&mut map, *id, *sequence, flags)?;
                }
                Repr::Unknown {
                    rest_of_header,
                    data,
                    ..
                } => {
                    map.serialize_entry("rest_of_header", rest_of_header)?;
                    map.serialize_entry("data", &Display(&Hex(data)))?;
                }
            }
            map.end()
        }
    }
}

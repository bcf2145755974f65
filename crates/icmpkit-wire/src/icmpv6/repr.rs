//! [`Repr`]: every ICMPv6 message, parsed without copying and emitted with
//! lengths and checksum filled in.

use core::net::Ipv6Addr;

use super::addrs::Ipv6Addrs;
use super::mld::MldRecords;
use super::names::{
    DstUnreachableCode, ExtendedEchoCode, ParamProblemCode, TimeExceededCode, msg_type,
};
use super::ndp::{NdpOptions, NeighborFlags, RouterFlags};
use super::packet::{HEADER_LEN, Packet, header_len, is_decoded};
use crate::extended_echo::{self, Header, ReplyFlags};
use crate::extension::{ErrorBody, Extensions, InterfaceId};
use crate::quoted::Quoted;
use crate::{Error, Family, Result, bytes};

/// The fixed part of an MLDv2 query (RFC 3810 §5.1): the MLDv1 message plus
/// flags, QQIC and the number of sources.
const MLDV2_QUERY_LEN: usize = 28;
/// An MLDv1 message (RFC 2710 §3).
const MLDV1_LEN: usize = 24;
/// The longest fixed part of any message: a redirect's two addresses.
const LONGEST_FIXED_PART: usize = 40;

/// The S flag of an MLDv2 query: routers suppress their timer updates.
const MLDV2_S_FLAG: u8 = 0x08;

/// The state field of an extended echo reply (RFC 8335 §3: the neighbor
/// cache state of the probed interface, when it is a neighbor).
pub type ExtendedEchoState = u8;

/// The kebab-case name of an extended echo reply state.
pub fn extended_echo_state_name(state: ExtendedEchoState) -> Option<&'static str> {
    crate::extended_echo::state_name(state)
}

/// A high-level ICMPv6 message.
///
/// Payloads borrow from the parsed buffer; lists (NDP options, MLD
/// sources and records) are zero-copy views that also accept a caller's
/// slice for emitting. Parsing a message whose code is not the one its
/// type defines (e.g. an echo request with code 1) gives [`Repr::Unknown`],
/// so nothing is lost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Repr<'a> {
    /// Destination unreachable (type 1).
    DstUnreachable {
        /// Why.
        code: DstUnreachableCode,
        /// The start of the packet that could not be delivered and any RFC
        /// 4884 extensions (length field at byte 4, in 64-bit words).
        body: ErrorBody<'a>,
    },
    /// Packet too big (type 2): what path MTU discovery listens for.
    PacketTooBig {
        /// The MTU of the next-hop link.
        mtu: u32,
        /// The start of the packet that was too big (no RFC 4884
        /// extensions: the MTU takes the length field's place).
        original: &'a [u8],
    },
    /// Time exceeded (type 3): what traceroute listens for.
    TimeExceeded {
        /// Hop limit or reassembly.
        code: TimeExceededCode,
        /// The start of the expired packet and any RFC 4884 extensions.
        body: ErrorBody<'a>,
    },
    /// Parameter problem (type 4).
    ParamProblem {
        /// What kind of problem.
        code: ParamProblemCode,
        /// Offset of the offending byte within the quoted packet.
        pointer: u32,
        /// The start of the offending packet (no RFC 4884 extensions: the
        /// pointer takes the length field's place).
        original: &'a [u8],
    },
    /// Echo request (type 128).
    EchoRequest {
        /// Identifier.
        id: u16,
        /// Sequence number.
        sequence: u16,
        /// Data echoed back.
        data: &'a [u8],
    },
    /// Echo reply (type 129).
    EchoReply {
        /// Identifier of the request.
        id: u16,
        /// Sequence number of the request.
        sequence: u16,
        /// The request's data.
        data: &'a [u8],
    },
    /// Router solicitation (type 133).
    RouterSolicit {
        /// Options (source link-layer address).
        options: NdpOptions<'a>,
    },
    /// Router advertisement (type 134).
    RouterAdvert {
        /// Hop limit hosts should use (0 = unspecified).
        hop_limit: u8,
        /// M, O, H, preference and P flags.
        flags: RouterFlags,
        /// Seconds the router is a default router (0 = not one).
        router_lifetime: u16,
        /// Milliseconds a neighbor is reachable after confirmation (0 =
        /// unspecified).
        reachable_time: u32,
        /// Milliseconds between retransmitted solicitations (0 =
        /// unspecified).
        retrans_time: u32,
        /// Options (prefixes, MTU, RDNSS, source link-layer address...).
        options: NdpOptions<'a>,
    },
    /// Neighbor solicitation (type 135).
    NeighborSolicit {
        /// The address being resolved or checked.
        target: Ipv6Addr,
        /// Options (source link-layer address).
        options: NdpOptions<'a>,
    },
    /// Neighbor advertisement (type 136).
    NeighborAdvert {
        /// R, S and O flags.
        flags: NeighborFlags,
        /// The address advertised.
        target: Ipv6Addr,
        /// Options (target link-layer address).
        options: NdpOptions<'a>,
    },
    /// Redirect (type 137).
    Redirect {
        /// The better first hop.
        target: Ipv6Addr,
        /// The destination being redirected.
        destination: Ipv6Addr,
        /// Options (target link-layer address, redirected header).
        options: NdpOptions<'a>,
    },
    /// MLDv1 multicast listener query (type 130, 24 bytes).
    MldQuery {
        /// Milliseconds within which listeners must report.
        max_response_delay: u16,
        /// The queried group (unspecified for a general query).
        multicast_address: Ipv6Addr,
    },
    /// MLDv1 multicast listener report (type 131).
    MldReport {
        /// The group listened to.
        multicast_address: Ipv6Addr,
    },
    /// MLDv1 multicast listener done (type 132).
    MldDone {
        /// The group left.
        multicast_address: Ipv6Addr,
    },
    /// MLDv2 multicast listener query (type 130, 28 bytes or more).
    Mldv2Query {
        /// Maximum response code; see [`super::mld::max_response_delay_ms`].
        max_response_code: u16,
        /// The queried group (unspecified for a general query).
        multicast_address: Ipv6Addr,
        /// S flag: suppress router-side processing.
        suppress_router_processing: bool,
        /// Querier's robustness variable (3 bits).
        qrv: u8,
        /// Querier's query interval code; see [`super::mld::query_interval_s`].
        qqic: u8,
        /// Sources for a group-and-source-specific query.
        sources: Ipv6Addrs<'a>,
    },
    /// MLDv2 multicast listener report (type 143).
    Mldv2Report {
        /// The multicast address records.
        records: MldRecords<'a>,
    },
    /// Extended echo request (type 160, RFC 8335).
    ExtendedEchoRequest {
        /// Identifier.
        id: u16,
        /// Sequence number (8 bits).
        sequence: u8,
        /// L bit: the probed interface is on the proxy node itself.
        local: bool,
        /// The extension structure with the interface identification
        /// object (`None` when the request has no body).
        extensions: Option<Extensions<'a>>,
    },
    /// Extended echo reply (type 161, RFC 8335).
    ExtendedEchoReply {
        /// Outcome of the query.
        code: ExtendedEchoCode,
        /// Identifier of the request.
        id: u16,
        /// Sequence number of the request.
        sequence: u8,
        /// Neighbor state (3 bits); see [`extended_echo_state_name`].
        state: ExtendedEchoState,
        /// A bit: the probed interface is active.
        active: bool,
        /// 4 bit: it runs IPv4.
        ipv4: bool,
        /// 6 bit: it runs IPv6.
        ipv6: bool,
    },
    /// A message of a type (or with a code) this crate does not decode,
    /// kept raw.
    Unknown {
        /// The type.
        msg_type: u8,
        /// The code.
        code: u8,
        /// The 4 bytes after the checksum.
        rest_of_header: u32,
        /// Everything after the first 8 bytes.
        data: &'a [u8],
    },
}

impl<'a> Repr<'a> {
    /// Reads the message in `packet` (whose checksum is not checked here:
    /// see [`Packet::verify_checksum`]).
    pub fn parse(packet: &Packet<&'a [u8]>) -> Result<Repr<'a>> {
        let buf: &'a [u8] = packet.into_inner();
        bytes::slice(buf, 0, HEADER_LEN, "ICMPv6 header")?;
        let (kind, code) = (packet.msg_type(), packet.msg_code());
        if !is_decoded(kind, code) {
            return Ok(Repr::Unknown {
                msg_type: kind,
                code,
                rest_of_header: packet.rest_of_header(),
                data: bytes::tail(buf, HEADER_LEN),
            });
        }
        packet.check_len()?;
        let payload = bytes::tail(buf, header_len(kind));
        let error_body = || ErrorBody::parse(payload, packet.rfc4884_length(), Family::V6);
        Ok(match kind {
            msg_type::DST_UNREACHABLE => Repr::DstUnreachable {
                code: code.into(),
                body: error_body(),
            },
            msg_type::PACKET_TOO_BIG => Repr::PacketTooBig {
                mtu: packet.mtu(),
                original: payload,
            },
            msg_type::TIME_EXCEEDED => Repr::TimeExceeded {
                code: code.into(),
                body: error_body(),
            },
            msg_type::PARAM_PROBLEM => Repr::ParamProblem {
                code: code.into(),
                pointer: packet.pointer(),
                original: payload,
            },
            msg_type::ECHO_REQUEST => Repr::EchoRequest {
                id: packet.echo_ident(),
                sequence: packet.echo_seq_no(),
                data: payload,
            },
            msg_type::ECHO_REPLY => Repr::EchoReply {
                id: packet.echo_ident(),
                sequence: packet.echo_seq_no(),
                data: payload,
            },
            msg_type::ROUTER_SOLICIT => Repr::RouterSolicit {
                options: NdpOptions::parse(payload)?,
            },
            msg_type::ROUTER_ADVERT => Repr::RouterAdvert {
                hop_limit: bytes::u8_at(buf, 4, "RA hop limit")?,
                flags: RouterFlags(bytes::u8_at(buf, 5, "RA flags")?),
                router_lifetime: bytes::u16_at(buf, 6, "RA router lifetime")?,
                reachable_time: bytes::u32_at(buf, 8, "RA reachable time")?,
                retrans_time: bytes::u32_at(buf, 12, "RA retrans timer")?,
                options: NdpOptions::parse(payload)?,
            },
            msg_type::NEIGHBOR_SOLICIT => Repr::NeighborSolicit {
                target: packet.target_addr(),
                options: NdpOptions::parse(payload)?,
            },
            msg_type::NEIGHBOR_ADVERT => Repr::NeighborAdvert {
                flags: NeighborFlags(bytes::u8_at(buf, 4, "NA flags")?),
                target: packet.target_addr(),
                options: NdpOptions::parse(payload)?,
            },
            msg_type::REDIRECT => Repr::Redirect {
                target: packet.target_addr(),
                destination: packet.destination_addr(),
                options: NdpOptions::parse(payload)?,
            },
            msg_type::MLD_QUERY => parse_mld_query(packet, buf)?,
            msg_type::MLD_REPORT => Repr::MldReport {
                multicast_address: packet.target_addr(),
            },
            msg_type::MLD_DONE => Repr::MldDone {
                multicast_address: packet.target_addr(),
            },
            msg_type::MLDV2_REPORT => {
                let count = usize::from(bytes::u16_at(buf, 6, "MLDv2 number of records")?);
                Repr::Mldv2Report {
                    records: MldRecords::parse(payload, count)?,
                }
            }
            msg_type::EXTENDED_ECHO_REQUEST => {
                let header = Header::from_rest_of_header(packet.rest_of_header());
                Repr::ExtendedEchoRequest {
                    id: header.id,
                    sequence: header.sequence,
                    local: header.local(),
                    extensions: extended_echo::parse_request_body(payload)?,
                }
            }
            msg_type::EXTENDED_ECHO_REPLY => {
                let header = Header::from_rest_of_header(packet.rest_of_header());
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
            // is_decoded() admitted only the types above.
            _ => return Err(Error::Malformed("ICMPv6 type not decoded")),
        })
    }

    /// The message type.
    pub fn msg_type(&self) -> u8 {
        match self {
            Repr::DstUnreachable { .. } => msg_type::DST_UNREACHABLE,
            Repr::PacketTooBig { .. } => msg_type::PACKET_TOO_BIG,
            Repr::TimeExceeded { .. } => msg_type::TIME_EXCEEDED,
            Repr::ParamProblem { .. } => msg_type::PARAM_PROBLEM,
            Repr::EchoRequest { .. } => msg_type::ECHO_REQUEST,
            Repr::EchoReply { .. } => msg_type::ECHO_REPLY,
            Repr::RouterSolicit { .. } => msg_type::ROUTER_SOLICIT,
            Repr::RouterAdvert { .. } => msg_type::ROUTER_ADVERT,
            Repr::NeighborSolicit { .. } => msg_type::NEIGHBOR_SOLICIT,
            Repr::NeighborAdvert { .. } => msg_type::NEIGHBOR_ADVERT,
            Repr::Redirect { .. } => msg_type::REDIRECT,
            Repr::MldQuery { .. } | Repr::Mldv2Query { .. } => msg_type::MLD_QUERY,
            Repr::MldReport { .. } => msg_type::MLD_REPORT,
            Repr::MldDone { .. } => msg_type::MLD_DONE,
            Repr::Mldv2Report { .. } => msg_type::MLDV2_REPORT,
            Repr::ExtendedEchoRequest { .. } => msg_type::EXTENDED_ECHO_REQUEST,
            Repr::ExtendedEchoReply { .. } => msg_type::EXTENDED_ECHO_REPLY,
            Repr::Unknown { msg_type, .. } => *msg_type,
        }
    }

    /// The message code.
    pub fn code(&self) -> u8 {
        match self {
            Repr::DstUnreachable { code, .. } => (*code).into(),
            Repr::TimeExceeded { code, .. } => (*code).into(),
            Repr::ParamProblem { code, .. } => (*code).into(),
            Repr::ExtendedEchoReply { code, .. } => (*code).into(),
            Repr::Unknown { code, .. } => *code,
            _ => 0,
        }
    }

    /// The kebab-case name of the type, `None` for an unassigned one.
    pub fn type_name(&self) -> Option<&'static str> {
        super::names::type_name(self.msg_type())
    }

    /// The kebab-case name of the code, `None` when the type has no such
    /// named code.
    pub fn code_name(&self) -> Option<&'static str> {
        super::names::code_name(self.msg_type(), self.code())
    }

    /// True for error messages (types below 128, RFC 4443 §2.1), which
    /// quote the packet that caused them.
    pub fn is_error(&self) -> bool {
        self.msg_type() < 128
    }

    /// The body of an error message: the quoted packet and (for
    /// destination unreachable and time exceeded) RFC 4884 extensions.
    pub fn error_body(&self) -> Option<ErrorBody<'a>> {
        match self {
            Repr::DstUnreachable { body, .. } | Repr::TimeExceeded { body, .. } => Some(*body),
            Repr::PacketTooBig { original, .. } | Repr::ParamProblem { original, .. } => {
                Some(ErrorBody::new(original))
            }
            _ => None,
        }
    }

    /// The packet quoted by an error message, when it parses.
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

    /// Parses `bytes` as an ICMPv6 message (a shortcut for
    /// `Packet::new_checked` then [`parse`](Self::parse)).
    pub fn parse_bytes(bytes: &'a [u8]) -> Result<Repr<'a>> {
        Self::parse(&Packet::new_checked(bytes)?)
    }

    /// Bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        let variable = match self {
            Repr::DstUnreachable { body, .. } | Repr::TimeExceeded { body, .. } => {
                body.buffer_len(Family::V6)
            }
            Repr::PacketTooBig { original, .. } | Repr::ParamProblem { original, .. } => {
                original.len()
            }
            Repr::EchoRequest { data, .. }
            | Repr::EchoReply { data, .. }
            | Repr::Unknown { data, .. } => data.len(),
            Repr::ExtendedEchoRequest { extensions, .. } => {
                extensions.map_or(0, |e| e.buffer_len())
            }
            Repr::RouterSolicit { options }
            | Repr::RouterAdvert { options, .. }
            | Repr::NeighborSolicit { options, .. }
            | Repr::NeighborAdvert { options, .. }
            | Repr::Redirect { options, .. } => options.buffer_len(),
            Repr::Mldv2Query { sources, .. } => MLDV2_QUERY_LEN - MLDV1_LEN + sources.buffer_len(),
            Repr::Mldv2Report { records } => records.buffer_len(),
            Repr::MldQuery { .. }
            | Repr::MldReport { .. }
            | Repr::MldDone { .. }
            | Repr::ExtendedEchoReply { .. } => 0,
        };
        let fixed = match self {
            Repr::Unknown { .. } => HEADER_LEN,
            _ => header_len(self.msg_type()),
        };
        fixed + variable
    }

    /// Writes the message into `buf` with its checksum for `src` → `dst`;
    /// returns the bytes written ([`buffer_len`](Self::buffer_len)).
    ///
    /// On Linux, ICMPv6 raw and datagram sockets recompute the checksum
    /// themselves (RFC 3542 §3.1), so a sender that does not know its
    /// source address yet may pass any `src`.
    ///
    /// `BufferTooSmall` when `buf` is shorter; `Malformed` when a list does
    /// not fit its count or length field (more than 65535 sources or
    /// records, an NDP option over 2040 bytes).
    pub fn emit(&self, src: &Ipv6Addr, dst: &Ipv6Addr, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        let out = bytes::head_mut(buf, len)?;
        // Reserved bytes of the fixed part must be zero; every variable part
        // (data, options with their padding, records, error bodies) writes
        // all of its bytes itself, so zeroing stops at the longest fixed part.
        bytes::zero(out, 0, len.min(LONGEST_FIXED_PART));
        let mut packet = Packet::new_unchecked(&mut *out);
        packet.set_msg_type(self.msg_type());
        packet.set_msg_code(self.code());
        self.emit_fields(&mut packet)?;
        packet.fill_checksum(src, dst);
        Ok(len)
    }

    /// Writes everything after type and code into a zeroed packet of
    /// [`buffer_len`](Self::buffer_len) bytes.
    fn emit_fields(&self, packet: &mut Packet<&mut [u8]>) -> Result<()> {
        match *self {
            Repr::DstUnreachable { body, .. } | Repr::TimeExceeded { body, .. } => {
                packet.set_rfc4884_length(body.length_field(Family::V6));
                body.emit(Family::V6, packet.payload_mut())?;
            }
            Repr::PacketTooBig { mtu, original } => {
                packet.set_mtu(mtu);
                bytes::put_bytes(packet.payload_mut(), 0, original);
            }
            Repr::ParamProblem {
                pointer, original, ..
            } => {
                packet.set_pointer(pointer);
                bytes::put_bytes(packet.payload_mut(), 0, original);
            }
            Repr::EchoRequest { id, sequence, data } | Repr::EchoReply { id, sequence, data } => {
                packet.set_echo_ident(id);
                packet.set_echo_seq_no(sequence);
                bytes::put_bytes(packet.payload_mut(), 0, data);
            }
            Repr::RouterSolicit { options } => {
                options.emit(packet.payload_mut())?;
            }
            Repr::RouterAdvert {
                hop_limit,
                flags,
                router_lifetime,
                reachable_time,
                retrans_time,
                options,
            } => {
                let lifetime = router_lifetime.to_be_bytes();
                packet.set_rest_of_header(u32::from_be_bytes([
                    hop_limit,
                    flags.0,
                    lifetime[0],
                    lifetime[1],
                ]));
                let buf = packet.as_bytes_mut();
                bytes::put_u32(buf, 8, reachable_time);
                bytes::put_u32(buf, 12, retrans_time);
                options.emit(packet.payload_mut())?;
            }
            Repr::NeighborSolicit { target, options } => {
                packet.set_target_addr(target);
                options.emit(packet.payload_mut())?;
            }
            Repr::NeighborAdvert {
                flags,
                target,
                options,
            } => {
                packet.set_rest_of_header(u32::from(flags.0) << 24);
                packet.set_target_addr(target);
                options.emit(packet.payload_mut())?;
            }
            Repr::Redirect {
                target,
                destination,
                options,
            } => {
                packet.set_target_addr(target);
                packet.set_destination_addr(destination);
                options.emit(packet.payload_mut())?;
            }
            Repr::MldQuery {
                max_response_delay,
                multicast_address,
            } => {
                packet.set_echo_ident(max_response_delay);
                packet.set_target_addr(multicast_address);
            }
            Repr::MldReport { multicast_address } | Repr::MldDone { multicast_address } => {
                packet.set_target_addr(multicast_address);
            }
            Repr::Mldv2Query {
                max_response_code,
                multicast_address,
                suppress_router_processing,
                qrv,
                qqic,
                sources,
            } => {
                let count = u16::try_from(sources.len())
                    .map_err(|_| Error::Malformed("more than 65535 MLDv2 sources"))?;
                if qrv > 7 {
                    return Err(Error::Malformed("MLDv2 QRV above 7"));
                }
                packet.set_echo_ident(max_response_code);
                packet.set_target_addr(multicast_address);
                let s_flag = if suppress_router_processing {
                    MLDV2_S_FLAG
                } else {
                    0
                };
                let buf = packet.as_bytes_mut();
                bytes::put_u8(buf, 24, s_flag | qrv);
                bytes::put_u8(buf, 25, qqic);
                bytes::put_u16(buf, 26, count);
                sources.emit(buf, MLDV2_QUERY_LEN);
            }
            Repr::Mldv2Report { records } => {
                let count = u16::try_from(records.len())
                    .map_err(|_| Error::Malformed("more than 65535 MLDv2 records"))?;
                packet.set_echo_seq_no(count);
                records.emit(packet.payload_mut())?;
            }
            Repr::ExtendedEchoRequest {
                id,
                sequence,
                local,
                extensions,
            } => {
                packet.set_rest_of_header(Header::request(id, sequence, local).rest_of_header());
                if let Some(ext) = extensions {
                    ext.emit(packet.payload_mut())?;
                }
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
                    state,
                    active,
                    ipv4,
                    ipv6,
                };
                packet.set_rest_of_header(Header::reply(id, sequence, flags)?.rest_of_header());
            }
            Repr::Unknown {
                rest_of_header,
                data,
                ..
            } => {
                packet.set_rest_of_header(rest_of_header);
                bytes::put_bytes(packet.as_bytes_mut(), HEADER_LEN, data);
            }
        }
        Ok(())
    }
}

/// An MLD query is MLDv1 when exactly 24 bytes long, MLDv2 when 28 or more
/// (RFC 3810 §8.1); other lengths are invalid.
fn parse_mld_query<'a>(packet: &Packet<&'a [u8]>, buf: &'a [u8]) -> Result<Repr<'a>> {
    let max_response = packet.echo_ident();
    let multicast_address = packet.target_addr();
    if buf.len() == MLDV1_LEN {
        return Ok(Repr::MldQuery {
            max_response_delay: max_response,
            multicast_address,
        });
    }
    if buf.len() < MLDV2_QUERY_LEN {
        return Err(Error::Malformed("MLD query of 25 to 27 bytes"));
    }
    let flags = bytes::u8_at(buf, 24, "MLDv2 query flags")?;
    let count = usize::from(bytes::u16_at(buf, 26, "MLDv2 number of sources")?);
    Ok(Repr::Mldv2Query {
        max_response_code: max_response,
        multicast_address,
        suppress_router_processing: flags & MLDV2_S_FLAG != 0,
        qrv: flags & 0x7,
        qqic: bytes::u8_at(buf, 25, "MLDv2 QQIC")?,
        sources: Ipv6Addrs::from_wire(buf, MLDV2_QUERY_LEN, count, "MLDv2 query sources")?,
    })
}

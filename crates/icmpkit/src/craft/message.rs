//! A message described by its type, code and fields ([`MessageSpec`]),
//! checked against what the type carries and built with the wire crate's
//! builders.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use icmpkit_wire::extension::{AFI_IPV4, AFI_IPV6, ErrorBody, Extensions, InterfaceId, Object};
use icmpkit_wire::icmpv6::{NdpOptions, NeighborFlags, Packet as V6Packet};
use icmpkit_wire::{Family, icmpv4, icmpv6};

use crate::{Error, InvalidReason, Result};

/// A field a message type may carry. [`Field::name`] is the word the CLI
/// flag and the error messages use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// Identifier (echo, timestamp, information, address mask, extended echo).
    Id,
    /// Sequence number (8 bits for extended echo).
    Sequence,
    /// Redirect: the gateway to use (ICMPv4).
    Gateway,
    /// Next-hop MTU (ICMPv4 fragmentation needed, ICMPv6 packet too big).
    Mtu,
    /// Parameter problem pointer.
    Pointer,
    /// Address mask (ICMPv4 address mask request/reply).
    Mask,
    /// NDP target address (neighbor solicitation/advertisement, redirect).
    Target,
    /// ICMPv6 redirect: the redirected destination.
    Destination,
    /// Timestamp: originate time (ms since midnight UT).
    Originate,
    /// Timestamp: receive time.
    Receive,
    /// Timestamp: transmit time.
    Transmit,
    /// Extended echo request: the L bit.
    Local,
    /// Extended echo request: the probed interface.
    Interface,
    /// Bytes 4..8 of the header, for types without named fields.
    RestOfHeader,
    /// What follows the fixed part: echo data, the quoted datagram of an
    /// error, raw NDP options.
    Data,
}

impl Field {
    /// The field's name as the CLI spells it (`--id`, `--seq`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::Sequence => "seq",
            Field::Gateway => "gateway",
            Field::Mtu => "mtu",
            Field::Pointer => "pointer",
            Field::Mask => "mask",
            Field::Target => "target",
            Field::Destination => "destination",
            Field::Originate => "originate",
            Field::Receive => "receive",
            Field::Transmit => "transmit",
            Field::Local => "local",
            Field::Interface => "interface",
            Field::RestOfHeader => "rest-of-header",
            Field::Data => "data",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which interface an extended echo request asks about (RFC 8335 §2.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum InterfaceQuery {
    /// By name (`eth0`).
    Name(String),
    /// By ifIndex.
    Index(u32),
    /// By one of its addresses.
    Address(IpAddr),
}

impl std::str::FromStr for InterfaceQuery {
    type Err = std::convert::Infallible;

    /// An address, else a number (ifIndex), else a name.
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(if let Ok(a) = s.parse::<IpAddr>() {
            InterfaceQuery::Address(a)
        } else if let Ok(i) = s.parse::<u32>() {
            InterfaceQuery::Index(i)
        } else {
            InterfaceQuery::Name(s.to_owned())
        })
    }
}

/// An ICMP message to build: family, type, code and the fields the type
/// carries. Fields left `None` get defaults ([`MessageSpec::build`] says
/// which); fields the type does not have are an error, not ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSpec {
    /// ICMPv4 or ICMPv6.
    pub family: Family,
    /// Type number.
    pub msg_type: u8,
    /// Code.
    pub code: u8,
    /// Identifier.
    pub id: Option<u16>,
    /// Sequence number.
    pub sequence: Option<u16>,
    /// Redirect gateway.
    pub gateway: Option<Ipv4Addr>,
    /// Next-hop MTU.
    pub mtu: Option<u32>,
    /// Parameter problem pointer.
    pub pointer: Option<u32>,
    /// Address mask.
    pub mask: Option<Ipv4Addr>,
    /// NDP target.
    pub target: Option<Ipv6Addr>,
    /// ICMPv6 redirect destination.
    pub destination: Option<Ipv6Addr>,
    /// Timestamp originate time (default: now, ms since midnight UT).
    pub originate: Option<u32>,
    /// Timestamp receive time (default 0).
    pub receive: Option<u32>,
    /// Timestamp transmit time (default 0).
    pub transmit: Option<u32>,
    /// Extended echo L bit (default set: the kernel answers only that).
    pub local: Option<bool>,
    /// Extended echo interface (default: the destination address).
    pub interface: Option<InterfaceQuery>,
    /// Raw bytes 4..8 of the header, for types without named fields.
    pub rest_of_header: Option<u32>,
    /// Bytes after the fixed part (`None`: empty).
    pub data: Option<Vec<u8>>,
}

impl MessageSpec {
    /// A message of `msg_type`, code 0, every field defaulted.
    pub fn new(family: Family, msg_type: u8) -> MessageSpec {
        MessageSpec {
            family,
            msg_type,
            code: 0,
            id: None,
            sequence: None,
            gateway: None,
            mtu: None,
            pointer: None,
            mask: None,
            target: None,
            destination: None,
            originate: None,
            receive: None,
            transmit: None,
            local: None,
            interface: None,
            rest_of_header: None,
            data: None,
        }
    }

    /// An echo request.
    pub fn echo_request(family: Family, id: u16, sequence: u16, data: &[u8]) -> MessageSpec {
        let msg_type = match family {
            Family::V4 => icmpv4::msg_type::ECHO_REQUEST,
            Family::V6 => icmpv6::msg_type::ECHO_REQUEST,
        };
        MessageSpec {
            id: Some(id),
            sequence: Some(sequence),
            data: Some(data.to_vec()),
            ..MessageSpec::new(family, msg_type)
        }
    }

    /// The fields that are set.
    pub fn fields_set(&self) -> Vec<Field> {
        let set = [
            (Field::Id, self.id.is_some()),
            (Field::Sequence, self.sequence.is_some()),
            (Field::Gateway, self.gateway.is_some()),
            (Field::Mtu, self.mtu.is_some()),
            (Field::Pointer, self.pointer.is_some()),
            (Field::Mask, self.mask.is_some()),
            (Field::Target, self.target.is_some()),
            (Field::Destination, self.destination.is_some()),
            (Field::Originate, self.originate.is_some()),
            (Field::Receive, self.receive.is_some()),
            (Field::Transmit, self.transmit.is_some()),
            (Field::Local, self.local.is_some()),
            (Field::Interface, self.interface.is_some()),
            (Field::RestOfHeader, self.rest_of_header.is_some()),
            (
                Field::Data,
                self.data.as_ref().is_some_and(|d| !d.is_empty()),
            ),
        ];
        set.into_iter()
            .filter(|(_, s)| *s)
            .map(|(f, _)| f)
            .collect()
    }

    /// Checks that every field set belongs to the type (and that the
    /// values fit it), with a message naming the field and the type.
    pub fn validate(&self) -> Result<()> {
        let allowed = fields_of(self.family, self.msg_type);
        if let Some(bad) = self.fields_set().into_iter().find(|f| !allowed.contains(f)) {
            return Err(Error::invalid(
                bad.name(),
                InvalidReason::NotAField {
                    message: type_label(self.family, self.msg_type),
                    fields: allowed.iter().map(|f| f.name()).collect(),
                },
            ));
        }
        let sequence_max = match is_extended_echo(self.family, self.msg_type) {
            true => u16::from(u8::MAX),
            false => u16::MAX,
        };
        if self.sequence.is_some_and(|s| s > sequence_max) {
            return Err(Error::invalid(
                Field::Sequence.name(),
                InvalidReason::Bits {
                    bits: 8,
                    message: type_label(self.family, self.msg_type),
                },
            ));
        }
        let pointer_max = match self.family {
            Family::V4 => u32::from(u8::MAX),
            Family::V6 => u32::MAX,
        };
        if self.pointer.is_some_and(|p| p > pointer_max) {
            return Err(Error::invalid(
                Field::Pointer.name(),
                InvalidReason::Bits {
                    bits: 8,
                    message: type_label(self.family, self.msg_type),
                },
            ));
        }
        if self.family == Family::V4 && self.mtu.is_some_and(|m| m > u32::from(u16::MAX)) {
            return Err(Error::invalid(
                Field::Mtu.name(),
                InvalidReason::Bits {
                    bits: 16,
                    message: type_label(self.family, self.msg_type),
                },
            ));
        }
        Ok(())
    }

    /// Builds the message for `src` → `dst` (ICMPv6 checksums cover both;
    /// with `src` unknown the unspecified address is used, and an ICMPv6
    /// socket recomputes the sum anyway).
    ///
    /// Defaults: id 0, sequence 0, timestamps' originate the current time
    /// in ms since midnight UT, extended echo with the L bit set asking
    /// about the interface that has `dst`. An ICMPv6 NDP message's data
    /// must be well-formed NDP options.
    pub fn build(&self, src: Option<IpAddr>, dst: IpAddr) -> Result<Vec<u8>> {
        self.validate()?;
        let data = self.data.as_deref().unwrap_or_default();
        let interface = self
            .interface
            .clone()
            .unwrap_or(InterfaceQuery::Address(dst));
        let address_bytes = match &interface {
            InterfaceQuery::Address(IpAddr::V4(a)) => a.octets().to_vec(),
            InterfaceQuery::Address(IpAddr::V6(a)) => a.octets().to_vec(),
            _ => Vec::new(),
        };
        let interface_id = match &interface {
            InterfaceQuery::Name(n) => InterfaceId::Name(n.as_bytes()),
            InterfaceQuery::Index(i) => InterfaceId::Index(*i),
            InterfaceQuery::Address(a) => InterfaceId::Address {
                afi: if a.is_ipv4() { AFI_IPV4 } else { AFI_IPV6 },
                address: &address_bytes,
            },
        };
        let objects = [Object::InterfaceId(interface_id)];
        let extensions = Extensions::from_objects(&objects);
        let mut out = match self.family {
            Family::V4 => self.build_v4(data, extensions)?,
            Family::V6 => {
                let src = match src {
                    Some(IpAddr::V6(s)) => s,
                    _ => Ipv6Addr::UNSPECIFIED,
                };
                let IpAddr::V6(dst) = dst else {
                    return Err(Error::invalid(
                        "destination",
                        InvalidReason::WrongFamily {
                            expected: Family::V6,
                            got: dst,
                        },
                    ));
                };
                self.build_v6(data, extensions, &src, &dst)?
            }
        };
        self.force_code(&mut out, src, dst);
        Ok(out)
    }

    fn build_v4(&self, data: &[u8], extensions: Extensions<'_>) -> Result<Vec<u8>> {
        use icmpv4::Repr;
        use icmpv4::msg_type as t;
        let id = self.id.unwrap_or(0);
        let sequence = self.sequence.unwrap_or(0);
        let body = ErrorBody::new(data);
        let repr = match self.msg_type {
            t::ECHO_REQUEST => Repr::EchoRequest { id, sequence, data },
            t::ECHO_REPLY => Repr::EchoReply { id, sequence, data },
            t::DST_UNREACHABLE => Repr::DstUnreachable {
                code: self.code.into(),
                mtu: self.mtu.unwrap_or(0) as u16,
                body,
            },
            t::SOURCE_QUENCH => Repr::SourceQuench { original: data },
            t::REDIRECT => Repr::Redirect {
                code: self.code.into(),
                gateway: self.gateway.unwrap_or(Ipv4Addr::UNSPECIFIED),
                original: data,
            },
            t::ROUTER_SOLICIT => Repr::RouterSolicit,
            t::TIME_EXCEEDED => Repr::TimeExceeded {
                code: self.code.into(),
                body,
            },
            t::PARAM_PROBLEM => Repr::ParamProblem {
                code: self.code.into(),
                pointer: self.pointer.unwrap_or(0) as u8,
                body,
            },
            t::TIMESTAMP | t::TIMESTAMP_REPLY => Repr::Timestamp {
                reply: self.msg_type == t::TIMESTAMP_REPLY,
                id,
                sequence,
                originate: self.originate.unwrap_or_else(ms_since_midnight_ut),
                receive: self.receive.unwrap_or(0),
                transmit: self.transmit.unwrap_or(0),
            },
            t::INFO_REQUEST | t::INFO_REPLY => Repr::Information {
                reply: self.msg_type == t::INFO_REPLY,
                id,
                sequence,
            },
            t::ADDRESS_MASK_REQUEST | t::ADDRESS_MASK_REPLY => Repr::AddressMask {
                reply: self.msg_type == t::ADDRESS_MASK_REPLY,
                id,
                sequence,
                mask: self.mask.unwrap_or(Ipv4Addr::UNSPECIFIED),
            },
            t::EXTENDED_ECHO_REQUEST => Repr::ExtendedEchoRequest {
                id,
                sequence: sequence as u8,
                local: self.local.unwrap_or(true),
                extensions: Some(extensions),
            },
            t::EXTENDED_ECHO_REPLY => Repr::ExtendedEchoReply {
                code: self.code.into(),
                id,
                sequence: sequence as u8,
                state: 0,
                active: false,
                ipv4: false,
                ipv6: false,
            },
            other => Repr::Unknown {
                msg_type: other,
                code: self.code,
                rest_of_header: self.rest_of_header.unwrap_or(0),
                data,
            },
        };
        let mut out = vec![0; repr.buffer_len()];
        repr.emit(&mut out).map_err(wire_error)?;
        Ok(out)
    }

    fn build_v6(
        &self,
        data: &[u8],
        extensions: Extensions<'_>,
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
    ) -> Result<Vec<u8>> {
        use icmpv6::Repr;
        use icmpv6::msg_type as t;
        let id = self.id.unwrap_or(0);
        let sequence = self.sequence.unwrap_or(0);
        let body = ErrorBody::new(data);
        let options = || {
            NdpOptions::parse(data)
                .map_err(|e| Error::invalid(Field::Data.name(), InvalidReason::NotNdpOptions(e)))
        };
        let target = self.target.unwrap_or(Ipv6Addr::UNSPECIFIED);
        let repr = match self.msg_type {
            t::DST_UNREACHABLE => Repr::DstUnreachable {
                code: self.code.into(),
                body,
            },
            t::PACKET_TOO_BIG => Repr::PacketTooBig {
                mtu: self.mtu.unwrap_or(1280),
                original: data,
            },
            t::TIME_EXCEEDED => Repr::TimeExceeded {
                code: self.code.into(),
                body,
            },
            t::PARAM_PROBLEM => Repr::ParamProblem {
                code: self.code.into(),
                pointer: self.pointer.unwrap_or(0),
                original: data,
            },
            t::ECHO_REQUEST => Repr::EchoRequest { id, sequence, data },
            t::ECHO_REPLY => Repr::EchoReply { id, sequence, data },
            t::ROUTER_SOLICIT => Repr::RouterSolicit {
                options: options()?,
            },
            t::NEIGHBOR_SOLICIT => Repr::NeighborSolicit {
                target,
                options: options()?,
            },
            t::NEIGHBOR_ADVERT => Repr::NeighborAdvert {
                flags: NeighborFlags(0),
                target,
                options: options()?,
            },
            t::REDIRECT => Repr::Redirect {
                target,
                destination: self.destination.unwrap_or(Ipv6Addr::UNSPECIFIED),
                options: options()?,
            },
            t::EXTENDED_ECHO_REQUEST => Repr::ExtendedEchoRequest {
                id,
                sequence: sequence as u8,
                local: self.local.unwrap_or(true),
                extensions: Some(extensions),
            },
            t::EXTENDED_ECHO_REPLY => Repr::ExtendedEchoReply {
                code: self.code.into(),
                id,
                sequence: sequence as u8,
                state: 0,
                active: false,
                ipv4: false,
                ipv6: false,
            },
            other => Repr::Unknown {
                msg_type: other,
                code: self.code,
                rest_of_header: self.rest_of_header.unwrap_or(0),
                data,
            },
        };
        let mut out = vec![0; repr.buffer_len()];
        repr.emit(src, dst, &mut out).map_err(wire_error)?;
        Ok(out)
    }

    /// The wire builders write code 0 for types that define only that
    /// code; a crafted message may want another (to test a receiver), so
    /// the code is written last and the checksum redone.
    fn force_code(&self, out: &mut [u8], src: Option<IpAddr>, dst: IpAddr) {
        if out.get(1) == Some(&self.code) {
            return;
        }
        match (self.family, src, dst) {
            (Family::V4, ..) => {
                let mut p = icmpv4::Packet::new_unchecked(&mut *out);
                p.set_msg_code(self.code);
                p.fill_checksum();
            }
            (Family::V6, src, IpAddr::V6(dst)) => {
                let src = match src {
                    Some(IpAddr::V6(s)) => s,
                    _ => Ipv6Addr::UNSPECIFIED,
                };
                let mut p = V6Packet::new_unchecked(&mut *out);
                p.set_msg_code(self.code);
                p.fill_checksum(&src, &dst);
            }
            (Family::V6, _, IpAddr::V4(_)) => {}
        }
    }
}

fn wire_error(e: icmpkit_wire::Error) -> Error {
    Error::invalid("message", InvalidReason::Unbuildable(e))
}

fn is_extended_echo(family: Family, msg_type: u8) -> bool {
    match family {
        Family::V4 => matches!(msg_type, 42 | 43),
        Family::V6 => matches!(msg_type, 160 | 161),
    }
}

/// The fields a message type carries (what [`MessageSpec::validate`]
/// accepts).
pub fn fields_of(family: Family, msg_type: u8) -> &'static [Field] {
    use Field::*;
    const ECHO: &[Field] = &[Id, Sequence, Data];
    const ID_SEQ: &[Field] = &[Id, Sequence];
    const QUOTE: &[Field] = &[Data];
    match (family, msg_type) {
        (Family::V4, 0 | 8) | (Family::V6, 128 | 129) => ECHO,
        (Family::V4, 3) => &[Mtu, Data],
        (Family::V4, 4 | 11) | (Family::V6, 1 | 3) => QUOTE,
        (Family::V4, 5) => &[Gateway, Data],
        (Family::V4, 10) => &[],
        (Family::V4, 12) | (Family::V6, 4) => &[Pointer, Data],
        (Family::V4, 13 | 14) => &[Id, Sequence, Originate, Receive, Transmit],
        (Family::V4, 15 | 16) => ID_SEQ,
        (Family::V4, 17 | 18) => &[Id, Sequence, Mask],
        (Family::V4, 42) | (Family::V6, 160) => &[Id, Sequence, Local, Interface],
        (Family::V4, 43) | (Family::V6, 161) => ID_SEQ,
        (Family::V6, 2) => &[Mtu, Data],
        (Family::V6, 133) => &[Data],
        (Family::V6, 135 | 136) => &[Target, Data],
        (Family::V6, 137) => &[Target, Destination, Data],
        _ => &[RestOfHeader, Data],
    }
}

/// The type's name with its family and number, for messages.
pub fn type_label(family: Family, msg_type: u8) -> String {
    let (name, fam) = match family {
        Family::V4 => (icmpv4::type_name(msg_type), "ICMPv4"),
        Family::V6 => (icmpv6::type_name(msg_type), "ICMPv6"),
    };
    match name {
        Some(n) => format!("{fam} {n} (type {msg_type})"),
        None => format!("{fam} type {msg_type}"),
    }
}

/// Extra names accepted for types, beyond the wire crate's kebab-case
/// names: the request/reply spellings users type.
const ALIASES: &[(&str, Family, u8)] = &[
    ("echo", Family::V4, 8),
    ("echo", Family::V6, 128),
    ("ping", Family::V4, 8),
    ("ping", Family::V6, 128),
    ("timestamp-request", Family::V4, 13),
    ("info-request", Family::V4, 15),
    ("info-reply", Family::V4, 16),
    ("mask-request", Family::V4, 17),
    ("mask-reply", Family::V4, 18),
    ("extended-echo", Family::V4, 42),
    ("extended-echo", Family::V6, 160),
    ("probe", Family::V4, 42),
    ("probe", Family::V6, 160),
    ("unreachable", Family::V4, 3),
    ("unreachable", Family::V6, 1),
    ("router-solicit", Family::V4, 10),
    ("router-solicit", Family::V6, 133),
    ("neighbor-solicit", Family::V6, 135),
    ("neighbor-advert", Family::V6, 136),
    ("packet-too-big", Family::V6, 2),
];

/// Reads a type given as a number or a name (`echo-request`,
/// `timestamp-request`, `neighbor-solicitation`, ...) for `family`. A name
/// of the other family's ICMP, or an unknown one, is an error saying so.
pub fn parse_type(family: Family, input: &str) -> Result<u8> {
    if let Ok(n) = input.parse::<u8>() {
        return Ok(n);
    }
    let wanted = input.to_ascii_lowercase().replace('_', "-");
    let lookup = |f: Family| {
        ALIASES
            .iter()
            .find(|(name, af, _)| *name == wanted && *af == f)
            .map(|(_, _, t)| *t)
            .or_else(|| (0..=u8::MAX).find(|&t| type_name_of(f, t) == Some(wanted.as_str())))
    };
    if let Some(t) = lookup(family) {
        return Ok(t);
    }
    let other = match family {
        Family::V4 => Family::V6,
        Family::V6 => Family::V4,
    };
    if lookup(other).is_some() {
        return Err(Error::invalid(
            "type",
            InvalidReason::OtherFamily {
                name: input.to_owned(),
                destination: family,
            },
        ));
    }
    Err(Error::invalid(
        "type",
        InvalidReason::UnknownName {
            name: input.to_owned(),
            context: "(give a number, 0-255, or a name such as echo-request, timestamp-request, \
                      address-mask-request, information-request, extended-echo-request, \
                      router-solicitation, neighbor-solicitation)"
                .to_owned(),
        },
    ))
}

/// Reads a code given as a number or as its name for `msg_type`.
pub fn parse_code(family: Family, msg_type: u8, input: &str) -> Result<u8> {
    if let Ok(n) = input.parse::<u8>() {
        return Ok(n);
    }
    let wanted = input.to_ascii_lowercase();
    (0..=u8::MAX)
        .find(|&c| {
            let name = match family {
                Family::V4 => icmpv4::code_name(msg_type, c),
                Family::V6 => icmpv6::code_name(msg_type, c),
            };
            name == Some(wanted.as_str())
        })
        .ok_or_else(|| {
            Error::invalid(
                "code",
                InvalidReason::UnknownName {
                    name: input.to_owned(),
                    context: format!("for {}", type_label(family, msg_type)),
                },
            )
        })
}

fn type_name_of(family: Family, msg_type: u8) -> Option<&'static str> {
    match family {
        Family::V4 => icmpv4::type_name(msg_type),
        Family::V6 => icmpv6::type_name(msg_type),
    }
}

/// The reply type a request type is answered with (echo, timestamp,
/// information, address mask, extended echo, router and neighbor
/// solicitation); `None` for messages nobody answers.
pub fn reply_type(family: Family, msg_type: u8) -> Option<u8> {
    Some(match (family, msg_type) {
        (Family::V4, 8) => 0,
        (Family::V4, 10) => 9,
        (Family::V4, 13) => 14,
        (Family::V4, 15) => 16,
        (Family::V4, 17) => 18,
        (Family::V4, 42) => 43,
        (Family::V6, 128) => 129,
        (Family::V6, 133) => 134,
        (Family::V6, 135) => 136,
        (Family::V6, 160) => 161,
        _ => return None,
    })
}

/// Milliseconds since midnight UT, the unit of ICMP timestamps (RFC 792).
pub fn ms_since_midnight_ut() -> u32 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (now.as_millis() % 86_400_000) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    const DST4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

    fn dst6() -> IpAddr {
        "2001:db8::1".parse().unwrap()
    }

    #[test]
    fn names_numbers_and_aliases() {
        assert_eq!(parse_type(Family::V4, "echo-request").unwrap(), 8);
        assert_eq!(parse_type(Family::V6, "echo-request").unwrap(), 128);
        assert_eq!(parse_type(Family::V4, "timestamp-request").unwrap(), 13);
        assert_eq!(parse_type(Family::V4, "timestamp").unwrap(), 13);
        assert_eq!(parse_type(Family::V4, "address-mask-request").unwrap(), 17);
        assert_eq!(parse_type(Family::V4, "information-request").unwrap(), 15);
        assert_eq!(parse_type(Family::V4, "extended-echo-request").unwrap(), 42);
        assert_eq!(
            parse_type(Family::V6, "extended-echo-request").unwrap(),
            160
        );
        assert_eq!(parse_type(Family::V6, "router-solicitation").unwrap(), 133);
        assert_eq!(
            parse_type(Family::V6, "Neighbor_Solicitation").unwrap(),
            135
        );
        assert_eq!(parse_type(Family::V4, "200").unwrap(), 200);
        let e = parse_type(Family::V4, "neighbor-solicitation").unwrap_err();
        assert!(e.to_string().contains("is an ICMPv6 type"), "{e}");
        let e = parse_type(Family::V4, "echo-requets").unwrap_err();
        assert!(e.to_string().contains("\"echo-requets\" is unknown"), "{e}");
        assert_eq!(parse_code(Family::V4, 3, "port-unreachable").unwrap(), 3);
        assert_eq!(parse_code(Family::V6, 1, "4").unwrap(), 4);
        assert!(parse_code(Family::V4, 8, "bogus").is_err());
    }

    #[test]
    fn a_field_the_type_lacks_is_refused_by_name() {
        let mut spec = MessageSpec::new(Family::V4, 8);
        spec.gateway = Some(Ipv4Addr::new(192, 0, 2, 9));
        let e = spec.build(None, DST4).unwrap_err().to_string();
        assert!(
            e.contains("gateway does not go with ICMPv4 echo-request"),
            "{e}"
        );
        assert!(e.contains("(its fields: id, seq, data)"), "{e}");
        let mut spec = MessageSpec::new(Family::V4, 42);
        spec.sequence = Some(300);
        assert!(
            spec.build(None, DST4)
                .unwrap_err()
                .to_string()
                .contains("8 bits")
        );
    }

    #[test]
    fn builds_parse_back_with_the_fields_given() {
        let spec = MessageSpec {
            originate: Some(1234),
            ..MessageSpec {
                id: Some(7),
                sequence: Some(9),
                ..MessageSpec::new(Family::V4, 13)
            }
        };
        let bytes = spec.build(None, DST4).unwrap();
        assert!(icmpkit_wire::checksum::verify(&bytes));
        match icmpv4::Repr::parse_bytes(&bytes).unwrap() {
            icmpv4::Repr::Timestamp {
                reply: false,
                id: 7,
                sequence: 9,
                originate: 1234,
                receive: 0,
                transmit: 0,
            } => {}
            other => panic!("{other:?}"),
        }
        let mut redirect = MessageSpec::new(Family::V4, 5);
        redirect.code = 1;
        redirect.gateway = Some(Ipv4Addr::new(192, 0, 2, 254));
        let bytes = redirect.build(None, DST4).unwrap();
        assert_eq!(&bytes[..2], &[5, 1]);
        assert_eq!(&bytes[4..8], &[192, 0, 2, 254]);
    }

    #[test]
    fn extended_echo_defaults_to_asking_about_the_destination() {
        let src: IpAddr = "2001:db8::2".parse().unwrap();
        let mut spec = MessageSpec::new(Family::V6, 160);
        spec.id = Some(5);
        spec.sequence = Some(3);
        let bytes = spec.build(Some(src), dst6()).unwrap();
        let (IpAddr::V6(s), IpAddr::V6(d)) = (src, dst6()) else {
            unreachable!()
        };
        assert!(icmpkit_wire::checksum::verify_icmpv6(&s, &d, &bytes));
        let repr = icmpv6::Repr::parse_bytes(&bytes).unwrap();
        assert!(matches!(
            repr,
            icmpv6::Repr::ExtendedEchoRequest {
                id: 5,
                sequence: 3,
                local: true,
                ..
            }
        ));
        assert_eq!(repr.interface_id().unwrap().ip(), Some(dst6()));
        spec.interface = Some("eth0".parse().unwrap());
        let bytes = spec.build(Some(src), dst6()).unwrap();
        let repr = icmpv6::Repr::parse_bytes(&bytes).unwrap();
        assert_eq!(repr.interface_id(), Some(InterfaceId::Name(b"eth0")));
    }

    #[test]
    fn a_code_the_builder_would_drop_is_kept_with_a_good_checksum() {
        let mut spec = MessageSpec::echo_request(Family::V4, 1, 2, b"x");
        spec.code = 5;
        let bytes = spec.build(None, DST4).unwrap();
        assert_eq!(&bytes[..2], &[8, 5]);
        assert!(icmpkit_wire::checksum::verify(&bytes));
    }

    #[test]
    fn ndp_data_must_be_options_and_unknown_types_are_raw() {
        let mut ns = MessageSpec::new(Family::V6, 135);
        ns.target = Some("2001:db8::1".parse().unwrap());
        ns.data = Some(vec![1, 2, 3]);
        assert!(
            ns.build(None, dst6())
                .unwrap_err()
                .to_string()
                .contains("NDP options")
        );
        ns.data = Some(vec![1, 1, 0x02, 0, 0, 0, 0, 1]);
        let bytes = ns.build(None, dst6()).unwrap();
        assert_eq!(bytes.len(), 24 + 8);
        let mut raw = MessageSpec::new(Family::V4, 200);
        raw.code = 3;
        raw.rest_of_header = Some(0xdead_beef);
        raw.data = Some(b"abc".to_vec());
        let bytes = raw.build(None, DST4).unwrap();
        assert_eq!(&bytes[..2], &[200, 3]);
        assert_eq!(&bytes[4..], &[0xde, 0xad, 0xbe, 0xef, b'a', b'b', b'c']);
    }

    #[test]
    fn reply_pairs() {
        assert_eq!(reply_type(Family::V4, 13), Some(14));
        assert_eq!(reply_type(Family::V6, 135), Some(136));
        assert_eq!(reply_type(Family::V4, 0), None);
        assert_eq!(reply_type(Family::V6, 1), None);
    }
}

//! Typed messages into [`MessageSpec`]s: `MessageSpec::try_from(repr)`
//! takes any wire crate `Repr` (ICMPv4 or ICMPv6) so that a caller can
//! describe a message with the packet model's types instead of type and
//! code numbers. The spec then builds the same bytes the `Repr` emits
//! (with the id and sequence a [`Sender`](super::Sender) fills in).
//!
//! A `Repr` carrying what a spec has no field for (RFC 4884 extensions
//! on an error, neighbor advertisement flags, an extended echo reply's
//! interface state) is refused rather than silently changed.

use std::net::Ipv6Addr;

use icmpkit_wire::extension::{AFI_IPV4, AFI_IPV6, ErrorBody, InterfaceId};
use icmpkit_wire::{Family, icmpv4, icmpv6};

use super::message::{Field, InterfaceQuery, MessageSpec, fields_of};
use crate::{Error, InvalidReason, Result};

impl TryFrom<icmpv4::Repr<'_>> for MessageSpec {
    type Error = Error;

    fn try_from(repr: icmpv4::Repr<'_>) -> Result<MessageSpec> {
        use icmpv4::Repr;
        let mut spec = MessageSpec::new(Family::V4, repr.msg_type());
        spec.code = repr.code();
        match repr {
            Repr::EchoRequest { id, sequence, data } | Repr::EchoReply { id, sequence, data } => {
                set_echo(&mut spec, id, sequence, data)
            }
            Repr::DstUnreachable { mtu, body, .. } => {
                spec.mtu = Some(u32::from(mtu));
                spec.data = Some(quoted_only(&body)?.to_vec());
            }
            Repr::SourceQuench { original } => spec.data = Some(original.to_vec()),
            Repr::Redirect {
                gateway, original, ..
            } => {
                spec.gateway = Some(gateway);
                spec.data = Some(original.to_vec());
            }
            Repr::TimeExceeded { body, .. } => spec.data = Some(quoted_only(&body)?.to_vec()),
            Repr::ParamProblem { pointer, body, .. } => {
                spec.pointer = Some(u32::from(pointer));
                spec.data = Some(quoted_only(&body)?.to_vec());
            }
            Repr::RouterSolicit => {}
            Repr::Timestamp {
                id,
                sequence,
                originate,
                receive,
                transmit,
                ..
            } => {
                spec.id = Some(id);
                spec.sequence = Some(sequence);
                spec.originate = Some(originate);
                spec.receive = Some(receive);
                spec.transmit = Some(transmit);
            }
            Repr::Information { id, sequence, .. } => {
                spec.id = Some(id);
                spec.sequence = Some(sequence);
            }
            Repr::AddressMask {
                id, sequence, mask, ..
            } => {
                spec.id = Some(id);
                spec.sequence = Some(sequence);
                spec.mask = Some(mask);
            }
            Repr::ExtendedEchoRequest {
                id,
                sequence,
                local,
                ..
            } => set_extended_echo_request(&mut spec, id, sequence, local, repr.interface_id())?,
            Repr::ExtendedEchoReply {
                id,
                sequence,
                state,
                active,
                ipv4,
                ipv6,
                ..
            } => {
                set_extended_echo_reply(&mut spec, id, sequence, [state != 0, active, ipv4, ipv6])?
            }
            // Router advertisements and unknown types: bytes 4..8 and the
            // rest, as emitted.
            Repr::RouterAdvert { .. } | Repr::Unknown { .. } => {
                let mut bytes = vec![0; repr.buffer_len()];
                repr.emit(&mut bytes)?;
                return from_raw(Family::V4, &bytes);
            }
        }
        Ok(spec)
    }
}

impl TryFrom<icmpv6::Repr<'_>> for MessageSpec {
    type Error = Error;

    fn try_from(repr: icmpv6::Repr<'_>) -> Result<MessageSpec> {
        use icmpv6::Repr;
        let mut spec = MessageSpec::new(Family::V6, repr.msg_type());
        spec.code = repr.code();
        match repr {
            Repr::EchoRequest { id, sequence, data } | Repr::EchoReply { id, sequence, data } => {
                set_echo(&mut spec, id, sequence, data)
            }
            Repr::DstUnreachable { body, .. } | Repr::TimeExceeded { body, .. } => {
                spec.data = Some(quoted_only(&body)?.to_vec())
            }
            Repr::PacketTooBig { mtu, original } => {
                spec.mtu = Some(mtu);
                spec.data = Some(original.to_vec());
            }
            Repr::ParamProblem {
                pointer, original, ..
            } => {
                spec.pointer = Some(pointer);
                spec.data = Some(original.to_vec());
            }
            Repr::NeighborAdvert { flags, .. } if flags.0 != 0 => {
                return Err(not_expressible(
                    "neighbor advertisement flags (router, solicited, override)",
                ));
            }
            Repr::RouterSolicit { .. }
            | Repr::NeighborSolicit { .. }
            | Repr::NeighborAdvert { .. }
            | Repr::Redirect { .. } => {
                if let Repr::NeighborSolicit { target, .. }
                | Repr::NeighborAdvert { target, .. }
                | Repr::Redirect { target, .. } = repr
                {
                    spec.target = Some(target);
                }
                if let Repr::Redirect { destination, .. } = repr {
                    spec.destination = Some(destination);
                }
                // The NDP options, as emitted after the fixed part.
                let bytes = emit_v6(&repr)?;
                let fixed = icmpv6::header_len(repr.msg_type());
                spec.data = Some(bytes.get(fixed..).unwrap_or_default().to_vec());
            }
            Repr::ExtendedEchoRequest {
                id,
                sequence,
                local,
                ..
            } => set_extended_echo_request(&mut spec, id, sequence, local, repr.interface_id())?,
            Repr::ExtendedEchoReply {
                id,
                sequence,
                state,
                active,
                ipv4,
                ipv6,
                ..
            } => {
                set_extended_echo_reply(&mut spec, id, sequence, [state != 0, active, ipv4, ipv6])?
            }
            // Router advertisements, MLD and unknown types: bytes 4..8 and
            // the rest, as emitted.
            _ => return from_raw(Family::V6, &emit_v6(&repr)?),
        }
        Ok(spec)
    }
}

fn set_echo(spec: &mut MessageSpec, id: u16, sequence: u16, data: &[u8]) {
    spec.id = Some(id);
    spec.sequence = Some(sequence);
    spec.data = Some(data.to_vec());
}

fn set_extended_echo_request(
    spec: &mut MessageSpec,
    id: u16,
    sequence: u8,
    local: bool,
    interface: Option<InterfaceId<'_>>,
) -> Result<()> {
    spec.id = Some(id);
    spec.sequence = Some(u16::from(sequence));
    spec.local = Some(local);
    let interface = interface
        .ok_or_else(|| not_expressible("an extended echo request without an interface object"))?;
    spec.interface = Some(match interface {
        InterfaceId::Name(name) => InterfaceQuery::Name(
            String::from_utf8(name.to_vec())
                .map_err(|_| not_expressible("an interface name that is not UTF-8"))?,
        ),
        InterfaceId::Index(index) => InterfaceQuery::Index(index),
        InterfaceId::Address {
            afi: AFI_IPV4 | AFI_IPV6,
            ..
        } => InterfaceQuery::Address(
            interface
                .ip()
                .ok_or_else(|| not_expressible("an interface address of a bad length"))?,
        ),
        InterfaceId::Address { .. } => {
            return Err(not_expressible(
                "an interface address neither IPv4 nor IPv6",
            ));
        }
    });
    Ok(())
}

/// `state_and_flags`: whether the state and the A, 4, 6 bits are set; a
/// spec builds replies with all of them clear.
fn set_extended_echo_reply(
    spec: &mut MessageSpec,
    id: u16,
    sequence: u8,
    state_and_flags: [bool; 4],
) -> Result<()> {
    if state_and_flags.contains(&true) {
        return Err(not_expressible(
            "an extended echo reply's state and interface flags",
        ));
    }
    spec.id = Some(id);
    spec.sequence = Some(u16::from(sequence));
    Ok(())
}

/// The quoted datagram of an error body, refusing extensions (a spec's
/// data is the quote alone).
fn quoted_only<'a>(body: &ErrorBody<'a>) -> Result<&'a [u8]> {
    match body.extensions() {
        Some(_) => Err(not_expressible("RFC 4884 extensions on an error message")),
        None => Ok(body.original()),
    }
}

fn emit_v6(repr: &icmpv6::Repr<'_>) -> Result<Vec<u8>> {
    let mut bytes = vec![0; repr.buffer_len()];
    // The checksum is not kept: a spec's build computes its own.
    let any = Ipv6Addr::UNSPECIFIED;
    repr.emit(&any, &any, &mut bytes)?;
    Ok(bytes)
}

/// A spec of type, code, bytes 4..8 and data, for types whose only fields
/// those are; a message of a type with named fields but a code its `Repr`
/// does not decode (kept as `Unknown`) is read with code 0 and given its
/// code back.
fn from_raw(family: Family, bytes: &[u8]) -> Result<MessageSpec> {
    // `bytes` come from an emit: never shorter than the header.
    let [msg_type, code, _, _, r0, r1, r2, r3] =
        *bytes
            .first_chunk::<8>()
            .ok_or(icmpkit_wire::Error::Malformed(
                "ICMP message shorter than its header",
            ))?;
    if fields_of(family, msg_type).contains(&Field::RestOfHeader) {
        let mut spec = MessageSpec::new(family, msg_type);
        spec.code = code;
        spec.rest_of_header = Some(u32::from_be_bytes([r0, r1, r2, r3]));
        spec.data = Some(bytes[8..].to_vec());
        return Ok(spec);
    }
    if code == 0 {
        return Err(not_expressible(
            "a message the packet model cannot read back",
        ));
    }
    let mut with_code_0 = bytes.to_vec();
    with_code_0[1] = 0;
    let mut spec = match family {
        Family::V4 => MessageSpec::try_from(icmpv4::Repr::parse_bytes(&with_code_0)?)?,
        Family::V6 => MessageSpec::try_from(icmpv6::Repr::parse_bytes(&with_code_0)?)?,
    };
    spec.code = code;
    Ok(spec)
}

fn not_expressible(what: &'static str) -> Error {
    Error::invalid("message", InvalidReason::NotExpressible { what })
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use icmpkit_wire::extension::{Extensions, Object};
    use icmpkit_wire::icmpv4::{DstUnreachableCode, RedirectCode, TimeExceededCode};
    use icmpkit_wire::icmpv6::{NdpOptions, NeighborFlags};

    use super::*;

    const DST4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const QUOTE: &[u8] = &[
        0x45, 0, 0, 28, 0, 1, 0, 0, 1, 17, 0, 0, 192, 0, 2, 2, 192, 0, 2, 1, 0x82, 0x9a, 0x82,
        0x9b, 0, 8, 0, 0,
    ];

    fn v4_bytes(repr: &icmpv4::Repr<'_>) -> Vec<u8> {
        let mut out = vec![0; repr.buffer_len()];
        repr.emit(&mut out).unwrap();
        out
    }

    /// The spec made from a typed message builds exactly its bytes.
    #[test]
    fn icmpv4_typed_messages_build_their_own_bytes() {
        use icmpv4::Repr;
        let entries = [icmpv4::RouterEntry {
            address: DST4,
            preference: 7,
        }];
        let extensions = [Object::InterfaceId(InterfaceId::Name(b"eth0"))];
        let reprs = [
            Repr::EchoRequest {
                id: 7,
                sequence: 9,
                data: b"abc",
            },
            Repr::DstUnreachable {
                code: DstUnreachableCode::FragmentationNeeded,
                mtu: 1400,
                body: ErrorBody::new(QUOTE),
            },
            Repr::Redirect {
                code: RedirectCode::Host,
                gateway: Ipv4Addr::new(192, 0, 2, 254),
                original: QUOTE,
            },
            Repr::TimeExceeded {
                code: TimeExceededCode::FragReassemblyExceeded,
                body: ErrorBody::new(QUOTE),
            },
            Repr::Timestamp {
                reply: true,
                id: 1,
                sequence: 2,
                originate: 3,
                receive: 4,
                transmit: 5,
            },
            Repr::AddressMask {
                reply: false,
                id: 1,
                sequence: 2,
                mask: Ipv4Addr::UNSPECIFIED,
            },
            Repr::ExtendedEchoRequest {
                id: 1,
                sequence: 2,
                local: true,
                extensions: Some(Extensions::from_objects(&extensions)),
            },
            Repr::RouterAdvert {
                code: icmpv4::RouterAdvertCode::Normal,
                lifetime: 1800,
                entries: icmpv4::RouterEntries::from_entries(&entries),
            },
            Repr::Unknown {
                msg_type: 200,
                code: 3,
                rest_of_header: 0xdead_beef,
                data: b"xyz",
            },
            // An echo request with code 5 parses as Unknown; the spec keeps
            // the echo fields and the code.
            Repr::Unknown {
                msg_type: 8,
                code: 5,
                rest_of_header: 0x0001_0002,
                data: b"hi",
            },
        ];
        for repr in reprs {
            let spec = MessageSpec::try_from(repr).unwrap();
            let built = spec.build(None, IpAddr::V4(DST4)).unwrap();
            assert_eq!(built, v4_bytes(&repr), "{repr:?}");
        }
    }

    #[test]
    fn icmpv6_typed_messages_build_their_own_bytes() {
        use icmpv6::Repr;
        let src: Ipv6Addr = "2001:db8::2".parse().unwrap();
        let dst: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let options = [1u8, 1, 0x02, 0, 0, 0, 0, 1];
        let reprs = [
            Repr::EchoReply {
                id: 3,
                sequence: 4,
                data: b"abc",
            },
            Repr::PacketTooBig {
                mtu: 1280,
                original: QUOTE,
            },
            Repr::NeighborSolicit {
                target: dst,
                options: NdpOptions::parse(&options).unwrap(),
            },
            Repr::MldReport {
                multicast_address: "ff02::1:ff00:1".parse().unwrap(),
            },
        ];
        for repr in reprs {
            let spec = MessageSpec::try_from(repr).unwrap();
            let built = spec.build(Some(IpAddr::V6(src)), IpAddr::V6(dst)).unwrap();
            let mut expected = vec![0; repr.buffer_len()];
            repr.emit(&src, &dst, &mut expected).unwrap();
            assert_eq!(built, expected, "{repr:?}");
        }
    }

    #[test]
    fn what_a_spec_cannot_carry_is_refused_not_changed() {
        let advert = icmpv6::Repr::NeighborAdvert {
            flags: NeighborFlags::SOLICITED,
            target: Ipv6Addr::LOCALHOST,
            options: NdpOptions::parse(&[]).unwrap(),
        };
        let e = MessageSpec::try_from(advert).unwrap_err().to_string();
        assert!(e.contains("neighbor advertisement flags"), "{e}");
        let extensions = [Object::InterfaceId(InterfaceId::Index(2))];
        let with_extensions = icmpv4::Repr::TimeExceeded {
            code: TimeExceededCode::TtlExceeded,
            body: ErrorBody::with_extensions(QUOTE, Extensions::from_objects(&extensions)),
        };
        let e = MessageSpec::try_from(with_extensions)
            .unwrap_err()
            .to_string();
        assert!(e.contains("RFC 4884 extensions"), "{e}");
    }
}

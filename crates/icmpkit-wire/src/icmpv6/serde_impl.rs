//! `Serialize` for ICMPv6 messages: a flat map of the message's own fields,
//! with bytes as hex and names in kebab-case.

use core::fmt;

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::mld::{self, MldRecord, record_type_name};
use super::ndp::{NdpOption, NdpOptions, NeighborFlags, RouterFlags, option_name};
use super::repr::Repr;
use crate::extended_echo::{self, ReplyFlags};
use crate::extension::ErrorBody;
use crate::serde_util::{Display, Hex};

/// A link-layer address as colon-separated hex (`02:00:5e:10:00:01`).
struct LinkAddr<'a>(&'a [u8]);

impl fmt::Display for LinkAddr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl Serialize for Repr<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // As for ICMPv4: only the message's own fields; type and code
        // (and their names) are the caller's envelope.
        let mut map = s.serialize_map(None)?;
        self.serialize_fields(&mut map)?;
        map.end()
    }
}

impl Repr<'_> {
    /// The entries after type and code.
    fn serialize_fields<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        match *self {
            Repr::DstUnreachable { body, .. } | Repr::TimeExceeded { body, .. } => {
                body.serialize_entries(map)
            }
            Repr::PacketTooBig { mtu, original } => {
                map.serialize_entry("mtu", &mtu)?;
                ErrorBody::new(original).serialize_entries(map)
            }
            Repr::ParamProblem {
                pointer, original, ..
            } => {
                map.serialize_entry("pointer", &pointer)?;
                ErrorBody::new(original).serialize_entries(map)
            }
            Repr::EchoRequest { id, sequence, data } | Repr::EchoReply { id, sequence, data } => {
                map.serialize_entry("id", &id)?;
                map.serialize_entry("sequence", &sequence)?;
                map.serialize_entry("data", &Display(&Hex(data)))
            }
            Repr::RouterSolicit { options } => map.serialize_entry("options", &options),
            Repr::RouterAdvert {
                hop_limit,
                flags,
                router_lifetime,
                reachable_time,
                retrans_time,
                options,
            } => {
                map.serialize_entry("hop_limit", &hop_limit)?;
                map.serialize_entry("managed", &flags.contains(RouterFlags::MANAGED))?;
                map.serialize_entry("other", &flags.contains(RouterFlags::OTHER))?;
                map.serialize_entry("home_agent", &flags.contains(RouterFlags::HOME_AGENT))?;
                map.serialize_entry("proxy", &flags.contains(RouterFlags::PROXY))?;
                map.serialize_entry("preference", flags.preference_name())?;
                map.serialize_entry("router_lifetime", &router_lifetime)?;
                map.serialize_entry("reachable_time", &reachable_time)?;
                map.serialize_entry("retrans_time", &retrans_time)?;
                map.serialize_entry("options", &options)
            }
            Repr::NeighborSolicit { target, options } => {
                map.serialize_entry("target", &target)?;
                map.serialize_entry("options", &options)
            }
            Repr::NeighborAdvert {
                flags,
                target,
                options,
            } => {
                map.serialize_entry("router", &flags.contains(NeighborFlags::ROUTER))?;
                map.serialize_entry("solicited", &flags.contains(NeighborFlags::SOLICITED))?;
                map.serialize_entry("override", &flags.contains(NeighborFlags::OVERRIDE))?;
                map.serialize_entry("target", &target)?;
                map.serialize_entry("options", &options)
            }
            Repr::Redirect {
                target,
                destination,
                options,
            } => {
                map.serialize_entry("target", &target)?;
                map.serialize_entry("destination", &destination)?;
                map.serialize_entry("options", &options)
            }
            Repr::MldQuery {
                max_response_delay,
                multicast_address,
            } => {
                map.serialize_entry("max_response_delay", &max_response_delay)?;
                map.serialize_entry("multicast_address", &multicast_address)
            }
            Repr::MldReport { multicast_address } | Repr::MldDone { multicast_address } => {
                map.serialize_entry("multicast_address", &multicast_address)
            }
            Repr::Mldv2Query {
                max_response_code,
                multicast_address,
                suppress_router_processing,
                qrv,
                qqic,
                sources,
            } => {
                map.serialize_entry("max_response_code", &max_response_code)?;
                map.serialize_entry(
                    "max_response_delay",
                    &mld::max_response_delay_ms(max_response_code),
                )?;
                map.serialize_entry("multicast_address", &multicast_address)?;
                map.serialize_entry("suppress_router_processing", &suppress_router_processing)?;
                map.serialize_entry("qrv", &qrv)?;
                map.serialize_entry("qqic", &qqic)?;
                map.serialize_entry("query_interval", &mld::query_interval_s(qqic))?;
                map.serialize_entry("sources", &sources)
            }
            Repr::Mldv2Report { records } => map.serialize_entry("records", &records),
            Repr::ExtendedEchoRequest {
                id,
                sequence,
                local,
                extensions,
            } => extended_echo::serialize_request(map, id, sequence, local, extensions.as_ref()),
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
                extended_echo::serialize_reply(map, id, sequence, flags)
            }
            Repr::Unknown {
                rest_of_header,
                data,
                ..
            } => {
                map.serialize_entry("rest_of_header", &rest_of_header)?;
                map.serialize_entry("data", &Display(&Hex(data)))
            }
        }
    }
}

impl Serialize for NdpOptions<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(OptionItem))
    }
}

/// One item of an option list: the option, or the error that replaced it.
struct OptionItem<'a>(crate::Result<NdpOption<'a>>);

impl Serialize for OptionItem<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Ok(option) => option.serialize(s),
            Err(e) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("error", &Display(e))?;
                map.end()
            }
        }
    }
}

impl Serialize for NdpOption<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("type", &self.kind())?;
        if let Some(name) = option_name(self.kind()) {
            map.serialize_entry("name", name)?;
        }
        match *self {
            NdpOption::SourceLinkLayerAddr(a) | NdpOption::TargetLinkLayerAddr(a) => {
                map.serialize_entry("address", &Display(&LinkAddr(a)))?;
            }
            NdpOption::PrefixInformation(p) => {
                map.serialize_entry("prefix", &p.prefix)?;
                map.serialize_entry("prefix_len", &p.prefix_len)?;
                map.serialize_entry("on_link", &p.on_link)?;
                map.serialize_entry("autonomous", &p.autonomous)?;
                map.serialize_entry("router_address", &p.router_address)?;
                map.serialize_entry("valid_lifetime", &p.valid_lifetime)?;
                map.serialize_entry("preferred_lifetime", &p.preferred_lifetime)?;
            }
            NdpOption::RedirectedHeader(h) => {
                map.serialize_entry("length", &h.len())?;
                if let Ok(quoted) = crate::quoted::Quoted::parse(h) {
                    map.serialize_entry("quoted", &quoted)?;
                }
            }
            NdpOption::Mtu(mtu) => map.serialize_entry("mtu", &mtu)?,
            NdpOption::Rdnss { lifetime, servers } => {
                map.serialize_entry("lifetime", &lifetime)?;
                map.serialize_entry("servers", &servers)?;
            }
            NdpOption::Unknown { data, .. } => map.serialize_entry("data", &Display(&Hex(data)))?,
        }
        map.end()
    }
}

impl Serialize for MldRecord<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("record_type", &self.record_type)?;
        if let Some(name) = record_type_name(self.record_type) {
            map.serialize_entry("record_type_name", name)?;
        }
        map.serialize_entry("multicast_address", &self.multicast_address)?;
        map.serialize_entry("sources", &self.sources)?;
        if !self.aux_data.is_empty() {
            map.serialize_entry("aux_data", &Display(&Hex(self.aux_data)))?;
        }
        map.end()
    }
}

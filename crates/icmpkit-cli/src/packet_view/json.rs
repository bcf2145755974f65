//! The JSON object of a packet: an envelope (family, type, code, names,
//! checksum, where and when) with the message's own fields flattened in,
//! as `icmpkit_wire` serializes them.

use std::net::IpAddr;

use icmpkit::wire::Family;
use icmpkit::wire::serde_util::Display;
use serde::{Serialize, Serializer};

use super::{Message, PacketView};

impl Serialize for Message<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Message::V4(repr) => repr.serialize(s),
            Message::V6(repr) => repr.serialize(s),
        }
    }
}

/// The object's layout; field order is the key order.
#[derive(Serialize)]
struct Object<'v, 'a> {
    family: Family,
    #[serde(rename = "type")]
    msg_type: Option<u8>,
    code: Option<u8>,
    type_name: Option<&'static str>,
    code_name: Option<&'static str>,
    checksum: Option<u16>,
    checksum_valid: Option<bool>,
    length: usize,
    time: Option<f64>,
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    ttl: Option<u8>,
    interface: Option<&'v str>,
    truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    malformed: Option<Display<'v, icmpkit::wire::Error>>,
    #[serde(flatten)]
    fields: Option<&'v Message<'a>>,
}

impl Serialize for PacketView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let meta = self.meta();
        Object {
            family: self.family(),
            msg_type: self.msg_type(),
            code: self.code(),
            type_name: self.type_name(),
            code_name: self.code_name(),
            checksum: self.checksum(),
            checksum_valid: self.checksum_valid(),
            length: self.bytes().len(),
            time: meta.time.map(|t| t.as_secs_f64()),
            src: meta.src,
            dst: meta.dst,
            ttl: meta.ttl,
            interface: meta.interface.as_deref(),
            truncated: meta.truncated,
            malformed: self.message.as_ref().err().map(Display),
            fields: self.message(),
        }
        .serialize(s)
    }
}

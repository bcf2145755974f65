//! The JSON object of a packet: an envelope (family, type, code, names,
//! checksum, where and when) with the message's own fields flattened in,
//! as `icmpkit_wire` serializes them.

use std::cell::RefCell;
use std::io::{self, Write};
use std::net::IpAddr;

use icmpkit::wire::Family;
use icmpkit::wire::serde_util::{Display, Hex};
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
    #[serde(skip_serializing_if = "Option::is_none")]
    direction: Option<&'static str>,
    truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    wire_length: Option<usize>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    first_fragment: bool,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    encapsulation: &'v [super::Carrier],
    #[serde(skip_serializing_if = "Option::is_none")]
    malformed: Option<Display<'v, icmpkit::wire::Error>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence: Option<u16>,
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
            direction: meta.direction,
            truncated: meta.truncated,
            wire_length: self.wire_length(),
            first_fragment: meta.first_fragment,
            encapsulation: self.carriers(),
            malformed: self.malformed_ref().map(Display),
            id: self.partial_ids().map(|ids| ids.0),
            sequence: self.partial_ids().map(|ids| ids.1),
            fields: self.message(),
        }
        .serialize(s)
    }
}

/// Writes the view's JSON object (no newline), byte for byte what its
/// `Serialize` impl gives through serde_json, faster: the envelope's keys
/// are written as literals instead of being escaped one by one, the names
/// and hex data (which never need escaping) are copied as they are, and
/// echo messages, most of any capture, get their three fields the same
/// way. Every other message is serialized by serde_json into a reused
/// buffer and spliced in. The tests below hold the two paths together.
#[cfg(test)]
pub(super) fn write_object(view: &PacketView<'_>, out: &mut impl Write) -> io::Result<()> {
    out.write_all(b"{")?;
    write_members(view, out)
}

/// The `packet` record of decode and listen: the object with
/// `"event":"packet"` first (`schema::PACKET_RECORD_START`).
pub(super) fn write_record(view: &PacketView<'_>, out: &mut impl Write) -> io::Result<()> {
    out.write_all(crate::schema::PACKET_RECORD_START)?;
    write_members(view, out)
}

/// The object without its opening brace.
fn write_members(view: &PacketView<'_>, out: &mut impl Write) -> io::Result<()> {
    let meta = view.meta();
    out.write_all(match view.family() {
        Family::V4 => br#""family":"icmpv4","type":"#,
        Family::V6 => br#""family":"icmpv6","type":"#,
    })?;
    write_opt_uint(out, view.msg_type().map(u64::from))?;
    out.write_all(br#","code":"#)?;
    write_opt_uint(out, view.code().map(u64::from))?;
    out.write_all(br#","type_name":"#)?;
    write_opt_name(out, view.type_name())?;
    out.write_all(br#","code_name":"#)?;
    write_opt_name(out, view.code_name())?;
    out.write_all(br#","checksum":"#)?;
    write_opt_uint(out, view.checksum().map(u64::from))?;
    out.write_all(br#","checksum_valid":"#)?;
    write_opt_bool(out, view.checksum_valid())?;
    out.write_all(br#","length":"#)?;
    write_uint(out, view.bytes().len() as u64)?;
    out.write_all(br#","time":"#)?;
    match meta.time {
        // serde_json's float formatting, whatever it is.
        Some(t) => serde_json::to_writer(&mut *out, &t.as_secs_f64())?,
        None => out.write_all(b"null")?,
    }
    out.write_all(br#","src":"#)?;
    write_opt_ip(out, meta.src)?;
    out.write_all(br#","dst":"#)?;
    write_opt_ip(out, meta.dst)?;
    out.write_all(br#","ttl":"#)?;
    write_opt_uint(out, meta.ttl.map(u64::from))?;
    out.write_all(br#","interface":"#)?;
    // An interface name may need escaping: serde_json's own.
    serde_json::to_writer(&mut *out, &meta.interface.as_deref())?;
    if let Some(direction) = meta.direction {
        out.write_all(br#","direction":"#)?;
        write_opt_name(out, Some(direction))?;
    }
    out.write_all(br#","truncated":"#)?;
    write_opt_bool(out, Some(meta.truncated))?;
    if let Some(length) = view.wire_length() {
        out.write_all(br#","wire_length":"#)?;
        write_uint(out, length as u64)?;
    }
    if meta.first_fragment {
        out.write_all(br#","first_fragment":true"#)?;
    }
    if !view.carriers().is_empty() {
        out.write_all(br#","encapsulation":"#)?;
        serde_json::to_writer(&mut *out, view.carriers())?;
    }
    if let Some(error) = view.malformed_ref() {
        out.write_all(br#","malformed":"#)?;
        serde_json::to_writer(&mut *out, &Display(error))?;
    }
    if let Some((id, sequence)) = view.partial_ids() {
        out.write_all(br#","id":"#)?;
        write_uint(out, id.into())?;
        out.write_all(br#","sequence":"#)?;
        write_uint(out, sequence.into())?;
    }
    if let Some(message) = view.message() {
        write_fields(out, message)?;
    }
    out.write_all(b"}")
}

/// The message's own fields, each preceded by a comma.
fn write_fields(out: &mut impl Write, message: &Message<'_>) -> io::Result<()> {
    use icmpkit::wire::{icmpv4, icmpv6};
    match *message {
        Message::V4(
            icmpv4::Repr::EchoRequest { id, sequence, data }
            | icmpv4::Repr::EchoReply { id, sequence, data },
        )
        | Message::V6(
            icmpv6::Repr::EchoRequest { id, sequence, data }
            | icmpv6::Repr::EchoReply { id, sequence, data },
        ) => {
            out.write_all(br#","id":"#)?;
            write_uint(out, id.into())?;
            out.write_all(br#","sequence":"#)?;
            write_uint(out, sequence.into())?;
            out.write_all(br#","data":""#)?;
            write!(out, "{}", Hex(data))?;
            out.write_all(b"\"")
        }
        _ => SPLICE.with_borrow_mut(|buf| {
            buf.clear();
            serde_json::to_writer(&mut *buf, message)?;
            // `{"a":1,"b":2}` -> `,"a":1,"b":2`; `{}` -> nothing. A
            // flattened map writes exactly its entries.
            match buf.get(1..buf.len().saturating_sub(1)) {
                Some(entries) if !entries.is_empty() => {
                    out.write_all(b",")?;
                    out.write_all(entries)
                }
                _ => Ok(()),
            }
        }),
    }
}

thread_local! {
    /// The JSON of messages without a fast path, before it is spliced in.
    static SPLICE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

fn write_uint(out: &mut impl Write, mut n: u64) -> io::Result<()> {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        // `n % 10` is below 10: the cast cannot truncate.
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.write_all(digits.get(start..).unwrap_or_default())
}

fn write_opt_uint(out: &mut impl Write, n: Option<u64>) -> io::Result<()> {
    match n {
        Some(n) => write_uint(out, n),
        None => out.write_all(b"null"),
    }
}

fn write_opt_bool(out: &mut impl Write, b: Option<bool>) -> io::Result<()> {
    out.write_all(match b {
        Some(true) => b"true",
        Some(false) => b"false",
        None => b"null",
    })
}

/// A type or code name: kebab-case ASCII, copied as it is; anything that
/// would need escaping goes through serde_json.
fn write_opt_name(out: &mut impl Write, name: Option<&str>) -> io::Result<()> {
    match name {
        Some(name)
            if name
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\') =>
        {
            out.write_all(b"\"")?;
            out.write_all(name.as_bytes())?;
            out.write_all(b"\"")
        }
        Some(name) => Ok(serde_json::to_writer(&mut *out, name)?),
        None => out.write_all(b"null"),
    }
}

/// An address as serde writes it for a human-readable format: its
/// `Display`, which never needs escaping.
fn write_opt_ip(out: &mut impl Write, ip: Option<IpAddr>) -> io::Result<()> {
    match ip {
        // Dotted quad without going through `fmt`: the same text.
        Some(IpAddr::V4(ip)) => {
            let [a, b, c, d] = ip.octets();
            out.write_all(b"\"")?;
            for (i, octet) in [a, b, c, d].into_iter().enumerate() {
                if i > 0 {
                    out.write_all(b".")?;
                }
                write_uint(out, octet.into())?;
            }
            out.write_all(b"\"")
        }
        Some(ip) => write!(out, "\"{ip}\""),
        None => out.write_all(b"null"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::packet_view::Meta;

    /// The fast path and serde_json must agree byte for byte.
    fn assert_same(view: &PacketView<'_>) {
        let mut fast = Vec::new();
        write_object(view, &mut fast).unwrap();
        let reference = serde_json::to_vec(view).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&fast),
            String::from_utf8_lossy(&reference),
            "{view:?}"
        );
    }

    /// Every type byte of both families, with codes and bodies of many
    /// lengths (echo, errors quoting datagrams, malformed, empty), with
    /// and without addresses, time, interface (one that needs escaping)
    /// and truncation.
    #[test]
    fn fast_path_is_byte_identical_to_serde_json() {
        let v4: [IpAddr; 2] = [
            "192.0.2.1".parse().unwrap(),
            "198.51.100.255".parse().unwrap(),
        ];
        let v6: [IpAddr; 2] = ["2001:db8::1".parse().unwrap(), "fe80::1:2".parse().unwrap()];
        // An IPv4 header quoting UDP, so error types parse their quote.
        let quoted: Vec<u8> = [
            0x45, 0, 0, 28, 0, 1, 0x40, 0, 1, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 7, 0x9c, 0x40,
            0x82, 0x9a, 0, 8, 0, 0,
        ]
        .to_vec();
        let mut checked = 0;
        for family in [Family::V4, Family::V6] {
            for msg_type in 0..=255u8 {
                for code in [0u8, 1, 3, 4] {
                    for len in [0usize, 1, 2, 4, 8, 12, 20, 36, 64] {
                        // Header, zero rest of header, then the quote.
                        let mut bytes = vec![msg_type, code, 0x12, 0x34, 0, 0, 0, 0];
                        bytes.extend(quoted.iter().copied().cycle().take(56));
                        bytes.truncate(len);
                        let addresses = match family {
                            Family::V4 => v4,
                            Family::V6 => v6,
                        };
                        let metas = [
                            Meta::default(),
                            Meta {
                                time: Some(Duration::new(1_700_000_000, 123_456_789)),
                                src: Some(addresses[0]),
                                dst: Some(addresses[1]),
                                ttl: Some(64),
                                interface: Some("veth\"0\\".into()),
                                truncated: len % 2 == 1,
                                direction: Some("other-host"),
                                wire_length: Some(len + 9),
                                first_fragment: len % 3 == 0,
                            },
                        ];
                        for meta in metas {
                            assert_same(&PacketView::new(family, &bytes, meta));
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 2 * 256 * 4 * 9 * 2);
    }

    /// decode and listen tag each packet object as a `packet` record.
    #[test]
    fn records_are_the_object_with_the_event_first() {
        let bytes = [8u8, 0, 0xf7, 0xff, 0, 0, 0, 0];
        let view = PacketView::new(Family::V4, &bytes, Meta::default());
        let mut record = Vec::new();
        write_record(&view, &mut record).unwrap();
        let record: serde_json::Value = serde_json::from_slice(&record).unwrap();
        let mut object = serde_json::to_value(&view).unwrap();
        assert_eq!(record["event"], "packet");
        object
            .as_object_mut()
            .unwrap()
            .insert("event".into(), "packet".into());
        assert_eq!(record, object);
    }

    #[test]
    fn echo_fast_path_matches_for_both_families() {
        for (family, t) in [
            (Family::V4, 8u8),
            (Family::V4, 0),
            (Family::V6, 128),
            (Family::V6, 129),
        ] {
            let mut bytes = vec![t, 0, 0, 0, 0x12, 0x34, 0xff, 0xff];
            bytes.extend(0..=255u8);
            let view = PacketView::new(family, &bytes, Meta::default());
            assert!(view.message().is_some());
            assert_same(&view);
        }
    }
}

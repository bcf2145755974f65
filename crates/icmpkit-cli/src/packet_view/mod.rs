//! How icmpkit shows one ICMP/ICMPv6 packet, the same in every command
//! (`listen`, `decode`, `send`, `respond`): the human one-liner, the `-v`
//! tree and the JSON object.
//!
//! ```text
//! let view = PacketView::new(Family::V4, icmp_bytes, Meta { src, dst, ttl, time, ..Meta::default() });
//! writeln!(out, "{}", view.line());          // 12:00:01.000123 192.0.2.1 > 192.0.2.2 ttl 64: echo request id 4660 seq 1, 64 bytes
//! write!(out, "{}", view.tree());            // the line, then every field indented
//! serde_json::to_writer(out, &view)?;   // one object, the schema in the README
//! ```
//!
//! A view never fails: bytes that do not parse as the message their type
//! announces give a view whose [`PacketView::malformed`] says why, and that
//! still shows the type, code and checksum it could read.

mod json;
mod text;

use std::io::{self, Write};
use std::net::IpAddr;
use std::time::Duration;

use icmpkit::wire::{Family, checksum, icmpv4, icmpv6, ip};

pub use text::{Line, Summary, Tree};

/// What is known about a packet besides its ICMP bytes. Every field is
/// optional: hex input has no time, an ICMPv6 message without its IPv6
/// header has no addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    /// When it was captured or received, since the UNIX epoch.
    pub time: Option<Duration>,
    /// IP source.
    pub src: Option<IpAddr>,
    /// IP destination.
    pub dst: Option<IpAddr>,
    /// TTL / hop limit as received.
    pub ttl: Option<u8>,
    /// The interface it arrived on (or leaves by).
    pub interface: Option<String>,
    /// The capture (snap length) or the receive buffer cut the packet.
    pub truncated: bool,
    /// Which way it went, when a packet socket says (`in`, `out`,
    /// `broadcast`, `multicast`, `other-host`).
    pub direction: Option<&'static str>,
    /// The ICMP message's length on the wire (from the IP header), when
    /// known: beside the captured length when a snap length cut it.
    pub wire_length: Option<usize>,
    /// The IP packet is a first fragment: the message goes on in the next
    /// ones, so its checksum cannot be verified here (decode does not
    /// reassemble).
    pub first_fragment: bool,
}

/// A parsed message of either family.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Message<'a> {
    /// ICMPv4.
    V4(icmpv4::Repr<'a>),
    /// ICMPv6.
    V6(icmpv6::Repr<'a>),
}

/// One ICMP packet ready to be shown: its bytes, what was parsed from
/// them, its [`Meta`], and the tunnels that carried it.
#[derive(Debug, Clone)]
pub struct PacketView<'a> {
    family: Family,
    bytes: &'a [u8],
    message: Result<Message<'a>, icmpkit::wire::Error>,
    checksum_valid: Option<bool>,
    meta: Meta,
    carriers: &'a [Carrier],
}

/// A tunnel or mirror encapsulation that carried a packet (the wire
/// crate's, shared with the library's listener).
pub use icmpkit::wire::encap::Carrier;

/// Which of the three presentations to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Style {
    /// One line per packet.
    #[default]
    Line,
    /// The line, then every field, indented (`-v`).
    Tree,
    /// One JSON object per line (`--json`).
    Json,
}

impl Style {
    /// What `--json` and `-v` ask for (`--json` wins).
    pub fn from_flags(json: bool, verbose: bool) -> Style {
        match (json, verbose) {
            (true, _) => Style::Json,
            (_, true) => Style::Tree,
            _ => Style::Line,
        }
    }
}

impl<'a> PacketView<'a> {
    /// Parses `icmp` (the ICMP message, from its type byte on) of `family`.
    /// The ICMPv6 checksum is only checked when `meta` has both addresses
    /// (it covers a pseudo-header made of them).
    pub fn new(family: Family, icmp: &'a [u8], meta: Meta) -> Self {
        let dst = meta.dst;
        Self::with_checksum_dst(family, icmp, meta, dst)
    }

    /// [`new`](Self::new), with the ICMPv6 pseudo-header's destination
    /// given apart from the shown one: a routing header's final
    /// destination (see [`ip::Located::checksum_dst`]).
    pub fn with_checksum_dst(
        family: Family,
        icmp: &'a [u8],
        meta: Meta,
        checksum_dst: Option<IpAddr>,
    ) -> Self {
        let (message, checksum_valid) = match family {
            Family::V4 => (
                icmpv4::Repr::parse_bytes(icmp).map(Message::V4),
                (icmp.len() >= icmpv4::HEADER_LEN).then(|| checksum::verify(icmp)),
            ),
            Family::V6 => {
                let valid = match (meta.src, checksum_dst) {
                    (Some(IpAddr::V6(src)), Some(IpAddr::V6(dst))) if icmp.len() >= 4 => {
                        Some(icmpv6::Packet::new_unchecked(icmp).verify_checksum(&src, &dst))
                    }
                    _ => None,
                };
                (icmpv6::Repr::parse_bytes(icmp).map(Message::V6), valid)
            }
        };
        PacketView {
            family,
            bytes: icmp,
            message,
            checksum_valid,
            meta,
            carriers: &[],
        }
    }

    /// The view of a packet that these tunnels carried, outermost first.
    pub fn via(mut self, carriers: &'a [Carrier]) -> Self {
        self.carriers = carriers;
        self
    }

    /// The tunnels that carried the packet, outermost first.
    pub fn carriers(&self) -> &'a [Carrier] {
        self.carriers
    }

    /// Finds the ICMP message in a raw IPv4/IPv6 packet and views it, with
    /// addresses, TTL and truncation taken from the IP header. Errors when
    /// the packet is not IP or does not carry ICMP/ICMPv6 (see
    /// [`ip::locate_icmp`]).
    // Decode reads captures with `from_located`; this stays the shared
    // view's entry for a raw packet (its tests, other commands).
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn from_ip(packet: &'a [u8], time: Option<Duration>) -> Result<Self, icmpkit::wire::Error> {
        Ok(Self::from_located(ip::locate_icmp(packet)?, time))
    }

    /// Views an ICMP message found in an IP packet (by
    /// [`ip::locate_icmp`] or [`ip::locate_icmp_captured`]), with
    /// addresses, TTL and truncation from the IP header.
    pub fn from_located(found: ip::Located<'a>, time: Option<Duration>) -> Self {
        let meta = Meta {
            time,
            src: Some(found.src),
            dst: Some(found.dst),
            ttl: Some(found.ttl),
            interface: None,
            truncated: found.truncated,
            direction: None,
            wire_length: Some(found.icmp_wire_len),
            first_fragment: found.first_fragment,
        };
        let checksum_dst = Some(found.checksum_dst);
        Self::with_checksum_dst(found.family, found.icmp, meta, checksum_dst)
    }

    /// ICMPv4 or ICMPv6.
    pub fn family(&self) -> Family {
        self.family
    }

    /// The ICMP message bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The parsed message, `None` when malformed.
    pub fn message(&self) -> Option<&Message<'a>> {
        self.message.as_ref().ok()
    }

    /// Why the bytes do not parse as the message their type announces;
    /// `None` when they parse, and when they stop short only because the
    /// capture cut them (that is [`Meta::truncated`], not malformed).
    pub fn malformed(&self) -> Option<icmpkit::wire::Error> {
        let error = self.message.as_ref().err().copied()?;
        let cut_by_capture =
            self.meta.truncated && matches!(error, icmpkit::wire::Error::Truncated { .. });
        (!cut_by_capture).then_some(error)
    }

    /// [`malformed`](Self::malformed), borrowed (for `Display` in JSON).
    fn malformed_ref(&self) -> Option<&icmpkit::wire::Error> {
        self.malformed()?;
        self.message.as_ref().err()
    }

    /// The identifier and sequence number of a query or reply (echo,
    /// timestamp, information, address mask, extended echo) whose message
    /// did not parse (cut short): read from its first 8 bytes when they
    /// are there, as tshark does. `None` when the message parsed (its
    /// fields carry them) or is of another type.
    pub fn partial_ids(&self) -> Option<(u16, u16)> {
        if self.message.is_ok() {
            return None;
        }
        let has_ids = match self.family {
            Family::V4 => matches!(self.msg_type()?, 0 | 8 | 13..=18 | 42 | 43),
            Family::V6 => matches!(self.msg_type()?, 128 | 129 | 160 | 161),
        };
        let word = |at: usize| {
            Some(u16::from_be_bytes([
                *self.bytes.get(at)?,
                *self.bytes.get(at + 1)?,
            ]))
        };
        has_ids.then(|| Some((word(4)?, word(6)?))).flatten()
    }

    /// The type byte, `None` for an empty message.
    pub fn msg_type(&self) -> Option<u8> {
        self.bytes.first().copied()
    }

    /// The code byte, `None` when the message stops before it.
    pub fn code(&self) -> Option<u8> {
        self.bytes.get(1).copied()
    }

    /// The checksum field, `None` when the message stops before it.
    pub fn checksum(&self) -> Option<u16> {
        Some(u16::from_be_bytes([
            *self.bytes.get(2)?,
            *self.bytes.get(3)?,
        ]))
    }

    /// Whether the checksum verifies; `None` when it cannot be checked
    /// (ICMPv6 without addresses, fewer than 4 bytes). A capture cut by its
    /// snap length cannot verify either (see [`Meta::truncated`]), nor a
    /// first fragment ([`Meta::first_fragment`]).
    pub fn checksum_valid(&self) -> Option<bool> {
        if self.meta.truncated || self.meta.first_fragment {
            return None;
        }
        self.checksum_valid
    }

    /// The kebab-case type name (`echo-request`), `None` when unassigned.
    pub fn type_name(&self) -> Option<&'static str> {
        let t = self.msg_type()?;
        match self.family {
            Family::V4 => icmpv4::type_name(t),
            Family::V6 => icmpv6::type_name(t),
        }
    }

    /// The kebab-case code name (`port-unreachable`), `None` when
    /// unassigned for the type.
    pub fn code_name(&self) -> Option<&'static str> {
        let (t, c) = (self.msg_type()?, self.code()?);
        match self.family {
            Family::V4 => icmpv4::code_name(t, c),
            Family::V6 => icmpv6::code_name(t, c),
        }
    }

    /// The message's length on the wire when the capture kept less of it
    /// (a snap length); `None` when all of it is here or it is unknown.
    pub fn wire_length(&self) -> Option<usize> {
        self.meta
            .wire_length
            .filter(|&wire| wire > self.bytes.len())
    }

    /// What is known besides the bytes.
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// The summary alone: `echo request id 4660 seq 1, 64 bytes`.
    pub fn summary(&self) -> Summary<'_, 'a> {
        Summary(self)
    }

    /// The one-liner: time (UTC), `src > dst`, TTL, summary.
    pub fn line(&self) -> Line<'_, 'a> {
        Line(self)
    }

    /// The `-v` tree: the one-liner, then each field on its own line.
    pub fn tree(&self) -> Tree<'_, 'a> {
        Tree(self)
    }

    /// Writes the view in `style`, newline included.
    pub fn write(&self, style: Style, out: &mut impl Write) -> io::Result<()> {
        match style {
            Style::Line => writeln!(out, "{}", self.line()),
            Style::Tree => write!(out, "{}", self.tree()),
            Style::Json => {
                json::write_record(self, out)?;
                out.write_all(b"\n")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 192.0.2.1 > 192.0.2.2, TTL 64, echo request id 0x1234 seq 1 with
    /// 56 bytes of data: what `ping -s 56` sends.
    fn echo_v4() -> Vec<u8> {
        let repr = icmpv4::Repr::EchoRequest {
            id: 0x1234,
            sequence: 1,
            data: &[0xab; 56],
        };
        let icmp_len = repr.buffer_len();
        let ip = ip::ipv4::Repr {
            src: [192, 0, 2, 1].into(),
            dst: [192, 0, 2, 2].into(),
            protocol: ip::ipv4::PROTOCOL_ICMP,
            ttl: 64,
            ident: 7,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
            dscp: 0,
            ecn: 0,
            options: &[],
            payload_len: icmp_len,
        };
        let mut buf = vec![0; 20 + icmp_len];
        ip.emit(&mut buf).unwrap();
        repr.emit(&mut buf[20..]).unwrap();
        buf
    }

    #[test]
    fn echo_line_has_time_addresses_ttl_and_summary() {
        let packet = echo_v4();
        let view = PacketView::from_ip(&packet, Some(Duration::new(3600, 5_000))).unwrap();
        assert_eq!(
            view.line().to_string(),
            "01:00:00.000005 192.0.2.1 > 192.0.2.2 ttl 64: echo request id 4660 seq 1, 64 bytes"
        );
    }

    #[test]
    fn json_has_the_envelope_and_the_message_fields() {
        let packet = echo_v4();
        let view = PacketView::from_ip(&packet, None).unwrap();
        let v = serde_json::to_value(&view).unwrap();
        assert_eq!(v["family"], "icmpv4");
        assert_eq!(v["type"], 8);
        assert_eq!(v["code"], 0);
        assert_eq!(v["type_name"], "echo-request");
        assert_eq!(v["code_name"], "no-code");
        assert_eq!(v["checksum_valid"], true);
        assert_eq!(v["id"], 4660);
        assert_eq!(v["sequence"], 1);
        assert_eq!(v["length"], 64);
        assert_eq!(v["src"], "192.0.2.1");
        assert_eq!(v["ttl"], 64);
        assert!(v.get("malformed").is_none());
    }

    #[test]
    fn bad_checksum_is_reported_not_hidden() {
        let mut packet = echo_v4();
        packet[22] ^= 0xff;
        let view = PacketView::from_ip(&packet, None).unwrap();
        assert_eq!(view.checksum_valid(), Some(false));
        assert!(view.line().to_string().ends_with(", bad checksum"));
    }

    #[test]
    fn malformed_message_keeps_what_was_read() {
        // A timestamp request (type 13) cut after its header.
        let bytes = [13u8, 0, 0xf2, 0xff, 0, 1, 0, 2];
        let view = PacketView::new(Family::V4, &bytes, Meta::default());
        assert!(view.malformed().is_some());
        let line = view.line().to_string();
        assert!(
            line.starts_with("icmpv4: timestamp code 0 id 1 seq 2, truncated"),
            "{line}"
        );
        let v = serde_json::to_value(&view).unwrap();
        assert_eq!(v["type"], 13);
        assert!(v["malformed"].as_str().unwrap().contains("truncated"));
        // What could be read of it, as tshark reads it.
        assert_eq!(
            (v["id"].as_u64(), v["sequence"].as_u64()),
            (Some(1), Some(2))
        );
        // Nothing at all still gives a view.
        let empty = PacketView::new(Family::V6, &[], Meta::default());
        assert_eq!(
            empty.line().to_string(),
            "icmpv6: empty message, truncated ICMPv6 header: need 8 bytes, have 0, 0 bytes"
        );
    }

    #[test]
    fn icmpv6_checksum_needs_both_addresses() {
        let src: std::net::Ipv6Addr = "2001:db8::1".parse().unwrap();
        let dst: std::net::Ipv6Addr = "2001:db8::2".parse().unwrap();
        let repr = icmpv6::Repr::PacketTooBig {
            mtu: 1280,
            original: &[],
        };
        let mut buf = [0u8; 8];
        repr.emit(&src, &dst, &mut buf).unwrap();
        let bare = PacketView::new(Family::V6, &buf, Meta::default());
        assert_eq!(bare.checksum_valid(), None);
        let meta = Meta {
            src: Some(src.into()),
            dst: Some(dst.into()),
            ..Meta::default()
        };
        let view = PacketView::new(Family::V6, &buf, meta);
        assert_eq!(view.checksum_valid(), Some(true));
        assert_eq!(
            view.summary().to_string(),
            "packet too big, mtu 1280, 8 bytes"
        );
        let tree = view.tree().to_string();
        assert!(tree.contains("\n  type: 2 (packet-too-big)\n"), "{tree}");
        assert!(tree.contains("\n  mtu: 1280\n"), "{tree}");
        assert!(tree.contains("checksum: 0x"), "{tree}");
    }
}

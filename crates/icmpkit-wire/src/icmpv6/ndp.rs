//! Neighbor Discovery (RFC 4861) options and flags.
//!
//! Options follow the fixed part of router/neighbor solicitations and
//! advertisements and redirects: a type byte, a length byte in units of 8
//! bytes (type and length included), then data. [`NdpOptions`] is a
//! zero-copy list of them; iterating yields `Result<NdpOption>` so that one
//! bad option is reported without hiding the others.

use core::fmt;
use core::net::Ipv6Addr;

use super::addrs::Ipv6Addrs;
use crate::{Error, Result, bytes};

/// NDP option type numbers (IANA "IPv6 Neighbor Discovery Option Formats").
pub mod option_type {
    /// Source link-layer address (RFC 4861 §4.6.1).
    pub const SOURCE_LINK_LAYER_ADDR: u8 = 1;
    /// Target link-layer address (RFC 4861 §4.6.1).
    pub const TARGET_LINK_LAYER_ADDR: u8 = 2;
    /// Prefix information (RFC 4861 §4.6.2).
    pub const PREFIX_INFORMATION: u8 = 3;
    /// Redirected header (RFC 4861 §4.6.3).
    pub const REDIRECTED_HEADER: u8 = 4;
    /// MTU (RFC 4861 §4.6.4).
    pub const MTU: u8 = 5;
    /// Recursive DNS server (RFC 8106 §5.1).
    pub const RDNSS: u8 = 25;
}

/// The kebab-case name of an NDP option type, for text and JSON output.
pub fn option_name(kind: u8) -> Option<&'static str> {
    Some(match kind {
        1 => "source-link-layer-address",
        2 => "target-link-layer-address",
        3 => "prefix-information",
        4 => "redirected-header",
        5 => "mtu",
        6 => "nbma-shortcut-limit",
        7 => "advertisement-interval",
        8 => "home-agent-information",
        9 => "source-address-list",
        10 => "target-address-list",
        11 => "cga",
        12 => "rsa-signature",
        13 => "timestamp",
        14 => "nonce",
        15 => "trust-anchor",
        16 => "certificate",
        17 => "ip-address-prefix",
        18 => "new-router-prefix-information",
        19 => "link-layer-address",
        20 => "neighbor-advertisement-acknowledgment",
        21 => "pvd-id-router-advertisement",
        23 => "map",
        24 => "route-information",
        25 => "recursive-dns-server",
        26 => "ra-flags-extension",
        27 => "handover-key-request",
        28 => "handover-key-reply",
        29 => "handover-assist-information",
        30 => "mobile-node-identifier",
        31 => "dns-search-list",
        32 => "proxy-signature",
        33 => "address-registration",
        34 => "6lowpan-context",
        35 => "authoritative-border-router",
        36 => "6lowpan-capability-indication",
        37 => "dhcp-captive-portal",
        38 => "pref64",
        39 => "crypto-id-parameters",
        40 => "ndp-signature",
        41 => "resource-directory-address",
        42 => "consistent-uptime",
        138 => "card-request",
        139 => "card-reply",
        144 => "encrypted-dns",
        253 | 254 => "experimental",
        _ => return None,
    })
}

/// The prefix information option (RFC 4861 §4.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PrefixInfo {
    /// Leading bits of `prefix` that are valid (0..=128).
    pub prefix_len: u8,
    /// L: the prefix is on-link.
    pub on_link: bool,
    /// A: the prefix may be used for stateless address autoconfiguration.
    pub autonomous: bool,
    /// R (RFC 6275 §7.2): `prefix` is the router's full address.
    pub router_address: bool,
    /// Seconds the prefix stays valid for on-link determination
    /// (`0xffff_ffff` = infinity).
    pub valid_lifetime: u32,
    /// Seconds addresses from the prefix stay preferred.
    pub preferred_lifetime: u32,
    /// The prefix (bits past `prefix_len` should be zero).
    pub prefix: Ipv6Addr,
}

const PREFIX_FLAG_ON_LINK: u8 = 0x80;
const PREFIX_FLAG_AUTONOMOUS: u8 = 0x40;
const PREFIX_FLAG_ROUTER_ADDRESS: u8 = 0x20;

/// One NDP option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NdpOption<'a> {
    /// The sender's link-layer address (6 bytes on Ethernet). On the wire
    /// this is the whole option data, so a non-Ethernet address keeps its
    /// trailing padding.
    SourceLinkLayerAddr(&'a [u8]),
    /// The target's link-layer address (same encoding).
    TargetLinkLayerAddr(&'a [u8]),
    /// An on-link prefix and its lifetimes.
    PrefixInformation(PrefixInfo),
    /// The start of the packet that triggered a redirect (an IPv6 header and
    /// what follows), padded to 8 bytes on the wire.
    RedirectedHeader(&'a [u8]),
    /// The link MTU.
    Mtu(u32),
    /// Recursive DNS servers (RFC 8106).
    Rdnss {
        /// Seconds the servers may be used (`0xffff_ffff` = infinity,
        /// 0 = stop using them).
        lifetime: u32,
        /// The servers' addresses (at least one on the wire).
        servers: Ipv6Addrs<'a>,
    },
    /// An option this crate does not decode, kept raw.
    Unknown {
        /// The option type.
        kind: u8,
        /// Everything after the type and length bytes.
        data: &'a [u8],
    },
}

impl<'a> NdpOption<'a> {
    /// The option's type number.
    pub fn kind(&self) -> u8 {
        match self {
            NdpOption::SourceLinkLayerAddr(_) => option_type::SOURCE_LINK_LAYER_ADDR,
            NdpOption::TargetLinkLayerAddr(_) => option_type::TARGET_LINK_LAYER_ADDR,
            NdpOption::PrefixInformation(_) => option_type::PREFIX_INFORMATION,
            NdpOption::RedirectedHeader(_) => option_type::REDIRECTED_HEADER,
            NdpOption::Mtu(_) => option_type::MTU,
            NdpOption::Rdnss { .. } => option_type::RDNSS,
            NdpOption::Unknown { kind, .. } => *kind,
        }
    }

    /// Decodes one option from its type and its data (the bytes after the
    /// type and length).
    fn decode(kind: u8, data: &'a [u8]) -> Result<Self> {
        Ok(match kind {
            option_type::SOURCE_LINK_LAYER_ADDR => NdpOption::SourceLinkLayerAddr(data),
            option_type::TARGET_LINK_LAYER_ADDR => NdpOption::TargetLinkLayerAddr(data),
            option_type::PREFIX_INFORMATION => {
                if data.len() != 30 {
                    return Err(Error::Malformed(
                        "prefix information option length is not 4",
                    ));
                }
                let flags = bytes::u8_at(data, 1, "prefix information flags")?;
                NdpOption::PrefixInformation(PrefixInfo {
                    prefix_len: bytes::u8_at(data, 0, "prefix length")?,
                    on_link: flags & PREFIX_FLAG_ON_LINK != 0,
                    autonomous: flags & PREFIX_FLAG_AUTONOMOUS != 0,
                    router_address: flags & PREFIX_FLAG_ROUTER_ADDRESS != 0,
                    valid_lifetime: bytes::u32_at(data, 2, "valid lifetime")?,
                    preferred_lifetime: bytes::u32_at(data, 6, "preferred lifetime")?,
                    prefix: bytes::ipv6_at(data, 14, "prefix")?,
                })
            }
            // Six reserved bytes, then the quoted packet.
            option_type::REDIRECTED_HEADER => NdpOption::RedirectedHeader(bytes::tail(data, 6)),
            option_type::MTU => {
                if data.len() != 6 {
                    return Err(Error::Malformed("MTU option length is not 1"));
                }
                NdpOption::Mtu(bytes::u32_at(data, 2, "MTU")?)
            }
            option_type::RDNSS => {
                // Length 1 + 2n (n >= 1) in units of 8: data is 6 + 16n bytes.
                if data.len() < 22 || (data.len() - 6) % 16 != 0 {
                    return Err(Error::Malformed(
                        "RDNSS option length is not 1 + 2n with n >= 1",
                    ));
                }
                NdpOption::Rdnss {
                    lifetime: bytes::u32_at(data, 2, "RDNSS lifetime")?,
                    servers: Ipv6Addrs::from_wire(data, 6, (data.len() - 6) / 16, "RDNSS servers")?,
                }
            }
            kind => NdpOption::Unknown { kind, data },
        })
    }

    /// Bytes of data this option carries before padding (after type and
    /// length).
    fn data_len(&self) -> usize {
        match self {
            NdpOption::SourceLinkLayerAddr(a) | NdpOption::TargetLinkLayerAddr(a) => a.len(),
            NdpOption::PrefixInformation(_) => 30,
            NdpOption::RedirectedHeader(h) => 6 + h.len(),
            NdpOption::Mtu(_) => 6,
            NdpOption::Rdnss { servers, .. } => 6 + servers.buffer_len(),
            NdpOption::Unknown { data, .. } => data.len(),
        }
    }

    /// Bytes the option takes on the wire: type, length, data, padded to a
    /// multiple of 8.
    pub fn buffer_len(&self) -> usize {
        (2 + self.data_len()).div_ceil(8) * 8
    }

    /// Writes the option at the start of `buf`, padding with zeros, and
    /// returns the bytes written.
    ///
    /// `Malformed` when the option is longer than the 8-bit length field
    /// allows (2040 bytes) or has no data room at all.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        if len > 255 * 8 {
            return Err(Error::Malformed("NDP option longer than 2040 bytes"));
        }
        if matches!(self, NdpOption::Rdnss { servers, .. } if servers.is_empty()) {
            return Err(Error::Malformed("RDNSS option without a server"));
        }
        bytes::check_room(buf, len)?;
        bytes::zero(buf, 0, len);
        bytes::put_u8(buf, 0, self.kind());
        bytes::put_u8(buf, 1, (len / 8) as u8);
        match self {
            NdpOption::SourceLinkLayerAddr(a) | NdpOption::TargetLinkLayerAddr(a) => {
                bytes::put_bytes(buf, 2, a)
            }
            NdpOption::PrefixInformation(p) => {
                let mut flags = 0;
                if p.on_link {
                    flags |= PREFIX_FLAG_ON_LINK;
                }
                if p.autonomous {
                    flags |= PREFIX_FLAG_AUTONOMOUS;
                }
                if p.router_address {
                    flags |= PREFIX_FLAG_ROUTER_ADDRESS;
                }
                bytes::put_u8(buf, 2, p.prefix_len);
                bytes::put_u8(buf, 3, flags);
                bytes::put_u32(buf, 4, p.valid_lifetime);
                bytes::put_u32(buf, 8, p.preferred_lifetime);
                bytes::put_bytes(buf, 16, &p.prefix.octets());
            }
            NdpOption::RedirectedHeader(h) => bytes::put_bytes(buf, 8, h),
            NdpOption::Mtu(mtu) => bytes::put_u32(buf, 4, *mtu),
            NdpOption::Rdnss { lifetime, servers } => {
                bytes::put_u32(buf, 4, *lifetime);
                servers.emit(buf, 8);
            }
            NdpOption::Unknown { data, .. } => bytes::put_bytes(buf, 2, data),
        }
        Ok(len)
    }
}

/// A zero-copy list of NDP options: the option area of a parsed message,
/// or a caller's slice of [`NdpOption`]s to emit.
///
/// Two lists are equal when they yield the same items.
#[derive(Clone, Copy)]
pub struct NdpOptions<'a>(Inner<'a>);

#[derive(Clone, Copy)]
enum Inner<'a> {
    /// The option area of a packet, whose framing (non-zero lengths that
    /// fit) has been checked.
    Wire(&'a [u8]),
    /// Options given by a caller.
    Built(&'a [NdpOption<'a>]),
}

impl<'a> NdpOptions<'a> {
    /// No options.
    pub const EMPTY: NdpOptions<'static> = NdpOptions(Inner::Built(&[]));

    /// A list to emit, from the caller's options.
    pub const fn new(options: &'a [NdpOption<'a>]) -> Self {
        NdpOptions(Inner::Built(options))
    }

    /// The options in the option area `area` (everything after a message's
    /// fixed part).
    ///
    /// Checks the framing only: an option of length zero or one that runs
    /// past the end is an error (RFC 4861 §4.6: such packets are
    /// discarded), while an option whose content is wrong for its type
    /// shows as an `Err` item when iterating.
    pub fn parse(area: &'a [u8]) -> Result<Self> {
        let mut rest = area;
        while !rest.is_empty() {
            let (_, _, len) = frame(rest)?;
            rest = bytes::tail(rest, len);
        }
        Ok(NdpOptions(Inner::Wire(area)))
    }

    /// The options, in order; an option that cannot be decoded is an `Err`
    /// item.
    pub fn iter(&self) -> NdpOptionIter<'a> {
        match self.0 {
            Inner::Wire(area) => NdpOptionIter::wire(area),
            Inner::Built(list) => NdpOptionIter(IterInner::Built(list.iter())),
        }
    }

    /// True when there is no option.
    pub fn is_empty(&self) -> bool {
        match self.0 {
            Inner::Wire(area) => area.is_empty(),
            Inner::Built(list) => list.is_empty(),
        }
    }

    /// The first source link-layer address option's address.
    pub fn source_link_layer_addr(&self) -> Option<&'a [u8]> {
        self.iter().find_map(|o| match o {
            Ok(NdpOption::SourceLinkLayerAddr(a)) => Some(a),
            _ => None,
        })
    }

    /// The first target link-layer address option's address.
    pub fn target_link_layer_addr(&self) -> Option<&'a [u8]> {
        self.iter().find_map(|o| match o {
            Ok(NdpOption::TargetLinkLayerAddr(a)) => Some(a),
            _ => None,
        })
    }

    /// Bytes the options take on the wire.
    pub fn buffer_len(&self) -> usize {
        match self.0 {
            Inner::Wire(area) => area.len(),
            Inner::Built(list) => list.iter().map(NdpOption::buffer_len).sum(),
        }
    }

    /// Writes the options at the start of `buf`; returns the bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        bytes::check_room(buf, self.buffer_len())?;
        match self.0 {
            Inner::Wire(area) => {
                bytes::put_bytes(buf, 0, area);
                Ok(area.len())
            }
            Inner::Built(list) => {
                let mut at = 0;
                for option in list {
                    at += option.emit(bytes::tail_mut(buf, at))?;
                }
                Ok(at)
            }
        }
    }
}

impl<'a> IntoIterator for NdpOptions<'a> {
    type Item = Result<NdpOption<'a>>;
    type IntoIter = NdpOptionIter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl PartialEq for NdpOptions<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for NdpOptions<'_> {}

impl fmt::Debug for NdpOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Iterator over [`NdpOptions`].
///
/// On the wire, an option of length zero or one running past the end
/// yields one `Err` and ends the iteration (the rest cannot be framed); an
/// option whose content does not fit its type yields an `Err` and the
/// iteration goes on.
#[derive(Clone, Debug)]
pub struct NdpOptionIter<'a>(IterInner<'a>);

#[derive(Clone, Debug)]
enum IterInner<'a> {
    Wire { rest: &'a [u8] },
    Built(core::slice::Iter<'a, NdpOption<'a>>),
}

impl<'a> NdpOptionIter<'a> {
    /// Iterates the options in a raw option area, framing errors included
    /// (for areas not checked by [`NdpOptions::parse`]).
    pub fn new(area: &'a [u8]) -> Self {
        Self::wire(area)
    }

    fn wire(area: &'a [u8]) -> Self {
        NdpOptionIter(IterInner::Wire { rest: area })
    }
}

impl<'a> Iterator for NdpOptionIter<'a> {
    type Item = Result<NdpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = match &mut self.0 {
            IterInner::Built(it) => return it.next().copied().map(Ok),
            IterInner::Wire { rest } => rest,
        };
        if rest.is_empty() {
            return None;
        }
        let framed = frame(rest);
        match framed {
            Ok((kind, data, len)) => {
                *rest = bytes::tail(rest, len);
                Some(NdpOption::decode(kind, data))
            }
            Err(e) => {
                // Without a usable length the next option cannot be found.
                *rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// Splits the option at the start of `area` into (type, data, total length).
fn frame(area: &[u8]) -> Result<(u8, &[u8], usize)> {
    let kind = bytes::u8_at(area, 0, "NDP option type")?;
    let units = bytes::u8_at(area, 1, "NDP option length")?;
    if units == 0 {
        return Err(Error::Malformed("NDP option with length zero"));
    }
    let len = usize::from(units) * 8;
    let whole = bytes::slice(area, 0, len, "NDP option")?;
    Ok((kind, bytes::tail(whole, 2), len))
}

/// Router advertisement flags (RFC 4861 §4.2, RFC 4191 §2.2, RFC 3775,
/// RFC 4389): the byte after the current hop limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RouterFlags(pub u8);

impl RouterFlags {
    /// M: addresses are available via DHCPv6.
    pub const MANAGED: RouterFlags = RouterFlags(0x80);
    /// O: other configuration is available via DHCPv6.
    pub const OTHER: RouterFlags = RouterFlags(0x40);
    /// H: the router is a Mobile IPv6 home agent.
    pub const HOME_AGENT: RouterFlags = RouterFlags(0x20);
    /// P: ND proxy (RFC 4389).
    pub const PROXY: RouterFlags = RouterFlags(0x04);

    /// True when every bit of `other` is set.
    pub fn contains(self, other: RouterFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The default router preference (RFC 4191): 1 high, 0 medium, 3 low,
    /// 2 reserved.
    pub fn preference(self) -> u8 {
        (self.0 >> 3) & 0x3
    }

    /// The name of [`preference`](Self::preference).
    pub fn preference_name(self) -> &'static str {
        match self.preference() {
            0 => "medium",
            1 => "high",
            3 => "low",
            _ => "reserved",
        }
    }
}

impl core::ops::BitOr for RouterFlags {
    type Output = RouterFlags;
    fn bitor(self, rhs: RouterFlags) -> RouterFlags {
        RouterFlags(self.0 | rhs.0)
    }
}

/// Neighbor advertisement flags (RFC 4861 §4.4): the top bits of the byte
/// after the checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NeighborFlags(pub u8);

impl NeighborFlags {
    /// R: the sender is a router.
    pub const ROUTER: NeighborFlags = NeighborFlags(0x80);
    /// S: sent in response to a neighbor solicitation.
    pub const SOLICITED: NeighborFlags = NeighborFlags(0x40);
    /// O: override an existing cache entry.
    pub const OVERRIDE: NeighborFlags = NeighborFlags(0x20);

    /// True when every bit of `other` is set.
    pub fn contains(self, other: NeighborFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl core::ops::BitOr for NeighborFlags {
    type Output = NeighborFlags;
    fn bitor(self, rhs: NeighborFlags) -> NeighborFlags {
        NeighborFlags(self.0 | rhs.0)
    }
}

//! Link layers of capture files: where the IP packet starts in a frame.

use crate::encap::Carrier;

/// Link-layer header types (tcpdump.org/linktypes.html) that decode reads.
pub mod linktype {
    /// BSD loopback: a 4-byte address family in host order.
    pub const NULL: u32 = 0;
    /// Ethernet II (with 802.1Q / 802.1ad tags).
    pub const ETHERNET: u32 = 1;
    /// PPP: a 2-byte protocol (after 0xff 0x03 when the address and
    /// control fields were kept).
    pub const PPP: u32 = 9;
    /// PPP in HDLC-like framing (RFC 1662), or Cisco HDLC framing.
    pub const PPP_HDLC: u32 = 50;
    /// Raw IP (the number some BSDs use for DLT_RAW).
    pub const RAW_BSD: u32 = 12;
    /// Raw IP (OpenBSD's DLT_RAW).
    pub const RAW_OPENBSD: u32 = 14;
    /// Raw IPv4 or IPv6, by the version nibble.
    pub const RAW: u32 = 101;
    /// Cisco HDLC: address, control, and an Ethernet type.
    pub const C_HDLC: u32 = 104;
    /// OpenBSD loopback: a 4-byte address family in network order.
    pub const LOOP: u32 = 108;
    /// Linux "cooked" capture v1 (`tcpdump -i any`).
    pub const LINUX_SLL: u32 = 113;
    /// Linux ARCNET: source, destination, a 2-byte offset, then an ARCNET
    /// protocol id.
    pub const ARCNET_LINUX: u32 = 129;
    /// Solaris IPNET: a 24-byte header whose second byte is the address
    /// family.
    pub const IPNET: u32 = 226;
    /// IP over InfiniBand: RFC 4391's header (a 2-byte Ethernet type, 2
    /// reserved), alone as libpcap defines it or after the 40 bytes of
    /// addresses Linux captures carry (what tshark reads).
    pub const IPOIB: u32 = 242;
    /// Raw IPv4.
    pub const IPV4: u32 = 228;
    /// Raw IPv6.
    pub const IPV6: u32 = 229;
    /// Linux "cooked" capture v2.
    pub const LINUX_SLL2: u32 = 276;
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
const ETHERTYPE_MPLS: u16 = 0x8847;
const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
/// IEEE 802.1AE MACsec.
const ETHERTYPE_MACSEC: u16 = 0x88e5;
/// MACsec's TCI bits: an SCI is present; the data is encrypted (E) or
/// changed (C), so not readable without the key.
const MACSEC_SC: u8 = 0x20;
const MACSEC_E: u8 = 0x08;
const MACSEC_C: u8 = 0x04;
/// The SecTAG after its Ethernet type: TCI/AN, short length, packet
/// number; then the optional SCI.
const MACSEC_TAG_LEN: usize = 6;
const MACSEC_SCI_LEN: usize = 8;
/// The integrity check value that ends a MACsec frame.
const MACSEC_ICV_LEN: usize = 16;
const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;
const PPP_MPLS: u16 = 0x0281;
const PPP_MPLS_MULTICAST: u16 = 0x0283;
/// PPP's address and control fields (RFC 1662), when kept.
const PPP_ADDRESS_CONTROL: [u8; 2] = [0xff, 0x03];
/// Cisco HDLC's address byte: unicast, multicast.
const CISCO_HDLC_ADDRESSES: [u8; 2] = [0x0f, 0x8f];
const CISCO_HDLC_HEADER_LEN: usize = 4;
const IPOIB_HEADER_LEN: usize = 4;
/// Linux's addresses (a global route header, or 20 bytes then the
/// destination's QPN and GID) before RFC 4391's header.
const IPOIB_LINUX_ADDRESSES_LEN: usize = 40;
const IPNET_HEADER_LEN: usize = 24;
/// Solaris IPNET's address families.
const IPNET_AF_INET: u8 = 2;
const IPNET_AF_INET6: u8 = 26;
/// ARCNET protocol ids: IPv4 (RFC 1201), IPv6 (RFC 2497), IPv4 (RFC 1051,
/// no fragmentation header).
const ARCNET_IP: u8 = 0xd4;
const ARCNET_IPV6: u8 = 0xc4;
const ARCNET_IP_RFC1051: u8 = 0xf0;
/// Linux ARCNET's header before the protocol id.
const ARCNET_LINUX_HEADER_LEN: usize = 4;
/// RFC 1201's split flag and sequence number after the protocol id.
const ARCNET_RFC1201_LEN: usize = 3;
/// The split flag of an RFC 1201 exception packet, whose 4 extra bytes
/// repeat the header.
const ARCNET_EXCEPTION: u8 = 0xff;
const ARCNET_EXCEPTION_LEN: usize = 4;
/// The most MPLS labels read before giving up (a stack this deep is
/// garbage).
const MAX_MPLS_LABELS: usize = 16;
const MPLS_ENTRY_LEN: usize = 4;
const ETHERNET_HEADER_LEN: usize = 14;
const VLAN_TAG_LEN: usize = 4;
const SLL_HEADER_LEN: usize = 16;
const SLL2_HEADER_LEN: usize = 20;

/// Whether decode knows `linktype`.
pub fn supported(linktype: u32) -> bool {
    use linktype::*;
    matches!(
        linktype,
        NULL | ETHERNET
            | PPP
            | PPP_HDLC
            | RAW_BSD
            | RAW_OPENBSD
            | RAW
            | C_HDLC
            | LOOP
            | LINUX_SLL
            | ARCNET_LINUX
            | IPNET
            | IPV4
            | IPV6
            | IPOIB
            | LINUX_SLL2
    )
}

/// The pcap name of `linktype` (tcpdump.org/linktypes.html, without its
/// `LINKTYPE_` prefix): `IEEE802_11_RADIOTAP`, `USB_LINUX`... `None` for
/// a number not listed here (`USER0`-`USER15` are named as such).
pub fn linktype_name(linktype: u32) -> Option<&'static str> {
    const USER: [&str; 16] = [
        "USER0", "USER1", "USER2", "USER3", "USER4", "USER5", "USER6", "USER7", "USER8", "USER9",
        "USER10", "USER11", "USER12", "USER13", "USER14", "USER15",
    ];
    Some(match linktype {
        0 => "NULL",
        1 => "ETHERNET",
        3 => "AX25",
        6 => "IEEE802_5",
        7 => "ARCNET_BSD",
        8 => "SLIP",
        9 => "PPP",
        10 => "FDDI",
        50 => "PPP_HDLC",
        51 => "PPP_ETHER",
        100 => "ATM_RFC1483",
        101 => "RAW",
        104 => "C_HDLC",
        105 => "IEEE802_11",
        107 => "FRELAY",
        108 => "LOOP",
        113 => "LINUX_SLL",
        114 => "LTALK",
        117 => "PFLOG",
        119 => "IEEE802_11_PRISM",
        122 => "IP_OVER_FC",
        123 => "SUNATM",
        127 => "IEEE802_11_RADIOTAP",
        129 => "ARCNET_LINUX",
        138 => "APPLE_IP_OVER_IEEE1394",
        139 => "MTP2_WITH_PHDR",
        140 => "MTP2",
        141 => "MTP3",
        142 => "SCCP",
        143 => "DOCSIS",
        144 => "LINUX_IRDA",
        163 => "IEEE802_11_AVS",
        165 => "BACNET_MS_TP",
        166 => "PPP_PPPD",
        169 => "GPRS_LLC",
        177 => "LINUX_LAPD",
        187 => "BLUETOOTH_HCI_H4",
        189 => "USB_LINUX",
        192 => "PPI",
        195 => "IEEE802_15_4_WITHFCS",
        196 => "SITA",
        197 => "ERF",
        201 => "BLUETOOTH_HCI_H4_WITH_PHDR",
        202 => "AX25_KISS",
        203 => "LAPD",
        204 => "PPP_WITH_DIR",
        205 => "C_HDLC_WITH_DIR",
        206 => "FRELAY_WITH_DIR",
        209 => "IPMB_LINUX",
        215 => "IEEE802_15_4_NONASK_PHY",
        220 => "USB_LINUX_MMAPPED",
        224 => "FC_2",
        225 => "FC_2_WITH_FRAME_DELIMS",
        226 => "IPNET",
        227 => "CAN_SOCKETCAN",
        228 => "IPV4",
        229 => "IPV6",
        230 => "IEEE802_15_4_NOFCS",
        231 => "DBUS",
        235 => "DVB_CI",
        239 => "NFLOG",
        240 => "NETANALYZER",
        241 => "NETANALYZER_TRANSPARENT",
        242 => "IPOIB",
        243 => "MPEG_2_TS",
        247 => "INFINIBAND",
        248 => "SCTP",
        249 => "USBPCAP",
        251 => "BLUETOOTH_LE_LL",
        253 => "NETLINK",
        254 => "BLUETOOTH_LINUX_MONITOR",
        256 => "BLUETOOTH_LE_LL_WITH_PHDR",
        258 => "PKTAP",
        259 => "EPON",
        266 => "USB_DARWIN",
        270 => "LORATAP",
        271 => "VSOCK",
        272 => "NORDIC_BLE",
        274 => "ETHERNET_MPACKET",
        276 => "LINUX_SLL2",
        283 => "IEEE802_15_4_TAP",
        288 => "USB_2_0",
        147..=162 => USER[(linktype - 147) as usize],
        _ => return None,
    })
}

/// The IP packet inside a frame of `linktype`, `None` when the frame
/// carries something else (ARP, LLDP...) or is too short to say.
pub fn ip_packet(linktype: u32, frame: &[u8]) -> Option<&[u8]> {
    use linktype::*;
    match linktype {
        ETHERNET => ethernet_payload(frame),
        RAW | RAW_BSD | RAW_OPENBSD | IPV4 | IPV6 => Some(frame),
        // The address family's number differs between systems (AF_INET6 is
        // 10, 24, 28 or 30): the IP version nibble says it just as well.
        NULL | LOOP => frame.get(4..),
        LINUX_SLL => ip_by_ethertype(be16(frame, 14)?, frame.get(SLL_HEADER_LEN..)?),
        LINUX_SLL2 => ip_by_ethertype(be16(frame, 0)?, frame.get(SLL2_HEADER_LEN..)?),
        PPP => ppp_payload(frame),
        // tcpdump writes Cisco HDLC framed PPP links under this number too.
        PPP_HDLC if CISCO_HDLC_ADDRESSES.contains(frame.first()?) => cisco_hdlc_payload(frame),
        PPP_HDLC => ppp_payload(frame),
        C_HDLC => cisco_hdlc_payload(frame),
        IPOIB => ipoib_payload(frame),
        IPNET => ipnet_payload(frame),
        ARCNET_LINUX => arcnet_linux_payload(frame),
        _ => None,
    }
}

/// A PPP frame's IP packet (directly or under MPLS), past the address and
/// control fields when present and a compressed (1-byte) protocol.
fn ppp_payload(frame: &[u8]) -> Option<&[u8]> {
    let frame = frame.strip_prefix(&PPP_ADDRESS_CONTROL).unwrap_or(frame);
    // An odd first byte is a compressed protocol (RFC 1661 §6.5).
    let (protocol, rest) = match *frame.first()? {
        odd if odd & 1 == 1 => (u16::from(odd), frame.get(1..)?),
        _ => (be16(frame, 0)?, frame.get(2..)?),
    };
    match protocol {
        PPP_IPV4 | PPP_IPV6 => Some(rest),
        PPP_MPLS | PPP_MPLS_MULTICAST => mpls_payload(rest),
        _ => None,
    }
}

/// Solaris IPNET: the packet after the header, as long as its data length
/// field says (tshark reads no further).
fn ipnet_payload(frame: &[u8]) -> Option<&[u8]> {
    if !matches!(*frame.get(1)?, IPNET_AF_INET | IPNET_AF_INET6) {
        return None;
    }
    let data_len = u32::from_be_bytes(frame.get(4..8)?.try_into().ok()?);
    let payload = frame.get(IPNET_HEADER_LEN..)?;
    Some(payload.get(..data_len as usize).unwrap_or(payload))
}

/// IP over InfiniBand: RFC 4391's header first when it starts with an
/// IP or MPLS type (an address there would have to begin so), else after
/// Linux's 40 bytes of addresses.
fn ipoib_payload(frame: &[u8]) -> Option<&[u8]> {
    let start = match be16(frame, 0)? {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 | ETHERTYPE_MPLS | ETHERTYPE_MPLS_MULTICAST => 0,
        _ => IPOIB_LINUX_ADDRESSES_LEN,
    };
    let header_end = start + IPOIB_HEADER_LEN;
    ip_by_ethertype(be16(frame, start)?, frame.get(header_end..)?)
}

fn cisco_hdlc_payload(frame: &[u8]) -> Option<&[u8]> {
    ip_by_ethertype(be16(frame, 2)?, frame.get(CISCO_HDLC_HEADER_LEN..)?)
}

/// Linux ARCNET: the IP packet after the protocol id, and for RFC 1201's
/// protocols its split flag and sequence number (and an exception
/// packet's repeated header).
fn arcnet_linux_payload(frame: &[u8]) -> Option<&[u8]> {
    let protocol = *frame.get(ARCNET_LINUX_HEADER_LEN)?;
    let rest = frame.get(ARCNET_LINUX_HEADER_LEN + 1..)?;
    match protocol {
        ARCNET_IP_RFC1051 => Some(rest),
        ARCNET_IP | ARCNET_IPV6 => {
            let skip = match *rest.first()? {
                ARCNET_EXCEPTION => ARCNET_RFC1201_LEN + ARCNET_EXCEPTION_LEN,
                _ => ARCNET_RFC1201_LEN,
            };
            rest.get(skip..)
        }
        _ => None,
    }
}

/// What an MPLS label stack carries, when it is IP: the stack is read to
/// its bottom-of-stack bit, and the payload told by its version nibble
/// (MPLS names no payload type; a pseudowire's control word starts with
/// 0 and is not IP).
pub fn mpls_payload(stack: &[u8]) -> Option<&[u8]> {
    for depth in 0..MAX_MPLS_LABELS {
        let entry = stack.get(depth * MPLS_ENTRY_LEN..(depth + 1) * MPLS_ENTRY_LEN)?;
        if entry[2] & 1 == 1 {
            let payload = stack.get((depth + 1) * MPLS_ENTRY_LEN..)?;
            return matches!(payload.first()? >> 4, 4 | 6).then_some(payload);
        }
    }
    None
}

/// The payload of an Ethernet II frame when it is IP, past any VLAN tags
/// and an integrity-only MACsec SecTAG (802.1AE without encryption: the
/// data is as sent, followed by the ICV; an encrypted frame is not IP to
/// anyone without the key).
pub fn ethernet_payload(frame: &[u8]) -> Option<&[u8]> {
    ethernet_payload_macsec(frame).map(|(payload, _)| payload)
}

/// [`ip_packet`], and the MACsec that carried it when the frame was an
/// integrity-only MACsec one (Ethernet captures).
pub fn ip_packet_carried(linktype: u32, frame: &[u8]) -> Option<(&[u8], Option<Carrier>)> {
    if linktype == linktype::ETHERNET {
        let (payload, macsec) = ethernet_payload_macsec(frame)?;
        return Some((payload, macsec.then_some(Carrier::new("MACsec"))));
    }
    Some((ip_packet(linktype, frame)?, None))
}

/// [`ethernet_payload`], and whether a MACsec SecTAG was read through.
fn ethernet_payload_macsec(frame: &[u8]) -> Option<(&[u8], bool)> {
    let mut frame = frame;
    let mut at = 12;
    let mut macsec = false;
    loop {
        let ethertype = be16(frame, at)?;
        match ethertype {
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD => at += VLAN_TAG_LEN,
            ETHERTYPE_MACSEC if !macsec => {
                macsec = true;
                let (tag_len, data_end) = macsec_tag(frame, at + 2)?;
                frame = frame.get(..data_end)?;
                at += 2 + tag_len;
            }
            _ => return Some((ip_by_ethertype(ethertype, frame.get(at + 2..)?)?, macsec)),
        }
        if at > ETHERNET_HEADER_LEN + 4 * VLAN_TAG_LEN + MACSEC_TAG_LEN + MACSEC_SCI_LEN {
            return None;
        }
    }
}

/// A MACsec SecTAG starting at `at` (past its Ethernet type): its length
/// (the protected frame's Ethernet type follows it), and where the
/// protected data ends (before the ICV; the short length says so for
/// short frames).
/// `None` for an encrypted or changed frame, or one cut short.
fn macsec_tag(frame: &[u8], at: usize) -> Option<(usize, usize)> {
    let tci = *frame.get(at)?;
    if tci & (MACSEC_E | MACSEC_C) != 0 {
        return None;
    }
    let short_len = usize::from(*frame.get(at + 1)? & 0x3f);
    let tag_len = MACSEC_TAG_LEN
        + if tci & MACSEC_SC != 0 {
            MACSEC_SCI_LEN
        } else {
            0
        };
    let data_start = at + tag_len;
    let data_end = match short_len {
        0 => frame.len().checked_sub(MACSEC_ICV_LEN)?,
        n => data_start + n,
    };
    (data_end >= data_start + 2).then_some((tag_len, data_end))
}

/// The IP packet a payload of `ethertype` is (IPv4, IPv6, or under an
/// MPLS label stack); `None` for anything else.
pub fn ip_by_ethertype(ethertype: u16, payload: &[u8]) -> Option<&[u8]> {
    match ethertype {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Some(payload),
        ETHERTYPE_MPLS | ETHERTYPE_MPLS_MULTICAST => mpls_payload(payload),
        _ => None,
    }
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]))
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec;
    use std::vec::Vec;

    /// Integrity-only MACsec (with and without an SCI) is read through;
    /// an encrypted frame is not IP.
    #[test]
    fn macsec_integrity_only_is_read_encrypted_is_not() {
        let ip = [0x45u8, 0, 0, 4];
        let icv = [0xaa; MACSEC_ICV_LEN];
        let frame = |tci: u8, sci: &[u8]| {
            let mut f = vec![0u8; 12];
            f.extend_from_slice(&[0x88, 0xe5, tci, 0, 0, 0, 0, 1]);
            f.extend_from_slice(sci);
            f.extend_from_slice(&[0x08, 0x00]);
            f.extend_from_slice(&ip);
            f.extend_from_slice(&icv);
            f
        };
        let with_sci = frame(MACSEC_SC, &[1, 2, 3, 4, 5, 6, 0, 1]);
        assert_eq!(ethernet_payload(&with_sci), Some(&ip[..]));
        let without = frame(0, &[]);
        assert_eq!(ethernet_payload(&without), Some(&ip[..]));
        let encrypted = frame(MACSEC_SC | MACSEC_E | MACSEC_C, &[1, 2, 3, 4, 5, 6, 0, 1]);
        assert_eq!(ethernet_payload(&encrypted), None);
        assert_eq!(ethernet_payload(&with_sci[..20]), None);
    }

    #[test]
    fn link_types_have_their_pcap_names() {
        assert_eq!(linktype_name(127), Some("IEEE802_11_RADIOTAP"));
        assert_eq!(linktype_name(220), Some("USB_LINUX_MMAPPED"));
        assert_eq!(linktype_name(149), Some("USER2"));
        assert_eq!(linktype_name(linktype::LINUX_SLL2), Some("LINUX_SLL2"));
        assert_eq!(linktype_name(65_000), None);
    }

    #[test]
    fn ethernet_with_and_without_vlan_tags() {
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x08, 0x00, 0x45, 0x00]);
        assert_eq!(ethernet_payload(&frame), Some(&[0x45, 0][..]));
        let mut tagged = vec![0u8; 12];
        tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x05, 0x86, 0xdd, 0x60]);
        assert_eq!(ethernet_payload(&tagged), Some(&[0x60][..]));
        let mut arp = vec![0u8; 12];
        arp.extend_from_slice(&[0x08, 0x06, 0, 1]);
        assert_eq!(ethernet_payload(&arp), None);
        assert_eq!(ethernet_payload(&[0u8; 5]), None);
        // A frame of nothing but VLAN tags ends, it does not loop.
        let mut tags = vec![0u8; 12];
        for _ in 0..20 {
            tags.extend_from_slice(&[0x81, 0x00, 0, 0]);
        }
        assert_eq!(ethernet_payload(&tags), None);
    }

    const IP: [u8; 2] = [0x45, 0x00];

    fn framed(header: &[u8]) -> Vec<u8> {
        [header, &IP].concat()
    }

    #[test]
    fn ppp_and_hdlc_framings() {
        use linktype::*;
        let ip = Some(&IP[..]);
        assert_eq!(ip_packet(PPP, &framed(&[0x00, 0x21])), ip);
        assert_eq!(ip_packet(PPP, &framed(&[0xff, 0x03, 0x00, 0x21])), ip);
        assert_eq!(ip_packet(PPP, &framed(&[0x21])), ip, "compressed protocol");
        assert_eq!(ip_packet(PPP_HDLC, &framed(&[0xff, 0x03, 0x00, 0x57])), ip);
        assert_eq!(ip_packet(PPP_HDLC, &framed(&[0x0f, 0x00, 0x08, 0x00])), ip);
        assert_eq!(ip_packet(C_HDLC, &framed(&[0x8f, 0x00, 0x86, 0xdd])), ip);
        // LCP, and frames too short to say: not IP, no panic.
        assert_eq!(ip_packet(PPP, &framed(&[0xc0, 0x21])), None);
        for short in [&[][..], &[0xff], &[0xff, 0x03, 0x00], &[0x0f, 0x00]] {
            assert_eq!(ip_packet(PPP_HDLC, short), None);
            assert_eq!(ip_packet(C_HDLC, short), None);
        }
    }

    #[test]
    fn mpls_stacks_over_ppp_and_ethernet() {
        // Two labels, the second with the bottom-of-stack bit.
        let stack = [0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40];
        let ppp = [&[0x02, 0x81][..], &stack, &IP].concat();
        assert_eq!(ip_packet(linktype::PPP, &ppp), Some(&IP[..]));
        let mut ethernet = vec![0u8; 12];
        ethernet.extend_from_slice(&[0x88, 0xa8, 0, 1, 0x81, 0x00, 0, 2, 0x88, 0x47]);
        ethernet.extend_from_slice(&stack);
        ethernet.extend_from_slice(&IP);
        assert_eq!(ethernet_payload(&ethernet), Some(&IP[..]), "QinQ + MPLS");
        // No bottom of stack, or a pseudowire control word: not IP.
        assert_eq!(mpls_payload(&[0u8; 80]), None);
        assert_eq!(mpls_payload(&[0, 0, 1, 0, 0, 0, 0, 0]), None);
    }

    #[test]
    fn ipoib_ipnet_and_arcnet() {
        use linktype::*;
        let ip = Some(&IP[..]);
        assert_eq!(ip_packet(IPOIB, &framed(&[0x08, 0x00, 0, 0])), ip);
        let mut linux = [0u8; 44];
        linux[40] = 0x08;
        assert_eq!(ip_packet(IPOIB, &framed(&linux)), ip);
        assert_eq!(ip_packet(IPOIB, &linux[..30]), None);
        let mut ipnet = [0u8; 24];
        ipnet[1] = IPNET_AF_INET6;
        ipnet[7] = 2;
        assert_eq!(ip_packet(IPNET, &framed(&ipnet)), ip);
        ipnet[7] = 1; // the data length field cuts
        assert_eq!(ip_packet(IPNET, &framed(&ipnet)), Some(&IP[..1]));
        ipnet[1] = 99;
        assert_eq!(ip_packet(IPNET, &framed(&ipnet)), None);
        // source, destination, offset, protocol, split flag, sequence.
        let arcnet = [1, 2, 0, 0, ARCNET_IP, 0, 0, 1];
        assert_eq!(ip_packet(ARCNET_LINUX, &framed(&arcnet)), ip);
        let exception = [1, 2, 0, 0, ARCNET_IP, 0xff, 0, 1, 0xd4, 0xff, 0xff, 0xff];
        assert_eq!(ip_packet(ARCNET_LINUX, &framed(&exception)), ip);
        assert_eq!(
            ip_packet(ARCNET_LINUX, &framed(&[1, 2, 0, 0, ARCNET_IP_RFC1051])),
            ip
        );
        assert_eq!(ip_packet(ARCNET_LINUX, &[1, 2, 0]), None);
    }

    #[test]
    fn linux_cooked_v1_and_v2() {
        let mut sll = vec![0u8; 16];
        sll[14] = 0x08;
        sll.push(0x45);
        assert_eq!(ip_packet(linktype::LINUX_SLL, &sll), Some(&[0x45][..]));
        let mut sll2 = vec![0u8; 20];
        sll2[0] = 0x86;
        sll2[1] = 0xdd;
        sll2.push(0x60);
        assert_eq!(ip_packet(linktype::LINUX_SLL2, &sll2), Some(&[0x60][..]));
        assert_eq!(ip_packet(linktype::LINUX_SLL2, &sll2[..10]), None);
        assert_eq!(ip_packet(9999, &sll2), None);
    }
}

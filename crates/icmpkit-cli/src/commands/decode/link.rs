//! Link layers of capture files: where the IP packet starts in a frame.

/// Link-layer header types (tcpdump.org/linktypes.html) that decode reads.
pub mod linktype {
    /// BSD loopback: a 4-byte address family in host order.
    pub const NULL: u32 = 0;
    /// Ethernet II (with 802.1Q / 802.1ad tags).
    pub const ETHERNET: u32 = 1;
    /// Raw IP (the number some BSDs use for DLT_RAW).
    pub const RAW_BSD: u32 = 12;
    /// Raw IP (OpenBSD's DLT_RAW).
    pub const RAW_OPENBSD: u32 = 14;
    /// Raw IPv4 or IPv6, by the version nibble.
    pub const RAW: u32 = 101;
    /// OpenBSD loopback: a 4-byte address family in network order.
    pub const LOOP: u32 = 108;
    /// Linux "cooked" capture v1 (`tcpdump -i any`).
    pub const LINUX_SLL: u32 = 113;
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
const ETHERNET_HEADER_LEN: usize = 14;
const VLAN_TAG_LEN: usize = 4;
const SLL_HEADER_LEN: usize = 16;
const SLL2_HEADER_LEN: usize = 20;

/// Whether decode knows `linktype`.
pub fn supported(linktype: u32) -> bool {
    use linktype::*;
    matches!(
        linktype,
        NULL | ETHERNET | RAW_BSD | RAW_OPENBSD | RAW | LOOP | LINUX_SLL | IPV4 | IPV6 | LINUX_SLL2
    )
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
        _ => None,
    }
}

/// The payload of an Ethernet II frame when it is IP, past any VLAN tags.
pub fn ethernet_payload(frame: &[u8]) -> Option<&[u8]> {
    let mut at = 12;
    loop {
        let ethertype = be16(frame, at)?;
        match ethertype {
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD => at += VLAN_TAG_LEN,
            _ => return ip_by_ethertype(ethertype, frame.get(at + 2..)?),
        }
        if at > ETHERNET_HEADER_LEN + 4 * VLAN_TAG_LEN {
            return None;
        }
    }
}

fn ip_by_ethertype(ethertype: u16, payload: &[u8]) -> Option<&[u8]> {
    matches!(ethertype, ETHERTYPE_IPV4 | ETHERTYPE_IPV6).then_some(payload)
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]))
}

#[cfg(test)]
mod tests {
    use super::*;

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

//! ICMPv6 type and code numbers (IANA "Internet Control Message Protocol
//! version 6 (ICMPv6) Parameters") and their kebab-case names.

/// ICMPv6 message type numbers.
pub mod msg_type {
    /// Destination unreachable (RFC 4443 §3.1).
    pub const DST_UNREACHABLE: u8 = 1;
    /// Packet too big (RFC 4443 §3.2).
    pub const PACKET_TOO_BIG: u8 = 2;
    /// Time exceeded (RFC 4443 §3.3).
    pub const TIME_EXCEEDED: u8 = 3;
    /// Parameter problem (RFC 4443 §3.4).
    pub const PARAM_PROBLEM: u8 = 4;
    /// Echo request (RFC 4443 §4.1).
    pub const ECHO_REQUEST: u8 = 128;
    /// Echo reply (RFC 4443 §4.2).
    pub const ECHO_REPLY: u8 = 129;
    /// Multicast listener query, MLDv1 or MLDv2 (RFC 2710, RFC 3810).
    pub const MLD_QUERY: u8 = 130;
    /// MLDv1 multicast listener report (RFC 2710).
    pub const MLD_REPORT: u8 = 131;
    /// MLDv1 multicast listener done (RFC 2710).
    pub const MLD_DONE: u8 = 132;
    /// Router solicitation (RFC 4861 §4.1).
    pub const ROUTER_SOLICIT: u8 = 133;
    /// Router advertisement (RFC 4861 §4.2).
    pub const ROUTER_ADVERT: u8 = 134;
    /// Neighbor solicitation (RFC 4861 §4.3).
    pub const NEIGHBOR_SOLICIT: u8 = 135;
    /// Neighbor advertisement (RFC 4861 §4.4).
    pub const NEIGHBOR_ADVERT: u8 = 136;
    /// Redirect (RFC 4861 §4.5).
    pub const REDIRECT: u8 = 137;
    /// MLDv2 multicast listener report (RFC 3810 §5.2).
    pub const MLDV2_REPORT: u8 = 143;
    /// Extended echo request (RFC 8335).
    pub const EXTENDED_ECHO_REQUEST: u8 = 160;
    /// Extended echo reply (RFC 8335).
    pub const EXTENDED_ECHO_REPLY: u8 = 161;
}

/// The kebab-case name of an ICMPv6 type, for text and JSON output; `None`
/// for unassigned numbers.
pub fn type_name(msg_type: u8) -> Option<&'static str> {
    Some(match msg_type {
        1 => "destination-unreachable",
        2 => "packet-too-big",
        3 => "time-exceeded",
        4 => "parameter-problem",
        100 | 101 | 200 | 201 => "private-experimentation",
        127 | 255 => "reserved-for-expansion",
        128 => "echo-request",
        129 => "echo-reply",
        130 => "multicast-listener-query",
        131 => "multicast-listener-report",
        132 => "multicast-listener-done",
        133 => "router-solicitation",
        134 => "router-advertisement",
        135 => "neighbor-solicitation",
        136 => "neighbor-advertisement",
        137 => "redirect",
        138 => "router-renumbering",
        139 => "node-information-query",
        140 => "node-information-response",
        141 => "inverse-neighbor-discovery-solicitation",
        142 => "inverse-neighbor-discovery-advertisement",
        143 => "multicast-listener-report-v2",
        144 => "home-agent-address-discovery-request",
        145 => "home-agent-address-discovery-reply",
        146 => "mobile-prefix-solicitation",
        147 => "mobile-prefix-advertisement",
        148 => "certification-path-solicitation",
        149 => "certification-path-advertisement",
        151 => "multicast-router-advertisement",
        152 => "multicast-router-solicitation",
        153 => "multicast-router-termination",
        154 => "fmipv6",
        155 => "rpl-control",
        156 => "ilnpv6-locator-update",
        157 => "duplicate-address-request",
        158 => "duplicate-address-confirmation",
        159 => "mpl-control",
        160 => "extended-echo-request",
        161 => "extended-echo-reply",
        _ => return None,
    })
}

/// The kebab-case name of `code` for ICMPv6 type `msg_type`; `None` when
/// the type has no such named code.
pub fn code_name(msg_type: u8, code: u8) -> Option<&'static str> {
    Some(match (msg_type, code) {
        (1, 0) => "no-route-to-destination",
        (1, 1) => "administratively-prohibited",
        (1, 2) => "beyond-scope-of-source-address",
        (1, 3) => "address-unreachable",
        (1, 4) => "port-unreachable",
        (1, 5) => "source-address-failed-ingress-egress-policy",
        (1, 6) => "reject-route-to-destination",
        (1, 7) => "error-in-source-routing-header",
        (1, 8) => "headers-too-long",
        (3, 0) => "hop-limit-exceeded-in-transit",
        (3, 1) => "fragment-reassembly-time-exceeded",
        (4, 0) => "erroneous-header-field",
        (4, 1) => "unrecognized-next-header",
        (4, 2) => "unrecognized-ipv6-option",
        (4, 3) => "incomplete-header-chain",
        (4, 4) => "sr-upper-layer-header-error",
        (4, 5) => "unrecognized-next-header-by-intermediate-node",
        (4, 6) => "extension-header-too-big",
        (4, 7) => "extension-header-chain-too-long",
        (4, 8) => "too-many-extension-headers",
        (4, 9) => "too-many-options-in-extension-header",
        (4, 10) => "option-too-big",
        // Types with a single code (IANA registers no name for it): the
        // ICMPv4 registry's "No Code", on both families.
        (2 | 128..=137 | 143, 0) => "no-code",
        (138, 0) => "router-renumbering-command",
        (138, 1) => "router-renumbering-result",
        (138, 255) => "sequence-number-reset",
        (139, 0) => "subject-ipv6-address",
        (139, 1) => "subject-name",
        (139, 2) => "subject-ipv4-address",
        (140, 0) => "successful-reply",
        (140, 1) => "refused",
        (140, 2) => "unknown-qtype",
        (160, 0) => "no-error",
        (161, 0) => "no-error",
        (161, 1) => "malformed-query",
        (161, 2) => "no-such-interface",
        (161, 3) => "no-such-table-entry",
        (161, 4) => "multiple-interfaces-satisfy-query",
        _ => return None,
    })
}

use crate::codes::code_enum;
pub use crate::extended_echo::ExtendedEchoCode;

code_enum! {
    /// Destination unreachable codes (RFC 4443 §3.1, RFC 8883).
    pub enum DstUnreachableCode (names: code_name, type: msg_type::DST_UNREACHABLE) {
        /// 0: no route to destination.
        NoRoute = 0,
        /// 1: communication administratively prohibited.
        AdminProhibited = 1,
        /// 2: beyond scope of source address.
        BeyondScope = 2,
        /// 3: address unreachable.
        AddressUnreachable = 3,
        /// 4: port unreachable.
        PortUnreachable = 4,
        /// 5: source address failed ingress/egress policy.
        FailedPolicy = 5,
        /// 6: reject route to destination.
        RejectRoute = 6,
        /// 7: error in source routing header.
        SourceRoutingHeader = 7,
        /// 8: headers too long (RFC 8883).
        HeadersTooLong = 8,
    }
}

code_enum! {
    /// Time exceeded codes (RFC 4443 §3.3).
    pub enum TimeExceededCode (names: code_name, type: msg_type::TIME_EXCEEDED) {
        /// 0: hop limit exceeded in transit (what traceroute sees).
        HopLimitExceeded = 0,
        /// 1: fragment reassembly time exceeded.
        FragReassemblyExceeded = 1,
    }
}

code_enum! {
    /// Parameter problem codes (RFC 4443 §3.4, RFC 7112, RFC 8754, RFC 8883).
    pub enum ParamProblemCode (names: code_name, type: msg_type::PARAM_PROBLEM) {
        /// 0: erroneous header field encountered.
        ErroneousHeaderField = 0,
        /// 1: unrecognized next header type encountered.
        UnrecognizedNextHeader = 1,
        /// 2: unrecognized IPv6 option encountered.
        UnrecognizedOption = 2,
        /// 3: IPv6 first fragment has incomplete IPv6 header chain.
        IncompleteHeaderChain = 3,
        /// 4: SR upper-layer header error.
        SrUpperLayerHeader = 4,
        /// 5: unrecognized next header type encountered by intermediate node.
        UnrecognizedNextHeaderIntermediate = 5,
        /// 6: extension header too big.
        ExtensionHeaderTooBig = 6,
        /// 7: extension header chain too long.
        ExtensionHeaderChainTooLong = 7,
        /// 8: too many extension headers.
        TooManyExtensionHeaders = 8,
        /// 9: too many options in extension header.
        TooManyOptions = 9,
        /// 10: option too big.
        OptionTooBig = 10,
    }
}

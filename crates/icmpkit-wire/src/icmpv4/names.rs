//! ICMPv4 type and code numbers and their kebab-case names (the JSON
//! vocabulary of icmpkit's decoders).

/// Type numbers (IANA "ICMP Type Numbers").
pub mod msg_type {
    /// Echo reply (RFC 792).
    pub const ECHO_REPLY: u8 = 0;
    /// Destination unreachable (RFC 792).
    pub const DST_UNREACHABLE: u8 = 3;
    /// Source quench (RFC 792, deprecated by RFC 6633).
    pub const SOURCE_QUENCH: u8 = 4;
    /// Redirect (RFC 792).
    pub const REDIRECT: u8 = 5;
    /// Echo request (RFC 792).
    pub const ECHO_REQUEST: u8 = 8;
    /// Router advertisement (RFC 1256).
    pub const ROUTER_ADVERT: u8 = 9;
    /// Router solicitation (RFC 1256).
    pub const ROUTER_SOLICIT: u8 = 10;
    /// Time exceeded (RFC 792).
    pub const TIME_EXCEEDED: u8 = 11;
    /// Parameter problem (RFC 792).
    pub const PARAM_PROBLEM: u8 = 12;
    /// Timestamp (RFC 792).
    pub const TIMESTAMP: u8 = 13;
    /// Timestamp reply (RFC 792).
    pub const TIMESTAMP_REPLY: u8 = 14;
    /// Information request (RFC 792, deprecated).
    pub const INFO_REQUEST: u8 = 15;
    /// Information reply (RFC 792, deprecated).
    pub const INFO_REPLY: u8 = 16;
    /// Address mask request (RFC 950).
    pub const ADDRESS_MASK_REQUEST: u8 = 17;
    /// Address mask reply (RFC 950).
    pub const ADDRESS_MASK_REPLY: u8 = 18;
    /// Extended echo request (RFC 8335).
    pub const EXTENDED_ECHO_REQUEST: u8 = 42;
    /// Extended echo reply (RFC 8335).
    pub const EXTENDED_ECHO_REPLY: u8 = 43;
}

/// Destination unreachable codes (RFC 792, 1122, 1812).
pub mod unreachable {
    /// Net unreachable.
    pub const NET: u8 = 0;
    /// Host unreachable.
    pub const HOST: u8 = 1;
    /// Protocol unreachable.
    pub const PROTOCOL: u8 = 2;
    /// Port unreachable.
    pub const PORT: u8 = 3;
    /// Fragmentation needed and DF set (carries the next-hop MTU).
    pub const FRAG_NEEDED: u8 = 4;
    /// Source route failed.
    pub const SOURCE_ROUTE_FAILED: u8 = 5;
    /// Destination network unknown.
    pub const NET_UNKNOWN: u8 = 6;
    /// Destination host unknown.
    pub const HOST_UNKNOWN: u8 = 7;
    /// Source host isolated.
    pub const SOURCE_HOST_ISOLATED: u8 = 8;
    /// Communication with destination network administratively prohibited.
    pub const NET_PROHIBITED: u8 = 9;
    /// Communication with destination host administratively prohibited.
    pub const HOST_PROHIBITED: u8 = 10;
    /// Network unreachable for type of service.
    pub const NET_UNREACHABLE_TOS: u8 = 11;
    /// Host unreachable for type of service.
    pub const HOST_UNREACHABLE_TOS: u8 = 12;
    /// Communication administratively prohibited (RFC 1812).
    pub const ADMIN_PROHIBITED: u8 = 13;
    /// Host precedence violation.
    pub const PRECEDENCE_VIOLATION: u8 = 14;
    /// Precedence cutoff in effect.
    pub const PRECEDENCE_CUTOFF: u8 = 15;
}

/// Redirect codes.
pub mod redirect {
    /// Redirect datagrams for the network.
    pub const NET: u8 = 0;
    /// Redirect datagrams for the host.
    pub const HOST: u8 = 1;
    /// Redirect datagrams for the type of service and network.
    pub const TOS_NET: u8 = 2;
    /// Redirect datagrams for the type of service and host.
    pub const TOS_HOST: u8 = 3;
}

/// Time exceeded codes.
pub mod time_exceeded {
    /// TTL exceeded in transit.
    pub const TTL: u8 = 0;
    /// Fragment reassembly time exceeded.
    pub const REASSEMBLY: u8 = 1;
}

/// Parameter problem codes.
pub mod param_problem {
    /// The pointer indicates the error.
    pub const POINTER: u8 = 0;
    /// A required option is missing.
    pub const MISSING_OPTION: u8 = 1;
    /// Bad length.
    pub const BAD_LENGTH: u8 = 2;
}

/// Extended echo reply codes (RFC 8335 §3).
pub mod extended_echo {
    /// No error.
    pub const NO_ERROR: u8 = 0;
    /// Malformed query.
    pub const MALFORMED_QUERY: u8 = 1;
    /// No such interface.
    pub const NO_SUCH_INTERFACE: u8 = 2;
    /// No such table entry.
    pub const NO_SUCH_TABLE_ENTRY: u8 = 3;
    /// Multiple interfaces satisfy query.
    pub const MULTIPLE_INTERFACES: u8 = 4;
}

/// The kebab-case name of an ICMPv4 type, `None` when unassigned here.
pub fn type_name(msg_type: u8) -> Option<&'static str> {
    use msg_type::*;
    Some(match msg_type {
        ECHO_REPLY => "echo-reply",
        DST_UNREACHABLE => "destination-unreachable",
        SOURCE_QUENCH => "source-quench",
        REDIRECT => "redirect",
        ECHO_REQUEST => "echo-request",
        ROUTER_ADVERT => "router-advertisement",
        ROUTER_SOLICIT => "router-solicitation",
        TIME_EXCEEDED => "time-exceeded",
        PARAM_PROBLEM => "parameter-problem",
        TIMESTAMP => "timestamp",
        TIMESTAMP_REPLY => "timestamp-reply",
        INFO_REQUEST => "information-request",
        INFO_REPLY => "information-reply",
        ADDRESS_MASK_REQUEST => "address-mask-request",
        ADDRESS_MASK_REPLY => "address-mask-reply",
        EXTENDED_ECHO_REQUEST => "extended-echo-request",
        EXTENDED_ECHO_REPLY => "extended-echo-reply",
        _ => return None,
    })
}

/// The kebab-case name of a code of an ICMPv4 type, `None` when the code
/// is not assigned for that type.
pub fn code_name(msg_type: u8, code: u8) -> Option<&'static str> {
    use msg_type::*;
    Some(match (msg_type, code) {
        (DST_UNREACHABLE, _) => match code {
            unreachable::NET => "net-unreachable",
            unreachable::HOST => "host-unreachable",
            unreachable::PROTOCOL => "protocol-unreachable",
            unreachable::PORT => "port-unreachable",
            unreachable::FRAG_NEEDED => "fragmentation-needed",
            unreachable::SOURCE_ROUTE_FAILED => "source-route-failed",
            unreachable::NET_UNKNOWN => "destination-network-unknown",
            unreachable::HOST_UNKNOWN => "destination-host-unknown",
            unreachable::SOURCE_HOST_ISOLATED => "source-host-isolated",
            unreachable::NET_PROHIBITED => "network-administratively-prohibited",
            unreachable::HOST_PROHIBITED => "host-administratively-prohibited",
            unreachable::NET_UNREACHABLE_TOS => "network-unreachable-for-tos",
            unreachable::HOST_UNREACHABLE_TOS => "host-unreachable-for-tos",
            unreachable::ADMIN_PROHIBITED => "communication-administratively-prohibited",
            unreachable::PRECEDENCE_VIOLATION => "host-precedence-violation",
            unreachable::PRECEDENCE_CUTOFF => "precedence-cutoff-in-effect",
            _ => return None,
        },
        (REDIRECT, redirect::NET) => "redirect-for-network",
        (REDIRECT, redirect::HOST) => "redirect-for-host",
        (REDIRECT, redirect::TOS_NET) => "redirect-for-tos-and-network",
        (REDIRECT, redirect::TOS_HOST) => "redirect-for-tos-and-host",
        (TIME_EXCEEDED, time_exceeded::TTL) => "ttl-exceeded-in-transit",
        (TIME_EXCEEDED, time_exceeded::REASSEMBLY) => "fragment-reassembly-time-exceeded",
        (PARAM_PROBLEM, param_problem::POINTER) => "pointer-indicates-error",
        (PARAM_PROBLEM, param_problem::MISSING_OPTION) => "missing-required-option",
        (PARAM_PROBLEM, param_problem::BAD_LENGTH) => "bad-length",
        (ROUTER_ADVERT, 0) => "normal-router-advertisement",
        (ROUTER_ADVERT, 16) => "does-not-route-common-traffic",
        (EXTENDED_ECHO_REPLY, _) => match code {
            extended_echo::NO_ERROR => "no-error",
            extended_echo::MALFORMED_QUERY => "malformed-query",
            extended_echo::NO_SUCH_INTERFACE => "no-such-interface",
            extended_echo::NO_SUCH_TABLE_ENTRY => "no-such-table-entry",
            extended_echo::MULTIPLE_INTERFACES => "multiple-interfaces-satisfy-query",
            _ => return None,
        },
        (
            ECHO_REPLY | ECHO_REQUEST | SOURCE_QUENCH | ROUTER_SOLICIT | TIMESTAMP
            | TIMESTAMP_REPLY | INFO_REQUEST | INFO_REPLY | ADDRESS_MASK_REQUEST
            | ADDRESS_MASK_REPLY,
            0,
        ) => "no-code",
        // IANA names the request's only code as the reply's code 0, on
        // both families.
        (EXTENDED_ECHO_REQUEST, 0) => "no-error",
        _ => return None,
    })
}

use crate::codes::code_enum;
pub use crate::extended_echo::ExtendedEchoCode;

code_enum! {
    /// Destination unreachable codes (RFC 792, 1122, 1812).
    pub enum DstUnreachableCode (names: code_name, type: msg_type::DST_UNREACHABLE) {
        /// 0: net unreachable.
        NetUnreachable = 0,
        /// 1: host unreachable.
        HostUnreachable = 1,
        /// 2: protocol unreachable.
        ProtocolUnreachable = 2,
        /// 3: port unreachable.
        PortUnreachable = 3,
        /// 4: fragmentation needed and DF set (the message carries the
        /// next-hop MTU).
        FragmentationNeeded = 4,
        /// 5: source route failed.
        SourceRouteFailed = 5,
        /// 6: destination network unknown.
        NetUnknown = 6,
        /// 7: destination host unknown.
        HostUnknown = 7,
        /// 8: source host isolated.
        SourceHostIsolated = 8,
        /// 9: communication with the destination network administratively
        /// prohibited.
        NetProhibited = 9,
        /// 10: communication with the destination host administratively
        /// prohibited.
        HostProhibited = 10,
        /// 11: network unreachable for type of service.
        NetUnreachableForTos = 11,
        /// 12: host unreachable for type of service.
        HostUnreachableForTos = 12,
        /// 13: communication administratively prohibited (RFC 1812).
        AdminProhibited = 13,
        /// 14: host precedence violation.
        PrecedenceViolation = 14,
        /// 15: precedence cutoff in effect.
        PrecedenceCutoff = 15,
    }
}

code_enum! {
    /// Redirect codes (RFC 792).
    pub enum RedirectCode (names: code_name, type: msg_type::REDIRECT) {
        /// 0: redirect datagrams for the network.
        Net = 0,
        /// 1: redirect datagrams for the host.
        Host = 1,
        /// 2: redirect datagrams for the type of service and network.
        TosNet = 2,
        /// 3: redirect datagrams for the type of service and host.
        TosHost = 3,
    }
}

code_enum! {
    /// Router advertisement codes (RFC 1256, RFC 3344).
    pub enum RouterAdvertCode (names: code_name, type: msg_type::ROUTER_ADVERT) {
        /// 0: normal router advertisement.
        Normal = 0,
        /// 16: does not route common traffic (mobile IP).
        DoesNotRouteCommonTraffic = 16,
    }
}

code_enum! {
    /// Time exceeded codes (RFC 792).
    pub enum TimeExceededCode (names: code_name, type: msg_type::TIME_EXCEEDED) {
        /// 0: TTL exceeded in transit (what traceroute sees).
        TtlExceeded = 0,
        /// 1: fragment reassembly time exceeded.
        FragReassemblyExceeded = 1,
    }
}

code_enum! {
    /// Parameter problem codes (RFC 792, RFC 1108).
    pub enum ParamProblemCode (names: code_name, type: msg_type::PARAM_PROBLEM) {
        /// 0: the pointer indicates the error.
        Pointer = 0,
        /// 1: a required option is missing.
        MissingOption = 1,
        /// 2: bad length.
        BadLength = 2,
    }
}

/// The kebab-case name of an extended echo reply's neighbour state
/// (RFC 8335 §3: the IPv6 neighbour-discovery states, also used for ARP).
pub fn state_name(state: u8) -> Option<&'static str> {
    crate::extended_echo::state_name(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unreachable_code_has_a_distinct_name() {
        let mut names = [""; 16];
        for code in 0..16u8 {
            names[usize::from(code)] = code_name(msg_type::DST_UNREACHABLE, code).unwrap();
        }
        for (i, a) in names.iter().enumerate() {
            assert!(
                a.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{a}"
            );
            assert!(names[i + 1..].iter().all(|b| a != b), "duplicate {a}");
        }
        assert_eq!(code_name(3, 16), None);
        assert_eq!(code_name(3, 4), Some("fragmentation-needed"));
        assert_eq!(
            code_name(3, 13),
            Some("communication-administratively-prohibited")
        );
    }

    #[test]
    fn types_and_codes() {
        assert_eq!(type_name(8), Some("echo-request"));
        assert_eq!(type_name(3), Some("destination-unreachable"));
        assert_eq!(type_name(1), None);
        assert_eq!(code_name(11, 0), Some("ttl-exceeded-in-transit"));
        assert_eq!(code_name(11, 2), None);
        assert_eq!(code_name(8, 1), None);
        assert_eq!(code_name(43, 2), Some("no-such-interface"));
        assert_eq!(state_name(2), Some("reachable"));
    }
}

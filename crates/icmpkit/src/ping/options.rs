//! How to ping: [`PingOptions`].

use icmpkit_wire::Family;

use crate::socket::{Privilege, SocketOptions};

use super::session::Timing;

/// How to ping.
#[derive(Debug, Clone)]
pub struct PingOptions {
    /// Count, interval, timeout, deadline, flood...
    pub timing: Timing,
    /// Bytes of echo data (iputils' `-s`, default 56).
    pub payload_size: usize,
    /// Fill pattern for the data (`-p`); empty: each byte is its offset.
    pub pattern: Vec<u8>,
    /// TTL, TOS, PMTU mode, source, interface, broadcast, mark.
    pub socket: SocketOptions,
    /// Raw, datagram, or whichever is allowed.
    pub privilege: Privilege,
    /// Force a family when resolving names.
    pub family: Option<Family>,
    /// Echo identifier for raw sockets (random if `None`; datagram sockets
    /// get theirs from the kernel).
    pub id: Option<u16>,
}

impl Default for PingOptions {
    fn default() -> Self {
        PingOptions {
            timing: Timing::default(),
            payload_size: 56,
            pattern: Vec::new(),
            socket: SocketOptions::default(),
            privilege: Privilege::Auto,
            family: None,
            id: None,
        }
    }
}

//! What the CLI's tests share: running the binary in a namespace, a chain
//! whose client may also open unprivileged ICMP sockets, temporary files and
//! capture files built by hand.
#![allow(dead_code)] // each test binary uses a different subset

use std::process::Output;

use icmpkit_lab::{Chain, Lab, Ns};

/// The binary under test.
pub const ICMPKIT: &str = env!("CARGO_BIN_EXE_icmpkit");

/// Runs `icmpkit <command> <args>` inside `ns` and waits for it.
pub fn icmpkit(ns: &Ns, command: &str, args: &[&str]) -> Output {
    ns.command(ICMPKIT)
        .arg(command)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run icmpkit {command}: {e}"))
}

/// A chain with `routers` routers whose client may also open unprivileged
/// ICMP sockets (as root too).
pub fn chain_with_ping_sockets(lab: &Lab, routers: usize) -> Chain {
    let c = lab.chain(routers).expect("build the lab chain");
    c.client()
        .allow_ping_sockets()
        .expect("open ping_group_range");
    c
}

/// Runs an nft script (one line of `;`-separated commands) inside `ns`.
pub fn nft(ns: &Ns, script: &str) {
    ns.nft(script).expect("nft rule");
}

/// A file in the temporary directory, unique to this test process, that is
/// removed when dropped.
pub struct TempFile(std::path::PathBuf);

impl TempFile {
    /// Writes `contents` to a file named after `name`.
    pub fn new(name: &str, contents: &[u8]) -> TempFile {
        let path = std::env::temp_dir().join(format!("icmpkit-cli-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).expect("write a temporary file");
        TempFile(path)
    }

    /// Its path, as an argument.
    pub fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temporary path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// An echo request from 192.0.2.1 to 192.0.2.2 in IPv4 (id 4660, seq 1,
/// 8 data bytes; built with scapy).
pub const ECHO_V4: &str =
    "45000024000040004001b6d5c0000201c00002020800d5b6123400010102030405060708";

/// The bytes of a hex string (test data: panics on bad hex).
pub fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// A little-endian, microsecond pcap file of raw IP (link type 101) with
/// `snaplen`, one record per (bytes kept, original length).
pub fn pcap_file(snaplen: u32, records: &[(&[u8], u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, snaplen, 101] {
        out.extend(v.to_le_bytes());
    }
    for (i, (data, original)) in records.iter().enumerate() {
        for v in [1_700_000_000, i as u32, data.len() as u32, *original] {
            out.extend(v.to_le_bytes());
        }
        out.extend_from_slice(data);
    }
    out
}

/// A little-endian pcapng file: a section header, one raw-IP interface
/// (microseconds), and an enhanced packet block per packet.
pub fn pcapng_file(packets: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    // Section header: type, length 28, byte-order magic, version 1.0,
    // section length unknown (-1), length again.
    for v in [
        0x0a0d_0d0au32,
        28,
        0x1a2b_3c4d,
        0x0000_0001,
        u32::MAX,
        u32::MAX,
        28,
    ] {
        out.extend(v.to_le_bytes());
    }
    // Interface description: type 1, length 20, link type 101, snap length 0.
    for v in [1u32, 20, 101, 0, 20] {
        out.extend(v.to_le_bytes());
    }
    for (i, data) in packets.iter().enumerate() {
        let padded = data.len().div_ceil(4) * 4;
        let length = (32 + padded) as u32;
        for v in [
            6u32,
            length,
            0,
            0,
            i as u32,
            data.len() as u32,
            data.len() as u32,
        ] {
            out.extend(v.to_le_bytes());
        }
        out.extend_from_slice(data);
        out.resize(out.len() + padded - data.len(), 0);
        out.extend(length.to_le_bytes());
    }
    out
}

/// The TOS byte (IPv4) or traffic class (IPv6) of each echo request among
/// `packets` (IP packets, as a lab capture records them), in order.
pub fn echo_request_tos(packets: &[Vec<u8>]) -> Vec<u8> {
    packets
        .iter()
        .filter_map(|p| match p.first().map(|b| b >> 4) {
            Some(4) => {
                let header = usize::from(p[0] & 0x0f) * 4;
                (p.len() > header && p[9] == 1 && p[header] == 8).then_some(p[1])
            }
            // A bare ICMPv6 echo request (no extension headers).
            Some(6) => (p.len() > 40 && p[6] == 58 && p[40] == 128)
                .then_some((p[0] & 0x0f) << 4 | p[1] >> 4),
            _ => None,
        })
        .collect()
}

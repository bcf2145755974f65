//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The bytes of `tests/fixtures/NAME.hex` (comment lines skipped).
pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.hex"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let hex: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<String>()
        .split_whitespace()
        .collect();
    hex::decode(hex).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every fixture, by name.
pub const FIXTURES: [&str; 5] = [
    "icmpv4-echo-reply",
    "icmpv4-host-unreachable",
    "icmpv4-time-exceeded",
    "icmpv4-port-unreachable",
    "icmpv6-packet-too-big",
];

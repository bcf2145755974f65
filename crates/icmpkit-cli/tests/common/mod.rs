//! What the CLI's lab tests share: running the binary in a namespace and a
//! chain whose client may also open unprivileged ICMP sockets.
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

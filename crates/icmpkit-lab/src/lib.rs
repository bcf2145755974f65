//! Test-only network lab for icmpkit: networks of Linux network namespaces that are always
//! torn down.
//!
//! A [`Lab`] creates namespaces ([`Ns`]) joined by veth pairs ([`Link`]), runs commands
//! inside them, moves a test thread into one ([`Ns::enter`]) and deletes everything when it
//! drops, even if the test panicked. Namespace names are `ik<pid>x<counter><short>`, so
//! tests run in parallel (threads and processes); namespaces left by a crashed run are
//! removed by the next one. Interfaces live only inside lab namespaces (`eth0`, `eth1`, … per
//! namespace) and every address (`10.x`, `fd00:x::`) exists only there: no traffic leaves.
//!
//! Needs root and `ip` (iproute2); netem needs `tc` and `sch_netem`. Where they are missing,
//! [`lab_or_skip!`] prints `SKIPPED: <test>: <reason>` and returns from the test.
//!
//! Every namespace has ICMP rate limiting turned off (`net.ipv4.icmp_ratemask`,
//! `net.ipv4.icmp_ratelimit` and `net.ipv6.icmp.ratelimit` = 0,
//! `net.ipv4.icmp_msgs_per_sec`/`icmp_msgs_burst` raised), so routers answer every probe
//! (except the kernel's own limit on a router's unreachable errors: 5 per source at once, then
//! 1/s, not settable per namespace); set them back with [`Ns::sysctl`] to test rate limits.
//! IPv6 duplicate address detection is off too, so addresses work the moment they are added.
//!
//! ```no_run
//! use std::net::UdpSocket;
//!
//! // A #[test] fn returning (): skips with a message unless root + iproute2.
//! fn ping_through_two_routers() {
//!     let lab = icmpkit_lab::lab_or_skip!("ping_through_two_routers");
//!     let chain = lab.chain(2).expect("chain"); // client — r1 — r2 — server, v4 + v6
//!     let out = chain
//!         .client()
//!         .command("ping")
//!         .args(["-c1", "-W1"])
//!         .arg(chain.server_v6().to_string()) // fd00:3::2
//!         .output()
//!         .expect("run ping");
//!     assert!(out.status.success());
//!     assert_eq!(chain.hops_v4()[0], chain.router_v4(1).unwrap()); // 10.1.0.2
//!
//!     // Sockets made while entered live in the client namespace for good.
//!     let socket = {
//!         let _inside = chain.client().enter().expect("setns");
//!         UdpSocket::bind((chain.client_v4(), 0)).expect("bind 10.1.0.1")
//!     };
//!     drop(socket);
//! } // lab drops: all four namespaces (and their veths) are deleted
//! ```
//!
//! Topologies: [`Lab::pair`] and [`Lab::chain`]; the address plan is in [`Chain`].
//! [`Ns::capture`] records what a namespace sends and receives ([`Capture`]);
//! [`Lab::etc_file`] gives a namespace its own `/etc/hosts`, `/etc/resolv.conf`, ... for the
//! commands it runs. [`Lab::crafted_path`] plays a path of routers whose time exceeded errors
//! carry RFC 4884 extensions (MPLS labels, interface information) built with icmpkit-wire.

mod capabilities;
mod capture;
mod crafted;
mod error;
mod lab;
mod link;
mod ns;
mod topology;

pub use capabilities::{CapableCopy, NOBODY, thread_capabilities};
pub use capture::Capture;
pub use crafted::{CraftedPath, ExtensionsOf, extension_structure, sample};
pub use error::{Error, Result, Skip};
pub use lab::{Lab, require_tool};
pub use link::Link;
pub use ns::{Ns, NsGuard, Reject};
pub use topology::{Chain, MAX_ROUTERS, TwinLinks};

/// A finished command's stdout then stderr, as text (what assertions on a
/// tool's output read).
pub fn output_text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Unwraps a `Result<T, Skip>`, or prints `SKIPPED: <test>: <reason>` to stderr and
/// `return`s from the enclosing function (a test returning `()`).
///
/// `icmpkit_lab::require_or_skip!("my_test", lab.require_netem());`
#[macro_export]
macro_rules! require_or_skip {
    ($test:expr, $check:expr) => {
        match $check {
            ::std::result::Result::Ok(value) => value,
            ::std::result::Result::Err(skip) => {
                $crate::report_skip($test, &skip);
                return;
            }
        }
    };
}

/// Prints `SKIPPED: <test>: <reason>` straight to the process's stderr.
///
/// libtest captures `eprintln!` of passing tests, which would hide the
/// skip; writing to the file descriptor itself keeps it visible in every
/// `cargo test` run (and in CI logs).
pub fn report_skip(test: &str, reason: &dyn std::fmt::Display) {
    use std::io::Write as _;
    let line = format!("SKIPPED: {test}: {reason}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// `let lab = icmpkit_lab::lab_or_skip!("test_name");`: a [`Lab`], or prints
/// `SKIPPED: test_name: <reason>` to stderr and returns from the test.
#[macro_export]
macro_rules! lab_or_skip {
    ($test:expr) => {
        $crate::require_or_skip!($test, $crate::Lab::new($test))
    };
}

//! A userspace ICMP responder: answers echo, ICMPv4 timestamp and RFC
//! 8335 extended echo requests itself, for IPv4 and IPv6, optionally late
//! (delay, jitter) or not at all (loss): a test target with known
//! behaviour where the kernel has no netem.
//!
//! Run it with the kernel's own echo answers off
//! (`sysctl -w net.ipv4.icmp_echo_ignore_all=1 net.ipv6.icmp.echo_ignore_all=1`),
//! or every request gets two replies ([`kernel_answers_echo`] tells).
//!
//! * [`Responder`] decides (pure: request in, reply and delay out);
//! * [`Server`] runs it on the library's driver (a pure protocol that
//!   holds answers until their time, one raw socket per family).

mod decide;
mod interfaces;
mod protocol;
mod server;
mod transport;

pub use decide::{
    Decision, InterfaceLookup, InterfaceStatus, Interfaces, Request, RespondConfig, Responder,
};
pub use interfaces::{Interface, SystemInterfaces, lookup_in};
pub use server::{
    MAX_HELD, Outcome, RespondEvent, RespondOptions, Server, kernel_answers_echo,
    kernel_echo_sysctl,
};

//! A userspace ICMP responder: answers echo, ICMPv4 timestamp and RFC
//! 8335 extended echo requests itself, for IPv4 and IPv6, optionally late
//! (delay, jitter) or not at all (loss): a test target with known
//! behaviour where the kernel has no netem.
//!
//! Run it with the kernel's own echo answers off
//! (`sysctl -w net.ipv4.icmp_echo_ignore_all=1 net.ipv6.icmp.echo_ignore_all=1`),
//! or every request gets two replies ([`kernel_answers_echo`] tells).
//!
//! * [`RespondConfig`] says what to answer, how late, how often not;
//! * [`Server`] runs the pure decision on the library's driver (a protocol
//!   that holds answers until their time, one raw socket per family) and
//!   hands out [`RespondEvent`]s.
//!
//! ```no_run
//! # async fn run() -> icmpkit::Result<()> {
//! use std::time::Duration;
//! use icmpkit::respond::{RespondOptions, Server};
//!
//! let mut opts = RespondOptions::default();
//! opts.config.delay = Duration::from_millis(50); // every answer 50 ms late
//! opts.config.loss = 0.1; // and one in ten never
//! let mut server = Server::open(&opts)?;
//! loop {
//!     let event = server.next_event().await;
//!     println!("{} asked: {:?}", event.from, event.outcome);
//! }
//! # }
//! ```

mod decide;
mod interfaces;
mod protocol;
mod server;
mod transport;

pub use decide::RespondConfig;
pub use server::{
    MAX_HELD, Outcome, RespondEvent, RespondOptions, Server, kernel_answers_echo,
    kernel_echo_sysctl,
};

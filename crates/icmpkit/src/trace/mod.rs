//! Traceroute and mtr: every TTL probed in parallel with ICMP echo, UDP or
//! TCP SYN probes, raw or unprivileged, Paris-stable (each flow keeps one
//! flow identifier, so per-flow load balancers keep it on one path; TCP
//! only with raw sockets, see below), with
//! several flows to reveal ECMP paths, traceroute's annotations and RFC 4884
//! extensions (MPLS labels).
//!
//! [`traceroute`] returns the hops (icmplib's API); [`Tracer`] streams
//! [`TraceEvent`]s as probes are answered and hops complete.
//!
//! ```no_run
//! # async fn run() -> icmpkit::Result<()> {
//! use icmpkit::trace::{TraceOptions, traceroute};
//! for hop in traceroute("192.0.2.1", &TraceOptions::default()).await? {
//!     println!("{} {:?} {:?}", hop.distance, hop.address, hop.rtt.avg);
//! }
//! # Ok(()) }
//! ```
//!
//! Streaming (mtr's view): each probe's result and each hop as it
//! completes.
//!
//! ```no_run
//! # async fn run() -> icmpkit::Result<()> {
//! use icmpkit::trace::{ProbeProtocol, TraceEvent, TraceOptions, Tracer};
//!
//! let opts = TraceOptions::builder().protocol(ProbeProtocol::Udp).max_ttl(8).build()?;
//! let mut tracer = Tracer::start("127.0.0.1", &opts).await?;
//! while let Some(event) = tracer.next_event().await {
//!     match event {
//!         TraceEvent::Probe(probe) => println!("{probe:?}"),
//!         TraceEvent::Hop(hop) => println!("hop {} done: {:?}", hop.distance, hop.address),
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Live (mtr's view, the exporter's trace targets): [`LiveTrace`] runs
//! rounds until stopped and [`TraceStatistics`] accumulates each hop's
//! figures from its events.
//!
//! Unprivileged on Linux: ICMP probes go through a datagram ICMP socket and
//! UDP/TCP probes through ordinary sockets; the time-exceeded errors come
//! back on their error queues (`IP_RECVERR`). The error queue does not
//! carry RFC 4884 extensions nor the error's TTL: those need a raw socket.
//!
//! TCP probes are Paris-stable only with raw sockets (`CAP_NET_RAW`): then
//! each flow's SYNs are built here and leave one reserved source port for
//! one destination port, numbered by their sequence number (found again in
//! the quoted header of an ICMP error, or as the acknowledgment of the
//! destination's SYN-ACK or reset, read on a raw TCP socket). Unprivileged,
//! each TCP probe is a `connect()`, and probes in flight together cannot
//! share a port: a flow's source port, hence its path through per-flow load
//! balancers, may change from probe to probe.

mod dns;
mod driver;
mod live;
mod options;
mod probe;
mod protocol;
mod report;
mod session;
mod statistics;
mod transport;

pub use driver::{DEFAULT_TCP_PORT, DEFAULT_UDP_PORT, Tracer, traceroute, traceroute_blocking};
pub use live::{LiveEvent, LiveTrace};
pub use options::{TraceOptions, TraceOptionsBuilder};
pub use probe::ProbeProtocol;
pub use report::{
    Annotation, Extension, Hop, ProbeReply, ProbeResult, ReplyKind, Responder, TraceEvent,
};
pub use session::Plan;
pub use statistics::{HISTORY_LEN, HopStatistics, ResponderStatistics, RttRun, TraceStatistics};

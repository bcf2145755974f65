//! The responder's entry point: [`Server`], one raw ICMP socket per family
//! (`transport.rs`) run by the generic driver around the responder's pure
//! protocol (`protocol.rs`: request -> [`Responder`] decision -> answer
//! held until its time and handed out by `poll_transmit`).

use std::net::IpAddr;
use std::time::Duration;

use icmpkit_wire::Family;

use crate::driver::{Driver, IcmpTransport, StopHandle, TransportCounters};
use crate::socket::{IcmpSocket, Privilege, SocketOptions, TypeFilter};
use crate::{Error, InvalidReason, Result};

use super::decide::{RespondConfig, Responder};
use super::interfaces::SystemInterfaces;
use super::protocol::RespondProtocol;
use super::transport::SocketSet;

/// How to run a responder.
#[derive(Debug, Clone, PartialEq)]
pub struct RespondOptions {
    /// What to answer, delay and loss.
    pub config: RespondConfig,
    /// Answer ICMPv4.
    pub ipv4: bool,
    /// Answer ICMPv6.
    pub ipv6: bool,
    /// Only hear requests arriving on this interface.
    pub interface: Option<String>,
    /// Seed for loss and jitter (random when `None`).
    pub seed: Option<u64>,
}

impl Default for RespondOptions {
    fn default() -> Self {
        RespondOptions {
            config: RespondConfig::default(),
            ipv4: true,
            ipv6: true,
            interface: None,
            seed: None,
        }
    }
}

/// What became of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Answered (the event comes when the reply leaves).
    Answered {
        /// The reply sent.
        reply: Vec<u8>,
        /// How long it was held.
        delay: Duration,
    },
    /// Dropped on purpose (loss).
    Dropped,
    /// The reply could not be sent.
    SendFailed(String),
}

/// One request handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RespondEvent {
    /// When the request arrived (UNIX time); an answer leaves its delay
    /// later.
    pub time: Duration,
    /// ICMPv4 or ICMPv6.
    pub family: Family,
    /// Who asked.
    pub from: IpAddr,
    /// The address asked (ours), when known.
    pub to: Option<IpAddr>,
    /// The request's TTL / hop limit as received.
    pub ttl: Option<u8>,
    /// The request (ICMP message).
    pub request: Vec<u8>,
    /// What was done.
    pub outcome: Outcome,
}

/// Most answers held back by a delay at once: beyond, a request's answer
/// is dropped (a flood with a long delay would otherwise grow the queue
/// without bound) and reported as [`Outcome::SendFailed`].
pub const MAX_HELD: usize = 65_536;

/// Largest packet read whole.
const RECV_LEN: usize = 65_536;

/// The request types a responder's raw sockets let through.
fn request_filter(family: Family) -> TypeFilter {
    let types: &[u8] = match family {
        Family::V4 => &[8, 13, 42],
        Family::V6 => &[128, 160],
    };
    types
        .iter()
        .fold(TypeFilter::block_all(), |f, &t| f.pass(t))
}

/// A running responder: pull [`RespondEvent`]s with
/// [`Server::next_event`], or as a `futures_core::Stream` (which ends once
/// [`Server::stop_handle`] stopped it).
#[derive(Debug)]
pub struct Server {
    driver: Driver<RespondProtocol<SystemInterfaces>, SocketSet>,
}

impl Server {
    /// Opens a raw ICMP socket per family (needs `CAP_NET_RAW`). Needs a
    /// tokio runtime.
    pub fn open(opts: &RespondOptions) -> Result<Server> {
        if !opts.ipv4 && !opts.ipv6 {
            return Err(Error::invalid("families", InvalidReason::NothingChosen));
        }
        // The seed (given, or drawn from the OS here) is the protocol's
        // only source of randomness.
        let responder = match opts.seed {
            Some(seed) => Responder::with_seed(opts.config.clone(), seed)?,
            None => Responder::new(opts.config.clone())?,
        };
        let mut sockets = Vec::new();
        let mut families = Vec::new();
        for (family, wanted) in [(Family::V4, opts.ipv4), (Family::V6, opts.ipv6)] {
            if !wanted {
                continue;
            }
            let socket_opts = SocketOptions {
                interface: opts.interface.clone(),
                type_filter: Some(request_filter(family)),
                ..SocketOptions::default()
            };
            let socket = IcmpSocket::open(family, Privilege::Privileged, &socket_opts)?;
            sockets.push(IcmpTransport::new(socket)?);
            families.push(family);
        }
        let protocol = RespondProtocol::new(responder, SystemInterfaces, families);
        Ok(Server {
            driver: Driver::new(protocol, SocketSet::new(sockets), RECV_LEN),
        })
    }

    /// The families answered.
    pub fn families(&self) -> Vec<Family> {
        self.driver
            .transport()
            .sockets()
            .iter()
            .map(|s| s.socket().family())
            .collect()
    }

    /// Answers held back by a delay, not yet sent.
    pub fn held(&self) -> usize {
        self.driver.protocol().held()
    }

    /// Answers dropped because [`MAX_HELD`] answers were already held
    /// (each also handed out as an [`Outcome::SendFailed`] event).
    pub fn overflowed(&self) -> u64 {
        self.driver.protocol().overflowed()
    }

    /// A handle that stops this responder from another task or thread:
    /// held answers are not sent, and the event stream ends.
    pub fn stop_handle(&self) -> StopHandle {
        self.driver.stop_handle()
    }

    /// Receive errors and full-buffer waits the driver met so far.
    pub fn transport_counters(&self) -> TransportCounters {
        self.driver.counters()
    }

    /// The next request handled. Runs until dropped (a responder has no
    /// end of its own; once stopped through [`Server::stop_handle`] this
    /// waits forever, and the `Stream` form ends instead). Cancel-safe:
    /// requests already read stay queued.
    pub async fn next_event(&mut self) -> RespondEvent {
        match self.driver.next_event().await {
            Some(event) => event,
            None => std::future::pending().await,
        }
    }
}

impl futures_core::Stream for Server {
    type Item = RespondEvent;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<RespondEvent>> {
        self.get_mut().driver.poll_event(cx)
    }
}

/// Whether the kernel answers echo requests itself for `family`
/// (`net.ipv4.icmp_echo_ignore_all` / `net.ipv6.icmp.echo_ignore_all` is
/// 0), in the current network namespace; `None` when unreadable.
pub fn kernel_answers_echo(family: Family) -> Option<bool> {
    let path = match family {
        Family::V4 => "/proc/sys/net/ipv4/icmp_echo_ignore_all",
        Family::V6 => "/proc/sys/net/ipv6/icmp/echo_ignore_all",
    };
    let value = std::fs::read_to_string(path).ok()?;
    Some(value.trim() == "0")
}

/// The sysctl that turns the kernel's echo answers off for `family`.
pub fn kernel_echo_sysctl(family: Family) -> &'static str {
    match family {
        Family::V4 => "net.ipv4.icmp_echo_ignore_all",
        Family::V6 => "net.ipv6.icmp.echo_ignore_all",
    }
}

//! The public API of `icmpkit`, in one place. Each `use` below names every
//! public item of one module: removing or renaming an item breaks the
//! build of this test, and `every_public_item_is_listed_here` fails when
//! an item is added (it reads the public modules' `pub` declarations and
//! re-exports). Changing the API means changing this list, deliberately.
//!
//! Beyond these: the `wire` crate (re-exported whole), and `unstable`
//! (`#[doc(hidden)]`, for the workspace's benches only, no promise).
#![allow(unused_imports)]

use icmpkit::craft::{
    Answer, AnswerKind, Field, InterfaceQuery, IpOptions, MessageSpec, SendEvent, SendOptions,
    SendOptionsBuilder, SendReport, Sender, expects_reply, fields_of, ms_since_midnight_ut,
    parse_code, parse_type, reply_type, send_and_receive, send_and_receive_blocking, type_label,
};
use icmpkit::listen::{Heard, ListenOptions, ListenOptionsBuilder, Listener, Packet};
use icmpkit::monitor::{DEFAULT_BUCKETS, Monitor, MonitorOptions, MonitorTarget, TargetStats};
use icmpkit::ping::{
    ERROR_HISTORY, PingEvent, PingOptions, PingOptionsBuilder, PingReport, Pinger, RTT_HISTORY,
    Timing, ping, ping_blocking,
};
use icmpkit::resolve::{
    Target, ToTarget, family_of, parse_literal, resolve, resolve_blocking, resolve_preferred,
};
use icmpkit::respond::{
    MAX_HELD, Outcome, RespondConfig, RespondEvent, RespondOptions, Server, kernel_answers_echo,
    kernel_echo_sysctl,
};
use icmpkit::socket::{
    AsyncIcmpSocket, AsyncPacketSocket, AsyncRawTcpSocket, AsyncTransportSocket, Direction,
    ErrorOrigin, Family, IcmpSocket, MAX_BATCH, PacketSocket, PacketStatistics, PmtuDisc,
    Privilege, QueuedError, RawIpSocket, RawTcpSocket, Readiness, Received, ReceivedFrame,
    ReceivedSegment, SendTime, SocketKind, SocketOptions, ThreadPrivileges, TransportKind,
    TransportSocket, TypeFilter, drop_privileges, permission_hint, route_source, thread_privileges,
};
use icmpkit::sweep::{
    HostResult, MAX_AUTO_SENDERS, MAX_SENDERS, NameError, PACKET_MIN_TARGETS, PARALLEL_MIN_RATE,
    PARALLEL_MIN_TARGETS, Permutation, Schedule, SenderKind, Shard, SweepEvent, SweepOptions,
    SweepOptionsBuilder, SweepSummary, Sweeper, TargetSet, TargetSetBuilder, TargetSpec, multiping,
    multiping_blocking, parse_lines, resolve_targets,
};
use icmpkit::trace::{
    Annotation, DEFAULT_TCP_PORT, DEFAULT_UDP_PORT, Extension, HISTORY_LEN, Hop, HopStatistics,
    LiveEvent, LiveTrace, Plan, ProbeProtocol, ProbeReply, ProbeResult, ReplyKind, Responder,
    ResponderStatistics, RttRun, TraceEvent, TraceOptions, TraceOptionsBuilder, TraceStatistics,
    Tracer, traceroute, traceroute_blocking,
};
use icmpkit::{
    Error, IcmpError, IcmpErrorKind, InvalidOption, InvalidReason, IputilsRtt, MAX_OPTION_DURATION,
    PermissionHint, Remedy, Result, RttSummary, StopHandle, TransportCounters, craft, listen,
    monitor, ping, resolve, respond, socket, sweep, trace, unstable, wire,
};

use std::collections::BTreeSet;

/// Each public module and the file that declares its items.
const MODULES: &[(&str, &str)] = &[
    ("", "src/lib.rs"),
    ("craft", "src/craft/mod.rs"),
    ("listen", "src/listen/mod.rs"),
    ("monitor", "src/monitor/mod.rs"),
    ("ping", "src/ping/mod.rs"),
    ("resolve", "src/resolve.rs"),
    ("respond", "src/respond/mod.rs"),
    ("socket", "src/socket/mod.rs"),
    ("sweep", "src/sweep/mod.rs"),
    ("trace", "src/trace/mod.rs"),
];

/// The names a `use` / `pub use` statement brings in (the last segment of
/// each path, or what `as` renames it to).
fn imported_names(statement: &str) -> Vec<String> {
    let body = match (statement.find('{'), statement.rfind('}')) {
        (Some(open), Some(close)) => &statement[open + 1..close],
        _ => statement,
    };
    body.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            let part = part.rsplit(" as ").next().unwrap_or(part);
            part.rsplit("::").next().unwrap_or(part).trim().to_string()
        })
        .collect()
}

/// Every `<prefix> ... ;` statement of `source` starting at a line start.
fn statements<'a>(source: &'a str, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    source.match_indices(prefix).filter_map(move |(at, _)| {
        let line_start = at == 0 || source.as_bytes()[at - 1] == b'\n';
        let end = source[at..].find(';')?;
        line_start.then(|| &source[at + prefix.len()..at + end])
    })
}

/// What module file `source` makes public: re-exports and declarations at
/// its top level (its unit tests left out).
fn declared_public(source: &str) -> BTreeSet<String> {
    let source = source.split("#[cfg(test)]\nmod ").next().unwrap_or(source);
    let mut names: BTreeSet<String> = statements(source, "pub use ")
        .flat_map(imported_names)
        .collect();
    const KINDS: &[&str] = &[
        "pub fn ",
        "pub async fn ",
        "pub const fn ",
        "pub struct ",
        "pub enum ",
        "pub const ",
        "pub trait ",
        "pub type ",
        "pub mod ",
        "pub static ",
    ];
    for line in source.lines() {
        if let Some(kind) = KINDS.iter().find(|k| line.starts_with(**k)) {
            let rest = &line[kind.len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            names.insert(name);
        }
    }
    names
}

/// The names this file's `use icmpkit::<module>::...` lists.
fn listed(module: &str) -> BTreeSet<String> {
    let own = include_str!("public_api.rs");
    let prefix = if module.is_empty() {
        "icmpkit::{".to_string()
    } else {
        format!("icmpkit::{module}::")
    };
    statements(own, "use ")
        .filter(|s| s.starts_with(&prefix))
        .flat_map(imported_names)
        .collect()
}

#[test]
fn every_public_item_is_listed_here() {
    let root = env!("CARGO_MANIFEST_DIR");
    for (module, file) in MODULES {
        let source = std::fs::read_to_string(format!("{root}/{file}")).unwrap();
        let declared = declared_public(&source);
        let listed = listed(module);
        let added: Vec<_> = declared.difference(&listed).collect();
        let gone: Vec<_> = listed.difference(&declared).collect();
        assert!(
            added.is_empty() && gone.is_empty(),
            "module `icmpkit::{module}` ({file}): public but not listed {added:?}, \
             listed but not public {gone:?}: update tests/public_api.rs deliberately"
        );
    }
}

/// The check itself can fail: an item a module declares but the list lacks
/// is reported.
#[test]
fn an_unlisted_item_is_noticed() {
    let source = "pub use a::{B, c as D};\npub struct E;\npub(crate) fn f() {}\n";
    let declared = declared_public(source);
    let want: BTreeSet<String> = ["B", "D", "E"].map(String::from).into();
    assert_eq!(declared, want);
    assert!(!listed("ping").contains("Session"), "sessions are internal");
}

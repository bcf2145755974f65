//! The APIs that need (or must not run inside) a tokio runtime say so with
//! an error instead of tokio's panic: the async constructors outside a
//! runtime, the blocking forms inside one.

use std::net::{IpAddr, Ipv4Addr};

use icmpkit::Error;
use icmpkit::craft::{MessageSpec, SendOptions, Sender};
use icmpkit::ping::{PingOptions, Pinger, ping_blocking};
use icmpkit::resolve::parse_literal;
use icmpkit::respond::{RespondOptions, Server};
use icmpkit::socket::{AsyncIcmpSocket, Family, IcmpSocket, Privilege, SocketOptions};
use icmpkit::sweep::{SweepOptions, Sweeper, TargetSet};
use icmpkit_lab::lab_or_skip;

/// The error outside a runtime: the socket is unavailable and the message
/// names the missing runtime.
fn assert_no_runtime<T>(what: &str, result: icmpkit::Result<T>) {
    match result {
        Err(Error::SocketUnavailable { context, source }) => {
            assert!(context.contains("runtime"), "{what}: {context}");
            assert!(
                source.to_string().contains("no tokio runtime"),
                "{what}: {source}"
            );
        }
        Err(other) => panic!("{what}: unexpected error {other}"),
        Ok(_) => panic!("{what}: succeeded outside a runtime"),
    }
}

#[test]
fn async_constructors_outside_a_runtime_return_an_error() {
    let lab = lab_or_skip!("async_constructors_outside_a_runtime_return_an_error");
    let ns = lab.namespace("nort").expect("namespace");
    let _inside = ns.enter().expect("enter");
    let loopback = parse_literal("127.0.0.1").unwrap().unwrap();

    assert_no_runtime(
        "Pinger::with_target",
        Pinger::with_target(loopback.clone(), &PingOptions::default()),
    );

    let mut builder = TargetSet::builder();
    builder.host(&loopback);
    let targets = builder.build().expect("targets");
    assert_no_runtime(
        "Sweeper::with_targets",
        Sweeper::with_targets(targets, &SweepOptions::default()),
    );

    let spec = MessageSpec::echo_request(Family::V4, 1, 1, b"x");
    let dst = IpAddr::V4(Ipv4Addr::LOCALHOST);
    assert_no_runtime(
        "Sender::open",
        Sender::open(spec, dst, &SendOptions::default()),
    );

    assert_no_runtime("Server::open", Server::open(&RespondOptions::default()));

    assert_no_runtime(
        "AsyncIcmpSocket::open",
        AsyncIcmpSocket::open(Family::V4, Privilege::Privileged, &SocketOptions::default()),
    );
    let socket = IcmpSocket::open(Family::V4, Privilege::Privileged, &SocketOptions::default())
        .expect("raw socket");
    let err = AsyncIcmpSocket::new(socket).expect_err("new outside a runtime");
    assert!(err.to_string().contains("no tokio runtime"), "{err}");
}

#[test]
fn blocking_forms_inside_a_runtime_return_an_error() {
    // Refused before any socket is opened or packet sent: no lab needed.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = runtime.block_on(async { ping_blocking("127.0.0.1", &PingOptions::default()) });
    match result {
        Err(error @ Error::BlockingInRuntime) => {
            assert!(error.to_string().contains("async form"), "{error}")
        }
        other => panic!("ping_blocking inside a runtime gave {other:?}"),
    }
}

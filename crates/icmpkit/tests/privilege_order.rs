//! `Privilege` means one thing everywhere: `Auto` is datagram first (as
//! iputils ping) and `PreferRaw` raw first (as fping and traceroute), in
//! the socket layer, ping, sweep and trace alike; only the commands'
//! defaults differ. Checked as root in a namespace whose ping_group_range
//! allows datagram sockets, where both kinds open.

use icmpkit::ping::{PingOptions, Pinger};
use icmpkit::socket::{Family, IcmpSocket, Privilege, SocketKind, SocketOptions};
use icmpkit::sweep::{SweepOptions, Sweeper, TargetSpec};
use icmpkit::trace::{TraceOptions, Tracer};
use icmpkit_lab::lab_or_skip;

/// The socket kind ping, sweep and trace open under `privilege`.
async fn kinds(privilege: Privilege) -> [SocketKind; 4] {
    let socket =
        IcmpSocket::open(Family::V4, privilege, &SocketOptions::default()).expect("open a socket");
    let ping = PingOptions::builder().privilege(privilege).build().unwrap();
    let pinger = Pinger::start("127.0.0.1", &ping).await.expect("ping");
    let sweep = SweepOptions::builder()
        .privilege(privilege)
        .senders(1)
        .build()
        .unwrap();
    let specs = ["127.0.0.1".parse::<TargetSpec>().unwrap()];
    let (sweeper, _) = Sweeper::start(&specs, &sweep).await.expect("sweep");
    let trace = TraceOptions::builder()
        .privilege(privilege)
        .build()
        .unwrap();
    let tracer = Tracer::start("127.0.0.1", &trace).await.expect("trace");
    [
        socket.kind(),
        pinger.socket_kind(),
        sweeper.socket_kind().expect("an IPv4 socket"),
        tracer.socket_kind(),
    ]
}

#[test]
fn auto_and_prefer_raw_mean_the_same_in_every_command() {
    let lab = lab_or_skip!("auto_and_prefer_raw_mean_the_same_in_every_command");
    let ns = lab.namespace("order").expect("namespace");
    ns.allow_ping_sockets().expect("ping_group_range");
    let _inside = ns.enter().expect("enter the namespace");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // Order: socket layer, ping, sweep, trace.
        assert_eq!(kinds(Privilege::Auto).await, [SocketKind::Datagram; 4]);
        assert_eq!(kinds(Privilege::PreferRaw).await, [SocketKind::Raw; 4]);
        assert_eq!(kinds(Privilege::Privileged).await, [SocketKind::Raw; 4]);
        assert_eq!(
            kinds(Privilege::Unprivileged).await,
            [SocketKind::Datagram; 4]
        );
    });
    // The defaults: ping as iputils, sweep as fping, trace as traceroute.
    assert_eq!(PingOptions::default().privilege, Privilege::Auto);
    assert_eq!(SweepOptions::default().privilege, Privilege::PreferRaw);
    assert_eq!(TraceOptions::default().privilege, Privilege::PreferRaw);
}

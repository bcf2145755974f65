//! The responder's server against real kernels: link-local requesters on
//! two links are each answered on their own link.

use std::time::Duration;

use icmpkit::respond::{Outcome, RespondEvent, RespondOptions, Server};
use icmpkit_lab::{lab_or_skip, output_text};

/// The client of [`icmpkit_lab::TwinLinks`] has two links whose peers
/// share one link-local address (`fe80::99`), so a reply to `fe80::99`
/// sent without a zone leaves on whichever link the routing table names
/// first. The responder runs in the client, each peer pings it on its own
/// link: both must be answered, which only the request's interface as the
/// reply's scope id gets right.
#[test]
fn link_local_requesters_are_answered_on_their_own_link() {
    let lab = lab_or_skip!("link_local_requesters_are_answered_on_their_own_link");
    let twins = lab.twin_links("fe80::99/64").unwrap();
    twins.answering.addr_a("fe80::1/64").unwrap();
    twins.silent.addr_a("fe80::2/64").unwrap();
    // The kernel must not answer for the responder.
    twins
        .client
        .sysctl("net.ipv6.icmp.echo_ignore_all", "1")
        .unwrap();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut server = {
        let _inside = twins.client.enter().expect("enter the client namespace");
        let _rt = rt.enter();
        Server::open(&RespondOptions {
            ipv4: false,
            ..RespondOptions::default()
        })
        .expect("open the responder")
    };

    let pings: Vec<_> = [(&twins.answering, "fe80::1"), (&twins.silent, "fe80::2")]
        .into_iter()
        .map(|(link, ours)| {
            let target = format!("{ours}%{}", link.dev_b());
            let child = link
                .b()
                .command("ping")
                .args(["-6", "-c", "1", "-W", "3", &target])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("start ping");
            (target, child)
        })
        .collect();

    let events: Vec<RespondEvent> = rt.block_on(async {
        let mut events = Vec::new();
        let collect = async {
            while events.len() < 2 {
                events.push(server.next_event().await);
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), collect).await;
        events
    });

    for (target, child) in pings {
        let out = child.wait_with_output().expect("wait for ping");
        assert_eq!(
            out.status.code(),
            Some(0),
            "ping {target} was not answered on its link: {}\nevents: {events:?}",
            output_text(&out)
        );
    }
    assert_eq!(events.len(), 2, "{events:?}");
    for e in &events {
        assert!(
            matches!(e.outcome, Outcome::Answered { .. }),
            "{:?}",
            e.outcome
        );
        assert!(
            e.from == "fe80::99".parse::<std::net::IpAddr>().unwrap(),
            "{e:?}"
        );
    }
    assert_eq!(server.held(), 0);
    assert_eq!(server.overflowed(), 0);
}

//! `icmpkit sweep --sender` in the lab: the packet sender's frames counted
//! in the JSON summary, the raw sender beside it, the note for a link it
//! cannot use, and bad values refused.

use std::net::Ipv6Addr;
use std::process::Output;

use icmpkit::wire::checksum;

use icmpkit_lab::{Chain, Reject, lab_or_skip};

mod common;

fn sweep(c: &Chain, args: &[&str]) -> Output {
    common::icmpkit(c.client(), "sweep", args)
}

/// The summary object (the last line of --json output).
fn summary(o: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&o.stdout);
    let last = text.lines().last().expect("output");
    serde_json::from_str(last).expect("a JSON summary")
}

/// client — r1 — server answering 10.9.0.0/25; r1 blackholes the rest of
/// 10.9.0.0/24. r1's address resolved first.
fn lab_chain(lab: &icmpkit_lab::Lab) -> Chain {
    let c = lab.chain(1).expect("chain");
    c.serve_prefix("10.9.0.0/25").unwrap();
    c.reject(Reject::Blackhole, "10.9.0.128/25").unwrap();
    let ping = c
        .client()
        .command("ping")
        .args(["-c1", "-W1", "10.1.0.2"])
        .output()
        .unwrap();
    assert!(ping.status.success());
    c
}

#[test]
fn sender_packet_and_raw_find_the_same_hosts() {
    let lab = lab_or_skip!("sender_packet_and_raw_find_the_same_hosts");
    let c = lab_chain(&lab);
    let common = [
        "10.9.0.0/24",
        "--json",
        "-r",
        "1",
        "-t",
        "300",
        "--rate",
        "0",
    ];
    let mut by_sender = Vec::new();
    for sender in ["packet", "raw"] {
        let mut args = common.to_vec();
        args.extend(["--sender", sender]);
        let o = sweep(&c, &args);
        // Some targets are dead: fping's exit code 1.
        assert_eq!(o.status.code(), Some(1), "{o:?}");
        let s = summary(&o);
        assert_eq!(s["event"], "summary");
        // Target counts are strings (they can pass 2^53).
        assert_eq!(s["alive"], "127", "{s}");
        by_sender.push((s["frames_sent"].as_u64(), s["probes_sent"].as_u64()));
    }
    let (packet, raw) = (by_sender[0], by_sender[1]);
    assert_eq!(packet.0, packet.1, "every probe a frame: {packet:?}");
    assert!(packet.1 > Some(0));
    assert_eq!(raw.0, Some(0), "no frame from the raw sender");
}

#[test]
fn a_link_the_packet_sender_cannot_use_is_noted_on_stderr() {
    let lab = lab_or_skip!("a_link_the_packet_sender_cannot_use_is_noted_on_stderr");
    let c = lab_chain(&lab);
    let client = c.client();
    if let Err(e) = client.ip(&["tuntap", "add", "tunc0", "mode", "tun"]) {
        icmpkit_lab::report_skip("a_link_the_packet_sender_cannot_use_is_noted_on_stderr", &e);
        return;
    }
    client.addr("tunc0", "10.66.0.1/24").unwrap();
    client.up("tunc0").unwrap();
    client.route("10.66.1.0/30 dev tunc0").unwrap();
    let o = sweep(
        &c,
        &[
            "10.9.0.1",
            "10.66.1.1",
            "--sender",
            "packet",
            "-r",
            "0",
            "-t",
            "200",
            "--json",
        ],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("packet sender: ") && stderr.contains("tunc0"),
        "{stderr}"
    );
    let s = summary(&o);
    assert_eq!(
        (s["alive"].as_str(), s["frames_sent"].as_u64()),
        (Some("1"), Some(1)),
        "{s}"
    );
    let fallbacks = s["fallbacks"].as_array().expect("a list");
    assert!(
        fallbacks
            .iter()
            .any(|f| f.as_str().unwrap_or("").contains("not an Ethernet link"))
    );
}

#[test]
fn bad_sender_values_are_refused() {
    let lab = lab_or_skip!("bad_sender_values_are_refused");
    let c = lab.pair().expect("pair");
    let o = sweep(&c, &["10.1.0.2", "--sender", "zmap"]);
    // fping's exit code for bad arguments.
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("--sender"));
    let o = sweep(&c, &["10.1.0.2", "--sender", "packet", "--unprivileged"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{o:?}");
    assert!(stderr.contains("sender"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // A transmit ring mode it does not know (it was taken for the default).
    let o = c
        .client()
        .command(common::ICMPKIT)
        .env("ICMPKIT_TX_RING", "OFF")
        .args(["sweep", "10.1.0.2", "--sender", "packet"])
        .output()
        .expect("run icmpkit");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    assert!(
        stderr.contains("ICMPKIT_TX_RING") && stderr.contains("\"OFF\""),
        "{stderr}"
    );
}

/// The packet sender's two transmit paths, its ring (waited for before
/// the first frame: `ICMPKIT_TX_RING=wait`) and `sendmmsg`
/// (`ICMPKIT_TX_RING=off`), find the same hosts, IPv4 and IPv6, each with
/// every frame counted where it went, and put frames on the wire whose
/// checksums verify; with extra sending threads too (`--senders 2`: one
/// ring each, each kick to its family's EtherType).
#[test]
fn the_transmit_ring_and_sendmmsg_send_the_same_frames() {
    let lab = lab_or_skip!("the_transmit_ring_and_sendmmsg_send_the_same_frames");
    let c = lab_chain(&lab);
    c.serve_prefix("fd00:9::/121").unwrap();
    c.reject(Reject::Blackhole, "fd00:9::80/121").unwrap();
    let ping6 = c
        .client()
        .command("ping")
        .args(["-6", "-c1", "-W1", "fd00:1::2"])
        .output()
        .unwrap();
    assert!(ping6.status.success());
    for (mode, senders) in [("wait", "1"), ("wait", "2"), ("off", "1")] {
        let capture = c.server().capture().expect("capture");
        let o = c
            .client()
            .command(common::ICMPKIT)
            .env("ICMPKIT_TX_RING", mode)
            .arg("sweep")
            .args([
                "10.9.0.0/24",
                "fd00:9::/120",
                "--json",
                "-r",
                "0",
                "-t",
                "300",
            ])
            .args(["--rate", "0", "--sender", "packet", "--senders", senders])
            .output()
            .expect("run icmpkit");
        let packets = capture.finish();
        assert_eq!(o.status.code(), Some(1), "{o:?}");
        let s = summary(&o);
        // 127 of 10.9.0.1-254 and 128 of fd00:9::0-ff.
        assert_eq!(s["alive"], "255", "{mode} {senders}: {s}");
        let count = |key: &str| s[key].as_u64().unwrap();
        assert_eq!(count("probes_sent"), 254 + 256, "{s}");
        assert_eq!(count("frames_sent"), count("probes_sent"), "{s}");
        let by_ring = if mode == "wait" {
            count("frames_sent")
        } else {
            0
        };
        assert_eq!(count("ring_frames_sent"), by_ring, "{mode} {senders}: {s}");
        // The requests that reached the server (the live halves) verify.
        let (mut v4, mut v6) = (0, 0);
        for p in &packets {
            if p.len() > 28 && p[0] == 0x45 && p[9] == 1 && p[20] == 8 {
                assert!(
                    checksum::verify(&p[..20]) && checksum::verify(&p[20..]),
                    "{p:?}"
                );
                v4 += 1;
            } else if p.len() > 48 && p[0] >> 4 == 6 && p[6] == 58 && p[40] == 128 {
                let src = Ipv6Addr::from(<[u8; 16]>::try_from(&p[8..24]).unwrap());
                let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&p[24..40]).unwrap());
                assert!(checksum::verify_icmpv6(&src, &dst, &p[40..]), "{p:?}");
                v6 += 1;
            }
        }
        assert_eq!((v4, v6), (127, 128), "{mode} {senders}");
    }
}

//! `icmpkit sweep --sender` in the lab: the packet sender's frames counted
//! in the JSON summary, the raw sender beside it, the note for a link it
//! cannot use, and bad values refused.

use std::process::Output;

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
}

/// The packet sender's two transmit paths, its ring and `sendmmsg`
/// (`ICMPKIT_TX_RING=off`), find the same hosts, each with every frame
/// counted where it went, and put frames on the wire whose checksums
/// verify.
#[test]
fn the_transmit_ring_and_sendmmsg_send_the_same_frames() {
    let lab = lab_or_skip!("the_transmit_ring_and_sendmmsg_send_the_same_frames");
    let c = lab_chain(&lab);
    let args = [
        "10.9.0.0/24",
        "--json",
        "-r",
        "0",
        "-t",
        "300",
        "--rate",
        "0",
        "--sender",
        "packet",
    ];
    for ring in [true, false] {
        let capture = c.server().capture().expect("capture");
        let mut command = c.client().command(common::ICMPKIT);
        command.arg("sweep").args(args);
        if !ring {
            command.env("ICMPKIT_TX_RING", "off");
        }
        let o = command.output().expect("run icmpkit");
        let packets = capture.finish();
        assert_eq!(o.status.code(), Some(1), "{o:?}");
        let s = summary(&o);
        assert_eq!(s["alive"], "127", "{s}");
        let (sent, frames, by_ring) = (
            s["probes_sent"].as_u64().unwrap(),
            s["frames_sent"].as_u64().unwrap(),
            s["ring_frames_sent"].as_u64().unwrap(),
        );
        assert_eq!((sent, frames), (254, 254), "{s}");
        assert_eq!(by_ring, if ring { frames } else { 0 }, "{s}");
        // The requests that reached the server (the live half) verify.
        let requests: Vec<&Vec<u8>> = packets
            .iter()
            .filter(|p| p.len() > 20 && p[0] == 0x45 && p[9] == 1 && p[20] == 8)
            .collect();
        assert_eq!(requests.len(), 127, "ring {ring}");
        for p in requests {
            assert!(icmpkit::wire::checksum::verify(&p[..20]), "{p:?}");
            assert!(icmpkit::wire::checksum::verify(&p[20..]), "{p:?}");
        }
    }
}

//! `icmpkit send` against real kernels in the lab: the Linux kernel's
//! timestamp and extended echo replies, a router's time exceeded, spoofed
//! sources seen on the wire, and clear errors.

use std::process::{Output, Stdio};
use std::time::Duration;

use icmpkit_lab::output_text as text;
use icmpkit_lab::{Chain, Lab, Ns, lab_or_skip};
use serde_json::Value;

mod common;
use common::ICMPKIT;

fn send(ns: &Ns, args: &[&str]) -> Output {
    common::icmpkit(ns, "send", args)
}

/// The `--json` events of a run.
fn events(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn with_event<'a>(events: &'a [Value], name: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == name).collect()
}

fn pair(lab: &Lab) -> Chain {
    lab.pair().expect("build the lab pair")
}

#[test]
fn timestamp_request_gets_the_kernels_timestamp_reply() {
    let lab = lab_or_skip!("timestamp_request_gets_the_kernels_timestamp_reply");
    let p = pair(&lab);
    let server = p.server_v4().to_string();
    let o = send(
        p.client(),
        &[
            "-t",
            "timestamp-request",
            "--id",
            "0x1234",
            "--seq",
            "7",
            "--json",
            &server,
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let ev = events(&o);
    let sent = with_event(&ev, "sent");
    let replies = with_event(&ev, "reply");
    assert_eq!((sent.len(), replies.len()), (1, 1), "{}", text(&o));
    let (request, reply) = (&sent[0]["packet"], &replies[0]["packet"]);
    assert_eq!(request["type"], 13);
    assert_eq!(reply["type"], 14);
    assert_eq!(reply["type_name"], "timestamp-reply");
    assert_eq!(reply["src"], server.as_str());
    assert_eq!(reply["checksum_valid"], true);
    assert_eq!(
        (reply["id"].as_u64(), reply["sequence"].as_u64()),
        (Some(0x1234), Some(7))
    );
    // The kernel copies our originate time and stamps its own receive and
    // transmit times (ms since midnight UT) within moments of it.
    assert_eq!(reply["originate"], request["originate"]);
    let originate = request["originate"].as_i64().unwrap();
    let receive = reply["receive"].as_i64().unwrap();
    let transmit = reply["transmit"].as_i64().unwrap();
    let close = |t: i64| (t - originate).rem_euclid(86_400_000) < 1_000;
    assert!(close(receive) && close(transmit), "{reply}");
    let rtt = replies[0]["rtt_ms"].as_f64().unwrap();
    assert!(rtt > 0.0 && rtt < 1000.0, "rtt {rtt}");
    let summary = &with_event(&ev, "summary")[0];
    assert_eq!(
        (summary["sent"].as_u64(), summary["replies"].as_u64()),
        (Some(1), Some(1))
    );

    // The human output shows the decoded reply with its RTT.
    let o = send(p.client(), &["-t", "13", "-c", "2", "-i", "0.05", &server]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("time stamp reply"), "{out}");
    assert_eq!(out.matches(", rtt ").count(), 2, "{out}");
    assert!(
        out.contains("--- 2 sent, 2 answered (2 replies, 0 errors) ---"),
        "{out}"
    );
}

/// A neighbor solicitation leaves with hop limit 255 unless `--ttl` says
/// otherwise (RFC 4861 §7.1.1: receivers drop it with any other), so the
/// peer's kernel answers it with a neighbor advertisement for the target;
/// sent with hop limit 64 (what it got before) the same solicitation is
/// dropped unanswered.
#[test]
fn neighbor_solicitation_is_answered_by_the_peer_kernel() {
    let lab = lab_or_skip!("neighbor_solicitation_is_answered_by_the_peer_kernel");
    let p = pair(&lab);
    let server = p.server_v6().to_string();
    let solicit = |extra: &[&str]| {
        let mut args = vec!["--json", "-t", "neighbor-solicitation", "--target", &server];
        args.extend_from_slice(&["-W", "1"]);
        args.extend_from_slice(extra);
        args.push(&server);
        send(p.client(), &args)
    };
    // The client's kernel learns the server's address first: its own
    // solicitation (hop limit 255) and the advertisement answering it
    // must not stand in for ours.
    let ping = common::icmpkit(p.client(), "ping", &["-c", "1", &server]);
    assert_eq!(ping.status.code(), Some(0), "{}", text(&ping));
    let o = solicit(&[]);
    let ev = events(&o);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let replies = with_event(&ev, "reply");
    assert_eq!(replies.len(), 1, "{}", text(&o));
    let advert = &replies[0]["packet"];
    assert_eq!(advert["type_name"], "neighbor-advertisement", "{advert}");
    assert_eq!(advert["target"], server.as_str(), "{advert}");
    assert_eq!(advert["solicited"], true, "{advert}");
    assert_eq!(advert["src"], server.as_str(), "{advert}");
    // The advertisement came with 255 too, as it must.
    assert_eq!(advert["ttl"], 255, "{advert}");

    let o = solicit(&["--ttl", "64"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let ev = events(&o);
    assert!(with_event(&ev, "reply").is_empty(), "{}", text(&o));
    assert_eq!(with_event(&ev, "timeout").len(), 1, "{}", text(&o));

    // A crafted IPv6 header (a spoofed source) carries the hop limit we
    // write: 255 for NDP too (it was 64). `--ttl` still wins.
    let capture = p.client().capture().expect("capture");
    let spoofed = "fd00:1::77";
    for ttl in [None, Some("9")] {
        let mut args = vec!["-t", "neighbor-solicitation", "--target", &server];
        args.extend_from_slice(&["--source", spoofed, "-W", "0.2"]);
        if let Some(ttl) = ttl {
            args.extend_from_slice(&["--ttl", ttl]);
        }
        args.push(&server);
        let o = send(p.client(), &args);
        assert!(text(&o).contains("crafted IP header"), "{}", text(&o));
    }
    std::thread::sleep(Duration::from_millis(100));
    let hop_limits: Vec<u8> = capture
        .finish()
        .iter()
        .filter_map(|packet| {
            let ip = icmpkit_wire::ip::ipv6::Packet::new_checked(&packet[..]).ok()?;
            let from_spoofed = ip.src_addr().to_string() == spoofed;
            let solicitation = ip.payload().first() == Some(&135);
            (from_spoofed && solicitation).then(|| ip.hop_limit())
        })
        .collect();
    assert_eq!(hop_limits, [255, 9]);
}

#[test]
fn extended_echo_gets_the_kernels_reply_only_with_probing_enabled() {
    let lab = lab_or_skip!("extended_echo_gets_the_kernels_reply_only_with_probing_enabled");
    let p = pair(&lab);
    let targets = [p.server_v4().to_string(), p.server_v6().to_string()];
    p.server()
        .sysctl("net.ipv4.icmp_echo_enable_probe", "0")
        .expect("sysctl");
    let o = send(
        p.client(),
        &["-t", "extended-echo-request", "-W", "0.5", &targets[0]],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "probing off: no reply: {}",
        text(&o)
    );
    assert!(text(&o).contains("#0 no answer"), "{}", text(&o));

    // net.ipv4.icmp_echo_enable_probe governs ICMPv6 too.
    p.server()
        .sysctl("net.ipv4.icmp_echo_enable_probe", "1")
        .expect("sysctl");
    for (target, reply_type) in [(&targets[0], 43), (&targets[1], 161)] {
        // By default the request asks about the interface holding the
        // destination address.
        let o = send(
            p.client(),
            &[
                "-t",
                "extended-echo-request",
                "--id",
                "99",
                "--seq",
                "5",
                "--json",
                target,
            ],
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let ev = events(&o);
        let reply = &with_event(&ev, "reply")[0]["packet"];
        assert_eq!(reply["type"], reply_type, "{reply}");
        assert_eq!(reply["code_name"], "no-error", "{reply}");
        assert_eq!(
            (reply["id"].as_u64(), reply["sequence"].as_u64()),
            (Some(99), Some(5))
        );
        assert_eq!(reply["active"], true, "{reply}");
        assert_eq!(reply["ipv4"], true, "{reply}");
        assert_eq!(reply["ipv6"], true, "{reply}");
    }
    // An interface the server lacks.
    let o = send(
        p.client(),
        &[
            "-t",
            "extended-echo-request",
            "--interface",
            "nosuch0",
            "--json",
            &targets[0],
        ],
    );
    let ev = events(&o);
    let reply = &with_event(&ev, "reply")[0]["packet"];
    assert_eq!(reply["code_name"], "no-such-interface", "{reply}");
}

#[test]
fn a_router_error_quoting_the_message_is_its_answer() {
    let lab = lab_or_skip!("a_router_error_quoting_the_message_is_its_answer");
    let c = lab.chain(1).expect("chain");
    for (server, router, err_type) in [
        (
            c.server_v4().to_string(),
            c.router_v4(1).unwrap().to_string(),
            11,
        ),
        (
            c.server_v6().to_string(),
            c.router_v6(1).unwrap().to_string(),
            3,
        ),
    ] {
        let o = send(
            c.client(),
            &[
                "-t",
                "echo-request",
                "--ttl",
                "1",
                "--size",
                "32",
                "--json",
                &server,
            ],
        );
        assert_eq!(
            o.status.code(),
            Some(1),
            "an error is not a reply: {}",
            text(&o)
        );
        let ev = events(&o);
        let errors = with_event(&ev, "error");
        assert_eq!(errors.len(), 1, "{}", text(&o));
        let packet = &errors[0]["packet"];
        assert_eq!(packet["type"], err_type, "{packet}");
        assert_eq!(packet["src"], router.as_str(), "{packet}");
        assert_eq!(packet["quoted"]["dst"], server.as_str(), "{packet}");
    }
}

#[test]
fn spoofed_source_and_ip_fields_go_out_as_crafted() {
    let lab = lab_or_skip!("spoofed_source_and_ip_fields_go_out_as_crafted");
    let p = pair(&lab);
    let dev = p.links()[0].dev_b().to_string();
    let server = p.server_v4().to_string();
    for (spoofed, extra) in [
        ("10.1.0.77", vec!["--ip-id", "4242", "--df"]),
        ("fd00:1::77", vec![]),
    ] {
        let dst = if spoofed.contains(':') {
            p.server_v6().to_string()
        } else {
            server.clone()
        };
        let dump = p
            .server()
            .command("timeout")
            .args([
                "5",
                "tcpdump",
                "-i",
                &dev,
                "-n",
                "-v",
                "-c",
                "1",
                "-l",
                "--immediate-mode",
            ])
            .arg(format!("src host {spoofed}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tcpdump");
        std::thread::sleep(Duration::from_millis(700));
        let mut args = vec![
            "--source", spoofed, "--ttl", "33", "-W", "0.3", "--data", "spoof",
        ];
        args.extend(extra.iter().copied());
        args.push(&dst);
        let o = send(p.client(), &args);
        let out = text(&o);
        assert!(out.contains("crafted IP header"), "{out}");
        // The answer goes to the spoofed address, not to us.
        assert_eq!(o.status.code(), Some(1), "{out}");
        let seen = dump.wait_with_output().expect("tcpdump output");
        let seen = text(&seen);
        assert!(seen.contains(&format!("{spoofed} > {dst}")), "{seen}");
        if spoofed.contains(':') {
            assert!(seen.contains("hlim 33"), "{seen}");
        } else {
            assert!(seen.contains("ttl 33, id 4242"), "{seen}");
            assert!(seen.contains("[DF]"), "{seen}");
        }
    }
}

#[test]
fn bad_input_gives_a_clear_error() {
    let lab = lab_or_skip!("bad_input_gives_a_clear_error");
    let p = pair(&lab);
    let server = p.server_v4().to_string();
    let check = |o: Output, needle: &str| {
        let out = text(&o);
        assert_eq!(o.status.code(), Some(2), "{out}");
        assert!(out.contains(needle), "expected {needle:?} in: {out}");
        assert!(!out.contains("panicked"), "{out}");
    };
    check(
        send(p.client(), &["-t", "echo-reqest", &server]),
        "--type \"echo-reqest\" is unknown",
    );
    check(
        send(p.client(), &["-t", "neighbor-solicitation", &server]),
        "is an ICMPv6 type, but the destination is IPv4",
    );
    check(
        send(
            p.client(),
            &["-t", "echo-request", "--gateway", "10.1.0.9", &server],
        ),
        "--gateway does not go with ICMPv4 echo-request",
    );
    check(
        send(
            p.client(),
            &["-t", "timestamp-request", "--data", "x", &server],
        ),
        "--data does not go with ICMPv4 timestamp",
    );
    check(
        send(p.client(), &["--ip-id", "1", &p.server_v6().to_string()]),
        "--ip-id is an IPv4 header field",
    );
    // Spoofing without root: the message names the capability.
    let o = p
        .client()
        .run_as(65534, 65534, ICMPKIT)
        .args(["send", "--source", "10.1.0.77", &server])
        .output()
        .expect("run as nobody");
    check(o, "CAP_NET_RAW");
}

/// A link-local destination's zone picks the link: the same address sits
/// on two links and only the peer on the first answers echo.
#[test]
fn link_local_zone_picks_the_link() {
    let lab = lab_or_skip!("send_link_local_zone_picks_the_link");
    let twins = lab.twin_links("fe80::99/64").unwrap();
    for (dev, answered) in [(twins.answering.dev_a(), 1), (twins.silent.dev_a(), 0)] {
        let target = format!("fe80::99%{dev}");
        let o = send(&twins.client, &[&target, "-W", "0.3", "--json"]);
        let replies = with_event(&events(&o), "reply").len();
        assert_eq!(replies, answered, "{target}: {}", text(&o));
    }
}

/// P9 of the new-user trial: `--size` takes IPv6 payloads up to 65,527,
/// as ping does, and the reply comes back whole; IPv4 stops at 65,507.
#[test]
fn ipv6_payloads_up_to_65527_as_ping() {
    let lab = lab_or_skip!("ipv6_payloads_up_to_65527_as_ping");
    let ns = lab.namespace("bigsend").expect("namespace");
    let o = send(&ns, &["--json", "--size", "65527", "::1"]);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let events = events(&o);
    let summary = with_event(&events, "summary");
    assert_eq!(summary[0]["answered"], 1, "{stderr}");
    // 65,527 bytes of data after the 8-byte header, both ways.
    for name in ["sent", "reply"] {
        let packet = &with_event(&events, name)[0]["packet"];
        assert_eq!(packet["length"], 65_535, "{name}");
    }
    let o = send(&ns, &["--size", "65528", "::1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = send(&ns, &["--size", "65508", "127.0.0.1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("payload of 65508 bytes is too large for IPv4 (max 65507)"),
        "{}",
        text(&o)
    );
}

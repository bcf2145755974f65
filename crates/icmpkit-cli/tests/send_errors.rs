//! Send errors are never silent and never pass for an unreachable host:
//! sweep probes above the MTU are fragmented (DF only with -M), every
//! refused send is named per target (human, JSON, CSV) and counted; ping
//! with no route fails at once as iputils does.

use std::process::Output;
use std::time::{Duration, Instant};

use icmpkit_lab::{Chain, lab_or_skip};

mod common;

/// Nothing routes it in the lab: sends fail locally, nothing leaves.
const NO_ROUTE_V4: &str = "198.51.100.9";
const NO_ROUTE_V6: &str = "2001:db8::9";

fn sweep(c: &Chain, args: &[&str]) -> Output {
    common::icmpkit(c.client(), "sweep", args)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn sweep_probes_above_the_mtu_are_fragmented_unless_dont_fragment() {
    let lab = lab_or_skip!("sweep_probes_above_the_mtu_are_fragmented_unless_dont_fragment");
    let c = common::chain_with_ping_sockets(&lab, 0);
    let server = c.server_v4().to_string();
    // 1473 bytes of data: 1501 bytes of IPv4, one more than the veth MTU.
    for privilege in ["--privileged", "--unprivileged"] {
        let o = sweep(&c, &[&server, "-b", "1473", "-r", "0", privilege]);
        assert_eq!(
            text(&o.stdout),
            format!("{server} is alive\n"),
            "{privilege}: {}",
            text(&o.stderr)
        );
        assert_eq!(o.status.code(), Some(0), "{privilege}");
        // fping -M: DF, so the kernel refuses it, and says so.
        let o = sweep(
            &c,
            &[&server, "-b", "1473", "-r", "0", "-M", privilege, "--json"],
        );
        let err = text(&o.stderr);
        let objects = json_lines(&o);
        assert_eq!(objects[0]["event"], "start", "{objects:?}");
        let host = &objects[1];
        assert_eq!(host["status"], "error", "{privilege}: {host}");
        assert_eq!(host["send_error"], "Message too long", "{host}");
        assert_eq!(host["send_errors"], 1, "{host}");
        let summary = &objects[2];
        assert_eq!(
            (&summary["send_errors"], &summary["probes_sent"]),
            (&1.into(), &0.into()),
            "{summary} {err}"
        );
        assert_eq!(o.status.code(), Some(1));
    }
}

#[test]
fn sweep_names_every_refused_send() {
    let lab = lab_or_skip!("sweep_names_every_refused_send");
    let c = lab.pair().expect("pair");
    let server = c.server_v4().to_string();
    // The link's broadcast address (EACCES without SO_BROADCAST), and no
    // route (ENETUNREACH), beside a live host.
    let broadcast = "10.1.0.255";
    let o = sweep(&c, &[&server, broadcast, NO_ROUTE_V4, "-r", "0"]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    for line in [
        format!("{broadcast}: error while sending ping: Permission denied"),
        format!("{NO_ROUTE_V4}: error while sending ping: Network is unreachable"),
    ] {
        assert!(err.lines().any(|l| l == line), "{line:?} in {err}");
    }
    assert!(out.contains(&format!("{server} is alive")), "{out}");
    assert!(
        err.contains("1 probes, 2 send errors, 1 replies"),
        "the summary counts them: {err}"
    );
    assert_eq!(o.status.code(), Some(1));
    // -c: one line per refused probe, and xmt/rcv agrees with the summary.
    let o = sweep(&c, &[NO_ROUTE_V4, "-c", "2", "-p", "50"]);
    let err = text(&o.stderr);
    let refusals = err
        .lines()
        .filter(|l| l.ends_with("error while sending ping: Network is unreachable"))
        .count();
    assert_eq!(refusals, 2, "{err}");
    assert!(err.contains("0 probes, 2 send errors"), "{err}");
    // CSV names the refusal in the error column.
    let o = sweep(&c, &[NO_ROUTE_V4, "-r", "0", "--csv"]);
    let rows = text(&o.stdout);
    let row = rows.lines().nth(1).expect("a row");
    assert!(
        row.starts_with(&format!("{NO_ROUTE_V4},{NO_ROUTE_V4},error,"))
            && row.ends_with(",send error: Network is unreachable,"),
        "{rows}"
    );
}

#[test]
fn ping_without_a_route_fails_at_once_as_iputils() {
    let lab = lab_or_skip!("ping_without_a_route_fails_at_once_as_iputils");
    let c = lab.pair().expect("pair");
    for args in [
        &["-c", "3", NO_ROUTE_V4][..],
        &["-c", "3", NO_ROUTE_V6],
        &["-f", "-c", "2000", NO_ROUTE_V4],
        &["-c", "3", "--json", NO_ROUTE_V4],
        &["-c", "3", "--csv", NO_ROUTE_V4],
    ] {
        let start = Instant::now();
        let o = common::icmpkit(c.client(), "ping", args);
        let took = start.elapsed();
        let err = text(&o.stderr);
        assert_eq!(
            err, "icmpkit: connect: Network is unreachable\n",
            "{args:?}"
        );
        assert_eq!(text(&o.stdout), "", "{args:?}: nothing else, as iputils");
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        // Before: -W (10 s) of waiting; the flood took 32 s.
        assert!(took < Duration::from_secs(2), "{args:?} took {took:?}");
    }
    // A route, but the first send refused for another reason: no early exit.
    let o = common::icmpkit(
        c.client(),
        "ping",
        &["-c", "2", "-i", "0.2", &c.server_v4().to_string()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
}

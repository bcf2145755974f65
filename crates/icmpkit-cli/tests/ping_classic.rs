//! iputils ping's lines that `icmpkit ping` lacked, side by side with
//! iputils on the same lab: `PATTERN:`, `from SRC IFACE:` in the header,
//! `pipe N`, the broadcast warning, `-a`, `-v` (`ident=`), `-e`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Output, Stdio};

use icmpkit_lab::output_text as text;
use icmpkit_lab::{Chain, Lab, Ns, lab_or_skip};

mod common;

fn icmpkit(ns: &Ns, args: &[&str]) -> Output {
    common::icmpkit(ns, "ping", args)
}

/// iputils ping with the same flags, or `None` (a visible skip) without it.
fn iputils(ns: &Ns, args: &[&str]) -> Option<Output> {
    if icmpkit_lab::require_tool("ping").is_err() {
        icmpkit_lab::report_skip("iputils comparison", &"ping not on PATH");
        return None;
    }
    Some(ns.command("ping").args(args).output().expect("run ping"))
}

/// client — r1 — server, whose echo replies come from `icmpkit respond
/// --delay 20ms` (the kernel's own answers off): a preload is still
/// outstanding when its first reply comes. The responder is killed by its
/// own pid when the returned guard drops.
fn slow_chain(lab: &Lab) -> (Chain, SlowResponder) {
    let c = lab.chain(1).expect("chain");
    c.server()
        .sysctl("net.ipv4.icmp_echo_ignore_all", "1")
        .expect("sysctl");
    let mut child = c
        .server()
        .command(common::ICMPKIT)
        .args(["respond", "--delay", "20ms", "-q"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start icmpkit respond");
    // It says "answering" on stderr once its sockets are open.
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    while !line.contains("answering") {
        line.clear();
        if err.read_line(&mut line).unwrap_or(0) == 0 {
            let _ = child.kill();
            panic!("respond did not start");
        }
    }
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    (c, SlowResponder(child))
}

struct SlowResponder(Child);

impl Drop for SlowResponder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Decimal numbers (RTTs) masked as `T`.
fn masked(line: &str) -> String {
    common::mask_times(line)
}

#[test]
fn pattern_source_header_and_pipe_as_iputils() {
    let lab = lab_or_skip!("pattern_source_header_and_pipe_as_iputils");
    let (c, _responder) = slow_chain(&lab);
    let server = c.server_v4().to_string();
    let client = c.client_v4().to_string();
    let dev = c.links()[0].dev_a().to_string();
    let args = [
        "-c", "4", "-l", "3", "-i", "0.2", "-p", "ff00aa", "-I", &dev, &server,
    ];
    let ours = text(&icmpkit(c.client(), &args));
    let lines: Vec<&str> = ours.lines().collect();
    assert_eq!(lines[0], "PATTERN: 0xff00aa", "{ours}");
    assert_eq!(
        lines[1],
        format!("PING {server} ({server}) from {client} {dev}: 56(84) bytes of data."),
        "{ours}"
    );
    let rtt = lines.last().expect("an rtt line");
    assert!(rtt.ends_with(", pipe 3"), "{ours}");
    if let Some(theirs) = iputils(c.client(), &args) {
        let theirs = text(&theirs);
        let their_lines: Vec<&str> = theirs.lines().collect();
        assert_eq!(lines[..2], their_lines[..2], "{theirs}");
        assert_eq!(
            masked(rtt),
            masked(their_lines.last().expect("their rtt line")),
            "{theirs}"
        );
    }
    // -I with an address: `from ADDR : ` (no interface name); -q: no
    // PATTERN line.
    let args = ["-c", "1", "-q", "-p", "ff", "-I", &client, &server];
    let ours = text(&icmpkit(c.client(), &args));
    let first = ours.lines().next().unwrap_or_default().to_string();
    assert_eq!(
        first,
        format!("PING {server} ({server}) from {client} : 56(84) bytes of data.")
    );
    if let Some(theirs) = iputils(c.client(), &args) {
        assert_eq!(Some(first.as_str()), text(&theirs).lines().next());
    }
}

#[test]
fn broadcast_warning_as_iputils() {
    let lab = lab_or_skip!("broadcast_warning_as_iputils");
    let c = lab.chain(1).expect("chain");
    let client = c.client_v4().octets();
    // The client's /24 broadcast address (no one answers: Linux ignores
    // broadcast echoes).
    let broadcast = format!("{}.{}.{}.255", client[0], client[1], client[2]);
    let warning = "WARNING: pinging broadcast address";
    for (target, warned) in [(broadcast.as_str(), true), ("127.0.0.1", false)] {
        let args = ["-b", "-c", "1", "-W", "1", target];
        let o = icmpkit(c.client(), &args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(err.contains(warning), warned, "{target}: {err}");
        if let Some(theirs) = iputils(c.client(), &args) {
            let their_err = String::from_utf8_lossy(&theirs.stderr).into_owned();
            assert_eq!(their_err.contains(warning), warned, "{their_err}");
        }
    }
}

#[test]
fn audible_verbose_and_identifier_as_iputils() {
    let lab = lab_or_skip!("audible_verbose_and_identifier_as_iputils");
    let c = lab.chain(1).expect("chain");
    let server = c.server_v4().to_string();
    let args = ["-c", "1", "-a", "-v", "-e", "4660", &server];
    let o = icmpkit(c.client(), &args);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    // iputils -v: what getaddrinfo gave comes first.
    assert_eq!(
        out.lines().next(),
        Some(format!("ai->ai_family: AF_INET, ai->ai_canonname: '{server}'").as_str())
    );
    let reply = out.lines().nth(2).unwrap_or_default().to_string();
    assert!(
        reply.starts_with(&format!(
            "64 bytes from {server}: icmp_seq=1 ident=4660 ttl=63 time="
        )),
        "{out}"
    );
    assert!(
        reply.ends_with(" ms\x07"),
        "the bell ends the line: {reply:?}"
    );
    // The identifier is on the wire too: iputils prints what came back.
    if let Some(theirs) = iputils(c.client(), &args) {
        let theirs = String::from_utf8_lossy(&theirs.stdout).into_owned();
        let their_reply = theirs.lines().nth(2).unwrap_or_default();
        assert_eq!(out.lines().next(), theirs.lines().next());
        assert_eq!(masked(&reply), masked(their_reply), "{theirs}");
    }
}

/// The `time Nms` of ping's statistics.
fn summary_time_ms(out: &str) -> u64 {
    out.lines()
        .find_map(|l| l.split_once(", time ")?.1.strip_suffix("ms")?.parse().ok())
        .unwrap_or_else(|| panic!("no time in:\n{out}"))
}

#[test]
fn adaptive_interval_and_summary_time_as_iputils() {
    let lab = lab_or_skip!("adaptive_interval_and_summary_time_as_iputils");
    let c = lab.chain(1).expect("chain");
    c.reject(icmpkit_lab::Reject::Blackhole, "10.99.0.0/24")
        .expect("blackhole");
    let server = c.server_v4().to_string();
    // -A as root: the next request goes as soon as the reply is in (20
    // requests took 1003 ms when the first gap stayed the full second).
    let args = ["-A", "-c", "20", "-q", &server];
    let ours = text(&icmpkit(c.client(), &args));
    assert!(summary_time_ms(&ours) < 300, "{ours}");
    assert!(ours.contains("20 received"), "{ours}");
    if let Some(theirs) = iputils(c.client(), &args) {
        assert!(summary_time_ms(&text(&theirs)) < 300, "{}", text(&theirs));
    }
    // Nothing answers: the run lasts the 1 s wait after the last request,
    // but `time` ends at that request (200 ms), as iputils counts it.
    let args = ["-c", "2", "-i", "0.2", "-W", "1", "-q", "10.99.0.9"];
    let started = std::time::Instant::now();
    let ours = text(&icmpkit(c.client(), &args));
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    assert!((195..300).contains(&summary_time_ms(&ours)), "{ours}");
    if let Some(theirs) = iputils(c.client(), &args) {
        let theirs = text(&theirs);
        assert!((195..300).contains(&summary_time_ms(&theirs)), "{theirs}");
    }
}

/// `time` ends at the last request even when its reply comes later (it
/// counted up to the reply: `time 703ms` where iputils says `time 0ms`),
/// and with `-w` the `-c` is of answers: requests go on until it is met
/// (`ping -c 1 -w 2` to a silent host sent one request, iputils ten).
#[test]
fn late_replies_and_count_with_deadline_as_iputils() {
    let lab = lab_or_skip!("late_replies_and_count_with_deadline_as_iputils");
    let c = lab.chain(1).expect("chain");
    c.reject(icmpkit_lab::Reject::Blackhole, "10.99.0.0/24")
        .expect("blackhole");
    let mut responder = common::Running::start(
        c.server(),
        "respond",
        &["--delay", "300ms", "-q", "--answer", "echo"],
    );
    c.server()
        .sysctl("net.ipv4.icmp_echo_ignore_all", "1")
        .expect("sysctl");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(responder.is_running(), "respond did not start");
    let server = c.server_v4().to_string();
    let args = ["-c", "2", "-i", "0.1", "-q", &server];
    let ours = text(&icmpkit(c.client(), &args));
    assert!(ours.contains("2 received"), "{ours}");
    assert!((95..200).contains(&summary_time_ms(&ours)), "{ours}");
    if let Some(theirs) = iputils(c.client(), &args) {
        let theirs = text(&theirs);
        assert!((95..200).contains(&summary_time_ms(&theirs)), "{theirs}");
    }
    drop(responder.kill());
    // Silent: a request every 0.2 s until the 1 s deadline, exit 1.
    let args = ["-c", "1", "-w", "1", "-i", "0.2", "-q", "10.99.0.9"];
    let ours = icmpkit(c.client(), &args);
    let sent = |out: &str| -> u64 {
        out.lines()
            .find_map(|l| l.split_once(" packets transmitted")?.0.parse().ok())
            .unwrap_or_else(|| panic!("no statistics in:\n{out}"))
    };
    assert_eq!(ours.status.code(), Some(1), "{}", text(&ours));
    assert!((4..=6).contains(&sent(&text(&ours))), "{}", text(&ours));
    if let Some(theirs) = iputils(c.client(), &args) {
        assert_eq!(theirs.status.code(), Some(1));
        let (ours, theirs) = (sent(&text(&ours)), sent(&text(&theirs)));
        assert!(
            ours.abs_diff(theirs) <= 1,
            "icmpkit {ours}, iputils {theirs}"
        );
    }
}

#[test]
fn ipv6_payloads_reach_65527_bytes_as_iputils() {
    let lab = lab_or_skip!("ipv6_payloads_reach_65527_bytes_as_iputils");
    let c = lab.chain(1).expect("chain");
    // Over loopback (MTU 65536) inside the lab's client namespace.
    let o = icmpkit(c.client(), &["-6", "-c", "1", "-s", "65527", "::1"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.starts_with("PING ::1(::1) 65527 data bytes\n"), "{out}");
    assert!(out.contains("65535 bytes from ::1: icmp_seq=1 "), "{out}");
    // One more is too many; IPv4 keeps its own limit.
    let o = icmpkit(c.client(), &["-c", "1", "-s", "65528", "::1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("between 0 and 65527"), "{}", text(&o));
    let o = icmpkit(c.client(), &["-c", "1", "-s", "65508", "127.0.0.1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("between 0 and 65507"), "{}", text(&o));
    if let Some(theirs) = iputils(c.client(), &["-6", "-c", "1", "-s", "65527", "::1"]) {
        assert!(
            text(&theirs).contains("65535 bytes from ::1: icmp_seq=1 "),
            "{}",
            text(&theirs)
        );
    }
}

/// A namespace's own /etc/hosts (`ip netns exec` mounts
/// /etc/netns/<ns>/hosts over /etc/hosts), with a resolv.conf naming
/// only the namespace's own loopback, where nothing listens: no query
/// can leave. Removed when dropped.
struct OwnHosts(std::path::PathBuf);

impl OwnHosts {
    fn new(ns: &Ns, hosts: &str) -> OwnHosts {
        let dir = std::path::Path::new("/etc/netns").join(ns.name());
        std::fs::create_dir_all(&dir).expect("create /etc/netns/<ns>");
        std::fs::write(dir.join("hosts"), hosts).expect("write hosts");
        std::fs::write(
            dir.join("resolv.conf"),
            "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
        )
        .expect("write resolv.conf");
        OwnHosts(dir)
    }
}

impl Drop for OwnHosts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_dual_stack_name_takes_the_resolvers_first_family_as_iputils() {
    let lab = lab_or_skip!("a_dual_stack_name_takes_the_resolvers_first_family_as_iputils");
    let c = lab.chain(1).expect("chain");
    let (v4, v6) = (c.server_v4(), c.server_v6());
    // IPv4 listed first: getaddrinfo still sorts IPv6 (precedence 40
    // against IPv4's 10 in glibc's RFC 3484 table) ahead.
    let _hosts = OwnHosts::new(
        c.client(),
        &format!("127.0.0.1 localhost\n{v4} dual\n{v6} dual\n"),
    );
    let header = |o: &Output| text(o).lines().next().unwrap_or_default().to_string();
    let ours = icmpkit(c.client(), &["-n", "-c", "1", "dual"]);
    assert_eq!(ours.status.code(), Some(0), "{}", text(&ours));
    assert_eq!(header(&ours), format!("PING dual({v6}) 56 data bytes"));
    if let Some(theirs) = iputils(c.client(), &["-n", "-c", "1", "dual"]) {
        assert_eq!(header(&ours), header(&theirs), "{}", text(&theirs));
    }
    // -4 still picks IPv4.
    let ours = icmpkit(c.client(), &["-4", "-n", "-c", "1", "dual"]);
    assert_eq!(
        header(&ours),
        format!("PING dual ({v4}) 56(84) bytes of data.")
    );
}

#[test]
fn flow_label_is_on_the_wire_and_in_the_header_as_iputils() {
    let lab = lab_or_skip!("flow_label_is_on_the_wire_and_in_the_header_as_iputils");
    let c = lab.chain(1).expect("chain");
    let server = c.server_v6().to_string();
    // 12345 = 0x3039 (iputils reads it as decimal too).
    let args = ["-F", "12345", "-c", "2", "-i", "0.2", &server];
    let capture = c.client().capture().expect("capture");
    let ours = icmpkit(c.client(), &args);
    let labels: Vec<u32> = capture
        .finish()
        .iter()
        .filter(|p| p.len() > 40 && p[0] >> 4 == 6 && p[6] == 58 && p[40] == 128)
        .map(|p| (u32::from(p[1] & 0x0f) << 16) | (u32::from(p[2]) << 8) | u32::from(p[3]))
        .collect();
    assert_eq!(labels, [0x3039, 0x3039], "flow labels of the requests");
    assert_eq!(ours.status.code(), Some(0), "{}", text(&ours));
    let header = text(&ours).lines().next().unwrap_or_default().to_string();
    assert_eq!(
        header,
        format!("PING {server}({server}) , flow 0x03039, 56 data bytes")
    );
    if let Some(theirs) = iputils(c.client(), &args) {
        let theirs = text(&theirs);
        // iputils gives up its capabilities before the lease, which a
        // namespace's kernel may then refuse (EPERM): nothing to compare.
        if theirs.contains("can't set flowlabel") {
            icmpkit_lab::report_skip("iputils -F comparison", &theirs.trim());
        } else {
            assert_eq!(Some(header.as_str()), theirs.lines().next());
        }
    }
    // An IPv4 target has no flow label: refused by name.
    let o = icmpkit(c.client(), &["-F", "1", "-c", "1", "127.0.0.1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("-F cannot be combined with an IPv4 target"));
}

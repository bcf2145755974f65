//! `icmpkit listen` in the lab: it sees exactly the pings sent into its
//! namespace (packet socket and raw sockets), what a router forwards and
//! what the host sends (packet socket, with directions), tunnels by name,
//! `--to`/`--host`, Ctrl-C ends it cleanly, and the pcap it writes reads
//! back in tshark and in `icmpkit decode`.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

use icmpkit_lab::{Ns, lab_or_skip, require_or_skip, require_tool};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

const ICMPKIT: &str = env!("CARGO_BIN_EXE_icmpkit");

/// Starts `icmpkit listen ARGS` in `ns` and waits until its sockets are
/// open (it says "listening on" on stderr).
fn start_listen(ns: &Ns, args: &[&str]) -> (Child, std::thread::JoinHandle<String>) {
    let mut child = ns
        .command(ICMPKIT)
        .arg("listen")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start icmpkit listen");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    assert!(first.starts_with("listening on"), "listen said: {first}");
    // The rest of stderr (the counts) is read as it comes.
    let rest = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    });
    (child, rest)
}

/// Ctrl-C, then stdout and the exit status.
fn interrupt(mut child: Child) -> String {
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "listen exit status after Ctrl-C: {status}"
    );
    out
}

fn ping(ns: &Ns, args: &[&str]) {
    ns.exec(&[&["ping", "-q", "-i", "0.2"][..], args].concat())
        .expect("iputils ping");
}

fn echo_sequences(objects: &[Value], family: &str, type_name: &str, src: &str) -> Vec<u64> {
    objects
        .iter()
        .filter(|o| o["family"] == family && o["type_name"] == type_name && o["src"] == src)
        .map(|o| o["sequence"].as_u64().unwrap())
        .collect()
}

/// The `packet` records of a `--json` stream (its `start` and `summary`
/// records left out).
fn parse_objects(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["event"] == "packet")
        .collect()
}

/// Both sockets: the packet socket (the default) and `--socket raw`.
#[test]
fn listen_sees_exactly_the_pings_sent_into_its_namespace() {
    let lab = lab_or_skip!("listen_sees_exactly_the_pings_sent_into_its_namespace");
    let pair = lab.pair().expect("lab pair");
    for socket in ["packet", "raw"] {
        sees_exactly_the_pings(&pair, socket);
    }
}

fn sees_exactly_the_pings(pair: &icmpkit_lab::Chain, socket: &str) {
    let (server, client) = (pair.server(), pair.client());
    let args = ["--json", "--type", "echo-request", "--socket", socket];
    let (child, stderr) = start_listen(server, &args);
    ping(client, &["-c", "5", &pair.server_v4().to_string()]);
    ping(client, &["-6", "-c", "3", &pair.server_v6().to_string()]);
    let out = interrupt(child);
    let counts = stderr.join().unwrap();
    let records: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // A start record, a packet record per packet, a summary record.
    assert_eq!(records[0]["event"], "start", "{out}");
    assert_eq!(records[0]["command"], "listen", "{out}");
    let summary = records.last().unwrap();
    assert_eq!(summary["event"], "summary", "{out}");
    let objects: Vec<Value> = records
        .iter()
        .filter(|o| o["event"] == "packet")
        .cloned()
        .collect();
    assert_eq!(summary["shown"], objects.len(), "{out}");
    let client_v4 = pair.client_v4().to_string();
    let client_v6 = pair.client_v6().to_string();
    assert_eq!(
        echo_sequences(&objects, "icmpv4", "echo-request", &client_v4),
        vec![1, 2, 3, 4, 5],
        "{out}"
    );
    assert_eq!(
        echo_sequences(&objects, "icmpv6", "echo-request", &client_v6),
        vec![1, 2, 3],
        "{out}"
    );
    assert_eq!(objects.len(), 8, "only the pings: {out}");
    for o in &objects {
        assert_eq!(o["checksum_valid"], true);
        assert_eq!(o["ttl"], 64);
        assert!(o["time"].as_f64().unwrap() > 1.0e9, "kernel time: {o}");
        if socket == "packet" {
            assert_eq!(o["direction"], "in", "{o}");
        } else {
            assert!(o.get("direction").is_none(), "{o}");
        }
    }
    assert!(counts.contains("8 shown"), "{counts}");
    assert!(counts.contains("echo-request 5"), "{counts}");
    let drops = match socket {
        "packet" => "kernel drops: 0 (packet socket)",
        _ => "kernel drops: 0 (icmpv4), 0 (icmpv6)",
    };
    assert!(counts.contains(drops), "{counts}");
}

/// The trial's case: on a router, raw sockets see none of the ICMP it
/// forwards; the packet socket sees each packet twice, coming in on one
/// side and going out on the other, as `tcpdump -i any icmp` does.
#[test]
fn listen_on_a_router_sees_forwarded_icmp_both_ways() {
    let lab = lab_or_skip!("listen_on_a_router_sees_forwarded_icmp_both_ways");
    let chain = lab.chain(1).expect("lab chain");
    let router = chain.router(1).unwrap();
    let client_v4 = chain.client_v4().to_string();
    let server_v4 = chain.server_v4().to_string();
    let client_side = chain.links()[0].dev_b().to_owned();
    let server_side = chain.links()[1].dev_a().to_owned();

    // tcpdump beside it, when installed: the trial's reference count.
    let tcpdump = require_tool("tcpdump").ok().map(|()| {
        let mut child = router
            .command("tcpdump")
            .args(["-n", "-l", "--immediate-mode", "-i", "any", "icmp"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tcpdump");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut said = String::new();
        while !said.contains("listening on") {
            let mut line = String::new();
            assert!(
                stderr.read_line(&mut line).unwrap() > 0,
                "tcpdump said: {said}"
            );
            said += &line;
        }
        // Its closing counts go to stderr: read them as they come.
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        child
    });
    let (child, stderr) = start_listen(router, &["--json", "-4"]);
    ping(chain.client(), &["-c", "3", &server_v4]);
    let out = interrupt(child);
    if let Some(mut tcpdump) = tcpdump {
        // tcpdump stops at SIGINT with what it has printed; give it time to
        // print what it has read.
        std::thread::sleep(std::time::Duration::from_millis(300));
        kill(Pid::from_raw(tcpdump.id() as i32), Signal::SIGINT).unwrap();
        let mut lines = String::new();
        tcpdump
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut lines)
            .unwrap();
        tcpdump.wait().unwrap();
        let icmp_lines = lines.lines().filter(|l| l.contains(" ICMP ")).count();
        assert_eq!(icmp_lines, 12, "tcpdump: {lines}");
    } else {
        icmpkit_lab::report_skip(
            "listen_on_a_router_sees_forwarded_icmp_both_ways (tcpdump beside it)",
            &"tcpdump is not installed",
        );
    }
    let counts = stderr.join().unwrap();
    let objects = parse_objects(&out);
    let seen = |type_name: &str, src: &str, interface: &str, direction: &str| {
        objects
            .iter()
            .filter(|o| {
                o["type_name"] == type_name
                    && o["src"] == src
                    && o["interface"] == interface
                    && o["direction"] == direction
            })
            .count()
    };
    assert_eq!(
        seen("echo-request", &client_v4, &client_side, "in"),
        3,
        "{out}"
    );
    assert_eq!(
        seen("echo-request", &client_v4, &server_side, "out"),
        3,
        "{out}"
    );
    assert_eq!(
        seen("echo-reply", &server_v4, &server_side, "in"),
        3,
        "{out}"
    );
    assert_eq!(
        seen("echo-reply", &server_v4, &client_side, "out"),
        3,
        "{out}"
    );
    assert_eq!(objects.len(), 12, "{out}");
    assert!(counts.contains("12 shown"), "{counts}");

    let (child, stderr) = start_listen(router, &["--json", "-4", "--socket", "raw"]);
    ping(chain.client(), &["-c", "2", &server_v4]);
    let raw = interrupt(child);
    assert_eq!(
        parse_objects(&raw).len(),
        0,
        "raw sockets do not see forwarded ICMP: {raw}"
    );
    assert!(stderr.join().unwrap().contains("0 shown"));
}

/// The host's own echo requests show, going out, and the replies coming
/// in; `--to` and `--host` keep packets by destination, or either address.
#[test]
fn listen_sees_outgoing_requests_and_filters_by_destination() {
    let lab = lab_or_skip!("listen_sees_outgoing_requests_and_filters_by_destination");
    let pair = lab.pair().expect("lab pair");
    let client = pair.client();
    let (client_v4, server_v4) = (pair.client_v4().to_string(), pair.server_v4().to_string());
    let server_v6 = pair.server_v6().to_string();

    let (child, _) = start_listen(client, &["--json", "--to", &server_v4]);
    ping(client, &["-c", "2", &server_v4]);
    ping(client, &["-6", "-c", "1", &server_v6]);
    let out = interrupt(child);
    let objects = parse_objects(&out);
    assert_eq!(objects.len(), 2, "only what went to {server_v4}: {out}");
    for o in &objects {
        assert_eq!(o["type_name"], "echo-request", "{o}");
        assert_eq!(o["direction"], "out", "{o}");
        assert_eq!(o["src"], client_v4.as_str(), "{o}");
        assert_eq!(o["checksum_valid"], true, "{o}");
    }

    let (child, _) = start_listen(client, &["--host", &server_v6]);
    ping(client, &["-c", "1", &server_v4]);
    ping(client, &["-6", "-c", "2", &server_v6]);
    let out = interrupt(child);
    let lines: Vec<&str> = out.lines().filter(|l| l.contains("echo")).collect();
    assert_eq!(lines.len(), 4, "two requests out, two replies in: {out}");
    assert_eq!(
        lines.iter().filter(|l| l.contains(" out ")).count(),
        2,
        "{out}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.contains(" in ")).count(),
        2,
        "{out}"
    );
    assert!(!out.contains(&server_v4), "{out}");
}

/// ICMP inside a VXLAN tunnel, seen on the underlay interface, says what
/// carried it (decode's words, one code path).
#[test]
fn listen_names_the_vxlan_tunnel_around_icmp() {
    const NAME: &str = "listen_names_the_vxlan_tunnel_around_icmp";
    let lab = lab_or_skip!(NAME);
    let pair = lab.pair().expect("lab pair");
    let link = &pair.links()[0];
    let ends = [
        (
            pair.client(),
            link.dev_a(),
            pair.server_v4(),
            "10.99.0.1/24",
        ),
        (
            pair.server(),
            link.dev_b(),
            pair.client_v4(),
            "10.99.0.2/24",
        ),
    ];
    for (ns, dev, remote, inner) in ends {
        let remote = remote.to_string();
        let added = ns.ip(&[
            "link", "add", "vx42", "type", "vxlan", "id", "42", "remote", &remote, "dstport",
            "4789", "dev", dev,
        ]);
        if let Err(e) = added {
            icmpkit_lab::report_skip(NAME, &format!("no VXLAN devices here: {e}"));
            return;
        }
        ns.addr("vx42", inner).unwrap();
        ns.up("vx42").unwrap();
    }
    let underlay = link.dev_b().to_owned();
    let (child, _) = start_listen(pair.server(), &["-i", &underlay, "-4"]);
    ping(pair.client(), &["-c", "2", "10.99.0.2"]);
    let out = interrupt(child);
    let requests: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("10.99.0.1 > 10.99.0.2") && l.contains("echo request"))
        .collect();
    assert_eq!(requests.len(), 2, "{out}");
    for line in requests {
        assert!(line.ends_with(", via VXLAN vni 42"), "{line}");
        assert!(line.contains(&format!("{underlay} in ")), "{line}");
    }

    // Written to a file (Linux cooked v2), the tunnel is kept: decode
    // reads the same packets through it.
    let file = std::env::temp_dir().join(format!("icmpkit-{}-vxlan.pcap", std::process::id()));
    let path = file.to_str().unwrap();
    let (child, _) = start_listen(pair.server(), &["-i", &underlay, "-4", "-w", path]);
    ping(pair.client(), &["-c", "2", "10.99.0.2"]);
    interrupt(child);
    let decoded = Command::new(ICMPKIT)
        .args(["decode", "-q", "-r", path])
        .output()
        .unwrap();
    let text = String::from_utf8(decoded.stdout).unwrap();
    let _ = std::fs::remove_file(&file);
    let via: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("10.99.0.1 > 10.99.0.2") && l.ends_with(", via VXLAN vni 42"))
        .collect();
    assert_eq!(via.len(), 2, "{text}");
}

#[test]
fn listen_pcap_reads_back_in_tshark_and_decode() {
    const NAME: &str = "listen_pcap_reads_back_in_tshark_and_decode";
    require_or_skip!(NAME, require_tool("tshark"));
    let lab = lab_or_skip!(NAME);
    let pair = lab.pair().expect("lab pair");
    for file_name in ["listen.pcap", "listen.pcapng"] {
        let file = std::env::temp_dir().join(format!("icmpkit-{}-{file_name}", std::process::id()));
        let path = file.to_str().unwrap();
        let (child, _stderr) = start_listen(pair.server(), &["-w", path, "--from", "10.0.0.0/8"]);
        ping(pair.client(), &["-c", "4", &pair.server_v4().to_string()]);
        interrupt(child);

        let tshark = Command::new("tshark")
            .args([
                "-n",
                "-r",
                path,
                "-Y",
                "icmp.type == 8",
                "-T",
                "fields",
                "-e",
                "icmp.seq",
            ])
            .output()
            .unwrap();
        assert!(
            tshark.status.success(),
            "{}",
            String::from_utf8_lossy(&tshark.stderr)
        );
        let seqs: Vec<String> = String::from_utf8(tshark.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(seqs, ["1", "2", "3", "4"], "tshark on {file_name}");

        let decode = Command::new(ICMPKIT)
            .args(["decode", "--json", "-r", path])
            .output()
            .unwrap();
        assert!(decode.status.success());
        let objects: Vec<Value> = String::from_utf8(decode.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|o| o["event"] == "packet")
            .collect();
        let client_v4 = pair.client_v4().to_string();
        assert_eq!(
            echo_sequences(&objects, "icmpv4", "echo-request", &client_v4),
            vec![1, 2, 3, 4],
            "decode on {file_name}"
        );
        let _ = std::fs::remove_file(&file);
    }
}

/// `-c` ends listen after that many packets, `--duration` after that
/// long, both with status 0; `-i` listens on one interface only (pings to
/// the server arrive on its veth, not on `lo`).
#[test]
fn count_duration_and_interface_end_or_narrow_it() {
    let lab = lab_or_skip!("count_duration_and_interface_end_or_narrow_it");
    let pair = lab.pair().expect("lab pair");
    let (server, client) = (pair.server(), pair.client());
    let server_v4 = pair.server_v4().to_string();
    let wait = |child: Child| {
        let out = child.wait_with_output().expect("listen ends by itself");
        assert!(out.status.success(), "{:?}", out.status);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let (child, _) = start_listen(server, &["-c", "2", "--type", "echo-request", "-4"]);
    ping(client, &["-c", "4", &server_v4]);
    assert_eq!(wait(child).lines().count(), 2);

    let start = std::time::Instant::now();
    let (child, _) = start_listen(server, &["--duration", "0.5"]);
    wait(child);
    let took = start.elapsed();
    assert!(
        took >= std::time::Duration::from_millis(450) && took < std::time::Duration::from_secs(3),
        "{took:?}"
    );

    let (child, _) = start_listen(server, &["-i", "lo", "--type", "echo-request", "-4"]);
    ping(client, &["-c", "2", &server_v4]);
    assert_eq!(interrupt(child).lines().count(), 0, "nothing came in on lo");
}

/// Without CAP_NET_RAW neither socket opens: `--socket packet` and the
/// default (packet, then raw) both fail with exit 2 and the remedy. The
/// default says that it tried both kinds and that the one grant covers
/// both (it spoke of "an ICMP socket" and "a raw socket" only).
#[test]
fn unprivileged_listen_says_what_it_needs() {
    let lab = lab_or_skip!("unprivileged_listen_says_what_it_needs");
    let ns = lab.namespace("nobody").expect("namespace");
    let mentions = [
        ("packet", &["packet socket", "CAP_NET_RAW"][..]),
        ("auto", &["packet socket", "raw sockets", "allows both"]),
        ("raw", &["Raw sockets need CAP_NET_RAW"]),
    ];
    for (socket, words) in mentions {
        let out = ns
            .run_as(65534, 65534, ICMPKIT)
            .args(["listen", "-c", "1", "--socket", socket])
            .output()
            .expect("run listen as nobody");
        let stderr = String::from_utf8_lossy(&out.stderr);
        for word in words {
            assert!(stderr.contains(word), "{socket}: no {word:?} in {stderr}");
        }
    }
    for socket in ["packet", "auto", "raw"] {
        let out = ns
            .run_as(65534, 65534, ICMPKIT)
            .args(["listen", "-c", "1", "--socket", socket])
            .output()
            .expect("run listen as nobody");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{socket}: {stderr}");
        assert!(
            stderr.contains("CAP_NET_RAW") && stderr.contains("setcap cap_net_raw+ep"),
            "{socket}: {stderr}"
        );
    }
}

/// The kernel filter passes IPv6 packets whose first next header is an
/// extension header without following the chain; user space does: an
/// echo request behind a hop-by-hop header shows, a UDP datagram behind
/// one does not. A big ping leaves in fragments: the first shows, marked
/// (its checksum cannot be verified from it alone), the others are
/// skipped, never a `bad checksum`.
#[test]
fn listen_follows_extension_headers_and_marks_first_fragments() {
    const NAME: &str = "listen_follows_extension_headers_and_marks_first_fragments";
    let lab = lab_or_skip!(NAME);
    let scapy = Command::new("/usr/bin/python3")
        .args(["-c", "import scapy.all"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !scapy {
        icmpkit_lab::report_skip(NAME, &"Debian's python3-scapy is missing");
        return;
    }
    let pair = lab.pair().expect("lab pair");
    let (client, server) = (pair.client(), pair.server());
    let dev = pair.links()[0].dev_a().to_owned();
    let server_v6 = pair.server_v6().to_string();
    let server_v4 = pair.server_v4().to_string();
    // The server's MAC, for frames sent by hand.
    let mac = server
        .exec(&[
            "cat",
            &format!("/sys/class/net/{}/address", pair.links()[0].dev_b()),
        ])
        .unwrap();
    let (child, _) = start_listen(client, &["--json", "--from", &pair.client_v6().to_string()]);
    let script = format!(
        "from scapy.all import *\n\
         six = Ether(dst='{mac}')/IPv6(src='{src}', dst='{server_v6}')/IPv6ExtHdrHopByHop()\n\
         sendp([six/ICMPv6EchoRequest(id=77, seq=1), six/UDP(sport=9, dport=9)], iface='{dev}', verbose=0)\n",
        mac = mac.trim(),
        src = pair.client_v6(),
    );
    client
        .exec(&["/usr/bin/python3", "-c", &script])
        .expect("scapy sends");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let out = interrupt(child);
    let objects = parse_objects(&out);
    let sent: Vec<&Value> = objects
        .iter()
        .filter(|o| o["direction"] == "out" && o["id"] == 77)
        .collect();
    assert_eq!(sent.len(), 1, "the echo behind hop-by-hop: {out}");
    assert_eq!(sent[0]["checksum_valid"], true, "{out}");
    assert!(
        objects.iter().all(|o| o["family"] == "icmpv6"),
        "no UDP shown: {out}"
    );

    let (child, _) = start_listen(client, &["--json", "-4", "--to", &server_v4]);
    ping(client, &["-c", "1", "-s", "3000", &server_v4]);
    let out = interrupt(child);
    let objects = parse_objects(&out);
    assert_eq!(objects.len(), 1, "the first fragment only: {out}");
    let first = &objects[0];
    assert_eq!(first["first_fragment"], true, "{first}");
    assert_eq!(first["checksum_valid"], Value::Null, "{first}");
    assert_eq!(first["direction"], "out", "{first}");
}

/// Runs the program of its arguments with `socket(AF_PACKET, ...)`
/// failing as on a kernel without packet sockets (EAFNOSUPPORT), by a
/// seccomp filter (x86-64 syscall numbers).
const NO_PACKET_SOCKETS: &str = "import ctypes, os, struct, sys\n\
libc = ctypes.CDLL(None, use_errno=True)\n\
insn = lambda code, k, jt=0, jf=0: struct.pack('HBBI', code, jt, jf, k)\n\
prog = (insn(0x20, 0) + insn(0x15, 41, 0, 3) + insn(0x20, 16) + insn(0x15, 17, 0, 1)\n\
    + insn(0x06, 0x00050000 | 97) + insn(0x06, 0x7fff0000))\n\
buf = ctypes.create_string_buffer(prog, len(prog))\n\
class Prog(ctypes.Structure):\n    _fields_ = [('len', ctypes.c_ushort), ('filter', ctypes.c_void_p)]\n\
fprog = Prog(len(prog) // 8, ctypes.cast(buf, ctypes.c_void_p))\n\
assert libc.prctl(38, 1, 0, 0, 0) == 0\n\
assert libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) == 0\n\
os.execv(sys.argv[1], sys.argv[1:])\n";

/// Where no packet socket opens (a kernel without them, here a seccomp
/// filter that says so), listen falls back to raw sockets with a note and
/// still shows what reaches the host; `--socket packet` fails instead.
#[test]
fn without_packet_sockets_listen_falls_back_to_raw_with_a_note() {
    const NAME: &str = "without_packet_sockets_listen_falls_back_to_raw_with_a_note";
    let lab = lab_or_skip!(NAME);
    if std::env::consts::ARCH != "x86_64" {
        icmpkit_lab::report_skip(NAME, &"the seccomp filter uses x86-64 syscall numbers");
        return;
    }
    let ns = lab.namespace("nopacket").expect("namespace");
    let listen = |args: &[&str]| {
        let mut command = ns.command("/usr/bin/python3");
        command
            .args(["-c", NO_PACKET_SOCKETS, ICMPKIT, "listen"])
            .args(args);
        command
    };
    let mut child = listen(&["--json", "-4", "-c", "1", "--type", "echo-request"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start listen");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "listen said: {said}"
        );
        said += &line;
        if line.starts_with("listening on") {
            break;
        }
    }
    assert!(
        said.contains("note: no packet socket")
            && said.contains("listening on raw sockets, which miss outgoing and forwarded ICMP")
            && said.contains("raw sockets: what reaches this host"),
        "{said}"
    );
    ns.exec(&["ping", "-q", "-c", "1", "127.0.0.1"])
        .expect("ping");
    let out = child.wait_with_output().expect("listen ends after -c 1");
    assert!(out.status.success(), "{:?}", out.status);
    let objects = parse_objects(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0]["type_name"], "echo-request");
    assert!(
        objects[0].get("direction").is_none(),
        "raw sockets know no direction"
    );

    let out = listen(&["-c", "1", "--socket", "packet"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("opening a packet socket"), "{stderr}");
}

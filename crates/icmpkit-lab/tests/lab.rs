//! Self-tests of the lab against the real kernel and iputils `ping`.
//! Each test prints `SKIPPED: ...` and returns where root, `ip` (or `ping`, `tc`/netem) are missing.

use std::net::{IpAddr, UdpSocket};
use std::path::Path;
use std::process::Output;

use icmpkit_lab::{Lab, Ns, Reject, lab_or_skip, require_or_skip, require_tool};

/// Runs iputils ping inside `ns`; `extra` goes before the target.
fn ping(ns: &Ns, extra: &[&str], target: IpAddr) -> Output {
    ns.command("ping")
        .args(["-n", "-c1", "-W1"])
        .args(extra)
        .arg(target.to_string())
        .output()
        .expect("start ping")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn netns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

/// Interface names of the namespace this thread is in.
fn interfaces_here() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/sys/class/net")
        .expect("list interfaces")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// The inode of this thread's network namespace: identifies which one we are in.
fn current_netns() -> String {
    std::fs::read_link("/proc/thread-self/ns/net")
        .expect("read own netns")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn ping_reaches_server_through_two_routers_v4_and_v6() {
    let lab = lab_or_skip!("ping_reaches_server_through_two_routers_v4_and_v6");
    require_or_skip!(
        "ping_reaches_server_through_two_routers_v4_and_v6",
        require_tool("ping")
    );
    let chain = lab.chain(2).expect("chain");
    assert_eq!(chain.server_v4().to_string(), "10.3.0.2");
    assert_eq!(chain.server_v6().to_string(), "fd00:3::2");
    for target in [
        IpAddr::from(chain.server_v4()),
        IpAddr::from(chain.server_v6()),
    ] {
        let out = ping(chain.client(), &[], target);
        assert!(out.status.success(), "ping {target}: {}", text(&out));
        assert!(text(&out).contains("1 received"), "{}", text(&out));
    }
    // Replies come back through both routers: TTL 64 minus two hops.
    let out = ping(chain.client(), &[], chain.server_v4().into());
    assert!(text(&out).contains("ttl=62"), "{}", text(&out));
}

#[test]
fn pair_is_one_hop() {
    let lab = lab_or_skip!("pair_is_one_hop");
    require_or_skip!("pair_is_one_hop", require_tool("ping"));
    let pair = lab.pair().expect("pair");
    assert!(pair.routers().is_empty());
    assert_eq!(pair.hops_v6(), vec![pair.server_v6()]);
    for target in [
        IpAddr::from(pair.server_v4()),
        IpAddr::from(pair.server_v6()),
    ] {
        let out = ping(pair.client(), &[], target);
        assert!(out.status.success(), "ping {target}: {}", text(&out));
        assert!(
            text(&out).contains("ttl=64") || text(&out).contains("hlim=64"),
            "{}",
            text(&out)
        );
    }
}

#[test]
fn ttl_one_gets_time_exceeded_from_first_router() {
    let lab = lab_or_skip!("ttl_one_gets_time_exceeded_from_first_router");
    require_or_skip!(
        "ttl_one_gets_time_exceeded_from_first_router",
        require_tool("ping")
    );
    let chain = lab.chain(2).expect("chain");
    let r1 = chain.router_v4(1).unwrap();
    let out = ping(chain.client(), &["-t", "1"], chain.server_v4().into());
    assert!(!out.status.success());
    let said = text(&out);
    assert!(
        said.contains(&format!("From {r1}")) && said.contains("Time to live exceeded"),
        "{said}"
    );

    let out = ping(chain.client(), &["-t", "2"], chain.server_v6().into());
    let said = text(&out);
    let r2 = chain.router_v6(2).unwrap();
    assert!(
        said.contains(&format!("From {r2}")) && said.contains("Time exceeded"),
        "{said}"
    );
}

#[test]
fn reject_routes_and_missing_routes_answer_unreachable() {
    let lab = lab_or_skip!("reject_routes_and_missing_routes_answer_unreachable");
    require_or_skip!(
        "reject_routes_and_missing_routes_answer_unreachable",
        require_tool("ping")
    );
    let chain = lab.chain(2).expect("chain");
    let r2 = chain.router_v4(2).unwrap();
    chain
        .reject(Reject::Unreachable, "10.77.0.0/16")
        .expect("unreachable route");
    chain
        .reject(Reject::Prohibit, "10.78.0.0/16")
        .expect("prohibit route");
    chain
        .reject(Reject::Unreachable, "fd00:77::/32")
        .expect("v6 unreachable route");

    let cases = [
        ("10.77.0.1", "Destination Host Unreachable"), // Linux: RTN_UNREACHABLE is EHOSTUNREACH
        ("10.78.0.1", "Packet filtered"), // iputils' wording for "administratively prohibited"
        ("10.99.0.1", "Destination Net Unreachable"), // no route at all on r2
    ];
    for (target, expected) in cases {
        let out = ping(chain.client(), &[], target.parse().unwrap());
        let said = text(&out);
        assert!(!out.status.success(), "{target}: {said}");
        assert!(
            said.contains(&format!("From {r2}")) && said.contains(expected),
            "{target}: {said}"
        );
    }
    let out = ping(chain.client(), &[], "fd00:77::1".parse().unwrap());
    let said = text(&out);
    assert!(
        said.contains(&format!("From {}", chain.router_v6(2).unwrap()))
            && said.contains("No route"),
        "{said}"
    );
    assert!(pairless_reject_is_an_error(&lab));
}

/// `reject` needs a router: on a pair it is a clear error, not a panic.
fn pairless_reject_is_an_error(lab: &Lab) -> bool {
    let pair = lab.pair().expect("pair");
    pair.reject(Reject::Blackhole, "10.66.0.0/16").is_err()
}

#[test]
fn serve_prefix_answers_every_address_of_a_prefix() {
    let lab = lab_or_skip!("serve_prefix_answers_every_address_of_a_prefix");
    require_or_skip!(
        "serve_prefix_answers_every_address_of_a_prefix",
        require_tool("ping")
    );
    let chain = lab.chain(1).expect("chain");
    chain.serve_prefix("10.200.0.0/16").expect("v4 prefix");
    chain.serve_prefix("fd00:200::/32").expect("v6 prefix");
    for target in ["10.200.3.4", "10.200.250.1", "fd00:200::42"] {
        let out = ping(chain.client(), &[], target.parse().unwrap());
        assert!(out.status.success(), "{target}: {}", text(&out));
    }
}

#[test]
fn netem_delay_shows_in_rtt() {
    let lab = lab_or_skip!("netem_delay_shows_in_rtt");
    require_or_skip!("netem_delay_shows_in_rtt", lab.require_netem());
    require_or_skip!("netem_delay_shows_in_rtt", require_tool("ping"));
    let pair = lab.pair().expect("pair");
    pair.client()
        .netem(pair.links()[0].dev_a(), "delay 20ms")
        .expect("netem");
    let out = ping(pair.client(), &[], pair.server_v4().into());
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    let rtt: f64 = said
        .split("time=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("no rtt in {said}"));
    assert!(rtt >= 20.0, "rtt {rtt} ms < 20 ms: {said}");
}

#[test]
fn enter_creates_sockets_inside_and_restores_the_thread() {
    let lab = lab_or_skip!("enter_creates_sockets_inside_and_restores_the_thread");
    let ns = lab.namespace("inside").expect("namespace");
    ns.addr("lo", "10.123.0.1/32").expect("addr");
    let before = current_netns();
    // Not here before entering: the address only exists in the lab namespace.
    assert!(UdpSocket::bind("10.123.0.1:0").is_err());
    let socket = {
        let _guard = ns.enter().expect("enter");
        assert_ne!(current_netns(), before);
        UdpSocket::bind("10.123.0.1:0").expect("bind inside")
    };
    assert_eq!(
        current_netns(),
        before,
        "thread must be back in its original netns"
    );
    assert!(UdpSocket::bind("10.123.0.1:0").is_err());
    // The socket still works in the namespace it was created in.
    let local = socket.local_addr().unwrap();
    socket.send_to(b"hello", local).expect("send to self");
    let mut buf = [0u8; 8];
    let (len, from) = socket.recv_from(&mut buf).expect("recv");
    assert_eq!((&buf[..len], from), (&b"hello"[..], local));
}

#[test]
fn namespaces_are_gone_after_drop_and_after_panic() {
    let lab = lab_or_skip!("namespaces_are_gone_after_drop_and_after_panic");
    let host_interfaces = interfaces_here();
    let chain = lab.chain(1).expect("chain");
    // Veths exist only inside the namespaces, never in ours (names cannot clash).
    assert_eq!(interfaces_here(), host_interfaces);
    let names = lab.namespace_names();
    assert_eq!(names.len(), 3);
    assert!(names.iter().all(|name| netns_exists(name)));
    drop(chain);
    drop(lab);
    assert!(
        names.iter().all(|name| !netns_exists(name)),
        "left over: {names:?}"
    );
    assert_eq!(interfaces_here(), host_interfaces);

    let leaked = std::panic::catch_unwind(|| {
        let lab = Lab::new("panicking").expect("lab");
        let ns = lab.namespace("doomed").expect("namespace");
        // A process left running inside must not keep anything alive.
        let child = ns.command("sleep").arg("60").spawn().expect("spawn sleep");
        let names = lab.namespace_names();
        std::panic::panic_any((names, child));
    });
    let payload = leaked.expect_err("closure panics");
    let (names, mut child) = *payload
        .downcast::<(Vec<String>, std::process::Child)>()
        .expect("payload");
    assert!(
        names.iter().all(|name| !netns_exists(name)),
        "left over after panic: {names:?}"
    );
    let status = child.wait().expect("wait sleep");
    assert!(
        !status.success(),
        "sleep inside the namespace was killed, not left running"
    );
}

#[test]
fn parallel_labs_do_not_collide() {
    let lab = lab_or_skip!("parallel_labs_do_not_collide");
    drop(lab);
    let threads: Vec<_> = (0..3)
        .map(|i| {
            std::thread::spawn(move || {
                let lab = Lab::new("parallel").expect("lab");
                let chain = lab.chain(1).expect("chain");
                // Same addresses in every lab; each stays inside its own namespaces.
                chain
                    .client()
                    .exec(&["ping", "-n", "-c1", "-W1", "10.2.0.2"])
                    .map_err(|err| format!("{i}: {err}"))?;
                Ok::<_, String>(lab.namespace_names())
            })
        })
        .collect();
    let mut all: Vec<String> = Vec::new();
    for thread in threads {
        all.extend(
            thread
                .join()
                .expect("thread")
                .expect("ping in parallel lab"),
        );
    }
    let unique: std::collections::HashSet<_> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "names collided: {all:?}");
    assert!(all.iter().all(|name| !netns_exists(name)));
}

#[test]
fn commands_report_errors_and_sysctls_apply_per_namespace() {
    let lab = lab_or_skip!("commands_report_errors_and_sysctls_apply_per_namespace");
    let ns = lab.namespace("sysctl").expect("namespace");
    assert_eq!(ns.sysctl_get("net.ipv4.icmp_ratelimit").unwrap(), "0");
    assert_eq!(ns.sysctl_get("net.ipv4.icmp_ratemask").unwrap(), "0");
    assert_eq!(ns.sysctl_get("net.ipv6.icmp.ratelimit").unwrap(), "0");
    ns.sysctl("net.ipv4.ping_group_range", "0 2147483647")
        .expect("set");
    assert_eq!(
        ns.sysctl_get("net.ipv4.ping_group_range").unwrap(),
        "0\t2147483647"
    );
    ns.forwarding(true).expect("forwarding");
    assert_eq!(ns.sysctl_get("net.ipv6.conf.all.forwarding").unwrap(), "1");
    assert!(
        ns.sysctl("kernel.hostname", "nope").is_err(),
        "host-wide keys are refused"
    );

    let err = ns
        .exec(&["ip", "route", "add", "not-a-prefix"])
        .expect_err("bad route");
    assert!(
        err.to_string().contains("ip route add not-a-prefix"),
        "{err}"
    );
    assert!(ns.exec::<&str>(&[]).is_err());
    assert!(
        ns.route("10.5.0.0/16 via 10.6.0.1").is_err(),
        "gateway unreachable: error"
    );

    ns.addr("lo", "fd00:5::1/128").expect("v6 addr");
    ns.route("fd00:6::/64 dev lo").expect("v6 route");
    assert!(
        ns.exec(&["ip", "-6", "route"])
            .unwrap()
            .contains("fd00:6::/64")
    );
    ns.blackhole("10.66.0.0/16").expect("blackhole");
    assert!(
        ns.exec(&["ip", "route"])
            .unwrap()
            .contains("blackhole 10.66.0.0/16")
    );
}

#[test]
fn run_as_drops_privileges() {
    let lab = lab_or_skip!("run_as_drops_privileges");
    require_or_skip!("run_as_drops_privileges", require_tool("setpriv"));
    let ns = lab.namespace("user").expect("namespace");
    let out = ns.run_as(65534, 65534, "id").output().expect("run id");
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("uid=65534") && said.contains("gid=65534") && !said.contains("groups=0"),
        "{said}"
    );
}

#[test]
fn link_mtu_applies_to_both_ends() {
    let lab = lab_or_skip!("link_mtu_applies_to_both_ends");
    let a = lab.namespace("a").expect("a");
    let b = lab.namespace("b").expect("b");
    let link = lab
        .connect(&a, "192.0.2.1/24", &b, "192.0.2.2/24")
        .expect("connect");
    let second = lab.link(&a, &b).expect("second link");
    assert_eq!(
        (link.dev_a(), link.dev_b(), second.dev_a()),
        ("eth0", "eth0", "eth1")
    );
    link.mtu(1280).expect("mtu");
    for (ns, dev) in [(&a, link.dev_a()), (&b, link.dev_b())] {
        assert!(ns.ip(&["link", "show", dev]).unwrap().contains("mtu 1280"));
    }
    let out = a
        .command("ping")
        .args(["-n", "-c1", "-W1", "-M", "do", "-s", "1400", "192.0.2.2"])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "1428-byte packet cannot pass a 1280 MTU with DF: {}",
        text(&out)
    );
}

#[test]
fn traceroute_sees_each_router_in_order() {
    let lab = lab_or_skip!("traceroute_sees_each_router_in_order");
    require_or_skip!(
        "traceroute_sees_each_router_in_order",
        require_tool("traceroute")
    );
    let chain = lab.chain(3).expect("chain");
    let expected_v4: Vec<IpAddr> = chain.hops_v4().into_iter().map(IpAddr::from).collect();
    let expected_v6: Vec<IpAddr> = chain.hops_v6().into_iter().map(IpAddr::from).collect();
    for (target, expected) in [
        (chain.server_v4().to_string(), expected_v4),
        (chain.server_v6().to_string(), expected_v6),
    ] {
        let out = chain
            .client()
            .command("traceroute")
            .args(["-n", "-q1", "-w1", "-m8", &target])
            .output()
            .unwrap();
        let said = text(&out);
        assert!(out.status.success(), "{said}");
        // Hop lines: "<ttl>  <address>  <rtt> ms".
        let hops: Vec<IpAddr> = said
            .lines()
            .skip(1)
            .filter_map(|line| line.split_whitespace().nth(1)?.parse().ok())
            .collect();
        assert_eq!(hops, expected, "{said}");
    }
}

#[test]
fn capture_records_what_a_namespace_sends_and_receives() {
    let lab = lab_or_skip!("capture_records_what_a_namespace_sends_and_receives");
    require_or_skip!(
        "capture_records_what_a_namespace_sends_and_receives",
        require_tool("ping")
    );
    let c = lab.pair().expect("pair");
    let capture = c.client().capture().expect("capture");
    let out = ping(c.client(), &["-s", "99"], c.server_v4().into());
    assert!(out.status.success(), "{}", text(&out));
    let packets = capture.finish();
    // IPv4 packets of 20 + 8 + 99 bytes: our echo request out, its reply in.
    let icmp: Vec<(u8, [u8; 4], [u8; 4])> = packets
        .iter()
        .filter(|p| p.len() == 127 && p[0] == 0x45 && p[9] == 1)
        .map(|p| {
            let addr = |at: usize| [p[at], p[at + 1], p[at + 2], p[at + 3]];
            (p[20], addr(12), addr(16))
        })
        .collect();
    let (client, server) = (c.client_v4().octets(), c.server_v4().octets());
    assert_eq!(
        icmp,
        vec![(8, client, server), (0, server, client)],
        "{packets:02x?}"
    );
    // A capture in another namespace sees none of this one's traffic.
    let elsewhere = lab.namespace("quiet").expect("namespace");
    let quiet = elsewhere.capture().expect("capture");
    let out = ping(c.client(), &[], c.server_v4().into());
    assert!(out.status.success());
    assert!(quiet.finish().is_empty());
}

#[test]
fn etc_files_show_inside_only_and_go_with_the_lab() {
    let lab = lab_or_skip!("etc_files_show_inside_only_and_go_with_the_lab");
    let host_hosts = std::fs::read_to_string("/etc/hosts").expect("host /etc/hosts");
    let ns = lab.namespace("etc").expect("namespace");
    let other = lab.namespace("plain").expect("namespace");
    lab.etc_file(&ns, "hosts", "10.1.0.2 r1.lab.test\n")
        .expect("etc file");
    let dir = Path::new("/etc/netns").join(ns.name());
    assert_eq!(
        ns.exec(&["cat", "/etc/hosts"]).unwrap(),
        "10.1.0.2 r1.lab.test\n"
    );
    assert_eq!(other.exec(&["cat", "/etc/hosts"]).unwrap(), host_hosts);
    assert_eq!(std::fs::read_to_string("/etc/hosts").unwrap(), host_hosts);
    for bad in ["", "..", "a/b", "no-such-file-in-etc"] {
        assert!(lab.etc_file(&ns, bad, "x").is_err(), "{bad:?} accepted");
    }
    drop(lab);
    assert!(!dir.exists(), "{} survived the lab", dir.display());

    let leaked = std::panic::catch_unwind(|| {
        let lab = Lab::new("panicking").expect("lab");
        let ns = lab.namespace("doomed").expect("namespace");
        lab.etc_file(&ns, "resolv.conf", "nameserver 127.0.0.1\n")
            .expect("etc file");
        std::panic::panic_any(Path::new("/etc/netns").join(ns.name()));
    });
    let dir = *leaked
        .expect_err("closure panics")
        .downcast::<std::path::PathBuf>()
        .expect("payload");
    assert!(!dir.exists(), "{} survived a panic", dir.display());
}

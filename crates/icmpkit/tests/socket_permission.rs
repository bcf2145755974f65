//! Privilege: the permission error an unprivileged user gets, datagram
//! sockets for users inside ping_group_range, and drop_privileges. Each test
//! re-runs this test binary as a child process (as another user, inside a
//! lab namespace whose ping_group_range the test sets), and the child does
//! the checks; the parent asserts the child ran them and passed.

mod common;

use std::process::Output;

use common::*;
use icmpkit::socket::{Family, IcmpSocket, Privilege, SocketKind, SocketOptions};
use icmpkit_lab::lab_or_skip;

/// Set in the child: which test's child part to run.
const CHILD: &str = "ICMPKIT_SOCKET_TEST_CHILD";
const NOBODY: u32 = 65534;

fn is_child(test: &str) -> bool {
    std::env::var(CHILD).as_deref() == Ok(test)
}

/// Runs `test` of this binary again through `command` (already set up with
/// namespace and user), and returns its output once it succeeded.
fn run_child(test: &str, mut command: std::process::Command) -> Output {
    let exe = std::env::current_exe().expect("test binary path");
    let output = command
        .arg(exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD, test)
        .output()
        .expect("spawn child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("CHILD-OK"),
        "child did not run its checks:\n{stdout}\n{stderr}"
    );
    output
}

#[test]
fn permission_error_names_the_remedies() {
    const TEST: &str = "permission_error_names_the_remedies";
    if is_child(TEST) {
        for family in [Family::V4, Family::V6] {
            for privilege in [
                Privilege::Auto,
                Privilege::Privileged,
                Privilege::Unprivileged,
            ] {
                let error = IcmpSocket::open(family, privilege, &SocketOptions::default())
                    .expect_err("nobody outside ping_group_range must not get an ICMP socket");
                let icmpkit::Error::Permission(hint) = &error else {
                    panic!("{family:?} {privilege:?}: not a permission error: {error:?}");
                };
                assert_eq!(hint.ipv6, family == Family::V6);
                assert_eq!(hint.gid, NOBODY);
                assert_eq!(hint.ping_group_range, Some((1, 0)));
                assert_eq!(hint.tried, privilege);
                let message = error.to_string();
                // The remedies for the kinds tried, and only those.
                let raw = privilege != Privilege::Unprivileged;
                let datagram = privilege != Privilege::Privileged;
                for (remedy, named) in [
                    ("setcap cap_net_raw", raw),
                    ("sysctl -w net.ipv4.ping_group_range", datagram),
                    ("sudo", true),
                ] {
                    assert_eq!(
                        message.contains(remedy),
                        named,
                        "{privilege:?}: {remedy:?} in: {message}"
                    );
                }
                println!("CHILD-OK {family:?} {privilege:?}: {message}");
            }
        }
        return;
    }
    let lab = lab_or_skip!(TEST);
    let ns = lab.namespace("perm").expect("namespace");
    // Closed for everyone, whatever the host says.
    ns.sysctl("net.ipv4.ping_group_range", "1 0")
        .expect("sysctl");
    let output = run_child(TEST, ns.run_as(NOBODY, NOBODY, "env"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.matches("CHILD-OK").count(), 6, "{stdout}");
    assert!(
        stdout.contains("for group 65534 (net.ipv4.ping_group_range = 1 0)"),
        "{stdout}"
    );
}

#[test]
fn unprivileged_user_pings_inside_ping_group_range() {
    const TEST: &str = "unprivileged_user_pings_inside_ping_group_range";
    if is_child(TEST) {
        for family in [Family::V4, Family::V6] {
            let socket = IcmpSocket::open(family, Privilege::Auto, &SocketOptions::default())
                .expect("ping socket for a group inside the range");
            assert_eq!(socket.kind(), SocketKind::Datagram);
            let id = socket.echo_id().unwrap();
            socket
                .send_to(&echo_request(family, id, 1, b"nobody"), loopback(family))
                .unwrap();
            let (received, echo) = recv_echo(&socket, echo_reply_type(family), id, 1);
            assert_eq!(echo.payload, b"nobody");
            assert!(received.kernel_time.is_some());
            println!("CHILD-OK {family:?}");
        }
        // Raw stays out of reach.
        let error = IcmpSocket::open(Family::V4, Privilege::Privileged, &SocketOptions::default());
        assert!(
            matches!(error, Err(icmpkit::Error::Permission(_))),
            "{error:?}"
        );
        return;
    }
    let lab = lab_or_skip!(TEST);
    let ns = lab.namespace("unpriv").expect("namespace");
    ns.sysctl("net.ipv4.ping_group_range", "65534 65534")
        .expect("sysctl");
    run_child(TEST, ns.run_as(NOBODY, NOBODY, "env"));
}

fn status_field(name: &str) -> String {
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name}"));
    line[name.len()..].trim().to_owned()
}

#[test]
fn drop_privileges_after_opening_sockets() {
    const TEST: &str = "drop_privileges_after_opening_sockets";
    if is_child(TEST) {
        use nix::unistd::{getegid, geteuid, getgid, getuid};
        // As a setuid-root binary run by nobody: real ids 65534, effective 0.
        assert_eq!((getuid().as_raw(), geteuid().as_raw()), (NOBODY, 0));
        let socket = IcmpSocket::open(Family::V4, Privilege::Privileged, &SocketOptions::default())
            .expect("raw socket while privileged");
        assert_ne!(status_field("CapEff:"), "0000000000000000");

        icmpkit::socket::drop_privileges().expect("drop_privileges");
        assert_eq!((getuid().as_raw(), geteuid().as_raw()), (NOBODY, NOBODY));
        assert_eq!((getgid().as_raw(), getegid().as_raw()), (NOBODY, NOBODY));
        for field in ["CapEff:", "CapPrm:", "CapInh:"] {
            assert_eq!(status_field(field), "0000000000000000", "{field}");
        }
        assert_eq!(status_field("NoNewPrivs:"), "1");
        let again = IcmpSocket::open(Family::V4, Privilege::Privileged, &SocketOptions::default());
        assert!(
            matches!(again, Err(icmpkit::Error::Permission(_))),
            "{again:?}"
        );

        // The socket opened before keeps working.
        let id = test_id(20);
        socket
            .send_to(
                &echo_request(Family::V4, id, 1, b"still"),
                loopback(Family::V4),
            )
            .unwrap();
        let (_, echo) = recv_echo(&socket, 0, id, 1);
        assert_eq!(echo.payload, b"still");
        println!("CHILD-OK");
        return;
    }
    let lab = lab_or_skip!(TEST);
    let ns = lab.namespace("drop").expect("namespace");
    ns.sysctl("net.ipv4.ping_group_range", "1 0")
        .expect("sysctl");
    let mut command = ns.command("setpriv");
    command.args([
        "--ruid=65534",
        "--euid=0",
        "--rgid=65534",
        "--egid=0",
        "--clear-groups",
        "--",
    ]);
    run_child(TEST, command);
}

#[test]
fn drop_privileges_reaches_threads_started_before_it() {
    const TEST: &str = "drop_privileges_reaches_threads_started_before_it";
    if is_child(TEST) {
        // Threads started while privileged: a tokio blocking-pool thread
        // (the one a name lookup uses, kept alive afterwards) and a plain
        // one parked on a channel, as an embedder's would be.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async { tokio::task::spawn_blocking(|| ()).await })
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let parked = std::thread::spawn(move || rx.recv());
        let socket = IcmpSocket::open(Family::V4, Privilege::Privileged, &SocketOptions::default())
            .expect("raw socket while privileged");
        let before = icmpkit::socket::thread_privileges().unwrap();
        assert!(before.len() >= 5, "{before:?}");
        assert!(before.iter().all(|(_, p)| p.effective != 0), "{before:?}");

        icmpkit::socket::drop_privileges().expect("drop_privileges");
        let after = icmpkit::socket::thread_privileges().unwrap();
        assert_eq!(after.len(), before.len(), "{after:?}");
        for (tid, p) in &after {
            assert!(p.is_dropped(), "thread {tid} kept {p}");
            let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).unwrap();
            for field in ["CapEff:", "CapPrm:", "CapInh:", "CapAmb:"] {
                let line = status.lines().find(|l| l.starts_with(field)).unwrap();
                assert!(line.ends_with("0000000000000000"), "thread {tid}: {line}");
            }
        }
        // The threads interrupted by the signal go on working.
        tx.send(()).unwrap();
        parked.join().unwrap().unwrap();
        rt.block_on(async { tokio::task::spawn_blocking(|| ()).await })
            .unwrap();
        drop(socket);
        println!("CHILD-OK");
        return;
    }
    let lab = lab_or_skip!(TEST);
    let ns = lab.namespace("dropall").expect("namespace");
    // Real root: its capabilities are per thread and no uid change clears them.
    run_child(TEST, ns.command("env"));
}

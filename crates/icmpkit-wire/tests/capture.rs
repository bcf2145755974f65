//! Runs `tests/fixtures/capture.sh` into a scratch directory (it builds
//! its own network namespaces) and checks that what the kernel sends today
//! parses like the committed fixtures: the script keeps working, and the
//! fixtures are not a one-off.

mod common;

use std::path::PathBuf;
use std::process::Command;

use icmpkit_wire::icmpv4::{self, Repr};
use icmpkit_wire::ip;

fn missing_prerequisite() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("not root (network namespaces need it)".into());
    }
    for tool in ["ip", "tcpdump", "ping", "traceroute", "python3", "timeout"] {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .output();
        if !found.is_ok_and(|o| o.status.success()) {
            return Some(format!("{tool} not installed"));
        }
    }
    None
}

#[test]
fn capture_script_reproduces_fixtures() {
    if let Some(why) = missing_prerequisite() {
        println!("SKIPPED: {why}");
        return;
    }
    let out = std::env::temp_dir().join(format!("icmpkit-capture-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/capture.sh");
    let run = Command::new("bash")
        .arg(&script)
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "capture.sh failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    for name in common::FIXTURES {
        let text = std::fs::read_to_string(out.join(format!("{name}.hex"))).unwrap();
        let fresh = hex::decode(
            text.lines()
                .filter(|l| !l.starts_with('#'))
                .collect::<String>()
                .trim(),
        )
        .unwrap();
        let committed = common::fixture(name);
        let (a, b) = (
            ip::locate_icmp(&fresh).unwrap(),
            ip::locate_icmp(&committed).unwrap(),
        );
        assert_eq!(
            (a.family, a.src, a.dst, a.ttl),
            (b.family, b.src, b.dst, b.ttl),
            "{name}"
        );
        assert_eq!(a.icmp.len(), b.icmp.len(), "{name}");
        assert_eq!(a.icmp[..2], b.icmp[..2], "{name}: type and code");
        if a.family == icmpkit_wire::Family::V4 {
            let packet = icmpv4::Packet::new_checked(a.icmp).unwrap();
            assert!(packet.verify_checksum(), "{name}");
            let (x, y) = (
                Repr::parse(&packet).unwrap(),
                Repr::parse_bytes(b.icmp).unwrap(),
            );
            assert_eq!(
                x.quoted().map(|q| (q.dst, q.protocol)),
                y.quoted().map(|q| (q.dst, q.protocol)),
                "{name}"
            );
        }
    }
    std::fs::remove_dir_all(&out).unwrap();
}

//! Runs `tests/fixtures/capture.sh` into a scratch directory (it builds
//! its own network namespaces) and checks that what the kernel sends today
//! parses like the committed fixtures: the script keeps working, and the
//! fixtures are not a one-off.

mod common;

use icmpkit_wire::icmpv4::{self, Repr};
use icmpkit_wire::ip;

#[test]
fn capture_script_reproduces_fixtures() {
    let tools = ["ip", "tcpdump", "ping", "traceroute", "python3", "timeout"];
    if let Some(why) = common::missing_lab_prerequisite(&tools) {
        common::report_skip("capture_script_reproduces_fixtures", &why);
        return;
    }
    let out = common::run_capture_script("capture.sh");
    for name in common::FIXTURES {
        let fresh = common::hex_file(&out.join(format!("{name}.hex")));
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

//! A crafted ICMPv4 timestamp request (type 13), sent and its answer
//! decoded: scapy's `sr1(IP(dst=...)/ICMP(type=13))`. Needs a raw socket
//! (root or `CAP_NET_RAW`).
//! `cargo run -p icmpkit --example timestamp -- 127.0.0.1`

use icmpkit::craft::{MessageSpec, SendOptions, ms_since_midnight_ut, send_and_receive_blocking};
use icmpkit::wire::icmpv4::Repr;

fn main() -> icmpkit::Result<()> {
    let target = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1".into());
    let request = Repr::Timestamp {
        reply: false,
        id: 0x1234,
        sequence: 1,
        originate: ms_since_midnight_ut(),
        receive: 0,
        transmit: 0,
    };
    let spec = MessageSpec::try_from(request)?;
    let (answers, report) = send_and_receive_blocking(spec, &target, &SendOptions::default())?;
    for answer in &answers {
        let message = Repr::parse_bytes(&answer.message)?;
        println!(
            "{:?} from {} in {:?}: {message}",
            answer.kind, answer.from, answer.rtt
        );
    }
    println!("{} sent, {} answered", report.sent, answers.len());
    Ok(())
}

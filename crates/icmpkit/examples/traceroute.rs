//! Traceroute: every hop to the target, ICMP probes.
//! `cargo run -p icmpkit --example traceroute -- 127.0.0.1`

use icmpkit::trace::{TraceOptions, traceroute_blocking};

fn main() -> icmpkit::Result<()> {
    let target = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1".into());
    let opts = TraceOptions::builder().max_ttl(16).queries(2).build()?;
    for hop in traceroute_blocking(&target, &opts)? {
        let address = hop.address.map_or("*".to_string(), |a| a.to_string());
        println!(
            "{:>2}  {address}  {}/{} answered, avg {:?}",
            hop.distance,
            hop.packets_received,
            hop.packets_sent,
            hop.rtt.avg.unwrap_or_default()
        );
    }
    Ok(())
}

//! Parsing and building speed, against etherparse on the same bytes.
//!
//! `cargo bench -p icmpkit-wire --bench wire`. Each group's throughput is
//! in packets, so criterion's time per iteration divided by the mix size is
//! the time per packet (criterion also prints elements/s).
//!
//! Results are consumed as `black_box(&result)`: passing a large enum by
//! value makes the harness reload it with wide loads right after the
//! parser's narrow stores, a store-forwarding stall that measures the
//! harness, not the parser (for both libraries).

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use etherparse::{
    IcmpEchoHeader, Icmpv4Header, Icmpv4Slice, Icmpv4Type, Icmpv6Header, Icmpv6Slice, Icmpv6Type,
    SlicedPacket, TransportSlice,
};
use icmpkit_wire::extension::{ErrorBody, Extensions, MplsEntry, MplsStack, Object};
use icmpkit_wire::icmpv4::Repr;
use icmpkit_wire::{icmpv6, ip};
use std::net::Ipv6Addr;

/// Documentation addresses for the built ICMPv6 messages.
const V6_SRC: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const V6_DST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.hex"));
    let text = std::fs::read_to_string(path).expect("fixture");
    hex::decode(
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<String>()
            .trim(),
    )
    .expect("hex")
}

/// Wraps an ICMPv4 message in an IPv4 header.
fn in_ipv4(icmp: &[u8]) -> Vec<u8> {
    let header = ip::ipv4::Repr {
        src: [198, 51, 100, 1].into(),
        dst: [198, 51, 100, 2].into(),
        protocol: 1,
        ttl: 64,
        ident: 1,
        dont_frag: false,
        more_frags: false,
        frag_offset: 0,
        dscp: 0,
        ecn: 0,
        options: &[],
        payload_len: icmp.len(),
    };
    let mut packet = vec![0u8; 20 + icmp.len()];
    header.emit(&mut packet).unwrap();
    packet[20..].copy_from_slice(icmp);
    packet
}

const STACK: [MplsEntry; 2] = [
    MplsEntry {
        label: 24001,
        tc: 0,
        s: false,
        ttl: 1,
    },
    MplsEntry {
        label: 16,
        tc: 0,
        s: true,
        ttl: 1,
    },
];

/// The mix: IP packets of echo request, echo reply, host unreachable,
/// port unreachable, time exceeded, and time exceeded with MPLS extensions.
fn ipv4_mix() -> Vec<Vec<u8>> {
    let echo = Repr::EchoRequest {
        id: 0x1234,
        sequence: 1,
        data: &[0x5a; 56],
    };
    let mut echo_bytes = vec![0u8; echo.buffer_len()];
    echo.emit(&mut echo_bytes).unwrap();
    let unreachable = fixture("icmpv4-host-unreachable");
    let quoted = &ip::locate_icmp(&unreachable).unwrap().icmp[8..36];
    let objects = [Object::Mpls(MplsStack::from_entries(&STACK))];
    let te = Repr::TimeExceeded {
        code: 0.into(),
        body: ErrorBody::with_extensions(quoted, Extensions::from_objects(&objects)),
    };
    let mut te_bytes = vec![0u8; te.buffer_len()];
    te.emit(&mut te_bytes).unwrap();
    vec![
        in_ipv4(&echo_bytes),
        fixture("icmpv4-echo-reply"),
        unreachable.clone(),
        fixture("icmpv4-port-unreachable"),
        fixture("icmpv4-time-exceeded"),
        in_ipv4(&te_bytes),
    ]
}

fn icmp_parts(packets: &[Vec<u8>]) -> Vec<&[u8]> {
    packets
        .iter()
        .map(|p| ip::locate_icmp(p).unwrap().icmp)
        .collect()
}

fn parse(c: &mut Criterion) {
    let packets = ipv4_mix();
    let messages = icmp_parts(&packets);
    let mut group = c.benchmark_group("icmpv4_parse");
    group.throughput(Throughput::Elements(messages.len() as u64));
    group.bench_function("icmpkit", |b| {
        b.iter(|| {
            for m in &messages {
                black_box(&Repr::parse_bytes(black_box(m)));
            }
        })
    });
    group.bench_function("etherparse", |b| {
        b.iter(|| {
            for m in &messages {
                black_box(&Icmpv4Slice::from_slice(black_box(m)).map(|s| s.icmp_type()));
            }
        })
    });
    // Deeper than etherparse goes: also the quoted datagram, its transport
    // and every extension object.
    group.bench_function("icmpkit_with_quoted_and_extensions", |b| {
        b.iter(|| {
            for m in &messages {
                if let Ok(repr) = Repr::parse_bytes(black_box(m))
                    && let Some(body) = repr.error_body()
                {
                    let _ = black_box(body.quoted());
                    if let Some(ext) = body.extensions() {
                        ext.objects().for_each(|o| {
                            black_box(o.ok());
                        });
                    }
                }
            }
        })
    });
    group.finish();

    let mut group = c.benchmark_group("ip_packet_parse");
    group.throughput(Throughput::Elements(packets.len() as u64));
    group.bench_function("icmpkit", |b| {
        b.iter(|| {
            for p in &packets {
                if let Ok(found) = ip::locate_icmp(black_box(p)) {
                    black_box(&Repr::parse_bytes(found.icmp));
                }
            }
        })
    });
    group.bench_function("etherparse", |b| {
        b.iter(|| {
            for p in &packets {
                if let Ok(sliced) = SlicedPacket::from_ip(black_box(p))
                    && let Some(TransportSlice::Icmpv4(icmp)) = sliced.transport
                {
                    black_box(&icmp.icmp_type());
                }
            }
        })
    });
    group.finish();

    // IPv6: finding the ICMPv6 message (the ICMPv6 model adds its parse).
    let ptb = fixture("icmpv6-packet-too-big");
    let mut group = c.benchmark_group("ipv6_locate_icmpv6");
    group.throughput(Throughput::Elements(1));
    group.bench_function("icmpkit", |b| {
        b.iter(|| black_box(ip::locate_icmp(black_box(&ptb)).map(|f| f.icmp.len())))
    });
    group.bench_function("etherparse", |b| {
        b.iter(|| black_box(SlicedPacket::from_ip(black_box(&ptb)).map(|s| s.transport.is_some())))
    });
    group.finish();

    // ICMPv6: the full parse of a mix (the kernel's packet too big with its
    // quoted datagram, an NDP router advertisement with options, an echo).
    let v6 = icmpv6_mix();
    let mut group = c.benchmark_group("icmpv6_parse_mix");
    group.throughput(Throughput::Elements(v6.len() as u64));
    group.bench_function("icmpkit", |b| {
        b.iter(|| {
            for m in &v6 {
                let repr = icmpv6::Repr::parse_bytes(black_box(m)).unwrap();
                black_box(repr.quoted().map(|q| q.dst));
                if let icmpv6::Repr::RouterAdvert { options, .. } = repr {
                    black_box(options.iter().filter(Result::is_ok).count());
                }
            }
        })
    });
    group.bench_function("etherparse", |b| {
        b.iter(|| {
            for m in &v6 {
                black_box(Icmpv6Slice::from_slice(black_box(m)).unwrap().icmp_type());
            }
        })
    });
    group.finish();
}

/// ICMPv6 messages (without the IPv6 header) for the parse benchmark.
fn icmpv6_mix() -> Vec<Vec<u8>> {
    let ptb = fixture("icmpv6-packet-too-big");
    let mut mix = vec![ip::locate_icmp(&ptb).unwrap().icmp.to_vec()];
    let mac = [2, 0, 0x5e, 0x10, 0, 1];
    let servers = [V6_DST];
    let prefix = icmpv6::PrefixInfo {
        prefix_len: 64,
        on_link: true,
        autonomous: true,
        router_address: false,
        valid_lifetime: 86_400,
        preferred_lifetime: 14_400,
        prefix: "2001:db8:1::".parse().unwrap(),
    };
    let options = [
        icmpv6::NdpOption::SourceLinkLayerAddr(&mac),
        icmpv6::NdpOption::Mtu(1500),
        icmpv6::NdpOption::PrefixInformation(prefix),
        icmpv6::NdpOption::Rdnss {
            lifetime: 600,
            servers: icmpv6::Ipv6Addrs::new(&servers),
        },
    ];
    let payload = [0x5au8; 56];
    for repr in [
        icmpv6::Repr::RouterAdvert {
            hop_limit: 64,
            flags: icmpv6::RouterFlags::MANAGED,
            router_lifetime: 1800,
            reachable_time: 0,
            retrans_time: 0,
            options: icmpv6::NdpOptions::new(&options),
        },
        icmpv6::Repr::EchoReply {
            id: 0x1234,
            sequence: 1,
            data: &payload,
        },
    ] {
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&V6_SRC, &V6_DST, &mut buf).unwrap();
        mix.push(buf);
    }
    mix
}

fn build(c: &mut Criterion) {
    let packets = ipv4_mix();
    let messages = icmp_parts(&packets);
    let reprs: Vec<Repr<'_>> = messages
        .iter()
        .map(|m| Repr::parse_bytes(m).unwrap())
        .collect();
    let mut buf = [0u8; 2048];
    let mut group = c.benchmark_group("icmpv4_build_mix");
    group.throughput(Throughput::Elements(reprs.len() as u64));
    group.bench_function("icmpkit", |b| {
        b.iter(|| {
            for r in &reprs {
                let _ = black_box(black_box(r).emit(&mut buf));
            }
        })
    });
    group.finish();

    let payload = [0x5au8; 56];
    let mut group = c.benchmark_group("icmpv4_build_echo");
    group.throughput(Throughput::Elements(1));
    group.bench_function("icmpkit", |b| {
        b.iter(|| {
            let repr = Repr::EchoRequest {
                id: black_box(0x1234),
                sequence: black_box(1),
                data: &payload,
            };
            black_box(repr.emit(&mut buf).unwrap());
        })
    });
    group.bench_function("etherparse", |b| {
        b.iter(|| {
            let echo = IcmpEchoHeader {
                id: black_box(0x1234),
                seq: black_box(1),
            };
            let header = Icmpv4Header::with_checksum(Icmpv4Type::EchoRequest(echo), &payload);
            let bytes = header.to_bytes();
            buf[..bytes.len()].copy_from_slice(&bytes);
            buf[bytes.len()..bytes.len() + payload.len()].copy_from_slice(&payload);
            black_box(&buf);
        })
    });
    group.finish();
}

fn build_v6(c: &mut Criterion) {
    let payload = [0x5au8; 56];
    let mut buf = [0u8; 2048];
    let mut group = c.benchmark_group("icmpv6_build_echo");
    group.throughput(Throughput::Elements(1));
    group.bench_function("icmpkit", |b| {
        b.iter(|| {
            let repr = icmpv6::Repr::EchoRequest {
                id: black_box(0x1234),
                sequence: black_box(1),
                data: &payload,
            };
            black_box(repr.emit(&V6_SRC, &V6_DST, &mut buf).unwrap());
        })
    });
    group.bench_function("etherparse", |b| {
        b.iter(|| {
            let echo = IcmpEchoHeader {
                id: black_box(0x1234),
                seq: black_box(1),
            };
            let header = Icmpv6Header::with_checksum(
                Icmpv6Type::EchoRequest(echo),
                V6_SRC.octets(),
                V6_DST.octets(),
                &payload,
            )
            .unwrap();
            let bytes = header.to_bytes();
            buf[..bytes.len()].copy_from_slice(&bytes);
            buf[bytes.len()..bytes.len() + payload.len()].copy_from_slice(&payload);
            black_box(&buf);
        })
    });
    group.finish();
}

criterion_group!(benches, parse, build, build_v6);
criterion_main!(benches);

//! The per-probe work of a sweep outside the kernel: picking the next
//! target (permutation + target set), stamping its payload, and checking a
//! reply's stamp.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use icmpkit::sweep::{Permutation, TargetSet, TargetSpec};
use icmpkit::unstable::{ProbeId, StampKey, Timestamp, peek_tag};

fn hot_path(c: &mut Criterion) {
    let perm = Permutation::new((1 << 24) - 2, 1);
    let mut position = 0u64;
    c.bench_function("permutation: next element of a /8", |b| {
        b.iter(|| {
            position = (position + 1) % perm.len();
            black_box(perm.at(position))
        })
    });

    let mut builder = TargetSet::builder();
    for spec in ["192.0.2.0/24", "198.51.100.0/24", "2001:db8::/112"] {
        if let Ok(TargetSpec::Net(n)) = spec.parse() {
            builder.net(n);
        }
    }
    let set = builder.build().unwrap();
    let mut index = 0u64;
    c.bench_function("target set: index to address", |b| {
        b.iter(|| {
            index = (index + 7919) % set.len();
            black_box(set.address(index))
        })
    });

    let key = StampKey::from_parts(1, 2);
    let sent = Timestamp {
        realtime_ns: 1,
        monotonic_ns: 2,
    };
    let probe = ProbeId {
        destination: "192.0.2.9".parse().unwrap(),
        id: 7,
        sequence: 0,
    };
    let mut data = [0u8; 56];
    c.bench_function("stamp: write a tagged stamp", |b| {
        b.iter(|| key.write_tagged(black_box(&probe), sent, 42, &mut data))
    });
    key.write_tagged(&probe, sent, 42, &mut data);
    c.bench_function("stamp: validate a reply", |b| {
        b.iter(|| {
            let tag = peek_tag(black_box(&data));
            black_box((tag, key.check_tagged(&probe, &data)))
        })
    });
}

criterion_group!(benches, hot_path);
criterion_main!(benches);

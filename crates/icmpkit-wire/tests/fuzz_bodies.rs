//! The fuzz targets' bodies (`fuzz/src/lib.rs`) under proptest in the
//! normal suite: over random bytes and over mutated real packets, no parser
//! panics, and whatever parses re-emits and re-parses to the same thing
//! (the bodies assert that).

mod common;
#[path = "../../../fuzz/src/lib.rs"]
mod fuzz_bodies;

use icmpkit_wire::extension::{
    ErrorBody, Extensions, InterfaceInfo, InterfaceRole, MplsEntry, MplsStack, Object,
};
use icmpkit_wire::icmpv4::Repr;
use icmpkit_wire::ip;
use proptest::prelude::*;

/// Real packets to mutate: the kernel fixtures, plus built messages that
/// exercise RFC 4884 extensions (no kernel sends those).
fn seeds() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = common::FIXTURES
        .iter()
        .map(|n| common::fixture(n))
        .collect();
    let icmp: Vec<Vec<u8>> = seeds
        .iter()
        .map(|p| ip::locate_icmp(p).unwrap().icmp.to_vec())
        .collect();
    seeds.extend(icmp);
    let quoted = &seeds[1][28..];
    let stack = [MplsEntry {
        label: 100,
        tc: 1,
        s: true,
        ttl: 1,
    }];
    let objects = [
        Object::Mpls(MplsStack::from_entries(&stack)),
        Object::InterfaceInfo(InterfaceInfo {
            role: InterfaceRole::OutgoingInterface,
            if_index: Some(2),
            address: Some([192, 0, 2, 1].into()),
            name: Some(b"eth0"),
            mtu: Some(1500),
        }),
    ];
    let repr = Repr::TimeExceeded {
        code: 0.into(),
        body: ErrorBody::with_extensions(quoted, Extensions::from_objects(&objects)),
    };
    let mut built = vec![0u8; repr.buffer_len()];
    repr.emit(&mut built).unwrap();
    seeds.push(built);
    seeds
}

#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let n = bytes.len().max(1);
        match *m {
            Mutation::Set(i, v) => {
                if let Some(b) = bytes.get_mut(i % n) {
                    *b = v;
                }
            }
            Mutation::Flip(i, bit) => {
                if let Some(b) = bytes.get_mut(i % n) {
                    *b ^= 1 << (bit % 8);
                }
            }
            Mutation::Truncate(len) => bytes.truncate(len % n),
            Mutation::Insert(i, v) => bytes.insert(i % n.min(bytes.len() + 1).max(1), v),
        }
    }
    bytes
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Mutation::Set(i, v)),
        4 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Mutation::Insert(i, v)),
    ]
}

fn run_all(bytes: &[u8]) {
    fuzz_bodies::icmpv4(bytes);
    fuzz_bodies::icmpv6(bytes);
    fuzz_bodies::ip(bytes);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        run_all(&bytes);
    }

    #[test]
    fn mutated_real_packets_never_panic(
        seed in any::<prop::sample::Index>(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let seeds = seeds();
        let bytes = mutate(seed.get(&seeds).clone(), &mutations);
        run_all(&bytes);
    }
}

#[test]
fn unmutated_seeds_parse() {
    // The seeds themselves must parse, or the mutation test would only
    // exercise error paths.
    for seed in seeds() {
        let icmp = ip::locate_icmp(&seed)
            .map(|f| f.icmp.to_vec())
            .unwrap_or(seed.clone());
        Repr::parse_bytes(&icmp).unwrap();
        run_all(&seed);
    }
}

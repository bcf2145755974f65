//! The receive path of a batch (`IcmpSocket::recv_batch`, one `recvmmsg`)
//! on loopback, with the socket's reused storage and with storage
//! allocated and zeroed for each call (as every batch did before): one
//! packet into a 64-buffer batch, and a full batch of 64.
//!
//! Needs a raw ICMP socket (root or CAP_NET_RAW); without one it says so
//! and measures nothing. Only loopback is probed (127.0.0.1).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use icmpkit::socket::{Family, IcmpSocket, Privilege, Received, SocketOptions};
use icmpkit::unstable::echo_request;

/// Buffers per batch, as a sweep receives.
const BATCH: usize = 64;
/// Bytes per buffer, as a sweep receives.
const BUF_LEN: usize = 2048;
const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Sends `count` echo requests to loopback (the kernel answers each).
fn send_requests(socket: &IcmpSocket, count: usize, sequence: &mut u16) {
    let mut messages = Vec::with_capacity(count);
    for _ in 0..count {
        *sequence = sequence.wrapping_add(1);
        let mut out = Vec::new();
        echo_request(Family::V4, 0xbe7c, *sequence, &[0x5a; 56], &mut out);
        messages.push(out);
    }
    let batch: Vec<(&[u8], SocketAddr)> = messages
        .iter()
        .map(|m| (m.as_slice(), SocketAddr::new(LOOPBACK, 0)))
        .collect();
    let mut times = Vec::new();
    let mut sent = 0;
    while sent < count {
        sent += socket
            .send_batch(batch[sent..].iter().copied(), &mut times)
            .expect("send to loopback");
    }
}

/// Time to receive `count` replies with `recv`, the sends left untimed.
fn timed_receive(
    socket: &IcmpSocket,
    count: usize,
    iterations: u64,
    recv: impl Fn(&IcmpSocket, &mut [Vec<u8>], &mut Vec<Received>) -> usize,
) -> Duration {
    let mut bufs = vec![vec![0u8; BUF_LEN]; BATCH];
    let mut received = Vec::with_capacity(BATCH);
    let mut sequence = 0u16;
    let mut total = Duration::ZERO;
    for _ in 0..iterations {
        send_requests(socket, count, &mut sequence);
        let start = Instant::now();
        let mut got = 0;
        // Blocking socket: recvmmsg waits for the first reply only.
        while got < count {
            got += recv(socket, &mut bufs, &mut received);
        }
        total += start.elapsed();
    }
    total
}

fn receive_path(c: &mut Criterion) {
    let socket =
        match IcmpSocket::open(Family::V4, Privilege::Privileged, &SocketOptions::default()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("SKIPPED: recv_batch benchmark: no raw ICMP socket ({e})");
                return;
            }
        };
    let mut group = c.benchmark_group("recv_batch (64 buffers, loopback)");
    for count in [1usize, BATCH] {
        group.bench_function(format!("{count} packet(s), storage reused"), |b| {
            b.iter_custom(|iters| {
                timed_receive(&socket, count, iters, |s, bufs, out| {
                    s.recv_batch(bufs, out).expect("recv_batch")
                })
            })
        });
        group.bench_function(
            format!("{count} packet(s), storage allocated per call"),
            |b| {
                b.iter_custom(|iters| {
                    timed_receive(&socket, count, iters, |s, bufs, out| {
                        s.recv_batch_allocating(bufs, out).expect("recv_batch")
                    })
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, receive_path);
criterion_main!(benches);

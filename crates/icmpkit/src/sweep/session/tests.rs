use super::*;
use crate::sweep::targets::TargetSpec;

const MS: u64 = 1_000_000;

fn at(ms: u64) -> Timestamp {
    Timestamp {
        realtime_ns: 1_700_000_000_000_000_000 + ms * MS,
        monotonic_ns: 10_000 * MS + ms * MS,
    }
}

fn targets(specs: &[&str]) -> TargetSet {
    let mut b = TargetSet::builder();
    for s in specs {
        match s.parse::<TargetSpec>().unwrap() {
            TargetSpec::Net(n) => b.net(n),
            TargetSpec::Range(x, y) => b.range(x, y).unwrap(),
            TargetSpec::Host(h) => b.host(&crate::resolve::parse_literal(&h).unwrap().unwrap()),
        };
    }
    b.build().unwrap()
}

fn session(specs: &[&str], schedule: Schedule) -> Session {
    let mut s = Session::new(
        targets(specs),
        schedule,
        42,
        Shard::default(),
        StampKey::from_parts(7, 8),
    )
    .unwrap();
    s.set_id(Family::V4, 0x4242);
    s.set_id(Family::V6, 0x6666);
    s
}

fn fast(count: u32, retries: u32) -> Schedule {
    Schedule {
        count,
        retries,
        timeout: Duration::from_millis(100),
        backoff: 2.0,
        period: Duration::from_millis(300),
        rate: 0,
        ..Schedule::default()
    }
}

/// Sends whatever the session wants at `t`; returns the probes.
fn send(s: &mut Session, t: Timestamp) -> Vec<Probe> {
    let mut batch = Vec::new();
    let mut all = Vec::new();
    while s.next_batch(t, &mut batch) == Next::Send {
        s.on_sent(&batch, t);
        all.extend_from_slice(&batch);
    }
    all
}

fn payload(s: &Session, p: &Probe, sent: Timestamp) -> Vec<u8> {
    let mut data = vec![0; 56];
    s.fill_payload(p, sent, &mut data);
    data
}

fn reply(s: &mut Session, p: &Probe, now: Timestamp, data: &[u8]) {
    let from = s.targets().address(p.index).unwrap();
    let family = family_of(from);
    let r = EchoReply {
        from,
        id: s.id(family),
        sequence: p.sequence,
        data,
        bytes: 8 + data.len(),
        ttl: Some(63),
        kernel_rx_ns: None,
        checksum_ok: true,
    };
    s.on_reply(family, &r, now);
}

fn events(s: &mut Session) -> Vec<SweepEvent> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

fn hosts(events: &[SweepEvent]) -> Vec<&HostResult> {
    events
        .iter()
        .filter_map(|e| match e {
            SweepEvent::Host(h) => Some(&**h),
            _ => None,
        })
        .collect()
}

#[test]
fn replies_retries_and_timeouts() {
    // 192.0.2.1..=6: answer the even ones at once, the rest never.
    let mut s = session(&["192.0.2.0/29"], fast(1, 1));
    let first = send(&mut s, at(0));
    assert_eq!(first.len(), 6);
    let mut indices: Vec<u64> = first.iter().map(|p| p.index).collect();
    indices.sort();
    assert_eq!(indices, [0, 1, 2, 3, 4, 5]);
    for p in first.iter().filter(|p| p.index % 2 == 1) {
        let data = payload(&s, p, at(0));
        reply(&mut s, p, at(5), &data);
    }
    let ev = events(&mut s);
    let alive = hosts(&ev);
    assert_eq!(alive.len(), 3);
    assert!(
        alive
            .iter()
            .all(|h| h.is_alive() && h.report.packets_sent == 1)
    );
    assert!(
        alive
            .iter()
            .all(|h| h.report.rtts == [Duration::from_millis(5)])
    );
    assert_eq!(s.in_flight(), 3);
    // First timeout: the other three are retried (sequence 1), not given up.
    s.expire(at(100));
    assert!(events(&mut s).is_empty());
    let retries = send(&mut s, at(100));
    assert_eq!(retries.len(), 3);
    assert!(retries.iter().all(|p| p.sequence == 1 && p.index % 2 == 0));
    // The retry's timeout doubled: nothing at 150 ms after it, all at 200.
    s.expire(at(250));
    assert!(events(&mut s).is_empty());
    s.expire(at(300));
    let ev = events(&mut s);
    let dead = hosts(&ev);
    assert_eq!(dead.len(), 3);
    assert!(
        dead.iter()
            .all(|h| !h.is_alive() && h.report.packets_sent == 2)
    );
    assert_eq!(s.next_batch(at(300), &mut Vec::new()), Next::Done);
    let sum = s.summary(at(300));
    assert_eq!((sum.finished, sum.alive, sum.probes_sent), (6, 3, 9));
}

#[test]
fn a_reply_with_a_bad_checksum_is_counted_apart_never_as_alive() {
    let mut s = session(&["192.0.2.1"], fast(1, 0));
    let probes = send(&mut s, at(0));
    let data = payload(&s, &probes[0], at(0));
    let r = EchoReply {
        from: s.targets().address(0).unwrap(),
        id: s.id(Family::V4),
        sequence: probes[0].sequence,
        data: &data,
        bytes: 8 + data.len(),
        ttl: Some(63),
        kernel_rx_ns: None,
        checksum_ok: false,
    };
    s.on_reply(Family::V4, &r, at(1));
    assert!(events(&mut s).is_empty());
    let sum = s.summary(at(1));
    assert_eq!((sum.corrupted, sum.replies, sum.rejected), (1, 0, 0));
    // The probe is still open: it times out, the host is not alive.
    s.expire(at(100));
    let ev = events(&mut s);
    assert!(hosts(&ev).iter().all(|h| !h.is_alive()));
    assert_eq!(s.summary(at(100)).alive, 0);
}

#[test]
fn forged_foreign_late_and_duplicate_replies() {
    let mut s = session(&["192.0.2.1-192.0.2.3"], fast(1, 0));
    let probes = send(&mut s, at(0));
    let p = |i: u64| *probes.iter().find(|p| p.index == i).unwrap();
    // Forged: one cookie bit flipped.
    let mut forged = payload(&s, &p(0), at(0));
    forged[20] ^= 1;
    reply(&mut s, &p(0), at(1), &forged);
    // Forged: claims another target's index.
    let mut other = payload(&s, &p(1), at(0));
    other[STAMP_TAG_AT + 7] ^= 3;
    reply(&mut s, &p(1), at(1), &other);
    assert_eq!(s.summary(at(1)).rejected, 2);
    // Foreign: another program's echo id, ignored outright.
    let data = payload(&s, &p(2), at(0));
    let r = EchoReply {
        from: s.targets().address(2).unwrap(),
        id: 0x4243,
        sequence: 0,
        data: &data,
        bytes: 64,
        ttl: None,
        kernel_rx_ns: None,
        checksum_ok: true,
    };
    s.on_reply(Family::V4, &r, at(1));
    assert!(events(&mut s).is_empty());
    // Genuine, then the same again: a duplicate.
    reply(&mut s, &p(2), at(2), &data);
    reply(&mut s, &p(2), at(3), &data);
    let ev = events(&mut s);
    assert_eq!(hosts(&ev).len(), 1);
    assert!(matches!(
        ev.last(),
        Some(SweepEvent::Reply {
            duplicate: true,
            late: false,
            ..
        })
    ));
    // Timeouts, then a genuine reply after them: late, host stays dead.
    s.expire(at(100));
    let dead = events(&mut s);
    assert_eq!(hosts(&dead).len(), 2);
    let data = payload(&s, &p(0), at(0));
    reply(&mut s, &p(0), at(150), &data);
    let ev = events(&mut s);
    assert!(matches!(
        ev.as_slice(),
        [SweepEvent::Reply {
            late: true,
            index: 0,
            ..
        }]
    ));
    let sum = s.summary(at(150));
    assert_eq!((sum.alive, sum.late, sum.duplicates), (1, 1, 1));
}

const STAMP_TAG_AT: usize = crate::engine::stamp::STAMP_LEN;

/// The request the session sent for `p`, as an error would quote it.
fn quoted_request(s: &Session, p: &Probe, sent: Timestamp, full: bool) -> Vec<u8> {
    let data = payload(s, p, sent);
    let mut req = Vec::new();
    let family = family_of(s.targets().address(p.index).unwrap());
    crate::engine::probe::echo_request(family, s.id(family), p.sequence, &data, &mut req);
    if !full {
        req.truncate(8);
    }
    req
}

#[test]
fn errors_are_attributed_to_their_target_and_router() {
    let mut s = session(&["2001:db8::1-2001:db8::3"], fast(1, 2));
    let probes = send(&mut s, at(0));
    let router: IpAddr = "2001:db8:ffff::1".parse().unwrap();
    let err = IcmpError::classify(Family::V6, router, 1, 0, 0);
    // A full quote: validated by the cookie.
    let q = quoted_request(&s, &probes[0], at(0), true);
    let dst = s.targets().address(probes[0].index);
    s.on_error(Family::V6, &q, dst, err);
    // An 8-byte quote: attributed by its quoted destination.
    let q = quoted_request(&s, &probes[1], at(0), false);
    let dst = s.targets().address(probes[1].index);
    s.on_error(Family::V6, &q, dst, err);
    // A quote whose destination disagrees with the stamp: rejected.
    let q = quoted_request(&s, &probes[2], at(0), true);
    s.on_error(Family::V6, &q, Some(router), err);
    assert_eq!(s.summary(at(1)).rejected, 1);
    let ev = events(&mut s);
    let done = hosts(&ev);
    assert_eq!(done.len(), 2);
    for (h, p) in done.iter().zip(&probes) {
        assert_eq!(h.index, p.index);
        assert!(!h.is_alive());
        assert_eq!(h.error().map(|e| e.from), Some(router));
    }
    // Errors end a target: no retry for them, only for the third.
    s.expire(at(100));
    let retries = send(&mut s, at(100));
    assert_eq!(retries.len(), 1);
    assert_eq!(retries[0].index, probes[2].index);
    assert_eq!(s.summary(at(100)).errors, 2);
}

#[test]
fn cap_on_probes_in_flight_and_rate() {
    let mut sched = fast(1, 0);
    sched.max_in_flight = 4;
    let mut s = session(&["192.0.2.0/28"], sched);
    let first = send(&mut s, at(0));
    assert_eq!(first.len(), 4);
    // Full: wait for the first deadline.
    assert_eq!(
        s.next_batch(at(0), &mut Vec::new()),
        Next::WaitUntil(at(100).monotonic_ns)
    );
    // One answer frees one slot.
    let data = payload(&s, &first[0], at(0));
    reply(&mut s, &first[0], at(1), &data);
    assert_eq!(send(&mut s, at(1)).len(), 1);

    let mut sched = fast(1, 0);
    sched.rate = 1000;
    sched.batch = 8;
    let mut s = session(&["192.0.2.0/24"], sched);
    let mut sent = 0;
    for ms in 0..=100 {
        sent += send(&mut s, at(ms)).len();
    }
    // 1000 pps for 100 ms: 100 probes, plus the first token.
    assert!((100..=101).contains(&sent), "{sent}");
}

#[test]
fn waves_give_per_probe_statistics() {
    let mut s = session(&["192.0.2.1", "192.0.2.2"], fast(3, 5));
    let mut per_probe = Vec::new();
    let mut t = 0;
    for wave in 0..3 {
        let probes = send(&mut s, at(t));
        assert_eq!(probes.len(), 2, "wave {wave}");
        assert!(probes.iter().all(|p| p.sequence == wave));
        // Target 0 answers waves 0 and 2; target 1 never.
        let p0 = probes.iter().find(|p| p.index == 0).unwrap();
        if wave != 1 {
            let data = payload(&s, p0, at(t));
            reply(&mut s, p0, at(t + 10 + u64::from(wave)), &data);
        }
        per_probe.push(probes);
        s.expire(at(t + 100));
        // The next wave starts one period after this one.
        assert_eq!(send(&mut s, at(t + 299)).len(), 0);
        t += 300;
        if wave < 2 {
            assert!(hosts(&events(&mut s)).is_empty());
        }
    }
    s.expire(at(t));
    let ev = events(&mut s);
    let mut done: Vec<&HostResult> = hosts(&ev);
    done.sort_by_key(|h| h.index);
    assert_eq!(done.len(), 2);
    let h = done[0];
    assert_eq!(
        h.probe_rtts,
        [
            Some(Duration::from_millis(10)),
            None,
            Some(Duration::from_millis(12))
        ]
    );
    assert_eq!((h.report.packets_sent, h.report.packets_received), (3, 2));
    assert!((h.report.packet_loss - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(done[1].probe_rtts, [None, None, None]);
    assert!(!done[1].is_alive());
    assert_eq!(s.next_batch(at(t), &mut Vec::new()), Next::Done);
}

#[test]
fn shards_cover_every_target_once_and_seed_fixes_order() {
    let order = |seed: u64, shard: Shard| -> Vec<u64> {
        let mut s = Session::new(
            targets(&["192.0.2.0/24", "2001:db8::/120"]),
            fast(1, 0),
            seed,
            shard,
            StampKey::from_parts(1, 2),
        )
        .unwrap();
        send(&mut s, at(0)).iter().map(|p| p.index).collect()
    };
    let whole = order(9, Shard::default());
    assert_eq!(whole.len(), 254 + 256);
    assert_eq!(whole, order(9, Shard::default()));
    assert_ne!(whole, order(10, Shard::default()));
    let mut union: Vec<u64> = (0..3)
        .flat_map(|i| order(9, Shard::new(i, 3).unwrap()))
        .collect();
    union.sort();
    assert_eq!(union, (0..510).collect::<Vec<u64>>());
}

#[test]
fn send_errors_and_requeue() {
    let mut s = session(&["192.0.2.1-192.0.2.2"], fast(1, 3));
    let mut batch = Vec::new();
    assert_eq!(s.next_batch(at(0), &mut batch), Next::Send);
    assert_eq!(batch.len(), 2);
    // The socket took none: they come back first, same sequence.
    s.requeue(&batch);
    let again = send(&mut s, at(1));
    assert_eq!(again, batch);
    // A refused send ends its target.
    let mut s = session(&["192.0.2.1"], fast(1, 3));
    assert_eq!(s.next_batch(at(0), &mut batch), Next::Send);
    s.on_send_error(&batch[0], at(0), "Network is unreachable");
    let ev = events(&mut s);
    assert!(
        matches!(&ev[0], SweepEvent::SendError { probe: 0, message, .. } if message == "Network is unreachable"),
        "{ev:?}"
    );
    let host = hosts(&ev)[0];
    assert_eq!(host.report.send_errors, 1);
    assert_eq!(host.send_error.as_deref(), Some("Network is unreachable"));
    assert!(host.never_sent());
    // With waves, the refusals are counted per target, the first one named.
    let mut s = session(&["192.0.2.1"], fast(2, 0));
    let mut t = 0;
    for message in ["Message too long", "Network is unreachable"] {
        assert_eq!(s.next_batch(at(t), &mut batch), Next::Send);
        s.on_send_error(&batch[0], at(t), message);
        t += 300;
    }
    let ev = finish(&mut s, at(t));
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].report.send_errors, 2);
    assert_eq!(ev[0].send_error.as_deref(), Some("Message too long"));
    assert!(ev[0].never_sent());
    assert_eq!(s.summary(at(t)).send_errors, 2);
    assert_eq!(s.next_batch(at(0), &mut batch), Next::Done);
}

#[test]
fn invalid_schedules_are_refused() {
    for bad in [
        Schedule {
            count: 0,
            ..Schedule::default()
        },
        Schedule {
            count: 70_000,
            ..Schedule::default()
        },
        Schedule {
            backoff: 0.5,
            ..Schedule::default()
        },
        Schedule {
            timeout: Duration::ZERO,
            ..Schedule::default()
        },
        // retries + 1 must not wrap to 0 attempts.
        Schedule {
            retries: u32::MAX,
            ..Schedule::default()
        },
    ] {
        assert!(
            Session::new(
                targets(&["192.0.2.1"]),
                bad,
                0,
                Shard::default(),
                StampKey::random()
            )
            .is_err()
        );
    }
}

/// Batches beyond one `sendmmsg` (or none) and times beyond a million
/// seconds are refused, naming the option.
#[test]
fn oversized_batches_and_times_are_refused_by_name() {
    let cases = [
        (
            "batch",
            Schedule {
                batch: 0,
                ..Schedule::default()
            },
        ),
        (
            "batch",
            Schedule {
                batch: MAX_BATCH + 1,
                ..Schedule::default()
            },
        ),
        (
            "batch",
            Schedule {
                batch: usize::MAX,
                ..Schedule::default()
            },
        ),
        (
            "timeout",
            Schedule {
                timeout: Duration::MAX,
                ..Schedule::default()
            },
        ),
        (
            "period",
            Schedule {
                period: Duration::MAX,
                ..Schedule::default()
            },
        ),
    ];
    for (option, bad) in cases {
        match bad.validate() {
            Err(Error::InvalidOption(e)) => assert_eq!(e.option, option, "{e}"),
            other => panic!("{option}: not refused: {other:?}"),
        }
    }
    let largest = Schedule {
        batch: MAX_BATCH,
        ..Schedule::default()
    };
    assert!(largest.validate().is_ok());
}

/// Steps a finishing session until it is done; returns its host results.
fn finish(s: &mut Session, t: Timestamp) -> Vec<HostResult> {
    let mut results = Vec::new();
    for _ in 0..100 {
        let next = s.next_batch(t, &mut Vec::new());
        results.extend(hosts(&events(s)).into_iter().cloned());
        if next == Next::Done {
            return results;
        }
    }
    panic!("the session never finished");
}

#[test]
fn cut_short_waves_give_every_target_its_probes_so_far() {
    // Three targets, 3 probes each, one probe per batch; cut after the
    // whole first wave and one probe of the second.
    let schedule = Schedule {
        batch: 1,
        ..fast(3, 0)
    };
    let mut s = session(&["192.0.2.1", "192.0.2.2", "192.0.2.3"], schedule);
    let wave0 = send(&mut s, at(0));
    assert_eq!(wave0.len(), 3);
    for p in wave0.iter().filter(|p| p.index != 2) {
        let data = payload(&s, p, at(0));
        reply(&mut s, p, at(4), &data);
    }
    s.expire(at(100));
    let mut batch = Vec::new();
    assert_eq!(s.next_batch(at(300), &mut batch), Next::Send);
    s.on_sent(&batch, at(300));
    let second = batch[0].index;
    assert!(hosts(&events(&mut s)).is_empty());

    s.cut_short(at(301));
    let mut done = finish(&mut s, at(301));
    done.sort_by_key(|h| h.index);
    let sent: Vec<u64> = done.iter().map(|h| h.report.packets_sent).collect();
    let expected: Vec<u64> = (0..3).map(|i| if i == second { 2 } else { 1 }).collect();
    assert_eq!(sent, expected, "probes per target");
    let received: Vec<u64> = done.iter().map(|h| h.report.packets_received).collect();
    assert_eq!(received, [1, 1, 0]);
    // The second-wave probe still awaited counts as lost.
    let loss = done[second as usize].report.packet_loss;
    let want = if second == 2 { 1.0 } else { 0.5 };
    assert!((loss - want).abs() < 1e-9, "{loss}");
    let sum = s.summary(at(400));
    assert_eq!((sum.finished, sum.alive, sum.probes_sent), (3, 2, 4));
    assert_eq!(sum.elapsed, Duration::from_millis(301));
}

#[test]
fn cut_short_single_probe_sweeps_give_up_the_targets_in_flight() {
    // Three targets, at most two in flight: both time out and are retried,
    // one retry is answered, the other still awaited; the third target
    // never gets a probe.
    let schedule = Schedule {
        max_in_flight: 2,
        ..fast(1, 2)
    };
    let mut s = session(&["192.0.2.1", "192.0.2.2", "192.0.2.3"], schedule);
    let sent = send(&mut s, at(0));
    assert_eq!(sent.len(), 2);
    s.expire(at(100));
    let retries = send(&mut s, at(100));
    assert_eq!(retries.len(), 2);
    assert!(retries.iter().all(|p| p.sequence == 1));
    let data = payload(&s, &retries[0], at(100));
    reply(&mut s, &retries[0], at(103), &data);
    assert_eq!(hosts(&events(&mut s)).len(), 1);
    s.cut_short(at(110));
    // A reply after the cut changes nothing.
    let data = payload(&s, &retries[1], at(100));
    reply(&mut s, &retries[1], at(111), &data);
    let done = finish(&mut s, at(111));
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0].index, retries[1].index);
    assert_eq!(done[0].report.packets_sent, 2);
    assert!(!done[0].is_alive());
    assert_eq!(s.in_flight(), 0);
    let sum = s.summary(at(111));
    assert_eq!((sum.finished, sum.alive, sum.targets), (2, 1, 3));
}

#[test]
fn a_probe_whose_last_attempt_expires_is_reported_timed_out() {
    // Two probes to one target: the first answered, the second not.
    let mut s = session(&["192.0.2.1"], fast(2, 0));
    let first = send(&mut s, at(0));
    let data = payload(&s, &first[0], at(0));
    reply(&mut s, &first[0], at(5), &data);
    s.expire(at(150));
    assert!(
        !events(&mut s)
            .iter()
            .any(|e| matches!(e, SweepEvent::Timeout { .. }))
    );
    let second = send(&mut s, at(300));
    assert_eq!(second.len(), 1);
    s.expire(at(450));
    let ev = events(&mut s);
    assert!(
        matches!(
            ev[..],
            [SweepEvent::Timeout {
                index: 0,
                probe: 1,
                ..
            }]
        ),
        "{ev:?}"
    );
    // Single-probe mode: only the last retry's expiry is a timeout.
    let mut s = session(&["192.0.2.1"], fast(1, 1));
    send(&mut s, at(0));
    s.expire(at(150));
    assert!(events(&mut s).is_empty());
    send(&mut s, at(150));
    s.expire(at(400));
    let ev = events(&mut s);
    assert!(
        matches!(ev[0], SweepEvent::Timeout { probe: 0, .. }),
        "{ev:?}"
    );
    assert_eq!(hosts(&ev)[0].probe_rtts, [None]);
}

#[test]
fn probe_rtts_hold_one_slot_per_probe_sent() {
    // Three probes, only the first answered: three slots, not `count`
    // slots allocated up front and not just the answered one.
    let mut s = session(&["192.0.2.1"], fast(3, 0));
    for wave in 0..3 {
        let sent = send(&mut s, at(wave * 300));
        if wave == 0 {
            let data = payload(&s, &sent[0], at(0));
            reply(&mut s, &sent[0], at(5), &data);
        }
        s.expire(at(wave * 300 + 150));
    }
    let mut ev = Vec::new();
    for t in [900, 1000, 1200] {
        send(&mut s, at(t));
        s.expire(at(t));
        ev.extend(events(&mut s));
    }
    let h = hosts(&ev);
    assert_eq!(h.len(), 1, "{ev:?}");
    assert_eq!(h[0].probe_rtts.len(), 3);
    assert!(h[0].probe_rtts[0].is_some() && h[0].probe_rtts[1..] == [None, None]);
}

/// A reader slower than the senders: once thousands of events wait to be
/// taken nothing new goes out (memory stays flat), and taking them lets
/// the sweep go on.
#[test]
fn untaken_events_hold_back_new_probes() {
    let mut s = session(
        &["10.0.0.0/16"],
        Schedule {
            max_in_flight: 1000,
            ..fast(1, 0)
        },
    );
    let mut t = 0;
    // Every probe times out (a blackhole) and nobody takes the events.
    loop {
        let sent = send(&mut s, at(t));
        t += 200;
        s.expire(at(t));
        if sent.is_empty() {
            break;
        }
        assert!(t < 100_000, "never held back");
    }
    let waiting = std::iter::from_fn(|| s.poll_event()).count() as u64;
    assert!(
        // Two events a probe (timeout, host), a window of 1000 probes.
        (MAX_UNTAKEN_EVENTS..MAX_UNTAKEN_EVENTS + 2000).contains(&waiting),
        "{waiting} events waited"
    );
    // Taken: the sweep goes on.
    assert!(!send(&mut s, at(t)).is_empty());
}

/// A whole window expiring at once queues no more than the untaken-event
/// bound (plus one probe's events); the rest expire as events are taken.
#[test]
fn a_window_expiring_at_once_is_taken_in_parts() {
    let mut s = session(&["10.0.0.0/16"], fast(1, 0));
    let sent = send(&mut s, at(0));
    assert_eq!(sent.len(), 65534);
    s.expire(at(1000));
    let first = std::iter::from_fn(|| s.poll_event()).count() as u64;
    assert!(
        (MAX_UNTAKEN_EVENTS..MAX_UNTAKEN_EVENTS + 3).contains(&first),
        "{first}"
    );
    let mut total = first;
    loop {
        s.expire(at(1000));
        let n = std::iter::from_fn(|| s.poll_event()).count() as u64;
        if n == 0 {
            break;
        }
        total += n;
    }
    // Every probe timed out and its target finished: two events each.
    assert_eq!(total, 2 * 65534);
}

#[test]
fn sending_is_over_once_nothing_is_left_to_send_or_retry() {
    // One probe each, no retries: over as soon as every target had its probe.
    let mut s = session(&["192.0.2.0/30"], fast(1, 0));
    assert!(s.may_send_more());
    assert_eq!(send(&mut s, at(0)).len(), 2);
    assert!(!s.may_send_more());
    // With a retry: not while a first attempt may time out; over once
    // the retries went out.
    let mut s = session(&["192.0.2.0/30"], fast(1, 1));
    assert_eq!(send(&mut s, at(0)).len(), 2);
    assert!(s.may_send_more());
    s.expire(at(100));
    assert!(s.may_send_more(), "the retries are queued");
    assert_eq!(send(&mut s, at(100)).len(), 2);
    assert!(!s.may_send_more());
    // Waves: not before the last wave went out.
    let mut s = session(&["192.0.2.0/30"], fast(2, 0));
    assert_eq!(send(&mut s, at(0)).len(), 2);
    assert!(s.may_send_more());
    // A probe put back (full buffer) is still to send.
    let mut s = session(&["192.0.2.1"], fast(1, 0));
    let mut batch = Vec::new();
    assert_eq!(s.next_batch(at(0), &mut batch), Next::Send);
    s.requeue(&batch);
    assert!(s.may_send_more());
}

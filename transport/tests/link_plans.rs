//! Plans for the transport over imperfect links: reordering, duplication, loss, and ACKs that
//! stop and come back.

mod common;

use common::{ms, Call, LinkConfig};
use std::time::Duration;
use transport::{Config, Timestamp};

/// Frame `number`'s contents: recognisable, so corruption or mix-ups show.
fn frame_bytes(number: u64, length: usize) -> Vec<u8> {
    (0..length)
        .map(|i| (number as usize * 31 + i * 7) as u8)
        .collect()
}

/// Sends fixed-size frames at 30 fps from `call.now` for `duration`, when the budget allows;
/// checks every received frame's contents and order. Returns (frames sent, frames received).
fn send_frames(call: &mut Call, duration: Duration, frame_length: usize) -> (u64, u64) {
    let end = call.now + duration;
    let mut tick = call.now;
    let (mut sent, mut received) = (0u64, 0u64);
    let mut last_received: Option<u32> = None;
    let mut check = |frames: Vec<transport::ReceivedFrame>, received: &mut u64| {
        for frame in frames {
            assert!(last_received.is_none_or(|last| frame.frame_number > last));
            last_received = Some(frame.frame_number);
            assert_eq!(frame.target_state, frame.source_state + 1);
            assert_eq!(frame.bytes, frame_bytes(frame.source_state, frame_length));
            *received += 1;
        }
    };
    let mut state = 1u64;
    while tick < end {
        call.run_until(tick);
        let frames = call.collect_frames();
        check(frames, &mut received);
        if call.a.sender().budget(tick) >= frame_length {
            call.a
                .sender()
                .send_frame(&frame_bytes(state, frame_length), state, state + 1)
                .unwrap();
            sent += 1;
        }
        state += 1;
        call.settle();
        tick = tick + Duration::from_micros(33_333);
    }
    call.run_until(call.now + ms(500));
    let frames = call.collect_frames();
    check(frames, &mut received);
    (sent, received)
}

/// Plan: 2 Mbit/s, 40 ms round trip, 10 % of datagrams duplicated and 5 % held back by up to
/// 8 ms, both directions; 3-fragment frames at 30 fps for 10 s. Expected: every duplicate is
/// refused by the replay window, every received frame is intact and in order, at least 95 % of
/// frames arrive (a frame whose fragment is overtaken by the next frame is given up), and nothing
/// stays counted in flight at the end.
#[test]
fn reordering_and_duplication_keep_frames_intact() {
    let link = LinkConfig {
        duplicate: 0.10,
        reorder: 0.05,
        reorder_delay: ms(8),
        ..LinkConfig::constant(2_000_000, ms(20))
    };
    let mut call = Call::new(Config::default(), link.clone(), link, 3);
    call.connect(ms(2000));
    let length = 3 * Config::default().payload_size - 100;
    let (sent, received) = send_frames(&mut call, ms(10_000), length);
    let b_stats = call.b.stats().clone();
    println!(
        "sent {sent}, received {received}, abandoned {}, duplicates refused at b {}, a {}",
        call.b.receiver().frames_abandoned(),
        b_stats.replays_rejected,
        call.a.stats().replays_rejected
    );
    assert!(b_stats.replays_rejected > 50, "{b_stats:?}");
    assert_eq!(b_stats.authentication_failures, 0);
    assert!(
        received * 100 >= sent * 95,
        "sent {sent}, received {received}"
    );
    assert_eq!(
        received + call.b.receiver().frames_abandoned(),
        sent,
        "every frame is either delivered or given up"
    );
    assert_eq!(call.a.sender().packets_in_flight(), 0);
}

/// Plan: 5 % loss each way, same workload. Expected: lost packets are presumed lost and stop
/// counting in flight (zero at the end); the sender presumes lost the data packets its link
/// dropped plus those whose ACK was dropped (it cannot tell them apart), within a few packets;
/// frames with a lost fragment are given up (about 1 - 0.95^3 = 14 %), the rest arrive intact.
#[test]
fn lost_packets_stop_counting_in_flight() {
    let link = LinkConfig {
        loss: 0.05,
        ..LinkConfig::constant(2_000_000, ms(20))
    };
    let mut call = Call::new(Config::default(), link.clone(), link, 4);
    call.connect(ms(5000));
    let dropped_before = call.a_to_b.dropped;
    let acks_dropped_before = call.b_to_a.dropped;
    let length = 3 * Config::default().payload_size;
    let (sent, received) = send_frames(&mut call, ms(10_000), length);
    let dropped = call.a_to_b.dropped - dropped_before;
    let acks_dropped = call.b_to_a.dropped - acks_dropped_before;
    let presumed = call.a.sender().packets_presumed_lost();
    println!(
        "sent {sent} frames, received {received}; link dropped {dropped} datagrams a->b and \
         {acks_dropped} b->a, sender presumed {presumed} lost"
    );
    assert_eq!(call.a.sender().packets_in_flight(), 0);
    let expected = dropped + acks_dropped;
    assert!(
        presumed.abs_diff(expected) <= 5,
        "presumed {presumed}, expected {expected}"
    );
    assert!(
        received * 100 >= sent * 80,
        "sent {sent}, received {received}"
    );
}

/// Plan: 2 Mbit/s, 40 ms round trip, a quiet scene (1000-byte frames at 30 fps, so only a few
/// packets are ever in flight and the in-flight count alone would keep the budget high); after
/// 3 s every ACK is lost for 1 s, then the path heals. Expected: the budget is zero, because the
/// feedback is stale, within max(200 ms, 4 tau, 2 srtt) plus the one-way delay (ACKs already on
/// their way) plus one frame interval of the outage, and
/// stays zero; probes go out about every 100 ms; within 300 ms of the path healing the budget is
/// back above zero.
#[test]
fn budget_falls_to_zero_when_acks_stop_and_recovers() {
    let link = LinkConfig::constant(2_000_000, ms(20));
    let mut call = Call::new(Config::default(), link.clone(), link, 5);
    call.connect(ms(2000));
    let frame_interval = Duration::from_micros(33_333);
    let mut tick = call.now;
    let mut state = 1;
    let mut drive_until = |call: &mut Call, tick: &mut Timestamp, until: Timestamp| {
        let mut budgets = Vec::new();
        while *tick < until {
            call.run_until(*tick);
            call.collect_frames();
            let sender = call.a.sender();
            let budget = sender.budget(*tick);
            budgets.push((*tick, budget, sender.is_feedback_stale(*tick)));
            if budget >= 1000 {
                sender.send_frame(&[1; 1000], state, state + 1).unwrap();
                state += 1;
            }
            call.settle();
            *tick = *tick + frame_interval;
        }
        budgets
    };
    let outage_start = call.now + ms(3000);
    let before = drive_until(&mut call, &mut tick, outage_start);
    assert!(before
        .iter()
        .skip(10)
        .all(|(_, budget, _)| *budget > 10_000));
    let probes_before = call.a.sender().probes_sent();
    call.b_to_a.config.loss = 1.0;
    let outage_end = outage_start + ms(1000);
    let during = drive_until(&mut call, &mut tick, outage_end);
    let probes = call.a.sender().probes_sent() - probes_before;
    call.b_to_a.config.loss = 0.0;
    let after = drive_until(&mut call, &mut tick, outage_end + ms(1000));

    let (first_zero_at, _, stale) = *during
        .iter()
        .find(|(_, budget, _)| *budget == 0)
        .expect("budget reaches zero during the outage");
    let first_zero = first_zero_at.saturating_duration_since(outage_start);
    let srtt = call.a.sender().smoothed_rtt().unwrap();
    let tau = call.a.sender().tau();
    // ACKs already on their way when the outage starts still arrive, up to one one-way delay later.
    let bound = ms(200).max(tau * 4).max(srtt * 2) + ms(20) + frame_interval;
    let recovered = after
        .iter()
        .find(|(_, budget, _)| *budget > 0)
        .map(|(at, _, _)| at.saturating_duration_since(outage_end))
        .expect("budget recovers after the outage");
    println!(
        "budget zero {first_zero:?} into the outage (bound {bound:?}, stale feedback: {stale}), \
         {probes} probes in 1 s, back {recovered:?} after it"
    );
    assert!(stale, "the budget must fall because feedback stopped");
    assert!(first_zero <= bound);
    assert!(during
        .iter()
        .filter(|(at, _, _)| *at >= first_zero_at)
        .all(|(_, budget, _)| *budget == 0));
    assert!((7..=10).contains(&probes), "{probes} probes");
    assert!(recovered <= ms(300));
}

/// Plan: audio packets (20 ms each) interleaved with video over a link with 10 % duplication.
/// Expected: each audio packet arrives once, with its sequence number and timestamp, and audio
/// never counts as video in flight.
#[test]
fn audio_flows_beside_video() {
    let link = LinkConfig {
        duplicate: 0.10,
        ..LinkConfig::constant(2_000_000, ms(20))
    };
    let mut call = Call::new(Config::default(), link.clone(), link, 6);
    call.connect(ms(2000));
    let mut received = Vec::new();
    for index in 0..100u64 {
        call.a
            .send_audio(index * 20_000, &[index as u8; 80])
            .unwrap();
        if index % 2 == 0 {
            call.a
                .sender()
                .send_frame(&[7; 2000], index, index + 1)
                .unwrap();
        }
        call.run_until(call.now + ms(20));
        call.collect_frames();
        while let Some(audio) = call.b.poll_audio() {
            received.push(audio);
        }
    }
    call.run_until(call.now + ms(200));
    while let Some(audio) = call.b.poll_audio() {
        received.push(audio);
    }
    assert_eq!(received.len(), 100);
    for (index, audio) in received.iter().enumerate() {
        assert_eq!(audio.audio_sequence, index as u32);
        assert_eq!(audio.timestamp_micros, index as u64 * 20_000);
        assert_eq!(audio.payload, vec![index as u8; 80]);
    }
    assert_eq!(call.a.sender().packets_in_flight(), 0);
}

/// Plan: misuse of the sending API. Expected: typed errors, nothing queued, and bad settings
/// refused up front.
#[test]
fn oversized_inputs_and_bad_settings_are_refused() {
    use transport::wire::{MAX_AUDIO_PAYLOAD, MAX_DATA_PAYLOAD, MAX_FRAGMENTS};
    use transport::{ConfigError, SendError, MAX_QUEUED_PACKETS};
    let mut call = Call::new(
        Config::default(),
        LinkConfig::constant(2_000_000, ms(20)),
        LinkConfig::constant(2_000_000, ms(20)),
        7,
    );
    let too_big = vec![0; MAX_DATA_PAYLOAD * usize::from(MAX_FRAGMENTS) + 1];
    assert_eq!(
        call.a.sender().send_frame(&too_big, 0, 1),
        Err(SendError::FrameTooLarge {
            bytes: too_big.len()
        })
    );
    let largest = vec![0; MAX_DATA_PAYLOAD * usize::from(MAX_FRAGMENTS)];
    for _ in 0..MAX_QUEUED_PACKETS / usize::from(MAX_FRAGMENTS) {
        call.a.sender().send_frame(&largest, 0, 1).unwrap();
    }
    assert_eq!(
        call.a.sender().send_frame(b"one more", 0, 1),
        Err(SendError::QueueFull)
    );
    assert_eq!(call.a.sender().queued_packets(), MAX_QUEUED_PACKETS);
    assert_eq!(
        call.a.send_audio(0, &vec![0; MAX_AUDIO_PAYLOAD + 1]),
        Err(SendError::AudioTooLarge {
            bytes: MAX_AUDIO_PAYLOAD + 1
        })
    );
    let mut rng =
        <rand_chacha::ChaCha20Rng as rand_chacha::rand_core::SeedableRng>::seed_from_u64(1);
    for (config, error) in [
        (
            Config {
                payload_size: 0,
                ..Config::default()
            },
            ConfigError::PayloadSize(0),
        ),
        (
            Config {
                payload_size: MAX_DATA_PAYLOAD + 1,
                ..Config::default()
            },
            ConfigError::PayloadSize(MAX_DATA_PAYLOAD + 1),
        ),
        (
            Config {
                target_delay: Duration::ZERO,
                ..Config::default()
            },
            ConfigError::ZeroDuration,
        ),
    ] {
        assert_eq!(
            transport::Connection::new(&common::code(), config, Timestamp::ZERO, &mut rng)
                .unwrap_err(),
            error
        );
    }
}

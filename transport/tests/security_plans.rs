//! Plans for the handshake and packet protection: lossy handshakes, wrong codes, timeouts,
//! forged, tampered, truncated, replayed and reflected datagrams.

mod common;

use common::{code, ms, Call, LinkConfig};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use transport::wire::{Datagram, AEAD_TAG_LEN, SEALED_HEADER_LEN};
use transport::{
    CallCode, Config, Connection, ConnectionState, HandshakeError, HandshakePacketError,
    InputError, Timestamp,
};

fn clean_link() -> LinkConfig {
    LinkConfig::constant(2_000_000, ms(20))
}

fn lossy_link(loss: f64) -> LinkConfig {
    LinkConfig {
        loss,
        ..clean_link()
    }
}

/// Plan: 30 % loss each way. Expected: every one of 20 seeded handshakes completes within 10 s,
/// and the two sides agree (a frame crosses).
#[test]
fn handshake_completes_over_a_lossy_link() {
    let mut slowest = Timestamp::ZERO;
    for seed in 0..20 {
        let mut call = Call::new(Config::default(), lossy_link(0.3), lossy_link(0.3), seed);
        call.connect(ms(10_000));
        slowest = slowest.max(call.now);
        call.a.sender().send_frame(b"hello", 1, 2).unwrap();
        let deadline = call.now + ms(2000);
        let mut received = Vec::new();
        while received.is_empty() && call.now < deadline {
            // Lost fragments are not resent: send a new frame until one crosses.
            call.run_until(call.now + ms(50));
            received = call.collect_frames();
            if received.is_empty() {
                call.a.sender().send_frame(b"hello", 1, 2).unwrap();
            }
        }
        assert_eq!(received[0].bytes, b"hello", "seed {seed}");
    }
    println!(
        "slowest of 20 handshakes at 30 % loss: {:?}",
        slowest.since_epoch()
    );
}

/// Plan: the two sides type different codes, on a clean link and with 20 % loss. Expected: both
/// fail with `WrongCode` (not a timeout) within 5 s, and neither ever reports `Established`.
#[test]
fn a_wrong_code_fails_on_both_sides() {
    let other: CallCode = "8-apple-tiger".parse().unwrap();
    for (seed, loss) in [(1, 0.0), (2, 0.2), (3, 0.2), (4, 0.2)] {
        let mut call = Call::with_codes(
            Config::default(),
            lossy_link(loss),
            lossy_link(loss),
            seed,
            &code(),
            &other,
        );
        let deadline = call.now + ms(5000);
        call.settle();
        while call.now < deadline
            && !(matches!(call.a.state(), ConnectionState::Failed(_))
                && matches!(call.b.state(), ConnectionState::Failed(_)))
        {
            assert_ne!(call.a.state(), ConnectionState::Established);
            assert_ne!(call.b.state(), ConnectionState::Established);
            call.now = call.next_event(deadline);
            call.settle();
        }
        let expected = ConnectionState::Failed(HandshakeError::WrongCode);
        assert_eq!(call.a.state(), expected, "seed {seed}");
        assert_eq!(call.b.state(), expected, "seed {seed}");
        // A failed side sends no media.
        assert!(call.a.sender().send_frame(b"x", 0, 1).is_ok());
        call.run_until(call.now + ms(100));
        assert!(call.collect_frames().is_empty());
    }
}

/// Plan: nobody answers. Expected: hellos resent at 100, 300, 700, 1500, 2500 ms... (doubling up
/// to 1 s), then `TimedOut` at the configured 5 s and silence afterwards.
#[test]
fn an_unanswered_handshake_backs_off_then_times_out() {
    let config = Config {
        handshake_timeout: ms(5000),
        ..Config::default()
    };
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let mut now = Timestamp::ZERO;
    let mut alone = Connection::new(&code(), config, now, &mut rng).unwrap();
    let mut sent_at = Vec::new();
    loop {
        while alone.poll_transmit(now).is_some() {
            sent_at.push(now.as_micros() / 1000);
        }
        let Some(next) = alone.poll_timeout() else {
            break;
        };
        now = next;
        alone.handle_timeout(now);
    }
    assert_eq!(sent_at, [0, 100, 300, 700, 1500, 2500, 3500, 4500]);
    assert_eq!(now, Timestamp::from_micros(5_000_000));
    assert_eq!(
        alone.state(),
        ConnectionState::Failed(HandshakeError::TimedOut(ms(5000)))
    );
    assert_eq!(alone.poll_transmit(now), None);
}

/// An established call, and one sealed datagram from `a` carrying a frame, not yet delivered.
fn established_with_captured_frame() -> (Call, Vec<u8>) {
    let mut call = Call::new(Config::default(), clean_link(), clean_link(), 9);
    call.connect(ms(2000));
    call.run_until(call.now + ms(200));
    call.a.sender().send_frame(b"secret frame", 3, 4).unwrap();
    let datagram = call
        .a
        .poll_transmit(call.now)
        .expect("a paced fragment is due");
    (call, datagram)
}

/// Plan: an established call; one captured data datagram is tampered with at every byte,
/// truncated at every length, forged with random contents under the right connection id,
/// replayed, and reflected back to its sender. Expected: every one is refused with the matching
/// error and counted, no frame comes out of it, and the untouched datagram is still accepted
/// afterwards (forgeries do not move the replay window).
#[test]
fn forged_tampered_truncated_replayed_and_reflected_datagrams_are_refused() {
    let (mut call, datagram) = established_with_captured_frame();
    let now = call.now;
    let before = call.b.stats().clone();

    for position in 0..datagram.len() {
        let mut tampered = datagram.clone();
        tampered[position] ^= 0x01;
        let error = call.b.handle_input(now, &tampered).unwrap_err();
        match position {
            0 | 1 => assert!(
                matches!(error, InputError::Malformed(_)),
                "{position}: {error}"
            ),
            2..=9 => assert_eq!(error, InputError::UnknownConnection, "{position}"),
            _ => assert_eq!(error, InputError::AuthenticationFailed, "{position}"),
        }
    }
    for length in 0..datagram.len() {
        assert!(call.b.handle_input(now, &datagram[..length]).is_err());
    }
    let Ok(Datagram::Sealed { header, .. }) = Datagram::parse(&datagram) else {
        panic!("captured datagram is sealed");
    };
    let mut rng = ChaCha20Rng::seed_from_u64(77);
    for _ in 0..200 {
        let mut forged = header.to_vec();
        // Sequence numbers ahead of anything sent, so only authentication can refuse them.
        forged[10] = 0x7F;
        let mut body = vec![0u8; 1 + (rng.next_u32() as usize % 600) + AEAD_TAG_LEN];
        rng.fill_bytes(&mut body);
        forged.extend_from_slice(&body);
        assert_eq!(
            call.b.handle_input(now, &forged),
            Err(InputError::AuthenticationFailed)
        );
    }
    let after_forgeries = call.b.stats().clone();
    assert_eq!(
        after_forgeries.authentication_failures - before.authentication_failures,
        // Tampered after the connection id, truncated past the minimum sealed length, forged.
        (datagram.len() - 10 + datagram.len() - (SEALED_HEADER_LEN + AEAD_TAG_LEN + 1)) as u64
            + 200
    );
    assert_eq!(
        after_forgeries.unknown_connection - before.unknown_connection,
        8
    );
    assert!(call.b.receiver().poll_frame().is_none());

    // Reflected back to its sender: sealed under the other direction's key.
    assert_eq!(
        call.a.handle_input(now, &datagram),
        Err(InputError::AuthenticationFailed)
    );

    // The genuine datagram still goes through, once.
    assert_eq!(call.b.handle_input(now, &datagram), Ok(()));
    let frame = call.b.receiver().poll_frame().expect("frame delivered");
    assert_eq!(frame.bytes, b"secret frame");
    assert_eq!((frame.source_state, frame.target_state), (3, 4));
    let sequence = match Datagram::parse(&datagram) {
        Ok(Datagram::Sealed { sequence, .. }) => sequence,
        _ => unreachable!(),
    };
    assert_eq!(
        call.b.handle_input(now, &datagram),
        Err(InputError::Replayed(sequence))
    );
    assert_eq!(call.b.stats().replays_rejected, before.replays_rejected + 1);
    assert!(call.b.receiver().poll_frame().is_none());
}

/// Plan: after the handshake, a reflected hello, a stranger's hello (even one who knows the
/// code) and the sealed datagrams of another call using the same code reach `a`. Expected: all
/// refused (reflection, unexpected hello, unknown connection, or failed authentication once the
/// connection id is rewritten), and the call carries on.
#[test]
fn strangers_and_reflections_cannot_join_an_established_call() {
    let mut call = Call::new(Config::default(), clean_link(), clean_link(), 21);
    let mut other_call = Call::new(Config::default(), clean_link(), clean_link(), 22);
    let stranger_hello = other_call.a.poll_transmit(other_call.now).unwrap();
    let a_hello = call.a.poll_transmit(call.now).unwrap();
    call.b.handle_input(call.now, &a_hello).unwrap();
    assert_eq!(
        call.a.handle_input(call.now, &a_hello),
        Err(InputError::HandshakePacket(HandshakePacketError::Reflected))
    );
    call.connect(ms(2000));
    assert_eq!(
        call.a.handle_input(call.now, &stranger_hello),
        Err(InputError::HandshakePacket(
            HandshakePacketError::UnexpectedHello
        ))
    );

    other_call
        .b
        .handle_input(other_call.now, &stranger_hello)
        .unwrap();
    other_call.connect(ms(2000));
    other_call.a.sender().send_frame(b"intruder", 0, 1).unwrap();
    let intruding = other_call.a.poll_transmit(other_call.now).unwrap();
    assert_eq!(
        call.a.handle_input(call.now, &intruding),
        Err(InputError::UnknownConnection)
    );
    call.a.sender().send_frame(b"own frame", 0, 1).unwrap();
    let own = call.a.poll_transmit(call.now).expect("a fragment is due");
    let Ok(Datagram::Sealed { header, .. }) = Datagram::parse(&own) else {
        panic!("sealed datagram expected");
    };
    let mut rewritten = intruding.clone();
    rewritten[2..10].copy_from_slice(&header[2..10]);
    assert_eq!(
        call.b.handle_input(call.now, &rewritten),
        Err(InputError::AuthenticationFailed)
    );

    assert_eq!(call.a.state(), ConnectionState::Established);
    call.run_until(call.now + ms(100));
    call.collect_frames();
    call.a.sender().send_frame(b"still fine", 5, 6).unwrap();
    call.run_until(call.now + ms(100));
    assert_eq!(call.collect_frames()[0].bytes, b"still fine");
}

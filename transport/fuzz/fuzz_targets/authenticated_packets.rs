//! A hostile peer that holds the keys: arbitrary plaintext packets, sealed correctly, reach an
//! established connection at arbitrary times. Nothing may panic, queues stay bounded, and the
//! connection still answers with ACKs for what it accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::time::Duration;
use transport::{CallCode, Config, Connection, ConnectionState, Timestamp, MAX_PENDING_FRAMES};

/// A freshly established pair (the same keys every time: the seed is fixed).
fn pair() -> (Connection, Connection) {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let code: CallCode = "7-apple-tiger".parse().expect("valid code");
    let now = Timestamp::ZERO;
    let mut a = Connection::new(&code, Config::default(), now, &mut rng).expect("config");
    let mut b = Connection::new(&code, Config::default(), now, &mut rng).expect("config");
    for _ in 0..4 {
        while let Some(d) = a.poll_transmit(now) {
            let _ = b.handle_input(now, &d);
        }
        while let Some(d) = b.poll_transmit(now) {
            let _ = a.handle_input(now, &d);
        }
    }
    assert_eq!(a.state(), ConnectionState::Established);
    (a, b)
}

fuzz_target!(|data: &[u8]| {
    let (mut a, mut hostile) = pair();
    let mut now = Timestamp::ZERO;
    // Input: records of [advance_ms, length, bytes...].
    let mut rest = data;
    while let [advance, length, tail @ ..] = rest {
        let length = usize::from(*length).min(tail.len());
        let (plaintext, next) = tail.split_at(length);
        rest = next;
        now = now + Duration::from_millis(u64::from(*advance));
        let datagram = hostile.seal_raw_packet(plaintext).expect("keys exist");
        let _ = a.handle_input(now, &datagram);
        let _ = a.sender().budget(now);
        a.handle_timeout(now);
        while let Some(reply) = a.poll_transmit(now) {
            let _ = hostile.handle_input(now, &reply);
        }
    }
    let mut frames = 0;
    while a.receiver().poll_frame().is_some() {
        frames += 1;
    }
    assert!(frames <= MAX_PENDING_FRAMES);
});

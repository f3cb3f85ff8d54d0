//! Two connections handshaking over a link the fuzzer controls: it drops, duplicates, corrupts,
//! reorders and injects datagrams and moves the clock. Nothing may panic, and if both sides end
//! established they must be able to exchange a frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::time::Duration;
use transport::{CallCode, Config, Connection, ConnectionState, Timestamp};

fuzz_target!(|data: &[u8]| {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let code: CallCode = "7-apple-tiger".parse().expect("valid code");
    // The first byte decides whether B typed the same code.
    let code_b: CallCode = if data.first().is_some_and(|b| b & 1 == 1) {
        "8-apple-tiger".parse().expect("valid code")
    } else {
        code.clone()
    };
    let mut now = Timestamp::ZERO;
    let mut a = Connection::new(&code, Config::default(), now, &mut rng).expect("config");
    let mut b = Connection::new(&code_b, Config::default(), now, &mut rng).expect("config");
    let mut a_to_b: Vec<Vec<u8>> = Vec::new();
    let mut b_to_a: Vec<Vec<u8>> = Vec::new();
    let mut bytes = data.iter().skip(1).copied();
    while let Some(op) = bytes.next() {
        while let Some(d) = a.poll_transmit(now) {
            a_to_b.push(d);
        }
        while let Some(d) = b.poll_transmit(now) {
            b_to_a.push(d);
        }
        let argument = usize::from(bytes.next().unwrap_or(0));
        let (queue, target) = if op & 1 == 0 {
            (&mut a_to_b, &mut b)
        } else {
            (&mut b_to_a, &mut a)
        };
        match (op >> 1) % 6 {
            0 if !queue.is_empty() => {
                let datagram = queue.remove(argument % queue.len());
                let _ = target.handle_input(now, &datagram);
            }
            1 if !queue.is_empty() => {
                let datagram = queue[argument % queue.len()].clone();
                let _ = target.handle_input(now, &datagram);
            }
            2 if !queue.is_empty() => {
                let index = argument % queue.len();
                queue.remove(index);
            }
            3 if !queue.is_empty() => {
                let mut datagram = queue[argument % queue.len()].clone();
                let position = usize::from(bytes.next().unwrap_or(0)) % datagram.len();
                datagram[position] ^= bytes.next().unwrap_or(1) | 1;
                let _ = target.handle_input(now, &datagram);
            }
            4 => {
                let length = argument % 64;
                let injected: Vec<u8> = bytes.by_ref().take(length).collect();
                let _ = target.handle_input(now, &injected);
            }
            _ => {
                now = now + Duration::from_millis(argument as u64 * 10);
                a.handle_timeout(now);
                b.handle_timeout(now);
            }
        }
    }
    if a.state() == ConnectionState::Established && b.state() == ConnectionState::Established {
        a.sender().send_frame(b"frame", 1, 2).expect("small frame");
        let mut delivered = false;
        for _ in 0..8 {
            while let Some(d) = a.poll_transmit(now) {
                let _ = b.handle_input(now, &d);
            }
            if let Some(frame) = b.receiver().poll_frame() {
                assert_eq!(frame.bytes, b"frame");
                delivered = true;
                break;
            }
            now = now + Duration::from_millis(3);
        }
        assert!(delivered, "established peers must exchange frames");
    }
    if code_b != code {
        assert_ne!(a.state(), ConnectionState::Established);
        assert_ne!(b.state(), ConnectionState::Established);
    }
});

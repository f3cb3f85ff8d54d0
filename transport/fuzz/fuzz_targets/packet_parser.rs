//! Arbitrary bytes through the datagram and packet parsers: never a panic, and whatever parses
//! encodes back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use transport::wire::{Datagram, Packet};

fuzz_target!(|data: &[u8]| {
    let _ = Datagram::parse(data);
    if let Ok(packet) = Packet::decode(data) {
        assert_eq!(
            packet.to_bytes(),
            data,
            "a parsed packet must encode to its input"
        );
    }
});

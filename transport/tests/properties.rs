//! Property tests: every packet survives a round trip through its encoding, and no input,
//! however arbitrary, makes the parsers or a connection panic.

mod common;

use proptest::prelude::*;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use transport::wire::{
    AckPacket, AudioPacket, DataPacket, Datagram, Packet, MAX_ACK_STATES, MAX_AUDIO_PAYLOAD,
    MAX_DATA_PAYLOAD, MAX_FRAGMENTS,
};
use transport::{Config, Connection, Timestamp};

fn data_packet() -> impl Strategy<Value = Packet> {
    (1..=MAX_FRAGMENTS)
        .prop_flat_map(|count| {
            (
                any::<u32>(),
                0..count,
                Just(count),
                any::<u64>(),
                any::<u64>(),
                any::<u32>(),
                proptest::collection::vec(any::<u8>(), 0..=MAX_DATA_PAYLOAD),
            )
        })
        .prop_map(
            |(frame_number, fragment_index, fragment_count, source, target, grace, payload)| {
                Packet::Data(DataPacket {
                    frame_number,
                    fragment_index,
                    fragment_count,
                    source_state: source,
                    target_state: target,
                    grace_micros: grace,
                    payload,
                })
            },
        )
}

fn packet() -> impl Strategy<Value = Packet> {
    prop_oneof![
        data_packet(),
        (
            any::<u64>(),
            any::<u32>(),
            any::<u64>(),
            proptest::collection::vec(any::<u64>(), 0..=MAX_ACK_STATES)
        )
            .prop_map(
                |(acked_sequence, tau_micros, current_state, complete_states)| {
                    Packet::Ack(AckPacket {
                        acked_sequence,
                        tau_micros,
                        current_state,
                        complete_states,
                    })
                }
            ),
        (
            any::<u32>(),
            any::<u64>(),
            proptest::collection::vec(any::<u8>(), 0..=MAX_AUDIO_PAYLOAD)
        )
            .prop_map(|(audio_sequence, timestamp_micros, payload)| {
                Packet::Audio(AudioPacket {
                    audio_sequence,
                    timestamp_micros,
                    payload,
                })
            }),
        Just(Packet::Probe),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn packets_round_trip(packet in packet()) {
        let bytes = packet.to_bytes();
        prop_assert_eq!(Packet::decode(&bytes), Ok(packet));
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_parsers(bytes in proptest::collection::vec(any::<u8>(), 0..1600)) {
        let _ = Datagram::parse(&bytes);
        if let Ok(packet) = Packet::decode(&bytes) {
            // Whatever parses is canonical: it encodes back to the same bytes.
            prop_assert_eq!(packet.to_bytes(), bytes);
        }
    }

    #[test]
    fn arbitrary_datagrams_never_panic_a_connection(
        datagrams in proptest::collection::vec(
            (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..200)), 1..20)
    ) {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let mut connection =
            Connection::new(&common::code(), Config::default(), Timestamp::ZERO, &mut rng).unwrap();
        for (kind, mut datagram) in datagrams {
            // Steer a share of inputs past the version and kind checks.
            if kind % 2 == 0 && datagram.len() >= 2 {
                datagram[0] = 1;
                datagram[1] = 1 + kind % 3;
            }
            let _ = connection.handle_input(Timestamp::ZERO, &datagram);
            while connection.poll_transmit(Timestamp::ZERO).is_some() {}
        }
    }
}

//! The wire format: datagram framing and the packets sealed inside it.
//!
//! The byte tables are in the crate documentation. Parsing is strict: a field out of range, a
//! length that does not match, an unknown type or a trailing byte is a [`WireError`]; nothing here
//! panics on any input.

use thiserror::Error;

/// Version byte that starts every datagram.
pub const PROTOCOL_VERSION: u8 = 1;

/// The path MTU the sizes below are chosen for.
pub const PATH_MTU: usize = 1500;
/// Worst-case IP and UDP header bytes (IPv6 40 + UDP 8) on that path.
pub const IP_UDP_OVERHEAD: usize = 48;
/// Largest datagram (UDP payload) this protocol sends or accepts.
pub const MAX_DATAGRAM: usize = PATH_MTU - IP_UDP_OVERHEAD;

/// Length of a SPAKE2 (Ed25519 group) message carried in a hello.
pub const PAKE_MESSAGE_LEN: usize = 33;
/// Length of a key-confirmation MAC (HMAC-SHA256).
pub const CONFIRM_MAC_LEN: usize = 32;
/// Bytes before the ciphertext of a sealed datagram: version, kind, connection id, sequence.
pub const SEALED_HEADER_LEN: usize = 18;
/// Length of the AEAD authentication tag at the end of a sealed datagram.
pub const AEAD_TAG_LEN: usize = 16;

/// Bytes of a data packet before its payload.
pub const DATA_HEADER_LEN: usize = 29;
/// Largest fragment payload that still fits [`PATH_MTU`] after every header and the tag.
pub const MAX_DATA_PAYLOAD: usize =
    MAX_DATAGRAM - SEALED_HEADER_LEN - AEAD_TAG_LEN - DATA_HEADER_LEN;
/// Most fragments one frame may have (bounds reassembly memory to about 1.4 MB).
pub const MAX_FRAGMENTS: u16 = 1024;
/// Bytes of an ACK without its list of complete states.
pub const ACK_HEADER_LEN: usize = 22;
/// Most complete state ids one ACK carries (the newest ones).
pub const MAX_ACK_STATES: usize = 8;
/// Bytes of an audio packet before its payload.
pub const AUDIO_HEADER_LEN: usize = 13;
/// Largest audio payload that fits one datagram.
pub const MAX_AUDIO_PAYLOAD: usize =
    MAX_DATAGRAM - SEALED_HEADER_LEN - AEAD_TAG_LEN - AUDIO_HEADER_LEN;

const KIND_HELLO: u8 = 1;
const KIND_CONFIRM: u8 = 2;
const KIND_SEALED: u8 = 3;

const TYPE_DATA: u8 = 1;
const TYPE_ACK: u8 = 2;
const TYPE_AUDIO: u8 = 3;
const TYPE_PROBE: u8 = 4;

/// A malformed datagram or packet.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WireError {
    /// The input ended before a required field.
    #[error("packet truncated: needs {needed} bytes, has {actual}")]
    Truncated {
        /// Bytes the packet type needs at least.
        needed: usize,
        /// Bytes present.
        actual: usize,
    },
    /// The input is longer than its type allows.
    #[error("packet has {actual} bytes, its type allows {allowed}")]
    TooLong {
        /// Bytes present.
        actual: usize,
        /// Bytes the packet type allows at most.
        allowed: usize,
    },
    /// The version byte is not [`PROTOCOL_VERSION`].
    #[error("unsupported protocol version {0}")]
    UnsupportedVersion(u8),
    /// The datagram kind byte is unknown.
    #[error("unknown datagram kind {0}")]
    UnknownKind(u8),
    /// The packet type byte inside a sealed datagram is unknown.
    #[error("unknown packet type {0}")]
    UnknownPacketType(u8),
    /// A data packet's fragment count is zero or above [`MAX_FRAGMENTS`].
    #[error("fragment count {0} is outside 1..={MAX_FRAGMENTS}")]
    BadFragmentCount(u16),
    /// A data packet's fragment index is not below its fragment count.
    #[error("fragment index {index} is not below the fragment count {count}")]
    FragmentIndexOutOfRange {
        /// The index received.
        index: u16,
        /// The count received.
        count: u16,
    },
    /// An ACK claims more complete states than [`MAX_ACK_STATES`].
    #[error("ack lists {0} complete states, at most {MAX_ACK_STATES} are allowed")]
    TooManyStates(u8),
}

/// A datagram as it appears on the wire, before any decryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datagram<'a> {
    /// A SPAKE2 message starting the handshake (sent in the clear: it reveals nothing testable).
    Hello(&'a [u8; PAKE_MESSAGE_LEN]),
    /// A key-confirmation MAC over the handshake transcript.
    Confirm(&'a [u8; CONFIRM_MAC_LEN]),
    /// An AEAD-sealed packet.
    Sealed {
        /// Connection id derived from the session key.
        connection_id: u64,
        /// Per-direction packet sequence number, also the AEAD nonce.
        sequence: u64,
        /// The authenticated header bytes (additional data of the AEAD).
        header: &'a [u8; SEALED_HEADER_LEN],
        /// Ciphertext followed by the tag.
        ciphertext: &'a [u8],
    },
}

impl<'a> Datagram<'a> {
    /// Splits a received datagram into its kind and fields, without decrypting anything.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, WireError> {
        if bytes.len() > MAX_DATAGRAM {
            return Err(WireError::TooLong {
                actual: bytes.len(),
                allowed: MAX_DATAGRAM,
            });
        }
        let [version, kind, rest @ ..] = bytes else {
            return Err(WireError::Truncated {
                needed: 2,
                actual: bytes.len(),
            });
        };
        if *version != PROTOCOL_VERSION {
            return Err(WireError::UnsupportedVersion(*version));
        }
        match *kind {
            KIND_HELLO => Ok(Datagram::Hello(exact_array(rest, 2)?)),
            KIND_CONFIRM => Ok(Datagram::Confirm(exact_array(rest, 2)?)),
            KIND_SEALED => {
                let minimum = SEALED_HEADER_LEN + AEAD_TAG_LEN + 1;
                if bytes.len() < minimum {
                    return Err(WireError::Truncated {
                        needed: minimum,
                        actual: bytes.len(),
                    });
                }
                let (header, ciphertext) = bytes.split_at(SEALED_HEADER_LEN);
                let header: &[u8; SEALED_HEADER_LEN] =
                    header.try_into().expect("split at the header length");
                Ok(Datagram::Sealed {
                    connection_id: read_u64(&header[2..10]),
                    sequence: read_u64(&header[10..18]),
                    header,
                    ciphertext,
                })
            }
            other => Err(WireError::UnknownKind(other)),
        }
    }
}

fn exact_array<const N: usize>(rest: &[u8], prefix: usize) -> Result<&[u8; N], WireError> {
    match rest.len().cmp(&N) {
        std::cmp::Ordering::Less => Err(WireError::Truncated {
            needed: N + prefix,
            actual: rest.len() + prefix,
        }),
        std::cmp::Ordering::Greater => Err(WireError::TooLong {
            actual: rest.len() + prefix,
            allowed: N + prefix,
        }),
        std::cmp::Ordering::Equal => Ok(rest.try_into().expect("length checked")),
    }
}

/// Encodes a hello datagram.
pub fn encode_hello(message: &[u8; PAKE_MESSAGE_LEN]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + PAKE_MESSAGE_LEN);
    out.extend_from_slice(&[PROTOCOL_VERSION, KIND_HELLO]);
    out.extend_from_slice(message);
    out
}

/// Encodes a key-confirmation datagram.
pub fn encode_confirm(mac: &[u8; CONFIRM_MAC_LEN]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + CONFIRM_MAC_LEN);
    out.extend_from_slice(&[PROTOCOL_VERSION, KIND_CONFIRM]);
    out.extend_from_slice(mac);
    out
}

/// Encodes the header of a sealed datagram (the AEAD's additional data).
pub fn encode_sealed_header(connection_id: u64, sequence: u64) -> [u8; SEALED_HEADER_LEN] {
    let mut header = [0u8; SEALED_HEADER_LEN];
    header[0] = PROTOCOL_VERSION;
    header[1] = KIND_SEALED;
    header[2..10].copy_from_slice(&connection_id.to_be_bytes());
    header[10..18].copy_from_slice(&sequence.to_be_bytes());
    header
}

/// One fragment of an encoded video frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataPacket {
    /// Frame number, increasing by one for each frame sent.
    pub frame_number: u32,
    /// Position of this fragment within the frame, below `fragment_count`.
    pub fragment_index: u16,
    /// Number of fragments of the frame, 1..=[`MAX_FRAGMENTS`].
    pub fragment_count: u16,
    /// Decoder state the frame was encoded from.
    pub source_state: u64,
    /// Decoder state the frame leads to.
    pub target_state: u64,
    /// On a frame's first fragment, when the sender had nothing queued before it: microseconds
    /// since the sender's previous data packet, so the receiver's estimator does not take that
    /// idle time for a slow link. Zero on the other fragments and on a frame queued behind
    /// another (it follows at the pacing interval; the sender was not idle).
    pub grace_micros: u32,
    /// The fragment's bytes, at most [`MAX_DATA_PAYLOAD`].
    pub payload: Vec<u8>,
}

/// Feedback from a receiver for one packet it received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckPacket {
    /// Sequence number of the packet acknowledged.
    pub acked_sequence: u64,
    /// The receiver's smoothed inter-arrival time, in microseconds.
    pub tau_micros: u32,
    /// The decoder state the receiver is in now.
    pub current_state: u64,
    /// The newest states the receiver holds complete, newest first, at most [`MAX_ACK_STATES`].
    pub complete_states: Vec<u64>,
}

/// A chunk of encoded audio, sent outside the video estimator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioPacket {
    /// Audio packet sequence number, increasing by one per audio packet.
    pub audio_sequence: u32,
    /// Capture time of the first sample, in microseconds on the sender's media clock.
    pub timestamp_micros: u64,
    /// The encoded audio, at most [`MAX_AUDIO_PAYLOAD`].
    pub payload: Vec<u8>,
}

/// A packet inside a sealed datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// A video frame fragment.
    Data(DataPacket),
    /// Feedback for one received data or probe packet.
    Ack(AckPacket),
    /// Audio.
    Audio(AudioPacket),
    /// An empty packet sent only to draw an ACK when feedback has stopped.
    Probe,
}

impl Packet {
    /// Appends this packet's plaintext encoding to `out`.
    ///
    /// Fields out of the ranges [`Packet::decode`] accepts (an oversized payload or state list)
    /// are the caller's bug; they encode as given and the peer will reject them.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Packet::Data(data) => {
                out.push(TYPE_DATA);
                out.extend_from_slice(&data.frame_number.to_be_bytes());
                out.extend_from_slice(&data.fragment_index.to_be_bytes());
                out.extend_from_slice(&data.fragment_count.to_be_bytes());
                out.extend_from_slice(&data.source_state.to_be_bytes());
                out.extend_from_slice(&data.target_state.to_be_bytes());
                out.extend_from_slice(&data.grace_micros.to_be_bytes());
                out.extend_from_slice(&data.payload);
            }
            Packet::Ack(ack) => {
                out.push(TYPE_ACK);
                out.extend_from_slice(&ack.acked_sequence.to_be_bytes());
                out.extend_from_slice(&ack.tau_micros.to_be_bytes());
                out.extend_from_slice(&ack.current_state.to_be_bytes());
                out.push(u8::try_from(ack.complete_states.len()).unwrap_or(u8::MAX));
                for state in &ack.complete_states {
                    out.extend_from_slice(&state.to_be_bytes());
                }
            }
            Packet::Audio(audio) => {
                out.push(TYPE_AUDIO);
                out.extend_from_slice(&audio.audio_sequence.to_be_bytes());
                out.extend_from_slice(&audio.timestamp_micros.to_be_bytes());
                out.extend_from_slice(&audio.payload);
            }
            Packet::Probe => out.push(TYPE_PROBE),
        }
    }

    /// This packet's plaintext encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// Parses a decrypted packet, checking every field and the exact length.
    pub fn decode(bytes: &[u8]) -> Result<Packet, WireError> {
        let Some((&packet_type, _)) = bytes.split_first() else {
            return Err(WireError::Truncated {
                needed: 1,
                actual: 0,
            });
        };
        match packet_type {
            TYPE_DATA => {
                require(bytes, DATA_HEADER_LEN)?;
                allow(bytes, DATA_HEADER_LEN + MAX_DATA_PAYLOAD)?;
                let fragment_index = read_u16(&bytes[5..7]);
                let fragment_count = read_u16(&bytes[7..9]);
                if fragment_count == 0 || fragment_count > MAX_FRAGMENTS {
                    return Err(WireError::BadFragmentCount(fragment_count));
                }
                if fragment_index >= fragment_count {
                    return Err(WireError::FragmentIndexOutOfRange {
                        index: fragment_index,
                        count: fragment_count,
                    });
                }
                Ok(Packet::Data(DataPacket {
                    frame_number: read_u32(&bytes[1..5]),
                    fragment_index,
                    fragment_count,
                    source_state: read_u64(&bytes[9..17]),
                    target_state: read_u64(&bytes[17..25]),
                    grace_micros: read_u32(&bytes[25..29]),
                    payload: bytes[DATA_HEADER_LEN..].to_vec(),
                }))
            }
            TYPE_ACK => {
                require(bytes, ACK_HEADER_LEN)?;
                let count = bytes[ACK_HEADER_LEN - 1];
                if usize::from(count) > MAX_ACK_STATES {
                    return Err(WireError::TooManyStates(count));
                }
                let length = ACK_HEADER_LEN + 8 * usize::from(count);
                require(bytes, length)?;
                allow(bytes, length)?;
                Ok(Packet::Ack(AckPacket {
                    acked_sequence: read_u64(&bytes[1..9]),
                    tau_micros: read_u32(&bytes[9..13]),
                    current_state: read_u64(&bytes[13..21]),
                    complete_states: bytes[ACK_HEADER_LEN..]
                        .chunks_exact(8)
                        .map(read_u64)
                        .collect(),
                }))
            }
            TYPE_AUDIO => {
                require(bytes, AUDIO_HEADER_LEN)?;
                allow(bytes, AUDIO_HEADER_LEN + MAX_AUDIO_PAYLOAD)?;
                Ok(Packet::Audio(AudioPacket {
                    audio_sequence: read_u32(&bytes[1..5]),
                    timestamp_micros: read_u64(&bytes[5..13]),
                    payload: bytes[AUDIO_HEADER_LEN..].to_vec(),
                }))
            }
            TYPE_PROBE => {
                allow(bytes, 1)?;
                Ok(Packet::Probe)
            }
            other => Err(WireError::UnknownPacketType(other)),
        }
    }
}

fn require(bytes: &[u8], needed: usize) -> Result<(), WireError> {
    if bytes.len() < needed {
        Err(WireError::Truncated {
            needed,
            actual: bytes.len(),
        })
    } else {
        Ok(())
    }
}

fn allow(bytes: &[u8], allowed: usize) -> Result<(), WireError> {
    if bytes.len() > allowed {
        Err(WireError::TooLong {
            actual: bytes.len(),
            allowed,
        })
    } else {
        Ok(())
    }
}

fn read_u16(bytes: &[u8]) -> u16 {
    u16::from_be_bytes(bytes.try_into().expect("caller passes 2 bytes"))
}

fn read_u32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes(bytes.try_into().expect("caller passes 4 bytes"))
}

fn read_u64(bytes: &[u8]) -> u64 {
    u64::from_be_bytes(bytes.try_into().expect("caller passes 8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_fit_the_path_mtu() {
        assert_eq!(MAX_DATAGRAM, 1452);
        assert_eq!(
            IP_UDP_OVERHEAD + SEALED_HEADER_LEN + DATA_HEADER_LEN + MAX_DATA_PAYLOAD + AEAD_TAG_LEN,
            PATH_MTU
        );
        let full = Packet::Data(DataPacket {
            frame_number: 1,
            fragment_index: 0,
            fragment_count: 1,
            source_state: 2,
            target_state: 3,
            grace_micros: 4,
            payload: vec![7; MAX_DATA_PAYLOAD],
        });
        assert_eq!(
            full.to_bytes().len() + SEALED_HEADER_LEN + AEAD_TAG_LEN,
            MAX_DATAGRAM
        );
    }

    #[test]
    fn data_layout_matches_the_documented_table() {
        let packet = Packet::Data(DataPacket {
            frame_number: 0x0102_0304,
            fragment_index: 0x0506,
            fragment_count: 0x0607,
            source_state: 0x1112_1314_1516_1718,
            target_state: 0x2122_2324_2526_2728,
            grace_micros: 0x3132_3334,
            payload: vec![0xAA, 0xBB],
        });
        // fragment_count 0x0607 is above MAX_FRAGMENTS: encode anyway, decode must refuse.
        let bytes = packet.to_bytes();
        assert_eq!(
            bytes,
            [
                1, 1, 2, 3, 4, 5, 6, 6, 7, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x21,
                0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x31, 0x32, 0x33, 0x34, 0xAA, 0xBB
            ]
        );
        assert_eq!(
            Packet::decode(&bytes),
            Err(WireError::BadFragmentCount(0x0607))
        );
    }

    #[test]
    fn strict_parsing_names_the_problem() {
        assert!(matches!(
            Packet::decode(&[]),
            Err(WireError::Truncated { .. })
        ));
        assert_eq!(Packet::decode(&[9]), Err(WireError::UnknownPacketType(9)));
        assert_eq!(
            Packet::decode(&[TYPE_PROBE, 0]),
            Err(WireError::TooLong {
                actual: 2,
                allowed: 1
            })
        );
        let mut ack = Packet::Ack(AckPacket {
            acked_sequence: 5,
            tau_micros: 600,
            current_state: 9,
            complete_states: vec![1, 2],
        })
        .to_bytes();
        ack.push(0);
        assert!(matches!(
            Packet::decode(&ack),
            Err(WireError::TooLong { .. })
        ));
        ack.truncate(ack.len() - 2);
        assert!(matches!(
            Packet::decode(&ack),
            Err(WireError::Truncated { .. })
        ));
        ack[ACK_HEADER_LEN - 1] = 200;
        assert_eq!(Packet::decode(&ack), Err(WireError::TooManyStates(200)));

        let mut data = Packet::Data(DataPacket {
            frame_number: 1,
            fragment_index: 3,
            fragment_count: 4,
            source_state: 0,
            target_state: 0,
            grace_micros: 0,
            payload: vec![],
        })
        .to_bytes();
        assert!(Packet::decode(&data).is_ok());
        data[6] = 4;
        assert_eq!(
            Packet::decode(&data),
            Err(WireError::FragmentIndexOutOfRange { index: 4, count: 4 })
        );
        data[8] = 0;
        assert_eq!(Packet::decode(&data), Err(WireError::BadFragmentCount(0)));
    }

    #[test]
    fn datagram_framing() {
        let hello = encode_hello(&[5; PAKE_MESSAGE_LEN]);
        assert_eq!(
            Datagram::parse(&hello),
            Ok(Datagram::Hello(&[5; PAKE_MESSAGE_LEN]))
        );
        assert!(matches!(
            Datagram::parse(&hello[..20]),
            Err(WireError::Truncated { .. })
        ));
        let confirm = encode_confirm(&[6; CONFIRM_MAC_LEN]);
        assert_eq!(
            Datagram::parse(&confirm),
            Ok(Datagram::Confirm(&[6; CONFIRM_MAC_LEN]))
        );
        let mut sealed = encode_sealed_header(0xABCD, 77).to_vec();
        sealed.extend_from_slice(&[0; AEAD_TAG_LEN + 1]);
        match Datagram::parse(&sealed) {
            Ok(Datagram::Sealed {
                connection_id,
                sequence,
                ciphertext,
                ..
            }) => {
                assert_eq!(connection_id, 0xABCD);
                assert_eq!(sequence, 77);
                assert_eq!(ciphertext.len(), AEAD_TAG_LEN + 1);
            }
            other => panic!("expected a sealed datagram, got {other:?}"),
        }
        assert_eq!(
            Datagram::parse(&[2, 1]),
            Err(WireError::UnsupportedVersion(2))
        );
        assert_eq!(
            Datagram::parse(&[PROTOCOL_VERSION, 0]),
            Err(WireError::UnknownKind(0))
        );
        assert!(matches!(
            Datagram::parse(&vec![1; MAX_DATAGRAM + 1]),
            Err(WireError::TooLong { .. })
        ));
    }
}

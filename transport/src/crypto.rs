//! Session keys, AEAD sealing and the replay window.
//!
//! The SPAKE2 output is expanded with HKDF-SHA256 into a connection id, one ChaCha20-Poly1305
//! key per direction and one key-confirmation key per side. Which side is which is decided by
//! comparing the two hello messages, so the symmetric handshake needs no agreed roles. The AEAD
//! nonce is the packet's 64-bit sequence number (never reused: each direction has its own key and
//! its own counter); the clear header is the AEAD's additional data.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::wire::{CONFIRM_MAC_LEN, PAKE_MESSAGE_LEN, SEALED_HEADER_LEN};

/// Number of sequence numbers behind the highest one the replay window remembers.
pub const REPLAY_WINDOW: u64 = 1024;

const HKDF_SALT: &[u8] = b"salsify transport v1";

/// Everything the two sides agree on after a successful PAKE.
pub(crate) struct SessionKeys {
    pub connection_id: u64,
    pub send: ChaCha20Poly1305,
    pub receive: ChaCha20Poly1305,
    /// MAC this side sends to prove it knows the key.
    pub my_confirmation: [u8; CONFIRM_MAC_LEN],
    /// Key the peer's confirmation MAC must verify under.
    peer_confirm_key: [u8; 32],
    transcript: Vec<u8>,
}

impl SessionKeys {
    /// Derives the session from the PAKE key and the two hello messages.
    pub fn derive(
        pake_key: &[u8],
        my_hello: &[u8; PAKE_MESSAGE_LEN],
        peer_hello: &[u8; PAKE_MESSAGE_LEN],
    ) -> Self {
        let i_am_low = my_hello < peer_hello;
        let (low, high) = if i_am_low {
            (my_hello, peer_hello)
        } else {
            (peer_hello, my_hello)
        };
        let mut transcript = Vec::with_capacity(2 * PAKE_MESSAGE_LEN);
        transcript.extend_from_slice(low);
        transcript.extend_from_slice(high);

        let hkdf = Hkdf::<Sha256>::new(Some(HKDF_SALT), pake_key);
        let expand = |label: &[u8]| {
            let mut out = [0u8; 32];
            // Expanding 32 bytes from SHA-256 HKDF cannot fail.
            hkdf.expand_multi_info(&[label, &transcript], &mut out)
                .expect("32 bytes is a valid HKDF-SHA256 output length");
            out
        };
        let connection_bytes = expand(b"connection id");
        let low_to_high = expand(b"key low to high");
        let high_to_low = expand(b"key high to low");
        let low_confirm = expand(b"confirm low");
        let high_confirm = expand(b"confirm high");

        let (send_key, receive_key, my_confirm_key, peer_confirm_key) = if i_am_low {
            (low_to_high, high_to_low, low_confirm, high_confirm)
        } else {
            (high_to_low, low_to_high, high_confirm, low_confirm)
        };
        let my_confirmation = confirmation_mac(&my_confirm_key, &transcript)
            .finalize()
            .into_bytes()
            .into();
        SessionKeys {
            connection_id: u64::from_be_bytes(
                connection_bytes[..8].try_into().expect("8 of 32 bytes"),
            ),
            send: ChaCha20Poly1305::new(Key::from_slice(&send_key)),
            receive: ChaCha20Poly1305::new(Key::from_slice(&receive_key)),
            my_confirmation,
            peer_confirm_key,
            transcript,
        }
    }

    /// Checks the peer's key-confirmation MAC in constant time.
    pub fn verify_peer_confirmation(&self, mac: &[u8; CONFIRM_MAC_LEN]) -> bool {
        confirmation_mac(&self.peer_confirm_key, &self.transcript)
            .verify_slice(mac)
            .is_ok()
    }
}

fn confirmation_mac(key: &[u8; 32], transcript: &[u8]) -> Hmac<Sha256> {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(b"salsify key confirmation");
    mac.update(transcript);
    mac
}

fn nonce(sequence: u64) -> Nonce {
    let mut bytes = [0u8; 12];
    bytes[4..].copy_from_slice(&sequence.to_be_bytes());
    Nonce::from(bytes)
}

/// Encrypts `plaintext` and returns the whole datagram: header, ciphertext, tag.
pub(crate) fn seal(
    cipher: &ChaCha20Poly1305,
    header: &[u8; SEALED_HEADER_LEN],
    sequence: u64,
    plaintext: &[u8],
) -> Vec<u8> {
    let ciphertext = cipher
        .encrypt(
            &nonce(sequence),
            Payload {
                msg: plaintext,
                aad: header,
            },
        )
        .expect("ChaCha20-Poly1305 encryption only fails on inputs far above a datagram");
    let mut datagram = Vec::with_capacity(SEALED_HEADER_LEN + ciphertext.len());
    datagram.extend_from_slice(header);
    datagram.extend_from_slice(&ciphertext);
    datagram
}

/// Authenticates and decrypts a sealed datagram's ciphertext; `None` if it is not authentic.
pub(crate) fn open(
    cipher: &ChaCha20Poly1305,
    header: &[u8; SEALED_HEADER_LEN],
    sequence: u64,
    ciphertext: &[u8],
) -> Option<Vec<u8>> {
    cipher
        .decrypt(
            &nonce(sequence),
            Payload {
                msg: ciphertext,
                aad: header,
            },
        )
        .ok()
}

/// Remembers which of the last [`REPLAY_WINDOW`] sequence numbers were already accepted.
///
/// A ring of bits indexed by `sequence % REPLAY_WINDOW`; numbers older than the window are
/// refused outright. Only authenticated packets are recorded, so forged packets cannot move it.
#[derive(Debug, Clone)]
pub(crate) struct ReplayWindow {
    highest: Option<u64>,
    seen: [u64; (REPLAY_WINDOW / 64) as usize],
}

/// Why the replay window refused a sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplayVerdict {
    Fresh,
    Duplicate,
    TooOld,
}

impl ReplayWindow {
    pub fn new() -> Self {
        ReplayWindow {
            highest: None,
            seen: [0; (REPLAY_WINDOW / 64) as usize],
        }
    }

    fn bit(sequence: u64) -> (usize, u64) {
        let slot = sequence % REPLAY_WINDOW;
        ((slot / 64) as usize, 1u64 << (slot % 64))
    }

    /// Whether `sequence` would be accepted, without recording it.
    pub fn check(&self, sequence: u64) -> ReplayVerdict {
        let Some(highest) = self.highest else {
            return ReplayVerdict::Fresh;
        };
        if sequence > highest {
            return ReplayVerdict::Fresh;
        }
        if highest - sequence >= REPLAY_WINDOW {
            return ReplayVerdict::TooOld;
        }
        let (word, mask) = Self::bit(sequence);
        if self.seen[word] & mask != 0 {
            ReplayVerdict::Duplicate
        } else {
            ReplayVerdict::Fresh
        }
    }

    /// Records an authenticated `sequence` that [`ReplayWindow::check`] found fresh.
    pub fn record(&mut self, sequence: u64) {
        match self.highest {
            Some(highest) if sequence <= highest => {}
            Some(highest) if sequence - highest < REPLAY_WINDOW => {
                for skipped in highest + 1..sequence {
                    let (word, mask) = Self::bit(skipped);
                    self.seen[word] &= !mask;
                }
                self.highest = Some(sequence);
            }
            _ => {
                self.seen = [0; (REPLAY_WINDOW / 64) as usize];
                self.highest = Some(sequence);
            }
        }
        let (word, mask) = Self::bit(sequence);
        self.seen[word] |= mask;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_window_accepts_each_number_once_within_the_window() {
        let mut window = ReplayWindow::new();
        assert_eq!(window.check(5), ReplayVerdict::Fresh);
        window.record(5);
        assert_eq!(window.check(5), ReplayVerdict::Duplicate);
        assert_eq!(window.check(3), ReplayVerdict::Fresh);
        window.record(3);
        assert_eq!(window.check(3), ReplayVerdict::Duplicate);
        window.record(2000);
        assert_eq!(window.check(5), ReplayVerdict::TooOld);
        assert_eq!(window.check(2000 - 1023), ReplayVerdict::Fresh);
        assert_eq!(window.check(2000 - 1024), ReplayVerdict::TooOld);
        // Slots reused by the ring are cleared when the window advances.
        assert_eq!(window.check(2000 - 1024 + 5), ReplayVerdict::Fresh);
        window.record(2001);
        window.record(1999);
        assert_eq!(window.check(1999), ReplayVerdict::Duplicate);
        assert_eq!(window.check(1998), ReplayVerdict::Fresh);
        window.record(2001 + REPLAY_WINDOW + 7);
        assert_eq!(window.check(2001 + 7 + 1), ReplayVerdict::Fresh);
    }

    #[test]
    fn sides_derive_mirrored_keys_and_confirmations() {
        let low = [1u8; PAKE_MESSAGE_LEN];
        let high = [2u8; PAKE_MESSAGE_LEN];
        let a = SessionKeys::derive(b"shared secret", &low, &high);
        let b = SessionKeys::derive(b"shared secret", &high, &low);
        assert_eq!(a.connection_id, b.connection_id);
        assert!(b.verify_peer_confirmation(&a.my_confirmation));
        assert!(a.verify_peer_confirmation(&b.my_confirmation));
        // A reflected confirmation is not the peer's.
        assert!(!a.verify_peer_confirmation(&a.my_confirmation));

        let header = [9u8; SEALED_HEADER_LEN];
        let sealed = seal(&a.send, &header, 42, b"hello");
        let ciphertext = &sealed[SEALED_HEADER_LEN..];
        assert_eq!(
            open(&b.receive, &header, 42, ciphertext).as_deref(),
            Some(&b"hello"[..])
        );
        assert_eq!(open(&b.receive, &header, 43, ciphertext), None);
        assert_eq!(open(&a.receive, &header, 42, ciphertext), None);
        let mut other_header = header;
        other_header[3] ^= 1;
        assert_eq!(open(&b.receive, &other_header, 42, ciphertext), None);

        let wrong = SessionKeys::derive(b"other secret", &high, &low);
        assert!(!wrong.verify_peer_confirmation(&a.my_confirmation));
    }
}

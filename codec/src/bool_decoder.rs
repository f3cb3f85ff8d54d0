//! The boolean entropy decoder (RFC 6386 section 7).
//!
//! Reading past the end of the data yields zero bits, as libvpx does; the decoder counts how
//! many bytes it had to invent so that callers can reject frames that overran their partition.

use crate::tables::Tree;

/// Bits of invented zero padding a frame may actually consume before its partition counts as
/// overrun: an arithmetic decoder legitimately looks a little past the last coded bit.
const OVERRUN_TOLERANCE_BITS: i64 = 16;

/// A boolean decoder over one partition.
#[derive(Debug, Clone)]
pub struct BoolDecoder<'a> {
    data: &'a [u8],
    position: usize,
    /// Bits of the arithmetic-coder value, most significant first.
    value: u64,
    /// How many bits of `value` beyond the top 8 are valid (may go negative before a refill).
    bit_count: i32,
    range: u32,
    invented_bytes: usize,
}

impl<'a> BoolDecoder<'a> {
    /// Starts decoding `data`.
    pub fn new(data: &'a [u8]) -> Self {
        let mut decoder = BoolDecoder {
            data,
            position: 0,
            value: 0,
            bit_count: -8,
            range: 255,
            invented_bytes: 0,
        };
        decoder.fill();
        decoder
    }

    #[inline(always)]
    fn fill(&mut self) {
        // Place whole bytes below the valid bits; `shift` is where the next byte's top bit goes.
        let mut shift = 64 - 8 - (self.bit_count + 8);
        if shift < 0 {
            return;
        }
        if let Some(bytes) = self.data.get(self.position..self.position + 8) {
            let count = (shift / 8 + 1) as usize;
            let word = u64::from_be_bytes(bytes.try_into().expect("eight bytes"));
            let chunk = word >> (64 - 8 * count);
            self.value |= chunk << (shift as usize - 8 * (count - 1));
            self.position += count;
            self.bit_count += 8 * count as i32;
            return;
        }
        while shift >= 0 {
            if let Some(&byte) = self.data.get(self.position) {
                self.value |= u64::from(byte) << shift;
                self.position += 1;
            } else {
                self.invented_bytes += 1;
            }
            self.bit_count += 8;
            shift -= 8;
        }
    }

    /// Reads one boolean whose probability of being `false` is `probability / 256`.
    #[inline(always)]
    pub fn read_bool(&mut self, probability: u8) -> bool {
        let split = 1 + (((self.range - 1) * u32::from(probability)) >> 8);
        if self.bit_count < 0 {
            self.fill();
        }
        let big_split = u64::from(split) << 56;
        let bit = if self.value >= big_split {
            self.range -= split;
            self.value -= big_split;
            true
        } else {
            self.range = split;
            false
        };
        let shift = self.range.leading_zeros() as i32 - 24;
        self.range <<= shift;
        self.value <<= shift;
        self.bit_count -= shift;
        bit
    }

    /// Reads a boolean with probability one half.
    #[inline]
    pub fn read_flag(&mut self) -> bool {
        self.read_bool(128)
    }

    /// Reads an unsigned `bits`-bit literal, most significant bit first.
    pub fn read_literal(&mut self, bits: u32) -> u32 {
        let mut value = 0;
        for _ in 0..bits {
            value = (value << 1) | u32::from(self.read_flag());
        }
        value
    }

    /// Reads a magnitude of `bits` bits followed by a sign bit.
    pub fn read_signed_literal(&mut self, bits: u32) -> i32 {
        let magnitude = self.read_literal(bits) as i32;
        if self.read_flag() {
            -magnitude
        } else {
            magnitude
        }
    }

    /// Reads an optional signed value: a flag, then if set a magnitude and sign.
    pub fn read_optional_signed(&mut self, bits: u32) -> i32 {
        if self.read_flag() {
            self.read_signed_literal(bits)
        } else {
            0
        }
    }

    /// Reads a value coded with `tree` and its node `probabilities`, starting at node `start`.
    #[inline]
    pub fn read_tree(&mut self, tree: &Tree, probabilities: &[u8], start: usize) -> u8 {
        let mut index = start;
        loop {
            let node = tree[index + usize::from(self.read_bool(probabilities[index >> 1]))];
            if node <= 0 {
                return (-node) as u8;
            }
            index = node as usize;
        }
    }

    /// True when decoding consumed clearly more bits than the data holds.
    pub fn overran(&self) -> bool {
        let consumed_invented_bits = self.invented_bytes as i64 * 8 - i64::from(self.bit_count + 8);
        consumed_invented_bits > OVERRUN_TOLERANCE_BITS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_literals_written_with_half_probability() {
        // A bool-coded stream of all-half-probability bits is close to the raw bits; check the
        // decoder is deterministic and reads zeros from an all-zero buffer.
        let zeros = [0u8; 16];
        let mut decoder = BoolDecoder::new(&zeros);
        assert_eq!(decoder.read_literal(16), 0);
        assert!(!decoder.overran());
    }

    #[test]
    fn flags_long_overrun() {
        let mut decoder = BoolDecoder::new(&[0x80]);
        for _ in 0..200 {
            decoder.read_flag();
        }
        assert!(decoder.overran());
    }
}

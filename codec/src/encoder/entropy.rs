//! Entropy writers: the VP8 boolean encoder, a bit-cost counter and a recorder behind one trait.
//!
//! Mode decisions try several ways of coding a macroblock before committing to one. They do so
//! through [`EntropyWriter`]: a [`BitCounter`] only adds up the cost of each decision, a
//! [`Recorder`] keeps the decisions so they can be replayed into the real [`BoolEncoder`], and the
//! boolean encoder produces the bitstream (RFC 6386, section 7). Every writer can take a checkpoint
//! and roll back to it, so a trial can be undone cheaply.

use crate::modes::MotionVector;

/// `log2(value) * 256` for `value` in 1..=256, in integer arithmetic (so it can build a table
/// at compile time): the integer part from the highest set bit, eight fraction bits by
/// repeated squaring.
const fn log2_times_256(value: u32) -> u32 {
    let whole = 31 - value.leading_zeros();
    // `value` as a Q16 number in [1, 2).
    let mut mantissa = ((value as u64) << 16) >> whole;
    let mut fraction = 0u32;
    let mut bit = 0;
    while bit < 8 {
        mantissa = (mantissa * mantissa) >> 16;
        if mantissa >= 2 << 16 {
            mantissa >>= 1;
            fraction |= 1 << (7 - bit);
        }
        bit += 1;
    }
    whole * 256 + fraction
}

/// Cost of coding one decision, in 1/256 of a bit, indexed by the probability (out of 256) of
/// the value actually coded: `-log2(p / 256) * 256` (index 0 is treated as 1).
pub const PROBABILITY_COSTS: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut probability = 0;
    while probability < 256 {
        let p = if probability == 0 {
            1
        } else {
            probability as u32
        };
        table[probability] = 8 * 256 - log2_times_256(p);
        probability += 1;
    }
    table
};

/// Cost in 1/256 bit of coding `bit` with `probability` (the chance, out of 256, of a zero).
#[inline]
pub fn bool_cost(bit: bool, probability: u8) -> u32 {
    if bit {
        PROBABILITY_COSTS[256 - probability as usize]
    } else {
        PROBABILITY_COSTS[probability as usize]
    }
}

/// Cost in 1/256 bit of a `bits`-wide literal (every bit at probability 128).
#[inline]
pub fn literal_cost(bits: u32) -> u32 {
    bits * 256
}

/// Something that takes a stream of boolean decisions, each with the probability of a zero.
pub trait EntropyWriter {
    /// A saved position the writer can return to.
    type Checkpoint: Copy;

    /// Codes one boolean; `probability` is the chance (out of 256) that it is `false`.
    fn write_bool(&mut self, bit: bool, probability: u8);

    /// Saves the current position.
    fn checkpoint(&self) -> Self::Checkpoint;

    /// Forgets everything written since `checkpoint`.
    fn rollback(&mut self, checkpoint: Self::Checkpoint);

    /// Told about each new motion vector (and the vector it is coded against) just before its
    /// bits, so a statistics pass can gather the vectors a frame codes. Ignored by default.
    fn observe_new_mv(&mut self, _mv: MotionVector, _base: MotionVector) {}

    /// Codes an unsigned `bits`-wide value, most significant bit first, at probability 128.
    fn write_literal(&mut self, value: u32, bits: u32) {
        for shift in (0..bits).rev() {
            self.write_bool((value >> shift) & 1 == 1, 128);
        }
    }

    /// Codes a flag followed, when set, by a literal (the "optional value" pattern of headers).
    fn write_optional_literal(&mut self, value: Option<u32>, bits: u32) {
        self.write_bool(value.is_some(), 128);
        if let Some(value) = value {
            self.write_literal(value, bits);
        }
    }

    /// Codes a signed value as magnitude then sign bit, behind a presence flag (header deltas).
    fn write_optional_signed(&mut self, value: Option<i32>, bits: u32) {
        self.write_bool(value.is_some(), 128);
        if let Some(value) = value {
            self.write_literal(value.unsigned_abs(), bits);
            self.write_bool(value < 0, 128);
        }
    }

    /// Codes `leaf` with a VP8 tree: `tree[i]` is either a positive index of the next node pair
    /// or `-leaf` (zero or negative), and `probabilities[i / 2]` is the chance of taking the left
    /// branch at node pair `i`. `start` is the node pair to begin at (non-zero for the trees that
    /// skip their first branch).
    fn write_tree(&mut self, tree: &[i8], probabilities: &[u8], leaf: i8, start: usize) {
        let mut path = [(0usize, false); 16];
        let length = tree_path(tree, leaf, start, &mut path)
            .unwrap_or_else(|| panic!("leaf {leaf} is not in the tree"));
        for &(node, bit) in &path[..length] {
            self.write_bool(bit, probabilities[node >> 1]);
        }
    }
}

/// Finds the branches from node `start` to `leaf`: (node index, branch taken) pairs. Each leaf
/// and each node pair appears once in a VP8 tree, so the path is found by climbing from the
/// leaf's entry through the entries pointing at each pair, all located in one scan of the tree.
fn tree_path(tree: &[i8], leaf: i8, start: usize, path: &mut [(usize, bool); 16]) -> Option<usize> {
    // The first entry pointing at each node index, and the leaf's first entry.
    const NONE: u8 = u8::MAX;
    let mut pointer_to = [NONE; 128];
    let mut leaf_entry = None;
    for (entry, &value) in tree.iter().enumerate() {
        if value > 0 {
            let slot = &mut pointer_to[value as usize];
            if *slot == NONE {
                *slot = u8::try_from(entry).ok().filter(|&entry| entry != NONE)?;
            }
        } else if leaf_entry.is_none() && -value == leaf {
            leaf_entry = Some(entry);
        }
    }
    let mut entry = leaf_entry?;
    let mut length = 0;
    loop {
        let node = entry & !1;
        if length == path.len() {
            return None;
        }
        path[length] = (node, entry & 1 == 1);
        length += 1;
        if node == start {
            break;
        }
        entry = match pointer_to.get(node) {
            Some(&pointer) if pointer != NONE => usize::from(pointer),
            _ => return None,
        };
    }
    path[..length].reverse();
    Some(length)
}

/// Cost in 1/256 bit of coding `leaf` with `tree` (see [`EntropyWriter::write_tree`]).
pub fn tree_cost(tree: &[i8], probabilities: &[u8], leaf: i8, start: usize) -> u32 {
    let mut counter = BitCounter::default();
    counter.write_tree(tree, probabilities, leaf, start);
    counter.cost() as u32
}

/// Adds up the cost of the decisions it is given, in 1/256 bit; writes nothing.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BitCounter {
    cost: u64,
}

impl BitCounter {
    /// The cost so far, in 1/256 bit.
    pub fn cost(&self) -> u64 {
        self.cost
    }

    /// Adds a cost computed elsewhere, in 1/256 bit.
    pub fn add_cost(&mut self, cost: u64) {
        self.cost += cost;
    }
}

impl EntropyWriter for BitCounter {
    type Checkpoint = u64;

    #[inline]
    fn write_bool(&mut self, bit: bool, probability: u8) {
        self.cost += bool_cost(bit, probability) as u64;
    }

    fn checkpoint(&self) -> u64 {
        self.cost
    }

    fn rollback(&mut self, checkpoint: u64) {
        self.cost = checkpoint;
    }
}

/// Keeps every decision so that a trial can later be replayed into another writer.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recorder {
    decisions: Vec<(bool, u8)>,
}

impl Recorder {
    /// The recorded (bit, probability) pairs, in order.
    pub fn decisions(&self) -> &[(bool, u8)] {
        &self.decisions
    }

    /// Cost in 1/256 bit of what was recorded.
    pub fn cost(&self) -> u64 {
        self.decisions
            .iter()
            .map(|&(bit, probability)| bool_cost(bit, probability) as u64)
            .sum()
    }

    /// Writes every recorded decision, in order, into `writer`.
    pub fn replay<W: EntropyWriter>(&self, writer: &mut W) {
        for &(bit, probability) in &self.decisions {
            writer.write_bool(bit, probability);
        }
    }

    /// Forgets everything recorded.
    pub fn clear(&mut self) {
        self.decisions.clear();
    }
}

impl EntropyWriter for Recorder {
    type Checkpoint = usize;

    #[inline]
    fn write_bool(&mut self, bit: bool, probability: u8) {
        self.decisions.push((bit, probability));
    }

    fn checkpoint(&self) -> usize {
        self.decisions.len()
    }

    fn rollback(&mut self, checkpoint: usize) {
        self.decisions.truncate(checkpoint);
    }
}

/// The VP8 boolean (arithmetic) encoder of RFC 6386 section 7.
#[derive(Debug, Clone)]
pub struct BoolEncoder {
    output: Vec<u8>,
    range: u32,
    /// Low end of the current interval; bit 31 and up hold a pending carry.
    bottom: u32,
    /// Shifts left before the next byte of `bottom` is complete.
    bits_until_byte: i32,
}

/// A saved boolean-encoder position. A later carry may have changed bytes already written, so
/// the checkpoint also remembers the byte a carry would reach first.
#[derive(Debug, Clone, Copy)]
pub struct BoolEncoderCheckpoint {
    length: usize,
    range: u32,
    bottom: u32,
    bits_until_byte: i32,
    /// Index and value of the last byte below 255 (a carry stops there), if any.
    carry_stop: Option<(usize, u8)>,
}

impl Default for BoolEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl BoolEncoder {
    /// An empty encoder.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty encoder with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        BoolEncoder {
            output: Vec::with_capacity(capacity),
            range: 255,
            bottom: 0,
            bits_until_byte: 24,
        }
    }

    /// Number of bytes completed so far (the final size is a few bytes more).
    pub fn bytes_written(&self) -> usize {
        self.output.len()
    }

    /// Writes a run of decisions with the interval state held in locals, which the compiler
    /// can keep in registers across a long inlined run (a macroblock's tokens) instead of
    /// storing it after every decision. The state returns to the encoder when the run ends.
    #[inline]
    pub fn run(&mut self) -> BoolEncoderRun<'_> {
        BoolEncoderRun {
            range: self.range,
            bottom: self.bottom,
            bits_until_byte: self.bits_until_byte,
            encoder: self,
        }
    }

    /// Flushes the interval and returns the coded bytes.
    pub fn finish(mut self) -> Vec<u8> {
        // Thirty-two zeros at even odds push every pending bit of `bottom` out.
        for _ in 0..32 {
            self.write_bool(false, 128);
        }
        self.output
    }
}

impl EntropyWriter for BoolEncoder {
    type Checkpoint = BoolEncoderCheckpoint;

    #[inline]
    fn write_bool(&mut self, bit: bool, probability: u8) {
        encode_bool(
            &mut self.output,
            &mut self.range,
            &mut self.bottom,
            &mut self.bits_until_byte,
            bit,
            probability,
        );
    }

    fn checkpoint(&self) -> BoolEncoderCheckpoint {
        let carry_stop = self
            .output
            .iter()
            .rposition(|&byte| byte != 255)
            .map(|index| (index, self.output[index]));
        BoolEncoderCheckpoint {
            length: self.output.len(),
            range: self.range,
            bottom: self.bottom,
            bits_until_byte: self.bits_until_byte,
            carry_stop,
        }
    }

    fn rollback(&mut self, checkpoint: BoolEncoderCheckpoint) {
        self.output.truncate(checkpoint.length);
        // Undo a carry that may have run back past the checkpoint: every byte after the carry
        // stop was 255 then.
        let first_255 = match checkpoint.carry_stop {
            Some((index, value)) => {
                self.output[index] = value;
                index + 1
            }
            None => 0,
        };
        for byte in &mut self.output[first_255..] {
            *byte = 255;
        }
        self.range = checkpoint.range;
        self.bottom = checkpoint.bottom;
        self.bits_until_byte = checkpoint.bits_until_byte;
    }
}

/// Codes one boolean into the interval (`range`, `bottom`, `bits_until_byte`) of a
/// [`BoolEncoder`] whose completed bytes are `output`.
#[inline(always)]
fn encode_bool(
    output: &mut Vec<u8>,
    range: &mut u32,
    bottom: &mut u32,
    bits_until_byte: &mut i32,
    bit: bool,
    probability: u8,
) {
    let split = 1 + (((*range - 1) * u32::from(probability)) >> 8);
    // Branch-free choice of the sub-interval: the bits of a token stream are hard to predict.
    let taken = u32::from(bit).wrapping_neg();
    *bottom = bottom.wrapping_add(split & taken);
    let new_range = split.wrapping_add(range.wrapping_sub(split.wrapping_mul(2)) & taken);
    // Normalise: keep the range in 128..=255, emitting a byte every eight shifts. The range
    // is at least 1, so `shift` is at most 7 and completes at most one byte.
    let mut shift = new_range.leading_zeros() as i32 - 24;
    *range = new_range << shift;
    if shift >= *bits_until_byte {
        // Shift up to the byte's completion. Since the last byte, `bottom` has grown by one
        // bit per shift plus carries from additions, so only the shift completing the byte
        // can find bit 31 set: a carry into the bytes already written.
        let to_byte = *bits_until_byte;
        if (*bottom << (to_byte - 1)) & (1 << 31) != 0 {
            propagate_carry(output);
        }
        let shifted = *bottom << to_byte;
        output.push((shifted >> 24) as u8);
        *bottom = shifted & ((1 << 24) - 1);
        shift -= to_byte;
        *bits_until_byte = 8;
    }
    *bottom <<= shift;
    *bits_until_byte -= shift;
}

/// Adds one to the number the written bytes form (a carry out of the interval's low end).
#[cold]
fn propagate_carry(output: &mut [u8]) {
    for byte in output.iter_mut().rev() {
        if *byte == 255 {
            *byte = 0;
        } else {
            *byte += 1;
            return;
        }
    }
}

/// A run of decisions written to a [`BoolEncoder`] (see [`BoolEncoder::run`]).
pub struct BoolEncoderRun<'a> {
    encoder: &'a mut BoolEncoder,
    range: u32,
    bottom: u32,
    bits_until_byte: i32,
}

impl BoolEncoderRun<'_> {
    /// Hands the interval state back to the encoder.
    #[inline]
    fn store(&mut self) {
        self.encoder.range = self.range;
        self.encoder.bottom = self.bottom;
        self.encoder.bits_until_byte = self.bits_until_byte;
    }
}

impl Drop for BoolEncoderRun<'_> {
    #[inline]
    fn drop(&mut self) {
        self.store();
    }
}

impl EntropyWriter for BoolEncoderRun<'_> {
    type Checkpoint = BoolEncoderCheckpoint;

    #[inline(always)]
    fn write_bool(&mut self, bit: bool, probability: u8) {
        encode_bool(
            &mut self.encoder.output,
            &mut self.range,
            &mut self.bottom,
            &mut self.bits_until_byte,
            bit,
            probability,
        );
    }

    fn checkpoint(&self) -> BoolEncoderCheckpoint {
        let mut checkpoint = self.encoder.checkpoint();
        checkpoint.range = self.range;
        checkpoint.bottom = self.bottom;
        checkpoint.bits_until_byte = self.bits_until_byte;
        checkpoint
    }

    fn rollback(&mut self, checkpoint: BoolEncoderCheckpoint) {
        self.encoder.rollback(checkpoint);
        self.range = checkpoint.range;
        self.bottom = checkpoint.bottom;
        self.bits_until_byte = checkpoint.bits_until_byte;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal boolean decoder (RFC 6386 section 7.3) for checking the encoder in isolation.
    struct ReferenceBoolDecoder<'a> {
        data: &'a [u8],
        position: usize,
        value: u32,
        range: u32,
        bit_count: i32,
    }

    impl<'a> ReferenceBoolDecoder<'a> {
        fn new(data: &'a [u8]) -> Self {
            let mut decoder = ReferenceBoolDecoder {
                data,
                position: 0,
                value: 0,
                range: 255,
                bit_count: 0,
            };
            for _ in 0..2 {
                decoder.value = (decoder.value << 8) | decoder.next_byte();
            }
            decoder
        }

        fn next_byte(&mut self) -> u32 {
            let byte = self.data.get(self.position).copied().unwrap_or(0);
            self.position += 1;
            byte as u32
        }

        fn read_bool(&mut self, probability: u8) -> bool {
            let split = 1 + (((self.range - 1) * probability as u32) >> 8);
            let big_split = split << 8;
            let bit = if self.value >= big_split {
                self.range -= split;
                self.value -= big_split;
                true
            } else {
                self.range = split;
                false
            };
            while self.range < 128 {
                self.value <<= 1;
                self.range <<= 1;
                self.bit_count += 1;
                if self.bit_count == 8 {
                    self.bit_count = 0;
                    self.value |= self.next_byte();
                }
            }
            bit
        }
    }

    fn pseudo_random_decisions(count: usize, seed: u64) -> Vec<(bool, u8)> {
        let mut state = seed;
        (0..count)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let probability = ((state >> 33) % 255 + 1) as u8;
                // Bias the bits toward the probability so both likely and unlikely values occur.
                let draw = ((state >> 17) & 255) as u8;
                (draw >= probability, probability)
            })
            .collect()
    }

    #[test]
    fn runs_write_the_stream_the_encoder_writes() {
        let decisions = pseudo_random_decisions(20_000, 0x5eed);
        let mut direct = BoolEncoder::new();
        for &(bit, probability) in &decisions {
            direct.write_bool(bit, probability);
        }
        let mut in_runs = BoolEncoder::new();
        for (index, chunk) in decisions.chunks(37).enumerate() {
            let mut run = in_runs.run();
            let checkpoint = run.checkpoint();
            if index % 3 == 0 {
                // Something written and rolled back within a run leaves no trace.
                for &(bit, probability) in chunk.iter().rev() {
                    run.write_bool(!bit, probability);
                }
                run.rollback(checkpoint);
            }
            for &(bit, probability) in chunk {
                run.write_bool(bit, probability);
            }
        }
        assert_eq!(in_runs.finish(), direct.finish());
    }

    #[test]
    fn cost_table_matches_the_logarithm() {
        for (probability, &cost) in PROBABILITY_COSTS.iter().enumerate().skip(1) {
            let exact = -(probability as f64 / 256.0).log2() * 256.0;
            let table = f64::from(cost);
            assert!(
                (exact - table).abs() <= 1.5,
                "{probability}: {exact} vs {table}"
            );
        }
        assert_eq!(PROBABILITY_COSTS[128], 256);
    }

    #[test]
    fn round_trips_through_a_reference_decoder() {
        for seed in 0..8 {
            let decisions = pseudo_random_decisions(5000, seed);
            let mut encoder = BoolEncoder::new();
            for &(bit, probability) in &decisions {
                encoder.write_bool(bit, probability);
            }
            let bytes = encoder.finish();
            let mut decoder = ReferenceBoolDecoder::new(&bytes);
            for (index, &(bit, probability)) in decisions.iter().enumerate() {
                assert_eq!(decoder.read_bool(probability), bit, "decision {index}");
            }
        }
    }

    #[test]
    fn rollback_restores_the_exact_stream() {
        let prefix = pseudo_random_decisions(3000, 11);
        let trial = pseudo_random_decisions(2000, 12);
        let suffix = pseudo_random_decisions(1000, 13);

        let mut straight = BoolEncoder::new();
        for &(bit, probability) in prefix.iter().chain(&suffix) {
            straight.write_bool(bit, probability);
        }

        let mut with_trial = BoolEncoder::new();
        for &(bit, probability) in &prefix {
            with_trial.write_bool(bit, probability);
        }
        let checkpoint = with_trial.checkpoint();
        for &(bit, probability) in &trial {
            with_trial.write_bool(bit, probability);
        }
        with_trial.rollback(checkpoint);
        for &(bit, probability) in &suffix {
            with_trial.write_bool(bit, probability);
        }
        assert_eq!(straight.finish(), with_trial.finish());
    }

    #[test]
    fn rollback_undoes_a_carry_into_earlier_bytes() {
        // Find a prefix whose checkpoint sits on trailing 255 bytes, then force carries after it.
        for seed in 0..200 {
            let prefix = pseudo_random_decisions(400, seed);
            let mut encoder = BoolEncoder::new();
            for &(bit, probability) in &prefix {
                encoder.write_bool(bit, probability);
            }
            let before = encoder.output.clone();
            let checkpoint = encoder.checkpoint();
            // Unlikely "true" values at high probability push `bottom` up and cause carries.
            for _ in 0..64 {
                encoder.write_bool(true, 250);
            }
            encoder.rollback(checkpoint);
            assert_eq!(encoder.output, before, "seed {seed}");
        }
    }

    #[test]
    fn counter_and_recorder_agree_with_the_real_size() {
        let decisions = pseudo_random_decisions(20000, 5);
        let mut counter = BitCounter::default();
        let mut recorder = Recorder::default();
        for &(bit, probability) in &decisions {
            counter.write_bool(bit, probability);
            recorder.write_bool(bit, probability);
        }
        assert_eq!(counter.cost(), recorder.cost());
        let mut encoder = BoolEncoder::new();
        recorder.replay(&mut encoder);
        let bytes = encoder.finish().len() as f64;
        let estimated = counter.cost() as f64 / 256.0 / 8.0;
        assert!(
            (bytes - estimated).abs() < estimated * 0.02 + 8.0,
            "estimated {estimated} bytes, wrote {bytes}"
        );
    }

    /// The boolean encoder one normalising shift at a time, as RFC 6386 section 7.3 states
    /// it: what the batched shifts of [`BoolEncoder::write_bool`] must reproduce.
    fn shift_by_shift_encoding(decisions: &[(bool, u8)]) -> Vec<u8> {
        let mut output: Vec<u8> = Vec::new();
        let (mut range, mut bottom, mut bits_until_byte) = (255u32, 0u32, 24);
        let padding = std::iter::repeat_n((false, 128u8), 32);
        for (bit, probability) in decisions.iter().copied().chain(padding) {
            let split = 1 + (((range - 1) * u32::from(probability)) >> 8);
            if bit {
                bottom = bottom.wrapping_add(split);
                range -= split;
            } else {
                range = split;
            }
            while range < 128 {
                range <<= 1;
                if bottom & (1 << 31) != 0 {
                    for byte in output.iter_mut().rev() {
                        if *byte == 255 {
                            *byte = 0;
                        } else {
                            *byte += 1;
                            break;
                        }
                    }
                }
                bottom <<= 1;
                bits_until_byte -= 1;
                if bits_until_byte == 0 {
                    output.push((bottom >> 24) as u8);
                    bottom &= (1 << 24) - 1;
                    bits_until_byte = 8;
                }
            }
        }
        output
    }

    #[test]
    fn batched_normalisation_matches_shift_by_shift_encoding() {
        for seed in 0..16 {
            let mut decisions = pseudo_random_decisions(4000, seed);
            // Runs of very likely and very unlikely values: long carries and large shifts.
            decisions.extend((0..600).map(|index| (index % 97 != 0, 1 + (seed as u8 & 1) * 254)));
            decisions.extend((0..600).map(|index| (index % 5 == 0, 255)));
            let mut encoder = BoolEncoder::new();
            for &(bit, probability) in &decisions {
                encoder.write_bool(bit, probability);
            }
            assert_eq!(
                encoder.finish(),
                shift_by_shift_encoding(&decisions),
                "seed {seed}"
            );
        }
    }

    /// Depth-first search for the branches from `node` to `leaf`.
    fn searched_tree_path(tree: &[i8], leaf: i8, node: usize) -> Option<Vec<(usize, bool)>> {
        for branch in 0..2 {
            let entry = tree[node + branch];
            let rest = if entry <= 0 {
                (-entry == leaf).then(Vec::new)
            } else {
                searched_tree_path(tree, leaf, entry as usize)
            };
            if let Some(rest) = rest {
                let mut path = vec![(node, branch == 1)];
                path.extend(rest);
                return Some(path);
            }
        }
        None
    }

    #[test]
    fn climbed_tree_paths_match_a_search_of_the_branches() {
        use crate::tables::{
            CHROMA_MODE_TREE, KEY_FRAME_LUMA_MODE_TREE, LUMA_MODE_TREE, SMALL_MV_TREE,
            SUBBLOCK_MODE_TREE,
        };
        let trees: [&[i8]; 5] = [
            &KEY_FRAME_LUMA_MODE_TREE,
            &LUMA_MODE_TREE,
            &CHROMA_MODE_TREE,
            &SUBBLOCK_MODE_TREE,
            &SMALL_MV_TREE,
        ];
        let mut found = 0;
        for tree in trees {
            for start in (0..tree.len()).step_by(2) {
                for leaf in 0..12 {
                    let mut path = [(0usize, false); 16];
                    let climbed =
                        tree_path(tree, leaf, start, &mut path).map(|n| path[..n].to_vec());
                    let searched = searched_tree_path(tree, leaf, start);
                    assert_eq!(climbed, searched, "{tree:?} from {start} to {leaf}");
                    found += usize::from(climbed.is_some());
                }
            }
        }
        assert!(found > 40, "{found}");
    }

    #[test]
    fn trees_code_every_leaf() {
        // A small tree: leaves 0, 1, 2, 3 at depths 1, 2, 3, 3.
        let tree: [i8; 6] = [0, 2, -1, 4, -2, -3];
        let probabilities = [100u8, 150, 200];
        for leaf in 0..4 {
            let mut encoder = BoolEncoder::new();
            encoder.write_tree(&tree, &probabilities, leaf, 0);
            let bytes = encoder.finish();
            let mut decoder = ReferenceBoolDecoder::new(&bytes);
            let mut node = 0usize;
            let decoded = loop {
                let next = tree[node + decoder.read_bool(probabilities[node >> 1]) as usize];
                if next <= 0 {
                    break -next;
                }
                node = next as usize;
            };
            assert_eq!(decoded, leaf);
        }
    }
}

//! Deterministic pseudo-random numbers for the crate's unit tests.

/// Xorshift64 generator: a fixed seed gives the same test inputs on every run.
pub(crate) struct TestRandom(u64);

impl TestRandom {
    /// A generator starting from `seed` (zero, which xorshift cannot leave, is replaced).
    pub(crate) fn new(seed: u64) -> Self {
        TestRandom(seed.max(1))
    }

    /// The next 64 pseudo-random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut value = self.0;
        value ^= value << 13;
        value ^= value >> 7;
        value ^= value << 17;
        self.0 = value;
        value
    }
}

//! A small virtual-time link and a two-party call driver for the transport's plan tests.
//!
//! The link serialises datagrams at a fixed rate through an unbounded queue, then delays them by
//! a fixed one-way delay; it can drop, duplicate and reorder (extra random delay) with seeded
//! randomness. Nothing here reads a clock: time jumps from one deadline to the next.

#![allow(dead_code)]

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use std::time::Duration;
use transport::{CallCode, Config, Connection, ConnectionState, Timestamp};

/// Bytes of IPv4 + UDP headers the link charges per datagram on top of its payload.
pub const IP_UDP_HEADER: usize = 28;

/// One direction of the emulated path.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// Bottleneck rate, bits per second.
    pub rate_bits_per_second: u64,
    /// Fixed one-way delay after the bottleneck.
    pub one_way_delay: Duration,
    /// Probability a datagram is dropped.
    pub loss: f64,
    /// Probability a datagram is delivered twice.
    pub duplicate: f64,
    /// Probability a datagram is held back by up to `reorder_delay` extra.
    pub reorder: f64,
    /// Largest extra delay of a reordered datagram.
    pub reorder_delay: Duration,
}

impl LinkConfig {
    pub fn constant(rate_bits_per_second: u64, one_way_delay: Duration) -> Self {
        LinkConfig {
            rate_bits_per_second,
            one_way_delay,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::ZERO,
        }
    }

    /// Time the bottleneck takes to serialise a datagram of `bytes` (plus IP and UDP headers).
    pub fn service_time(&self, bytes: usize) -> Duration {
        let bits = ((bytes + IP_UDP_HEADER) * 8) as u64;
        Duration::from_nanos(bits * 1_000_000_000 / self.rate_bits_per_second)
    }
}

pub struct Link {
    pub config: LinkConfig,
    rng: ChaCha20Rng,
    busy_until: Timestamp,
    in_transit: Vec<(Timestamp, u64, Vec<u8>)>,
    order: u64,
    pub delivered: u64,
    pub dropped: u64,
}

impl Link {
    pub fn new(config: LinkConfig, seed: u64) -> Self {
        Link {
            config,
            rng: ChaCha20Rng::seed_from_u64(seed),
            busy_until: Timestamp::ZERO,
            in_transit: Vec::new(),
            order: 0,
            delivered: 0,
            dropped: 0,
        }
    }

    fn chance(&mut self, probability: f64) -> bool {
        probability > 0.0 && (self.rng.next_u64() as f64 / u64::MAX as f64) < probability
    }

    pub fn send(&mut self, now: Timestamp, datagram: Vec<u8>) {
        let start = self.busy_until.max(now);
        let done = start + self.config.service_time(datagram.len());
        self.busy_until = done;
        if self.chance(self.config.loss) {
            self.dropped += 1;
            return;
        }
        let mut arrival = done + self.config.one_way_delay;
        if self.chance(self.config.reorder) {
            let extra = self.rng.next_u64() % (self.config.reorder_delay.as_micros() as u64 + 1);
            arrival = arrival + Duration::from_micros(extra);
        }
        if self.chance(self.config.duplicate) {
            self.push(arrival + Duration::from_micros(50), datagram.clone());
        }
        self.push(arrival, datagram);
    }

    fn push(&mut self, at: Timestamp, datagram: Vec<u8>) {
        self.order += 1;
        self.in_transit.push((at, self.order, datagram));
    }

    pub fn next_arrival(&self) -> Option<Timestamp> {
        self.in_transit.iter().map(|(at, _, _)| *at).min()
    }

    /// The earliest datagram due by `now`.
    pub fn poll(&mut self, now: Timestamp) -> Option<Vec<u8>> {
        let (index, _) = self
            .in_transit
            .iter()
            .enumerate()
            .filter(|(_, (at, _, _))| *at <= now)
            .min_by_key(|(_, (at, order, _))| (*at, *order))?;
        self.delivered += 1;
        Some(self.in_transit.swap_remove(index).2)
    }
}

pub fn code() -> CallCode {
    "7-apple-tiger".parse().expect("valid call code")
}

/// Two connections joined by two links; `a` sends video to `b`.
pub struct Call {
    pub now: Timestamp,
    pub a: Connection,
    pub b: Connection,
    pub a_to_b: Link,
    pub b_to_a: Link,
    pub a_input_errors: u64,
    pub b_input_errors: u64,
}

impl Call {
    pub fn new(config: Config, forward: LinkConfig, backward: LinkConfig, seed: u64) -> Self {
        Self::with_codes(config, forward, backward, seed, &code(), &code())
    }

    pub fn with_codes(
        config: Config,
        forward: LinkConfig,
        backward: LinkConfig,
        seed: u64,
        code_a: &CallCode,
        code_b: &CallCode,
    ) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let now = Timestamp::ZERO;
        Call {
            now,
            a: Connection::new(code_a, config.clone(), now, &mut rng).expect("valid config"),
            b: Connection::new(code_b, config, now, &mut rng).expect("valid config"),
            a_to_b: Link::new(forward, seed.wrapping_add(1)),
            b_to_a: Link::new(backward, seed.wrapping_add(2)),
            a_input_errors: 0,
            b_input_errors: 0,
        }
    }

    /// Moves everything that is due at `self.now`: timers, deliveries, transmissions.
    pub fn settle(&mut self) {
        self.a.handle_timeout(self.now);
        self.b.handle_timeout(self.now);
        while let Some(datagram) = self.a_to_b.poll(self.now) {
            if self.b.handle_input(self.now, &datagram).is_err() {
                self.b_input_errors += 1;
            }
        }
        while let Some(datagram) = self.b_to_a.poll(self.now) {
            if self.a.handle_input(self.now, &datagram).is_err() {
                self.a_input_errors += 1;
            }
        }
        while let Some(datagram) = self.a.poll_transmit(self.now) {
            self.a_to_b.send(self.now, datagram);
        }
        while let Some(datagram) = self.b.poll_transmit(self.now) {
            self.b_to_a.send(self.now, datagram);
        }
    }

    /// The next time anything happens, capped at `limit`.
    pub fn next_event(&self, limit: Timestamp) -> Timestamp {
        [
            self.a.poll_timeout(),
            self.b.poll_timeout(),
            self.a_to_b.next_arrival(),
            self.b_to_a.next_arrival(),
        ]
        .into_iter()
        .flatten()
        .filter(|&at| at > self.now)
        .fold(limit, Timestamp::min)
    }

    /// Runs until `until`, settling at every event.
    pub fn run_until(&mut self, until: Timestamp) {
        self.settle();
        while self.now < until {
            self.now = self.next_event(until);
            self.settle();
        }
    }

    /// Runs the handshake; panics if it does not complete within `limit`.
    pub fn connect(&mut self, limit: Duration) {
        let deadline = self.now + limit;
        self.settle();
        while !(self.a.state() == ConnectionState::Established
            && self.b.state() == ConnectionState::Established)
        {
            assert!(
                self.now < deadline,
                "handshake did not complete: a {:?}, b {:?}",
                self.a.state(),
                self.b.state()
            );
            self.now = self.next_event(deadline);
            self.settle();
        }
    }

    /// Hands every complete frame at `b` to a pretend decoder that reaches each frame's target
    /// state and reports it. Returns the frames collected.
    pub fn collect_frames(&mut self) -> Vec<transport::ReceivedFrame> {
        let mut frames = Vec::new();
        while let Some(frame) = self.b.receiver().poll_frame() {
            let target = frame.target_state;
            self.b.receiver().report_state(target, &[target]);
            frames.push(frame);
        }
        frames
    }
}

pub fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

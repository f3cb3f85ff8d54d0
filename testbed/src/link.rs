//! One direction of an emulated link, as a pure state machine (sans-IO).
//!
//! A packet handed to [`Link::send`] passes, in order: the outage check (mahimahi's `mm-onoff`
//! and scheduled outages drop packets arriving while the link is off), independent random loss
//! (`mm-loss`), the queue (see [`QueueConfig`]), the trace-driven link (`mm-link`), and a fixed
//! one-way delay (`mm-delay`), after which [`Link::poll_delivered`] returns it. With
//! [`LinkConfig::delay_before_link`] the delay comes first instead: in `mm-delay D mm-link ...`
//! that is the order for the downlink (the delay shell is outside the link shell), while the
//! uplink meets the link first.
//!
//! The link follows mahimahi's `LinkQueue`: each trace line is a chance to send
//! [`OPPORTUNITY_BYTES`] bytes; the packet at the head of the queue takes bytes from it, a small
//! packet leaves the rest to the next one, a large one waits for further opportunities, and bytes
//! nobody uses are lost. A packet arriving at the time of an opportunity cannot use that
//! opportunity (mahimahi spends all opportunities due before it enqueues). The trace repeats,
//! shifted by its last timestamp, forever.
//!
//! Time is the caller's: every method takes `now_us`, microseconds on any clock that starts at or
//! after the `start_us` given to [`Link::new`] and never goes backwards (a smaller `now_us` is
//! treated as the latest one seen). Trace times are whole milliseconds after `start_us`.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::queue::{PacketQueue, QueueConfig, QueuedPacket};
use crate::random::SeededRng;
use crate::trace::{Trace, OPPORTUNITY_BYTES};

/// A scheduled outage: the link drops every arriving packet from `start_ms` (after the link's
/// start) for `duration_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outage {
    /// When the outage begins, in milliseconds after the link's start.
    pub start_ms: u64,
    /// How long it lasts, in milliseconds.
    pub duration_ms: u64,
}

/// Random on/off outages as mahimahi's `mm-onoff`: the link is on for exponentially distributed
/// times of mean `mean_on_ms`, then off for exponentially distributed times of mean `mean_off_ms`,
/// starting on. Packets arriving while off are dropped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OnOff {
    /// Mean time the link stays up, in milliseconds.
    pub mean_on_ms: f64,
    /// Mean time the link stays down, in milliseconds.
    pub mean_off_ms: f64,
}

/// Everything that defines one direction of the link.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// The delivery trace (shared: the same trace may drive many links).
    pub trace: Arc<Trace>,
    /// The queue before the link.
    pub queue: QueueConfig,
    /// Fixed one-way propagation delay, in microseconds.
    pub delay_us: u64,
    /// Whether the delay comes before the outage check, loss, queue and link (mahimahi's
    /// downlink order) rather than after the link (its uplink order).
    pub delay_before_link: bool,
    /// Probability that an arriving packet is lost (0 disables loss).
    pub loss_probability: f64,
    /// Random on/off outages, if any.
    pub on_off: Option<OnOff>,
    /// Scheduled outages.
    pub outages: Vec<Outage>,
    /// Seed of the loss and on/off processes: the same seed gives the same run.
    pub seed: u64,
    /// Whether to record mahimahi log events (see [`Link::drain_log`]).
    pub record_log: bool,
}

impl LinkConfig {
    /// A link driven by `trace` with an infinite queue, no delay, no loss and no outages.
    pub fn new(trace: Arc<Trace>) -> LinkConfig {
        LinkConfig {
            trace,
            queue: QueueConfig::Infinite,
            delay_us: 0,
            delay_before_link: false,
            loss_probability: 0.0,
            on_off: None,
            outages: Vec::new(),
            seed: 0,
            record_log: false,
        }
    }
}

/// A packet that made it across.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered<P> {
    /// What was sent.
    pub payload: P,
    /// Its size in bytes, as given to [`Link::send`].
    pub size: usize,
    /// When it was sent, in microseconds.
    pub sent_us: u64,
    /// When it left the far end of the link (after the one-way delay), in microseconds.
    pub delivered_us: u64,
}

/// One line of a mahimahi link log. Times are milliseconds after the link's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogEvent {
    /// `<ms> + <bytes>`: a packet reached the queue.
    Arrival {
        /// When.
        ms: u64,
        /// Its size.
        bytes: usize,
    },
    /// `<ms> - <bytes> <delay>`: a packet left the link after waiting `delay_ms` in queue and link.
    Departure {
        /// When.
        ms: u64,
        /// Its size.
        bytes: usize,
        /// Time from arrival to departure.
        delay_ms: u64,
    },
    /// `<ms> # <bytes>`: a delivery opportunity.
    Opportunity {
        /// When.
        ms: u64,
        /// Its capacity ([`OPPORTUNITY_BYTES`]).
        bytes: usize,
    },
    /// `<ms> d <packets> <bytes>`: the queue dropped packets.
    Drop {
        /// When.
        ms: u64,
        /// How many.
        packets: usize,
        /// Their total size.
        bytes: usize,
    },
}

/// Counters of what happened to the packets sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Packets handed to [`Link::send`].
    pub sent_packets: u64,
    /// Bytes handed to [`Link::send`].
    pub sent_bytes: u64,
    /// Packets dropped because the link was in an outage.
    pub outage_drops: u64,
    /// Packets lost at random.
    pub random_losses: u64,
    /// Packets dropped by the queue.
    pub queue_drops: u64,
    /// Packets that left the link (some may still be in the delay line).
    pub departed_packets: u64,
    /// Bytes that left the link.
    pub departed_bytes: u64,
    /// Delivery opportunities that have passed.
    pub opportunities: u64,
}

/// What the queue holds for each packet: the caller's payload and when it was sent.
#[derive(Debug)]
struct Sent<P> {
    payload: P,
    sent_us: u64,
}

#[derive(Debug)]
struct InTransit<P> {
    packet: QueuedPacket<Sent<P>>,
    bytes_left: usize,
}

/// A packet on its way to the queue when the delay comes first.
#[derive(Debug)]
struct Delayed<P> {
    release_us: u64,
    sent: Sent<P>,
    size: usize,
}

/// One direction of an emulated link. `P` is whatever the caller wants back on delivery.
#[derive(Debug)]
pub struct Link<P> {
    trace: Arc<Trace>,
    start_us: u64,
    delay_us: u64,
    delay_before_link: bool,
    /// Packets delayed before reaching the queue, in release order.
    pre_link: VecDeque<Delayed<P>>,
    /// Start of the current trace period, in milliseconds after `start_us`.
    period_base_ms: u64,
    /// Index in the trace of the next delivery opportunity.
    next_opportunity: usize,
    queue: PacketQueue<Sent<P>>,
    in_transit: Option<InTransit<P>>,
    delay_line: VecDeque<Delivered<P>>,
    latest_now_us: u64,
    loss_probability: f64,
    loss_rng: SeededRng,
    on_off: Option<OnOff>,
    on_off_rng: SeededRng,
    link_on: bool,
    next_switch_us: u64,
    outages: Vec<Outage>,
    log: Option<Vec<LogEvent>>,
    stats: LinkStats,
}

impl<P> Link<P> {
    /// A link whose trace starts at `start_us`.
    pub fn new(config: LinkConfig, start_us: u64) -> Link<P> {
        let mut on_off_rng = SeededRng::new(config.seed ^ 0x6F6E_6F66_6600_0000);
        let next_switch_us = match config.on_off {
            Some(on_off) => start_us + (on_off_rng.exponential(on_off.mean_on_ms) * 1000.0) as u64,
            None => u64::MAX,
        };
        Link {
            trace: config.trace,
            start_us,
            delay_us: config.delay_us,
            delay_before_link: config.delay_before_link,
            pre_link: VecDeque::new(),
            period_base_ms: 0,
            next_opportunity: 0,
            queue: PacketQueue::new(config.queue),
            in_transit: None,
            delay_line: VecDeque::new(),
            latest_now_us: start_us,
            loss_probability: config.loss_probability,
            loss_rng: SeededRng::new(config.seed ^ 0x6C6F_7373_0000_0000),
            on_off: config.on_off,
            on_off_rng,
            link_on: true,
            next_switch_us,
            outages: config.outages,
            log: config.record_log.then(Vec::new),
            stats: LinkStats::default(),
        }
    }

    /// The trace driving this link.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// What has happened so far.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// Packets waiting in the queue (not counting one partly sent).
    pub fn queued_packets(&self) -> usize {
        self.queue.len()
    }

    /// Bytes waiting in the queue (not counting one partly sent).
    pub fn queued_bytes(&self) -> usize {
        self.queue.bytes()
    }

    /// Takes the log events recorded so far (empty unless `record_log` was set).
    pub fn drain_log(&mut self) -> Vec<LogEvent> {
        self.log.as_mut().map(std::mem::take).unwrap_or_default()
    }

    fn clamp_now(&mut self, now_us: u64) -> u64 {
        self.latest_now_us = self.latest_now_us.max(now_us);
        self.latest_now_us
    }

    fn ms_since_start(&self, time_us: u64) -> u64 {
        (time_us - self.start_us) / 1000
    }

    fn next_opportunity_ms(&self) -> u64 {
        self.period_base_ms + self.trace.timestamps_ms()[self.next_opportunity]
    }

    fn next_opportunity_us(&self) -> u64 {
        self.start_us
            .saturating_add(self.next_opportunity_ms().saturating_mul(1000))
    }

    fn step_opportunity(&mut self) {
        self.next_opportunity += 1;
        if self.next_opportunity == self.trace.timestamps_ms().len() {
            self.next_opportunity = 0;
            self.period_base_ms += self.trace.period_ms();
        }
    }

    /// Jumps over opportunities due at or before `now_ms` that nothing could use (the queue is
    /// empty and nothing is being sent), without visiting them one by one.
    fn skip_idle_opportunities(&mut self, now_ms: u64) {
        let timestamps = self.trace.timestamps_ms();
        let period = self.trace.period_ms();
        let skipped_from = (self.period_base_ms, self.next_opportunity);
        if now_ms >= self.period_base_ms {
            let offset = now_ms - self.period_base_ms;
            let found = self.next_opportunity
                + timestamps[self.next_opportunity..].partition_point(|&t| t <= offset);
            if found < timestamps.len() {
                self.next_opportunity = found;
            } else {
                self.period_base_ms += period;
                self.next_opportunity = 0;
                if now_ms >= self.period_base_ms {
                    let whole_periods = (now_ms - self.period_base_ms) / period;
                    self.period_base_ms += whole_periods * period;
                    let offset = now_ms - self.period_base_ms;
                    self.next_opportunity = timestamps.partition_point(|&t| t <= offset);
                }
            }
        }
        // Count what was skipped: whole periods plus the change of index.
        let length = timestamps.len() as u64;
        let periods = (self.period_base_ms - skipped_from.0) / period;
        self.stats.opportunities +=
            periods * length + self.next_opportunity as u64 - skipped_from.1 as u64;
    }

    /// Runs the link up to `now_us`: moves delayed packets into the queue when their delay has
    /// passed and spends every delivery opportunity due at or before `now_us`, in time order.
    pub fn advance(&mut self, now_us: u64) {
        let now_us = self.clamp_now(now_us);
        self.run_until(now_us);
    }

    fn run_until(&mut self, now_us: u64) {
        while let Some(release_us) = self
            .pre_link
            .front()
            .map(|delayed| delayed.release_us)
            .filter(|&release_us| release_us <= now_us)
        {
            self.spend_until(release_us);
            let delayed = self
                .pre_link
                .pop_front()
                .expect("a delayed packet is waiting");
            self.admit(release_us, delayed.sent, delayed.size);
        }
        self.spend_until(now_us);
    }

    /// Spends every delivery opportunity due at or before `now_us`.
    fn spend_until(&mut self, now_us: u64) {
        let now_ms = self.ms_since_start(now_us);
        loop {
            if self.log.is_none() && self.in_transit.is_none() && self.queue.is_empty() {
                self.skip_idle_opportunities(now_ms);
                return;
            }
            let opportunity_ms = self.next_opportunity_ms();
            if opportunity_ms > now_ms {
                return;
            }
            self.spend_opportunity(opportunity_ms);
        }
    }

    fn spend_opportunity(&mut self, opportunity_ms: u64) {
        let opportunity_us = self.start_us + opportunity_ms * 1000;
        self.stats.opportunities += 1;
        if let Some(log) = &mut self.log {
            log.push(LogEvent::Opportunity {
                ms: opportunity_ms,
                bytes: OPPORTUNITY_BYTES,
            });
        }
        self.step_opportunity();
        let mut budget = OPPORTUNITY_BYTES;
        loop {
            if self.in_transit.is_none() {
                let (log, stats, start_us) = (&mut self.log, &mut self.stats, self.start_us);
                let next = self.queue.dequeue(opportunity_us, |dropped| {
                    record_drop(log, stats, start_us, opportunity_us, dropped.size, 1);
                });
                match next {
                    Some(packet) => {
                        self.in_transit = Some(InTransit {
                            bytes_left: packet.size,
                            packet,
                        })
                    }
                    None => return,
                }
            }
            let transit = self.in_transit.as_mut().expect("a packet is in transit");
            let used = budget.min(transit.bytes_left);
            transit.bytes_left -= used;
            budget -= used;
            if transit.bytes_left > 0 {
                return;
            }
            let packet = self
                .in_transit
                .take()
                .expect("a packet is in transit")
                .packet;
            self.depart(packet, opportunity_us, opportunity_ms);
            if budget == 0 {
                return;
            }
        }
    }

    fn depart(&mut self, packet: QueuedPacket<Sent<P>>, departure_us: u64, departure_ms: u64) {
        self.stats.departed_packets += 1;
        self.stats.departed_bytes += packet.size as u64;
        if let Some(log) = &mut self.log {
            let arrival_ms = (packet.arrival_us - self.start_us) / 1000;
            log.push(LogEvent::Departure {
                ms: departure_ms,
                bytes: packet.size,
                delay_ms: departure_ms - arrival_ms,
            });
        }
        let delay_after_us = if self.delay_before_link {
            0
        } else {
            self.delay_us
        };
        self.delay_line.push_back(Delivered {
            payload: packet.payload.payload,
            size: packet.size,
            sent_us: packet.payload.sent_us,
            delivered_us: departure_us.saturating_add(delay_after_us),
        });
    }

    fn link_is_on(&mut self, now_us: u64) -> bool {
        if let Some(on_off) = self.on_off {
            while self.next_switch_us <= now_us {
                self.link_on = !self.link_on;
                let mean_ms = if self.link_on {
                    on_off.mean_on_ms
                } else {
                    on_off.mean_off_ms
                };
                let duration_us = (self.on_off_rng.exponential(mean_ms) * 1000.0) as u64;
                // A zero-length phase must still move time forward.
                self.next_switch_us = self.next_switch_us.saturating_add(duration_us.max(1));
            }
            if !self.link_on {
                return false;
            }
        }
        let now_ms = self.ms_since_start(now_us);
        !self.outages.iter().any(|outage| {
            now_ms >= outage.start_ms && now_ms - outage.start_ms < outage.duration_ms
        })
    }

    /// Hands the link a packet of `size` bytes at `now_us`.
    pub fn send(&mut self, now_us: u64, payload: P, size: usize) {
        let now_us = self.clamp_now(now_us);
        self.run_until(now_us);
        self.stats.sent_packets += 1;
        self.stats.sent_bytes += size as u64;
        let sent = Sent {
            payload,
            sent_us: now_us,
        };
        if self.delay_before_link && self.delay_us > 0 {
            self.pre_link.push_back(Delayed {
                release_us: now_us.saturating_add(self.delay_us),
                sent,
                size,
            });
        } else {
            self.admit(now_us, sent, size);
        }
    }

    /// A packet reaches the link at `now_us`: outages, loss, then the queue.
    fn admit(&mut self, now_us: u64, sent: Sent<P>, size: usize) {
        if !self.link_is_on(now_us) {
            self.stats.outage_drops += 1;
            return;
        }
        if self.loss_probability > 0.0 && self.loss_rng.bernoulli(self.loss_probability) {
            self.stats.random_losses += 1;
            return;
        }
        let now_ms = self.ms_since_start(now_us);
        if let Some(log) = &mut self.log {
            log.push(LogEvent::Arrival {
                ms: now_ms,
                bytes: size,
            });
        }
        let (log, stats, start_us) = (&mut self.log, &mut self.stats, self.start_us);
        let mut dropped_packets = 0;
        let mut dropped_bytes = 0;
        self.queue.enqueue(
            QueuedPacket {
                payload: sent,
                size,
                arrival_us: now_us,
            },
            |dropped| {
                dropped_packets += 1;
                dropped_bytes += dropped.size;
            },
        );
        if dropped_packets > 0 {
            record_drop(log, stats, start_us, now_us, dropped_bytes, dropped_packets);
        }
    }

    /// The next delivered packet due at or before `now_us`, if any.
    pub fn poll_delivered(&mut self, now_us: u64) -> Option<Delivered<P>> {
        let now_us = self.clamp_now(now_us);
        self.run_until(now_us);
        if self.delay_line.front()?.delivered_us <= now_us {
            self.delay_line.pop_front()
        } else {
            None
        }
    }

    /// When something next happens without new input (a delivery, a delayed packet reaching
    /// the queue, or an opportunity that can send a waiting packet), or `None` if the link is
    /// idle.
    pub fn next_event_time(&self) -> Option<u64> {
        let delivery = self.delay_line.front().map(|packet| packet.delivered_us);
        let release = self.pre_link.front().map(|delayed| delayed.release_us);
        let opportunity = (self.in_transit.is_some() || !self.queue.is_empty())
            .then(|| self.next_opportunity_us());
        [delivery, release, opportunity].into_iter().flatten().min()
    }

    /// Packets sent but not yet in the queue because their delay comes first.
    pub fn delayed_packets(&self) -> usize {
        self.pre_link.len()
    }
}

fn record_drop(
    log: &mut Option<Vec<LogEvent>>,
    stats: &mut LinkStats,
    start_us: u64,
    now_us: u64,
    bytes: usize,
    packets: usize,
) {
    stats.queue_drops += packets as u64;
    if let Some(log) = log {
        log.push(LogEvent::Drop {
            ms: (now_us - start_us) / 1000,
            packets,
            bytes,
        });
    }
}

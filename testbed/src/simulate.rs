//! The virtual-time driver: runs links by jumping from one event to the next, so a run is
//! deterministic (given the links' seeds) and takes only the CPU time its events need.

use crate::link::{Delivered, Link, LinkConfig};

/// Which way a packet travels on a [`Path`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the client (the side that sends first) to the server: the `.up` trace.
    Uplink,
    /// From the server to the client: the `.down` trace.
    Downlink,
}

/// A two-way emulated path: one [`Link`] per direction, sharing one clock. To reproduce
/// `mm-delay D mm-link UP DOWN` exactly, give both links the delay and set
/// [`LinkConfig::delay_before_link`] on the downlink only.
#[derive(Debug)]
pub struct Path<P> {
    /// Client to server.
    pub uplink: Link<P>,
    /// Server to client.
    pub downlink: Link<P>,
}

impl<P> Path<P> {
    /// A path whose two links start at `start_us`.
    pub fn new(uplink: LinkConfig, downlink: LinkConfig, start_us: u64) -> Path<P> {
        Path {
            uplink: Link::new(uplink, start_us),
            downlink: Link::new(downlink, start_us),
        }
    }

    /// The link carrying `direction`.
    pub fn link(&mut self, direction: Direction) -> &mut Link<P> {
        match direction {
            Direction::Uplink => &mut self.uplink,
            Direction::Downlink => &mut self.downlink,
        }
    }

    /// Sends a packet in `direction` at `now_us`.
    pub fn send(&mut self, now_us: u64, direction: Direction, payload: P, size: usize) {
        self.link(direction).send(now_us, payload, size);
    }

    /// The next packet delivered at or before `now_us`, in either direction.
    pub fn poll_delivered(&mut self, now_us: u64) -> Option<(Direction, Delivered<P>)> {
        if let Some(packet) = self.uplink.poll_delivered(now_us) {
            return Some((Direction::Uplink, packet));
        }
        self.downlink
            .poll_delivered(now_us)
            .map(|packet| (Direction::Downlink, packet))
    }

    /// The earliest time either link has something to do, or `None` when both are idle.
    pub fn next_event_time(&self) -> Option<u64> {
        match (
            self.uplink.next_event_time(),
            self.downlink.next_event_time(),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Runs `link` in virtual time over a list of sends `(time_us, payload, size)` in time order
/// (out-of-order times are taken as the latest seen), until every packet is delivered or
/// dropped. Returns the deliveries in order.
pub fn run_link<P>(
    link: &mut Link<P>,
    sends: impl IntoIterator<Item = (u64, P, usize)>,
) -> Vec<Delivered<P>> {
    let mut sends = sends.into_iter().peekable();
    let mut delivered = Vec::new();
    loop {
        let next_send = sends.peek().map(|send| send.0);
        let now_us = match (next_send, link.next_event_time()) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => break,
        };
        while let Some(packet) = link.poll_delivered(now_us) {
            delivered.push(packet);
        }
        while let Some((_, payload, size)) = sends.next_if(|send| send.0 <= now_us) {
            link.send(now_us, payload, size);
        }
        while let Some(packet) = link.poll_delivered(now_us) {
            delivered.push(packet);
        }
    }
    delivered
}

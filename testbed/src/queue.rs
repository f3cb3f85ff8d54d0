//! The queue in front of the link: infinite, droptail, drophead (limited by packets and/or
//! bytes), or CoDel, as mahimahi's `--uplink-queue` / `--downlink-queue` options offer.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;

use crate::trace::OPPORTUNITY_BYTES;

/// Which queue discipline to use, and its limits. A limit of `None` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueConfig {
    /// Never drops (mahimahi's default).
    #[default]
    Infinite,
    /// Drops an arriving packet that would exceed a limit.
    DropTail {
        /// Most packets held.
        packets: Option<usize>,
        /// Most bytes held.
        bytes: Option<usize>,
    },
    /// Accepts every arriving packet, then drops from the head until the limits hold.
    DropHead {
        /// Most packets held.
        packets: Option<usize>,
        /// Most bytes held.
        bytes: Option<usize>,
    },
    /// Controlled Delay (RFC 8289): drops at dequeue when the sojourn time stays above `target`
    /// for an `interval`; arrivals beyond the limits are dropped as in droptail.
    CoDel {
        /// Acceptable standing queue delay, in milliseconds.
        target_ms: u64,
        /// Window over which the delay must stay above target before dropping, in milliseconds.
        interval_ms: u64,
        /// Most packets held.
        packets: Option<usize>,
        /// Most bytes held.
        bytes: Option<usize>,
    },
}

/// Why a queue description could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueConfigError {
    /// The discipline name is not one of infinite, droptail, drophead, codel.
    #[error("unknown queue type {0:?} (expected infinite, droptail, drophead or codel)")]
    UnknownKind(String),
    /// An argument is not `name=integer` or names an unknown parameter.
    #[error("bad queue argument {0:?} (expected packets=N, bytes=N, target=MS or interval=MS)")]
    BadArgument(String),
    /// A dropping queue was given no limit.
    #[error("a {0} queue needs a packets= or bytes= limit")]
    MissingLimit(&'static str),
}

impl FromStr for QueueConfig {
    type Err = QueueConfigError;

    /// Parses `kind[:name=value[,name=value...]]`, e.g. `droptail:packets=256`,
    /// `drophead:bytes=150000`, `codel:target=5,interval=100,packets=1000` or `infinite`.
    fn from_str(text: &str) -> Result<QueueConfig, QueueConfigError> {
        let (kind, arguments) = text.split_once(':').unwrap_or((text, ""));
        let (mut packets, mut bytes, mut target, mut interval) = (None, None, None, None);
        for argument in arguments.split(',').filter(|a| !a.is_empty()) {
            let bad = || QueueConfigError::BadArgument(argument.to_string());
            let (name, value) = argument.split_once('=').ok_or_else(bad)?;
            let value: u64 = value.trim().parse().map_err(|_| bad())?;
            let slot = match name.trim() {
                "packets" => &mut packets,
                "bytes" => &mut bytes,
                "target" => &mut target,
                "interval" => &mut interval,
                _ => return Err(bad()),
            };
            *slot = Some(value);
        }
        let limit = |value: Option<u64>| value.filter(|&v| v > 0).map(|v| v as usize);
        let (packets, bytes) = (limit(packets), limit(bytes));
        let kind = kind.trim().to_ascii_lowercase();
        let config = match kind.as_str() {
            "infinite" => QueueConfig::Infinite,
            "droptail" | "drophead" => {
                if packets.is_none() && bytes.is_none() {
                    return Err(QueueConfigError::MissingLimit(if kind == "droptail" {
                        "droptail"
                    } else {
                        "drophead"
                    }));
                }
                if kind == "droptail" {
                    QueueConfig::DropTail { packets, bytes }
                } else {
                    QueueConfig::DropHead { packets, bytes }
                }
            }
            "codel" => QueueConfig::CoDel {
                target_ms: target.unwrap_or(5),
                interval_ms: interval.unwrap_or(100),
                packets,
                bytes,
            },
            _ => return Err(QueueConfigError::UnknownKind(kind)),
        };
        Ok(config)
    }
}

impl fmt::Display for QueueConfig {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let limits =
            |formatter: &mut fmt::Formatter<'_>, packets: &Option<usize>, bytes: &Option<usize>| {
                let mut parts = Vec::new();
                if let Some(bytes) = bytes {
                    parts.push(format!("bytes={bytes}"));
                }
                if let Some(packets) = packets {
                    parts.push(format!("packets={packets}"));
                }
                write!(formatter, "{}", parts.join(","))
            };
        match self {
            QueueConfig::Infinite => write!(formatter, "infinite"),
            QueueConfig::DropTail { packets, bytes } => {
                write!(formatter, "droptail:")?;
                limits(formatter, packets, bytes)
            }
            QueueConfig::DropHead { packets, bytes } => {
                write!(formatter, "drophead:")?;
                limits(formatter, packets, bytes)
            }
            QueueConfig::CoDel {
                target_ms,
                interval_ms,
                packets,
                bytes,
            } => {
                write!(formatter, "codel:target={target_ms},interval={interval_ms}")?;
                if packets.is_some() || bytes.is_some() {
                    write!(formatter, ",")?;
                    limits(formatter, packets, bytes)?;
                }
                Ok(())
            }
        }
    }
}

/// A packet waiting in the queue.
#[derive(Debug)]
pub(crate) struct QueuedPacket<P> {
    pub payload: P,
    pub size: usize,
    /// When it reached the queue, in microseconds.
    pub arrival_us: u64,
}

/// CoDel's control state (RFC 8289 section 5 names).
#[derive(Debug, Default)]
struct CoDelState {
    first_above_time_us: u64,
    drop_next_us: u64,
    count: u32,
    last_count: u32,
    dropping: bool,
}

/// The queue itself. Dropped packets are handed to the caller's closure so it can log and count
/// them.
#[derive(Debug)]
pub(crate) struct PacketQueue<P> {
    config: QueueConfig,
    packets: VecDeque<QueuedPacket<P>>,
    bytes: usize,
    codel: CoDelState,
}

impl<P> PacketQueue<P> {
    pub fn new(config: QueueConfig) -> PacketQueue<P> {
        PacketQueue {
            config,
            packets: VecDeque::new(),
            bytes: 0,
            codel: CoDelState::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.packets.len()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    fn limits(&self) -> (Option<usize>, Option<usize>) {
        match self.config {
            QueueConfig::Infinite => (None, None),
            QueueConfig::DropTail { packets, bytes }
            | QueueConfig::DropHead { packets, bytes }
            | QueueConfig::CoDel { packets, bytes, .. } => (packets, bytes),
        }
    }

    fn fits(&self, packet_count: usize, byte_count: usize) -> bool {
        let (packets, bytes) = self.limits();
        packets.is_none_or(|limit| packet_count <= limit)
            && bytes.is_none_or(|limit| byte_count <= limit)
    }

    fn push(&mut self, packet: QueuedPacket<P>) {
        self.bytes += packet.size;
        self.packets.push_back(packet);
    }

    fn pop(&mut self) -> Option<QueuedPacket<P>> {
        let packet = self.packets.pop_front()?;
        self.bytes -= packet.size;
        Some(packet)
    }

    /// Offers an arriving packet; every packet the discipline drops (the arriving one or others)
    /// goes to `dropped`.
    pub fn enqueue(&mut self, packet: QueuedPacket<P>, mut dropped: impl FnMut(QueuedPacket<P>)) {
        match self.config {
            QueueConfig::Infinite => self.push(packet),
            QueueConfig::DropTail { .. } | QueueConfig::CoDel { .. } => {
                if self.fits(self.packets.len() + 1, self.bytes + packet.size) {
                    self.push(packet);
                } else {
                    dropped(packet);
                }
            }
            QueueConfig::DropHead { .. } => {
                self.push(packet);
                while !self.fits(self.packets.len(), self.bytes) {
                    match self.pop() {
                        Some(head) => dropped(head),
                        None => break,
                    }
                }
            }
        }
    }

    /// Takes the next packet to transmit at `now_us`; CoDel may drop packets on the way.
    pub fn dequeue(
        &mut self,
        now_us: u64,
        dropped: impl FnMut(QueuedPacket<P>),
    ) -> Option<QueuedPacket<P>> {
        match self.config {
            QueueConfig::CoDel {
                target_ms,
                interval_ms,
                ..
            } => self.codel_dequeue(now_us, target_ms * 1000, interval_ms * 1000, dropped),
            _ => self.pop(),
        }
    }

    /// Pops the head and says whether CoDel may drop it (its sojourn has stayed above target for
    /// at least an interval).
    fn codel_pop(
        &mut self,
        now_us: u64,
        target_us: u64,
        interval_us: u64,
    ) -> Option<(QueuedPacket<P>, bool)> {
        let Some(packet) = self.pop() else {
            self.codel.first_above_time_us = 0;
            return None;
        };
        let sojourn_us = now_us.saturating_sub(packet.arrival_us);
        let mut ok_to_drop = false;
        if sojourn_us < target_us || self.bytes <= OPPORTUNITY_BYTES {
            self.codel.first_above_time_us = 0;
        } else if self.codel.first_above_time_us == 0 {
            self.codel.first_above_time_us = now_us + interval_us;
        } else if now_us >= self.codel.first_above_time_us {
            ok_to_drop = true;
        }
        Some((packet, ok_to_drop))
    }

    fn codel_control_law(time_us: u64, interval_us: u64, count: u32) -> u64 {
        time_us + (interval_us as f64 / f64::from(count.max(1)).sqrt()) as u64
    }

    fn codel_dequeue(
        &mut self,
        now_us: u64,
        target_us: u64,
        interval_us: u64,
        mut dropped: impl FnMut(QueuedPacket<P>),
    ) -> Option<QueuedPacket<P>> {
        let Some((mut packet, mut ok_to_drop)) = self.codel_pop(now_us, target_us, interval_us)
        else {
            self.codel.dropping = false;
            return None;
        };
        if self.codel.dropping {
            if !ok_to_drop {
                self.codel.dropping = false;
            }
            while self.codel.dropping && now_us >= self.codel.drop_next_us {
                dropped(packet);
                self.codel.count += 1;
                match self.codel_pop(now_us, target_us, interval_us) {
                    None => {
                        self.codel.dropping = false;
                        return None;
                    }
                    Some((next, next_ok)) => {
                        packet = next;
                        ok_to_drop = next_ok;
                    }
                }
                if ok_to_drop {
                    self.codel.drop_next_us = Self::codel_control_law(
                        self.codel.drop_next_us,
                        interval_us,
                        self.codel.count,
                    );
                } else {
                    self.codel.dropping = false;
                }
            }
        } else if ok_to_drop {
            dropped(packet);
            let (next, _) = self.codel_pop(now_us, target_us, interval_us)?;
            packet = next;
            self.codel.dropping = true;
            let delta = self.codel.count.wrapping_sub(self.codel.last_count);
            self.codel.count =
                if delta > 1 && now_us.saturating_sub(self.codel.drop_next_us) < 16 * interval_us {
                    delta
                } else {
                    1
                };
            self.codel.drop_next_us =
                Self::codel_control_law(now_us, interval_us, self.codel.count);
            self.codel.last_count = self.codel.count;
        }
        Some(packet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(id: u32, size: usize, arrival_us: u64) -> QueuedPacket<u32> {
        QueuedPacket {
            payload: id,
            size,
            arrival_us,
        }
    }

    #[test]
    fn parses_mahimahi_style_descriptions() {
        assert_eq!(
            "droptail:packets=256".parse(),
            Ok(QueueConfig::DropTail {
                packets: Some(256),
                bytes: None
            })
        );
        assert_eq!(
            "drophead:bytes=3000,packets=4".parse(),
            Ok(QueueConfig::DropHead {
                packets: Some(4),
                bytes: Some(3000)
            })
        );
        assert_eq!(
            "codel:target=10".parse(),
            Ok(QueueConfig::CoDel {
                target_ms: 10,
                interval_ms: 100,
                packets: None,
                bytes: None
            })
        );
        assert_eq!("infinite".parse(), Ok(QueueConfig::Infinite));
        assert!(matches!(
            "red".parse::<QueueConfig>(),
            Err(QueueConfigError::UnknownKind(_))
        ));
        assert!(matches!(
            "droptail".parse::<QueueConfig>(),
            Err(QueueConfigError::MissingLimit("droptail"))
        ));
        assert!(matches!(
            "droptail:packets=x".parse::<QueueConfig>(),
            Err(QueueConfigError::BadArgument(_))
        ));
        assert!(matches!(
            "droptail:size=3".parse::<QueueConfig>(),
            Err(QueueConfigError::BadArgument(_))
        ));
        for text in [
            "droptail:packets=256",
            "drophead:bytes=9",
            "codel:target=5,interval=100,packets=7",
        ] {
            assert_eq!(text.parse::<QueueConfig>().unwrap().to_string(), text);
        }
    }

    #[test]
    fn droptail_drops_arrivals_drophead_drops_oldest() {
        let mut tail = PacketQueue::new(QueueConfig::DropTail {
            packets: Some(2),
            bytes: None,
        });
        let mut dropped = Vec::new();
        for id in 0..4 {
            tail.enqueue(packet(id, 100, 0), |p| dropped.push(p.payload));
        }
        assert_eq!(dropped, vec![2, 3]);
        assert_eq!(tail.dequeue(0, |_| {}).unwrap().payload, 0);

        let mut head = PacketQueue::new(QueueConfig::DropHead {
            packets: None,
            bytes: Some(250),
        });
        let mut dropped = Vec::new();
        for id in 0..4 {
            head.enqueue(packet(id, 100, 0), |p| dropped.push(p.payload));
        }
        assert_eq!(dropped, vec![0, 1]);
        assert_eq!(head.bytes(), 200);
        assert_eq!(head.dequeue(0, |_| {}).unwrap().payload, 2);
    }

    #[test]
    fn codel_drops_after_an_interval_above_target() {
        let mut queue = PacketQueue::new(QueueConfig::CoDel {
            target_ms: 5,
            interval_ms: 100,
            packets: None,
            bytes: None,
        });
        // A standing queue: 400 packets all arrived at time 0, drained one per millisecond.
        for id in 0..400 {
            queue.enqueue(packet(id, 1500, 0), |_| panic!("no limit"));
        }
        let mut dropped = Vec::new();
        let mut delivered = Vec::new();
        for ms in 0..250u64 {
            if let Some(p) = queue.dequeue(ms * 1000, |p| dropped.push((ms, p.payload))) {
                delivered.push(p.payload);
            }
        }
        // Sojourn is above target from 5 ms on; the first drop comes one interval later.
        // The next one an interval after that (count 1), the one after 100/sqrt(2) ms later.
        let drop_times: Vec<u64> = dropped.iter().map(|&(ms, _)| ms).collect();
        assert_eq!(drop_times, vec![105, 205], "{dropped:?}");
        assert_eq!(delivered.len() + dropped.len() + queue.len(), 400);
    }
}

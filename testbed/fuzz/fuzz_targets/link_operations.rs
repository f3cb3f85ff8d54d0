//! Random configurations and operations on a link: it never panics, delivers in order, never
//! delivers before the delay has passed, accounts for every packet, and behaves the same whether
//! or not it records a log (recording visits every opportunity; not recording skips idle ones).
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use testbed::{Link, LinkConfig, OnOff, Outage, QueueConfig, Trace};

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let (header, operations) = data.split_at(8);
    let timestamps: Vec<u64> = header[..3]
        .iter()
        .scan(0u64, |time, &step| {
            *time += u64::from(step % 8);
            Some(*time)
        })
        .collect();
    let Ok(trace) = Trace::from_timestamps("fuzz", timestamps) else {
        return;
    };
    let mut config = LinkConfig::new(Arc::new(trace));
    let limit = usize::from(header[4] % 8);
    config.queue = match header[3] % 4 {
        0 => QueueConfig::Infinite,
        1 => QueueConfig::DropTail {
            packets: Some(limit + 1),
            bytes: None,
        },
        2 => QueueConfig::DropHead {
            packets: None,
            bytes: Some(limit * 1000 + 1),
        },
        _ => QueueConfig::CoDel {
            target_ms: u64::from(header[4] % 10),
            interval_ms: u64::from(header[5] % 50) + 1,
            packets: None,
            bytes: None,
        },
    };
    config.delay_us = u64::from(header[5]) * 100;
    config.loss_probability = f64::from(header[6] % 4) / 10.0;
    if header[7] & 1 == 1 {
        config.on_off = Some(OnOff {
            mean_on_ms: f64::from(header[7]),
            mean_off_ms: 5.0,
        });
    }
    if header[7] & 2 == 2 {
        config.outages = vec![Outage {
            start_ms: 3,
            duration_ms: 4,
        }];
    }
    config.delay_before_link = header[7] & 8 == 8;
    let delay_us = config.delay_us;
    config.record_log = true;
    let mut logged: Link<u64> = Link::new(config.clone(), 1000);
    config.record_log = false;
    let mut link: Link<u64> = Link::new(config, 1000);
    let mut now = 1000u64;
    let mut delivered = 0u64;
    let mut last_delivery = 0u64;
    for (index, pair) in operations.chunks(2).enumerate() {
        let step = u64::from(pair[0]);
        now += step * 37;
        if pair.len() == 2 && pair[1] < 200 {
            link.send(now, index as u64, usize::from(pair[1]) * 16);
            logged.send(now, index as u64, usize::from(pair[1]) * 16);
        }
        while let Some(packet) = link.poll_delivered(now) {
            assert_eq!(logged.poll_delivered(now), Some(packet.clone()));
            assert!(packet.delivered_us <= now);
            assert!(packet.delivered_us >= packet.sent_us + delay_us);
            assert!(packet.delivered_us >= last_delivery);
            last_delivery = packet.delivered_us;
            delivered += 1;
        }
        assert_eq!(logged.poll_delivered(now), None);
        if let Some(next) = link.next_event_time() {
            assert!(next > now);
        }
        assert_eq!(link.next_event_time(), logged.next_event_time());
        let _ = logged.drain_log();
    }
    let stats = link.stats();
    assert_eq!(stats, logged.stats());
    let accounted = stats.outage_drops
        + stats.random_losses
        + stats.queue_drops
        + stats.departed_packets
        + link.queued_packets() as u64
        + link.delayed_packets() as u64;
    // One packet may be part-way through the link.
    assert!(accounted == stats.sent_packets || accounted + 1 == stats.sent_packets);
    assert!(delivered <= stats.departed_packets);
});

//! How many packets per CPU-second the virtual-time link core moves.
//!
//! Runs a loaded link (droptail queue of 256 packets, 20 ms delay, 1 % loss, a trace with 8
//! opportunities per ms, 12 032 bytes/ms, offered 12.5 packets of 1000 bytes per ms, so the queue
//! fills and drops) through the virtual-time driver, and, as the floor for comparison, the same packets
//! through a bare `VecDeque` FIFO. Prints packets per CPU-second for both and their ratio.
//! Run with `cargo bench -p testbed`.

use std::collections::VecDeque;
use std::hint::black_box;
use std::sync::Arc;

use testbed::{run_link, Link, LinkConfig, QueueConfig, Trace};

const PACKETS: u64 = 4_000_000;

fn cpu_seconds() -> f64 {
    let mut time = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut time) };
    assert_eq!(status, 0, "clock_gettime failed");
    time.tv_sec as f64 + time.tv_nsec as f64 * 1e-9
}

fn emulate() -> (u64, usize) {
    let mut config = LinkConfig::new(Arc::new(Trace::constant(8, 1000)));
    config.queue = QueueConfig::DropTail {
        packets: Some(256),
        bytes: None,
    };
    config.delay_us = 20_000;
    config.loss_probability = 0.01;
    config.seed = 42;
    let mut link = Link::new(config, 0);
    // 12.5 packets per millisecond, 80 µs apart.
    let sends = (0..PACKETS).map(|index| (index * 80, index, 1000));
    let delivered = run_link(&mut link, sends);
    (link.stats().sent_packets, delivered.len())
}

fn bare_fifo() -> usize {
    let mut fifo = VecDeque::new();
    let mut moved = 0;
    for index in 0..PACKETS {
        fifo.push_back((index * 80, index, 1000usize));
        if fifo.len() > 256 {
            moved += black_box(fifo.pop_front()).is_some() as usize;
        }
    }
    moved + fifo.len()
}

fn main() {
    let start = cpu_seconds();
    let (sent, delivered) = black_box(emulate());
    let emulator_seconds = cpu_seconds() - start;
    let start = cpu_seconds();
    let moved = black_box(bare_fifo());
    let fifo_seconds = cpu_seconds() - start;

    let emulator_rate = sent as f64 / emulator_seconds;
    let fifo_rate = moved as f64 / fifo_seconds;
    println!(
        "link core (virtual time): {sent} packets sent, {delivered} delivered in {emulator_seconds:.3} CPU-s = {:.2} M packets per CPU-second",
        emulator_rate / 1e6
    );
    println!(
        "bare VecDeque FIFO:       {moved} packets in {fifo_seconds:.3} CPU-s = {:.2} M packets per CPU-second",
        fifo_rate / 1e6
    );
    println!(
        "link core / bare FIFO speed ratio: {:.3}",
        emulator_rate / fifo_rate
    );
}

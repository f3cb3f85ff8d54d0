//! A link run logged in mahimahi's format, read back, analysed and plotted.

mod common;

use std::sync::Arc;

use testbed::mahimahi_log::{analyze, read_log, write_event, write_header};
use testbed::plot::write_plots;
use testbed::{run_link, Link, LinkConfig, QueueConfig, Trace};

/// Counts near-black pixels (every channel below 100) in the given rows of an 8-bit RGB or RGBA
/// PNG.
fn dark_pixels(png_bytes: &[u8], rows: std::ops::Range<usize>) -> usize {
    let mut reader = png::Decoder::new(png_bytes)
        .read_info()
        .expect("PNG header");
    let mut pixels = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut pixels).expect("PNG data");
    let channels = match frame.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    assert_eq!(frame.bit_depth, png::BitDepth::Eight);
    pixels
        .chunks(frame.line_size)
        .take(rows.end)
        .skip(rows.start)
        .flat_map(|row| row.chunks(channels))
        .filter(|pixel| pixel[..3].iter().all(|&channel| channel < 100))
        .count()
}

#[test]
fn logged_run_analyses_like_mm_throughput_graph_and_plots() {
    // 2 opportunities per ms (24.064 Mbit/s) for 2 s; a 1000-byte packet every 100 µs
    // (80 Mbit/s) for the first second into a 100-packet droptail queue, then silence.
    let mut config = LinkConfig::new(Arc::new(Trace::constant(2, 2000)));
    config.queue = QueueConfig::DropTail {
        packets: Some(100),
        bytes: None,
    };
    config.record_log = true;
    let mut link = Link::new(config.clone(), 0);
    let sends = (0..10_000u64).map(|index| (index * 100, index, 1000));
    let delivered = run_link(&mut link, sends);
    link.advance(2_000_000);
    let stats = link.stats();
    assert_eq!(stats.departed_packets as usize, delivered.len());
    assert!(stats.queue_drops > 0);

    let dir = common::temp_dir("log-and-plots");
    let log_path = dir.join("uplink.log");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&log_path).unwrap());
    write_header(&mut file, "uplink", "constant", &config.queue, "test").unwrap();
    for event in link.drain_log() {
        write_event(&mut file, &event).unwrap();
    }
    drop(file);

    let events = read_log(&log_path).expect("our own log parses");
    let analysis = analyze(&events, 100).expect("the log can be analysed");
    // Capacity over the 2 s the log spans.
    assert!(
        (analysis.average_capacity_mbps - 24.064).abs() < 0.05,
        "{}",
        analysis.average_capacity_mbps
    );
    // Throughput: every departed byte over the span.
    let expected_throughput = stats.departed_bytes as f64 * 8.0 / 2.0 / 1e6;
    assert!((analysis.average_throughput_mbps - expected_throughput).abs() < 0.05);
    assert_eq!(analysis.dropped_packets, stats.queue_drops);
    // The queue is full while overloaded: 100 packets of 1000 bytes drain at 3008 bytes/ms,
    // about 33 ms of queueing.
    assert!(
        (31.0..=35.0).contains(&analysis.p95_packet_delay_ms),
        "{}",
        analysis.p95_packet_delay_ms
    );

    if let Err(error) = testbed::plot::png_font() {
        panic!("PNG plots need a font to carry text: {error}");
    }
    let outputs = write_plots(&analysis, &dir.join("uplink")).expect("plots are drawn");
    assert_eq!(outputs.len(), 4);
    for output in &outputs {
        let bytes = std::fs::read(output).expect("plot written");
        match output.extension().and_then(|e| e.to_str()) {
            Some("png") => {
                assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
                // The caption sits between the 20-pixel margin and the chart: without text
                // that band holds nothing darker than the grid and the curves.
                let dark = dark_pixels(&bytes, 22..40);
                assert!(
                    dark > 100,
                    "{}: only {dark} dark pixels where the caption goes",
                    output.display()
                );
            }
            Some("svg") => {
                let text = String::from_utf8(bytes).unwrap();
                assert!(text.contains("<svg") && text.contains("time (s)"));
            }
            other => panic!("unexpected output {other:?}"),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

//! Any text either parses as a mahimahi link log or gives a typed error; a parsed log is
//! analysed without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use testbed::LogEvent;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(events) = testbed::mahimahi_log::parse_log(text, "fuzz") else {
        return;
    };
    let time = |event: &LogEvent| match *event {
        LogEvent::Arrival { ms, .. }
        | LogEvent::Departure { ms, .. }
        | LogEvent::Opportunity { ms, .. }
        | LogEvent::Drop { ms, .. } => ms,
    };
    // Keep runs fast: analysis samples every millisecond of the span.
    let span =
        events.iter().map(time).max().unwrap_or(0) - events.iter().map(time).min().unwrap_or(0);
    if span <= 100_000 {
        let _ = testbed::mahimahi_log::analyze(&events, 1 + span % 1000);
    }
});

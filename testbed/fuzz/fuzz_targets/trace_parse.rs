//! Any text either parses into a valid trace or gives a typed error; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(trace) = testbed::Trace::parse(text, "fuzz") {
        let timestamps = trace.timestamps_ms();
        assert!(!timestamps.is_empty());
        assert!(timestamps.windows(2).all(|pair| pair[0] <= pair[1]));
        assert!(trace.period_ms() > 0);
    }
});

//! Any text as a duration option (`--duration`, `--rotate-every`): errors,
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracer::cli::parse_duration;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = parse_duration(text) {
        // A deadline that far must exist (this add panics on overflow).
        let _ = std::time::Instant::now() + d;
    }
});

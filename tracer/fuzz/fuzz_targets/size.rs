//! Any text as a size option (`--rotate-size`, `--max-size`,
//! `--max-total`, `--ring-buffer-size`): errors, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracer::cli::{parse_log_size, parse_ring_size, parse_size};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_size(text);
    let _ = parse_log_size(text);
    let _ = parse_ring_size(text);
});

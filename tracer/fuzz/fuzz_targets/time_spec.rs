//! Any text as `--since`/`--until`: parsing, and resolving what parses
//! against logs of any clock and start (a log's header is input too), must
//! return errors, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracer::model::{
    clock::WallClock,
    window::{TimeSpec, Window},
};

fuzz_target!(|data: &[u8]| {
    // clap hands FromStr parsers UTF-8 only.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(spec) = text.parse::<TimeSpec>() else {
        return;
    };
    let _ = spec.to_string();
    // Headers hold the boot epoch as i64 ns and the start as u64 ns.
    for epoch in [0, 1_795_748_296_000_000_000, i64::MIN, i64::MAX] {
        let clock = WallClock {
            boot_epoch_ns: i128::from(epoch),
        };
        for start in [0, 1_000_000_000, u64::MAX] {
            let _ = spec.resolve(clock, start);
            let _ = Window::resolve(Some(&spec), Some(&spec), clock, start);
        }
    }
});

//! Any bytes, as a log file and as a single ring-buffer record: reading and
//! decoding must return errors, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracer::{
    log::reader::{Item, LogReader},
    model::decode::decode,
};

fuzz_target!(|data: &[u8]| {
    let _ = decode(data);
    if let Ok((_, mut reader)) = LogReader::from_bytes(data.to_vec()) {
        while let Some(item) = reader.next() {
            if let Ok(Item::Event(raw)) = item {
                let _ = decode(raw);
            }
        }
    }
});

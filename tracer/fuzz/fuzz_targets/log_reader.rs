//! Any bytes, as a log file and as a single ring-buffer record: reading and
//! decoding must return errors, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracer::{
    decode::decode,
    log::{
        self,
        reader::{Item, LogReader},
    },
};

fuzz_target!(|data: &[u8]| {
    let _ = decode(data);
    if let Ok((_, mut reader)) = LogReader::from_bytes(data.to_vec()) {
        let mut full = log::expand_buffer();
        while let Some(item) = reader.next() {
            if let Ok(Item::Event(stored)) = item {
                let _ = decode(log::expand(stored, &mut full));
            }
        }
    }
});

#![no_std]
// This file exists so that `cargo` treats the crate as a library as well; the
// programs live in the `tracer` binary target (src/main.rs).

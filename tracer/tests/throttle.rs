//! Bad `--throttle` values: usage errors in one sentence. No root; the live
//! tests are in `live/throttle.rs` and `live_host/throttle_host.rs`.

mod common;

use common::*;

#[test]
fn bad_throttle_values_exit_2_with_one_sentence() {
    for args in [
        ["record", "-o", "/dev/null", "--throttle", "fast"],
        ["record", "-o", "/dev/null", "--throttle", "0/s"],
        ["trace", "--throttle-total", "10/m", "--duration", "1s"],
    ] {
        let (code, _, err) = run_tracer(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("is not a rate"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

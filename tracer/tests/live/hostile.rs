//! Hostile inputs: devices, FIFOs, sparse files and crafted logs get a clear
//! error or are read with bounded work, never hang or exhaust the machine.
//! (Time and memory bounds are measured by `cargo xtask bench`, not here.)

use crate::common::*;

#[test]
fn a_bad_btf_file_is_refused_without_reading() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("btf-fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    for btf in ["/dev/zero", fifo.to_str().unwrap()] {
        let out = run_bounded(&["trace", "--btf", btf, "--duration", "1s"]);
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "{btf}: {err}");
        assert!(err.contains("not a regular file"), "{btf}: {err}");
    }
}

//! The guest's serial console and the `@@tracer-vm` marker protocol on it:
//! `init.sh` writes the marks, `qemu.rs` captures the console (and watches
//! for the first mark), `results.rs` reads the marks into results.
//!
//! Marks (kernel messages may share a line with one, so a mark may be
//! anywhere in it):
//! - `@@tracer-vm uname RELEASE`, `machine M`, `uptime S`: the guest's /init ran;
//! - `@@tracer-vm module NAME.ko ok|FAILED`, `probe NOTE`;
//! - `@@tracer-vm tests-begin`, `begin BINARY::TEST`, `out LINE`, `done`;
//! - `@@tracer-vm-result BINARY::TEST ok|FAILED|skip REASON`.

/// The console, line by line, each with seconds since QEMU started.
pub(crate) struct Console {
    pub(crate) lines: Vec<(f64, String)>,
    pub(crate) timed_out: bool,
    /// Seconds from QEMU's start to its end.
    pub(crate) elapsed: f64,
}

const MARK: &str = "@@tracer-vm ";
const RESULT: &str = "@@tracer-vm-result ";

/// What follows `@@tracer-vm-result ` in `line` (kernel messages can share
/// a line with ours: it may be anywhere in it).
pub(crate) fn after_result(line: &str) -> Option<&str> {
    line.find(RESULT).map(|i| &line[i + RESULT.len()..])
}

/// What follows `@@tracer-vm ` in `line`, wherever it is in it.
pub(crate) fn after_mark(line: &str) -> Option<&str> {
    line.find(MARK).map(|i| &line[i + MARK.len()..])
}

/// The kernel release in the guest's first mark, `@@tracer-vm uname <release>`.
pub(crate) fn uname(line: &str) -> Option<&str> {
    after_mark(line)?.strip_prefix("uname ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_marks_anywhere_in_a_line() {
        let line = "[  1.0] msg @@tracer-vm uname 6.1.0-50-cloud-amd64";
        assert_eq!(uname(line), Some("6.1.0-50-cloud-amd64"));
        assert_eq!(after_result(line), None);
        let line = "[  9.1] msg @@tracer-vm-result trace::b FAILED";
        assert_eq!(after_result(line), Some("trace::b FAILED"));
        assert_eq!(after_mark(line), None);
        assert_eq!(uname("@@tracer-vm tests-begin"), None);
    }
}

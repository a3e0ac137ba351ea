//! Event frames store kernel records compactly: string space past the used
//! lengths cleared (the kernel leaves it as the ring held it), trailing
//! zeros dropped. The writer compacts and the reader expands; nothing
//! outside the log layer knows.

use tracer_common::{
    EventKind, ExecEvent, ExecFailedEvent, Header, HelperRequestEvent, FORMAT_VERSION,
};

/// The largest kernel record.
pub(super) const MAX_RECORD: usize = 1024;
const _: () = {
    let mut i = 0;
    while i < EventKind::ALL.len() {
        assert!(EventKind::ALL[i].record_size() <= MAX_RECORD);
        i += 1;
    }
};

/// A kernel record as stored: string space past the used lengths cleared
/// (the kernel leaves it as the ring held it), trailing zeros dropped.
pub(super) fn compact<'a>(raw: &[u8], scratch: &'a mut Vec<u8>) -> &'a [u8] {
    scratch.clear();
    scratch.extend_from_slice(raw);
    let clear = |buf: &mut Vec<u8>, at: usize, used: usize, cap: usize| {
        buf[at + used.min(cap)..at + cap].fill(0);
    };
    let current = Header::peek_version(raw) == Some(FORMAT_VERSION);
    match Header::peek_kind(raw) {
        Some(EventKind::Exec) if current && raw.len() == size_of::<ExecEvent>() => {
            if let Some(e) = tracer_common::read_plain::<ExecEvent>(raw) {
                let name_at = core::mem::offset_of!(ExecEvent, filename);
                let args_at = core::mem::offset_of!(ExecEvent, args);
                clear(
                    scratch,
                    name_at,
                    usize::from(e.filename_len),
                    e.filename.len(),
                );
                clear(scratch, args_at, usize::from(e.args_len), e.args.len());
            }
        }
        Some(EventKind::HelperRequest)
            if current && raw.len() == size_of::<HelperRequestEvent>() =>
        {
            if let Some(e) = tracer_common::read_plain::<HelperRequestEvent>(raw) {
                let path_at = core::mem::offset_of!(HelperRequestEvent, path);
                clear(scratch, path_at, usize::from(e.path_len), e.path.len());
            }
        }
        Some(EventKind::ExecFailed) if current && raw.len() == size_of::<ExecFailedEvent>() => {
            if let Some(e) = tracer_common::read_plain::<ExecFailedEvent>(raw) {
                let at = core::mem::offset_of!(ExecFailedEvent, filename);
                clear(scratch, at, usize::from(e.filename_len), e.filename.len());
            }
        }
        _ => {}
    }
    let end = scratch.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    &scratch[..end]
}

/// A stored record back at its full size: zeros restored up to the size of
/// its kind (unknown kinds and oversized records are left as they are, for
/// the decoder to reject).
pub(super) fn expand<'a>(stored: &'a [u8], scratch: &'a mut [u8; MAX_RECORD]) -> &'a [u8] {
    let size = match (Header::peek_version(stored), Header::peek_kind(stored)) {
        (Some(version), Some(kind)) => kind.record_size_in(version).unwrap_or(0),
        _ => 0,
    };
    if stored.len() >= size {
        return stored;
    }
    scratch[..stored.len()].copy_from_slice(stored);
    scratch[stored.len()..size].fill(0);
    &scratch[..size]
}

/// Scratch space for [`expand`].
pub(super) fn expand_buffer() -> Box<[u8; MAX_RECORD]> {
    Box::new([0; MAX_RECORD])
}

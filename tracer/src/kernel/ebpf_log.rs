//! Messages from the eBPF programs (aya-log), printed to stderr. The
//! programs log only rare conditions the user should know about, never per
//! event.

use aya::Ebpf;
use aya_log::EbpfLogger;

struct Stderr;

impl log::Log for Stderr {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        crate::say!(
            "tracer: kernel {}: {}",
            record.level().as_str().to_lowercase(),
            record.args()
        );
    }

    fn flush(&self) {}
}

pub type KernelLogger = EbpfLogger<&'static dyn log::Log>;

/// The reader of the programs' log ring (`None` if the object has none).
pub fn init(ebpf: &mut Ebpf) -> Option<KernelLogger> {
    static STDERR: Stderr = Stderr;
    EbpfLogger::init_with_logger(ebpf, &STDERR as &'static dyn log::Log).ok()
}

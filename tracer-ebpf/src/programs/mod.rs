//! One program per tracepoint, and its rescue twin (see `nesting`). All
//! are `tp_btf` programs: they need no tracefs and receive the
//! tracepoint's raw arguments (typed pointers), which keeps them
//! independent of the classic tracepoint record layouts.

/// Defines a tracepoint's program and its rescues around one body,
/// `$body(&ctx) -> i32`, named as `EventKind::program` and
/// `EventKind::rescue_programs`. (`tt` fragments reach the attribute macro
/// as plain tokens.)
macro_rules! programs {
    ($tracepoint:tt, $kind:expr, $first:ident, $body:ident, $($level:literal => $rescue:ident),+) => {
        #[aya_ebpf::macros::btf_tracepoint(function = $tracepoint)]
        pub(crate) fn $first(ctx: aya_ebpf::programs::BtfTracePointContext) -> i32 {
            crate::nesting::first($kind, || $body(&ctx))
        }

        $(
            #[aya_ebpf::macros::btf_tracepoint(function = $tracepoint)]
            pub(crate) fn $rescue(ctx: aya_ebpf::programs::BtfTracePointContext) -> i32 {
                crate::nesting::rescue($kind, $level, || $body(&ctx))
            }
        )+
    };
}

// The invocations name every rescue level.
const _: () = assert!(tracer_common::RESCUES == 2);

mod exec;
mod exec_failed;
mod exit;
mod fork;
mod helper_request;
mod kthread;
mod rename;
mod signal;

use aya_ebpf::helpers::{bpf_get_current_pid_tgid, bpf_get_current_task, bpf_get_current_task_btf};
use tracer_common::{EventKind, KernelFeatures};

use crate::{globals::offset, kread::Kptr};

/// The running task's `task_struct`: BTF-typed where the kernel has
/// `bpf_get_current_task_btf` (5.11+), so its fields load directly; else a
/// plain address read through the probe helper.
#[inline(always)]
fn current_task(features: &KernelFeatures) -> Kptr {
    if features.current_task_btf != 0 {
        // SAFETY: a plain helper call; the result is only read through Kptr.
        Kptr::btf(unsafe { bpf_get_current_task_btf() } as *const u8)
    } else {
        // SAFETY: as above.
        Kptr::new(unsafe { bpf_get_current_task() } as *const u8, false)
    }
}

/// The current task's thread group id.
#[inline(always)]
fn current_tgid() -> u32 {
    (bpf_get_current_pid_tgid() >> 32) as u32
}

/// Whether the current task has `pid` as its pid or tgid.
#[inline(always)]
fn current_is(pid: u32) -> bool {
    let id = bpf_get_current_pid_tgid();
    id as u32 == pid || (id >> 32) as u32 == pid
}

/// Whether `task` has `pid` as its pid or tgid.
#[inline(always)]
fn task_is(task: Kptr, pid: u32) -> bool {
    task.read::<u32>(offset!(task_pid)) == pid || task.read::<u32>(offset!(task_tgid)) == pid
}

/// Test hook: when the loader asked for `kind`'s program to be refused,
/// take a path the verifier rejects (a load through a plain number, as
/// 7.2.9 rejects loads through the siginfo argument). The branch is dead
/// code to the verifier unless asked for.
#[inline(always)]
fn refuse_if_asked(features: &KernelFeatures, kind: EventKind) {
    if features.refuses(kind) {
        // SAFETY: a plain helper call with no arguments.
        let addr = unsafe { aya_ebpf::helpers::bpf_ktime_get_ns() };
        // SAFETY: never runs: the verifier refuses any program that reaches
        // this load, which is its purpose.
        let _ = unsafe { core::ptr::read_volatile(addr as *const u64) };
    }
}

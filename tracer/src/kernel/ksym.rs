//! One kernel symbol's address without reading all of /proc/kallsyms: a
//! tiny `BPF_PROG_TYPE_SYSCALL` program (5.16+), run once, asks the
//! kernel's `bpf_kallsyms_lookup_name`. The kernel formats the whole table
//! for a read of /proc/kallsyms, about 30 ms of CPU at every start-up; this
//! takes well under one. The helper makes the same check as the file
//! (`kptr_restrict`, CAP_SYSLOG).
//!
//! `None` wherever it cannot answer (an older kernel, hidden addresses, no
//! such symbol): the caller then reads /proc/kallsyms, which also tells
//! why.

use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};

use crate::kernel::probe::{
    insn, Insn, ProgLoadAttr, BPF_PROG_LOAD, CALL, EXIT, LDX_DW, MOV64_IMM,
};

const BPF_PROG_TEST_RUN: libc::c_long = 10;
const BPF_PROG_TYPE_SYSCALL: u32 = 31;
/// Syscall programs must be sleepable.
const BPF_F_SLEEPABLE: u32 = 1 << 4;
const BPF_FUNC_KALLSYMS_LOOKUP_NAME: i32 = 179;

const LD_IMM64: u8 = 0x18; // BPF_LD | BPF_DW | BPF_IMM, two slots
const STX_DW: u8 = 0x7b; // BPF_STX | BPF_MEM | BPF_DW
const ST_DW: u8 = 0x7a; // BPF_ST | BPF_MEM | BPF_DW
const MOV64_REG: u8 = 0xbf; // BPF_ALU64 | BPF_MOV | BPF_X
const ADD64_IMM: u8 = 0x07; // BPF_ALU64 | BPF_ADD | BPF_K

/// Longest name the program takes on its stack (the kernel's
/// `KSYM_NAME_LEN` is 512 with the NUL).
const MAX_NAME: usize = 255;

/// `union bpf_attr` for `BPF_PROG_TEST_RUN`, every byte a named field.
#[repr(C)]
#[derive(Default)]
struct TestRunAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
    batch_size: u32,
    pad: u32,
}

const _: () = assert!(size_of::<TestRunAttr>() == 80);

/// What the program writes back into its context.
#[repr(C)]
#[derive(Default)]
struct Answer {
    addr: u64,
    /// The helper's return: 0, or a negative errno.
    ret: i64,
}

/// `name`'s address in the running kernel, when this kernel can say so
/// through BPF (see the module's doc).
pub fn lookup(name: &str) -> Option<u64> {
    if name.is_empty() || name.len() > MAX_NAME || name.contains('\0') {
        return None;
    }
    let prog = load(&program(name))?;
    let mut answer = Answer::default();
    let mut attr = TestRunAttr {
        prog_fd: prog.as_raw_fd() as u32,
        ctx_size_in: size_of::<Answer>() as u32,
        ctx_in: &raw mut answer as u64,
        ..TestRunAttr::default()
    };
    // SAFETY: `attr` is a valid BPF_PROG_TEST_RUN attr; the kernel copies
    // the context in from and back out to `answer`, which outlives the call.
    let ran = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_TEST_RUN,
            &raw mut attr,
            size_of::<TestRunAttr>() as u32,
        )
    };
    (ran == 0 && attr.retval == 0 && answer.ret == 0 && answer.addr != 0).then_some(answer.addr)
}

/// The program: the name on its stack, the helper's address and return
/// value stored into the context.
fn program(name: &str) -> Vec<Insn> {
    let mut bytes = name.as_bytes().to_vec();
    bytes.push(0);
    let name_size = bytes.len() as i32;
    bytes.resize(bytes.len().div_ceil(8) * 8, 0);
    let at = -(bytes.len() as i16);
    let res = at - 8;
    let mut p = vec![insn(MOV64_REG, 6, 1, 0, 0)];
    for (i, chunk) in bytes.chunks_exact(8).enumerate() {
        let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        p.push(insn(LD_IMM64, 1, 0, 0, word as u32 as i32));
        p.push(insn(0, 0, 0, 0, (word >> 32) as u32 as i32));
        p.push(insn(STX_DW, 10, 1, at + 8 * i as i16, 0));
    }
    p.extend([
        insn(ST_DW, 10, 0, res, 0),
        // bpf_kallsyms_lookup_name(name, size, 0, &res)
        insn(MOV64_REG, 1, 10, 0, 0),
        insn(ADD64_IMM, 1, 0, 0, i32::from(at)),
        insn(MOV64_IMM, 2, 0, 0, name_size),
        insn(MOV64_IMM, 3, 0, 0, 0),
        insn(MOV64_REG, 4, 10, 0, 0),
        insn(ADD64_IMM, 4, 0, 0, i32::from(res)),
        insn(CALL, 0, 0, 0, BPF_FUNC_KALLSYMS_LOOKUP_NAME),
        insn(LDX_DW, 1, 10, res, 0),
        insn(STX_DW, 6, 1, 0, 0),
        insn(STX_DW, 6, 0, 8, 0),
        insn(MOV64_IMM, 0, 0, 0, 0),
        insn(EXIT, 0, 0, 0, 0),
    ]);
    p
}

/// Loads `insns` as a sleepable syscall program; `None` if refused.
fn load(insns: &[Insn]) -> Option<OwnedFd> {
    let license = c"GPL";
    let attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_SYSCALL,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        prog_flags: BPF_F_SLEEPABLE,
        ..ProgLoadAttr::default()
    };
    // SAFETY: `attr` is a valid BPF_PROG_LOAD attr whose pointers (insns,
    // license) outlive the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &raw const attr,
            size_of::<ProgLoadAttr>() as u32,
        )
    };
    // SAFETY: a descriptor the kernel just gave us, owned from here on.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

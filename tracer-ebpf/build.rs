use which::which;

/// Rebuild when bpf-linker changes: cargo cannot see the linker otherwise.
fn main() {
    let bpf_linker =
        which("bpf-linker").expect("bpf-linker not found on PATH: run `cargo xtask setup`");
    println!(
        "cargo:rerun-if-changed={}",
        bpf_linker.to_str().expect("non-UTF-8 path")
    );
    // aya-build passes `--cfg bpf_target_arch="..."` (the userspace target's
    // arch); programs/exec_failed.rs branches on it.
    println!(
        "cargo::rustc-check-cfg=cfg(bpf_target_arch, values(\"x86_64\", \"aarch64\", \"arm\", \
         \"riscv64\", \"powerpc64\", \"s390x\", \"mips\", \"loongarch64\"))"
    );
}

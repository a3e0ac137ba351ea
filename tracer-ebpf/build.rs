use which::which;

/// Rebuild when bpf-linker changes: cargo cannot see the linker otherwise.
fn main() {
    // tracer lists this crate as a build dependency (so cargo rebuilds it when
    // the programs change), which builds the library for the host too: only
    // the BPF build links with bpf-linker, and tracer/build.rs puts it on PATH.
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("bpf") {
        let bpf_linker =
            which("bpf-linker").expect("bpf-linker not found on PATH: run `cargo xtask setup`");
        println!(
            "cargo:rerun-if-changed={}",
            bpf_linker.to_str().expect("non-UTF-8 path")
        );
    }
    // aya-build passes `--cfg bpf_target_arch="..."` (the userspace target's
    // arch); programs/exec_failed.rs branches on it.
    println!(
        "cargo::rustc-check-cfg=cfg(bpf_target_arch, values(\"x86_64\", \"aarch64\", \"arm\", \
         \"riscv64\", \"powerpc64\", \"s390x\", \"mips\", \"loongarch64\"))"
    );
}

use which::which;

/// Rebuild when bpf-linker changes: cargo cannot see the linker otherwise.
fn main() {
    let bpf_linker =
        which("bpf-linker").expect("bpf-linker not found on PATH: run `cargo xtask setup`");
    println!(
        "cargo:rerun-if-changed={}",
        bpf_linker.to_str().expect("non-UTF-8 path")
    );
}

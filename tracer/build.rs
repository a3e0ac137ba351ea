//! Builds the eBPF programs (tracer-ebpf) for bpfel-unknown-none with the
//! nightly toolchain and bpf-linker, as aya-template does. `cargo xtask
//! setup` installs both. Also compiles the Perfetto trace subset
//! (proto/perfetto_trace.proto) into Rust types with prost, using the protoc
//! binary vendored from crates.io, so no system protoc is needed.

use anyhow::{anyhow, Context as _};

fn main() -> anyhow::Result<()> {
    perfetto_proto()?;
    let cargo_metadata::Metadata { packages, .. } = cargo_metadata::MetadataCommand::new()
        .no_deps()
        .exec()
        .context("MetadataCommand::exec")?;
    let ebpf_package = packages
        .into_iter()
        .find(|cargo_metadata::Package { name, .. }| name.as_str() == "tracer-ebpf")
        .ok_or_else(|| anyhow!("tracer-ebpf package not found"))?;
    let cargo_metadata::Package {
        name,
        manifest_path,
        ..
    } = ebpf_package;
    let ebpf_package = aya_build::Package {
        name: name.as_str(),
        root_dir: manifest_path
            .parent()
            .ok_or_else(|| anyhow!("no parent for {manifest_path}"))?
            .as_str(),
        ..Default::default()
    };
    aya_build::build_ebpf([ebpf_package], aya_build::Toolchain::default())
}

/// `perfetto.protos.rs` in OUT_DIR, included by `output/perfetto/proto.rs`.
fn perfetto_proto() -> anyhow::Result<()> {
    const PROTO: &str = "proto/perfetto_trace.proto";
    println!("cargo:rerun-if-changed={PROTO}");
    let protoc = protoc_bin_vendored::protoc_bin_path().context("finding the vendored protoc")?;
    prost_build::Config::new()
        .protoc_executable(protoc)
        .compile_protos(&[PROTO], &["proto"])
        .context("compiling proto/perfetto_trace.proto")
}

//! What an ELF file says about itself: its machine, and whether it is
//! static (no program interpreter, no shared library needed), read with
//! the `object` crate.

use anyhow::{ensure, Context as _, Result};
use object::{
    elf::{FileHeader64, DT_NEEDED, EM_AARCH64, EM_X86_64, PT_INTERP},
    read::elf::{Dyn as _, FileHeader as _, ProgramHeader as _},
    Endianness,
};

use crate::cmd::Arch;

/// Fails unless `data` is a 64-bit ELF for `arch` that needs no loader
/// and no shared library (static or static-pie).
pub(crate) fn check(data: &[u8], arch: Arch) -> Result<()> {
    let header = FileHeader64::<Endianness>::parse(data).context("not a 64-bit ELF file")?;
    let endian = header.endian().context("ELF endianness")?;
    let want = match arch {
        Arch::X86_64 => EM_X86_64,
        Arch::Arm64 => EM_AARCH64,
    };
    let machine = header.e_machine(endian);
    ensure!(
        machine == want,
        "ELF machine is {machine}, expected {want} ({arch:?})"
    );
    for segment in header
        .program_headers(endian, data)
        .context("ELF program headers")?
    {
        ensure!(
            segment.p_type(endian) != PT_INTERP,
            "dynamically linked: it has a program interpreter"
        );
        if let Some(entries) = segment
            .dynamic(endian, data)
            .context("ELF dynamic section")?
        {
            ensure!(
                !entries
                    .iter()
                    .any(|d| d.tag32(endian).map(i64::from) == Some(DT_NEEDED)),
                "dynamically linked: it needs shared libraries"
            );
        }
    }
    Ok(())
}

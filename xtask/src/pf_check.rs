//! Checks the tracer's table of `PF_*` names ([`tracer_common::pf::NAMES`])
//! against one kernel's own `include/linux/sched.h`, for the kernel matrix:
//! take the `linux-headers-<ver>-common` package of each kernel booted, and
//! compare its `#define PF_*` lines with what the table says for that
//! version.

use tracer_common::pf::{self, KernelVersion};

/// One `#define PF_NAME 0x...` line: the name without `PF_`, and the value.
fn defines(sched_h: &str) -> Vec<(&str, u32)> {
    sched_h
        .lines()
        .filter_map(|line| {
            let rest = line.trim_start().strip_prefix("#define")?.trim_start();
            let name = rest.strip_prefix("PF_")?;
            let mut words = name.split_whitespace();
            let name = words.next()?;
            let value = words.next()?.strip_prefix("0x")?;
            Some((name, u32::from_str_radix(value, 16).ok()?))
        })
        .collect()
}

/// Compares the names the table gives on kernel `version` with the
/// `#define PF_*` lines of that kernel's `sched.h` (the whole header or
/// just those lines).
///
/// An error is a name the table gives that the kernel does not define for
/// that bit: the bit is a `PF__HOLE__*`, missing, or defined under another
/// name. On success, the notes list the bits the kernel defines and the
/// table leaves unnamed for this version (shown as hex, which is never
/// wrong, but worth a look).
pub(crate) fn check_against_sched_h(
    version: KernelVersion,
    sched_h: &str,
) -> Result<Vec<String>, Vec<String>> {
    let defs = defines(sched_h);
    let (v0, v1) = version;
    if defs.is_empty() {
        return Err(vec![format!(
            "{v0}.{v1}: no `#define PF_* 0x...` lines in the header text"
        )]);
    }
    let mut errors = Vec::new();
    let mut notes = Vec::new();
    for shift in 0..32 {
        let bit = 1u32 << shift;
        let kernel: Vec<&str> = defs
            .iter()
            .filter(|(name, value)| *value == bit && !name.starts_with("_HOLE_"))
            .map(|(name, _)| *name)
            .collect();
        match (pf::name_of(bit, version), kernel.as_slice()) {
            (Some(ours), theirs) if theirs.contains(&ours) => {}
            (Some(ours), []) => errors.push(format!(
                "{v0}.{v1}: the table names {bit:#x} {ours}, the kernel does not define it"
            )),
            (Some(ours), theirs) => errors.push(format!(
                "{v0}.{v1}: the table names {bit:#x} {ours}, the kernel calls it {}",
                theirs.join("/")
            )),
            (None, []) => {}
            (None, theirs) => notes.push(format!(
                "{v0}.{v1}: {bit:#x} is PF_{} in the kernel, shown as hex by the table",
                theirs.join("/PF_")
            )),
        }
    }
    if errors.is_empty() {
        Ok(notes)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn fixtures() -> Vec<(String, String)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sched_h");
        let mut all: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| {
                let path = e.unwrap().path();
                let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
                (stem, std::fs::read_to_string(&path).unwrap())
            })
            .collect();
        all.sort();
        assert!(all.len() >= 5, "fixtures missing in {}", dir.display());
        all
    }

    #[test]
    fn table_matches_every_fixture() {
        for (release, text) in fixtures() {
            let version = pf::parse_release(&release).unwrap();
            match check_against_sched_h(version, &text) {
                Ok(notes) => {
                    for note in notes {
                        eprintln!("{release}: {note}");
                    }
                }
                Err(errors) => panic!("{release}:\n{}", errors.join("\n")),
            }
        }
    }

    #[test]
    fn notes_the_backported_bit() {
        let text = fixtures()
            .into_iter()
            .find(|(r, _)| r == "6.12.117")
            .unwrap()
            .1;
        let notes = check_against_sched_h((6, 12), &text).unwrap();
        assert_eq!(
            notes,
            ["6.12: 0x800000 is PF_NO_NOTIFY_SIGNAL in the kernel, shown as hex by the table"]
        );
    }

    #[test]
    fn catches_a_wrong_range() {
        // 6.1's sched.h checked as if it were 6.4: USER_WORKER is a hole.
        let text = fixtures()
            .into_iter()
            .find(|(r, _)| r.starts_with("6.1.0"))
            .unwrap()
            .1;
        let errors = check_against_sched_h((6, 4), &text).unwrap_err();
        assert!(
            errors
                .iter()
                .any(|e| e.contains("0x4000 USER_WORKER, the kernel does not define it")),
            "{errors:?}"
        );
        // 5.10's header read as 6.12: FROZEN where KCOMPACTD is expected.
        let text = fixtures()
            .into_iter()
            .find(|(r, _)| r.starts_with("5.10"))
            .unwrap()
            .1;
        let errors = check_against_sched_h((6, 12), &text).unwrap_err();
        assert!(
            errors
                .iter()
                .any(|e| e.contains("0x10000 KCOMPACTD, the kernel calls it FROZEN")),
            "{errors:?}"
        );
    }

    #[test]
    fn refuses_text_without_defines() {
        assert!(check_against_sched_h((6, 1), "struct task_struct;").is_err());
    }
}

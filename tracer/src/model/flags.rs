//! Names of `task->flags` (PF_*) bits, per kernel version.
//!
//! Bits moved between releases (0x4000 is USER_WORKER only from 6.4,
//! 0x10000 was FROZEN before 6.1 and is KCOMPACTD from 6.12), so names come
//! from [`tracer_common::pf::NAMES`] for the kernel that set them: the
//! running kernel for live commands, the recording kernel (the log header's
//! release) for replay, report and export. A set bit the table does not name
//! on that kernel is shown as hex (`0x1000`), never given a wrong name.

use tracer_common::pf::{self, KernelVersion};
pub use tracer_common::pf::{PF_EXITING, PF_IO_WORKER, PF_KTHREAD, PF_USER_WORKER, PF_WQ_WORKER};

/// An unknown set bit, as shown: `HEX[n]` is `1 << n` in hex.
const HEX: [&str; 32] = [
    "0x1",
    "0x2",
    "0x4",
    "0x8",
    "0x10",
    "0x20",
    "0x40",
    "0x80",
    "0x100",
    "0x200",
    "0x400",
    "0x800",
    "0x1000",
    "0x2000",
    "0x4000",
    "0x8000",
    "0x10000",
    "0x20000",
    "0x40000",
    "0x80000",
    "0x100000",
    "0x200000",
    "0x400000",
    "0x800000",
    "0x1000000",
    "0x2000000",
    "0x4000000",
    "0x8000000",
    "0x10000000",
    "0x20000000",
    "0x40000000",
    "0x80000000",
];

/// The names of PF_* bits on one kernel, chosen once per command.
#[derive(Clone, Copy, Debug)]
pub struct PfNames {
    version: KernelVersion,
    /// Whether the version came from the release string (else: newest).
    parsed: bool,
    /// `(bit, name)` of the bits named on this kernel, in display order.
    named: [(u32, &'static str); 32],
    len: usize,
    /// All bits in `named`.
    known: u32,
}

impl PfNames {
    /// The names on kernel `version`.
    pub fn for_version(version: KernelVersion) -> PfNames {
        let mut p = PfNames {
            version,
            parsed: true,
            named: [(0, ""); 32],
            len: 0,
            known: 0,
        };
        // NAMES is in display order and has at most one name per bit and
        // version (pf's tests check that), so at most 32 hold.
        for e in pf::NAMES.iter().filter(|e| e.holds_on(version)) {
            p.named[p.len] = (e.bit, e.name);
            p.len += 1;
            p.known |= e.bit;
        }
        p
    }

    /// The names on the kernel of `release` (`5.10.0-32-cloud-amd64`,
    /// `6.18.44-fc-v595`: only `major.minor` counts). A release that does
    /// not start with `major.minor` gets the newest table checked
    /// ([`pf::NEWEST_CHECKED`]): better than none, and the bits whose
    /// meaning changed are all old ones.
    pub fn for_release(release: &str) -> PfNames {
        match pf::parse_release(release) {
            Some(v) => PfNames::for_version(v),
            None => PfNames {
                parsed: false,
                ..PfNames::for_version(pf::NEWEST_CHECKED)
            },
        }
    }

    /// The names on the running kernel (uname's release).
    pub fn running() -> PfNames {
        PfNames::for_release(&running_release())
    }

    /// The kernel version the names are for.
    pub fn version(&self) -> KernelVersion {
        self.version
    }

    /// False when the release could not be parsed and the newest table
    /// stands in.
    pub fn version_known(&self) -> bool {
        self.parsed
    }

    fn named(&self) -> &[(u32, &'static str)] {
        &self.named[..self.len]
    }

    /// The set bits of `flags`: names in display order (what a task is
    /// first, then its state), then unknown bits as hex, low to high.
    pub fn names(&self, flags: u32) -> impl Iterator<Item = &'static str> + '_ {
        let unknown = flags & !self.known;
        self.named()
            .iter()
            .filter(move |(bit, _)| flags & bit != 0)
            .map(|(_, name)| *name)
            .chain(
                (0..32)
                    .filter(move |i| unknown & (1 << i) != 0)
                    .map(|i| HEX[i]),
            )
    }

    /// `KTHREAD|WQ_WORKER|0x1000`, or `-` when no bit is set.
    pub fn join(&self, flags: u32) -> String {
        if flags == 0 {
            return "-".to_string();
        }
        self.names(flags).collect::<Vec<_>>().join("|")
    }

    /// The bits this kernel gives one of `names` (0 for a name it lacks).
    pub fn bits_named(&self, names: &[&str]) -> u32 {
        self.named()
            .iter()
            .filter(|(_, name)| names.contains(name))
            .fold(0, |bits, (bit, _)| bits | bit)
    }

    /// [`PfNames::join`] within `width` characters: the names that fit,
    /// in display order (what a task is comes first), then `+N` for the N
    /// left out, so a column keeps its width and says that it cut.
    pub fn join_within(&self, flags: u32, width: usize) -> String {
        let all = self.join(flags);
        if all.len() <= width {
            return all;
        }
        let names: Vec<&str> = self.names(flags).collect();
        let mut shown = String::new();
        for (i, name) in names.iter().enumerate() {
            let more = format!("+{}", names.len() - i - 1);
            let sep = usize::from(!shown.is_empty());
            // This name, and the mark for the rest (none after the last).
            let need = shown.len() + sep + name.len() + 1 + more.len();
            if need > width {
                let rest = format!("+{}", names.len() - i);
                return if shown.is_empty() {
                    rest
                } else {
                    format!("{shown}|{rest}")
                };
            }
            if sep == 1 {
                shown.push('|');
            }
            shown.push_str(name);
        }
        shown
    }

    /// Appends `flags` as a JSON array of names (unknown bits as hex
    /// strings): `["KTHREAD","0x1000"]`. On the JSON hot path: no
    /// allocation, no escaping (names and hex need none), and the scan stops
    /// once every named bit is written.
    pub fn write_json(&self, out: &mut Vec<u8>, flags: u32) {
        out.push(b'[');
        let mut first = true;
        let mut put = |out: &mut Vec<u8>, s: &str| {
            if !first {
                out.push(b',');
            }
            first = false;
            out.push(b'"');
            out.extend_from_slice(s.as_bytes());
            out.push(b'"');
        };
        let mut left = flags & self.known;
        for &(bit, name) in self.named() {
            if left == 0 {
                break;
            }
            if left & bit != 0 {
                put(out, name);
                left &= !bit;
            }
        }
        let mut unknown = flags & !self.known;
        while unknown != 0 {
            put(out, HEX[unknown.trailing_zeros() as usize]);
            unknown &= unknown - 1;
        }
        out.push(b']');
    }
}

/// The running kernel's release (`uname -r`), or "" if uname fails.
pub fn running_release() -> String {
    // SAFETY: uname fills the zeroed struct; its fields are NUL-terminated.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname for the call.
    if unsafe { libc::uname(&mut u) } != 0 {
        return String::new();
    }
    let bytes: Vec<u8> = u
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(p: &PfNames, flags: u32) -> String {
        let mut out = Vec::new();
        p.write_json(&mut out, flags);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn names_real_tasks() {
        // Values seen in /proc/PID/stat field 9 on this 6.18 kernel.
        let p = PfNames::for_release("6.18.44-fc-v595");
        assert_eq!(p.version(), (6, 18));
        assert_eq!(p.join(0x208040), "KTHREAD|FORKNOEXEC|NOFREEZE");
        assert_eq!(
            p.join(0x4208060),
            "KTHREAD|WQ_WORKER|FORKNOEXEC|NOFREEZE|NO_SETAFFINITY"
        );
        assert_eq!(
            p.join(0x404050),
            "IO_WORKER|USER_WORKER|FORKNOEXEC|RANDOMIZE"
        );
        assert_eq!(p.join(0x400100), "SUPERPRIV|RANDOMIZE");
        assert_eq!(p.join(0), "-");
        assert_eq!(json(&p, 0), "[]");
        assert_eq!(
            json(&p, 0x404050),
            r#"["IO_WORKER","USER_WORKER","FORKNOEXEC","RANDOMIZE"]"#
        );
    }

    #[test]
    fn joined_within_a_width_says_what_it_cut() {
        let p = PfNames::for_version((6, 18));
        let kworker = 0x4208060;
        assert_eq!(p.join_within(kworker, 24), "KTHREAD|WQ_WORKER|+3");
        assert_eq!(p.join_within(0x208040, 24), "KTHREAD|FORKNOEXEC|+1");
        assert_eq!(p.join_within(0x208040, 27), "KTHREAD|FORKNOEXEC|NOFREEZE");
        assert_eq!(p.join_within(kworker, 4), "+5");
        assert_eq!(p.join_within(0, 24), "-");
        for width in 2..60 {
            let cell = p.join_within(kworker, width);
            assert!(cell.len() <= width, "{width}: {cell}");
        }
        let unsaid = p.bits_named(&["POSTCOREDUMP", "RANDOMIZE"]);
        assert_eq!(unsaid, 0x8 | 0x400000);
        assert_eq!(p.join(0x400100 & !unsaid), "SUPERPRIV");
        // 5.10 has no POSTCOREDUMP: its 0x8 stays (as hex).
        let old = PfNames::for_version((5, 10));
        assert_eq!(old.bits_named(&["POSTCOREDUMP"]), 0);
    }

    #[test]
    fn user_worker_only_from_6_4() {
        let old = PfNames::for_release("6.1.0-47-cloud-amd64");
        assert_eq!(old.join(0x404050), "IO_WORKER|FORKNOEXEC|RANDOMIZE|0x4000");
        assert_eq!(
            json(&old, 0x404050),
            r#"["IO_WORKER","FORKNOEXEC","RANDOMIZE","0x4000"]"#
        );
        let new = PfNames::for_release("6.12.117+deb13-cloud-amd64");
        assert_eq!(new.join(0x4000), "USER_WORKER");
        assert_eq!(PfNames::for_version((6, 4)).join(0x4000), "USER_WORKER");
        assert_eq!(PfNames::for_version((6, 3)).join(0x4000), "0x4000");
    }

    #[test]
    fn names_5_10_bits() {
        let p = PfNames::for_release("5.10.0-32-cloud-amd64");
        assert_eq!(p.version(), (5, 10));
        // A frozen task with the old freezer's skip bit, swapping.
        assert_eq!(
            p.join(0x4081_0040),
            "FORKNOEXEC|FROZEN|SWAPWRITE|FREEZER_SKIP"
        );
        assert_eq!(p.join(0x1000_0000), "MEMALLOC_NOCMA");
        // PF_POSTCOREDUMP came in 5.16: hex here.
        assert_eq!(p.join(0xc), "EXITING|0x8");
        assert_eq!(p.join(0x4000), "0x4000");
        // 0x2000_0000 is undefined in 5.10.
        assert_eq!(json(&p, 0x2020_0000), r#"["KTHREAD","0x20000000"]"#);
    }

    #[test]
    fn bits_that_moved() {
        let v6_1 = PfNames::for_version((6, 1));
        let v6_12 = PfNames::for_version((6, 12));
        let v7_3 = PfNames::for_version((7, 3));
        // 0x10000: FROZEN before 6.1, a hole in 6.1, KCOMPACTD from 6.12.
        assert_eq!(v6_1.join(0x0021_0000), "KTHREAD|0x10000");
        assert_eq!(v6_12.join(0x0021_0000), "KTHREAD|KCOMPACTD");
        // 0x800000: SWAPWRITE before 5.19, NO_NOTIFY_SIGNAL from 7.3 (and
        // some 6.12.y, which stay hex since not every 6.12 has it).
        assert_eq!(v6_12.join(0x80_0000), "0x800000");
        assert_eq!(v7_3.join(0x80_0000), "NO_NOTIFY_SIGNAL");
        assert_eq!(v6_1.join(0x2000_0000), "0x20000000");
        assert_eq!(v6_12.join(0x2000_0000), "BLOCK_TS");
        assert_eq!(v6_1.join(0x1000_0000), "MEMALLOC_PIN");
    }

    #[test]
    fn unknown_bits_are_hex_never_dropped() {
        let p = PfNames::for_version((6, 1));
        // 0x4000 and 0x10000 are holes on 6.1.
        assert_eq!(p.join(0x0021_4000), "KTHREAD|0x4000|0x10000");
        assert_eq!(json(&p, 0x0021_4000), r#"["KTHREAD","0x4000","0x10000"]"#);
        // Every set bit shows up, named or not, the same in text and JSON.
        for flags in [u32::MAX, 0x0021_4000, 0x8000_0001, 0x1234_5678] {
            let names: Vec<_> = p.names(flags).collect();
            assert_eq!(names.len(), flags.count_ones() as usize);
            let quoted: Vec<_> = names.iter().map(|n| format!("\"{n}\"")).collect();
            assert_eq!(json(&p, flags), format!("[{}]", quoted.join(",")));
        }
        // Below the oldest kernel checked, nothing is named.
        assert_eq!(PfNames::for_version((5, 4)).join(0x200000), "0x200000");
    }

    #[test]
    fn unparsable_release_gets_the_newest_table() {
        let p = PfNames::for_release("not-a-release");
        assert!(!p.version_known());
        assert_eq!(p.version(), pf::NEWEST_CHECKED);
        assert_eq!(
            p.join(0x404050),
            "IO_WORKER|USER_WORKER|FORKNOEXEC|RANDOMIZE"
        );
        assert!(PfNames::for_release("6.1.0").version_known());
    }

    #[test]
    fn running_kernel_parses() {
        assert!(PfNames::running().version_known(), "{}", running_release());
    }
}

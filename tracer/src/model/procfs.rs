//! Start-up snapshot of every task from procfs (`/proc/PID/task/TID`).
//!
//! The root is a parameter so tests can point it at small fake trees.

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{Context as _, Result};

use crate::model::{decode::split_args, text};

/// What procfs says about one task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcTask {
    pub pid: u32,
    pub tgid: u32,
    /// Field 4 of stat: the real parent's tgid.
    pub ppid: u32,
    /// Field 9 of stat: `task->flags`.
    pub flags: u32,
    pub comm: String,
    /// Field 22 of stat, in clock ticks since boot.
    pub start_ticks: u64,
    /// Field 3 of stat (`R`, `S`, `Z`...).
    pub state: char,
    /// statm's size is non-zero: the task has a user address space.
    pub has_mm: bool,
    /// The `Kthread:` line of status, where the kernel offers it.
    pub kthread_line: Option<bool>,
    /// The cgroup v2 path (`0::PATH`), if any.
    pub cgroup: Option<String>,
    /// argv from cmdline (empty for kernel threads and zombies).
    pub argv: Vec<String>,
}

pub struct Procfs {
    root: PathBuf,
}

/// Parses a stat line. `comm` sits in parentheses and may itself contain
/// spaces and parentheses, so split at the last `)`.
fn parse_stat(text: &str) -> Option<(String, char, u32, u32, u64)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    // Fields from 3 (state) on.
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    let state = rest.first()?.chars().next()?;
    let ppid = rest.get(1)?.parse().ok()?;
    let flags = rest.get(6)?.parse::<u64>().ok()? as u32;
    let start_ticks = rest.get(19)?.parse().ok()?;
    Some((comm, state, ppid, flags, start_ticks))
}

fn numeric_entries(dir: &Path) -> Vec<u32> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut ids: Vec<u32> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    ids.sort_unstable();
    ids
}

impl Procfs {
    pub fn new(root: impl Into<PathBuf>) -> Procfs {
        Procfs { root: root.into() }
    }

    pub fn system() -> Procfs {
        Procfs::new("/proc")
    }

    /// Every task: each process's threads included. Tasks that vanish while
    /// being read are skipped (they exited; live tracing reports that).
    /// Where it is mounted (`/proc`, or a test's fake tree).
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn tasks(&self) -> Result<Vec<ProcTask>> {
        fs::metadata(&self.root)
            .with_context(|| format!("reading {}: is procfs mounted?", self.root.display()))?;
        let tgids = numeric_entries(&self.root);
        Ok(on_all_cpus(&tgids, |tgids| {
            let mut tasks = Vec::new();
            for &tgid in tgids {
                self.process_tasks(tgid, &mut tasks);
            }
            tasks
        }))
    }

    /// The tasks of process `tgid`, appended to `tasks`.
    fn process_tasks(&self, tgid: u32, tasks: &mut Vec<ProcTask>) {
        let proc_dir = self.root.join(tgid.to_string());
        let cgroup = fs::read_to_string(proc_dir.join("cgroup"))
            .ok()
            .and_then(|text| cgroup_v2_path(&text));
        let argv = read_cmdline(&proc_dir.join("cmdline"));
        let mut tids = numeric_entries(&proc_dir.join("task"));
        if tids.is_empty() {
            tids.push(tgid);
        }
        for tid in tids {
            let dir = if tid == tgid && !proc_dir.join("task").exists() {
                proc_dir.clone()
            } else {
                proc_dir.join("task").join(tid.to_string())
            };
            // argv belongs to the process: keep it on the leader only.
            let argv = if tid == tgid { &argv[..] } else { &[] };
            if let Some(task) = self.task(&dir, tid, tgid, &cgroup, argv) {
                tasks.push(task);
            }
        }
    }

    fn task(
        &self,
        dir: &Path,
        pid: u32,
        tgid: u32,
        cgroup: &Option<String>,
        argv: &[String],
    ) -> Option<ProcTask> {
        let stat = read_stat(&dir.join("stat"))?;
        let (comm, state, ppid, flags, start_ticks) = parse_stat(&stat)?;
        let has_mm = fs::read_to_string(dir.join("statm"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .is_some_and(|size| size > 0);
        let status = fs::read(dir.join("status")).ok();
        let kthread_line = status
            .as_deref()
            .map(String::from_utf8_lossy)
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Kthread:"))
                    .map(|v| v.trim() == "1")
            });
        Some(ProcTask {
            pid,
            tgid,
            ppid,
            flags,
            comm,
            start_ticks,
            state,
            has_mm,
            kthread_line,
            cgroup: cgroup.clone(),
            argv: argv.to_vec(),
        })
    }

    /// Processes only, from their stat files alone: enough to find helper
    /// lineages quickly before attaching (one read per process).
    pub fn processes(&self) -> Vec<ProcTask> {
        let pids = numeric_entries(&self.root);
        on_all_cpus(&pids, |pids| {
            pids.iter()
                .filter_map(|&pid| {
                    let stat = read_stat(&self.root.join(pid.to_string()).join("stat"))?;
                    let (comm, state, ppid, flags, start_ticks) = parse_stat(&stat)?;
                    Some(ProcTask {
                        pid,
                        tgid: pid,
                        ppid,
                        flags,
                        comm,
                        start_ticks,
                        state,
                        has_mm: true,
                        kthread_line: None,
                        cgroup: None,
                        argv: Vec::new(),
                    })
                })
                .collect()
        })
    }

    /// PID 1's cgroup v2 path: root-cgroup membership only means "kernel
    /// thread" where PID 1 moved itself out of the root.
    pub fn init_cgroup(&self) -> Option<String> {
        fs::read_to_string(self.root.join("1/cgroup"))
            .ok()
            .and_then(|text| cgroup_v2_path(&text))
    }
}

/// A task's context as procfs gives it (what the kernel side reads at an
/// event): `Uid:`/`Gid:` (the real ids) and `NSpid:` (the last, innermost
/// pid) of status, the cgroup v2 path of /proc/PID/cgroup (its id the
/// inode of its directory), and the inodes of ns/pid and ns/mnt.
/// Returns the context and the cgroup path.
pub fn task_context(
    root: &Path,
    tgid: u32,
    pid: u32,
) -> (crate::model::event::TaskContext, Option<String>) {
    use crate::model::context;
    let proc_dir = root.join(tgid.to_string());
    let dir = if pid == tgid {
        proc_dir.clone()
    } else {
        proc_dir.join("task").join(pid.to_string())
    };
    let status = fs::read_to_string(dir.join("status")).unwrap_or_default();
    let field = |name: &str, last: bool| -> Option<u32> {
        let values = status
            .lines()
            .find_map(|l| l.strip_prefix(name))?
            .split_whitespace();
        let value = if last {
            values.last()
        } else {
            values.into_iter().next()
        };
        value?.parse().ok()
    };
    let cgroup = fs::read_to_string(dir.join("cgroup"))
        .ok()
        .and_then(|text| cgroup_v2_path(&text));
    let ctx = crate::model::event::TaskContext {
        uid: field("Uid:", false),
        gid: field("Gid:", false),
        cgroup_id: cgroup.as_deref().and_then(context::cgroup_id),
        pidns: context::ns_inode(&dir.join("ns/pid")),
        ns_pid: field("NSpid:", true),
        mntns: context::ns_inode(&dir.join("ns/mnt")),
    };
    (ctx, cgroup)
}

/// `read` over `ids` in one slice per CPU (up to 4) at once, the results
/// in `ids`' order: the kernel formats every procfs file read, and the
/// snapshots are on the way to `attached` (see docs/benchmarks.md, "Start-up").
fn on_all_cpus(ids: &[u32], read: impl Fn(&[u32]) -> Vec<ProcTask> + Sync) -> Vec<ProcTask> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    if cpus == 1 || ids.len() < 64 {
        return read(ids);
    }
    let read = &read;
    std::thread::scope(|scope| {
        let parts: Vec<_> = ids
            .chunks(ids.len().div_ceil(cpus))
            .map(|part| scope.spawn(move || read(part)))
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().expect("a procfs reading thread panicked"))
            .collect()
    })
}

fn cgroup_v2_path(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_string)
}

/// USER_HZ: the unit of stat's start time.
/// A stat file as text, every byte of the comm in it kept: a comm that is
/// not UTF-8 must not hide its task (see `model::text`).
fn read_stat(path: &Path) -> Option<String> {
    fs::read(path).ok().map(|b| text::decode(&b))
}

/// The first [`MAX_CMDLINE`] bytes of a cmdline, at most
/// [`MAX_SNAPSHOT_ARGS`] arguments: a process with megabytes of arguments
/// must not blow up every snapshot (and log header) that holds it.
fn read_cmdline(path: &Path) -> Vec<String> {
    use std::io::Read as _;
    let mut raw = Vec::new();
    let read = fs::File::open(path).and_then(|f| f.take(MAX_CMDLINE).read_to_end(&mut raw));
    if read.is_err() {
        return Vec::new();
    }
    let mut argv = split_args(&raw);
    argv.truncate(MAX_SNAPSHOT_ARGS);
    argv
}

/// Bytes of a cmdline a snapshot keeps.
const MAX_CMDLINE: u64 = 4096;
/// Arguments a snapshot keeps per task (a log header's reader keeps no
/// more either).
pub const MAX_SNAPSHOT_ARGS: usize = 256;

pub fn clock_ticks_per_sec() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as u64
    } else {
        100
    }
}

/// VmHWM: this image's peak RSS. (`ru_maxrss` is not it: exec keeps the
/// high-water mark of the image the process replaced.)
pub fn peak_rss_kb() -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_awkward_comm() {
        let line = "42 (a (b) c) S 7 42 42 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 1234 0 0";
        let (comm, state, ppid, flags, start) = parse_stat(line).expect("parses");
        assert_eq!(comm, "a (b) c");
        assert_eq!((state, ppid, flags, start), ('S', 7, 4194560, 1234));
        assert!(parse_stat("42 (x").is_none());
        assert!(parse_stat("").is_none());
    }

    /// Read in slices on several threads, a tree comes back whole and in
    /// pid order.
    #[test]
    fn a_large_tree_reads_whole_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let pids: Vec<u32> = (1..=300).map(|i| i * 7).collect();
        for &pid in &pids {
            let proc_dir = dir.path().join(pid.to_string());
            fs::create_dir(&proc_dir).unwrap();
            let stat = format!(
                "{pid} (p{pid}) S 1 {pid} {pid} 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 {pid} 0 0"
            );
            fs::write(proc_dir.join("stat"), stat).unwrap();
            fs::write(proc_dir.join("statm"), "1 0 0 0 0 0 0").unwrap();
        }
        fs::create_dir(dir.path().join("self")).unwrap();
        let procfs = Procfs::new(dir.path());
        for tasks in [procfs.processes(), procfs.tasks().unwrap()] {
            let got: Vec<u32> = tasks.iter().map(|t| t.pid).collect();
            assert_eq!(got, pids);
            assert!(tasks.iter().all(|t| t.comm == format!("p{}", t.pid)));
            assert!(tasks.iter().all(|t| t.start_ticks == u64::from(t.pid)));
        }
    }

    #[test]
    fn reads_this_machine() {
        let tasks = Procfs::system().tasks().expect("reading /proc");
        let me = std::process::id();
        let mine = tasks
            .iter()
            .find(|t| t.pid == me)
            .expect("this test's task");
        assert_eq!(mine.tgid, me);
        assert!(mine.has_mm);
        let kthreadd = tasks.iter().find(|t| t.pid == 2).expect("kthreadd");
        assert_eq!(kthreadd.comm, "kthreadd");
        assert!(!kthreadd.has_mm);
    }
}

//! The recorders, the small disks, the storms as uid 65534 and the readers
//! of what was left that the `record --dir` tests share.

use std::{
    fs,
    os::unix::fs::{MetadataExt as _, PermissionsExt as _},
    path::{Path, PathBuf},
    process::{Child, Command},
    sync::{
        atomic::{AtomicBool, Ordering},
        mpsc::Receiver,
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use crate::common::*;

/// `setpriv` arguments that make the attacker: uid and gid 65534, no
/// supplementary groups.
pub(super) const ATTACKER: [&str; 3] = ["--reuid=65534", "--regid=65534", "--clear-groups"];

/// The arguments of every recorder this file starts.
pub(super) fn recorder_args(dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "record".to_string(),
        "--dir".into(),
        dir.to_str().unwrap().into(),
    ];
    // These storms reach the recorder unthrottled: the bound must hold
    // whatever the rate (issue 22 measures it so).
    args.extend(["--throttle".into(), "off".into()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// A running `tracer record --dir`, attached, with its stderr lines.
pub(super) struct Recorder {
    pub child: Child,
    pub stderr: Receiver<String>,
}

pub(super) fn start(dir: &Path, extra: &[&str]) -> Recorder {
    let (child, stderr) = spawn_attached(
        Command::new(tracer_exe()).args(recorder_args(dir, extra)),
        Duration::from_secs(60),
    );
    Recorder { child, stderr }
}

impl Recorder {
    pub(super) fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// What it said so far.
    pub(super) fn said(&self) -> String {
        let mut err = String::new();
        while let Ok(line) = self.stderr.try_recv() {
            err.push_str(&line);
            err.push('\n');
        }
        err
    }

    /// Stops it with `sig` (unless it ended already); its exit code and
    /// everything it said.
    pub(super) fn stop_with(mut self, sig: i32) -> (Option<i32>, String) {
        if self.running() {
            kill(self.child.id(), sig);
        }
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_secs(5)) {
            err.push_str(&line);
            err.push('\n');
        }
        (status.code(), err)
    }

    pub(super) fn stop(self) -> (Option<i32>, String) {
        self.stop_with(libc::SIGINT)
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if self.running() {
            kill(self.child.id(), libc::SIGINT);
            let _ = self.child.wait();
        }
    }
}

/// A tmpfs of `size` mounted at `at` (created); unmounted on drop, even
/// when the test fails.
pub(super) struct Tmpfs(PathBuf);

impl Tmpfs {
    pub(super) fn mount(at: &Path, size: &str) -> Tmpfs {
        fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tracer-test"])
            .arg(at)
            .status()
            .unwrap();
        assert!(ok.success(), "mounting a {size} tmpfs at {at:?}");
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// The storm program: N prctl(PR_SET_NAME) with changing names,
/// built with the C compiler cargo links with, in a directory of its own
/// that the attacker can reach (removed with it).
pub(super) struct Storm {
    pub _dir: tempfile::TempDir,
    pub exe: PathBuf,
}

impl Storm {
    pub(super) fn build() -> Storm {
        let dir = tempfile::Builder::new()
            .prefix("tracer-storm")
            .tempdir()
            .unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let src = dir.path().join("storm.c");
        fs::write(
            &src,
            "#include <stdio.h>\n#include <stdlib.h>\n#include <sys/prctl.h>\n\
             int main(int argc, char **argv) {\n\
             long n = argc > 1 ? atol(argv[1]) : 0;\n char name[16];\n\
             for (long i = 0; i < n; i++) {\n\
             snprintf(name, sizeof name, \"storm-%ld\", i);\n\
             prctl(PR_SET_NAME, name, 0, 0, 0);\n }\n return 0;\n}\n",
        )
        .unwrap();
        let exe = dir.path().join("storm");
        let ok = Command::new("cc")
            .args(["-O2", "-o"])
            .arg(&exe)
            .arg(&src)
            .status()
            .expect("cc (the C compiler cargo links with) builds the storm program");
        assert!(ok.success(), "compiling the storm program");
        Storm { _dir: dir, exe }
    }

    /// `n` renames by uid 65534.
    pub(super) fn renames(&self, n: u64) {
        rename_storm(&self.exe, n);
    }
}

pub(super) fn rename_storm(exe: &Path, n: u64) {
    let ok = Command::new("setpriv")
        .args(ATTACKER)
        .arg(exe)
        .arg(n.to_string())
        .status()
        .expect("setpriv");
    assert!(ok.success(), "the storm as uid 65534");
}

/// Runs `script` with sh as uid 65534; it must succeed.
pub(super) fn as_attacker(script: &str) {
    let out = Command::new("setpriv")
        .args(ATTACKER)
        .args(["/bin/sh", "-c", script])
        .output()
        .expect("setpriv");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The bytes of every file tracer writes in `dir`: its logs, plain or
/// compressed, and any `.zst.partial`.
pub(super) fn tracer_bytes(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with("tracer-"))
        })
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// Tracer's own logs in `dir` (root's, named as tracer names them),
/// oldest first.
pub(super) fn own_logs(dir: &Path) -> Vec<PathBuf> {
    let mut logs: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            tracer::log::rotate::is_ours(name) && fs::metadata(p).unwrap().uid() == 0
        })
        .collect();
    logs.sort();
    logs
}

/// Every file tracer left in `dir` is a finished log that reads whole:
/// no `.partial`, each `.zst` taken by the reference decompressor, each
/// log exported with no damage.
pub(super) fn all_whole(dir: &Path) -> usize {
    let mut n = 0;
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if !name.starts_with("tracer-") {
            continue;
        }
        assert!(
            tracer::log::rotate::is_ours(&name),
            "{name}: not a finished log"
        );
        if name.ends_with(".zst") {
            let ok = Command::new("zstd")
                .args(["-q", "-t"])
                .arg(&path)
                .status()
                .expect("zstd (the reference tool; `cargo xtask test` installs it)");
            assert!(ok.success(), "zstd -t {name}");
        }
        let (code, _, err) = run_tracer(&["export", path.to_str().unwrap()]);
        assert_eq!(code, 0, "{name}: {err}");
        assert!(!err.contains("damage"), "{name}: {err}");
        n += 1;
    }
    n
}

/// Samples the bytes of tracer's files in a directory every 100 ms until
/// stopped: (samples, the largest).
pub(super) struct Sampler {
    pub stop: Arc<AtomicBool>,
    pub thread: thread::JoinHandle<(usize, u64)>,
}

impl Sampler {
    pub(super) fn start(dir: &Path) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, dir) = (Arc::clone(&stop), dir.to_path_buf());
        let thread = thread::spawn(move || {
            let (mut samples, mut most) = (0, 0);
            while !flag.load(Ordering::Relaxed) {
                most = most.max(tracer_bytes(&dir));
                samples += 1;
                thread::sleep(Duration::from_millis(100));
            }
            (samples, most)
        });
        Sampler { stop, thread }
    }

    pub(super) fn finish(self) -> (usize, u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// Fills the file system of `at` once the recording in `dir` takes
/// `after` bytes (or after 10 s): writes `at` until the disk refuses. The
/// bytes written.
pub(super) fn fill_disk(at: PathBuf, dir: PathBuf, after: u64) -> thread::JoinHandle<u64> {
    thread::spawn(move || {
        let start = Instant::now();
        while tracer_bytes(&dir) < after && start.elapsed() < Duration::from_secs(10) {
            thread::sleep(Duration::from_millis(20));
        }
        use std::io::Write as _;
        let mut f = fs::File::create(&at).unwrap();
        let chunk = vec![0x5au8; 64 << 10];
        let mut written = 0u64;
        loop {
            match f.write(&chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => written += n as u64,
            }
        }
        written
    })
}

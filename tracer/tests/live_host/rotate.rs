//! Live tests of recording for weeks (`record --dir`): rotation under an
//! event storm with nothing lost or doubled at a boundary, `--keep` and
//! `--max-total`, one stream read across files, compressed files, SIGHUP,
//! and a disk that fills up (the oldest logs give way).

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc::Receiver,
    thread,
    time::Duration,
};

use serde_json::Value;

use crate::common::*;

/// A running `tracer record --dir DIR`, attached, with its stderr lines.
/// Throttling is off: these tests storm as root and expect every event
/// (storms are measured with throttling off).
struct DirRecording {
    child: Child,
    stderr: Receiver<String>,
}

fn record_dir(dir: &Path, extra: &[&str]) -> DirRecording {
    let (child, rx) = spawn_attached(
        Command::new(tracer_exe())
            .args(["record", "--dir", dir.to_str().unwrap()])
            .args(["--throttle", "off"])
            .args(extra),
        Duration::from_secs(60),
    );
    DirRecording { child, stderr: rx }
}

impl DirRecording {
    fn signal(&self, sig: i32) {
        kill(self.child.id(), sig);
    }

    /// Stops it with SIGINT; its exit code and everything it said.
    fn stop(mut self) -> (Option<i32>, String) {
        self.signal(libc::SIGINT);
        self.wait()
    }

    fn wait(&mut self) -> (Option<i32>, String) {
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_secs(5)) {
            err.push_str(&line);
            err.push('\n');
        }
        (status.code(), err)
    }
}

impl Drop for DirRecording {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.signal(libc::SIGINT);
            let _ = self.child.wait();
        }
    }
}

/// Tracer's logs in `dir` (`tracer-<time>Z-<sequence>.log[.zst]`), oldest
/// first (names sort by time).
fn logs_in(dir: &Path) -> Vec<PathBuf> {
    let mut logs: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            let stem = name
                .strip_suffix(".log.zst")
                .or_else(|| name.strip_suffix(".log"));
            stem.and_then(|s| s.strip_prefix("tracer-"))
                .and_then(|s| s.rsplit_once("Z-"))
                .is_some_and(|(_, seq)| seq.parse::<u32>().is_ok())
        })
        .collect();
    logs.sort();
    logs
}

/// The sequence number in a rotated log's name.
fn sequence(log: &Path) -> u32 {
    let name = log.file_name().unwrap().to_str().unwrap();
    let after = name.rsplit_once("Z-").unwrap().1;
    after.split('.').next().unwrap().parse().unwrap()
}

/// `tracer export` of `inputs` as JSON values: exit 0 and no damage.
fn export(inputs: &[&Path]) -> Vec<Value> {
    let mut args = vec!["export"];
    args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
    let (code, out, err) = run_tracer(&args);
    assert_eq!(code, 0, "export {inputs:?}: {err}");
    assert!(!err.contains("damage"), "{err}");
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON ({e}): {l}")))
        .collect()
}

/// "recorded N events" from record's summary.
/// Events `record` says it recorded, less its kernel-thread records
/// (`, 1 kthread` in its summary): `export` folds those into their forks,
/// and a kworker pool may grow during any recording.
fn recorded(err: &str) -> usize {
    let all: usize = err
        .split("recorded ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no event count in: {err}"));
    let kthreads: usize = err
        .lines()
        .filter(|l| l.contains(" events: "))
        .flat_map(|l| l.split(", "))
        .filter_map(|part| {
            let (n, what) = part.trim().rsplit_once(' ')?;
            let n = n.rsplit(' ').next()?;
            matches!(what, "kthread" | "kthreads").then(|| n.parse::<usize>().ok())?
        })
        .sum();
    all - kthreads
}

/// Runs `n` execs of /bin/true, each with its own argument `TAG-i`, from
/// one shell (a fork, an exec and an exit each).
fn exec_storm(tag: &str, n: usize) {
    let script = format!("i=0; while [ $i -lt {n} ]; do /bin/true {tag}-$i; i=$((i+1)); done");
    let ok = Command::new("/bin/sh")
        .args(["-c", &script])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// How many times each `TAG-i` was exec'd, as the events say.
fn storm_execs(events: &[Value], tag: &str) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for e in events.iter().filter(|e| is(e, "exec")) {
        let Some(argv) = e.get("argv").and_then(Value::as_array) else {
            continue;
        };
        for a in argv.iter().filter_map(Value::as_str) {
            if a.starts_with(&format!("{tag}-")) {
                *seen.entry(a.to_string()).or_insert(0) += 1;
            }
        }
    }
    seen
}

fn not_lost(e: &Value) -> bool {
    !is(e, "lost")
}

#[test]
fn rotation_under_an_exec_storm_loses_and_doubles_nothing() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let rec = record_dir(dir.path(), &["--rotate-size", "128K"]);
    let n = 3000;
    exec_storm("rot-storm", n);
    let (code, err) = rec.stop();
    assert_eq!(code, Some(0), "{err}");
    assert_no_loss(&err);
    let logs = logs_in(dir.path());
    assert!(logs.len() >= 4, "a storm over 128K files rotates: {logs:?}");
    let seqs: Vec<u32> = logs.iter().map(|l| sequence(l)).collect();
    assert_eq!(seqs, (0..logs.len() as u32).collect::<Vec<_>>());
    // Read as one stream (the directory), and file by file: the same
    // records, as many as were recorded.
    let all = export(&[dir.path()]);
    let per_file: Vec<Value> = logs.iter().flat_map(|l| export(&[l])).collect();
    let count = |v: &[Value]| v.iter().filter(|e| not_lost(e)).count();
    assert_eq!(count(&all), recorded(&err), "{err}");
    assert_eq!(count(&per_file), count(&all));
    // Every exec of the storm exactly once.
    let execs = storm_execs(&all, "rot-storm");
    assert_eq!(execs.len(), n, "every exec recorded");
    assert!(execs.values().all(|&c| c == 1), "none twice");
    // The boundaries are between records, in time order.
    let times: Vec<u64> = all
        .iter()
        .filter(|e| not_lost(e))
        .map(|e| u64_of(e, "boot_ns"))
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in time order");
}

#[test]
fn keep_and_max_total_delete_the_oldest_and_nothing_else() {
    let _serial = serial();
    for limit in [&["--keep", "3"][..], &["--max-total", "200K"][..]] {
        let dir = tempfile::tempdir().unwrap();
        // Not tracer's: never deleted, whatever the limits.
        let foreign = [
            "notes.txt",
            "tracer-notes.log",
            "tracer-20200101T000000.000Z-000001.log.bak",
        ];
        for f in foreign {
            fs::write(dir.path().join(f), "keep me").unwrap();
        }
        let mut args = vec!["--rotate-size", "64K"];
        args.extend_from_slice(limit);
        let rec = record_dir(dir.path(), &args);
        exec_storm("keep-storm", 2000);
        let (code, err) = rec.stop();
        assert_eq!(code, Some(0), "{limit:?}: {err}");
        for f in foreign {
            assert!(dir.path().join(f).exists(), "{limit:?}: {f} deleted");
        }
        let logs = logs_in(dir.path());
        let last = *logs
            .iter()
            .map(|l| sequence(l))
            .collect::<Vec<_>>()
            .last()
            .unwrap();
        assert!(last >= 5, "{limit:?}: rotated {last} times only");
        // The newest files stay, in an unbroken run up to the last one.
        let seqs: Vec<u32> = logs.iter().map(|l| sequence(l)).collect();
        let first = last + 1 - logs.len() as u32;
        assert_eq!(seqs, (first..=last).collect::<Vec<_>>(), "{limit:?}");
        assert!(first > 0, "{limit:?}: the oldest were deleted");
        let total: u64 = logs.iter().map(|l| fs::metadata(l).unwrap().len()).sum();
        match limit[0] {
            "--keep" => assert_eq!(logs.len(), 3),
            _ => assert!(total <= 200 << 10, "{total} bytes kept"),
        }
        // What is left still reads as one stream, from the first file kept.
        let (code, _, err) = run_tracer(&["report", dir.path().to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
    }
}

#[test]
fn a_task_born_in_the_first_file_and_ending_in_a_later_one_keeps_what_is_known() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let rec = record_dir(dir.path(), &["--rotate-size", "64K"]);
    // Born now (file 0), ends after the storm has rotated the log.
    let mut long = Command::new("/bin/sh")
        .args(["-c", "read x; exit 7"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = long.id() as u64;
    thread::sleep(Duration::from_millis(200));
    exec_storm("lineage-storm", 1500);
    drop(long.stdin.take());
    assert_eq!(long.wait().unwrap().code(), Some(7));
    thread::sleep(Duration::from_millis(200));
    let (code, err) = rec.stop();
    assert_eq!(code, Some(0), "{err}");
    let logs = logs_in(dir.path());
    let all = export(&[dir.path()]);
    let fork = all
        .iter()
        .find(|e| is(e, "fork") && u64_of(e, "pid") == pid)
        .expect("its fork recorded");
    let exit = all
        .iter()
        .find(|e| is(e, "exit") && u64_of(e, "pid") == pid)
        .expect("its exit recorded");
    // Its fork and its exit are in different files, two rotations apart.
    let file_of = |e: &Value| {
        logs.iter()
            .position(|l| export(&[l]).contains(e))
            .expect("in one file")
    };
    let (born_in, ended_in) = (file_of(fork), file_of(exit));
    assert!(
        ended_in >= born_in + 2,
        "born in {born_in}, ended in {ended_in}"
    );
    // Read as one stream: the task is the one seen born, to the ns (a
    // snapshot would know its start only to the clock tick).
    let start = u64_of(fork, "start_ns");
    assert_eq!(
        u64_of(exit, "lifetime_ns"),
        u64_of(exit, "boot_ns") - start,
        "{exit}"
    );
    assert_eq!(str_of(exit, "kind"), "user");
    // Its last file alone still knows it, from the header's live table.
    let alone = export(&[&logs[ended_in]]);
    let exit_alone = alone
        .iter()
        .find(|e| is(e, "exit") && u64_of(e, "pid") == pid)
        .unwrap();
    assert_eq!(str_of(exit_alone, "kind"), "user");
    let lifetime = u64_of(exit_alone, "lifetime_ns");
    assert!(
        lifetime >= u64_of(exit, "lifetime_ns")
            && lifetime < u64_of(exit, "lifetime_ns") + 20_000_000,
        "to the tick: {lifetime}"
    );
}

#[test]
fn compressed_logs_read_back_as_the_plain_ones() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let rec = record_dir(dir.path(), &["--rotate-size", "128K", "--compress"]);
    exec_storm("zst-storm", 1500);
    let (code, err) = rec.stop();
    assert_eq!(code, Some(0), "{err}");
    let logs = logs_in(dir.path());
    assert!(logs.len() >= 3, "{logs:?}");
    // Every finished file, the last one too, is compressed; none is left
    // half done.
    for l in &logs {
        assert!(l.to_str().unwrap().ends_with(".log.zst"), "{l:?}");
    }
    assert!(
        fs::read_dir(dir.path()).unwrap().all(|e| !e
            .unwrap()
            .path()
            .to_str()
            .unwrap()
            .ends_with(".partial")),
        "no partial file left"
    );
    // The reference decompressor takes them; the plain logs it gives
    // read exactly as the compressed ones.
    if Command::new("zstd").arg("--version").output().is_err() {
        skip("zstd (the reference tool) is not installed");
        return;
    }
    let plain = tempfile::tempdir().unwrap();
    let mut plain_bytes = 0;
    for l in &logs {
        let name = l.file_name().unwrap().to_str().unwrap();
        let out = plain.path().join(name.trim_end_matches(".zst"));
        let ok = Command::new("zstd")
            .args(["-q", "-d", "-o"])
            .arg(&out)
            .arg(l)
            .status()
            .unwrap();
        assert!(ok.success(), "zstd -d {l:?}");
        plain_bytes += fs::metadata(&out).unwrap().len();
    }
    let packed: u64 = logs.iter().map(|l| fs::metadata(l).unwrap().len()).sum();
    assert!(packed * 2 < plain_bytes, "{packed} of {plain_bytes} bytes");
    let zst = export(&[dir.path()]);
    assert_eq!(zst, export(&[plain.path()]));
    assert_eq!(storm_execs(&zst, "zst-storm").len(), 1500);
    assert_eq!(zst.iter().filter(|e| not_lost(e)).count(), recorded(&err));
}

#[test]
fn sighup_starts_a_new_file_in_the_directory() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let rec = record_dir(dir.path(), &[]);
    let before = dir.path().join("before-hup");
    Command::new("/bin/true").arg(&before).status().unwrap();
    rec.signal(libc::SIGHUP);
    let mut waited = 0;
    while logs_in(dir.path()).len() < 2 {
        assert!(waited < 1200, "no second file after SIGHUP");
        thread::sleep(Duration::from_millis(25));
        waited += 1;
    }
    let after = dir.path().join("after-hup");
    Command::new("/bin/true").arg(&after).status().unwrap();
    let (code, err) = rec.stop();
    assert_eq!(code, Some(0), "{err}");
    let logs = logs_in(dir.path());
    assert_eq!(logs.len(), 2, "{logs:?}");
    let has = |log: &Path, marker: &Path| {
        let marker = marker.to_str().unwrap();
        export(&[log])
            .iter()
            .any(|e| is(e, "exec") && e["argv"].as_array().unwrap().iter().any(|a| a == marker))
    };
    assert!(has(&logs[0], &before) && !has(&logs[1], &before));
    assert!(has(&logs[1], &after) && !has(&logs[0], &after));
}

#[test]
fn a_full_disk_costs_the_oldest_logs_and_every_file_stays_readable() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small");
    fs::create_dir(&mnt).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=512k", "tracer-test"])
        .arg(&mnt)
        .status()
        .unwrap();
    assert!(ok.success(), "mounting a small tmpfs");
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(&mnt);
    let logs_dir = mnt.join("logs");
    let mut rec = record_dir(&logs_dir, &["--rotate-size", "48K", "--all-signals"]);
    // A signal storm fills 512 KiB many times over, through many
    // rotations: with no --max-total, the disk's end is the bound.
    let deadline = std::time::Instant::now() + Duration::from_secs(4);
    while rec.child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
        for _ in 0..2000 {
            // SAFETY: SIGWINCH is ignored by default.
            unsafe { libc::kill(std::process::id() as i32, libc::SIGWINCH) };
        }
        thread::sleep(Duration::from_millis(10));
    }
    assert!(
        rec.child.try_wait().unwrap().is_none(),
        "the recording stopped"
    );
    let (code, err) = rec.stop();
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("no space left on device") && err.contains("deleted the oldest log"),
        "{err}"
    );
    let logs = logs_in(&logs_dir);
    assert!(logs.len() >= 3, "{logs:?}");
    assert!(sequence(&logs[0]) > 0, "the oldest went: {logs:?}");
    // Every file is whole, the last one (ended at the stop) too.
    let mut per_file = 0;
    for l in &logs {
        let (code, out, err) = run_tracer(&["export", l.to_str().unwrap()]);
        assert_eq!(code, 0, "{l:?}: {err}");
        assert!(!err.contains("no end marker"), "{l:?}: {err}");
        per_file += out.lines().count();
    }
    // All of it as one stream: everything readable is read.
    let (code, all, err) = run_tracer(&["export", logs_dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(per_file > 100, "{per_file} records");
    assert_eq!(all.lines().count(), per_file);
}

#[test]
fn mixed_boots_and_missing_files_are_said_clearly() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let rec = record_dir(dir.path(), &["--rotate-size", "64K"]);
    exec_storm("gap-storm", 1500);
    let (code, err) = rec.stop();
    assert_eq!(code, Some(0), "{err}");
    let logs = logs_in(dir.path());
    assert!(logs.len() >= 4, "{logs:?}");
    // A file from the middle is gone: damage (4), named, the rest read.
    fs::remove_file(&logs[1]).unwrap();
    let (code, out, err) = run_tracer(&["export", dir.path().to_str().unwrap()]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("1 file of the recording before"), "{err}");
    assert!(out.lines().count() > 1000);
    // A log of another boot in the set: refused, both named.
    let (mut header, _) = tracer::log::open(&logs[0]).unwrap();
    header.boot_id = "another-boot".into();
    header.hostname = "elsewhere".into();
    let other = dir.path().join("other-boot.log");
    let mut w =
        tracer::log::writer::LogWriter::new(fs::File::create(&other).unwrap(), &header).unwrap();
    w.end(header.started_boot_ns + 1).unwrap();
    drop(w);
    let (code, _, err) =
        run_tracer(&["replay", logs[0].to_str().unwrap(), other.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("from different boots"), "{err}");
    assert!(
        err.contains("other-boot.log") && err.contains("elsewhere"),
        "{err}"
    );
}

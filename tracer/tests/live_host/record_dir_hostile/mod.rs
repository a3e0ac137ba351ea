//! Live tests of `record --dir` against a local user out to blind it
//! (issue 22; uid 65534 through `setpriv`): a rename storm on a small disk
//! with `--max-total` a hard bound, a disk another writer fills, a
//! directory others can write to (refused, or accepted on request with
//! planted files neither deleted nor read and planted names passed over),
//! the debris of a crash, and bad values. Host only (it mounts tmpfs and
//! storms), hence in `live_host`.

use std::{
    fs,
    os::unix::{
        fs::{MetadataExt as _, PermissionsExt as _},
        process::CommandExt as _,
    },
    path::{Path, PathBuf},
    process::Command,
    thread,
    time::{Duration, Instant},
};

use crate::common::*;

mod support;
use support::*;

/// `--max-total`: the 6M less a little, so that it is no
/// multiple of the file size and a bound kept only at rotations (as it
/// was) shows while the file being written grows.
const MAX_TOTAL: u64 = 6000 << 10;

/// Reproduction 1: `--max-total` about 6M on an 8 MiB tmpfs, two storms of a
/// million renames by uid 65534 (with `fill`, another writer fills the
/// disk meanwhile). The bound holds at every sample, the recorder is
/// running at the end, and every file it left reads whole.
fn bound_holds_under_a_storm(extra: &[&str], fill: bool) {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("small");
    let _tmpfs = Tmpfs::mount(&mnt, "8m");
    let dir = mnt.join("R");
    let mut args = vec!["--rotate-size", "512K", "--max-total", "6000K"];
    args.extend_from_slice(extra);
    let mut rec = start(&dir, &args);
    let sampler = Sampler::start(&dir);
    let filler = fill.then(|| fill_disk(mnt.join("filler"), dir.clone(), 1 << 20));
    let storm = Storm::build();
    storm.renames(1_000_000);
    storm.renames(1_000_000);
    let filled = filler.map(|f| f.join().unwrap());
    thread::sleep(Duration::from_millis(300));
    let (samples, most) = sampler.finish();
    assert!(
        rec.running(),
        "{args:?}: the recorder stopped: {}",
        rec.said()
    );
    let (code, err) = rec.stop();
    assert_eq!(code, Some(0), "{args:?}: {err}");
    assert!(samples >= 10, "{samples} samples");
    eprintln!("{args:?}: {samples} samples, at most {most} bytes of {MAX_TOTAL}");
    assert!(
        most <= MAX_TOTAL,
        "{args:?}: tracer's files took {most} bytes, over --max-total ({MAX_TOTAL})"
    );
    // "tracer: stopped: recorded N events (B bytes) to F files in DIR"
    let files: u64 = err
        .lines()
        .find(|l| l.contains("recorded "))
        .and_then(|l| l.split(" to ").nth(1))
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no file count in: {err}"));
    assert!(
        files > 12,
        "{args:?}: the storms rotated {files} files only"
    );
    if let Some(filled) = filled {
        assert!(filled > 0, "the other writer wrote nothing");
        assert!(
            err.contains("no space left on device") && err.contains("recording goes on"),
            "{args:?}: a full disk is said: {err}"
        );
    }
    assert!(all_whole(&dir) >= 2, "{args:?}");
}

#[test]
fn max_total_holds_under_a_rename_storm() {
    bound_holds_under_a_storm(&[], false);
}

#[test]
fn max_total_holds_under_a_rename_storm_with_compression() {
    bound_holds_under_a_storm(&["--compress"], false);
}

#[test]
fn a_disk_another_writer_fills_costs_the_oldest_logs_not_the_recording() {
    bound_holds_under_a_storm(&["--compress"], true);
}

/// Runs tracer with `args`, which must exit within 10 s (a recording
/// that starts instead is stopped, and the test fails).
fn refused(args: &[String]) -> (Option<i32>, String) {
    let mut child = Command::new(tracer_exe())
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(10) {
            kill(child.id(), libc::SIGINT);
            let out = child.wait_with_output().unwrap();
            panic!(
                "{args:?} started recording: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn directories_others_can_write_are_refused_and_a_private_one_accepted() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let mode = |p: &Path, m: u32| fs::set_permissions(p, fs::Permissions::from_mode(m)).unwrap();
    // DIR writable by everyone (1777), or by its group.
    for m in [0o1777, 0o770] {
        let loose = tmp.path().join(format!("loose-{m:o}"));
        fs::create_dir(&loose).unwrap();
        mode(&loose, m);
        let (code, err) = refused(&recorder_args(&loose, &[]));
        assert_eq!(code, Some(2), "mode {m:o}: {err}");
        assert!(
            err.contains("writable by other users") && err.contains("--allow-unsafe-dir"),
            "{err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "one sentence: {err}");
        assert!(
            fs::read_dir(&loose).unwrap().next().is_none(),
            "no file made"
        );
    }
    // DIR owned by another user.
    let theirs = tmp.path().join("theirs");
    fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    let (code, err) = refused(&recorder_args(&theirs, &[]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("owned by uid 65534"), "{err}");
    // A parent anyone can write to, not sticky: DIR could be swapped.
    let open = tmp.path().join("open");
    fs::create_dir(&open).unwrap();
    mode(&open, 0o777);
    let (code, err) = refused(&recorder_args(&open.join("logs"), &[]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("not sticky"), "{err}");
    // What is fine is accepted: a root-owned 0700 directory under the
    // sticky /tmp, and one tracer creates.
    accepted(tmp.path());
}

#[test]
fn max_total_below_twice_the_rotate_size_is_refused() {
    // Today's tracer would start recording instead.
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let fine = tmp.path().join("fine");
    let (code, err) = refused(&recorder_args(
        &fine,
        &["--rotate-size", "1M", "--max-total", "1500K"],
    ));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--max-total") && err.contains("twice --rotate-size"),
        "{err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("Custom {"),
        "{err}"
    );
}

#[test]
fn a_max_total_too_small_for_the_header_deletes_nothing() {
    // Today's tracer would delete the earlier log, then refuse.
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("R");
    let (code, err) = start(&dir, &[]).stop();
    assert_eq!(code, Some(0), "{err}");
    let before = own_logs(&dir);
    assert_eq!(before.len(), 1, "{before:?}");
    let bytes = fs::metadata(&before[0]).unwrap().len();
    // Accepted by the option check (twice --rotate-size), yet a file is
    // its header plus 64 KiB for a record at least: more than 96K once 16
    // tasks with 4 KiB command lines are in the header.
    let long = "x".repeat(4096);
    let mut big: Vec<_> = (0..16)
        .map(|_| {
            // `; :` keeps sh (and its command line) from being replaced;
            // a group of its own is killed whole, sleep included.
            Command::new("sh")
                .args(["-c", "sleep 30; :", &long])
                .process_group(0)
                .spawn()
                .unwrap()
        })
        .collect();
    let (code, err) = refused(&recorder_args(
        &dir,
        &["--rotate-size", "48K", "--max-total", "96K"],
    ));
    for child in &mut big {
        // SAFETY: kill() on the process group of a child we spawned.
        unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
        let _ = child.wait();
    }
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("more than --rotate-size (49152 bytes)") && err.contains("no log was deleted"),
        "{err}"
    );
    assert_eq!(own_logs(&dir), before, "{err}");
    assert_eq!(fs::metadata(&before[0]).unwrap().len(), bytes);
}

/// A root-owned 0700 directory `tmp` under /tmp is accepted, with no
/// warning; a DIR tracer creates there (with its parents) is 0700.
fn accepted(tmp: &Path) {
    fs::set_permissions(tmp, fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(fs::metadata(tmp).unwrap().uid(), 0);
    assert!(tmp.starts_with("/tmp"), "{tmp:?}");
    let private = tmp.join("private");
    fs::create_dir(&private).unwrap();
    fs::set_permissions(&private, fs::Permissions::from_mode(0o700)).unwrap();
    let rec = start(&private, &["--rotate-size", "64K"]);
    let (code, err) = rec.stop();
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("writable"), "{err}");
    let made = tmp.join("new").join("logs");
    let rec = start(&made, &[]);
    let (code, err) = rec.stop();
    assert_eq!(code, Some(0), "{err}");
    for d in [made.parent().unwrap(), &made] {
        assert_eq!(fs::metadata(d).unwrap().mode() & 0o7777, 0o700, "{d:?}");
    }
    assert_eq!(own_logs(&made).len(), 1);
}

/// Runs `n` execs of /bin/true from one shell.
fn exec_storm(tag: &str, n: usize) {
    let script = format!("i=0; while [ $i -lt {n} ]; do /bin/true {tag}-$i; i=$((i+1)); done");
    assert!(Command::new("/bin/sh")
        .args(["-c", &script])
        .status()
        .unwrap()
        .success());
}

#[test]
fn planted_files_are_neither_deleted_nor_read_and_planted_names_never_stop_it() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    // A real log of this boot, with a marker exec: what uid 65534 plants.
    let forged = tmp.path().join("forged.log");
    let rec = start_recording(&forged, &[]);
    Command::new("/bin/true")
        .arg("FORGED-marker")
        .status()
        .unwrap();
    thread::sleep(Duration::from_millis(200));
    stop_recording(rec);
    fs::set_permissions(&forged, fs::Permissions::from_mode(0o644)).unwrap();
    // The loose directory: anyone may write (accepted on request).
    let dir = tmp.path().join("loose");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o1777)).unwrap();
    let past = "tracer-20200101T000000.000Z-000001.log";
    let future = "tracer-20991231T235959.999Z-000001.log";
    let d = dir.to_str().unwrap();
    as_attacker(&format!(
        "cp {f} {d}/{past} && cp {f} {d}/{future}",
        f = forged.display()
    ));
    let rec = start(
        &dir,
        &["--allow-unsafe-dir", "--rotate-size", "48K", "--keep", "2"],
    );
    // Then every name the recording's next files could take in the next seconds.
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i128;
    // Files 1 to 3 of the recording: file 1 may exist already (the
    // recorder was quicker), so the SIGHUP's file 2 is the one that finds
    // its name taken.
    let names: Vec<String> = (1..=3)
        .flat_map(|seq| {
            (-1000..5000)
                .map(move |ms| tracer::log::rotate::file_name(now_ns + ms * 1_000_000, seq))
        })
        .collect();
    let list = tmp.path().join("names");
    fs::write(&list, names.join("\n")).unwrap();
    fs::set_permissions(&list, fs::Permissions::from_mode(0o644)).unwrap();
    // One of these names may be the recording's own first file, which
    // uid 65534 cannot touch: every other name is still planted.
    as_attacker(&format!(
        "cd {d} && {{ xargs touch < {l} 2>/dev/null; true; }}",
        l = list.display()
    ));
    // What uid 65534 did plant (not the recording's own file 1).
    let planted: Vec<&String> = names
        .iter()
        .filter(|n| fs::metadata(dir.join(n.as_str())).is_ok_and(|m| m.uid() == 65534))
        .collect();
    assert!(planted.len() >= names.len() - 1, "planting failed");
    // The next file's name is taken (SIGHUP now), and rotations follow.
    kill(rec.child.id(), libc::SIGHUP);
    thread::sleep(Duration::from_millis(300));
    exec_storm("planted-storm", 800);
    let (code, err) = rec.stop();
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("was taken by a file tracer did not write"),
        "{err}"
    );
    // Nothing planted was deleted; --keep 2 kept tracer's own two newest.
    for name in [past, future]
        .iter()
        .copied()
        .chain(planted.iter().map(|s| s.as_str()))
    {
        assert!(dir.join(name).exists(), "{name} was deleted");
    }
    let own = own_logs(&dir);
    assert_eq!(own.len(), 2, "{own:?}");
    let seq = |p: &Path| {
        let n = p.file_name().unwrap().to_str().unwrap();
        n.rsplit_once("Z-").unwrap().1[..6].parse::<u32>().unwrap()
    };
    assert!(seq(&own[1]) >= 3, "rotated: {own:?}");
    // Read as a directory: the planted logs are skipped, said.
    let (code, out, err) = run_tracer(&["export", d]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!("skipping {d}/{past} (uid 65534)")),
        "{err}"
    );
    assert!(!out.contains("FORGED-marker"), "a planted log was read");
    assert!(out.contains("planted-storm"), "tracer's own logs are read");
    // Asked for, they are read.
    let (_, out, _) = run_tracer(&["export", "--include-foreign", d]);
    assert!(out.contains("FORGED-marker"));
}

#[test]
fn a_compression_killed_midway_is_cleared_and_finished_by_the_next_run() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("R");
    let partial = |dir: &Path| {
        fs::read_dir(dir)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.to_str().unwrap().ends_with(".zst.partial"))
    };
    // Killed (SIGKILL) while it compresses: tried until the kill lands
    // during a compression.
    let renamer = Storm::build();
    let mut left = None;
    for _ in 0..3 {
        let _ = fs::remove_dir_all(&dir);
        let mut rec = start(&dir, &["--rotate-size", "4M", "--compress"]);
        let exe = renamer.exe.clone();
        let storm = thread::spawn(move || rename_storm(&exe, 1_000_000));
        let start = Instant::now();
        while partial(&dir).is_none() && start.elapsed() < Duration::from_secs(30) {
            thread::sleep(Duration::from_millis(1));
        }
        kill(rec.child.id(), libc::SIGKILL);
        let _ = rec.child.wait();
        storm.join().unwrap();
        if let Some(p) = partial(&dir) {
            left = Some(p);
            break;
        }
    }
    let partial_left = left.expect("a .zst.partial left by the kill");
    let plain: Vec<PathBuf> = own_logs(&dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    assert!(plain.len() >= 2, "the killed run's plain logs: {plain:?}");
    // The next run clears the debris and compresses the killed run's logs.
    let rec = start(&dir, &["--compress"]);
    let (code, err) = rec.stop();
    assert_eq!(code, Some(0), "{err}");
    assert!(!partial_left.exists() && partial(&dir).is_none(), "{err}");
    for p in &plain {
        let mut zst = p.clone().into_os_string();
        zst.push(".zst");
        assert!(!p.exists(), "{p:?} still plain");
        assert!(Path::new(&zst).exists(), "{zst:?} missing");
        let ok = Command::new("zstd")
            .args(["-q", "-t"])
            .arg(&zst)
            .status()
            .unwrap();
        assert!(ok.success(), "zstd -t {zst:?}");
    }
}

#[test]
fn a_disk_too_full_for_the_file_being_written_stops_it_clearly() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("tiny");
    let _tmpfs = Tmpfs::mount(&mnt, "256k");
    let dir = mnt.join("R");
    let storm = Storm::build();
    let mut rec = start(&dir, &["--rotate-size", "48K"]);
    // Everything left goes to another writer at once: no older log to
    // delete, and the current file cannot grow.
    let filled = fill_disk(mnt.join("filler"), dir.clone(), 0)
        .join()
        .unwrap();
    assert!(filled > 0);
    let start = Instant::now();
    while rec.running() && start.elapsed() < Duration::from_secs(30) {
        storm.renames(20_000);
    }
    let (code, err) = rec.stop();
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("the file being written alone does not fit"),
        "{err}"
    );
    // What it holds reads, up to its last complete record.
    let logs = own_logs(&dir);
    assert_eq!(logs.len(), 1, "{logs:?}");
    let (code, _, err) = run_tracer(&["export", logs[0].to_str().unwrap()]);
    assert!(code == 0 || code == 4, "{err}");
}

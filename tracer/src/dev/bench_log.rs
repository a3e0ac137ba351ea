//! `tracer bench-log KIND FILE MB` (hidden): writes a hostile input of about
//! MB megabytes for `cargo xtask bench` and the tests, built with the real
//! log writer so each one attacks the reader where it is weakest:
//!
//! - `resync`: a valid header, then units of a frame head claiming 64 MiB
//!   with a bad checksum followed by a valid end frame, then zeros (each
//!   head once made the reader checksum 64 MiB: quadratic);
//! - `garbage`: a valid header, then pseudo-random bytes;
//! - `argv`: a header whose one task claims millions of empty arguments;
//! - `cycle`: a header of 100,000 tasks whose parents form one cycle (each
//!   lineage walk once went round it: quadratic);
//! - `sparse`: a file of MB megabytes that is one hole (not a log);
//! - `records`: a valid header, then one exit record repeated (valid data,
//!   compressed into a bomb by the bench);
//! - `starts`: a valid header, then frame heads claiming a whole event
//!   record with a bad checksum and no valid record (each head costs a
//!   record's checksum).
//!
//! - `events`: not hostile: a valid header, then MB *thousand* events of
//!   a busy machine (fork, exec with arguments, exit of 90,000 distinct
//!   tasks in turn), for the Parquet export's bench.
//!
//! `records`, `starts` and `events` are written as they are made (FILE
//! may be a pipe: the bench compresses gigabytes of them).

use std::{
    fs::File,
    io::{BufWriter, Write as _},
    path::Path,
};

use anyhow::{bail, Context as _, Result};
use tracer_common::{
    EventKind, ExecEvent, ExitEvent, ForkEvent, Header, KernelFilter, Plain, TaskInfo,
    FORMAT_VERSION,
};

use crate::{
    log::{header::LogHeader, writer::LogWriter},
    model::procfs::ProcTask,
};

fn header(tasks: Vec<ProcTask>) -> LogHeader {
    LogHeader {
        event_format: FORMAT_VERSION,
        tracer_version: env!("CARGO_PKG_VERSION").into(),
        kernel_release: "6.18.0".into(),
        hostname: "bench".into(),
        boot_id: "bench".into(),
        machine_id: "bench".into(),
        boot_epoch_ns: 0,
        started_boot_ns: 0,
        ticks_per_sec: 100,
        init_cgroup: None,
        kernel_filter: KernelFilter::ALL,
        tasks,
        missing: Vec::new(),
        part: Default::default(),
    }
}

fn task(pid: u32, argv: Vec<String>) -> ProcTask {
    ProcTask {
        pid,
        tgid: pid,
        ppid: 0,
        flags: 0,
        comm: "bench".into(),
        start_ticks: 1,
        state: 'S',
        has_mm: true,
        kthread_line: None,
        cgroup: None,
        argv,
    }
}

/// Writes a valid preamble and header holding `tasks` into `out`.
fn log_with(out: &mut Vec<u8>, tasks: Vec<ProcTask>) -> Result<()> {
    LogWriter::new(&mut *out, &header(tasks)).context("writing a header")?;
    Ok(())
}

pub fn run(kind: &str, path: &Path, mb: u64) -> Result<()> {
    let size = mb << 20;
    let mut file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    match kind {
        "sparse" => file.set_len(size)?,
        "resync" => {
            let mut out = Vec::new();
            log_with(&mut out, vec![task(1, Vec::new())])?;
            let mut end = Vec::new();
            // A valid end frame: the writer's own bytes.
            let mut w = LogWriter::new(&mut end, &header(Vec::new()))?;
            let before = w.written() as usize;
            w.end(1)?;
            drop(w);
            let end = end[before..].to_vec();
            let mut unit = Vec::new();
            unit.extend_from_slice(&(64u32 << 20).to_le_bytes());
            unit.extend_from_slice(&0xdead_beef_u32.to_le_bytes());
            unit.extend_from_slice(&end);
            // Half units, half zeros.
            while (out.len() as u64) < size / 2 {
                out.extend_from_slice(&unit);
            }
            out.resize(size as usize, 0);
            file.write_all(&out)?;
        }
        "garbage" => {
            let mut out = Vec::new();
            log_with(&mut out, vec![task(1, Vec::new())])?;
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
            while (out.len() as u64) < size {
                // xorshift64*: deterministic noise.
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                out.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
            }
            file.write_all(&out)?;
        }
        "argv" => {
            // Each empty argument costs 4 bytes; stay under the header limit.
            let args = (size.min(30 << 20) / 4) as usize;
            let mut out = Vec::new();
            log_with(&mut out, vec![task(1, vec![String::new(); args])])?;
            file.write_all(&out)?;
        }
        "cycle" => {
            const TASKS: u32 = 100_000;
            let tasks = (0..TASKS)
                .map(|i| ProcTask {
                    ppid: 1000 + (i + 1) % TASKS,
                    ..task(1000 + i, Vec::new())
                })
                .collect();
            let mut out = Vec::new();
            log_with(&mut out, tasks)?;
            file.write_all(&out)?;
        }
        "records" => {
            let mut out = BufWriter::with_capacity(1 << 20, file);
            let mut w = LogWriter::new(&mut out, &header(vec![task(1, Vec::new())]))?;
            let raw = exit_record();
            while w.written() < size {
                w.event(&raw)?;
            }
            w.end(2)?;
            drop(w);
            out.flush()?;
        }
        "starts" => {
            let mut out = Vec::new();
            log_with(&mut out, vec![task(1, Vec::new())])?;
            // Length of a whole event record (type byte and 1024 bytes),
            // a checksum that fails, the event type: nine bytes.
            let mut unit = Vec::new();
            unit.extend_from_slice(&1025u32.to_le_bytes());
            unit.extend_from_slice(&0xdead_beef_u32.to_le_bytes());
            unit.push(crate::log::FRAME_EVENT);
            let chunk = unit.repeat((1 << 20) / unit.len());
            let mut out_file = BufWriter::with_capacity(1 << 20, file);
            out_file.write_all(&out)?;
            let mut written = out.len() as u64;
            while written < size {
                out_file.write_all(&chunk)?;
                written += chunk.len() as u64;
            }
            out_file.flush()?;
        }
        "events" => events(file, mb.saturating_mul(1000))?,
        other => bail!(
            "unknown hostile input `{other}` (resync, garbage, argv, cycle, sparse, records, \
             starts, events)"
        ),
    }
    Ok(())
}

/// Task `pid` (its own group) named `bench`, started at `start`.
fn bench_task(pid: u32, start: u64) -> TaskInfo {
    let mut comm = [0u8; tracer_common::COMM_LEN];
    comm[..5].copy_from_slice(b"bench");
    TaskInfo {
        start_boottime: start,
        pid,
        tgid: pid,
        ppid: 0,
        flags: 0,
        comm,
        has_mm: 1,
        _pad: [0; 7],
        uid: 0,
        gid: 0,
        cgroup_id: 0,
        pidns_inum: 0,
        ns_pid: 0,
        mntns_inum: 0,
        context: 0,
    }
}

fn bytes<T: Plain>(v: &T) -> Vec<u8> {
    // SAFETY: T is Plain (repr(C), explicit padding fields), so all of
    // its bytes are initialized.
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()) }.to_vec()
}

/// The bytes of an exit record of pid 1 at boot time 1.
fn exit_record() -> Vec<u8> {
    bytes(&ExitEvent {
        header: Header::new(EventKind::Exit, 0, 1),
        task: bench_task(1, 1),
        exit_code: 0,
        group_dead: 1,
        _pad: [0; 3],
    })
}

/// `count` events: each of 90,000 tasks in turn is forked by pid 1,
/// execs `/usr/bin/bench-job --id N` and exits, 1 µs apart.
fn events(file: File, count: u64) -> Result<()> {
    const TASKS: u64 = 90_000;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut w = LogWriter::new(&mut out, &header(vec![task(1, Vec::new())]))?;
    let parent = bench_task(1, 1);
    let mut boot_ns = 1_000_000_000u64;
    for n in 0..count {
        boot_ns += 1000;
        let i = n / 3;
        let pid = 1000 + (i % TASKS) as u32;
        let start = boot_ns - (n % 3) * 1000;
        let child = TaskInfo {
            ppid: 1,
            uid: 1000,
            gid: 1000,
            context: tracer_common::CTX_CREDS,
            ..bench_task(pid, start)
        };
        let cpu = (n % 4) as u32;
        let raw = match n % 3 {
            0 => bytes(&ForkEvent {
                header: Header::new(EventKind::Fork, cpu, boot_ns),
                creator: parent,
                child,
                clone_flags: 0x1200011,
            }),
            1 => {
                let mut filename = [0u8; tracer_common::FILENAME_LEN];
                let path = b"/usr/bin/bench-job";
                filename[..path.len()].copy_from_slice(path);
                let args_text = format!("bench-job\0--id\0{i}\0");
                let mut args = [0u8; tracer_common::ARGS_LEN];
                args[..args_text.len()].copy_from_slice(args_text.as_bytes());
                bytes(&ExecEvent {
                    header: Header::new(EventKind::Exec, cpu, boot_ns),
                    task: child,
                    old_pid: pid,
                    filename_len: path.len() as u16,
                    args_len: args_text.len() as u16,
                    argc: 3,
                    args_total: args_text.len() as u32,
                    filename_truncated: 0,
                    _pad: [0; 7],
                    filename,
                    args,
                })
            }
            _ => bytes(&ExitEvent {
                header: Header::new(EventKind::Exit, cpu, boot_ns),
                task: child,
                exit_code: ((i % 3) as u32) << 8,
                group_dead: 1,
                _pad: [0; 3],
            }),
        };
        w.event(&raw)?;
    }
    w.end(boot_ns + 1)?;
    drop(w);
    out.flush()?;
    Ok(())
}

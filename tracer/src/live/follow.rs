//! Following a command or a subtree: `tracer trace -- CMD ARGS...` starts
//! CMD once tracing is attached and traces it and every descendant;
//! `--follow PID` does the same for a running process. The followed thread
//! groups live in a kernel map (tracer-ebpf `follow.rs`), so the events of
//! every other task are dropped before they cost a record.
//!
//! CMD is forked before the programs load and waits, before its exec, on a
//! pipe: the session puts its pid in the map, attaches, and only then lets
//! it go, so its exec is its first event and none of its descendants is
//! missed; its lifetime counts from that exec (the task table is told),
//! not from the fork. Its standard streams are tracer's own (its output interleaves
//! with `trace`'s, as strace's does; `record -o FILE` keeps them apart).

use std::{
    cell::Cell,
    ffi::OsString,
    io::Read as _,
    os::{
        fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
        unix::{
            fs::PermissionsExt as _,
            process::{CommandExt as _, ExitStatusExt as _},
        },
    },
    path::{Path, PathBuf},
    process::{Command, ExitStatus},
    rc::Rc,
    sync::mpsc,
    time::Duration,
};

use anyhow::{bail, Context as _, Result};
use tokio::io::{unix::AsyncFd, Interest};
use tracer_common::{read_plain, EventKind, ExitEvent, Header, FOLLOW_DEAD};

use crate::{
    kernel::loader,
    model::procfs::ProcTask,
    output::{
        diag::{UsageError, EXIT_USAGE},
        no_task,
    },
};

/// What a session follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A command tracer starts: its argv.
    Command(Vec<OsString>),
    /// A running process (a tgid) and its descendants.
    Pid(u32),
}

/// How a session follows.
#[derive(Clone, Debug)]
pub struct FollowOptions {
    pub target: Target,
    /// Go on after CMD (or PID) exits, until every followed task has.
    pub keep_following: bool,
    /// Capacity of the kernel's map of followed thread groups.
    pub map_entries: u32,
    /// Where the session leaves the exit status tracer should end with.
    pub exit: ExitSlot,
}

impl FollowOptions {
    pub fn new(target: Target, keep_following: bool) -> FollowOptions {
        FollowOptions {
            target,
            keep_following,
            map_entries: tracer_common::FOLLOW_MAP_ENTRIES,
            exit: ExitSlot::default(),
        }
    }
}

/// The exit status a following session ends with: CMD's (a signal death
/// as 128+N, as shells say it), or PID's as its exit event told; `None`
/// when tracing stopped before it ended.
#[derive(Clone, Debug, Default)]
pub struct ExitSlot(Rc<Cell<Option<u8>>>);

impl ExitSlot {
    pub fn get(&self) -> Option<u8> {
        self.0.get()
    }

    fn set(&self, status: u8) {
        self.0.set(Some(status));
    }
}

/// CMD could not be started (not found, not executable): tracer exits
/// with [`Unstartable::status`], 127 or 126, as a shell does.
#[derive(Debug)]
pub struct Unstartable {
    pub command: String,
    pub why: String,
    pub status: u8,
}

impl std::fmt::Display for Unstartable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.command, self.why)
    }
}

impl std::error::Error for Unstartable {}

/// Shell statuses for a command that cannot run.
pub const EXIT_NOT_FOUND: u8 = 127;
pub const EXIT_NOT_EXECUTABLE: u8 = 126;

/// Checks, before anything is loaded or created, that the target can be
/// followed: CMD resolves to an executable file (else [`Unstartable`]),
/// PID is a running process. Returns the target with PID as a tgid.
fn check(target: &Target, proc_root: &Path) -> Result<Target> {
    match target {
        Target::Command(argv) => {
            resolve(argv)?;
            Ok(target.clone())
        }
        Target::Pid(pid) => Ok(Target::Pid(tgid_of(*pid, proc_root)?)),
    }
}

/// A following session's start, before anything is loaded or created:
/// the target [`check`]ed and resolved in place, and where the status to
/// end with will be; tracer ends here ([`fail`]) when it cannot follow.
/// `None` when the session does not follow.
pub fn checked(follow: &mut Option<FollowOptions>, proc_root: &Path) -> Option<ExitSlot> {
    let f = follow.as_mut()?;
    match check(&f.target, proc_root) {
        Ok(target) => {
            f.target = target;
            Some(f.exit.clone())
        }
        Err(e) => fail(e),
    }
}

/// Where `argv[0]` is found, as execvp would look for it.
fn resolve(argv: &[OsString]) -> Result<PathBuf> {
    let Some(name) = argv.first() else {
        bail!("no command given after --");
    };
    let unstartable = |why: String, status: u8| Unstartable {
        command: name.to_string_lossy().into_owned(),
        why,
        status,
    };
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let name_path = Path::new(name);
    if name.as_encoded_bytes().contains(&b'/') {
        return match std::fs::metadata(name_path) {
            Err(e) => Err(unstartable(e.to_string(), EXIT_NOT_FOUND).into()),
            Ok(_) if executable(name_path) => Ok(name_path.to_path_buf()),
            Ok(_) => Err(unstartable("not an executable file".into(), EXIT_NOT_EXECUTABLE).into()),
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| executable(p))
        .ok_or_else(|| unstartable("command not found".into(), EXIT_NOT_FOUND).into())
}

/// The thread group of `pid`, from procfs.
fn tgid_of(pid: u32, proc_root: &Path) -> Result<u32> {
    let path = proc_root.join(pid.to_string()).join("status");
    let status = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!(no_task(pid));
        }
        Err(e) => {
            return Err(e).with_context(|| format!("--follow {pid}: reading {}", path.display()))
        }
    };
    let tgid = status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|t| t.trim().parse().ok())
        .with_context(|| format!("--follow {pid}: no Tgid in {}", path.display()))?;
    if tgid != pid {
        crate::say!("tracer: note: {pid} is a thread of process {tgid}: following {tgid}");
    }
    Ok(tgid)
}

/// The processes under `root` (itself included), from a procfs listing
/// (threads are left out: the kernel follows thread groups).
pub fn subtree(root: u32, tasks: &[ProcTask]) -> Vec<u32> {
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        for t in tasks {
            if t.pid == t.tgid && t.ppid == parent && t.pid != parent && !found.contains(&t.pid) {
                found.push(t.pid);
            }
        }
        i += 1;
    }
    found
}

/// A shell's exit status for a wait status: the code, or 128+N for a
/// death by signal N.
pub fn shell_status(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code as u8,
        (None, Some(sig)) => 128u8.wrapping_add(sig as u8),
        (None, None) => 1,
    }
}

/// The same from a task's `exit_code` as the kernel keeps it: low 7 bits
/// the killing signal, bits 8..16 the status.
pub fn shell_status_of_exit_code(exit_code: u32) -> u8 {
    match exit_code & 0x7f {
        0 => (exit_code >> 8) as u8,
        sig => 128 + sig as u8,
    }
}

/// Ends tracer for an error of a following session, with the status a
/// shell gives it: 127 or 126 for a command that cannot start, else 1.
pub fn fail(e: anyhow::Error) -> ! {
    crate::say!("tracer: error: {e:#}");
    let status = match e.downcast_ref::<Unstartable>() {
        Some(u) => u.status,
        None if e.downcast_ref::<UsageError>().is_some() => EXIT_USAGE,
        None => 1,
    };
    exit_now(status)
}

/// Ends a following session's command: with CMD's (or PID's) status once
/// output is done, or as [`fail`] says for an error.
pub fn end(result: Result<()>, exit: &ExitSlot) -> Result<()> {
    match result {
        Err(e) => fail(e),
        // A diagnostic that could not be written fails tracer, as always.
        Ok(()) if crate::output::diag::failed() => exit_now(1),
        Ok(()) => match exit.get() {
            Some(status) => exit_now(status),
            None => Ok(()),
        },
    }
}

/// Exits with `status` now, output flushed. (The caller's stack is not
/// unwound: everything on it is done.)
fn exit_now(status: u8) -> ! {
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    std::process::exit(i32::from(status))
}

/// A pipe whose ends are closed on exec: (read, write).
fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into the array we own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error()).context("creating a pipe");
    }
    // SAFETY: both fds are new and owned by nothing else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// CMD, forked and waiting before its exec for [`Launch::release`].
pub struct Launch {
    pid: u32,
    command: String,
    /// Written once to let CMD exec; dropped unwritten, CMD exits unrun.
    go: Option<OwnedFd>,
    /// Reaches end of file once CMD has ended (or failed to start) and its
    /// status is in `status`.
    done: OwnedFd,
    status: mpsc::Receiver<std::io::Result<ExitStatus>>,
}

impl Launch {
    /// Forks CMD, stopped before its exec. The fork and the wait for CMD
    /// run on a thread: `Command::spawn` returns only once CMD has exec'd.
    pub fn start(argv: &[OsString]) -> Result<Launch> {
        let command = argv
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ");
        let (pid_r, pid_w) = pipe()?;
        let (go_r, go_w) = pipe()?;
        let (done_r, done_w) = pipe()?;
        let (pid_fd, go_r_fd, go_w_fd) = (pid_w.as_raw_fd(), go_r.as_raw_fd(), go_w.as_raw_fd());
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]);
        // SAFETY: the hook runs in the forked child before exec and calls
        // only async-signal-safe functions (close, getpid, write, read) on
        // fds it inherited; it allocates nothing but an io::Error from a
        // raw errno.
        unsafe {
            cmd.pre_exec(move || {
                // The child's copy of the release pipe's write end: without
                // it, tracer's going away ends the wait below.
                libc::close(go_w_fd);
                let pid = libc::getpid().to_ne_bytes();
                if libc::write(pid_fd, pid.as_ptr().cast(), pid.len()) != pid.len() as isize {
                    return Err(std::io::Error::last_os_error());
                }
                let mut byte = 0u8;
                loop {
                    match libc::read(go_r_fd, (&raw mut byte).cast(), 1) {
                        1 => return Ok(()),
                        // Tracer gave up (or died) before attaching.
                        0 => return Err(std::io::Error::from_raw_os_error(libc::ECANCELED)),
                        _ if *libc::__errno_location() == libc::EINTR => continue,
                        _ => return Err(std::io::Error::last_os_error()),
                    }
                }
            });
        }
        let (tx, status) = mpsc::channel();
        std::thread::Builder::new()
            .name("tracer-cmd".into())
            .spawn(move || {
                let spawned = cmd.spawn();
                // CMD has exec'd or failed: tracer's ends of the set-up pipes
                // go (a fork that failed gives the reader its end of file).
                drop((pid_w, go_r));
                let status = spawned.and_then(|mut child| child.wait());
                let _ = tx.send(status);
                drop(done_w);
            })
            .context("starting the thread that runs the command")?;
        let mut pid = [0u8; 4];
        let mut pid_r = std::fs::File::from(pid_r);
        if pid_r.read_exact(&mut pid).is_err() {
            let why = match status.recv() {
                Ok(Err(e)) => e.to_string(),
                _ => "it ended before it could be followed".into(),
            };
            bail!("starting {command}: {why}");
        }
        Ok(Launch {
            pid: i32::from_ne_bytes(pid) as u32,
            command,
            go: Some(go_w),
            done: done_r,
            status,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Lets CMD exec.
    pub fn release(&mut self) -> Result<()> {
        if let Some(go) = self.go.take() {
            let mut go = std::fs::File::from(go);
            std::io::Write::write_all(&mut go, b"g").context("starting the command")?;
        }
        Ok(())
    }
}

/// A session's following: what it waits for, and what it has seen.
pub struct Follower {
    keep_following: bool,
    exit: ExitSlot,
    /// PID, with `--follow`.
    pid: Option<u32>,
    launch: Option<Launch>,
    /// `launch.done`, polled by the session once running.
    done: Option<AsyncFd<OwnedFd>>,
    /// CMD's status, once it ended.
    cmd_status: Option<ExitStatus>,
    /// `--follow`: PID's exit code, from its leader's exit event.
    pid_exit_code: Option<u32>,
    /// Checks in a row that found no live followed group.
    none_live: u32,
    /// Dead groups at the last sweep.
    dead_before: Vec<u32>,
}

/// What the session does after a check.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    Continue,
    /// Everything followed is over: stop (the rings are drained after).
    Stop,
}

impl Follower {
    /// Starts following: forks CMD (stopped) for a command. Call before
    /// loading, so CMD holds none of the programs' fds.
    pub fn prepare(opts: &FollowOptions) -> Result<Follower> {
        let (pid, launch) = match &opts.target {
            Target::Command(argv) => (None, Some(Launch::start(argv)?)),
            Target::Pid(pid) => (Some(*pid), None),
        };
        Ok(Follower {
            keep_following: opts.keep_following,
            exit: opts.exit.clone(),
            pid,
            launch,
            done: None,
            cmd_status: None,
            pid_exit_code: None,
            none_live: 0,
            dead_before: Vec::new(),
        })
    }

    /// The thread groups to follow, from a procfs listing (CMD alone, or
    /// PID and its descendants).
    pub fn groups(&self, tasks: &[ProcTask]) -> Vec<u32> {
        match (&self.launch, self.pid) {
            (Some(launch), _) => vec![launch.pid],
            // Not tracer itself, when PID is its shell.
            (None, Some(pid)) => subtree(pid, tasks)
                .into_iter()
                .filter(|&t| t != std::process::id())
                .collect(),
            (None, None) => Vec::new(),
        }
    }

    /// The pid of the command tracer started, if it started one.
    pub fn command_pid(&self) -> Option<u32> {
        self.launch.as_ref().map(Launch::pid)
    }

    /// One line for the start-up message.
    pub fn describe(&self) -> String {
        match (&self.launch, self.pid) {
            (Some(launch), _) => format!("running {} as pid {}", launch.command, launch.pid),
            (None, Some(pid)) => format!("following pid {pid}"),
            (None, None) => String::new(),
        }
    }

    /// Lets CMD run; from now on the session watches for its end.
    pub fn release(&mut self) -> Result<()> {
        if let Some(launch) = &mut self.launch {
            launch.release()?;
            let done = launch.done.try_clone().context("watching the command")?;
            // SAFETY: the AsyncFd owns the fd for its whole life.
            let done = unsafe { AsyncFd::register_with_interest(done, Interest::READABLE) };
            self.done = Some(done.map_err(|e| anyhow::anyhow!("watching the command: {e}"))?);
        }
        Ok(())
    }

    /// Waits until CMD has ended (forever when there is none to wait for).
    pub async fn cmd_ended(&mut self) -> Result<()> {
        match &self.done {
            Some(done) => {
                let mut guard = done.readable().await.context("watching the command")?;
                guard.retain_ready();
                Ok(())
            }
            None => std::future::pending().await,
        }
    }

    /// CMD has ended (see [`Follower::cmd_ended`]): whether to stop now.
    pub fn on_cmd_end(&mut self) -> Result<Next> {
        self.done = None;
        let launch = self.launch.as_ref().expect("a command was started");
        match launch.status.recv() {
            Ok(Ok(status)) => self.cmd_status = Some(status),
            Ok(Err(e)) => {
                let status = match e.kind() {
                    std::io::ErrorKind::NotFound => EXIT_NOT_FOUND,
                    _ => EXIT_NOT_EXECUTABLE,
                };
                return Err(Unstartable {
                    command: launch.command.clone(),
                    why: e.to_string(),
                    status,
                }
                .into());
            }
            Err(_) => bail!("lost track of {}", launch.command),
        }
        Ok(if self.keep_following {
            Next::Continue
        } else {
            Next::Stop
        })
    }

    /// Whether the poll should look at the kernel's map: with `--follow`,
    /// and once CMD has ended with `--keep-following`.
    pub fn watches_map(&self) -> bool {
        self.pid.is_some() || self.cmd_status.is_some()
    }

    /// Looks at the followed groups (a poll, every 50 ms): stops when PID
    /// is over (or, with `--keep-following`, every followed group), seen so
    /// twice in a row, so the exits of its last threads are in the rings.
    pub fn check(&mut self, session: &mut loader::Loaded) -> Result<Next> {
        let over = match (self.pid, self.keep_following) {
            (Some(pid), false) => session
                .followed_state(pid)?
                .is_none_or(|s| s == FOLLOW_DEAD),
            _ => session.followed_groups(1)?.0 == 0,
        };
        self.none_live = if over { self.none_live + 1 } else { 0 };
        Ok(if self.none_live >= 2 {
            Next::Stop
        } else {
            Next::Continue
        })
    }

    /// Once a second: forgets the groups that were already dead a sweep
    /// ago.
    pub fn sweep(&mut self, session: &mut loader::Loaded) -> Result<()> {
        let (_, dead) = session.followed_groups(usize::MAX)?;
        let gone: Vec<u32> = dead
            .iter()
            .copied()
            .filter(|t| self.dead_before.contains(t) && Some(*t) != self.pid)
            .collect();
        session.unfollow_dead(&gone)?;
        self.dead_before = dead.into_iter().filter(|t| !gone.contains(t)).collect();
        Ok(())
    }

    /// Every record the session hands on, in time order: notes PID's exit.
    pub fn observe(&mut self, raw: &[u8]) {
        let Some(pid) = self.pid else { return };
        if Header::peek_kind(raw) != Some(EventKind::Exit) {
            return;
        }
        if let Some(ev) = read_plain::<ExitEvent>(raw) {
            if ev.task.pid == pid && ev.task.tgid == pid {
                self.pid_exit_code = Some(ev.exit_code);
            }
        }
    }

    /// After the session: leaves tracer's exit status in the slot. When
    /// tracing stopped first (a signal, `--duration`), CMD gets a moment
    /// to end (a Ctrl-C reaches it too); one that goes on is left running.
    pub fn finish(mut self) {
        if let Some(launch) = self.launch.take() {
            let status = self.cmd_status.or_else(|| {
                match launch.status.recv_timeout(Duration::from_millis(500)) {
                    Ok(Ok(status)) => Some(status),
                    _ => None,
                }
            });
            match status {
                Some(status) => self.exit.set(shell_status(status)),
                None => crate::say!(
                    "tracer: {} (pid {}) still runs: tracing stopped before it ended",
                    launch.command,
                    launch.pid
                ),
            }
        } else if let Some(code) = self.pid_exit_code {
            self.exit.set(shell_status_of_exit_code(code));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(pid: u32, tgid: u32, ppid: u32) -> ProcTask {
        ProcTask {
            pid,
            tgid,
            ppid,
            flags: 0,
            comm: "t".into(),
            start_ticks: 0,
            state: 'S',
            has_mm: true,
            kthread_line: None,
            cgroup: None,
            argv: Vec::new(),
        }
    }

    #[test]
    fn subtree_takes_descendant_processes() {
        let tasks = [
            task(1, 1, 0),
            task(10, 10, 1),
            task(11, 10, 1), // a thread of 10
            task(12, 12, 10),
            task(13, 13, 12),
            task(14, 14, 1),
        ];
        assert_eq!(subtree(10, &tasks), vec![10, 12, 13]);
        assert_eq!(subtree(14, &tasks), vec![14]);
    }

    #[test]
    fn statuses_as_a_shell_says_them() {
        assert_eq!(shell_status(ExitStatus::from_raw(7 << 8)), 7);
        assert_eq!(shell_status(ExitStatus::from_raw(15)), 143);
        assert_eq!(shell_status(ExitStatus::from_raw(0x80 | 11)), 139);
        assert_eq!(shell_status_of_exit_code(0x300), 3);
        assert_eq!(shell_status_of_exit_code(9), 137);
        assert_eq!(shell_status_of_exit_code(0x80 | 6), 134);
    }

    #[test]
    fn commands_resolve_like_execvp() {
        assert!(resolve(&["sh".into()]).is_ok());
        let missing = resolve(&["no-such-command-here".into()]).unwrap_err();
        let missing = missing.downcast_ref::<Unstartable>().expect("Unstartable");
        assert_eq!(missing.status, EXIT_NOT_FOUND);
        let dir = resolve(&["/".into()]).unwrap_err();
        assert_eq!(
            dir.downcast_ref::<Unstartable>()
                .expect("Unstartable")
                .status,
            EXIT_NOT_EXECUTABLE
        );
        assert!(resolve(&[]).is_err());
    }
}

//! The terminal guard: raw mode, the alternate screen and a hidden cursor
//! while the screen is up, and the terminal as it was on every way out
//! (the guard dropped, an error, a panic; SIGTERM ends the session, which
//! drops the guard). While the screen is up, stderr goes to a memory file
//! (warnings would tear the screen); it is written out once the terminal
//! is back, and its last line is shown on the screen meanwhile.

use std::{
    io::{Stdout, Write as _},
    os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
    sync::{
        atomic::{AtomicBool, Ordering},
        Mutex, Once,
    },
};

use anyhow::{Context as _, Result};
use crossterm::{
    cursor,
    terminal::{self, EnterAlternateScreen, LeaveAlternateScreen},
};
use ratatui::{backend::CrosstermBackend, Terminal};

/// The screen is up: the terminal needs restoring.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Where stderr was, and the memory file that holds it meanwhile.
static STDERR: Mutex<Option<(OwnedFd, std::fs::File)>> = Mutex::new(None);
static HOOK: Once = Once::new();

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// The screen; the terminal is restored when it drops.
pub struct Screen {
    pub term: Term,
    /// Captured stderr's size at the last look, and its last line.
    seen: u64,
    note: Option<String>,
}

impl Screen {
    pub fn open() -> Result<Screen> {
        HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                restore();
                previous(info);
            }));
        });
        capture_stderr().context("setting stderr aside for the screen")?;
        ACTIVE.store(true, Ordering::SeqCst);
        let up = terminal::enable_raw_mode()
            .and_then(|()| {
                crossterm::execute!(std::io::stdout(), EnterAlternateScreen, cursor::Hide)
            })
            .context("setting up the terminal");
        if let Err(e) = up {
            restore();
            return Err(e);
        }
        match Terminal::new(CrosstermBackend::new(std::io::stdout())) {
            Ok(term) => Ok(Screen {
                term,
                seen: 0,
                note: None,
            }),
            Err(e) => {
                restore();
                Err(e).context("drawing on the terminal")
            }
        }
    }

    /// The last line written to stderr while the screen is up.
    pub fn note(&mut self) -> Option<&str> {
        let guard = STDERR.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, file)) = guard.as_ref() {
            let size = file.metadata().map_or(0, |m| m.len());
            if size != self.seen {
                self.seen = size;
                self.note = read_all(file)
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .map(str::to_string);
            }
        }
        self.note.as_deref()
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        restore();
    }
}

/// Puts the terminal back as it was and stderr where it was, writing out
/// what stderr got meanwhile. Once only; safe from the panic hook.
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut out = std::io::stdout();
    let _ = crossterm::execute!(out, LeaveAlternateScreen, cursor::Show);
    let _ = terminal::disable_raw_mode();
    let _ = out.flush();
    let taken = STDERR.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some((saved, file)) = taken {
        // SAFETY: dup2 of two fds this process owns; fd 2 is replaced.
        unsafe { libc::dup2(saved.as_raw_fd(), libc::STDERR_FILENO) };
        let text = read_all(&file);
        let _ = std::io::stderr().write_all(text.as_bytes());
    }
}

fn capture_stderr() -> Result<()> {
    // SAFETY: the name is a NUL-terminated literal; the fd returned is
    // owned by the File below.
    let memfd = unsafe { libc::memfd_create(c"tracer-top-stderr".as_ptr(), libc::MFD_CLOEXEC) };
    if memfd < 0 {
        return Err(std::io::Error::last_os_error()).context("memfd_create");
    }
    // SAFETY: a fresh fd nobody else owns.
    let file = unsafe { std::fs::File::from_raw_fd(memfd) };
    // SAFETY: dup of stderr into a new fd, owned below.
    let saved = unsafe { libc::fcntl(libc::STDERR_FILENO, libc::F_DUPFD_CLOEXEC, 3) };
    if saved < 0 {
        return Err(std::io::Error::last_os_error()).context("saving stderr");
    }
    // SAFETY: a fresh fd nobody else owns.
    let saved = unsafe { OwnedFd::from_raw_fd(saved) };
    // SAFETY: dup2 of two fds this process owns; fd 2 is replaced.
    if unsafe { libc::dup2(file.as_raw_fd(), libc::STDERR_FILENO) } < 0 {
        return Err(std::io::Error::last_os_error()).context("redirecting stderr");
    }
    *STDERR.lock().unwrap_or_else(|e| e.into_inner()) = Some((saved, file));
    Ok(())
}

fn read_all(file: &std::fs::File) -> String {
    use std::os::unix::fs::FileExt as _;
    let len = file.metadata().map_or(0, |m| m.len());
    let mut buf = vec![0; usize::try_from(len).unwrap_or(0)];
    let n = file.read_at(&mut buf, 0).unwrap_or(0);
    buf.truncate(n);
    String::from_utf8_lossy(&buf).into_owned()
}

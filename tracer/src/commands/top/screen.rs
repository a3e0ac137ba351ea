//! The screen's loop, on its own thread: take what comes (events, keys,
//! the end), apply it to the model at once, and draw at most a few times a
//! second. Events are never dropped; frames are, when events come faster
//! than frames.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        mpsc::{Receiver, RecvTimeoutError, Sender},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};
use crossterm::event::KeyEvent;
use tracer_common::EventKind;

use super::{
    keys::{Seek, Ui},
    state::{health::own_usage, State},
    term::Screen,
    view::{self, Frame0},
};
use crate::{kernel::rings::RingFill, model::event::Record};

/// Soonest a frame follows the one before while events keep coming.
const BUSY_FRAME: Duration = Duration::from_millis(200);
/// A frame at least this often (ages, rates, the clock).
const IDLE_FRAME: Duration = Duration::from_secs(1);
/// Messages taken between two looks at the clock.
const BATCH: usize = 20_000;

pub enum Msg {
    Event(Box<Record>),
    Lost(Option<EventKind>, u64),
    Rings(Vec<RingFill>),
    Key(KeyEvent),
    Resize,
    /// The stream ended (the session stopped).
    Ended,
}

/// What the screen shows: a live model, or a recording's cursor.
pub trait Source {
    fn state(&mut self) -> &mut State;
    /// Moves a recording's cursor; what to say about it, if anything.
    fn seek(&mut self, seek: Seek) -> Option<String>;
    /// `live`, or where the cursor stands.
    fn mode(&self) -> String;
    fn live(&self) -> bool;
}

/// Reads keys and resizes into `tx` until the terminal goes or the
/// receiver does.
pub fn read_keys(tx: Sender<Msg>) {
    std::thread::Builder::new()
        .name("top-keys".into())
        .spawn(move || loop {
            let msg = match crossterm::event::read() {
                Ok(crossterm::event::Event::Key(k)) => Msg::Key(k),
                Ok(crossterm::event::Event::Resize(..)) => Msg::Resize,
                Ok(_) => continue,
                Err(_) => return,
            };
            if tx.send(msg).is_err() {
                return;
            }
        })
        .expect("spawning the key reader");
}

/// Runs the screen until `q`, the end of the stream, or `stop`.
pub fn run(
    source: &mut dyn Source,
    rx: &Receiver<Msg>,
    mut ui: Ui,
    color: bool,
    stop: &AtomicBool,
) -> Result<()> {
    let mut screen = Screen::open()?;
    let mut next_frame = Instant::now();
    let mut dirty = true;
    let mut usage = (Instant::now(), own_usage().0);
    let mut own = None;
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let wait = next_frame.saturating_duration_since(Instant::now());
        let first = match rx.recv_timeout(wait.min(Duration::from_millis(250))) {
            Ok(m) => Some(m),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut draw_now = false;
        let mut ended = false;
        for msg in first.into_iter().chain(rx.try_iter().take(BATCH)) {
            match msg {
                Msg::Event(rec) => {
                    source.state().apply(*rec);
                    dirty = true;
                }
                Msg::Lost(kind, n) => source.state().lost(kind, n),
                Msg::Rings(fill) => source.state().rings(fill),
                Msg::Key(k) => {
                    let seq = source.state().seq;
                    if let Some(seek) = ui.key(k, seq) {
                        ui.message = source.seek(seek);
                    }
                    draw_now = true;
                }
                Msg::Resize => draw_now = true,
                Msg::Ended => ended = true,
            }
            if ui.quit || ended {
                break;
            }
        }
        if ui.quit || ended {
            break;
        }
        let now = Instant::now();
        if draw_now || now >= next_frame {
            if source.live() {
                let clock = crate::model::clock::boottime_ns();
                let state = source.state();
                state.now_ns = state.now_ns.max(clock);
                let (cpu, rss) = own_usage();
                let secs = now.duration_since(usage.0).as_secs_f64();
                if secs >= 0.5 {
                    let pct = (cpu.saturating_sub(usage.1)) as f64 / 1e9 / secs * 100.0;
                    own = Some((pct, rss));
                    usage = (now, cpu);
                }
            }
            let mode = source.mode();
            let note = screen.note().map(str::to_string);
            let extra = Frame0 {
                mode,
                color,
                own,
                note: note.as_deref(),
            };
            let state = source.state();
            screen
                .term
                .draw(|f| view::draw(f, state, &mut ui, &extra))
                .context("drawing the screen")?;
            next_frame = now + if dirty { BUSY_FRAME } else { IDLE_FRAME };
            dirty = false;
        }
    }
    drop(screen);
    Ok(())
}

/// Sets `flag` when dropped: the screen's thread ended, however it did.
pub struct SetOnDrop(pub Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

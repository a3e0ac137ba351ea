//! `tracer top LOG...`: the screen over a recording, with a time cursor.
//! The log goes through the same pipeline as `replay` (a tap keeps every
//! event); the model at the cursor is the log's start snapshot with every
//! event up to the cursor applied: stepping forward applies one more,
//! stepping back rebuilds.

use std::{
    path::PathBuf,
    sync::{
        atomic::{AtomicBool, Ordering},
        mpsc::{self, Sender},
        Arc,
    },
};

use anyhow::{anyhow, Result};
use tokio::signal::unix::{signal, SignalKind};
use tracer_common::EventKind;

use super::{
    keys::{ParseFilter, Seek, Ui},
    screen::{self, SetOnDrop, Source},
    state::State,
};
use crate::{
    log::header::LogHeader,
    model::{event::Record, tasks::Annotation},
    output,
    pipeline::{
        filter::TraceFilter,
        from_log,
        tap::{Tap, Taps},
        LostNotices, Pipeline,
    },
};

#[derive(Clone)]
enum Item {
    Event(Box<Record>),
    Lost(Option<EventKind>, u64),
}

/// Keeps every event of the log, in order.
struct Keep(Sender<Item>);

impl Tap for Keep {
    fn event(&mut self, rec: &Record, _ann: &Annotation, _shown: bool) {
        let _ = self.0.send(Item::Event(Box::new(rec.clone())));
    }

    fn lost(&mut self, kind: Option<EventKind>, count: u64, _boot_ns: u64) {
        let _ = self.0.send(Item::Lost(kind, count));
    }

    fn finish(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}

/// A recording and the model at its cursor.
pub struct Cursor {
    header: LogHeader,
    items: Vec<Item>,
    /// Items applied: the model stands just before `items[at]`.
    at: usize,
    state: State,
    /// Items that end a helper badly (failure or kill).
    failures: Vec<usize>,
    name: String,
}

impl Cursor {
    fn new(header: LogHeader, items: Vec<Item>, name: String) -> Cursor {
        let state = fresh(&header);
        let mut c = Cursor {
            header,
            items,
            at: 0,
            state,
            failures: Vec::new(),
            name,
        };
        // One pass to the end finds the failures and leaves the cursor
        // there.
        for i in 0..c.items.len() {
            let before = c.state.helpers.ended_badly;
            c.step();
            if c.state.helpers.ended_badly > before {
                c.failures.push(i);
            }
        }
        c
    }

    fn step(&mut self) {
        match self.items[self.at].clone() {
            Item::Event(rec) => self.state.apply(*rec),
            Item::Lost(kind, n) => self.state.lost(kind, n),
        }
        self.at += 1;
    }

    /// Moves the cursor so that `at` items are applied.
    pub fn go(&mut self, at: usize) {
        let at = at.min(self.items.len());
        if at < self.at {
            self.state = fresh(&self.header);
            self.at = 0;
        }
        while self.at < at {
            self.step();
        }
        if self.at == 0 {
            self.state.now_ns = self.header.started_boot_ns;
        }
    }

    fn time_of(&self, i: usize) -> Option<u64> {
        match self.items.get(i)? {
            Item::Event(r) => Some(r.boot_ns),
            Item::Lost(..) => None,
        }
    }

    /// The first item at or after boot-clock `ns`.
    fn index_at(&self, ns: u64) -> usize {
        (0..self.items.len())
            .find(|&i| self.time_of(i).is_some_and(|t| t >= ns))
            .unwrap_or(self.items.len())
    }

    fn span(&self) -> (u64, u64) {
        let first = (0..self.items.len()).find_map(|i| self.time_of(i));
        let last = (0..self.items.len()).rev().find_map(|i| self.time_of(i));
        (
            first.unwrap_or(self.header.started_boot_ns),
            last.unwrap_or(self.header.started_boot_ns),
        )
    }

    fn jump_to(&mut self, text: &str) -> Result<usize, String> {
        let text = text.trim();
        let (first, last) = self.span();
        let secs = |s: &str| {
            s.trim_end_matches('s')
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map(|v| (v * 1e9) as u64)
        };
        if let Some(rest) = text.strip_prefix('+') {
            let ns = secs(rest).ok_or("after + give seconds, e.g. +2.5")?;
            return Ok(self.index_at(first.saturating_add(ns)));
        }
        if let Some(rest) = text.strip_prefix('-') {
            let ns = secs(rest).ok_or("after - give seconds, e.g. -10")?;
            return Ok(self.index_at(last.saturating_sub(ns)));
        }
        // A local time of day, compared as the screen prints it.
        if text.len() < 2 || !text.starts_with(|c: char| c.is_ascii_digit()) {
            return Err("give HH:MM:SS[.frac], +SECS or -SECS".into());
        }
        let clock = self.header.wall_clock();
        Ok((0..self.items.len())
            .find(|&i| {
                self.time_of(i)
                    .is_some_and(|t| clock.local_hms(t).as_str() >= text)
            })
            .unwrap_or(self.items.len()))
    }
}

fn fresh(header: &LogHeader) -> State {
    let mut h = header.clone();
    let table = h.take_task_table();
    State::new(table, h.wall_clock(), h.pf_names(), h.started_boot_ns)
}

impl Source for Cursor {
    fn state(&mut self) -> &mut State {
        &mut self.state
    }

    fn seek(&mut self, seek: Seek) -> Option<String> {
        let to = match seek {
            Seek::Events(n) => self.at.saturating_add_signed(n as isize),
            Seek::Secs(n) => {
                let now = self.state.now_ns;
                let t = if n >= 0 {
                    now.saturating_add(n as u64 * 1_000_000_000)
                } else {
                    now.saturating_sub(n.unsigned_abs() * 1_000_000_000)
                };
                // Forward: past everything at that second; back: before it.
                if n >= 0 {
                    self.index_at(t.saturating_add(1))
                } else {
                    self.index_at(t)
                }
            }
            Seek::Start => 0,
            Seek::End => self.items.len(),
            Seek::Failure { forward } => {
                // Just before the event that ends the helper: it still runs.
                let found = if forward {
                    self.failures.iter().find(|&&i| i > self.at).copied()
                } else {
                    self.failures
                        .iter()
                        .rev()
                        .find(|&&i| i + 1 < self.at)
                        .copied()
                };
                match found {
                    Some(i) => i,
                    None => return Some("no more helper failures or kills that way".into()),
                }
            }
            Seek::To(text) => match self.jump_to(&text) {
                Ok(i) => i,
                Err(why) => return Some(why),
            },
        };
        self.go(to);
        None
    }

    fn mode(&self) -> String {
        let next = self
            .failures
            .iter()
            .find(|&&i| i >= self.at)
            .map_or(String::new(), |_| " | n: next failure".into());
        format!(
            "{} | event {}/{}{next}",
            self.name,
            self.at,
            self.items.len()
        )
    }

    fn live(&self) -> bool {
        false
    }
}

/// Reads the whole recording, then shows it with the cursor at its end.
pub async fn run(
    files: &[PathBuf],
    filter: TraceFilter,
    parse: ParseFilter,
    color: bool,
) -> Result<()> {
    let (tx, rx) = mpsc::channel();
    let mut header = None;
    from_log::run(files, |h| {
        header = Some(h.clone());
        Ok(Pipeline::new(
            std::io::sink(),
            output::silent(),
            h.take_task_table(),
            TraceFilter::default(),
            LostNotices::Stderr,
        )
        .with_taps(Taps::new(vec![Box::new(Keep(tx.clone()))])))
    })?;
    drop(tx);
    let header = header.ok_or_else(|| anyhow!("the log has no header"))?;
    let items: Vec<Item> = rx.into_iter().collect();
    // The file's name only: the status line is short at 80 columns.
    let name = files.first().map_or_else(String::new, |f| {
        f.file_name().map_or_else(
            || f.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    });
    let mut cursor = Cursor::new(header, items, name);

    let stop = Arc::new(AtomicBool::new(false));
    let (keys_tx, keys_rx) = mpsc::channel();
    let thread_stop = stop.clone();
    let ui = std::thread::Builder::new()
        .name("top-screen".into())
        .spawn(move || {
            let _done = SetOnDrop(thread_stop.clone());
            screen::read_keys(keys_tx);
            let ui = Ui::new(parse, true).with_filter(filter);
            screen::run(&mut cursor, &keys_rx, ui, color, &thread_stop)
        })?;
    // SIGTERM, SIGINT or SIGHUP: the screen ends and puts the terminal back.
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    while !stop.load(Ordering::SeqCst) {
        tokio::select! {
            _ = term.recv() => stop.store(true, Ordering::SeqCst),
            _ = int.recv() => stop.store(true, Ordering::SeqCst),
            _ = hup.recv() => stop.store(true, Ordering::SeqCst),
            () = tokio::time::sleep(std::time::Duration::from_millis(100)) => {}
        }
    }
    ui.join()
        .map_err(|_| anyhow!("the screen failed (see the panic above)"))?
}

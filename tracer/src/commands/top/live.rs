//! `tracer top` live: a `trace` session whose pipeline prints nothing and
//! hands every event to the screen through a tap. The tap only sends (it
//! never waits for the screen), so the ring reader runs at its own pace.

use std::sync::{
    atomic::{AtomicBool, Ordering},
    mpsc::{self, Sender},
    Arc,
};

use anyhow::{anyhow, Result};
use tracer_common::EventKind;

use super::{
    keys::{ParseFilter, Seek, Ui},
    screen::{self, Msg, SetOnDrop, Source},
    state::State,
};
use crate::{
    kernel::rings::RingFill,
    live::{
        follow,
        session::{self, SessionOptions, Start},
    },
    model::{
        counts::LossCause,
        event::Record,
        flags::PfNames,
        kallsyms::Kallsyms,
        procfs,
        tasks::{Annotation, TaskTable},
    },
    output,
    pipeline::{
        filter::TraceFilter,
        sink::{Flow, Sink},
        tap::{Tap, Taps},
        LostNotices, Pipeline,
    },
};

/// Hands events to the screen's thread.
struct ScreenTap(Sender<Msg>);

impl Tap for ScreenTap {
    fn event(&mut self, rec: &Record, _ann: &Annotation, _shown: bool) {
        // The screen keeps its own table (a recording's cursor rebuilds
        // it), so the record is all it needs. A gone screen is fine: the
        // session is stopping.
        let _ = self.0.send(Msg::Event(Box::new(rec.clone())));
    }

    fn folded(&mut self, rec: &Record) {
        // The screen's table joins a kernel thread's requester to its fork.
        let _ = self.0.send(Msg::Event(Box::new(rec.clone())));
    }

    fn lost(&mut self, kind: Option<EventKind>, count: u64, _boot_ns: u64) {
        let _ = self.0.send(Msg::Lost(kind, count));
    }

    fn missed(&mut self, count: u64) {
        let _ = self.0.send(Msg::Lost(None, count));
    }

    fn rings(&mut self, fill: &[RingFill]) {
        let _ = self.0.send(Msg::Rings(fill.to_vec()));
    }

    fn finish(self: Box<Self>) -> Result<()> {
        let _ = self.0.send(Msg::Ended);
        Ok(())
    }
}

/// The pipeline, stopped once the screen quits.
struct TopSink {
    pipeline: Pipeline<std::io::Sink>,
    quit: Arc<AtomicBool>,
}

impl Sink for TopSink {
    fn record(&mut self, raw: &[u8]) -> Result<Flow> {
        self.pipeline.record(raw);
        Ok(Flow::Continue)
    }

    fn lost(&mut self, kind: EventKind, count: u64, boot_ns: u64, cause: LossCause) -> Result<()> {
        Sink::lost(&mut self.pipeline, kind, count, boot_ns, cause)
    }

    fn flush(&mut self) -> Result<Flow> {
        if self.quit.load(Ordering::Relaxed) {
            return Ok(Flow::Stop);
        }
        Ok(Flow::Continue)
    }

    fn tick(&mut self) -> Result<()> {
        Sink::tick(&mut self.pipeline)
    }

    fn rings(&mut self, fill: &[RingFill]) {
        Sink::rings(&mut self.pipeline, fill);
    }
}

struct Live(State);

impl Source for Live {
    fn state(&mut self) -> &mut State {
        &mut self.0
    }

    fn seek(&mut self, _seek: Seek) -> Option<String> {
        None
    }

    fn mode(&self) -> String {
        "live".into()
    }

    fn live(&self) -> bool {
        true
    }
}

/// The screen's own table, built as the session's was.
fn table_of(start: &Start) -> TaskTable {
    let mut table = TaskTable::from_snapshot(
        start.tasks.clone(),
        start.init_cgroup.as_deref(),
        procfs::clock_ticks_per_sec(),
    );
    table.name_functions_from(Kallsyms::running());
    table.infer_exec_errors();
    if start.missing.iter().any(|m| m.kind == EventKind::Exec) {
        table.execs_unseen();
    }
    table
}

pub async fn run(
    mut session: SessionOptions,
    filter: TraceFilter,
    parse: ParseFilter,
    color: bool,
) -> Result<()> {
    let exit = follow::checked(&mut session.follow, &session.proc_root);
    let result = top(session, filter, parse, color).await;
    match exit {
        Some(exit) => follow::end(result, &exit),
        None => result,
    }
}

async fn top(
    mut session: SessionOptions,
    filter: TraceFilter,
    parse: ParseFilter,
    color: bool,
) -> Result<()> {
    // The screen says what the start-up line would.
    session.announce = false;
    let quit = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let mut ui_thread = None;
    let initial = filter.clone();
    let run = session::run(session, |start| {
        let state = State::new(
            table_of(&start),
            start.clock,
            PfNames::running(),
            start.started_boot_ns,
        );
        let (thread_quit, keys) = (quit.clone(), tx.clone());
        ui_thread = Some(
            std::thread::Builder::new()
                .name("top-screen".into())
                .spawn(move || {
                    let _quit = SetOnDrop(thread_quit.clone());
                    screen::read_keys(keys);
                    let mut live = Live(state);
                    let ui = Ui::new(parse, false).with_filter(initial);
                    screen::run(&mut live, &rx, ui, color, &thread_quit)
                })?,
        );
        let pipeline = Pipeline::new(
            std::io::sink(),
            output::silent(),
            start.table,
            filter,
            LostNotices::Stderr,
        )
        .with_taps(Taps::new(vec![Box::new(ScreenTap(tx.clone()))]));
        Ok(TopSink {
            pipeline,
            quit: quit.clone(),
        })
    })
    .await;
    drop(tx);
    let ended = match run {
        Ok((sink, counts, _)) => sink.pipeline.finish(&counts),
        Err(e) => {
            quit.store(true, Ordering::SeqCst);
            Err(e)
        }
    };
    // The terminal is back once the screen's thread ends.
    let screen = match ui_thread {
        Some(t) => t
            .join()
            .map_err(|_| anyhow!("the screen failed (see the panic above)"))
            .and_then(|r| r),
        None => Ok(()),
    };
    ended.and(screen)
}

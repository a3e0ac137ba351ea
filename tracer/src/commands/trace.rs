//! `tracer trace`: a live session that prints each event.

use std::time::Duration;

use anyhow::Result;

use crate::{
    live::{
        follow,
        session::{self, SessionOptions},
        stuck::StuckWatch,
    },
    model::flags::PfNames,
    output::{self, Format},
    pipeline::{filter::TraceFilter, LostNotices, Pipeline},
    ship::{Origin, ShipOptions, Shipping},
};

pub struct TraceOptions {
    pub session: SessionOptions,
    pub format: Format,
    pub filter: TraceFilter,
    pub ship: ShipOptions,
    /// A requester held by its helper longer than this is said on stderr.
    pub stuck_after: Duration,
    /// `--ancestors`: generations named with each event.
    pub ancestors: usize,
}

pub async fn run(mut opts: TraceOptions) -> Result<()> {
    // A command that cannot start, or a --follow PID that is not there,
    // fails before anything is loaded.
    let exit = follow::checked(&mut opts.session.follow, &opts.session.proc_root);
    let result = trace(opts).await;
    match exit {
        Some(exit) => follow::end(result, &exit),
        None => result,
    }
}

async fn trace(opts: TraceOptions) -> Result<()> {
    let (format, filter, stuck_after, ancestors) =
        (opts.format, opts.filter, opts.stuck_after, opts.ancestors);
    let shipping = Shipping::prepare(opts.ship)?;
    let (pipeline, counts, _) = session::run(opts.session, |start| {
        let origin = Origin::live(start.clock);
        Ok(Pipeline::new(
            std::io::stdout().lock(),
            output::formatter(format, start.clock, PfNames::running()),
            start.table,
            filter,
            // JSON carries losses in the stream, as `export` does.
            match format {
                Format::Json => LostNotices::Inline,
                Format::Text => LostNotices::Stderr,
            },
        )
        .with_taps(
            shipping
                .taps(&origin)
                .with(Box::new(StuckWatch::new(stuck_after))),
        )
        .with_ancestors(ancestors))
    })
    .await?;
    pipeline.finish(&counts)
}

//! `tracer trace`: a live session that prints each event.

use anyhow::Result;

use crate::{
    kernel::session::{self, SessionOptions},
    model::flags::PfNames,
    output::{self, Format},
    pipeline::{filter::TraceFilter, LostNotices, Pipeline},
};

pub struct TraceOptions {
    pub session: SessionOptions,
    pub format: Format,
    pub filter: TraceFilter,
}

pub async fn run(opts: TraceOptions) -> Result<()> {
    let (format, filter) = (opts.format, opts.filter);
    let (pipeline, counts, _) = session::run(opts.session, |start| {
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
        ))
    })
    .await?;
    pipeline.finish(&counts)
}

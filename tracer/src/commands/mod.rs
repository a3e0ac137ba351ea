//! One module per subcommand. A command builds on the shared layers
//! (kernel, model, log, pipeline, output) and never imports another
//! command: what two commands share belongs in a layer.

pub mod export;
pub mod ps;
pub mod record;
pub mod replay;
pub mod report;
pub mod top;
pub mod trace;
pub mod tree;

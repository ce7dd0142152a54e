//! The bodies of the subcommands, one module per group; `main::run` picks the function.

pub(crate) mod after;
pub(crate) mod dashboard;
pub(crate) mod distributed;
pub(crate) mod docs;
pub(crate) mod eval;
pub(crate) mod search;

//! One module per `icmpkit` subcommand.

pub mod ping;
pub mod sweep;

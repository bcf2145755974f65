//! One module per `icmpkit` subcommand.

pub mod decode;
pub mod listen;
pub mod mtr;
pub mod ping;
pub mod respond;
pub mod send;
pub mod sweep;
pub mod trace;

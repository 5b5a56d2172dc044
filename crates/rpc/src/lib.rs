//! Ethereum JSON-RPC for bevm, over HTTP and WebSocket on one port.
//!
//! Answers come from what the chain stored at commit time (blocks, receipts, logs, the tx
//! index) and from versioned state, so every node gives the same answer for the same block.
//! With CometBFT's instant finality `safe` = `finalized` = `latest`; `pending` state is the
//! latest state, except `eth_getTransactionCount(.., "pending")`, which counts the mempool.
//! Errors and their codes are chosen in [`error`] only; reverts are code 3 with the revert
//! data, as geth returns them.

#![forbid(unsafe_code)]

mod api;
mod blocks;
mod comet;
pub mod error;
mod exec;
mod lanes;
mod logs;
mod server;

pub use api::{EthApi, Limits};
pub use comet::Comet;
pub use error::RpcError;
pub use logs::Filters;
pub use server::{module, start, RpcContext, ServerSettings};

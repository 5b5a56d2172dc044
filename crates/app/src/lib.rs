//! The bevm state machine and its ABCI 2.0 adapter.
//!
//! [`App`] holds the logic of each ABCI method with plain types; [`abci`] is the only place
//! that knows tower-abci, and applies consensus requests strictly in order.
//!
//! Invariants: FinalizeBlock computes everything and writes nothing; Commit writes the block in
//! one atomic batch. A crash between them leaves the store at the previous height, and
//! CometBFT's handshake (driven by Info) replays the block. CheckTx never writes state.

#![forbid(unsafe_code)]

pub mod abci;
mod app;
pub mod bridge;
pub mod btc;
mod error;
mod genesis;
pub mod mempool;
pub mod native;
mod senders;

pub use app::{App, BlockRequest, CommittedBlock, TxResult};
pub use error::AppError;
pub use genesis::build_genesis_state;

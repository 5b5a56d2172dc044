//! In-process tests of the application: blocks driven without CometBFT.

mod bridge;
mod btc;
mod escrow;
mod execution;
mod mempool;
mod properties;

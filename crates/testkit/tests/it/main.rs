//! In-process tests of the application: blocks driven without CometBFT.

mod btc;
mod execution;
mod mempool;
mod properties;

//! Test harness for bevm.
//!
//! - [`TestNode`]: the ABCI app driven in-process, block by block, without CometBFT: fast and
//!   deterministic coverage of execution, mempool rules and commitment.
//! - [`devnet`]: real processes (cometbft and bevm-node, 1..N validators on localhost, free
//!   ports), stopped by PID when dropped.
//! - [`rpc`]: a minimal blocking JSON-RPC client (it can also send malformed requests).
//! - [`txs`]: signing helpers and the ERC-20 used by tests and benches.

pub mod btc;
pub mod btcd;
pub mod devnet;
pub mod process;
pub mod relayer;
pub mod rpc;
mod test_node;
pub mod txs;

pub use test_node::TestNode;

/// The workspace root (for tools and e2e scripts).
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

use bevm_evm::EvmError;
use bevm_primitives::genesis::GenesisError;
use bevm_store::StoreError;

/// Errors of the application. Every one of them is fatal for consensus requests: the ABCI
/// adapter stops the node rather than answer differently from its peers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Evm(#[from] EvmError),
    #[error("invalid genesis: {0}")]
    Genesis(#[from] GenesisError),
    #[error("the chain is not initialized (InitChain has not run)")]
    NotInitialized,
    #[error("InitChain called on a store already at height {height} with another genesis; delete the data directory to start over")]
    AlreadyInitialized { height: u64 },
    #[error("block {0} is missing from the store")]
    MissingBlock(u64),
    #[error("FinalizeBlock for height {got} but the committed height is {committed}")]
    HeightMismatch { got: u64, committed: u64 },
    #[error("Commit without a finalized block")]
    NothingToCommit,
    #[error("invalid bridge genesis: {0}")]
    BridgeGenesis(String),
    #[error("invalid btc genesis: {0}")]
    BtcGenesis(String),
    #[error("a native transaction could not read the state: {0}")]
    NativeState(String),
    #[error("btc light client state: {0}")]
    Btc(#[from] bevm_btc_light::HeaderError),
}

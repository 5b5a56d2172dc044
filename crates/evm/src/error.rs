use bevm_store::StoreError;

/// Errors of the EVM module that are not a transaction's fault: storage failures and records
/// that do not decode. They stop block execution; a transaction's own failure is a receipt.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvmError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("corrupt {what} in the database")]
    Corrupt { what: &'static str },
    #[error("revm: {0}")]
    Revm(String),
}

impl revm::database_interface::DBErrorMarker for EvmError {}

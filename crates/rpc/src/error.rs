//! Every JSON-RPC error the server returns, and its code. The one place codes are chosen.

use alloy_primitives::Bytes;
use jsonrpsee::types::ErrorObjectOwned;

/// An error answered to a JSON-RPC client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RpcError {
    /// Bad parameters (-32602).
    #[error("invalid params: {0}")]
    InvalidParams(String),
    /// The transaction or call is invalid: geth's message (-32000).
    #[error("{0}")]
    Rejected(String),
    /// Execution reverted: code 3 with the revert data, as geth does, so clients decode it.
    #[error("execution reverted{}", revert_reason(.0).map(|r| format!(": {r}")).unwrap_or_default())]
    Reverted(Bytes),
    /// A block, filter or other resource that does not exist (-32000, as geth).
    #[error("{0}")]
    NotFound(String),
    /// A request over a configured limit (-32005).
    #[error("{0}")]
    LimitExceeded(String),
    /// Something failed on our side (-32603); logged, not detailed to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl RpcError {
    pub(crate) fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(target: "bevm::rpc", error = %e, "internal error");
        Self::Internal(e.to_string())
    }
}

impl From<bevm_evm::EvmError> for RpcError {
    fn from(e: bevm_evm::EvmError) -> Self {
        Self::internal(e)
    }
}

impl From<RpcError> for ErrorObjectOwned {
    fn from(e: RpcError) -> Self {
        let message = e.to_string();
        match e {
            RpcError::InvalidParams(_) => ErrorObjectOwned::owned(-32602, message, None::<()>),
            RpcError::Rejected(_) | RpcError::NotFound(_) => {
                ErrorObjectOwned::owned(-32000, message, None::<()>)
            }
            RpcError::Reverted(data) => ErrorObjectOwned::owned(3, message, Some(data)),
            RpcError::LimitExceeded(_) => ErrorObjectOwned::owned(-32005, message, None::<()>),
            RpcError::Internal(_) => ErrorObjectOwned::owned(-32603, message, None::<()>),
        }
    }
}

/// The reason string of a standard `Error(string)` revert, if that is what `data` holds.
fn revert_reason(data: &Bytes) -> Option<String> {
    const ERROR_SELECTOR: [u8; 4] = [0x08, 0xc3, 0x79, 0xa0];
    let body = data.strip_prefix(&ERROR_SELECTOR)?;
    // abi: offset (32) | length (32) | bytes
    let len_word = body.get(32..64)?;
    let len = usize::try_from(alloy_primitives::U256::from_be_slice(len_word)).ok()?;
    let text = body.get(64..64usize.checked_add(len)?)?;
    String::from_utf8(text.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revert_reason_decodes_error_string() {
        // Error("no") as solc encodes it.
        let mut data = vec![0x08, 0xc3, 0x79, 0xa0];
        data.extend_from_slice(&[0u8; 31]);
        data.push(0x20);
        data.extend_from_slice(&[0u8; 31]);
        data.push(2);
        data.extend_from_slice(b"no");
        data.extend_from_slice(&[0u8; 30]);
        let e = RpcError::Reverted(data.into());
        assert_eq!(e.to_string(), "execution reverted: no");
        let obj = ErrorObjectOwned::from(e);
        assert_eq!(obj.code(), 3);
        assert!(obj.data().is_some());
        assert_eq!(
            RpcError::Reverted(Bytes::new()).to_string(),
            "execution reverted"
        );
    }
}

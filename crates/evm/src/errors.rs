//! geth's wording for invalid transactions. Wallets and tools (ethers, viem, cast) recognise
//! these messages, so the chain and the RPC use them everywhere a transaction is refused.

use revm::context::result::{EVMError, InvalidTransaction};

/// The geth message for a transaction revm refused to execute.
pub fn geth_message<E: std::fmt::Display>(error: &EVMError<E>) -> String {
    match error {
        EVMError::Transaction(invalid) => invalid_tx_message(invalid),
        other => other.to_string(),
    }
}

/// The geth message for one of revm's transaction validation errors.
pub fn invalid_tx_message(invalid: &InvalidTransaction) -> String {
    use InvalidTransaction as I;
    match invalid {
        I::NonceTooLow { tx, state } => format!("nonce too low: next nonce {state}, tx nonce {tx}"),
        I::NonceTooHigh { tx, state } => {
            format!("nonce too high: next nonce {state}, tx nonce {tx}")
        }
        I::LackOfFundForMaxFee { fee, balance } => {
            format!("insufficient funds for gas * price + value: have {balance} want {fee}")
        }
        I::GasPriceLessThanBasefee => "max fee per gas less than block base fee".into(),
        I::PriorityFeeGreaterThanMaxFee => {
            "max priority fee per gas higher than max fee per gas".into()
        }
        I::CallGasCostMoreThanGasLimit {
            initial_gas,
            gas_limit,
        } => {
            format!("intrinsic gas too low: gas {gas_limit}, minimum needed {initial_gas}")
        }
        I::GasFloorMoreThanGasLimit {
            gas_floor,
            gas_limit,
        } => {
            format!("insufficient gas for floor data gas cost: gas {gas_limit}, minimum needed {gas_floor}")
        }
        I::CallerGasLimitMoreThanBlock => "exceeds block gas limit".into(),
        I::TxGasLimitGreaterThanCap { gas_limit, cap } => {
            format!("transaction gas limit too high (cap: {cap}, tx: {gas_limit})")
        }
        I::RejectCallerWithCode => "sender not an eoa".into(),
        I::CreateInitCodeSizeLimit => "max initcode size exceeded".into(),
        I::OverflowPaymentInTransaction => "gas uint64 overflow".into(),
        I::NonceOverflowInTransaction => "nonce has max value".into(),
        I::InvalidChainId => "invalid chain id for signer".into(),
        other => other.to_string(),
    }
}

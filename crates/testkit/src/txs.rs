//! Transaction signing helpers and the test ERC-20.

use alloy_consensus::{TxEip1559, TxLegacy};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_sol_types::{sol, SolCall, SolConstructor};
use bevm_primitives::keys::AccountKey;

sol! {
    contract Token {
        constructor(string name_, string symbol_, uint256 supply);
        function transfer(address to, uint256 value) external returns (bool);
        function balanceOf(address owner) external view returns (uint256);
        event Transfer(address indexed from, address indexed to, uint256 value);
    }
}

/// The compiled test token (tests/e2e/build/Token.json, produced by `node compile.mjs`).
const TOKEN_ARTIFACT: &str = include_str!("../../../tests/e2e/build/Token.json");

/// Creation code of the test token with constructor arguments appended.
pub fn token_deploy_code(supply: U256) -> Bytes {
    let artifact: serde_json::Value =
        serde_json::from_str(TOKEN_ARTIFACT).expect("the committed artifact is JSON");
    let code = artifact["bytecode"]
        .as_str()
        .expect("artifact has bytecode");
    let mut out = hex::decode(code.trim_start_matches("0x")).expect("bytecode is hex");
    out.extend(
        Token::constructorCall {
            name_: "Test".into(),
            symbol_: "TST".into(),
            supply,
        }
        .abi_encode(),
    );
    out.into()
}

/// Calldata of `transfer(to, value)`.
pub fn transfer_call(to: Address, value: U256) -> Bytes {
    Token::transferCall { to, value }.abi_encode().into()
}

/// Calldata of `balanceOf(owner)`.
pub fn balance_of_call(owner: Address) -> Bytes {
    Token::balanceOfCall { owner }.abi_encode().into()
}

/// Fee settings for test transactions.
#[derive(Debug, Clone, Copy)]
pub struct Fees {
    pub max_fee: u128,
    pub tip: u128,
}

impl Default for Fees {
    fn default() -> Self {
        // Well above the devnet's minimum base fee (0.01 gwei).
        Self {
            max_fee: 1_000_000_000,
            tip: 1_000_000,
        }
    }
}

/// A signed EIP-1559 transaction in EIP-2718 form.
#[allow(clippy::too_many_arguments)]
pub fn eip1559(
    key: &AccountKey,
    chain_id: u64,
    nonce: u64,
    to: TxKind,
    value: U256,
    input: Bytes,
    gas_limit: u64,
    fees: Fees,
) -> Bytes {
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit,
        max_fee_per_gas: fees.max_fee,
        max_priority_fee_per_gas: fees.tip,
        to,
        value,
        access_list: Default::default(),
        input,
    };
    key.sign_tx(tx).encoded_2718().into()
}

/// A signed EIP-155 legacy transaction.
pub fn legacy(
    key: &AccountKey,
    chain_id: u64,
    nonce: u64,
    to: TxKind,
    value: U256,
    gas_price: u128,
) -> Bytes {
    let tx = TxLegacy {
        chain_id: Some(chain_id),
        nonce,
        gas_price,
        gas_limit: 21_000,
        to,
        value,
        input: Bytes::new(),
    };
    key.sign_tx(tx).encoded_2718().into()
}

/// Deploys the test token with `supply` minted to the sender; it lands at
/// `key.address().create(nonce)`.
pub fn deploy_token(key: &AccountKey, chain_id: u64, nonce: u64, supply: U256) -> Bytes {
    eip1559(
        key,
        chain_id,
        nonce,
        TxKind::Create,
        U256::ZERO,
        token_deploy_code(supply),
        2_000_000,
        Fees::default(),
    )
}

/// `token.transfer(to, value)` with a 100,000 gas limit.
pub fn token_transfer(
    key: &AccountKey,
    chain_id: u64,
    nonce: u64,
    token: Address,
    to: Address,
    value: U256,
) -> Bytes {
    eip1559(
        key,
        chain_id,
        nonce,
        TxKind::Call(token),
        U256::ZERO,
        transfer_call(to, value),
        100_000,
        Fees::default(),
    )
}

/// A plain value transfer.
pub fn transfer(key: &AccountKey, chain_id: u64, nonce: u64, to: Address, value: U256) -> Bytes {
    eip1559(
        key,
        chain_id,
        nonce,
        TxKind::Call(to),
        value,
        Bytes::new(),
        21_000,
        Fees::default(),
    )
}

/// A contract creation carrying 200,000 bytes of code: larger than any node accepts.
pub fn oversized(key: &AccountKey, chain_id: u64, nonce: u64) -> Bytes {
    eip1559(
        key,
        chain_id,
        nonce,
        TxKind::Create,
        U256::ZERO,
        Bytes::from(vec![0u8; 200_000]),
        30_000_000,
        Fees::default(),
    )
}

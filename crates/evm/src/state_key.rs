//! Every state key the EVM module writes, and the encoding of its values. Nothing else in the
//! workspace builds these keys, so the committed layout is visible in one place.
//!
//! | key                               | value                                        |
//! |-----------------------------------|----------------------------------------------|
//! | `"a" ++ address`                  | nonce (8 BE) ++ balance (32 BE) ++ code hash |
//! | `"s" ++ address ++ slot (32 BE)`  | value (32 BE); zero values are deleted        |
//!
//! Contract code lives outside the tree, in the store's code column keyed by its keccak hash;
//! the account's code hash commits to it.

use alloy_primitives::{Address, B256, U256};
use revm::primitives::KECCAK_EMPTY;

/// Account fields that the tree commits to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountRecord {
    pub nonce: u64,
    pub balance: U256,
    pub code_hash: B256,
}

impl Default for AccountRecord {
    fn default() -> Self {
        Self {
            nonce: 0,
            balance: U256::ZERO,
            code_hash: KECCAK_EMPTY,
        }
    }
}

const ACCOUNT_LEN: usize = 8 + 32 + 32;

impl AccountRecord {
    /// The committed encoding (72 bytes).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ACCOUNT_LEN);
        out.extend_from_slice(&self.nonce.to_be_bytes());
        out.extend_from_slice(&self.balance.to_be_bytes::<32>());
        out.extend_from_slice(self.code_hash.as_slice());
        out
    }

    /// Decodes [`AccountRecord::encode`]'s output; `None` if the length is wrong.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != ACCOUNT_LEN {
            return None;
        }
        let nonce = u64::from_be_bytes(bytes[..8].try_into().ok()?);
        let balance = U256::from_be_slice(&bytes[8..40]);
        let code_hash = B256::from_slice(&bytes[40..]);
        Some(Self {
            nonce,
            balance,
            code_hash,
        })
    }
}

/// Key of an account record.
pub fn account(address: &Address) -> Vec<u8> {
    let mut key = Vec::with_capacity(21);
    key.push(b'a');
    key.extend_from_slice(address.as_slice());
    key
}

/// Key of one storage slot of a contract.
pub fn storage(address: &Address, slot: &U256) -> Vec<u8> {
    let mut key = Vec::with_capacity(53);
    key.push(b's');
    key.extend_from_slice(address.as_slice());
    key.extend_from_slice(&slot.to_be_bytes::<32>());
    key
}

/// Decodes a storage value (32 bytes big-endian).
pub fn decode_slot(bytes: &[u8]) -> Option<U256> {
    (bytes.len() == 32).then(|| U256::from_be_slice(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_round_trip() {
        let a = AccountRecord {
            nonce: 7,
            balance: U256::from(123_456u64),
            code_hash: B256::repeat_byte(9),
        };
        assert_eq!(AccountRecord::decode(&a.encode()), Some(a));
        assert_eq!(AccountRecord::decode(&a.encode()[1..]), None);
    }

    #[test]
    fn keys_do_not_collide() {
        let addr = Address::repeat_byte(1);
        assert_ne!(account(&addr)[0], storage(&addr, &U256::ZERO)[0]);
        assert_eq!(storage(&addr, &U256::from(1)).len(), 53);
    }
}

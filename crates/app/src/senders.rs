//! Sender recovery, once per transaction: CheckTx recovers the signer and remembers it by
//! transaction hash, so proposals and FinalizeBlock only look it up. Misses (transactions
//! first seen in a block) are recovered on all cores.

use std::collections::HashMap;

use alloy_primitives::{keccak256, Address, Bytes, B256};
use bevm_evm::ChainSpec;
use bevm_primitives::tx::{decode_eth_tx_with_sender, EthTx, TxError};
use parking_lot::Mutex;

/// Entries kept before the cache is emptied (about 50 bytes each).
const CAPACITY: usize = 500_000;

/// Recovered senders by transaction hash. The value is a pure function of the key's
/// preimage, so a hit is exactly what recovery would return.
#[derive(Debug, Default)]
pub struct SenderCache {
    senders: Mutex<HashMap<B256, Address>>,
}

impl SenderCache {
    pub fn remember(&self, hash: B256, sender: Address) {
        let mut map = self.senders.lock();
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(hash, sender);
    }

    fn get(&self, hash: &B256) -> Option<Address> {
        self.senders.lock().get(hash).copied()
    }

    /// Decodes every transaction of a block, in order, remembering the senders it recovered
    /// (ProcessProposal recovers them once, FinalizeBlock then finds them).
    pub fn decode_all(&self, txs: &[Bytes], spec: &ChainSpec) -> Vec<Result<EthTx, TxError>> {
        let hashes: Vec<B256> = txs.iter().map(keccak256).collect();
        let known: Vec<Option<Address>> = {
            let map = self.senders.lock();
            hashes.iter().map(|hash| map.get(hash).copied()).collect()
        };
        let decoded = decode_all_with(txs, &hashes, &known, spec);
        for (tx, _) in decoded.iter().zip(&known).filter(|(_, k)| k.is_none()) {
            if let Ok(tx) = tx {
                self.remember(tx.hash, tx.sender);
            }
        }
        decoded
    }

    /// Decodes one transaction, using and filling the cache.
    pub fn decode(&self, raw: &[u8], spec: &ChainSpec) -> Result<EthTx, TxError> {
        let raw = Bytes::copy_from_slice(raw);
        let hash = keccak256(&raw);
        let tx = decode_eth_tx_with_sender(
            &raw,
            hash,
            spec.chain_id,
            spec.max_tx_bytes(),
            self.get(&hash),
        )?;
        self.remember(hash, tx.sender);
        Ok(tx)
    }
}

/// Decodes `txs` with the senders already `known`, recovering the others on all cores when
/// there are enough of them to pay for the threads.
fn decode_all_with(
    txs: &[Bytes],
    hashes: &[B256],
    known: &[Option<Address>],
    spec: &ChainSpec,
) -> Vec<Result<EthTx, TxError>> {
    let decode = |((raw, hash), known): ((&Bytes, &B256), &Option<Address>)| {
        decode_eth_tx_with_sender(raw, *hash, spec.chain_id, spec.max_tx_bytes(), *known)
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let misses = known.iter().filter(|k| k.is_none()).count();
    if threads < 2 || misses < 64 {
        return txs.iter().zip(hashes).zip(known).map(decode).collect();
    }
    let chunk = txs.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = txs
            .chunks(chunk)
            .zip(hashes.chunks(chunk))
            .zip(known.chunks(chunk))
            .map(|((raws, hashes), known)| {
                scope.spawn(move || {
                    raws.iter()
                        .zip(hashes)
                        .zip(known)
                        .map(decode)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use alloy_consensus::TxEip1559;
    use alloy_eips::eip2718::Encodable2718;
    use alloy_primitives::TxKind;
    use bevm_primitives::{genesis::Genesis, keys::AccountKey};

    use super::*;

    #[test]
    fn a_block_decoded_once_is_not_recovered_again() {
        let spec = ChainSpec::from_genesis(&Genesis::devnet(1337));
        let key = AccountKey::from_seed(b"senders");
        let raw: Bytes = key
            .sign_tx(TxEip1559 {
                chain_id: 1337,
                gas_limit: 21_000,
                max_fee_per_gas: 1,
                to: TxKind::Call(Address::repeat_byte(1)),
                ..TxEip1559::default()
            })
            .encoded_2718()
            .into();
        let cache = SenderCache::default();
        assert_eq!(cache.get(&keccak256(&raw)), None);
        let decoded = cache.decode_all(&[raw.clone(), Bytes::from_static(b"\x02junk")], &spec);
        assert_eq!(
            decoded[0].as_ref().map(|t| t.sender).ok(),
            Some(key.address())
        );
        assert!(decoded[1].is_err());
        // What ProcessProposal recovered, FinalizeBlock looks up.
        assert_eq!(cache.get(&keccak256(&raw)), Some(key.address()));
    }
}

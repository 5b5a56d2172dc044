//! Sender recovery, once per transaction: CheckTx recovers the signer and remembers it by
//! transaction hash, so proposals and FinalizeBlock only look it up. Misses (transactions
//! first seen in a block) are recovered together, sixteen at a time where the CPU can
//! (`bevm_ecrecover`), and on all cores.

use alloy_consensus::crypto::RecoveryError;
use alloy_primitives::{keccak256, map::HashMap, Address, Bytes, Signature, B256};
use bevm_evm::ChainSpec;
use bevm_primitives::tx::{
    decode_eth_tx_unrecovered, decode_eth_tx_with_sender, invalid_signature, EthTx, TxError,
    UnrecoveredTx,
};
use parking_lot::Mutex;

/// Entries kept (about 50 bytes each): twice the mempool size `bevm init` configures. Included
/// transactions are forgotten at FinalizeBlock, so what fills the cache is transactions
/// checked and never included; past this, the oldest half is dropped.
const CAPACITY: usize = 200_000;

/// Recovered senders by transaction hash. The value is a pure function of the key's
/// preimage, so a hit is exactly what recovery would return.
#[derive(Debug, Default)]
pub struct SenderCache {
    senders: Mutex<Generations>,
}

/// Two halves: new entries go to `young`; when it is full it replaces `old`, so eviction
/// drops the oldest half and never everything at once.
#[derive(Debug, Default)]
struct Generations {
    young: HashMap<B256, Address>,
    old: HashMap<B256, Address>,
}

impl Generations {
    fn get(&self, hash: &B256) -> Option<Address> {
        self.young.get(hash).or_else(|| self.old.get(hash)).copied()
    }
}

impl SenderCache {
    pub fn remember(&self, hash: B256, sender: Address) {
        let mut g = self.senders.lock();
        if g.young.len() >= CAPACITY / 2 && !g.young.contains_key(&hash) {
            let full = std::mem::take(&mut g.young);
            g.old = full;
        }
        g.young.insert(hash, sender);
    }

    fn get(&self, hash: &B256) -> Option<Address> {
        self.senders.lock().get(hash)
    }

    /// Decodes every transaction of a block, in order, remembering the senders it recovered
    /// (ProcessProposal recovers them once, FinalizeBlock then finds them).
    pub fn decode_all(&self, txs: &[Bytes], spec: &ChainSpec) -> Vec<Result<EthTx, TxError>> {
        let (hashes, known) = self.look_up(txs, |g, hash| g.get(hash));
        let decoded = decode_all_with(txs, &hashes, &known, spec);
        for (tx, _) in decoded.iter().zip(&known).filter(|(_, k)| k.is_none()) {
            if let Ok(tx) = tx {
                self.remember(tx.hash, tx.sender);
            }
        }
        decoded
    }

    /// Decodes the transactions of a block being executed (FinalizeBlock), taking their
    /// senders out of the cache and remembering none: once included they are rarely needed
    /// again (one skipped for its nonce or fee may come back, and is then recovered again).
    pub fn decode_included(&self, txs: &[Bytes], spec: &ChainSpec) -> Vec<Result<EthTx, TxError>> {
        let (hashes, known) = self.look_up(txs, |g, hash| {
            g.young.remove(hash).or_else(|| g.old.remove(hash))
        });
        decode_all_with(txs, &hashes, &known, spec)
    }

    /// Each transaction's hash and what `find` gives for it, under one lock.
    fn look_up(
        &self,
        txs: &[Bytes],
        mut find: impl FnMut(&mut Generations, &B256) -> Option<Address>,
    ) -> (Vec<B256>, Vec<Option<Address>>) {
        let hashes: Vec<B256> = txs.iter().map(keccak256).collect();
        let mut g = self.senders.lock();
        let known = hashes.iter().map(|hash| find(&mut g, hash)).collect();
        (hashes, known)
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
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let misses = known.iter().filter(|k| k.is_none()).count();
    if threads < 2 || misses < 64 {
        return decode_chunk(txs, hashes, known, spec);
    }
    let chunk = txs.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = txs
            .chunks(chunk)
            .zip(hashes.chunks(chunk))
            .zip(known.chunks(chunk))
            .map(|((raws, hashes), known)| {
                scope.spawn(move || decode_chunk(raws, hashes, known, spec))
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// Decodes `txs`, then recovers the senders not `known` all together (sixteen at a time where
/// the CPU can: see `bevm_ecrecover`).
fn decode_chunk(
    txs: &[Bytes],
    hashes: &[B256],
    known: &[Option<Address>],
    spec: &ChainSpec,
) -> Vec<Result<EthTx, TxError>> {
    let decoded: Vec<Result<UnrecoveredTx, TxError>> = txs
        .iter()
        .zip(hashes)
        .map(|(raw, hash)| {
            decode_eth_tx_unrecovered(raw, *hash, spec.chain_id, spec.max_tx_bytes())
        })
        .collect();
    let unknown: Vec<(B256, Signature)> = decoded
        .iter()
        .zip(known)
        .filter_map(|(tx, known)| match (tx, known) {
            (Ok(tx), None) => Some(tx.signing()),
            _ => None,
        })
        .collect();
    let recovered = bevm_ecrecover::recover_signers(&unknown);
    debug_assert_eq!(recovered.len(), unknown.len(), "one result per signature");
    let mut recovered = recovered.into_iter();
    decoded
        .into_iter()
        .zip(known)
        .map(|(tx, known)| {
            let tx = tx?;
            let sender = match known {
                Some(sender) => *sender,
                None => next_sender(&mut recovered)?,
            };
            Ok(tx.with_sender(sender))
        })
        .collect()
}

/// The next recovered sender: there is one per transaction whose sender was not known.
fn next_sender(
    recovered: &mut impl Iterator<Item = Result<Address, RecoveryError>>,
) -> Result<Address, TxError> {
    match recovered.next() {
        Some(result) => result.map_err(invalid_signature),
        None => Err(TxError::InvalidSignature("sender not recovered".into())),
    }
}

#[cfg(test)]
mod tests {
    use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
    use alloy_eips::eip2718::{Decodable2718, Encodable2718};
    use alloy_primitives::{TxKind, U256};
    use bevm_primitives::{genesis::Genesis, keys::AccountKey};

    use super::*;

    /// An EIP-1559 transfer of `key` on `chain_id`, signed with `sig` if given (any r, s and
    /// parity) instead of the key's own signature.
    fn signed_with(key: &AccountKey, chain_id: u64, nonce: u64, sig: Option<Signature>) -> Bytes {
        let tx = TxEip1559 {
            chain_id,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: 1,
            to: TxKind::Call(Address::repeat_byte(1)),
            ..TxEip1559::default()
        };
        match sig {
            Some(sig) => TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into(),
            None => key.sign_tx(tx).encoded_2718().into(),
        }
    }

    /// Each transaction of a block, decoded with the others (as ProcessProposal and
    /// FinalizeBlock do: recovered on the lanes where the CPU has them, on both cores) and
    /// alone (as CheckTx does, with libsecp256k1), gives the same sender or the same error.
    #[test]
    fn a_block_decodes_each_transaction_as_check_tx_does() {
        let spec = ChainSpec::from_genesis(&Genesis::devnet(1337));
        let keys: Vec<AccountKey> = (0..8u8).map(|i| AccountKey::from_seed(&[i])).collect();
        let n = alloy_consensus::crypto::SECP256K1N_HALF * U256::from(2) + U256::from(1);
        let mut txs = Vec::new();
        for i in 0..96u64 {
            let key = &keys[i as usize % keys.len()];
            let raw = match i % 8 {
                // High s: the same key for libsecp256k1, refused by EIP-2.
                5 => {
                    let own =
                        TxEnvelope::decode_2718(&mut signed_with(key, 1337, i, None).as_ref())
                            .expect("decodes");
                    let sig = own.signature();
                    let high = Signature::new(sig.r(), n - sig.s(), !sig.v());
                    signed_with(key, 1337, i, Some(high))
                }
                // Some other r and s: a random signer, or no point at all.
                6 => {
                    let sig =
                        Signature::new(U256::from(i * 7919 + 3), U256::from(i + 11), i % 3 == 0);
                    signed_with(key, 1337, i, Some(sig))
                }
                7 if i % 16 == 7 => signed_with(key, 1, i, None),
                7 => Bytes::from_static(b"\x02junk"),
                _ => signed_with(key, 1337, i, None),
            };
            txs.push(raw);
        }
        let alone: Vec<Result<Address, String>> = txs
            .iter()
            .map(|raw| {
                decode_eth_tx_with_sender(raw, keccak256(raw), 1337, spec.max_tx_bytes(), None)
                    .map(|t| t.sender)
                    .map_err(|e| e.to_string())
            })
            .collect();
        assert!(alone.iter().filter(|r| r.is_ok()).count() >= 60);
        assert!(alone
            .iter()
            .any(|r| r.as_ref().is_err_and(|e| e.contains("invalid sender"))));
        let cache = SenderCache::default();
        // First every sender unknown, then every one that recovered known.
        for _ in 0..2 {
            let together: Vec<Result<Address, String>> = cache
                .decode_all(&txs, &spec)
                .into_iter()
                .map(|r| r.map(|t| t.sender).map_err(|e| e.to_string()))
                .collect();
            assert_eq!(together, alone);
        }
    }

    #[test]
    fn a_block_decoded_once_is_not_recovered_again() {
        let spec = ChainSpec::from_genesis(&Genesis::devnet(1337));
        let key = AccountKey::from_seed(b"senders");
        let raw = signed_with(&key, 1337, 0, None);
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
        // FinalizeBlock takes it out, and remembers nothing of the block.
        let other = signed_with(&key, 1337, 1, None);
        let included = cache.decode_included(&[raw.clone(), other.clone()], &spec);
        assert!(included
            .iter()
            .all(|t| t.as_ref().map(|t| t.sender).ok() == Some(key.address())));
        assert_eq!(cache.get(&keccak256(&raw)), None);
        assert_eq!(cache.get(&keccak256(&other)), None);
    }

    #[test]
    fn eviction_drops_the_oldest_half_only() {
        let cache = SenderCache::default();
        let hash = |i: usize| B256::left_padding_from(&i.to_be_bytes());
        for i in 0..CAPACITY {
            cache.remember(hash(i), Address::repeat_byte(1));
        }
        // Full: the next entry moves the newer half to the old generation, dropping the rest.
        cache.remember(hash(CAPACITY), Address::repeat_byte(2));
        assert_eq!(cache.get(&hash(0)), None);
        assert_eq!(cache.get(&hash(CAPACITY / 2 - 1)), None);
        assert_eq!(
            cache.get(&hash(CAPACITY / 2)),
            Some(Address::repeat_byte(1))
        );
        assert_eq!(
            cache.get(&hash(CAPACITY - 1)),
            Some(Address::repeat_byte(1))
        );
        assert_eq!(cache.get(&hash(CAPACITY)), Some(Address::repeat_byte(2)));
    }
}

//! Benchmarks live in `benches/`; this library holds their shared fixtures.

use alloy_primitives::{Address, Bytes, TxKind, U256};
use bevm_primitives::{genesis::Genesis, keys::AccountKey, units::btc_to_wei};
use bevm_testkit::{txs, TestNode};

/// A chain with a deployed ERC-20 and `senders` accounts that each hold tokens, plus the
/// next nonce of each sender.
pub struct Erc20Fixture {
    pub node: TestNode,
    pub token: Address,
    pub senders: Vec<AccountKey>,
    pub nonces: Vec<u64>,
}

impl Erc20Fixture {
    pub fn new(senders: usize) -> Self {
        let keys: Vec<AccountKey> = (0..=senders)
            .map(|i| AccountKey::from_seed(format!("bench {i}").as_bytes()))
            .collect();
        let genesis =
            Genesis::devnet_funded(1337, keys.iter().map(AccountKey::address), btc_to_wei(100));
        let mut node = TestNode::with_genesis(genesis, keys.clone());
        let owner = &keys[0];
        let supply = U256::from(10u64).pow(U256::from(30u64));
        let deploy = txs::deploy_token(owner, 1337, 0, supply);
        node.block(vec![deploy]);
        let token = owner.address().create(0);
        let mut nonce = 1;
        for chunk in keys[1..].chunks(2000) {
            let funding: Vec<Bytes> = chunk
                .iter()
                .map(|k| {
                    let raw = txs::eip1559(
                        owner,
                        1337,
                        nonce,
                        TxKind::Call(token),
                        U256::ZERO,
                        txs::transfer_call(k.address(), U256::from(10u64).pow(U256::from(24u64))),
                        100_000,
                        Default::default(),
                    );
                    nonce += 1;
                    raw
                })
                .collect();
            node.block(funding);
        }
        let senders = keys[1..].to_vec();
        let nonces = vec![0; senders.len()];
        Self {
            node,
            token,
            senders,
            nonces,
        }
    }

    /// One block of ERC-20 transfers, each sender sending one to a fresh recipient.
    pub fn next_block(&mut self, txs_per_block: usize, salt: u64) -> Vec<Bytes> {
        (0..txs_per_block)
            .map(|i| {
                let s = i % self.senders.len();
                let mut to = [0u8; 20];
                to[..8].copy_from_slice(&salt.to_be_bytes());
                to[8..16].copy_from_slice(&(i as u64).to_be_bytes());
                let raw = txs::eip1559(
                    &self.senders[s],
                    1337,
                    self.nonces[s],
                    TxKind::Call(self.token),
                    U256::ZERO,
                    txs::transfer_call(Address::from(to), U256::from(1u64)),
                    60_000,
                    Default::default(),
                );
                self.nonces[s] += 1;
                raw
            })
            .collect()
    }
}

/// Finalizes and commits `txs` as one block and returns the time that took; every
/// transaction must succeed.
pub fn timed_block(node: &mut TestNode, txs: Vec<Bytes>) -> std::time::Duration {
    let start = std::time::Instant::now();
    let (results, _) = node.block(txs);
    let took = start.elapsed();
    assert!(
        results.iter().all(|r| r.code == 0),
        "{:?}",
        results.iter().find(|r| r.code != 0)
    );
    took
}

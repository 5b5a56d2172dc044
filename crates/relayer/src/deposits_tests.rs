//! Deposit discovery against an in-memory Bitcoin node and L2: only blocks at the depth are
//! scanned, only transactions paying the bridge are relayed (with proofs that prove them),
//! a relay refused as not proven is retried, and a restart rescans without double counting.

use std::cell::RefCell;

use bevm_btc_light::{spv::MerkleProof, BlockHash, Header};
use bitcoin::{
    block, consensus::serialize, hashes::Hash as _, Block, CompactTarget, ScriptBuf, Transaction,
    TxMerkleNode,
};

use crate::{
    BitcoinSource, BridgeInfo, DepositOutcome, DepositScanner, L2Bridge, L2Chain, L2Tip, RawBlocks,
    RelayError, ScanProgress,
};

const VAULT: [u8; 3] = [0x51, 0x01, 0x01];
const REGISTERED: [u8; 3] = [0x51, 0x01, 0x02];

fn tx(salt: u8, script: &[u8]) -> Transaction {
    bevm_custody::testing::payment(vec![(50_000, ScriptBuf::from_bytes(script.to_vec()))], salt)
}

/// Blocks 1..=n; block h holds a coinbase and `payments[h]`.
struct Chain {
    blocks: Vec<Block>,
}

impl Chain {
    fn new(payments: &[Vec<Transaction>]) -> Self {
        let blocks = payments
            .iter()
            .enumerate()
            .map(|(h, txs)| {
                let mut txdata = vec![tx(0xc0 + h as u8, &[0x6a])];
                txdata.extend(txs.iter().cloned());
                let mut b = Block {
                    header: block::Header {
                        version: block::Version::TWO,
                        prev_blockhash: bitcoin::BlockHash::all_zeros(),
                        merkle_root: TxMerkleNode::all_zeros(),
                        time: h as u32,
                        bits: CompactTarget::from_consensus(0x207fffff),
                        nonce: 0,
                    },
                    txdata,
                };
                b.header.merkle_root = b.compute_merkle_root().expect("transactions");
                b
            })
            .collect();
        Self { blocks }
    }

    /// The block at height `h` (1-based).
    fn at(&self, h: u32) -> &Block {
        &self.blocks[h as usize - 1]
    }

    fn hash(&self, h: u32) -> BlockHash {
        BlockHash(self.at(h).block_hash().to_byte_array())
    }
}

impl BitcoinSource for &Chain {
    fn best_height(&self) -> Result<u32, RelayError> {
        Ok(self.blocks.len() as u32)
    }
    fn hash_at(&self, height: u32) -> Result<BlockHash, RelayError> {
        Ok(self.hash(height))
    }
    fn header(&self, _: &BlockHash) -> Result<Header, RelayError> {
        Err(RelayError::Bitcoin("not used by the scanner".into()))
    }
}

impl RawBlocks for &Chain {
    fn raw_block(&self, hash: &BlockHash) -> Result<Vec<u8>, RelayError> {
        self.blocks
            .iter()
            .find(|b| b.block_hash().to_byte_array() == hash.0)
            .map(serialize)
            .ok_or_else(|| RelayError::Bitcoin(format!("no block {hash}")))
    }
}

/// The L2: a light-client tip over `chain`'s hashes, and a bridge that records relays.
struct L2<'a> {
    chain: &'a Chain,
    tip: RefCell<u32>,
    recorded: RefCell<Vec<[u8; 32]>>,
    /// The next relay is found unproven, with this reason.
    refuse_next: RefCell<Option<String>>,
    /// A script registered later, reported by the next `registered_scripts`.
    registers_next: RefCell<Option<Vec<u8>>>,
}

impl<'a> L2<'a> {
    fn new(chain: &'a Chain, tip: u32) -> Self {
        Self {
            chain,
            tip: RefCell::new(tip),
            recorded: RefCell::default(),
            refuse_next: RefCell::default(),
            registers_next: RefCell::default(),
        }
    }
}

impl L2Chain for &L2<'_> {
    fn tip(&self) -> Result<L2Tip, RelayError> {
        let height = *self.tip.borrow();
        Ok(L2Tip {
            height,
            hash: self.chain.hash(height),
        })
    }
    fn contains(&self, _: &BlockHash) -> Result<bool, RelayError> {
        Ok(true)
    }
    fn has_best_at(&self, height: u32) -> Result<bool, RelayError> {
        Ok(height <= *self.tip.borrow())
    }
    fn submit(&self, _: &[Header]) -> Result<(), RelayError> {
        Ok(())
    }
}

impl L2Bridge for &L2<'_> {
    fn bridge(&self) -> Result<Option<BridgeInfo>, RelayError> {
        Ok(Some(BridgeInfo {
            vault_script: VAULT.to_vec(),
            confirmations: 3,
        }))
    }
    fn best_hash_at(&self, height: u32) -> Result<Option<BlockHash>, RelayError> {
        Ok((height >= 1 && height <= *self.tip.borrow()).then(|| self.chain.hash(height)))
    }
    fn registered_scripts(&self, from: u64) -> Result<(Vec<Vec<u8>>, u64), RelayError> {
        let mut scripts = if from == 0 {
            vec![REGISTERED.to_vec()]
        } else {
            Vec::new()
        };
        scripts.extend(self.registers_next.borrow_mut().take());
        Ok((scripts, from + 1))
    }
    fn submit_deposit(&self, raw: &[u8], proof: &[u8]) -> Result<DepositOutcome, RelayError> {
        if let Some(why) = self.refuse_next.borrow_mut().take() {
            return Ok(DepositOutcome::Unproven(why));
        }
        let txid = bevm_btc_light::block::txid(raw).expect("a transaction");
        let proven = MerkleProof::decode(proof)
            .and_then(|p| p.extract())
            .expect("a proof");
        assert!(
            proven.txs.iter().any(|(_, t)| *t == txid),
            "the proof proves the tx"
        );
        let mut recorded = self.recorded.borrow_mut();
        if recorded.contains(&txid) {
            return Ok(DepositOutcome::Known);
        }
        recorded.push(txid);
        Ok(DepositOutcome::Accepted)
    }
}

fn txid(t: &Transaction) -> [u8; 32] {
    t.compute_txid().to_byte_array()
}

#[test]
fn deposits_are_relayed_once_deep_enough_and_only_those() {
    let (memo, address, unrelated, late) = (
        tx(1, &VAULT),
        tx(2, &REGISTERED),
        tx(3, &[0x51, 0x01, 0x09]),
        tx(4, &VAULT),
    );
    let chain = Chain::new(&[
        vec![],
        vec![memo.clone()],
        vec![address.clone()],
        vec![unrelated],
        vec![late.clone()],
        vec![],
        vec![],
    ]);
    let l2 = L2::new(&chain, 6);
    let scanner = DepositScanner::new(&chain, &l2, 10);

    // Tip 6 with 3 confirmations: blocks up to 4 are deep enough; block 5 is not.
    assert_eq!(
        scanner.step(),
        Ok(ScanProgress::Scanned {
            from: 0,
            to: 4,
            relayed: 2
        })
    );
    assert_eq!(*l2.recorded.borrow(), vec![txid(&memo), txid(&address)]);
    assert_eq!(scanner.step(), Ok(ScanProgress::Waiting));

    // One more block: block 5 is deep enough, but the L2 refuses it once as not proven
    // (its light client moved): the block is scanned again on the next step.
    *l2.tip.borrow_mut() = 7;
    *l2.refuse_next.borrow_mut() = Some("deposit not proven: not on the best chain".into());
    assert!(matches!(scanner.step(), Err(RelayError::Refused(_))));
    assert_eq!(
        scanner.step(),
        Ok(ScanProgress::Scanned {
            from: 5,
            to: 5,
            relayed: 1
        })
    );
    assert_eq!(l2.recorded.borrow().last(), Some(&txid(&late)));

    // A restart rescans its lookback; the L2 already holds those, so nothing is counted.
    let restarted = DepositScanner::new(&chain, &l2, 3);
    assert_eq!(
        restarted.step(),
        Ok(ScanProgress::Scanned {
            from: 2,
            to: 5,
            relayed: 0
        })
    );
    assert_eq!(l2.recorded.borrow().len(), 3);
}

#[test]
fn a_payment_scanned_before_its_address_was_registered_is_relayed_after() {
    let late_script = [0x51, 0x20, 0x07];
    let early = tx(5, &late_script);
    let chain = Chain::new(&[vec![], vec![early.clone()], vec![], vec![], vec![]]);
    let l2 = L2::new(&chain, 4);
    let scanner = DepositScanner::new(&chain, &l2, 10);
    assert_eq!(
        scanner.step(),
        Ok(ScanProgress::Scanned {
            from: 0,
            to: 2,
            relayed: 0
        }),
        "the address is not registered yet"
    );
    *l2.registers_next.borrow_mut() = Some(late_script.to_vec());
    assert_eq!(
        scanner.step(),
        Ok(ScanProgress::Scanned {
            from: 0,
            to: 2,
            relayed: 1
        }),
        "the registration makes the scanner look at its lookback again"
    );
    assert_eq!(*l2.recorded.borrow(), vec![txid(&early)]);
}

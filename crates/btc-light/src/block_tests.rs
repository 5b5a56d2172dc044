extern crate std;

use alloc::vec::Vec;

use proptest::prelude::*;

use crate::{
    block::{txid, BlockError, BlockTxids},
    MerkleProof,
};

const BLOCK_830000: &[u8] = include_bytes!("../testdata/mainnet_block_830000.bin");
const PROOF_830000_0: &[u8] = include_bytes!("../testdata/spv/0830000-0.bin");
const PROOF_830000_1850: &[u8] = include_bytes!("../testdata/spv/0830000-1850.bin");
const PROOFS_JSON: &str = include_str!("../testdata/spv/mainnet_spv_proofs.json");

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn matching(block: &BlockTxids, indexes: &[usize]) -> Vec<bool> {
    (0..block.txids.len())
        .map(|i| indexes.contains(&i))
        .collect()
}

#[test]
fn a_real_segwit_block_parses_to_its_merkle_root() {
    let block = BlockTxids::parse(BLOCK_830000).expect("block 830000 parses");
    assert_eq!(block.txids.len(), 1851);
    assert_eq!(
        std::format!("{}", block.header.hash()),
        "000000000000000000011d55599ed27d7efca05f5849b755319c89eb2cffbc1f"
    );
}

#[test]
fn proofs_built_from_the_block_equal_bitcoin_cores() {
    let block = BlockTxids::parse(BLOCK_830000).expect("parses");
    let coinbase = MerkleProof::build(block.header, &block.txids, &matching(&block, &[0]));
    assert_eq!(coinbase.encode(), PROOF_830000_0);
    let last = MerkleProof::build(block.header, &block.txids, &matching(&block, &[1850]));
    assert_eq!(last.encode(), PROOF_830000_1850);
}

#[test]
fn a_proof_for_a_txid_also_matches_the_coinbase() {
    let block = BlockTxids::parse(BLOCK_830000).expect("parses");
    let proof = block.proof(&block.txids[1000]).expect("in the block");
    let matches = proof.extract().expect("valid");
    let indexes: Vec<u32> = matches.txs.iter().map(|(i, _)| *i).collect();
    assert_eq!(indexes, [0, 1000]);
    assert_eq!(matches.txs[1].1, block.txids[1000]);
    assert!(block.proof(&[7; 32]).is_none());
}

#[test]
fn txids_of_real_transactions_exclude_the_witness() {
    let json: serde_json::Value = serde_json::from_str(PROOFS_JSON).expect("json");
    let mut witnesses = 0;
    for p in json["proofs"].as_array().expect("proofs") {
        let raw = hex(p["tx_hex"].as_str().expect("tx"));
        let want = hex(p["txid_internal"].as_str().expect("txid"));
        assert_eq!(txid(&raw).expect("parses").as_slice(), want.as_slice());
        witnesses += usize::from(p["has_witness"].as_bool().expect("bool"));
    }
    assert!(witnesses > 0, "the set covers segwit transactions");
}

#[test]
fn damaged_blocks_are_refused_with_the_reason() {
    let mut flipped = BLOCK_830000.to_vec();
    let lock_time = flipped.len() - 2; // the last transaction's lock time is in its txid
    flipped[lock_time] ^= 1;
    assert_eq!(
        BlockTxids::parse(&flipped).err(),
        Some(BlockError::MerkleRootMismatch)
    );
    // Witness bytes are not in txids (the coinbase's witness commitment covers them, which
    // proofs of inclusion by txid do not need): the same flip there changes nothing.
    let mut witness = BLOCK_830000.to_vec();
    let in_witness = witness.len() - 10;
    witness[in_witness] ^= 1;
    assert!(BlockTxids::parse(&witness).is_ok());
    assert_eq!(
        BlockTxids::parse(&BLOCK_830000[..BLOCK_830000.len() - 1]).err(),
        Some(BlockError::Malformed("truncated"))
    );
    let mut longer = BLOCK_830000.to_vec();
    longer.push(0);
    assert_eq!(
        BlockTxids::parse(&longer).err(),
        Some(BlockError::TrailingBytes(1))
    );
    let mut no_txs = BLOCK_830000[..80].to_vec();
    no_txs.push(0);
    assert_eq!(
        BlockTxids::parse(&no_txs).err(),
        Some(BlockError::BadTransactionCount(0))
    );
    // A segwit marker with an unknown flag.
    assert_eq!(
        txid(&[1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0]),
        Err(BlockError::UnknownTxFlag(2))
    );
}

proptest! {
    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = BlockTxids::parse(&bytes);
        let _ = txid(&bytes);
    }

    #[test]
    fn cut_blocks_are_refused(cut in 0usize..BLOCK_830000.len()) {
        prop_assert!(BlockTxids::parse(&BLOCK_830000[..cut]).is_err());
    }
}

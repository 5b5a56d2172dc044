extern crate std;

use alloc::vec::Vec;
use std::format;

use proptest::prelude::*;

use super::*;
use crate::{rules::StoredHeader, MemStore, Network, U256};

const PROOF_830000_0: &[u8] = include_bytes!("../testdata/spv/0830000-0.bin");
const PROOF_830000_1850: &[u8] = include_bytes!("../testdata/spv/0830000-1850.bin");
const PROOF_831332_MANY: &[u8] =
    include_bytes!("../testdata/spv/0831332-0_1_15_20_115_2019_2024.bin");
const PROOF_300025: &[u8] = include_bytes!("../testdata/spv/merkle300025.raw");
const PROOFS_JSON: &str = include_str!("../testdata/spv/mainnet_spv_proofs.json");
const MAINNET_822528: &[u8] = include_bytes!("../testdata/mainnet_822528-830592.bin");

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn indexes(raw: &[u8]) -> Vec<u32> {
    let proof = MerkleProof::decode(raw).expect("decodes");
    let matches = proof.extract().expect("valid proof");
    assert_eq!(matches.merkle_root, proof.header.merkle_root);
    assert_eq!(proof.encode(), raw, "re-encodes byte for byte");
    matches.txs.iter().map(|(i, _)| *i).collect()
}

#[test]
fn real_proofs_extract_their_named_transactions() {
    assert_eq!(indexes(PROOF_830000_0), [0]);
    assert_eq!(indexes(PROOF_830000_1850), [1850]);
    assert_eq!(indexes(PROOF_831332_MANY), [0, 1, 15, 20, 115, 2019, 2024]);
    assert_eq!(indexes(PROOF_300025), [396, 397]);
}

#[test]
fn real_proofs_match_their_transactions() {
    let json: serde_json::Value = serde_json::from_str(PROOFS_JSON).expect("json");
    let proofs = json["proofs"].as_array().expect("proofs");
    assert_eq!(proofs.len(), 19);
    for p in proofs {
        let proof = MerkleProof::decode(&hex(p["merkleblock_hex"].as_str().expect("hex")))
            .expect("decodes");
        assert_eq!(
            format!("{}", proof.header.hash()),
            p["block_hash"].as_str().expect("hash")
        );
        let txid: [u8; 32] = hex(p["txid_internal"].as_str().expect("txid"))
            .try_into()
            .expect("32");
        let index = p["tx_index"].as_u64().expect("index") as u32;
        let matches = proof.extract().expect("valid");
        assert!(matches.txs.contains(&(index, txid)));
        if !p["has_witness"].as_bool().expect("bool") {
            assert_eq!(sha256d(&hex(p["tx_hex"].as_str().expect("tx"))), txid);
        }
    }
}

/// Mainnet headers 824544..830592 (block 830000 has 593 confirmations at the tip).
fn mainnet_chain() -> MemStore {
    let params = Network::Mainnet.params();
    let run: Vec<Header> = MAINNET_822528
        .chunks_exact(80)
        .map(|c| Header::decode(c).expect("80"))
        .collect();
    let i = 2016;
    let times: Vec<u32> = run[i - 10..i].iter().map(|h| h.time).collect();
    let root =
        StoredHeader::root(&params, run[i], 824_544, U256::from(1u8) << 90, &times).expect("root");
    let mut store = MemStore::default();
    store.apply(&Chain::<MemStore>::init(root));
    for chunk in run[i + 1..].chunks(2000) {
        let changes = Chain::new(&params, &store, 1000)
            .submit(chunk, u32::MAX - 10_000)
            .expect("valid");
        store.apply(&changes);
    }
    store
}

#[test]
fn inclusion_is_checked_against_the_best_chain() {
    let params = Network::Mainnet.params();
    let store = mainnet_chain();
    let chain = Chain::new(&params, &store, 1000);
    let coinbase_proof = MerkleProof::decode(PROOF_830000_0).expect("decodes");
    let block = coinbase_proof.header.hash();
    let coinbase = coinbase_proof.extract().expect("valid").txs[0].1;

    let ok = verify_tx_inclusion(&chain, &coinbase, &block, PROOF_830000_0, 6).expect("proven");
    assert_eq!(
        ok,
        TxInclusion {
            block_height: 830_000,
            index: 0,
            confirmations: 593
        }
    );
    assert_eq!(
        verify_tx_inclusion(&chain, &coinbase, &block, PROOF_830000_0, 594),
        Err(ProofError::NotEnoughConfirmations {
            have: 593,
            need: 594
        })
    );
    let other = MerkleProof::decode(PROOF_830000_1850).expect("decodes");
    let tx1850 = other.extract().expect("valid").txs[0].1;
    assert_eq!(
        verify_tx_inclusion(&chain, &tx1850, &block, PROOF_830000_1850, 1),
        Err(ProofError::CoinbaseNotProven)
    );
    assert_eq!(
        verify_tx_inclusion(&chain, &tx1850, &block, PROOF_830000_0, 1),
        Err(ProofError::TxNotProven)
    );
    let mut wrong = block;
    wrong.0[5] ^= 1;
    assert!(matches!(
        verify_tx_inclusion(&chain, &coinbase, &wrong, PROOF_830000_0, 1),
        Err(ProofError::WrongBlock { .. })
    ));
    // Block 831332 is real but beyond the relayed headers.
    let later = MerkleProof::decode(PROOF_831332_MANY).expect("decodes");
    let later_coinbase = later.extract().expect("valid").txs[0].1;
    assert!(matches!(
        verify_tx_inclusion(
            &chain,
            &later_coinbase,
            &later.header.hash(),
            PROOF_831332_MANY,
            1
        ),
        Err(ProofError::NotOnBestChain(_))
    ));
}

/// A header committing to `merkle_root` (proof-of-work does not matter to proof decoding).
fn header_with_root(merkle_root: [u8; 32]) -> Header {
    Header {
        version: 4,
        prev_hash: BlockHash::ZERO,
        merkle_root,
        time: 0,
        bits: 0x207fffff,
        nonce: 0,
    }
}

fn txid(i: u32) -> [u8; 32] {
    sha256d(&i.to_le_bytes())
}

#[test]
fn duplicated_subtrees_are_refused() {
    // CVE-2012-2459: [a, b, c] and [a, b, c, c] share a merkle root.
    let three = [txid(1), txid(2), txid(3)];
    let four = [txid(1), txid(2), txid(3), txid(3)];
    assert_eq!(merkle_root(&three), merkle_root(&four));
    let header = header_with_root(merkle_root(&three));
    let honest = MerkleProof::build(header, &three, &[true, false, true]);
    assert_eq!(honest.extract().expect("valid").txs.len(), 2);
    let forged = MerkleProof::build(header, &four, &[true, false, false, true]);
    assert_eq!(forged.extract(), Err(ProofError::DuplicateSubtree));
}

#[test]
fn malformed_proofs_are_refused_without_panicking() {
    for len in 0..PROOF_831332_MANY.len() {
        assert!(
            MerkleProof::decode(&PROOF_831332_MANY[..len]).is_err(),
            "prefix of {len}"
        );
    }
    let mut trailing = PROOF_300025.to_vec();
    trailing.push(0);
    assert_eq!(
        MerkleProof::decode(&trailing),
        Err(ProofError::TrailingBytes(1))
    );
    let mut zero = PROOF_300025.to_vec();
    zero[80..84].copy_from_slice(&0u32.to_le_bytes());
    assert_eq!(
        MerkleProof::decode(&zero),
        Err(ProofError::BadTransactionCount(0))
    );
    let mut flipped = PROOF_300025.to_vec();
    flipped[100] ^= 1;
    assert_eq!(
        MerkleProof::decode(&flipped).expect("decodes").extract(),
        Err(ProofError::RootMismatch)
    );
}

proptest! {
    #![proptest_config(bevm_primitives::testing::proptest_config("btc-light-spv"))]

    /// Any subset of any block's transactions round-trips through build, encode, decode and
    /// extract, giving back exactly that subset and the block's root.
    #[test]
    fn proofs_round_trip(count in 1u32..300, picks in proptest::collection::vec(any::<u16>(), 1..6)) {
        let txids: Vec<[u8; 32]> = (0..count).map(txid).collect();
        let mut matched = alloc::vec![false; count as usize];
        for p in &picks {
            matched[*p as usize % count as usize] = true;
        }
        let header = header_with_root(merkle_root(&txids));
        let bytes = MerkleProof::build(header, &txids, &matched).encode();
        let matches = MerkleProof::decode(&bytes).expect("decodes").extract().expect("valid");
        let want: Vec<(u32, [u8; 32])> = (0..count).filter(|i| matched[*i as usize]).map(|i| (i, txids[i as usize])).collect();
        prop_assert_eq!(matches.txs, want);
    }

    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(p) = MerkleProof::decode(&bytes) {
            let _ = p.extract();
        }
    }
}

//! Bitcoin regtest headers mined in-process, and the relay transactions that carry them.

use alloy_primitives::Bytes;
use bevm_btc_light::{
    work::{hash_meets_target, target_from_bits},
    BlockHash, Header, Network,
};
use bevm_primitives::native::NativeTx;

/// Mines `count` regtest headers on top of `parent` (hash and time), 10 minutes apart.
/// `salt` makes branches from the same parent differ.
pub fn mine_regtest(parent: BlockHash, parent_time: u32, count: usize, salt: u8) -> Vec<Header> {
    let bits = Network::Regtest.params().pow_limit_bits;
    let target = target_from_bits(bits).expect("regtest bits are valid");
    let mut out: Vec<Header> = Vec::with_capacity(count);
    let (mut prev, mut time) = (parent, parent_time);
    for i in 0..count {
        time += 600;
        let mut h = Header {
            version: 0x2000_0000,
            prev_hash: prev,
            merkle_root: [salt; 32],
            time,
            bits,
            nonce: (i as u32) << 8,
        };
        while !hash_meets_target(&h.hash().0, target) {
            h.nonce = h.nonce.wrapping_add(1);
        }
        prev = h.hash();
        out.push(h);
    }
    out
}

/// Regtest headers from the regtest genesis block.
pub fn regtest_from_genesis(count: usize) -> Vec<Header> {
    let genesis = Network::Regtest.params().genesis;
    mine_regtest(genesis.hash(), genesis.time, count, 0)
}

/// A RelayHeaders transaction carrying `headers`.
pub fn relay_tx(headers: &[Header]) -> Bytes {
    NativeTx::RelayHeaders(headers.iter().map(Header::encode).collect())
        .encode()
        .into()
}

/// A non-witness Bitcoin transaction with one input and one output paying `script`.
pub fn payment_tx(value_sat: u64, script: &[u8]) -> Vec<u8> {
    let mut t = vec![2, 0, 0, 0, 1];
    t.extend_from_slice(&[0x11; 32]);
    t.extend_from_slice(&[0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1]);
    t.extend_from_slice(&value_sat.to_le_bytes());
    t.push(script.len() as u8);
    t.extend_from_slice(script);
    t.extend_from_slice(&[0, 0, 0, 0]);
    t
}

/// A regtest block on top of `parent` (hash, time) whose merkle root commits to `txids`
/// (internal order, coinbase first), mined.
pub fn block_with_txids(parent: BlockHash, parent_time: u32, txids: &[[u8; 32]]) -> Header {
    let mut block = mine_regtest(parent, parent_time, 1, 0)[0];
    block.merkle_root = bevm_btc_light::spv::merkle_root(txids);
    let target = target_from_bits(block.bits).expect("regtest bits are valid");
    while !hash_meets_target(&block.hash().0, target) {
        block.nonce = block.nonce.wrapping_add(1);
    }
    block
}

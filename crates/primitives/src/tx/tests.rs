use alloy_consensus::{SignableTransaction, TxEip1559, TxEip4844, TxLegacy};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Signature, TxKind, U256};
use proptest::prelude::*;

use super::*;
use crate::keys::AccountKey;

const CHAIN: u64 = 1337;
const MAX: usize = 128 * 1024;

fn eip1559(chain_id: u64, input: Vec<u8>) -> TxEip1559 {
    TxEip1559 {
        chain_id,
        nonce: 3,
        gas_limit: 21_000,
        max_fee_per_gas: 2_000_000_000,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(Address::repeat_byte(0x11)),
        value: U256::from(5u64),
        input: input.into(),
        ..Default::default()
    }
}

#[test]
fn decodes_and_recovers_eip1559_and_legacy() {
    let key = AccountKey::from_seed(b"alice");
    let raw = key.sign_tx(eip1559(CHAIN, vec![])).encoded_2718();
    let tx = decode_eth_tx(&raw, CHAIN, MAX).expect("valid tx");
    assert_eq!(tx.sender, key.address());
    assert_eq!(tx.hash, keccak256(&raw));
    assert_eq!(tx.envelope.nonce(), 3);

    let legacy = TxLegacy {
        chain_id: Some(CHAIN),
        gas_price: 7,
        gas_limit: 21_000,
        ..Default::default()
    };
    let raw = key.sign_tx(legacy).encoded_2718();
    assert_eq!(
        decode_eth_tx(&raw, CHAIN, MAX).map(|t| t.sender),
        Ok(key.address())
    );
}

#[test]
fn refuses_wrong_chain_and_unprotected_legacy() {
    let key = AccountKey::from_seed(b"alice");
    let raw = key.sign_tx(eip1559(1, vec![])).encoded_2718();
    assert_eq!(
        decode_eth_tx(&raw, CHAIN, MAX),
        Err(TxError::WrongChainId {
            have: 1,
            want: CHAIN
        })
    );
    let legacy = TxLegacy {
        chain_id: None,
        gas_limit: 21_000,
        ..Default::default()
    };
    let raw = key.sign_tx(legacy).encoded_2718();
    assert_eq!(
        decode_eth_tx(&raw, CHAIN, MAX),
        Err(TxError::NotReplayProtected)
    );
}

#[test]
fn refuses_blob_transactions() {
    let key = AccountKey::from_seed(b"alice");
    let blob = TxEip4844 {
        chain_id: CHAIN,
        gas_limit: 21_000,
        ..Default::default()
    };
    let raw = key.sign_tx(blob).encoded_2718();
    assert!(matches!(
        decode_eth_tx(&raw, CHAIN, MAX),
        Err(TxError::TypeNotSupported(_))
    ));
}

#[test]
fn refuses_bad_signature_and_high_s() {
    let key = AccountKey::from_seed(b"alice");
    let tx = eip1559(CHAIN, vec![]);
    let good = key.sign_hash(&tx.signature_hash());
    // s' = n - s is the malleated twin of a valid signature: EIP-2 refuses it.
    let n = U256::from_str_radix(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        16,
    )
    .expect("curve order");
    let high_s = Signature::new(good.r(), n - good.s(), !good.v());
    let raw = TxEnvelope::from(tx.clone().into_signed(high_s)).encoded_2718();
    assert!(matches!(
        decode_eth_tx(&raw, CHAIN, MAX),
        Err(TxError::InvalidSignature(_))
    ));
    let zero = Signature::new(U256::ZERO, U256::ZERO, false);
    let raw = TxEnvelope::from(tx.into_signed(zero)).encoded_2718();
    assert!(matches!(
        decode_eth_tx(&raw, CHAIN, MAX),
        Err(TxError::InvalidSignature(_))
    ));
}

#[test]
fn refuses_malformed_and_oversized() {
    assert_eq!(decode_eth_tx(&[], CHAIN, MAX), Err(TxError::Empty));
    assert!(matches!(
        decode_eth_tx(&[0x02, 0xc0], CHAIN, MAX),
        Err(TxError::Decode(_))
    ));
    assert!(matches!(
        decode_eth_tx(&[0xff; 10], CHAIN, MAX),
        Err(TxError::Decode(_))
    ));
    let key = AccountKey::from_seed(b"alice");
    let mut raw = key.sign_tx(eip1559(CHAIN, vec![])).encoded_2718();
    raw.push(0);
    assert_eq!(
        decode_eth_tx(&raw, CHAIN, MAX),
        Err(TxError::TrailingBytes(1))
    );
    let big = key.sign_tx(eip1559(CHAIN, vec![1; MAX])).encoded_2718();
    assert!(matches!(
        decode_eth_tx(&big, CHAIN, MAX),
        Err(TxError::Oversized { .. })
    ));
}

proptest! {
    #![proptest_config(crate::testing::proptest_config("primitives-tx"))]

    /// Arbitrary bytes never panic the decoder.
    #[test]
    fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_eth_tx(&bytes, CHAIN, MAX);
    }

    /// Whatever we sign decodes back to the same transaction and sender.
    #[test]
    fn sign_decode_round_trip(seed in any::<[u8; 8]>(), nonce in any::<u64>(), value in any::<u128>(), input in proptest::collection::vec(any::<u8>(), 0..64)) {
        let key = AccountKey::from_seed(&seed);
        let mut tx = eip1559(CHAIN, input);
        tx.nonce = nonce;
        tx.value = U256::from(value);
        let env = key.sign_tx(tx);
        let raw = env.encoded_2718();
        let got = decode_eth_tx(&raw, CHAIN, MAX).expect("own tx decodes");
        prop_assert_eq!(got.sender, key.address());
        prop_assert_eq!(got.envelope, env);
    }
}

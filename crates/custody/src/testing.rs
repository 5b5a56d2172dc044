//! Test support (feature `testing`): deterministic keys, and a whole MuSig2 signing run by
//! every signer of a vault in one process.

use bitcoin::{key::Secp256k1, secp256k1::SecretKey};

use crate::{AggregateNonce, KeyPathSession, PublicNonce, SecretNonce, Vault};

/// `n` distinct secret keys derived from `seed` (for tests only: they are guessable).
pub fn secret_keys(n: usize, seed: u8) -> Vec<SecretKey> {
    (0..n)
        .map(|i| {
            let mut b = [seed; 32];
            b[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
            SecretKey::from_slice(&b).expect("a counter under a constant is a valid scalar")
        })
        .collect()
}

/// Both MuSig2 rounds by every holder of `secrets` (any order), aggregated: the key-path
/// signature of `sighash`. Nonce randomness is derived from the index and the sighash.
pub fn sign_with_all(vault: &Vault, secrets: &[SecretKey], sighash: [u8; 32]) -> [u8; 64] {
    let secp = Secp256k1::signing_only();
    let mut ordered: Vec<&SecretKey> = secrets.iter().collect();
    ordered.sort_by_key(|s| s.public_key(&secp).serialize());
    let session = KeyPathSession::new(vault, sighash).expect("session");
    let ordered: Vec<SecretKey> = ordered.into_iter().copied().collect();
    run_round(&session, &ordered, sighash)
}

/// Round 1 of `session` by the holders of `ordered` (KeySort order of their keys): each
/// one's secret nonce, and every public nonce with their sum. Nonce randomness is `seed`
/// with the signer's index in its first 8 bytes.
pub fn round_one(
    session: &KeyPathSession,
    ordered: &[SecretKey],
    seed: [u8; 32],
) -> (Vec<SecretNonce>, Vec<PublicNonce>, AggregateNonce) {
    let (secret, public): (Vec<_>, Vec<_>) = ordered
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut random = seed;
            random[..8].copy_from_slice(&(i as u64).to_le_bytes());
            session.nonce(s, random)
        })
        .unzip();
    let aggregate = KeyPathSession::aggregate_nonces(&public);
    (secret, public, aggregate)
}

/// Both MuSig2 rounds of `session` by the holders of `ordered` (KeySort order of their
/// keys), aggregated with every partial signature verified (nonces as [`round_one`]).
pub fn run_round(session: &KeyPathSession, ordered: &[SecretKey], seed: [u8; 32]) -> [u8; 64] {
    let (secret, public, aggregate) = round_one(session, ordered, seed);
    let partials: Vec<_> = ordered
        .iter()
        .zip(secret)
        .map(|(s, sec)| session.sign(s, sec, &aggregate).expect("partial"))
        .collect();
    session.aggregate(&public, &partials).expect("aggregate")
}

/// A made-up Bitcoin transaction paying `outputs` (sat, script) from a fake coin named by
/// `salt`: enough for code that only reads outputs or proves inclusion.
pub fn payment(outputs: Vec<(u64, bitcoin::ScriptBuf)>, salt: u8) -> bitcoin::Transaction {
    use bitcoin::{absolute::LockTime, hashes::Hash as _, transaction::Version};
    bitcoin::Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![bitcoin::TxIn {
            previous_output: bitcoin::OutPoint::new(bitcoin::Txid::from_byte_array([salt; 32]), 0),
            sequence: bitcoin::Sequence::MAX,
            ..bitcoin::TxIn::default()
        }],
        output: outputs
            .into_iter()
            .map(|(sat, script_pubkey)| bitcoin::TxOut {
                value: bitcoin::Amount::from_sat(sat),
                script_pubkey,
            })
            .collect(),
    }
}

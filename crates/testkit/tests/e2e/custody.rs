//! Bitcoin's consensus rules decide: a real btcd regtest node accepts vault spends signed by
//! MuSig2 on the key path, and refuses a bad signature.

use bevm_custody::{
    testing::{secret_keys, sign_with_all},
    SignerSet, Vault,
};
use bevm_testkit::btcd::Btcd;
use bitcoin::{
    absolute::LockTime,
    consensus::{deserialize, serialize},
    key::Secp256k1,
    secp256k1::PublicKey,
    sighash::{Prevouts, SighashCache, TapSighashType},
    transaction::Version,
    Amount, Block, Network, OutPoint, Sequence, Transaction, TxIn, TxOut, Witness,
};

/// Mines a mature coinbase to an N-signer vault, spends it on the key path, and returns
/// btcd's answers to a tampered and to the real transaction.
fn key_path_spend(n: usize) -> (Result<String, String>, Result<String, String>) {
    let secp = Secp256k1::new();
    let secrets = secret_keys(n, 0x11);
    let keys: Vec<PublicKey> = secrets.iter().map(|s| s.public_key(&secp)).collect();
    let vault = Vault::new(SignerSet::new(keys, None).expect("set"), None).expect("vault");
    let address = vault.address(Network::Regtest).to_string();
    let btcd = Btcd::start_mining_to(&address).expect("btcd mining to the vault");
    let (mut tx, prevout) = funded_spend(&btcd, &vault);
    assert_eq!(
        prevout.script_pubkey,
        vault.output().script_pubkey(),
        "btcd paid the vault"
    );
    let sighash = SighashCache::new(&tx)
        .taproot_key_spend_signature_hash(0, &Prevouts::All(&[prevout]), TapSighashType::Default)
        .expect("sighash");
    let sig = sign_with_all(&vault, &secrets, sighash.to_raw_hash().to_byte_array());

    let send = |tx: &Transaction| {
        btcd.cli(&["sendrawtransaction", &hex::encode(serialize(tx))])
            .map_err(|e| e.to_string())
    };
    let mut bad = sig;
    bad[63] ^= 1;
    tx.input[0].witness = Witness::from_slice(&[bad.as_slice()]);
    let refused = send(&tx);
    tx.input[0].witness = Witness::from_slice(&[sig.as_slice()]);
    (refused, send(&tx))
}

use bitcoin::hashes::Hash as _;

/// Regtest activates segwit and taproot by BIP-9 signalling in 144-block windows (defined,
/// started, locked in, active); 500 blocks also mature the first coinbase.
///
/// A coinbase mined to `vault`, matured, and a transaction spending it back to the vault
/// (unsigned), with the prevout.
fn funded_spend(btcd: &Btcd, vault: &Vault) -> (Transaction, TxOut) {
    btcd.generate(500).expect("mines");
    let raw = btcd
        .cli(&["getblock", &btcd.hash_at(1).expect("hash"), "0"])
        .expect("block");
    let block: Block = deserialize(&hex::decode(raw).expect("hex")).expect("block");
    let coinbase = &block.txdata[0];
    let prevout = coinbase.output[0].clone();
    let tx = Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::new(coinbase.compute_txid(), 0),
            sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
            ..TxIn::default()
        }],
        output: vec![TxOut {
            value: prevout.value - Amount::from_sat(20_000),
            script_pubkey: vault.output().script_pubkey(),
        }],
    };
    (tx, prevout)
}

#[test]
fn btcd_accepts_exactly_m_of_n_on_the_fallback_leaf() {
    use bitcoin::{secp256k1::Keypair, taproot::TapLeafHash};
    let secp = Secp256k1::new();
    let secrets = secret_keys(4, 0x22);
    let keys: Vec<PublicKey> = secrets.iter().map(|s| s.public_key(&secp)).collect();
    let vault = Vault::new(SignerSet::new(keys, None).expect("set"), None).expect("vault");
    assert_eq!(vault.signers().threshold(), 3);
    let btcd = Btcd::start_mining_to(&vault.address(Network::Regtest).to_string()).expect("btcd");
    let (mut tx, prevout) = funded_spend(&btcd, &vault);
    let leaf = TapLeafHash::from_script(
        &vault.multisig_leaf(),
        bitcoin::taproot::LeafVersion::TapScript,
    );
    let sighash = SighashCache::new(&tx)
        .taproot_script_spend_signature_hash(
            0,
            &Prevouts::All(&[prevout]),
            leaf,
            TapSighashType::Default,
        )
        .expect("sighash");
    let msg = bitcoin::secp256k1::Message::from_digest(sighash.to_raw_hash().to_byte_array());
    // Signatures by key (KeySort order); the second signer is absent.
    let signatures: Vec<Option<[u8; 64]>> = vault
        .signers()
        .keys()
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let secret = secrets
                .iter()
                .find(|s| s.public_key(&secp) == *key)
                .expect("holder");
            (i != 1).then(|| {
                secp.sign_schnorr_no_aux_rand(&msg, &Keypair::from_secret_key(&secp, secret))
                    .serialize()
            })
        })
        .collect();
    let send = |tx: &Transaction| {
        btcd.cli(&["sendrawtransaction", &hex::encode(serialize(tx))])
            .map_err(|e| e.to_string())
    };

    // M − 1 signatures: the witness builder refuses, and a hand-made one is refused by btcd.
    let mut short = signatures.clone();
    short[0] = None;
    assert!(vault.multisig_witness(vault.output(), &short).is_err());
    let mut forced = vault
        .multisig_witness(vault.output(), &signatures)
        .expect("witness")
        .to_vec();
    let top = forced.len() - 3; // the first key's signature
    forced[top] = Vec::new();
    tx.input[0].witness = Witness::from_slice(&forced);
    let err = send(&tx).expect_err("M - 1 signatures are refused");
    assert!(
        err.contains("script") || err.contains("signature") || err.contains("NUMEQUAL"),
        "{err}"
    );

    tx.input[0].witness = vault
        .multisig_witness(vault.output(), &signatures)
        .expect("witness");
    let txid = send(&tx).unwrap_or_else(|e| panic!("btcd refused M of N: {e}"));
    assert_eq!(txid.len(), 64);
}

#[test]
fn btcd_accepts_musig2_key_path_spends_of_the_vault() {
    for n in [4, 100] {
        let (refused, accepted) = key_path_spend(n);
        let err = refused.expect_err("a tampered signature is refused");
        assert!(
            err.to_lowercase().contains("signature") || err.contains("script"),
            "{err}"
        );
        let txid = accepted.unwrap_or_else(|e| panic!("N = {n}: btcd refused the spend: {e}"));
        assert_eq!(txid.len(), 64, "{txid}");
    }
}

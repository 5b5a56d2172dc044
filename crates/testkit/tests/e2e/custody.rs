//! Bitcoin's consensus rules decide: a real btcd regtest node accepts vault spends on the
//! MuSig2 key path, on the M-of-N leaf (up to 999 keys) and on the recovery leaf once its
//! timelock has passed, and refuses bad signatures, M − 1 signatures and early recovery.

use bevm_custody::{
    key_path_sighash, leaf_sighash, sign_leaf,
    testing::{secret_keys, sign_with_all},
    SignerSet, Vault,
};
use bevm_testkit::btcd::Btcd;
use bitcoin::{
    absolute::LockTime,
    consensus::{deserialize, serialize},
    key::Secp256k1,
    secp256k1::PublicKey,
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
    let sighash = key_path_sighash(&tx, 0, &[prevout]).expect("sighash");
    let sig = sign_with_all(&vault, &secrets, sighash);

    let send = |tx: &Transaction| send(&btcd, tx);
    let mut bad = sig;
    bad[63] ^= 1;
    tx.input[0].witness = Witness::from_slice(&[bad.as_slice()]);
    let refused = send(&tx);
    tx.input[0].witness = Witness::from_slice(&[sig.as_slice()]);
    (refused, send(&tx))
}

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
    let secp = Secp256k1::new();
    let secrets = secret_keys(4, 0x22);
    let keys: Vec<PublicKey> = secrets.iter().map(|s| s.public_key(&secp)).collect();
    let vault = Vault::new(SignerSet::new(keys, None).expect("set"), None).expect("vault");
    assert_eq!(vault.signers().threshold(), 3);
    let btcd = Btcd::start_mining_to(&vault.address(Network::Regtest).to_string()).expect("btcd");
    let (mut tx, prevout) = funded_spend(&btcd, &vault);
    let leaf_keys = vault.leaf_keys();
    // The second signer (KeySort order) is absent.
    let mut signatures =
        leaf_signatures(&tx, &prevout, &vault.multisig_leaf(), &leaf_keys, &secrets);
    signatures[1] = None;

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
    let err = send(&btcd, &tx).expect_err("M - 1 signatures are refused");
    assert!(
        err.contains("script") || err.contains("signature") || err.contains("NUMEQUAL"),
        "{err}"
    );

    tx.input[0].witness = vault
        .multisig_witness(vault.output(), &signatures)
        .expect("witness");
    let txid = send(&btcd, &tx).unwrap_or_else(|e| panic!("btcd refused M of N: {e}"));
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

/// BIP-340 signatures of `tx`'s first input through `leaf`, by the holders of `secrets`
/// among `keys` (in leaf order); `None` where no secret is given.
fn leaf_signatures(
    tx: &Transaction,
    prevout: &TxOut,
    leaf: &bitcoin::ScriptBuf,
    keys: &[bitcoin::secp256k1::XOnlyPublicKey],
    secrets: &[bitcoin::secp256k1::SecretKey],
) -> Vec<Option<[u8; 64]>> {
    let secp = Secp256k1::new();
    let sighash = leaf_sighash(tx, 0, std::slice::from_ref(prevout), leaf).expect("sighash");
    keys.iter()
        .enumerate()
        .map(|(i, key)| {
            let secret = secrets
                .iter()
                .find(|s| s.x_only_public_key(&secp).0 == *key)?;
            Some(sign_leaf(&secp, secret, sighash, [i as u8; 32]).expect("signs"))
        })
        .collect()
}

fn send(btcd: &Btcd, tx: &Transaction) -> Result<String, String> {
    btcd.send_raw_transaction(&serialize(tx))
        .map_err(|e| e.to_string())
}

#[test]
fn btcd_accepts_the_largest_single_leaf_set_of_999_keys() {
    let secp = Secp256k1::new();
    let secrets = secret_keys(999, 0x33);
    let keys: Vec<PublicKey> = secrets.iter().map(|s| s.public_key(&secp)).collect();
    let vault = Vault::new(SignerSet::new(keys, None).expect("set"), None).expect("vault");
    assert_eq!(vault.signers().threshold(), 666);
    let btcd = Btcd::start_mining_to(&vault.address(Network::Regtest).to_string()).expect("btcd");
    let (mut tx, prevout) = funded_spend(&btcd, &vault);
    let leaf_keys = vault.leaf_keys();
    // Every signer signs; the witness uses exactly the first 666.
    let signatures = leaf_signatures(&tx, &prevout, &vault.multisig_leaf(), &leaf_keys, &secrets);
    tx.input[0].witness = vault
        .multisig_witness(vault.output(), &signatures)
        .expect("witness");
    assert_eq!(tx.input[0].witness.len(), 999 + 2);
    let weight = tx.weight().to_wu();
    send(&btcd, &tx).unwrap_or_else(|e| panic!("btcd refused 666 of 999: {e}"));
    // Below the 400,000 weight units that nodes relay (recorded in docs/PERFORMANCE.md).
    assert!(weight < 400_000, "weight {weight}");
    println!("666-of-999 leaf spend: {weight} WU, {} vbytes", tx.vsize());
}

#[test]
fn btcd_accepts_the_recovery_leaf_only_after_its_timelock() {
    use bevm_custody::Recovery;
    const AFTER: u16 = 10;
    let secp = Secp256k1::new();
    let secrets = secret_keys(4, 0x44);
    let keys: Vec<PublicKey> = secrets.iter().map(|s| s.public_key(&secp)).collect();
    let recovery_secrets = secret_keys(3, 0x55);
    let recovery = Recovery {
        keys: recovery_secrets
            .iter()
            .map(|s| s.x_only_public_key(&secp).0)
            .collect(),
        threshold: 2,
        after_blocks: AFTER,
    };
    let vault = Vault::new(
        SignerSet::new(keys, None).expect("set"),
        Some(recovery.clone()),
    )
    .expect("vault");
    let btcd = Btcd::start_mining_to(&vault.address(Network::Regtest).to_string()).expect("btcd");

    // A fresh vault UTXO, confirmed once: the signers move a matured coinbase back to it.
    let (mut fund, coinbase_out) = funded_spend(&btcd, &vault);
    let sighash = key_path_sighash(&fund, 0, &[coinbase_out]).expect("sighash");
    let sig = sign_with_all(&vault, &secrets, sighash);
    fund.input[0].witness = Witness::from_slice(&[sig.as_slice()]);
    send(&btcd, &fund).expect("signers fund a fresh vault output");
    btcd.generate(1).expect("confirms");
    let prevout = fund.output[0].clone();

    // Two of the three recovery keys (the middle one absent) spend it with nSequence = n.
    let recovery_spend = |n: u16| {
        let mut tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::new(fund.compute_txid(), 0),
                sequence: Sequence::from_height(n),
                ..TxIn::default()
            }],
            output: vec![TxOut {
                value: prevout.value - Amount::from_sat(20_000),
                script_pubkey: vault.output().script_pubkey(),
            }],
        };
        let signers = [recovery_secrets[0], recovery_secrets[2]];
        let leaf = vault.recovery_leaf().expect("leaf");
        let signatures = leaf_signatures(&tx, &prevout, &leaf, &recovery.keys, &signers);
        tx.input[0].witness = vault
            .recovery_witness(vault.output(), &signatures)
            .expect("witness");
        tx
    };

    // One confirmation of ten, and again with one block still missing: not yet.
    let early = send(&btcd, &recovery_spend(AFTER)).expect_err("too early");
    assert!(early.contains("sequence lock"), "{early}");
    btcd.generate(u32::from(AFTER) - 2).expect("mines");
    let early = send(&btcd, &recovery_spend(AFTER)).expect_err("one block early");
    assert!(early.contains("sequence lock"), "{early}");
    btcd.generate(1).expect("mines");
    // A sequence below the leaf's timelock fails CHECKSEQUENCEVERIFY itself.
    let short = send(&btcd, &recovery_spend(AFTER - 1)).expect_err("short sequence");
    assert!(
        short.to_lowercase().contains("sequence") || short.contains("script"),
        "{short}"
    );
    send(&btcd, &recovery_spend(AFTER))
        .unwrap_or_else(|e| panic!("btcd refused the matured recovery spend: {e}"));
}

//! Official BIP-327 and BIP-341 vectors, and the vault's own properties.

use std::str::FromStr;

use bitcoin::{
    key::Secp256k1,
    secp256k1::{PublicKey, XOnlyPublicKey},
    taproot::{ControlBlock, LeafVersion},
    Address, Network, ScriptBuf,
};
use proptest::prelude::*;
use serde_json::Value;

use crate::{
    testing::{secret_keys as secrets_of, sign_with_all as musig_sign},
    *,
};

const KEY_SORT: &str = include_str!("../testdata/key_sort_vectors.json");
const KEY_AGG: &str = include_str!("../testdata/key_agg_vectors.json");
const BIP341: &str = include_str!("../testdata/wallet-test-vectors.json");

fn pubkey(hex_str: &str) -> Option<PublicKey> {
    PublicKey::from_slice(&hex::decode(hex_str).ok()?).ok()
}

fn keys_of(n: usize, seed: u8) -> Vec<PublicKey> {
    let secp = Secp256k1::signing_only();
    secrets_of(n, seed)
        .iter()
        .map(|s| s.public_key(&secp))
        .collect()
}

#[test]
fn bip327_key_sort_vectors() {
    let v: Value = serde_json::from_str(KEY_SORT).expect("json");
    let parse = |a: &Value| -> Vec<PublicKey> {
        a.as_array()
            .expect("array")
            .iter()
            .map(|k| pubkey(k.as_str().expect("hex")).expect("valid key"))
            .collect()
    };
    let mut keys = parse(&v["pubkeys"]);
    key_sort(&mut keys);
    assert_eq!(keys, parse(&v["sorted_pubkeys"]));
}

#[test]
fn bip327_key_agg_vectors() {
    let v: Value = serde_json::from_str(KEY_AGG).expect("json");
    let strings = |v: &Value| -> Vec<String> {
        let list = v.as_array().expect("a list");
        list.iter()
            .map(|k| k.as_str().expect("hex").to_owned())
            .collect()
    };
    let indices = |v: &Value| -> Vec<usize> {
        let list = v.as_array().expect("a list");
        list.iter()
            .map(|i| i.as_u64().expect("index") as usize)
            .collect()
    };
    let all = strings(&v["pubkeys"]);
    for case in v["valid_test_cases"].as_array().expect("cases") {
        let keys: Vec<PublicKey> = indices(&case["key_indices"])
            .into_iter()
            .map(|i| pubkey(&all[i]).expect("valid"))
            .collect();
        let expected = case["expected"].as_str().expect("hex").to_lowercase();
        assert_eq!(
            aggregate_key(&keys).expect("aggregates").to_string(),
            expected
        );
    }
    // The invalid-key cases: such keys never reach KeyAgg, they do not even parse. The tweak
    // cases: a tweak of n or more is no scalar, and a tweak taking the key to infinity is
    // refused by the tweaking itself (the vault's Taproot tweak goes through the same call).
    let tweaks = strings(&v["tweaks"]);
    let (mut bad_keys, mut bad_tweaks) = (0, 0);
    for case in v["error_test_cases"].as_array().expect("cases") {
        let key_indices = indices(&case["key_indices"]);
        if case["error"]["type"] == "invalid_contribution" {
            let bad = case["error"]["signer"].as_u64().expect("signer") as usize;
            let index = key_indices[bad];
            assert!(pubkey(&all[index]).is_none(), "key {index} must be refused");
            bad_keys += 1;
            continue;
        }
        let points: Vec<musig2::secp::Point> = key_indices
            .iter()
            .map(|&i| musig2::secp::Point::from_hex(&all[i]).expect("valid key"))
            .collect();
        let mut ctx = musig2::KeyAggContext::new(points).expect("aggregates");
        let mut failed = false;
        let flags = case["is_xonly"].as_array().expect("flags");
        for (t, is_xonly) in indices(&case["tweak_indices"]).into_iter().zip(flags) {
            let tweak = hex::decode(&tweaks[t]).expect("hex");
            let Ok(tweak) = musig2::secp::Scalar::from_slice(&tweak) else {
                failed = true;
                break;
            };
            match ctx.with_tweak(tweak, is_xonly.as_bool().expect("bool")) {
                Ok(next) => ctx = next,
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        assert!(failed, "{}", case["comment"]);
        bad_tweaks += 1;
    }
    assert_eq!((bad_keys, bad_tweaks), (3, 2));
}

/// A BIP-341 vector tree: a leaf object, or an array of two subtrees.
fn tree_of(v: &Value, leaves: &mut Vec<(u64, ScriptBuf)>) -> TapTree {
    match v {
        Value::Array(pair) => TapTree::branch(tree_of(&pair[0], leaves), tree_of(&pair[1], leaves)),
        leaf => {
            let script = ScriptBuf::from_bytes(
                hex::decode(leaf["script"].as_str().expect("hex")).expect("hex"),
            );
            let version =
                LeafVersion::from_consensus(leaf["leafVersion"].as_u64().expect("version") as u8)
                    .expect("valid leaf version");
            leaves.push((leaf["id"].as_u64().expect("id"), script.clone()));
            TapTree::Leaf(script, version)
        }
    }
}

#[test]
fn bip341_script_pubkey_vectors() {
    let v: Value = serde_json::from_str(BIP341).expect("json");
    let secp = Secp256k1::verification_only();
    let cases = v["scriptPubKey"].as_array().expect("cases");
    assert_eq!(cases.len(), 7);
    for case in cases {
        let internal =
            XOnlyPublicKey::from_str(case["given"]["internalPubkey"].as_str().expect("key"))
                .expect("key");
        let mut leaves = Vec::new();
        let tree = match &case["given"]["scriptTree"] {
            Value::Null => None,
            t => Some(tree_of(t, &mut leaves)),
        };
        let out = TaprootOutput::new(&secp, internal, tree);
        let expected = &case["expected"];
        assert_eq!(
            hex::encode(out.script_pubkey().as_bytes()),
            expected["scriptPubKey"].as_str().expect("spk")
        );
        assert_eq!(
            out.address(Network::Bitcoin).to_string(),
            expected["bip350Address"].as_str().expect("address")
        );
        match &case["intermediary"]["merkleRoot"] {
            Value::Null => assert!(out.merkle_root.is_none()),
            root => assert_eq!(
                out.merkle_root.map(|r| r.to_string()),
                root.as_str().map(str::to_owned)
            ),
        }
        leaves.sort_by_key(|(id, _)| *id);
        let blocks = expected["scriptPathControlBlocks"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(blocks.len(), leaves.len());
        for ((_, script), block) in leaves.iter().zip(&blocks) {
            assert_eq!(
                hex::encode(out.control_block(script).expect("leaf in tree")),
                block.as_str().expect("hex")
            );
        }
    }
}

#[test]
fn signer_sets_are_sorted_checked_and_default_to_two_thirds() {
    let keys = keys_of(4, 1);
    let set = SignerSet::new(keys.iter().rev().copied().collect(), None).expect("valid");
    let mut sorted = keys.clone();
    key_sort(&mut sorted);
    assert_eq!(set.keys(), sorted.as_slice());
    assert_eq!(set.threshold(), 3);
    assert_eq!(
        [1, 2, 3, 4, 100, 999].map(default_threshold),
        [1, 2, 2, 3, 67, 666]
    );
    assert_eq!(SignerSet::new(vec![], None), Err(CustodyError::NoSigners));
    assert!(matches!(
        SignerSet::new(vec![keys[0], keys[1], keys[0]], None),
        Err(CustodyError::DuplicateSigner(_))
    ));
    // -P has P's x coordinate: as x-only leaf keys they would be the same key twice.
    let negated = keys[2].negate(&Secp256k1::verification_only());
    assert_ne!(negated, keys[2]);
    assert_eq!(
        SignerSet::new(vec![keys[0], keys[2], negated], None),
        Err(CustodyError::DuplicateSigner(hex::encode(
            keys[2].x_only_public_key().0.serialize()
        )))
    );
    assert_eq!(
        SignerSet::new(keys.clone(), Some(5)),
        Err(CustodyError::BadThreshold {
            threshold: 5,
            signers: 4
        })
    );
    assert_eq!(
        SignerSet::new(keys_of(1000, 2), None),
        Err(CustodyError::TooManySigners(1000))
    );
}

fn vault(n: usize, recovery: bool) -> Vault {
    let set = SignerSet::new(keys_of(n, 3), None).expect("set");
    let recovery = recovery.then(|| Recovery {
        keys: keys_of(2, 9)
            .iter()
            .map(|k| k.x_only_public_key().0)
            .collect(),
        threshold: 2,
        after_blocks: 144,
    });
    Vault::new(set, recovery).expect("vault")
}

#[test]
fn the_vault_commits_to_its_leaves_under_the_musig_key() {
    let secp = Secp256k1::verification_only();
    let v = vault(4, true);
    assert_eq!(
        v.internal_key(),
        aggregate_key(v.signers().keys()).expect("agg")
    );
    let multisig = v.multisig_leaf();
    // 4 × (push 32 + op) + OP_3 + OP_NUMEQUAL
    assert_eq!(multisig.len(), 4 * 34 + 2);
    assert!(multisig
        .to_asm_string()
        .ends_with("OP_CHECKSIGADD OP_PUSHNUM_3 OP_NUMEQUAL"));
    let recovery = v.recovery_leaf().expect("recovery");
    assert!(
        recovery.to_asm_string().contains("OP_CSV OP_VERIFY"),
        "{}",
        recovery.to_asm_string()
    );
    // Every leaf's control block proves the leaf against the output key (rust-bitcoin's
    // independent check of the commitment).
    for leaf in [&multisig, &recovery] {
        let block = ControlBlock::decode(&v.output().control_block(leaf).expect("in tree"))
            .expect("decodes");
        let output_key = v.output().output_key;
        assert!(block.verify_taproot_commitment(&secp, output_key, leaf));
    }
    assert!(v.output().control_block(&ScriptBuf::new()).is_none());
    let d = v.descriptor();
    assert!(
        d.starts_with(&format!("tr({},{{multi_a(3,", v.internal_key())),
        "{d}"
    );
    assert!(
        d.contains("},and_v(v:older(144),multi_a(2,")
            || d.contains(",and_v(v:older(144),multi_a(2,"),
        "{d}"
    );
    assert!(d.ends_with("))})"), "{d}");
    // Without recovery the tree is the multisig leaf alone.
    assert_eq!(
        vault(4, false).output().merkle_root,
        Some(crate::TapTree::leaf(vault(4, false).multisig_leaf()).hash())
    );
}

#[test]
fn recovery_is_checked() {
    let set = SignerSet::new(keys_of(3, 4), None).expect("set");
    let key = keys_of(1, 5)[0].x_only_public_key().0;
    for (keys, threshold, after) in [
        (vec![], 1, 10),
        (vec![key, key], 1, 10),
        (vec![key], 2, 10),
        (vec![key], 1, 0),
    ] {
        let r = Recovery {
            keys,
            threshold,
            after_blocks: after,
        };
        assert!(matches!(
            Vault::new(set.clone(), Some(r)),
            Err(CustodyError::BadRecovery(_))
        ));
    }
}

#[test]
fn leaf_witnesses_use_exactly_the_threshold_in_key_order() {
    let v = vault(4, true);
    let sig = |b: u8| Some([b; 64]);
    // Recovery: 2 of 2 keys, in genesis order, reversed on the stack.
    let w = v
        .recovery_witness(v.output(), &[sig(1), sig(2)])
        .expect("witness");
    let items: Vec<&[u8]> = w.iter().collect();
    assert_eq!(items[..2], [&[2u8; 64][..], &[1u8; 64][..]]);
    assert_eq!(items[2], v.recovery_leaf().expect("leaf").as_bytes());
    assert_eq!(
        items[3],
        v.output()
            .control_block(&v.recovery_leaf().expect("leaf"))
            .expect("control block")
    );
    assert!(v.recovery_witness(v.output(), &[sig(1), None]).is_err());
    assert!(v.recovery_witness(v.output(), &[sig(1)]).is_err());
    assert!(vault(4, false)
        .recovery_witness(v.output(), &[sig(1), sig(2)])
        .is_err());
    // Fallback: 3 of 4 with all present: the fourth is left empty.
    let w = v
        .multisig_witness(v.output(), &[sig(1), sig(2), sig(3), sig(4)])
        .expect("witness");
    let items: Vec<&[u8]> = w.iter().collect();
    assert!(items[0].is_empty());
    assert_eq!(items[3], &[1u8; 64][..]);
    // A deposit output holds the same leaves under another root.
    let deposit = v.deposit_output([7; 20]);
    let w = v
        .recovery_witness(&deposit, &[sig(1), sig(2)])
        .expect("witness");
    assert_ne!(
        w.last(),
        v.recovery_witness(v.output(), &[sig(1), sig(2)])
            .expect("w")
            .last()
    );
}

#[test]
fn the_largest_set_fits_one_leaf() {
    let v = vault(MAX_SIGNERS, false);
    assert_eq!(v.signers().threshold(), 666);
    assert_eq!(v.multisig_leaf().len(), 999 * 34 + 3 + 1);
}

#[test]
fn musig2_key_path_signatures_verify_under_the_vault_output_key() {
    let secp = Secp256k1::new();
    let secrets = secrets_of(5, 3);
    let keys: Vec<PublicKey> = secrets.iter().map(|s| s.public_key(&secp)).collect();
    let v = Vault::new(SignerSet::new(keys, None).expect("set"), None).expect("vault");
    let sighash = [0x5a; 32];
    let session = KeyPathSession::new(&v, sighash).expect("session");
    assert_eq!(session.output_key().expect("key"), v.output().output_key);
    let sig = musig_sign(&v, &secrets, sighash);
    let sig = bitcoin::secp256k1::schnorr::Signature::from_slice(&sig).expect("64 bytes");
    let msg = bitcoin::secp256k1::Message::from_digest(sighash);
    secp.verify_schnorr(&sig, &msg, &v.output().output_key)
        .expect("BIP-340 valid");
}

#[test]
fn a_key_path_only_set_signs_under_its_unspendable_tweak() {
    let secp = Secp256k1::new();
    let mut secrets = secrets_of(3, 6);
    secrets.sort_by_key(|s| s.public_key(&secp).serialize());
    let keys: Vec<PublicKey> = secrets.iter().map(|s| s.public_key(&secp)).collect();
    let output = TaprootOutput::new(&secp, aggregate_key(&keys).expect("aggregate"), None);
    let sighash = [9; 32];
    let session = KeyPathSession::for_keys(&keys, None, sighash).expect("session");
    assert_eq!(session.output_key().expect("key"), output.output_key);
    let sig = crate::testing::run_round(&session, &secrets, [2; 32]);
    assert_bip340_valid(&sig, sighash, &output.output_key);
}

/// `n` secret keys in the KeySort order of their public keys, and the vault of that set.
fn sorted_vault(n: usize) -> (Vec<bitcoin::secp256k1::SecretKey>, Vault) {
    let secp = Secp256k1::new();
    let mut secrets = secrets_of(n, 4);
    secrets.sort_by_key(|s| s.public_key(&secp).serialize());
    let keys: Vec<PublicKey> = secrets.iter().map(|s| s.public_key(&secp)).collect();
    let v = Vault::new(SignerSet::new(keys, None).expect("set"), None).expect("vault");
    (secrets, v)
}

/// Checks a 64-byte signature over `sighash` under the x-only `key`.
fn assert_bip340_valid(sig: &[u8], sighash: [u8; 32], key: &bitcoin::secp256k1::XOnlyPublicKey) {
    let sig = bitcoin::secp256k1::schnorr::Signature::from_slice(sig).expect("64 bytes");
    let msg = bitcoin::secp256k1::Message::from_digest(sighash);
    Secp256k1::verification_only()
        .verify_schnorr(&sig, &msg, key)
        .expect("BIP-340 valid");
}

#[test]
fn deposit_outputs_are_signed_on_their_own_tweak() {
    let secp = Secp256k1::new();
    let mut secrets = secrets_of(4, 5);
    secrets.sort_by_key(|s| s.public_key(&secp).serialize());
    let keys: Vec<PublicKey> = secrets.iter().map(|s| s.public_key(&secp)).collect();
    let v = Vault::new(SignerSet::new(keys, None).expect("set"), None).expect("vault");
    let deposit = v.deposit_output([3; 20]);
    let sighash = [0x77; 32];
    let session = KeyPathSession::for_output(&v, &deposit, sighash).expect("session");
    assert_eq!(session.output_key().expect("key"), deposit.output_key);
    assert_ne!(deposit.output_key, v.output().output_key);
    let sig = crate::testing::run_round(&session, &secrets, [1; 32]);
    assert_bip340_valid(&sig, sighash, &deposit.output_key);
    // An output of another vault is refused.
    let other = vault(3, false).deposit_output([3; 20]);
    assert!(KeyPathSession::for_output(&v, &other, sighash).is_err());
}

#[test]
fn a_bad_partial_signature_names_its_signer() {
    let (secrets, v) = sorted_vault(4);
    let session = KeyPathSession::new(&v, [7; 32]).expect("session");
    let (secret, nonces, agg) = crate::testing::round_one(&session, &secrets, [1; 32]);
    let mut partials: Vec<_> = secrets
        .iter()
        .zip(secret)
        .map(|(s, sec)| session.sign(s, sec, &agg).expect("signs"))
        .collect();
    // Signer 2's partial signature replaced by signer 1's: signer 2 is named, not 0 or 1.
    partials[2] = partials[1];
    assert_eq!(
        session.aggregate(&nonces, &partials),
        Err(CustodyError::BadPartialSignature(2))
    );
    assert!(matches!(
        session.aggregate(&nonces[..2], &partials[..2]),
        Err(CustodyError::Signing(_))
    ));
}

#[test]
fn a_persisted_nonce_restores_and_signs_as_the_original() {
    let (secrets, v) = sorted_vault(3);
    let sighash = [9; 32];
    let session = KeyPathSession::new(&v, sighash).expect("session");
    let (secret, nonces, agg) = crate::testing::round_one(&session, &secrets, [0x40; 32]);
    let partials: Vec<_> = secrets
        .iter()
        .zip(secret.into_iter().zip(&nonces))
        .map(|(s, (sec, public))| {
            // Written out, read back: the same public nonce, and a partial signature that
            // the aggregate accepts.
            let restored = SecretNonce::from_bytes(&sec.into_bytes()).expect("restores");
            assert_eq!(&restored.public_nonce(), public);
            session.sign(s, restored, &agg).expect("signs")
        })
        .collect();
    let sig = session
        .aggregate(&nonces, &partials)
        .expect("every partial is valid");
    assert_bip340_valid(&sig, sighash, &v.output().output_key);
    assert!(
        SecretNonce::from_bytes(&[0; 64]).is_err(),
        "zero scalars are no nonce"
    );
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        ..bevm_primitives::testing::proptest_config("custody-deposit")
    })]

    /// A deposit address is a plain Taproot address that parses back to the output it was
    /// derived from, differs per recipient and from the vault, and keeps every vault leaf
    /// spendable (the control blocks verify).
    #[test]
    fn deposit_addresses_round_trip(a in any::<[u8; 20]>(), b in any::<[u8; 20]>()) {
        let v = vault(4, true);
        for network in [Network::Bitcoin, Network::Regtest] {
            let address = v.deposit_address(a, network);
            let parsed = Address::from_str(&address.to_string()).expect("parses").require_network(network).expect("network");
            prop_assert_eq!(parsed.script_pubkey(), v.deposit_output(a).script_pubkey());
        }
        prop_assert_ne!(v.deposit_output(a).output_key, v.output().output_key);
        prop_assert_eq!(v.deposit_output(a).internal_key, v.internal_key());
        if a != b {
            prop_assert_ne!(v.deposit_output(a).output_key, v.deposit_output(b).output_key);
        }
        let secp = Secp256k1::verification_only();
        let out = v.deposit_output(a);
        let leaf = v.multisig_leaf();
        let block = ControlBlock::decode(&out.control_block(&leaf).expect("leaf")).expect("decodes");
        prop_assert!(block.verify_taproot_commitment(&secp, out.output_key, &leaf));
    }
}

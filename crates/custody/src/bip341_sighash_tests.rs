//! Official BIP-341 keyPathSpending vectors: sighashes, tweaked keys and key-path witnesses through rust-bitcoin.

use bitcoin::{
    consensus::deserialize,
    hashes::Hash,
    key::{Keypair, Secp256k1, TapTweak},
    secp256k1::Message,
    sighash::{Annex, Prevouts, SighashCache, TapSighashType},
    taproot::{self, TapNodeHash, TapTweakHash},
    Amount, ScriptBuf, Transaction, TxOut,
};
use serde_json::Value;

const BIP341: &str = include_str!("../testdata/wallet-test-vectors.json");

fn bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("hex")
}

fn text(v: &Value) -> &str {
    v.as_str().expect("string")
}

#[test]
fn bip341_key_path_spending() {
    let v: Value = serde_json::from_str(BIP341).expect("json");
    let groups = v["keyPathSpending"].as_array().expect("keyPathSpending");
    assert_eq!(groups.len(), 1);
    let secp = Secp256k1::new();
    for group in groups {
        let tx: Transaction = deserialize(&bytes(&group["given"]["rawUnsignedTx"])).expect("tx");
        let utxos: Vec<TxOut> = group["given"]["utxosSpent"]
            .as_array()
            .expect("utxos")
            .iter()
            .map(|u| TxOut {
                value: Amount::from_sat(u["amountSats"].as_u64().expect("amount")),
                script_pubkey: ScriptBuf::from_bytes(bytes(&u["scriptPubKey"])),
            })
            .collect();
        assert_eq!(utxos.len(), tx.input.len());
        let prevouts = Prevouts::All(&utxos);
        let mut cache = SighashCache::new(&tx);
        // The fully signed transaction is the unsigned one plus scriptSigs and witnesses.
        let signed: Transaction =
            deserialize(&bytes(&group["auxiliary"]["fullySignedTx"])).expect("signed tx");
        assert_eq!(
            (signed.version, signed.lock_time, &signed.output),
            (tx.version, tx.lock_time, &tx.output)
        );
        assert!(signed
            .input
            .iter()
            .zip(&tx.input)
            .all(|(s, u)| { (s.previous_output, s.sequence) == (u.previous_output, u.sequence) }));
        assert_eq!(signed.input.len(), tx.input.len());

        let inputs = group["inputSpending"].as_array().expect("inputs");
        assert_eq!(inputs.len(), 7);
        let mut defaults = 0;
        for input in inputs {
            let given = &input["given"];
            let expected = &input["intermediary"];
            let index = given["txinIndex"].as_u64().expect("index") as usize;
            let hash_type =
                TapSighashType::from_consensus_u8(given["hashType"].as_u64().expect("type") as u8)
                    .expect("valid hash type");
            // None of the current vectors carries an annex; one would be hashed and end the
            // witness.
            let annex = (!given["annex"].is_null()).then(|| bytes(&given["annex"]));
            let annex_of = || annex.as_deref().map(|a| Annex::new(a).expect("annex"));

            let mut sig_msg = Vec::new();
            cache
                .taproot_encode_signing_data_to(
                    &mut sig_msg,
                    index,
                    &prevouts,
                    annex_of(),
                    None,
                    hash_type,
                )
                .expect("signing data");
            let sig_msg = hex::encode(sig_msg);
            assert_eq!(sig_msg, text(&expected["sigMsg"]), "input {index}");
            for name in expected["precomputedUsed"].as_array().expect("list") {
                let hash = text(&group["intermediary"][text(name)]);
                assert!(sig_msg.contains(hash), "input {index}: {name}");
            }
            let sighash = match annex_of() {
                None => cache.taproot_key_spend_signature_hash(index, &prevouts, hash_type),
                annex => cache.taproot_signature_hash(index, &prevouts, annex, None, hash_type),
            }
            .expect("sighash");
            assert_eq!(
                hex::encode(sighash.to_byte_array()),
                text(&expected["sigHash"]),
                "input {index}"
            );
            // The vault signs with SIGHASH_DEFAULT: its own sighash function must agree.
            if hash_type == TapSighashType::Default && annex.is_none() {
                let ours = crate::key_path_sighash(&tx, index, &utxos).expect("vault sighash");
                assert_eq!(
                    hex::encode(ours),
                    text(&expected["sigHash"]),
                    "input {index}"
                );
                defaults += 1;
            }

            let keypair =
                Keypair::from_seckey_slice(&secp, &bytes(&given["internalPrivkey"])).expect("key");
            let (internal, _) = keypair.x_only_public_key();
            assert_eq!(internal.to_string(), text(&expected["internalPubkey"]));
            let merkle_root = (!given["merkleRoot"].is_null()).then(|| {
                TapNodeHash::from_byte_array(
                    bytes(&given["merkleRoot"]).try_into().expect("32 bytes"),
                )
            });
            let tweak = TapTweakHash::from_key_and_tweak(internal, merkle_root);
            assert_eq!(hex::encode(tweak.to_byte_array()), text(&expected["tweak"]));
            let tweaked = keypair.tap_tweak(&secp, merkle_root).to_keypair();
            assert_eq!(
                hex::encode(tweaked.secret_bytes()),
                text(&expected["tweakedPrivkey"])
            );
            let (output_key, _) = tweaked.x_only_public_key();
            assert_eq!(
                utxos[index].script_pubkey.as_bytes()[2..],
                output_key.serialize(),
                "input {index} spends its output key"
            );

            let msg = Message::from_digest(sighash.to_byte_array());
            let signature = secp.sign_schnorr_no_aux_rand(&msg, &tweaked);
            secp.verify_schnorr(&signature, &msg, &output_key)
                .expect("BIP-340 valid");
            // 64 bytes for SIGHASH_DEFAULT, else the hash type appended.
            let mut witness = vec![hex::encode(
                taproot::Signature {
                    signature,
                    sighash_type: hash_type,
                }
                .to_vec(),
            )];
            witness.extend(annex.as_deref().map(hex::encode));
            let expected_witness: Vec<&str> = input["expected"]["witness"]
                .as_array()
                .expect("witness")
                .iter()
                .map(text)
                .collect();
            assert_eq!(witness, expected_witness, "input {index}");
            let signed_witness: Vec<String> = signed.input[index]
                .witness
                .iter()
                .map(hex::encode)
                .collect();
            assert_eq!(signed_witness, expected_witness, "input {index}");
        }
        assert!(defaults > 0, "some vector uses SIGHASH_DEFAULT");
    }
}

//! What a vault input's signers sign: the BIP-341 sighash of the key path and of a leaf, and
//! a signer's BIP-340 signature for a leaf witness ([`crate::Vault::multisig_witness`],
//! [`crate::Vault::recovery_witness`]). All inputs are `SIGHASH_DEFAULT`, which commits to
//! every input's previous output, so the caller passes all of them.

use bitcoin::{
    hashes::Hash as _,
    key::{Keypair, Secp256k1},
    secp256k1::{Message, SecretKey, Signing, Verification},
    sighash::{Prevouts, SighashCache, TapSighashType},
    taproot::{LeafVersion, TapLeafHash},
    ScriptBuf, Transaction, TxOut,
};

use crate::CustodyError;

/// The key-path sighash of `tx`'s input `input` (what [`crate::KeyPathSession`] signs).
///
/// # Errors
/// An input index out of range, or `prevouts` not one per input.
pub fn key_path_sighash(
    tx: &Transaction,
    input: usize,
    prevouts: &[TxOut],
) -> Result<[u8; 32], CustodyError> {
    check_prevouts(tx, prevouts)?;
    SighashCache::new(tx)
        .taproot_key_spend_signature_hash(input, &Prevouts::All(prevouts), TapSighashType::Default)
        .map(|h| h.to_raw_hash().to_byte_array())
        .map_err(|e| CustodyError::Sighash(e.to_string()))
}

/// The script-path sighash of `tx`'s input `input` spent through the tapscript `leaf`.
///
/// # Errors
/// As [`key_path_sighash`].
pub fn leaf_sighash(
    tx: &Transaction,
    input: usize,
    prevouts: &[TxOut],
    leaf: &ScriptBuf,
) -> Result<[u8; 32], CustodyError> {
    check_prevouts(tx, prevouts)?;
    let leaf = TapLeafHash::from_script(leaf, LeafVersion::TapScript);
    SighashCache::new(tx)
        .taproot_script_spend_signature_hash(
            input,
            &Prevouts::All(prevouts),
            leaf,
            TapSighashType::Default,
        )
        .map(|h| h.to_raw_hash().to_byte_array())
        .map_err(|e| CustodyError::Sighash(e.to_string()))
}

/// One leaf key holder's BIP-340 signature of `sighash` (64 bytes: `SIGHASH_DEFAULT` adds no
/// byte). `aux_rand` is the BIP-340 auxiliary randomness, fresh per signature (the crate
/// has no randomness of its own); the signature is checked before it is returned.
///
/// # Errors
/// A signature that does not verify (a fault in the signing computation).
pub fn sign_leaf<C: Signing + Verification>(
    secp: &Secp256k1<C>,
    secret: &SecretKey,
    sighash: [u8; 32],
    aux_rand: [u8; 32],
) -> Result<[u8; 64], CustodyError> {
    let pair = Keypair::from_secret_key(secp, secret);
    let msg = Message::from_digest(sighash);
    let sig = secp.sign_schnorr_with_aux_rand(&msg, &pair, &aux_rand);
    secp.verify_schnorr(&sig, &msg, &pair.x_only_public_key().0)
        .map_err(|_| CustodyError::OwnSignatureInvalid)?;
    Ok(sig.serialize())
}

fn check_prevouts(tx: &Transaction, prevouts: &[TxOut]) -> Result<(), CustodyError> {
    if prevouts.len() == tx.input.len() {
        Ok(())
    } else {
        Err(CustodyError::PrevoutCount {
            prevouts: prevouts.len(),
            inputs: tx.input.len(),
        })
    }
}

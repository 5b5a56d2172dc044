//! MuSig2 (BIP-327) key-path signing of one vault input, as a pure state machine: the
//! caller moves nonces and partial signatures between signers and supplies randomness.
//!
//! A secret nonce is a [`SecretNonce`]: neither `Clone` nor `Copy`, and both
//! [`KeyPathSession::sign`] and [`SecretNonce::into_bytes`] take it by value, so one value can
//! neither sign twice nor be kept after it was written out. The written form is the one copy
//! the type system cannot guard: a sidecar that must survive crashes persists
//! [`SecretNonce::into_bytes`] (64 bytes: the two secret scalars) before publishing the public
//! nonce, restores it with [`SecretNonce::from_bytes`], deletes the file (and syncs the
//! directory), and only then signs. A file it cannot delete means it must not sign.

use bitcoin::{
    hashes::Hash as _,
    secp256k1::{PublicKey, SecretKey, XOnlyPublicKey},
};
use musig2::{secp::Point, AggNonce, KeyAggContext, LiftedSignature, PartialSignature, PubNonce};

use crate::{CustodyError, TaprootOutput, Vault};

/// One input's signing session: the vault's keys with the Taproot tweak, and the BIP-341
/// sighash being signed.
pub struct KeyPathSession {
    ctx: KeyAggContext,
    keys: Vec<Point>,
    message: [u8; 32],
}

/// A secret nonce, usable once.
pub struct SecretNonce(musig2::SecNonce);

impl SecretNonce {
    /// The form a signer persists before its public nonce leaves the process. Consumes the
    /// nonce: what signs afterwards is the restored copy, of which there is exactly one as
    /// long as the file is deleted before signing.
    pub fn into_bytes(self) -> [u8; 64] {
        self.0.serialize()
    }

    /// The public nonce that goes with this secret one (a restarted signer re-sends it).
    pub fn public_nonce(&self) -> PublicNonce {
        self.0.public_nonce()
    }

    /// Restores a persisted nonce (to be used once; delete the file before signing).
    ///
    /// # Errors
    /// Bytes that are not a secret nonce.
    pub fn from_bytes(bytes: &[u8; 64]) -> Result<Self, CustodyError> {
        musig2::SecNonce::from_bytes(bytes)
            .map(Self)
            .map_err(|e| CustodyError::Signing(e.to_string()))
    }
}

/// A signer's public nonce (66 bytes on the wire).
pub type PublicNonce = PubNonce;

/// The sum of every signer's public nonce (66 bytes): computed once per round (by the
/// coordinator, or by each signer) and signed against.
pub type AggregateNonce = AggNonce;

impl KeyPathSession {
    /// A session spending the vault's own output.
    ///
    /// # Errors
    /// The tweak failing (negligible probability).
    pub fn new(vault: &Vault, sighash: [u8; 32]) -> Result<Self, CustodyError> {
        Self::for_output(vault, vault.output(), sighash)
    }

    /// A session spending `output`, one of the vault's outputs with its own script tree (a
    /// per-recipient deposit output): same signers, that tree's Taproot tweak.
    ///
    /// # Errors
    /// An output whose internal key is not the vault's; the tweak failing.
    pub fn for_output(
        vault: &Vault,
        output: &TaprootOutput,
        sighash: [u8; 32],
    ) -> Result<Self, CustodyError> {
        if output.internal_key != vault.internal_key() {
            return Err(CustodyError::Signing(
                "the output's internal key is not this vault's".into(),
            ));
        }
        Self::for_keys(vault.signers().keys(), output.merkle_root, sighash)
    }

    /// A session for any key set in KeySort order and script-tree root (`None`: a key-path-only
    /// output, BIP-341's unspendable tweak). The vault constructors above are the normal way
    /// in; this one also serves a set too large for one fallback leaf.
    ///
    /// # Errors
    /// Keys that do not aggregate; the tweak failing.
    pub fn for_keys(
        keys: &[PublicKey],
        merkle_root: Option<bitcoin::taproot::TapNodeHash>,
        sighash: [u8; 32],
    ) -> Result<Self, CustodyError> {
        let keys = points(keys)?;
        let ctx =
            KeyAggContext::new(keys.clone()).map_err(|e| CustodyError::KeyAgg(e.to_string()))?;
        // BIP-341: tweak with the tree's root, or with the key alone when there is no tree.
        let ctx = match merkle_root {
            Some(root) => ctx.with_taproot_tweak(&root.to_byte_array()),
            None => ctx.with_unspendable_taproot_tweak(),
        }
        .map_err(|e| CustodyError::KeyAgg(e.to_string()))?;
        Ok(Self {
            ctx,
            keys,
            message: sighash,
        })
    }

    /// The key the aggregate signature verifies under: the vault's output key.
    pub fn output_key(&self) -> Result<XOnlyPublicKey, CustodyError> {
        let p: Point = self.ctx.aggregated_pubkey();
        XOnlyPublicKey::from_slice(&p.serialize_xonly())
            .map_err(|e| CustodyError::KeyAgg(e.to_string()))
    }

    /// Round 1 for signer `seckey`: a fresh nonce from 32 random bytes the caller supplies
    /// (BIP-327 NonceGen also mixes in the key, the aggregate key and the message).
    pub fn nonce(&self, seckey: &SecretKey, random: [u8; 32]) -> (SecretNonce, PublicNonce) {
        let sec = musig2::SecNonce::build(random)
            .with_seckey(scalar(seckey))
            .with_message(&self.message)
            .with_aggregated_pubkey(self.ctx.aggregated_pubkey::<Point>())
            // BIP-327 NonceGen always hashes the extra input's length; musig2 only does when
            // one is given, so an empty one makes the nonce exactly the BIP's.
            .with_extra_input(&[0u8; 0])
            .build();
        let public = sec.public_nonce();
        (SecretNonce(sec), public)
    }

    /// Between the rounds: the sum of everyone's public nonces.
    pub fn aggregate_nonces(nonces: &[PublicNonce]) -> AggregateNonce {
        AggNonce::sum(nonces)
    }

    /// Round 2: this signer's partial signature against the aggregate nonce. Consumes the
    /// secret nonce.
    ///
    /// # Errors
    /// A key not in the set.
    pub fn sign(
        &self,
        seckey: &SecretKey,
        nonce: SecretNonce,
        aggregate: &AggregateNonce,
    ) -> Result<PartialSignature, CustodyError> {
        musig2::sign_partial(&self.ctx, scalar(seckey), nonce.0, aggregate, self.message)
            .map_err(|e| CustodyError::Signing(e.to_string()))
    }

    /// Checks every partial signature (naming the first bad signer by index in the set) and
    /// combines them into the BIP-340 signature for the key-path witness.
    ///
    /// # Errors
    /// [`CustodyError::BadPartialSignature`] with the signer's index; a wrong count.
    pub fn aggregate(
        &self,
        nonces: &[PublicNonce],
        partials: &[PartialSignature],
    ) -> Result<[u8; 64], CustodyError> {
        if nonces.len() != self.keys.len() || partials.len() != self.keys.len() {
            return Err(CustodyError::Signing(format!(
                "{} nonces and {} partial signatures for {} signers",
                nonces.len(),
                partials.len(),
                self.keys.len()
            )));
        }
        let agg = AggNonce::sum(nonces);
        for (i, ((key, nonce), partial)) in self.keys.iter().zip(nonces).zip(partials).enumerate() {
            musig2::verify_partial(&self.ctx, *partial, &agg, *key, nonce, self.message)
                .map_err(|_| CustodyError::BadPartialSignature(i))?;
        }
        let sig: LiftedSignature = musig2::aggregate_partial_signatures(
            &self.ctx,
            &agg,
            partials.iter().copied(),
            self.message,
        )
        .map_err(|e| CustodyError::Signing(e.to_string()))?;
        Ok(sig.serialize())
    }
}

fn points(keys: &[PublicKey]) -> Result<Vec<Point>, CustodyError> {
    keys.iter()
        .map(|k| Point::from_slice(&k.serialize()).map_err(|e| CustodyError::KeyAgg(e.to_string())))
        .collect()
}

fn scalar(seckey: &SecretKey) -> musig2::secp::Scalar {
    // A valid secp256k1 secret key is a valid non-zero scalar.
    musig2::secp::Scalar::from_slice(&seckey.secret_bytes()).unwrap_or(musig2::secp::Scalar::one())
}

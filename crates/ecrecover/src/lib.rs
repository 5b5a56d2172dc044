//! Ethereum sender recovery for a block's worth of signatures at once.
//!
//! Recovery is half of a block's CPU when its senders were not recovered at CheckTx, and
//! libsecp256k1 takes about 30 µs per signature on one core here. On CPUs with AVX-512 IFMA
//! (52-bit multiply-add in eight 64-bit lanes) [`recover_signers`] recovers eight signatures
//! at once in about a third of that per signature ([`lanes`]); elsewhere, and for every
//! signature the lanes do not settle, libsecp256k1 (through alloy, as for a single
//! transaction) gives the answer.
//!
//! The lanes never decide anything on their own: they either return the key libsecp256k1
//! would recover, or hand the signature back. Invalid signatures, the exceptional additions
//! of the curve formulas and a result at infinity all go back to libsecp256k1, so the
//! answer, errors included, is the same on every machine.

use alloy_consensus::crypto::{secp256k1::recover_signer, RecoveryError};
use alloy_primitives::{Address, Signature, B256};

#[cfg(target_arch = "x86_64")]
mod lanes;

/// Signatures per batch of the lanes.
pub const LANES: usize = 8;

/// A last batch this short is recovered one by one: filling its empty lanes would cost more.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const MIN_BATCH: usize = 3;

/// Recovers the signer of each `(signature hash, signature)`, in order; the same result,
/// error or address, as alloy's `recover_signer` (low-s enforced), which CheckTx uses.
pub fn recover_signers(items: &[(B256, Signature)]) -> Vec<Result<Address, RecoveryError>> {
    recover_signers_with(items, Backend::detect())
}

/// How signatures are recovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// One at a time with libsecp256k1.
    Libsecp256k1,
    /// Eight at a time with AVX-512 IFMA; only chosen where the CPU has it.
    Ifma,
}

impl Backend {
    /// The fastest backend this CPU runs.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        if lanes::available() {
            return Backend::Ifma;
        }
        Backend::Libsecp256k1
    }
}

/// [`recover_signers`] with a chosen backend; [`Backend::Ifma`] falls back to libsecp256k1
/// where the CPU lacks it.
pub fn recover_signers_with(
    items: &[(B256, Signature)],
    backend: Backend,
) -> Vec<Result<Address, RecoveryError>> {
    let mut settled: Vec<Option<Address>> = vec![None; items.len()];
    if backend == Backend::Ifma {
        settle_on_lanes(items, &mut settled);
    }
    settled
        .into_iter()
        .zip(items)
        .map(|(settled, (hash, sig))| settled.map_or_else(|| recover_signer(sig, *hash), Ok))
        .collect()
}

/// The signers the lanes settle; the others stay `None`.
#[cfg(target_arch = "x86_64")]
fn settle_on_lanes(items: &[(B256, Signature)], settled: &mut [Option<Address>]) {
    if !lanes::available() {
        return;
    }
    // High-s signatures are refused by `recover_signer` before any curve arithmetic; they
    // get that error from it, not from the lanes.
    let eligible: Vec<usize> = (0..items.len())
        .filter(|&i| items[i].1.s() <= alloy_consensus::crypto::SECP256K1N_HALF)
        .collect();
    for batch in eligible.chunks(LANES) {
        if batch.len() < MIN_BATCH {
            break;
        }
        let mut input = [lanes::Input::default(); LANES];
        for (lane, slot) in input.iter_mut().enumerate() {
            // A short batch repeats its last signature in the empty lanes.
            let (hash, sig) = &items[batch[lane.min(batch.len() - 1)]];
            *slot = lanes::Input::new(hash, sig);
        }
        for (&i, key) in batch.iter().zip(lanes::recover8(&input)) {
            settled[i] = key.map(|k| Address::from_raw_public_key(&k));
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn settle_on_lanes(_: &[(B256, Signature)], _: &mut [Option<Address>]) {}

#[cfg(test)]
mod tests;

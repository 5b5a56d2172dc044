//! Ethereum sender recovery for a block's worth of signatures at once.
//!
//! Recovery is half of a block's CPU when its senders were not recovered at CheckTx, and
//! libsecp256k1 takes about 30 µs per signature on one core here. On CPUs with AVX-512 IFMA
//! (52-bit multiply-add in eight 64-bit lanes) [`recover_signers`] recovers sixteen signatures
//! at once, two interleaved batches of eight, in under a third of that per signature
//! ([`lanes`]); elsewhere, and for every signature the lanes do not settle, libsecp256k1
//! (through alloy, as for a single transaction) gives the answer.
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
pub(crate) const LANES: usize = 8;

/// Batches recovered together: their computations interleave, so the core works on one while
/// the other waits on a multiplication (8.8 µs per signature for two, 10.0 for one batch).
/// A rest of more than one batch but fewer than `BATCHES · LANES` signatures fills the empty
/// lanes of a group; a rest of one batch or less goes alone.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const BATCHES: usize = 2;

/// A last batch this short is recovered one by one: filling its empty lanes would cost more.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const MIN_BATCH: usize = 3;

/// Recovers the signer of each `(signature hash, signature)`, in order; the same result,
/// error or address, as alloy's `recover_signer` (low-s enforced), which CheckTx uses.
pub fn recover_signers(items: &[(B256, Signature)]) -> Vec<Result<Address, RecoveryError>> {
    settled_on_lanes(items)
        .into_iter()
        .zip(items)
        .map(|(settled, (hash, sig))| settled.map_or_else(|| recover_signer(sig, *hash), Ok))
        .collect()
}

/// The signers the lanes settle themselves; `None` for the others, and for all of them where
/// the CPU lacks the lanes.
pub(crate) fn settled_on_lanes(items: &[(B256, Signature)]) -> Vec<Option<Address>> {
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
    let mut settled = vec![None; items.len()];
    #[cfg(target_arch = "x86_64")]
    if lanes::available() {
        // High-s signatures are refused by `recover_signer` before any curve arithmetic;
        // they get that error from it, not from the lanes.
        let eligible: Vec<usize> = (0..items.len())
            .filter(|&i| items[i].1.s() <= alloy_consensus::crypto::SECP256K1N_HALF)
            .collect();
        let mut rest = eligible.as_slice();
        while rest.len() >= MIN_BATCH {
            rest = if rest.len() > LANES {
                settle::<BATCHES>(items, rest, &mut settled)
            } else {
                settle::<1>(items, rest, &mut settled)
            };
        }
    }
    settled
}

/// Settles up to `B` batches from the front of `rest` (indices into `items`) on the lanes, and
/// returns the rest after them.
#[cfg(target_arch = "x86_64")]
fn settle<'a, const B: usize>(
    items: &[(B256, Signature)],
    rest: &'a [usize],
    settled: &mut [Option<Address>],
) -> &'a [usize] {
    let (group, rest) = rest.split_at(rest.len().min(B * LANES));
    let Some(&last) = group.last() else {
        return rest;
    };
    let input: [[lanes::Input; LANES]; B] = core::array::from_fn(|batch| {
        core::array::from_fn(|lane| {
            // A short group repeats its last signature in the empty lanes.
            let (hash, sig) = &items[group.get(batch * LANES + lane).copied().unwrap_or(last)];
            lanes::Input::new(hash, sig)
        })
    });
    let keys = lanes::recover_batches(&input);
    for (&i, key) in group.iter().zip(keys.iter().flatten()) {
        settled[i] = key.map(|k| Address::from_raw_public_key(&k));
    }
    rest
}

#[cfg(test)]
mod tests;

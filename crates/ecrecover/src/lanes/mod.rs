//! Batches of eight recoveries on AVX-512 IFMA, one batch or several interleaved.
//!
//! [`recover_batches`] returns, per lane, the public key libsecp256k1 recovers, or `None`: for
//! every signature that does not recover, and for the rare valid one whose computation met an
//! exceptional addition (only constructed signatures do). The caller asks libsecp256k1 about
//! every `None`. The scalar side (ranges of r and s, u1 = −z/r and u2 = s/r mod n, their GLV
//! halves) is plain Rust on k256's scalars; the curve side ([`recover`]) runs in the lanes.

// The intrinsics are safe inside `#[target_feature]` functions; calling the first of those
// from ordinary code is the one `unsafe` here, after checking the CPU has the features.
#![allow(clippy::needless_range_loop)]

mod field;
pub(crate) mod glv;
mod point;
mod recover;

use std::sync::OnceLock;

use alloy_primitives::{Signature, B256};
use k256::{
    elliptic_curve::{
        bigint::Encoding,
        ops::{Invert, Reduce},
        PrimeField,
    },
    Scalar, U256,
};

pub(crate) use crate::LANES;

/// One signature: message hash, r and s (big-endian) and the y parity of R.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Input {
    z: [u8; 32],
    r: [u8; 32],
    s: [u8; 32],
    odd: bool,
}

impl Input {
    pub(crate) fn new(hash: &B256, sig: &Signature) -> Self {
        Self {
            z: hash.0,
            r: sig.r().to_be_bytes(),
            s: sig.s().to_be_bytes(),
            odd: sig.v(),
        }
    }

    /// r and s, if both are in [1, n − 1].
    fn scalars(&self) -> Option<(Scalar, Scalar)> {
        let r = Option::<Scalar>::from(Scalar::from_repr(self.r.into()))?;
        let s = Option::<Scalar>::from(Scalar::from_repr(self.s.into()))?;
        (!bool::from(r.is_zero()) && !bool::from(s.is_zero())).then_some((r, s))
    }
}

/// Whether this CPU runs the lanes.
pub(crate) fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512ifma")
            && recover::g_table().is_some()
    })
}

/// The uncompressed public keys (x ‖ y, big-endian) of `B` batches of eight signatures, or
/// `None` for each the caller must recover with libsecp256k1. All `None` on a CPU without the
/// lanes. The batches are independent; more than one keeps the core busier (see [`field::Fe`]).
pub(crate) fn recover_batches<const B: usize>(
    batches: &[[Input; LANES]; B],
) -> [[Option<[u8; 64]>; LANES]; B] {
    let (true, Some(g)) = (available(), recover::g_table()) else {
        return [[None; LANES]; B];
    };
    let sides = ScalarSide::for_batches(batches);
    // SAFETY: `available()` checked that this CPU has AVX-512F and AVX-512 IFMA, the only
    // features `curve_side` enables; it reads and writes nothing but its arguments.
    #[allow(unsafe_code)]
    let recovered = unsafe { recover::curve_side(&sides, g) };
    recovered.map(|batch| keys(&batch))
}

/// A batch's keys, x ‖ y big-endian, in the lanes the curve side settled.
fn keys(batch: &recover::Recovered) -> [Option<[u8; 64]>; LANES] {
    core::array::from_fn(|lane| {
        (batch.done & (1 << lane) != 0).then(|| {
            let mut key = [0u8; 64];
            key[..32].copy_from_slice(&U256::from_words(batch.x[lane]).to_be_bytes());
            key[32..].copy_from_slice(&U256::from_words(batch.y[lane]).to_be_bytes());
            key
        })
    })
}

/// What the curve side needs of each signature of a batch.
pub(super) struct ScalarSide {
    /// Lanes whose r and s are in [1, n − 1] (and whose halves are short, as they always are).
    valid: u8,
    /// Lanes whose R has an odd y.
    odd: u8,
    /// r as the x of R (little-endian words; zero in invalid lanes).
    rx: [[u64; 4]; LANES],
    /// |half| of u2's and u1's GLV halves, in [`glv::halves`]' order (zero in invalid lanes).
    halves: [[[u64; 2]; LANES]; 4],
    /// Lanes where each half is negative.
    negative: [u8; 4],
}

impl ScalarSide {
    /// A batch of invalid lanes.
    fn none() -> Self {
        ScalarSide {
            valid: 0,
            odd: 0,
            rx: [[0; 4]; LANES],
            halves: [[[0; 2]; LANES]; 4],
            negative: [0; 4],
        }
    }

    /// The scalar sides of `B` batches, with one inversion for all their r's.
    fn for_batches<const B: usize>(batches: &[[Input; LANES]; B]) -> [ScalarSide; B] {
        let scalars = batches.map(|batch| batch.map(|input| input.scalars()));
        // Invalid lanes invert 1.
        let r = scalars.map(|batch| batch.map(|rs| rs.map_or(Scalar::ONE, |(r, _)| r)));
        let Some(r_inv) = inverses(&r) else {
            return core::array::from_fn(|_| ScalarSide::none());
        };
        core::array::from_fn(|k| ScalarSide::batch(&batches[k], &scalars[k], &r_inv[k]))
    }

    fn batch(
        inputs: &[Input; LANES],
        scalars: &[Option<(Scalar, Scalar)>; LANES],
        r_inv: &[Scalar; LANES],
    ) -> Self {
        let mut side = ScalarSide::none();
        for lane in 0..LANES {
            let Some((_, s)) = scalars[lane] else {
                continue;
            };
            // The hash reduced mod n, as libsecp256k1 reads it.
            let z = <Scalar as Reduce<U256>>::reduce_bytes(&inputs[lane].z.into());
            let (u1, u2) = (-(z * r_inv[lane]), s * r_inv[lane]);
            // Halves are always short; a lane whose were not would be handed back, not wrong.
            let Some(halves) = glv::halves(&u1, &u2) else {
                continue;
            };
            side.valid |= 1 << lane;
            side.odd |= u8::from(inputs[lane].odd) << lane;
            side.rx[lane] = U256::from_be_slice(&inputs[lane].r).to_words();
            for (h, half) in halves.iter().enumerate() {
                side.halves[h][lane] = half.magnitude;
                side.negative[h] |= u8::from(half.negative) << lane;
            }
        }
        side
    }
}

/// 1/x for every x (all non-zero) with one inversion (Montgomery's trick), in variable time:
/// signatures are public.
fn inverses<const B: usize>(x: &[[Scalar; LANES]; B]) -> Option<[[Scalar; LANES]; B]> {
    let all = B * LANES;
    let at = |i: usize| (i / LANES, i % LANES);
    // before[i] = x_0·…·x_(i−1).
    let mut before = [[Scalar::ONE; LANES]; B];
    let mut product = Scalar::ONE;
    for i in 0..all {
        let (k, lane) = at(i);
        before[k][lane] = product;
        product *= x[k][lane];
    }
    // inv = 1/(x_0·…·x_i) at step i.
    let mut inv = Option::<Scalar>::from(product.invert_vartime())?;
    let mut out = [[Scalar::ONE; LANES]; B];
    for i in (0..all).rev() {
        let (k, lane) = at(i);
        out[k][lane] = inv * before[k][lane];
        inv *= x[k][lane];
    }
    Some(out)
}

//! Eight recoveries at once on AVX-512 IFMA.
//!
//! [`recover8`] returns, per lane, the public key libsecp256k1 recovers, or `None`: for every
//! signature that does not recover, and for the rare valid one whose computation met an
//! exceptional addition (only constructed signatures do). The caller asks libsecp256k1 about
//! every `None`. The scalar side (ranges of r and s, u1 = −z/r and u2 = s/r mod n) is plain
//! Rust on k256's scalars; the curve side ([`recover`]) runs in the eight lanes.

// The intrinsics are safe inside `#[target_feature]` functions; calling the first of those
// from ordinary code is the one `unsafe` here, after checking the CPU has the features.
#![allow(clippy::needless_range_loop)]

mod field;
mod point;
mod recover;

use std::sync::OnceLock;

use alloy_primitives::{Signature, B256};
use k256::{
    elliptic_curve::{ops::Reduce, PrimeField},
    Scalar, U256,
};

pub(crate) use crate::LANES;

/// One signature: message hash, r and s (big-endian) and the y parity of R.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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

/// The uncompressed public keys (x ‖ y, big-endian) of eight signatures, or `None` for each
/// the caller must recover with libsecp256k1. All `None` on a CPU without the lanes.
pub(crate) fn recover8(inputs: &[Input; LANES]) -> [Option<[u8; 64]>; LANES] {
    let (true, Some(g)) = (available(), recover::g_table()) else {
        return [None; LANES];
    };
    let sc = ScalarSide::new(inputs);
    // SAFETY: `available()` checked that this CPU has AVX-512F and AVX-512 IFMA, the only
    // features `curve_side` enables; it reads and writes nothing but its arguments.
    #[allow(unsafe_code)]
    let (done, x, y) = unsafe { recover::curve_side(&sc, g) };
    core::array::from_fn(|lane| {
        (done & (1 << lane) != 0).then(|| {
            let mut key = [0u8; 64];
            for (i, word) in x[lane].iter().rev().chain(y[lane].iter().rev()).enumerate() {
                key[8 * i..8 * i + 8].copy_from_slice(&word.to_be_bytes());
            }
            key
        })
    })
}

/// What the curve side needs of each signature.
pub(super) struct ScalarSide {
    /// Lanes whose r and s are in [1, n − 1].
    valid: u8,
    /// Lanes whose R has an odd y.
    odd: u8,
    /// r as the x of R (little-endian words; zero in invalid lanes).
    rx: [[u64; 4]; LANES],
    /// u1 = −z/r and u2 = s/r mod n, little-endian words.
    u1: [[u64; 4]; LANES],
    u2: [[u64; 4]; LANES],
}

impl ScalarSide {
    fn new(inputs: &[Input; LANES]) -> Self {
        let mut side = ScalarSide {
            valid: 0,
            odd: 0,
            rx: [[0; 4]; LANES],
            u1: [[0; 4]; LANES],
            u2: [[0; 4]; LANES],
        };
        let mut r = [Scalar::ONE; LANES];
        let mut s = [Scalar::ONE; LANES];
        for (lane, input) in inputs.iter().enumerate() {
            let ri: Option<Scalar> = Scalar::from_repr(input.r.into()).into();
            let si: Option<Scalar> = Scalar::from_repr(input.s.into()).into();
            let (Some(ri), Some(si)) = (ri, si) else {
                continue;
            };
            if bool::from(ri.is_zero()) || bool::from(si.is_zero()) {
                continue;
            }
            let Some(rx) = recover::be_words(&input.r) else {
                continue;
            };
            side.valid |= 1 << lane;
            side.odd |= u8::from(input.odd) << lane;
            side.rx[lane] = rx;
            (r[lane], s[lane]) = (ri, si);
        }
        // 1/r for all lanes with one inversion (Montgomery's trick); invalid lanes use 1.
        let mut prefix = [Scalar::ONE; LANES];
        let mut product = Scalar::ONE;
        for lane in 0..LANES {
            product *= r[lane];
            prefix[lane] = product;
        }
        let Some(mut inv) = Option::<Scalar>::from(product.invert()) else {
            side.valid = 0;
            return side;
        };
        for lane in (0..LANES).rev() {
            let r_inv = if lane > 0 {
                inv * prefix[lane - 1]
            } else {
                inv
            };
            inv *= r[lane];
            // The hash reduced mod n, as libsecp256k1 reads it.
            let z = <Scalar as Reduce<U256>>::reduce_bytes(&inputs[lane].z.into());
            let words = |x: Scalar| recover::be_words(&x.to_bytes()[..]).unwrap_or_default();
            side.u1[lane] = words(-(z * r_inv));
            side.u2[lane] = words(s[lane] * r_inv);
        }
        side
    }
}

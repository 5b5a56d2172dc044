//! The GLV split: secp256k1 has an endomorphism λ·(x, y) = (β·x, y), a multiplication by a
//! cube root of unity that costs one field multiplication. Writing u = u' + u''·λ mod n with
//! |u'|, |u''| < 2^128 turns u·P into u'·P + u''·(λP): half the doublings, on two tables.
//!
//! Only two facts matter for correctness, and both are checked where the lanes use them: the
//! halves recombine to u (by construction: u' is computed as u − u''·λ), and each is below
//! 2^128 (checked per lane by [`short`]; a lane whose half is not is handed back). β is
//! checked against λ when the G table is built ([`super::recover::g_table`]).

use k256::{
    elliptic_curve::{bigint::Limb, ops::Reduce, scalar::IsHigh},
    Scalar, U256,
};

/// λ mod n, with λ·(x, y) = (β·x, y) (libsecp256k1's constants).
pub(crate) const LAMBDA: U256 =
    U256::from_be_hex("5363ad4cc05c30e0a5261c028812645a122e22ea20816678df02967c1b23bd72");
/// β mod p.
pub(crate) const BETA: U256 =
    U256::from_be_hex("7ae96a2b657c07106e64479eac3434e99cf0497512f58995c1396c28719501ee");
/// The field prime p = 2^256 − 2^32 − 977.
const P: U256 =
    U256::from_be_hex("fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f");

/// libsecp256k1's `scalar_split_lambda` constants: g1, g2 are round(2^384·b2/n) and
/// round(2^384·(−b1)/n) for the short basis (a1, b1), (a2, b2) of the lattice of (k1, k2)
/// with k1 + k2·λ ≡ 0.
const G1: U256 =
    U256::from_be_hex("3086d221a7d46bcde86c90e49284eb153daa8a1471e8ca7fe893209a45dbb031");
const G2: U256 =
    U256::from_be_hex("e4437ed6010e88286f547fa90abfe4c4221208ac9df506c61571b4ae8ac47f71");
const MINUS_B1: U256 =
    U256::from_be_hex("00000000000000000000000000000000e4437ed6010e88286f547fa90abfe4c3");
const MINUS_B2: U256 =
    U256::from_be_hex("fffffffffffffffffffffffffffffffe8a280ac50774346dd765cda83db1562c");

/// One half of a split scalar: its absolute value, below 2^128, and its sign.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Half {
    /// |half| as two little-endian 64-bit words.
    pub(crate) magnitude: [u64; 2],
    /// The half is negative: its table point is to be negated.
    pub(crate) negative: bool,
}

/// The halves of u2 and u1 in the order the curve side adds them: u2's u' (on R), u2's u''
/// (on λR), u1's u' (on G), u1's u'' (on λG); `None` if one is not below 2^128.
pub(crate) fn halves(u1: &Scalar, u2: &Scalar) -> Option<[Half; 4]> {
    let (a1, a2) = split(u2);
    let (b1, b2) = split(u1);
    Some([short(&a1)?, short(&a2)?, short(&b1)?, short(&b2)?])
}

/// (u', u'') with u = u' + u''·λ mod n, as libsecp256k1's `scalar_split_lambda` computes
/// them: both are then in (−2^128, 2^128) as signed values.
pub(crate) fn split(u: &Scalar) -> (Scalar, Scalar) {
    let k = U256::from(u);
    let c1 = reduce(mul_shift_384(&k, &G1));
    let c2 = reduce(mul_shift_384(&k, &G2));
    let second = c1 * reduce(MINUS_B1) + c2 * reduce(MINUS_B2);
    (*u - second * reduce(LAMBDA), second)
}

/// `x` as a signed value in (−n/2, n/2], if its absolute value is below 2^128.
pub(crate) fn short(x: &Scalar) -> Option<Half> {
    let negative = bool::from(x.is_high());
    let magnitude = U256::from(if negative { -*x } else { *x }).to_words();
    let [low, high, 0, 0] = magnitude else {
        return None;
    };
    Some(Half {
        magnitude: [low, high],
        negative,
    })
}

/// β·x mod p for x < p: the x of λ·(x, y).
pub(crate) fn beta_times(x: &U256) -> U256 {
    // 2^256 − p, the form `mul_mod_special` takes p in; its result may still be p or more.
    let product = x.mul_mod_special(&BETA, Limb(0x1_0000_03D1));
    if product >= P {
        product.wrapping_sub(&P)
    } else {
        product
    }
}

fn reduce(x: U256) -> Scalar {
    <Scalar as Reduce<U256>>::reduce(x)
}

/// round(a·b / 2^384), as libsecp256k1's `scalar_mul_shift_var(.., 384)`.
fn mul_shift_384(a: &U256, b: &U256) -> U256 {
    let (_, high) = a.mul_wide(b);
    // Bit 383 rounds. a·b < 2^512 − 2^384 (a < n), so the sum fits.
    let round = high.shr_vartime(127) & U256::ONE;
    high.shr_vartime(128).wrapping_add(&round)
}

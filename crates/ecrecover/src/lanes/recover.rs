//! The curve side of eight recoveries: Q = u1·G + u2·R.
//!
//! Why a lane that ends with Z ≠ 0 and without the infinity flag holds the right Q: every
//! step was then an exact doubling or addition of points on the curve. A doubling is exact
//! for any point with Z ≠ 0 (no point has Y = 0). An addition is wrong only for P = ±Q, and
//! exactly then it makes Z zero ([`Jac8::add_affine`]); a zero Z stays zero (doublings give
//! 2·Y·Z, additions 2·Z·H), and the blends never bring a lane back: they keep the sum, or give
//! a flagged lane the table point, and the flag is only ever cleared. R is on the curve
//! (its y is checked by squaring); a lane whose R is not computes on G and is dropped.

use core::arch::x86_64::{
    __m512i, __mmask8, _mm512_and_si512, _mm512_cmpeq_epi64_mask, _mm512_permutex2var_epi64,
    _mm512_set1_epi64, _mm512_srlv_epi64,
};
use std::sync::OnceLock;

use k256::{elliptic_curve::sec1::ToEncodedPoint, ProjectivePoint, Scalar};

use super::{
    field::{vset, words_to_limbs, Fe8},
    point::{Aff8, Jac8},
    ScalarSide, LANES,
};

/// Multiples 1R..15R in one table per lane: entry k − 1 is kR.
const TABLE: usize = 15;

/// 0G..15G in affine coordinates, limb by limb (entry 0 is G too; a zero digit never reads it).
pub(super) struct GTable {
    x: [[u64; 16]; 5],
    y: [[u64; 16]; 5],
}

/// The G table, computed once; `None` only if k256 could not give it (it always does).
pub(super) fn g_table() -> Option<&'static GTable> {
    static TABLE: OnceLock<Option<GTable>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            let mut t = GTable {
                x: [[0; 16]; 5],
                y: [[0; 16]; 5],
            };
            for k in 0..16u64 {
                let point = (ProjectivePoint::GENERATOR * Scalar::from(k.max(1))).to_affine();
                let encoded = point.to_encoded_point(false);
                let x = words_to_limbs(&be_words(&encoded.x()?[..])?);
                let y = words_to_limbs(&be_words(&encoded.y()?[..])?);
                for i in 0..5 {
                    t.x[i][k as usize] = x[i];
                    t.y[i][k as usize] = y[i];
                }
            }
            Some(t)
        })
        .as_ref()
}

/// Big-endian bytes as little-endian 64-bit words.
pub(super) fn be_words(bytes: &[u8]) -> Option<[u64; 4]> {
    let bytes: &[u8; 32] = bytes.try_into().ok()?;
    Some(core::array::from_fn(|i| {
        u64::from_be_bytes(core::array::from_fn(|k| bytes[24 - 8 * i + k]))
    }))
}

/// Q = u1·G + u2·R for each lane, as x and y (canonical little-endian words), for the lanes
/// in the returned mask.
#[target_feature(enable = "avx512f,avx512ifma")]
pub(super) fn curve_side(
    sc: &ScalarSide,
    g: &GTable,
) -> (__mmask8, [[u64; 4]; LANES], [[u64; 4]; LANES]) {
    // R = (r, √(r³ + 7)) with the signature's parity; r < n < p is already canonical.
    let x = Fe8::from_words(&sc.rx);
    let c = x.sqr().mul(x).add(Fe8::constant(7));
    let root = c.sqrt_candidate().normalize();
    let on_curve = root.sqr().normalize().eq_mask(c.normalize());
    let flip = root.odd_mask() ^ sc.odd;
    let y = root.blend(flip, Fe8::zero().sub(root).normalize());
    let valid = sc.valid & on_curve;
    // Lanes without a point compute on G, so that every lane only ever adds curve points.
    let g1 = Aff8 {
        x: g_entry(&g.x, 1),
        y: g_entry(&g.y, 1),
    };
    let r = g1.blend(valid, Aff8 { x, y });

    let table = multiples(r);
    let g_regs = |t: &[[u64; 16]; 5]| -> [[__m512i; 2]; 5] {
        core::array::from_fn(|i| {
            [
                vset(&core::array::from_fn(|k| t[i][k])),
                vset(&core::array::from_fn(|k| t[i][k + 8])),
            ]
        })
    };
    let (gtx, gty) = (g_regs(&g.x), g_regs(&g.y));

    // Strauss over 4-bit windows, most significant first, both scalars on one chain.
    let words = |u: &[[u64; 4]; LANES]| -> [__m512i; 4] {
        core::array::from_fn(|j| vset(&core::array::from_fn(|l| u[l][j])))
    };
    let (u1, u2) = (words(&sc.u1), words(&sc.u2));
    let nibble = _mm512_set1_epi64(15);
    let entry: [__m512i; TABLE] = core::array::from_fn(|k| _mm512_set1_epi64(k as i64 + 1));
    let mut acc = Jac8 {
        x: Fe8::constant(1),
        y: Fe8::constant(1),
        z: Fe8::zero(),
    };
    let mut infinity: __mmask8 = 0xff;
    for w in (0..64usize).rev() {
        if w != 63 {
            acc = acc.double().double().double().double();
        }
        let shift = _mm512_set1_epi64(((w % 16) * 4) as i64);
        let d2 = _mm512_and_si512(_mm512_srlv_epi64(u2[w / 16], shift), nibble);
        let d1 = _mm512_and_si512(_mm512_srlv_epi64(u1[w / 16], shift), nibble);
        // Each lane's own table: compare and blend over its entries.
        let mut t = table[0];
        for (k, point) in table.iter().enumerate().skip(1) {
            t = t.blend(_mm512_cmpeq_epi64_mask(d2, entry[k]), *point);
        }
        acc = acc.add_step(&mut infinity, d2, t);
        // The shared G table: sixteen entries per limb fit two registers.
        let pick = |regs: &[[__m512i; 2]; 5]| {
            Fe8::from_limb_registers(core::array::from_fn(|i| {
                _mm512_permutex2var_epi64(regs[i][0], d1, regs[i][1])
            }))
        };
        acc = acc.add_step(
            &mut infinity,
            d1,
            Aff8 {
                x: pick(&gtx),
                y: pick(&gty),
            },
        );
    }

    let done = valid & !infinity & !acc.z.normalize().zero_mask();
    let zi = acc.z.invert();
    let zi2 = zi.sqr();
    (
        done,
        acc.x.mul(zi2).to_words(),
        acc.y.mul(zi2.mul(zi)).to_words(),
    )
}

/// Entry `k` of a constant table in every lane.
#[target_feature(enable = "avx512f,avx512ifma")]
fn g_entry(t: &[[u64; 16]; 5], k: usize) -> Fe8 {
    Fe8::from_limb_registers(core::array::from_fn(|i| _mm512_set1_epi64(t[i][k] as i64)))
}

/// 1R..15R in affine coordinates: Jacobian sums, then one inversion for all fifteen Z's
/// (Montgomery's trick). kR for k ≤ 15 is never ±R's partner in an exceptional addition,
/// as n is prime and far larger.
#[target_feature(enable = "avx512f,avx512ifma")]
fn multiples(r: Aff8) -> [Aff8; TABLE] {
    let mut jac = [Jac8::from_affine(r); TABLE];
    jac[1] = jac[0].double();
    for k in 2..TABLE {
        jac[k] = jac[k - 1].add_affine(r);
    }
    // prefix[k] = Z1·…·Zk (Z of entry 0 is 1).
    let mut prefix = [Fe8::constant(1); TABLE];
    for k in 1..TABLE {
        prefix[k] = prefix[k - 1].mul(jac[k].z);
    }
    let mut inv = prefix[TABLE - 1].invert();
    let mut table = [r; TABLE];
    for k in (1..TABLE).rev() {
        // inv = 1 / (Z1·…·Zk) here.
        let zi = inv.mul(prefix[k - 1]);
        inv = inv.mul(jac[k].z);
        let zi2 = zi.sqr();
        table[k] = Aff8 {
            x: jac[k].x.mul(zi2),
            y: jac[k].y.mul(zi2.mul(zi)),
        };
    }
    table
}

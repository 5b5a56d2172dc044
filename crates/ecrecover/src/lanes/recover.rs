//! The curve side of the recoveries: Q = u1·G + u2·R, for `B` batches of eight at once.
//!
//! With the GLV split ([`super::glv`]) Q = a1·R + a2·(λR) + b1·G + b2·(λG), each half below
//! 2^128 with its own sign: a 32-window loop with four additions per window, on a per-lane
//! table of ±kR, one of ±k(λR) = (β·x, ±y), and the shared tables of kG and k(λG).
//!
//! Why a lane that ends with Z ≠ 0 and without the infinity flag holds the right Q: every
//! step was then an exact doubling or addition of points on the curve. A doubling is exact
//! for any point with Z ≠ 0 (no point has Y = 0). An addition is wrong only for P = ±Q, and
//! exactly then it makes Z zero ([`Jac::add_affine`]); a zero Z stays zero (doublings give
//! 2·Y·Z, additions 2·Z·H), and the blends never bring a lane back: they keep the sum, or give
//! a flagged lane the table point, and the flag is only ever cleared. Negating a table point
//! or multiplying its x by β keeps it on the curve. R is on the curve (its y is checked by
//! squaring); a lane whose R is not computes on G and is dropped.

use core::arch::x86_64::{
    __m512i, _mm512_and_si512, _mm512_cmpeq_epi64_mask, _mm512_mask_blend_epi64,
    _mm512_permutex2var_epi64, _mm512_set1_epi64, _mm512_srlv_epi64,
};
use std::sync::OnceLock;

use k256::{elliptic_curve::sec1::ToEncodedPoint, ProjectivePoint, Scalar, U256};

use super::{
    field::{vset, words_to_limbs, Fe, Fe8, Masks},
    glv,
    point::{Aff, Jac},
    ScalarSide, LANES,
};

/// Multiples 1R..15R in one table per lane: entry k − 1 is kR.
const TABLE: usize = 15;

/// 4-bit windows of the 128-bit halves.
const WINDOWS: usize = 32;

/// kG and k(λG) for k = 0..15 in affine coordinates, limb by limb (entry 0 is G; a zero digit
/// never uses it). k(λG) = (β·x(kG), y(kG)); −kG and −k(λG) share −y.
pub(super) struct GTable {
    x: [[u64; 16]; 5],
    lambda_x: [[u64; 16]; 5],
    y: [[u64; 16]; 5],
    minus_y: [[u64; 16]; 5],
}

/// The G table, computed once; `None` if k256 could not give it (it always does) or if β
/// were not λ's partner (it is: a wrong constant disables the lanes rather than their keys).
pub(super) fn g_table() -> Option<&'static GTable> {
    static TABLE: OnceLock<Option<GTable>> = OnceLock::new();
    TABLE.get_or_init(build_g_table).as_ref()
}

fn build_g_table() -> Option<GTable> {
    let mut t = GTable {
        x: [[0; 16]; 5],
        lambda_x: [[0; 16]; 5],
        y: [[0; 16]; 5],
        minus_y: [[0; 16]; 5],
    };
    let lambda = <Scalar as k256::elliptic_curve::ops::Reduce<U256>>::reduce(glv::LAMBDA);
    for k in 0..16usize {
        let point = ProjectivePoint::GENERATOR * Scalar::from(k.max(1) as u64);
        let (x, y) = affine(&point)?;
        let (lambda_x, lambda_y) = affine(&(point * lambda))?;
        let (_, minus_y) = affine(&-point)?;
        if lambda_y != y || lambda_x != glv::beta_times(&x) {
            return None;
        }
        for (column, value) in [
            (&mut t.x, x),
            (&mut t.lambda_x, lambda_x),
            (&mut t.y, y),
            (&mut t.minus_y, minus_y),
        ] {
            let limbs = words_to_limbs(&value.to_words());
            for i in 0..5 {
                column[i][k] = limbs[i];
            }
        }
    }
    Some(t)
}

/// A point's affine coordinates; `None` at infinity.
fn affine(point: &ProjectivePoint) -> Option<(U256, U256)> {
    let encoded = point.to_affine().to_encoded_point(false);
    Some((
        U256::from_be_slice(encoded.x()?),
        U256::from_be_slice(encoded.y()?),
    ))
}

/// One batch's Q: its coordinates (canonical little-endian words) are Q in the lanes of
/// `done`, and nothing in the others.
pub(super) struct Recovered {
    pub(super) done: u8,
    pub(super) x: [[u64; 4]; LANES],
    pub(super) y: [[u64; 4]; LANES],
}

/// A constant table as two registers per limb (entries 0–7 and 8–15), for a per-lane pick.
type Registers = [[__m512i; 2]; 5];

/// Q = u1·G + u2·R for each lane of each batch.
#[target_feature(enable = "avx512f,avx512ifma")]
pub(super) fn curve_side<const B: usize>(sc: &[ScalarSide; B], g: &GTable) -> [Recovered; B] {
    let (r, valid) = r_points(sc, g);
    let r_multiples = multiples(r);
    let mut negative = [[0u8; B]; 4];
    for (h, masks) in negative.iter_mut().enumerate() {
        *masks = core::array::from_fn(|k| sc[k].negative[h]);
    }
    // ±kR and ±k(λR) = (β·x(kR), ±y(kR)), by the signs of u2's halves.
    let beta = Fe::splat(Fe8::from_words(&[glv::BETA.to_words(); LANES]));
    let r_table = r_multiples.map(|p| p.negated_in(negative[0]));
    let lambda_r_table = r_multiples.map(|p| {
        Aff {
            x: p.x.mul(beta),
            y: p.y,
        }
        .negated_in(negative[1])
    });
    let registers = |t: &[[u64; 16]; 5]| -> Registers {
        core::array::from_fn(|i| {
            [
                vset(&core::array::from_fn(|k| t[i][k])),
                vset(&core::array::from_fn(|k| t[i][k + 8])),
            ]
        })
    };
    let (gx, glx) = (registers(&g.x), registers(&g.lambda_x));
    let (gy, gny) = (registers(&g.y), registers(&g.minus_y));

    // Word j of each half, of all lanes.
    let halves: [[[__m512i; 2]; 4]; B] = core::array::from_fn(|k| {
        core::array::from_fn(|h| {
            core::array::from_fn(|j| vset(&core::array::from_fn(|l| sc[k].halves[h][l][j])))
        })
    });
    let nibble = _mm512_set1_epi64(15);
    // Strauss over 4-bit windows, most significant first, all four halves on one chain.
    let mut acc = Jac {
        x: Fe::constant(1),
        y: Fe::constant(1),
        z: Fe::zero(),
    };
    let mut infinity: Masks<B> = [0xff; B];
    for w in (0..WINDOWS).rev() {
        if w != WINDOWS - 1 {
            acc = acc.double().double().double().double();
        }
        let shift = _mm512_set1_epi64(((w % 16) * 4) as i64);
        let digit = |h: usize| -> [__m512i; B] {
            core::array::from_fn(|k| {
                _mm512_and_si512(_mm512_srlv_epi64(halves[k][h][w / 16], shift), nibble)
            })
        };
        let d = digit(0);
        acc = acc.add_step(&mut infinity, &d, pick_own(&r_table, &d));
        let d = digit(1);
        acc = acc.add_step(&mut infinity, &d, pick_own(&lambda_r_table, &d));
        let d = digit(2);
        acc = acc.add_step(
            &mut infinity,
            &d,
            pick_shared(&gx, &gy, &gny, &d, negative[2]),
        );
        let d = digit(3);
        acc = acc.add_step(
            &mut infinity,
            &d,
            pick_shared(&glx, &gy, &gny, &d, negative[3]),
        );
    }

    // Z = 0: an exceptional addition on the way, or Q at infinity (see the module doc).
    let z_zero = acc.z.normalize().zero_mask();
    let zi = acc.z.invert();
    let zi2 = zi.sqr();
    let (x, y) = (acc.x.mul(zi2), acc.y.mul(zi2.mul(zi)));
    core::array::from_fn(|k| Recovered {
        done: valid[k] & !infinity[k] & !z_zero[k],
        x: x.0[k].to_words(),
        y: y.0[k].to_words(),
    })
}

/// R = (r, √(r³ + 7)) with the signature's parity, and the lanes where it exists and the
/// signature is valid; the other lanes get G, so that every lane only ever adds curve points.
#[target_feature(enable = "avx512f,avx512ifma")]
fn r_points<const B: usize>(sc: &[ScalarSide; B], g: &GTable) -> (Aff<B>, Masks<B>) {
    // r < n < p is already canonical.
    let x = Fe(core::array::from_fn(|k| Fe8::from_words(&sc[k].rx)));
    let c = x.sqr().mul(x).add(Fe::constant(7));
    let root = c.sqrt_candidate().normalize();
    let on_curve = root.sqr().normalize().eq_mask(c.normalize());
    let odd = root.odd_mask();
    let flip: Masks<B> = core::array::from_fn(|k| odd[k] ^ sc[k].odd);
    let y = root.blend(flip, Fe::zero().sub(root).normalize());
    let valid: Masks<B> = core::array::from_fn(|k| sc[k].valid & on_curve[k]);
    let g1 = Aff {
        x: Fe::splat(g_entry(&g.x, 1)),
        y: Fe::splat(g_entry(&g.y, 1)),
    };
    (g1.blend(valid, Aff { x, y }), valid)
}

/// Each lane's entry `digit` of its own table (compare and blend over the entries).
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn pick_own<const B: usize>(table: &[Aff<B>; TABLE], digit: &[__m512i; B]) -> Aff<B> {
    let mut t = table[0];
    for (k, point) in table.iter().enumerate().skip(1) {
        let entry = _mm512_set1_epi64(k as i64 + 1);
        let take: Masks<B> = core::array::from_fn(|b| _mm512_cmpeq_epi64_mask(digit[b], entry));
        t = t.blend(take, *point);
    }
    t
}

/// Each lane's entry `digit` of a shared table, negated in the lanes of `negative`: sixteen
/// entries per limb fit two registers.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn pick_shared<const B: usize>(
    x: &Registers,
    y: &Registers,
    minus_y: &Registers,
    digit: &[__m512i; B],
    negative: Masks<B>,
) -> Aff<B> {
    let pick = |regs: &Registers, k: usize| -> [__m512i; 5] {
        core::array::from_fn(|i| _mm512_permutex2var_epi64(regs[i][0], digit[k], regs[i][1]))
    };
    let mut t = Aff {
        x: Fe::<B>::zero(),
        y: Fe::<B>::zero(),
    };
    for k in 0..B {
        let (plus, minus) = (pick(y, k), pick(minus_y, k));
        t.x.0[k] = Fe8::from_limb_registers(pick(x, k));
        t.y.0[k] = Fe8::from_limb_registers(core::array::from_fn(|i| {
            _mm512_mask_blend_epi64(negative[k], plus[i], minus[i])
        }));
    }
    t
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
fn multiples<const B: usize>(r: Aff<B>) -> [Aff<B>; TABLE] {
    let mut jac = [Jac::from_affine(r); TABLE];
    jac[1] = jac[0].double();
    for k in 2..TABLE {
        jac[k] = jac[k - 1].add_affine(r);
    }
    // prefix[k] = Z1·…·Zk (Z of entry 0 is 1).
    let mut prefix = [Fe::constant(1); TABLE];
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
        table[k] = Aff {
            x: jac[k].x.mul(zi2),
            y: jac[k].y.mul(zi2.mul(zi)),
        };
    }
    table
}

//! Points of secp256k1 (y² = x³ + 7), eight at once.
//!
//! The formulas have no special cases: an addition of P to ±P, or involving infinity, gives
//! a wrong point. [`Jac8::add_step`] handles infinity with an explicit per-lane flag; an
//! addition of ±P to P makes Z zero, which [`super::recover`] detects at the end (see there).

use core::arch::x86_64::{__m512i, __mmask8, _mm512_test_epi64_mask};

use super::field::Fe8;

/// Jacobian coordinates: the point (X/Z², Y/Z³).
#[derive(Clone, Copy)]
pub(super) struct Jac8 {
    pub(super) x: Fe8,
    pub(super) y: Fe8,
    pub(super) z: Fe8,
}

/// Affine coordinates.
#[derive(Clone, Copy)]
pub(super) struct Aff8 {
    pub(super) x: Fe8,
    pub(super) y: Fe8,
}

impl Aff8 {
    /// `other` in the lanes of `take`, `self` in the others.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn blend(self, take: __mmask8, other: Aff8) -> Aff8 {
        Aff8 {
            x: self.x.blend(take, other.x),
            y: self.y.blend(take, other.y),
        }
    }
}

impl Jac8 {
    /// The point with Z = 1.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn from_affine(p: Aff8) -> Jac8 {
        Jac8 {
            x: p.x,
            y: p.y,
            z: Fe8::constant(1),
        }
    }

    /// 2P (dbl-2009-l, a = 0: 2M + 5S). Z3 = 2·Y1·Z1, and no point of this curve has Y = 0,
    /// so Z3 is zero exactly when Z1 is.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn double(self) -> Jac8 {
        let a = self.x.sqr();
        let b = self.y.sqr();
        let c = b.sqr();
        let d = self.x.add(b).sqr().sub(a).sub(c).shl::<1>();
        let e = a.mul3();
        let x3 = e.sqr().sub(d.shl::<1>());
        let y3 = e.mul(d.sub(x3)).sub(c.shl::<3>());
        let z3 = self.y.mul(self.z).shl::<1>();
        Jac8 {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// P + Q for an affine Q (madd-2007-bl: 7M + 4S). Z3 = (Z1 + H)² − Z1² − H² = 2·Z1·H,
    /// where H = 0 exactly when P = ±Q: then Z3 = 0, and it stays 0 through every later
    /// doubling and addition.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn add_affine(self, q: Aff8) -> Jac8 {
        let z1z1 = self.z.sqr();
        let u2 = q.x.mul(z1z1);
        let s2 = q.y.mul(self.z).mul(z1z1);
        let h = u2.sub(self.x);
        let hh = h.sqr();
        let i = hh.shl::<2>();
        let j = h.mul(i);
        let r = s2.sub(self.y).shl::<1>();
        let v = self.x.mul(i);
        let x3 = r.sqr().sub(j).sub(v.shl::<1>());
        let y3 = r.mul(v.sub(x3)).sub(self.y.mul(j).shl::<1>());
        let z3 = self.z.add(h).sqr().sub(z1z1).sub(hh);
        Jac8 {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// `self += t` in the lanes whose `digit` is not zero; a lane flagged in `infinity`
    /// (the sum so far is the point at infinity) takes `t` itself and loses the flag.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn add_step(self, infinity: &mut __mmask8, digit: __m512i, t: Aff8) -> Jac8 {
        let sum = self.add_affine(t);
        let nonzero = _mm512_test_epi64_mask(digit, digit);
        let take_t = nonzero & *infinity;
        let take_sum = nonzero & !*infinity;
        *infinity &= !nonzero;
        let t = Jac8::from_affine(t);
        Jac8 {
            x: self.x.blend(take_sum, sum.x).blend(take_t, t.x),
            y: self.y.blend(take_sum, sum.y).blend(take_t, t.y),
            z: self.z.blend(take_sum, sum.z).blend(take_t, t.z),
        }
    }
}

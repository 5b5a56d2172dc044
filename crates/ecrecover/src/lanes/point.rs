//! Points of secp256k1 (y² = x³ + 7), `B` batches of eight at once (see [`Fe`]).
//!
//! The formulas have no special cases: an addition of P to ±P, or involving infinity, gives
//! a wrong point. [`Jac::add_step`] handles infinity with an explicit per-lane flag; an
//! addition of ±P to P makes Z zero, which [`super::recover`] detects at the end (see there).

use core::arch::x86_64::{__m512i, _mm512_test_epi64_mask};

use super::field::{Fe, Masks};

/// Jacobian coordinates: the point (X/Z², Y/Z³).
#[derive(Clone, Copy)]
pub(super) struct Jac<const B: usize> {
    pub(super) x: Fe<B>,
    pub(super) y: Fe<B>,
    pub(super) z: Fe<B>,
}

/// Affine coordinates.
#[derive(Clone, Copy)]
pub(super) struct Aff<const B: usize> {
    pub(super) x: Fe<B>,
    pub(super) y: Fe<B>,
}

impl<const B: usize> Aff<B> {
    /// `other` in the lanes of `take`, `self` in the others.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn blend(self, take: Masks<B>, other: Aff<B>) -> Aff<B> {
        Aff {
            x: self.x.blend(take, other.x),
            y: self.y.blend(take, other.y),
        }
    }

    /// −P in the lanes of `negate`, P in the others.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn negated_in(self, negate: Masks<B>) -> Aff<B> {
        Aff {
            x: self.x,
            y: self.y.blend(negate, Fe::zero().sub(self.y)),
        }
    }
}

impl<const B: usize> Jac<B> {
    /// The point with Z = 1.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn from_affine(p: Aff<B>) -> Jac<B> {
        Jac {
            x: p.x,
            y: p.y,
            z: Fe::constant(1),
        }
    }

    /// 2P (dbl-2009-l, a = 0: 2M + 5S). Z3 = 2·Y1·Z1, and no point of this curve has Y = 0,
    /// so Z3 is zero exactly when Z1 is.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn double(self) -> Jac<B> {
        let a = self.x.sqr();
        let b = self.y.sqr();
        let c = b.sqr();
        let d = self.x.add(b).sqr().sub(a).sub(c).shl::<1>();
        let e = a.mul3();
        let x3 = e.sqr().sub(d.shl::<1>());
        let y3 = e.mul(d.sub(x3)).sub(c.shl::<3>());
        let z3 = self.y.mul(self.z).shl::<1>();
        Jac {
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
    pub(super) fn add_affine(self, q: Aff<B>) -> Jac<B> {
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
        Jac {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// `self += t` in the lanes whose `digit` is not zero; a lane flagged in `infinity`
    /// (the sum so far is the point at infinity) takes `t` itself and loses the flag.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn add_step(
        self,
        infinity: &mut Masks<B>,
        digit: &[__m512i; B],
        t: Aff<B>,
    ) -> Jac<B> {
        let sum = self.add_affine(t);
        let mut take_sum = [0; B];
        let mut take_t = [0; B];
        for k in 0..B {
            let nonzero = _mm512_test_epi64_mask(digit[k], digit[k]);
            take_t[k] = nonzero & infinity[k];
            take_sum[k] = nonzero & !infinity[k];
            infinity[k] &= !nonzero;
        }
        let t = Jac::from_affine(t);
        Jac {
            x: self.x.blend(take_sum, sum.x).blend(take_t, t.x),
            y: self.y.blend(take_sum, sum.y).blend(take_t, t.y),
            z: self.z.blend(take_sum, sum.z).blend(take_t, t.z),
        }
    }
}

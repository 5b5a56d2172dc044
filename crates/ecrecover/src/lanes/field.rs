//! The field of secp256k1, eight elements at once: limb `i` of every lane in one AVX-512
//! register, five limbs of 52 bits, multiplied with IFMA (`vpmadd52{lo,hi}uq`: the low or
//! high 52 bits of a 52×52-bit product added to a 64-bit accumulator).
//!
//! Bounds, which every function keeps: a *weak* element has limbs 0–3 below 2^52 and limb 4
//! below 2^49 (a value below 2^257, not necessarily below p); every operation takes and returns
//! weak elements (`mul` and `sqr` also take limb 4 up to 2^52), because IFMA reads only the
//! low 52 bits of its inputs. [`Fe8::normalize`] gives the canonical value in [0, p).

use core::arch::x86_64::{
    __m512i, __mmask8, _mm256_extract_epi64, _mm512_add_epi64, _mm512_and_si512,
    _mm512_cmpeq_epi64_mask, _mm512_cmpneq_epi64_mask, _mm512_extracti64x4_epi64,
    _mm512_madd52hi_epu64, _mm512_madd52lo_epu64, _mm512_mask_blend_epi64, _mm512_or_si512,
    _mm512_set1_epi64, _mm512_set_epi64, _mm512_setzero_si512, _mm512_slli_epi64,
    _mm512_srli_epi64, _mm512_sub_epi64,
};

const M52: u64 = (1 << 52) - 1;
const M48: u64 = (1 << 48) - 1;
/// 2^260 mod p: folds the product's limbs 5–9 onto limbs 0–4.
const R260: u64 = 0x10_0000_3D10;
/// 2^256 mod p.
const R256: u64 = 0x1_0000_03D1;
/// p in 52-bit limbs.
const P52: [u64; 5] = [0xF_FFFE_FFFF_FC2F, M52, M52, M52, M48];

/// Eight field elements.
#[derive(Clone, Copy)]
pub(super) struct Fe8 {
    l: [__m512i; 5],
}

#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn splat(x: u64) -> __m512i {
    _mm512_set1_epi64(x as i64)
}

#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn lo(acc: __m512i, a: __m512i, b: __m512i) -> __m512i {
    _mm512_madd52lo_epu64(acc, a, b)
}

#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn hi(acc: __m512i, a: __m512i, b: __m512i) -> __m512i {
    _mm512_madd52hi_epu64(acc, a, b)
}

/// One 64-bit word of each lane into a register.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
pub(super) fn vset(v: &[u64; 8]) -> __m512i {
    let w = |i: usize| v[i] as i64;
    _mm512_set_epi64(w(7), w(6), w(5), w(4), w(3), w(2), w(1), w(0))
}

/// A register's eight 64-bit words.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
pub(super) fn vget(x: __m512i) -> [u64; 8] {
    let a = _mm512_extracti64x4_epi64::<0>(x);
    let b = _mm512_extracti64x4_epi64::<1>(x);
    [
        _mm256_extract_epi64::<0>(a) as u64,
        _mm256_extract_epi64::<1>(a) as u64,
        _mm256_extract_epi64::<2>(a) as u64,
        _mm256_extract_epi64::<3>(a) as u64,
        _mm256_extract_epi64::<0>(b) as u64,
        _mm256_extract_epi64::<1>(b) as u64,
        _mm256_extract_epi64::<2>(b) as u64,
        _mm256_extract_epi64::<3>(b) as u64,
    ]
}

/// Four little-endian 64-bit words as five 52-bit limbs.
pub(super) fn words_to_limbs(w: &[u64; 4]) -> [u64; 5] {
    let [w0, w1, w2, w3] = *w;
    [
        w0 & M52,
        ((w0 >> 52) | (w1 << 12)) & M52,
        ((w1 >> 40) | (w2 << 24)) & M52,
        ((w2 >> 28) | (w3 << 36)) & M52,
        w3 >> 16,
    ]
}

/// Five canonical 52-bit limbs as four little-endian 64-bit words.
fn limbs_to_words(l: &[u64; 5]) -> [u64; 4] {
    [
        l[0] | (l[1] << 52),
        (l[1] >> 12) | (l[2] << 40),
        (l[2] >> 24) | (l[3] << 28),
        (l[3] >> 36) | (l[4] << 16),
    ]
}

/// Carries limbs 0–3 into the next (they end below 2^52); limb 4 keeps what it gets.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn carry_chain(u: &mut [__m512i; 5]) {
    let m = splat(M52);
    for i in 0..4 {
        let c = _mm512_srli_epi64::<52>(u[i]);
        u[i] = _mm512_and_si512(u[i], m);
        u[i + 1] = _mm512_add_epi64(u[i + 1], c);
    }
}

/// A product's ten columns (each below 2^57, column k of weight 2^(52k)) to a weak element.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn reduce(t: [__m512i; 10]) -> Fe8 {
    let m52 = splat(M52);
    let r = splat(R260);
    let mut u = [t[0], t[1], t[2], t[3], t[4]];
    let mut u5 = _mm512_setzero_si512();
    // Column k ≥ 5 is split into its low 52 bits l and a carry c, each folded by 2^260 ≡ R260
    // onto column k − 5 (and the next), so no carry chain runs before the fold.
    for k in 5..10 {
        let j = k - 5;
        let l = _mm512_and_si512(t[k], m52);
        let c = _mm512_srli_epi64::<52>(t[k]);
        u[j] = lo(u[j], l, r);
        // c·R260 < 2^42: its low half is all of it.
        if j + 1 < 5 {
            u[j + 1] = hi(u[j + 1], l, r);
            u[j + 1] = lo(u[j + 1], c, r);
        } else {
            u5 = hi(u5, l, r);
            u5 = lo(u5, c, r);
        }
    }
    // u5 < 2^42 at weight 2^260.
    u[0] = lo(u[0], u5, r);
    u[1] = hi(u[1], u5, r);
    // Bits 256 and up of limb 4 (u4 < 2^57, so fewer than 9 of them), by 2^256 ≡ R256.
    let x = _mm512_srli_epi64::<48>(u[4]);
    u[4] = _mm512_and_si512(u[4], splat(M48));
    u[0] = lo(u[0], x, splat(R256));
    carry_chain(&mut u);
    Fe8 { l: u }
}

impl Fe8 {
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn zero() -> Fe8 {
        Fe8 {
            l: [_mm512_setzero_si512(); 5],
        }
    }

    /// The small constant `c` in every lane.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn constant(c: u64) -> Fe8 {
        let mut f = Fe8::zero();
        f.l[0] = splat(c);
        f
    }

    /// One 256-bit value per lane (little-endian words, below p).
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn from_words(w: &[[u64; 4]; 8]) -> Fe8 {
        let limbs: [[u64; 5]; 8] = core::array::from_fn(|lane| words_to_limbs(&w[lane]));
        Fe8 {
            l: core::array::from_fn(|i| vset(&core::array::from_fn(|lane| limbs[lane][i]))),
        }
    }

    /// From limb registers (each lane's limbs below 2^52, limb 4 below 2^48).
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn from_limb_registers(l: [__m512i; 5]) -> Fe8 {
        Fe8 { l }
    }

    /// Each lane's canonical value as little-endian words.
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn to_words(self) -> [[u64; 4]; 8] {
        let n = self.normalize();
        let v: [[u64; 8]; 5] = core::array::from_fn(|i| vget(n.l[i]));
        core::array::from_fn(|lane| limbs_to_words(&core::array::from_fn(|i| v[i][lane])))
    }

    /// The lowest bit of each lane (canonical input).
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn odd_mask(self) -> __mmask8 {
        _mm512_cmpneq_epi64_mask(
            _mm512_and_si512(self.l[0], splat(1)),
            _mm512_setzero_si512(),
        )
    }

    /// Lanes where `self == other` (both canonical).
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn eq_mask(self, other: Fe8) -> __mmask8 {
        let mut m: __mmask8 = 0xff;
        for i in 0..5 {
            m &= _mm512_cmpeq_epi64_mask(self.l[i], other.l[i]);
        }
        m
    }

    /// Lanes where the value is zero (canonical input).
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn zero_mask(self) -> __mmask8 {
        let mut o = self.l[0];
        for i in 1..5 {
            o = _mm512_or_si512(o, self.l[i]);
        }
        _mm512_cmpeq_epi64_mask(o, _mm512_setzero_si512())
    }

    /// `other` in the lanes of `take`, `self` in the others.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn blend(self, take: __mmask8, other: Fe8) -> Fe8 {
        Fe8 {
            l: core::array::from_fn(|i| _mm512_mask_blend_epi64(take, self.l[i], other.l[i])),
        }
    }

    /// `self · b`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn mul(self, b: Fe8) -> Fe8 {
        let z = _mm512_setzero_si512();
        let (a, b) = (&self.l, &b.l);
        // Low and high halves in separate accumulators: two independent chains per column.
        let mut pl = [z; 9];
        let mut ph = [z; 9];
        for i in 0..5 {
            for j in 0..5 {
                pl[i + j] = lo(pl[i + j], a[i], b[j]);
                ph[i + j] = hi(ph[i + j], a[i], b[j]);
            }
        }
        // Column k < 5·2^52 + 4·2^52 < 2^56.
        let add = _mm512_add_epi64;
        reduce([
            pl[0],
            add(pl[1], ph[0]),
            add(pl[2], ph[1]),
            add(pl[3], ph[2]),
            add(pl[4], ph[3]),
            add(pl[5], ph[4]),
            add(pl[6], ph[5]),
            add(pl[7], ph[6]),
            add(pl[8], ph[7]),
            ph[8],
        ])
    }

    /// `self²`: the cross products once, doubled, plus the squares.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn sqr(self) -> Fe8 {
        let a = &self.l;
        let mut t = [_mm512_setzero_si512(); 10];
        for i in 0..5 {
            for j in (i + 1)..5 {
                t[i + j] = lo(t[i + j], a[i], a[j]);
                t[i + j + 1] = hi(t[i + j + 1], a[i], a[j]);
            }
        }
        for col in t.iter_mut().skip(1) {
            *col = _mm512_slli_epi64::<1>(*col);
        }
        for i in 0..5 {
            t[2 * i] = lo(t[2 * i], a[i], a[i]);
            t[2 * i + 1] = hi(t[2 * i + 1], a[i], a[i]);
        }
        // Column k ≤ 2·4·2^52 + 2·2^52 < 2^56.
        reduce(t)
    }

    /// Back to weak form from limbs below 2^63.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn weak_normalize(self) -> Fe8 {
        let mut u = self.l;
        let x = _mm512_srli_epi64::<48>(u[4]); // < 2^15
        u[4] = _mm512_and_si512(u[4], splat(M48));
        u[0] = lo(u[0], x, splat(R256)); // x·R256 < 2^48: exact
        carry_chain(&mut u);
        Fe8 { l: u }
    }

    /// `self + b`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn add(self, b: Fe8) -> Fe8 {
        Fe8 {
            l: core::array::from_fn(|i| _mm512_add_epi64(self.l[i], b.l[i])),
        }
        .weak_normalize()
    }

    /// `self − b`, as `self + 16p − b`: 16p's limbs are at least 2^52 − 16 ≥ any weak limb of
    /// `b`, so no limb goes negative.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn sub(self, b: Fe8) -> Fe8 {
        Fe8 {
            l: core::array::from_fn(|i| {
                _mm512_sub_epi64(_mm512_add_epi64(self.l[i], splat(P52[i] << 4)), b.l[i])
            }),
        }
        .weak_normalize()
    }

    /// `self · 2^K` for K ≤ 10.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn shl<const K: u32>(self) -> Fe8 {
        Fe8 {
            l: core::array::from_fn(|i| _mm512_slli_epi64::<K>(self.l[i])),
        }
        .weak_normalize()
    }

    /// `3 · self`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn mul3(self) -> Fe8 {
        Fe8 {
            l: core::array::from_fn(|i| {
                _mm512_add_epi64(self.l[i], _mm512_slli_epi64::<1>(self.l[i]))
            }),
        }
        .weak_normalize()
    }

    /// The canonical value, in [0, p).
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn normalize(self) -> Fe8 {
        // One more fold: the value is then below 2^256 + 2^34 < 2p.
        let mut u = self.weak_normalize().l;
        // v = u + (2^256 − p); v ≥ 2^256 exactly when u ≥ p, and then u − p = v − 2^256.
        let mut v = u;
        v[0] = _mm512_add_epi64(v[0], splat(R256));
        carry_chain(&mut v);
        let ge = _mm512_cmpneq_epi64_mask(_mm512_srli_epi64::<48>(v[4]), _mm512_setzero_si512());
        v[4] = _mm512_and_si512(v[4], splat(M48));
        for i in 0..5 {
            u[i] = _mm512_mask_blend_epi64(ge, u[i], v[i]);
        }
        Fe8 { l: u }
    }
}

/// Per batch, a lane mask.
pub(super) type Masks<const B: usize> = [__mmask8; B];

/// `B` independent batches of eight elements. Each operation runs on every batch in turn, so
/// their dependency chains interleave: one batch alone leaves the core waiting on the latency
/// of each multiplication, two keep it busy (about 12% less time per signature).
#[derive(Clone, Copy)]
pub(super) struct Fe<const B: usize>(pub(super) [Fe8; B]);

impl<const B: usize> Fe<B> {
    /// The same eight elements in every batch.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn splat(f: Fe8) -> Fe<B> {
        Fe([f; B])
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn zero() -> Fe<B> {
        Fe::splat(Fe8::zero())
    }

    /// The small constant `c` in every lane.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn constant(c: u64) -> Fe<B> {
        Fe::splat(Fe8::constant(c))
    }

    /// `op` on each batch.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn each(self, op: impl Fn(Fe8) -> Fe8) -> Fe<B> {
        let mut out = self;
        for k in 0..B {
            out.0[k] = op(self.0[k]);
        }
        out
    }

    /// `op` on each batch of `self` and the same batch of `b`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn each_with(self, b: Fe<B>, op: impl Fn(Fe8, Fe8) -> Fe8) -> Fe<B> {
        let mut out = self;
        for k in 0..B {
            out.0[k] = op(self.0[k], b.0[k]);
        }
        out
    }

    /// `op` on each batch, one mask per batch.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn masks(self, op: impl Fn(Fe8) -> __mmask8) -> Masks<B> {
        let mut out = [0; B];
        for k in 0..B {
            out[k] = op(self.0[k]);
        }
        out
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn mul(self, b: Fe<B>) -> Fe<B> {
        self.each_with(b, |x, y| x.mul(y))
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn sqr(self) -> Fe<B> {
        self.each(|x| x.sqr())
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn add(self, b: Fe<B>) -> Fe<B> {
        self.each_with(b, |x, y| x.add(y))
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn sub(self, b: Fe<B>) -> Fe<B> {
        self.each_with(b, |x, y| x.sub(y))
    }

    /// `self · 2^K` for K ≤ 10.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn shl<const K: u32>(self) -> Fe<B> {
        self.each(|x| x.shl::<K>())
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn mul3(self) -> Fe<B> {
        self.each(|x| x.mul3())
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn normalize(self) -> Fe<B> {
        self.each(|x| x.normalize())
    }

    /// `other` in the lanes of `take`, `self` in the others.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn blend(self, take: Masks<B>, other: Fe<B>) -> Fe<B> {
        let mut out = self;
        for k in 0..B {
            out.0[k] = self.0[k].blend(take[k], other.0[k]);
        }
        out
    }

    /// Lanes where `self == other` (both canonical).
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn eq_mask(self, other: Fe<B>) -> Masks<B> {
        let mut out = [0; B];
        for k in 0..B {
            out[k] = self.0[k].eq_mask(other.0[k]);
        }
        out
    }

    /// The lowest bit of each lane (canonical input).
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn odd_mask(self) -> Masks<B> {
        self.masks(|x| x.odd_mask())
    }

    /// Lanes where the value is zero (canonical input).
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn zero_mask(self) -> Masks<B> {
        self.masks(|x| x.zero_mask())
    }

    /// `self^(2^n)`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn sqr_n(self, n: usize) -> Fe<B> {
        let mut x = self;
        for _ in 0..n {
            x = x.sqr();
        }
        x
    }

    /// `self^(p−2)`, the inverse of a non-zero element (libsecp256k1's addition chain:
    /// 255 squarings, 15 multiplications).
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn invert(self) -> Fe<B> {
        let (x2, x22, x223) = self.chain_to_x223();
        let x = x223.sqr_n(23).mul(x22).sqr_n(5).mul(self).sqr_n(3).mul(x2);
        x.sqr_n(2).mul(self)
    }

    /// `self^((p+1)/4)`: the square root when there is one (to be checked by squaring).
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub(super) fn sqrt_candidate(self) -> Fe<B> {
        let (x2, x22, x223) = self.chain_to_x223();
        x223.sqr_n(23).mul(x22).sqr_n(6).mul(x2).sqr_n(2)
    }

    /// The shared start of both exponentiations: `self^(2^k − 1)` for k = 2, 22, 223.
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn chain_to_x223(self) -> (Fe<B>, Fe<B>, Fe<B>) {
        let x2 = self.sqr().mul(self);
        let x3 = x2.sqr().mul(self);
        let x6 = x3.sqr_n(3).mul(x3);
        let x9 = x6.sqr_n(3).mul(x3);
        let x11 = x9.sqr_n(2).mul(x2);
        let x22 = x11.sqr_n(11).mul(x11);
        let x44 = x22.sqr_n(22).mul(x22);
        let x88 = x44.sqr_n(44).mul(x44);
        let x176 = x88.sqr_n(88).mul(x88);
        let x220 = x176.sqr_n(44).mul(x44);
        let x223 = x220.sqr_n(3).mul(x3);
        (x2, x22, x223)
    }
}

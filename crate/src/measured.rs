//! Measured optimizer steps: the SGD and Adam/AdamW steps of [`crate::optim`] that, in the
//! same pass, keep each parameter's value before the update and sum the update's energy
//! terms (docs/theory.md, "Determinism: the updateEnergy kernel"). One pass instead of three
//! (a snapshot copy, the step, [`crate::balance::update_energy`]): Adam moves 32 bytes per
//! parameter instead of 8 + 28 + 16.
//!
//! The result equals the generic path bit for bit: the parameters and state are the plain
//! step's (the same per-element code, [`crate::optim::adam_one`] and its 8-lane form), and
//! the sums are `update_energy(before, params, grads, metric, scale, ε)` over the stored
//! values, with the metric the second moment the step used (v, or v̂ with amsgrad) and
//! its f32 √ the one the step computed, added in `update_energy`'s canonical order: the
//! fixed split of [`crate::reduce::split`] (which is also the threads' split here), 16
//! accumulators per sum over each range's full blocks (4 registers × 4 lanes on AVX2),
//! the tail in index order, the ranges in index order. SGD's sums have no metric (w = 1).
//!
//! Generic over the dtype ([`Real`]): f64 parameters take the same code in f64 (the metric's
//! √ in f64); the AVX2 tiles are f32's, f64 runs the scalar code ([`MeasuredReal`]).

use crate::balance::{add_terms, element_terms, weight, Acc16};
use crate::cpu::{simd_path, SimdPath};
use crate::error::KernelError;
use crate::optim::{adam_one, check_len, sgd_one, Adam, AdamScalars, Base, Sgd, SgdScalars};
use crate::real::Real;
use crate::reduce::split_sum;

/// The metric of Adam's reading: w_i = f32 √s_i · `scale` + `epsilon`, s the second moment
/// the step used (the optimizer passes 1/√(1 − β₂ᵗ) and its ε, in f64).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metric {
    pub scale: f64,
    pub epsilon: f64,
}

/// What a measured step returns: whether every updated parameter is finite, and
/// [Σ w Δ², Σ g Δ, Σ |g Δ|] over Δ = after − before (as `update_energy`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    pub finite: bool,
    pub sums: [f64; 3],
}

/// Three sums and a count of ranges with a non-finite parameter.
type Part = [f64; 4];

fn part(sums: [f64; 3], finite: bool) -> Part {
    [sums[0], sums[1], sums[2], if finite { 0.0 } else { 1.0 }]
}

fn measured(total: Part) -> Measured {
    Measured {
        finite: total[3] == 0.0,
        sums: [total[0], total[1], total[2]],
    }
}

// ---------------------------------------------------------------------------------
// SGD.

/// One torch.optim.SGD step over one tensor, in place (as [`crate::optim::sgd_step`]),
/// writing each parameter's value before the step into `before` and summing the update's
/// terms without a metric (w = 1). `before` has the params' length.
pub fn sgd_step_measured<T: MeasuredReal>(
    params: &mut [T],
    grads: &[T],
    momentum_buffer: &mut [T],
    before: &mut [T],
    h: &Sgd,
) -> Result<Measured, KernelError> {
    sgd_step_measured_on(simd_path(), params, grads, momentum_buffer, before, h)
}

pub(crate) fn sgd_step_measured_on<T: MeasuredReal>(
    path: SimdPath,
    params: &mut [T],
    grads: &[T],
    momentum_buffer: &mut [T],
    before: &mut [T],
    h: &Sgd,
) -> Result<Measured, KernelError> {
    let n = params.len();
    check_len("grads", n, grads.len())?;
    let s = SgdScalars::<T>::new(h);
    if s.mu != T::ZERO {
        check_len("momentumBuffer", n, momentum_buffer.len())?;
    }
    check_len("before", n, before.len())?;
    let (p, b, q) = (Base::of(params), Base::of(momentum_buffer), Base::of(before));
    Ok(measured(split_sum(n, |r| {
        // SAFETY: the ranges of the split are disjoint and inside the arrays (b only when
        // μ ≠ 0, where its length was checked).
        let (p, b, q) = unsafe {
            let b = if s.mu != T::ZERO {
                b.range(r.start, r.end)
            } else {
                &mut [][..]
            };
            (p.range(r.start, r.end), b, q.range(r.start, r.end))
        };
        T::sgd_measured_range(path, p, &grads[r], b, q, &s)
    })))
}

/// The paths a dtype's measured steps take over one range: f32 has AVX2 tiles; f64 runs the
/// scalar code on every path.
pub trait MeasuredReal: Real {
    #[doc(hidden)]
    fn sgd_measured_range(
        path: SimdPath,
        p: &mut [Self],
        g: &[Self],
        b: &mut [Self],
        q: &mut [Self],
        s: &SgdScalars<Self>,
    ) -> [f64; 4];
    #[doc(hidden)]
    fn adam_measured_range(
        path: SimdPath,
        a: AdamArrays<'_, Self>,
        s: &AdamScalars<Self>,
        metric: &Metric,
    ) -> [f64; 4];
}

impl MeasuredReal for f32 {
    fn sgd_measured_range(
        path: SimdPath,
        p: &mut [f32],
        g: &[f32],
        b: &mut [f32],
        q: &mut [f32],
        s: &SgdScalars,
    ) -> Part {
        match path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
            SimdPath::Avx2Fma => unsafe { avx2::sgd(p, g, b, q, s) },
            _ => sgd_scalar(p, g, b, q, s),
        }
    }

    fn adam_measured_range(path: SimdPath, a: AdamArrays<'_>, s: &AdamScalars, metric: &Metric) -> Part {
        match path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
            SimdPath::Avx2Fma => unsafe { avx2::adam(a, s, metric) },
            _ => adam_scalar(a, s, metric),
        }
    }
}

impl MeasuredReal for f64 {
    fn sgd_measured_range(
        _: SimdPath,
        p: &mut [f64],
        g: &[f64],
        b: &mut [f64],
        q: &mut [f64],
        s: &SgdScalars<f64>,
    ) -> Part {
        sgd_scalar(p, g, b, q, s)
    }

    fn adam_measured_range(
        _: SimdPath,
        a: AdamArrays<'_, f64>,
        s: &AdamScalars<f64>,
        metric: &Metric,
    ) -> Part {
        adam_scalar(a, s, metric)
    }
}

/// One element: the step, the snapshot, the terms.
#[inline]
fn sgd_element<T: Real>(
    p: &mut [T],
    g: &[T],
    b: &mut [T],
    q: &mut [T],
    s: &SgdScalars<T>,
    i: usize,
) -> (T, [f64; 3]) {
    let mut unused = T::ZERO;
    let bi = if s.mu != T::ZERO { &mut b[i] } else { &mut unused };
    let old = p[i];
    let next = sgd_one(s, old, g[i], bi);
    q[i] = old;
    p[i] = next;
    (next, element_terms(old, next, g[i], 1.0))
}

/// Scalar reference of one range: the canonical order written out.
fn sgd_scalar<T: Real>(p: &mut [T], g: &[T], b: &mut [T], q: &mut [T], s: &SgdScalars<T>) -> Part {
    let n = p.len();
    let full = n / 16 * 16;
    let mut acc = Acc16::new();
    let mut finite = true;
    for block in (0..full).step_by(16) {
        for j in 0..16 {
            let (next, t) = sgd_element(p, g, b, q, s, block + j);
            finite &= next.is_finite();
            acc.add(j, t);
        }
    }
    let mut out = acc.combine();
    sgd_tail(p, g, b, q, s, full, &mut out, &mut finite);
    part(out, finite)
}

#[allow(clippy::too_many_arguments)]
fn sgd_tail<T: Real>(
    p: &mut [T],
    g: &[T],
    b: &mut [T],
    q: &mut [T],
    s: &SgdScalars<T>,
    from: usize,
    out: &mut [f64; 3],
    finite: &mut bool,
) {
    for i in from..p.len() {
        let (next, t) = sgd_element(p, g, b, q, s, i);
        *finite &= next.is_finite();
        add_terms(out, t);
    }
}

// ---------------------------------------------------------------------------------
// Adam / AdamW.

/// One torch.optim.Adam / AdamW step over one tensor, in place (as
/// [`crate::optim::adam_step`]), writing each parameter's value before the step into
/// `before` and summing the update's terms in the metric w = f32 √s · scale + ε (s the
/// second moment the step used). `before` has the params' length.
#[allow(clippy::too_many_arguments)]
pub fn adam_step_measured<T: MeasuredReal>(
    params: &mut [T],
    grads: &[T],
    m: &mut [T],
    v: &mut [T],
    v_max: &mut [T],
    before: &mut [T],
    h: &Adam,
    metric: &Metric,
) -> Result<Measured, KernelError> {
    adam_step_measured_on(simd_path(), params, grads, m, v, v_max, before, h, metric)
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn adam_step_measured_on<T: MeasuredReal>(
    path: SimdPath,
    params: &mut [T],
    grads: &[T],
    m: &mut [T],
    v: &mut [T],
    v_max: &mut [T],
    before: &mut [T],
    h: &Adam,
    metric: &Metric,
) -> Result<Measured, KernelError> {
    let n = params.len();
    check_len("grads", n, grads.len())?;
    check_len("m", n, m.len())?;
    check_len("v", n, v.len())?;
    if h.amsgrad {
        check_len("vMax", n, v_max.len())?;
    }
    check_len("before", n, before.len())?;
    let s = AdamScalars::<T>::new(h);
    let (p, mb, vb, wb, q) = (
        Base::of(params),
        Base::of(m),
        Base::of(v),
        Base::of(v_max),
        Base::of(before),
    );
    let metric = *metric;
    Ok(measured(split_sum(n, |r| {
        // SAFETY: disjoint ranges inside the arrays (v_max only with amsgrad, where its
        // length was checked).
        let (p, m, v, w, q) = unsafe {
            let w = if s.amsgrad {
                wb.range(r.start, r.end)
            } else {
                &mut [][..]
            };
            (
                p.range(r.start, r.end),
                mb.range(r.start, r.end),
                vb.range(r.start, r.end),
                w,
                q.range(r.start, r.end),
            )
        };
        let a = AdamArrays {
            p,
            g: &grads[r],
            m,
            v,
            w,
            q,
        };
        T::adam_measured_range(path, a, &s, &metric)
    })))
}

/// One range's arrays (w empty without amsgrad; q the snapshot).
pub struct AdamArrays<'a, T = f32> {
    p: &'a mut [T],
    g: &'a [T],
    m: &'a mut [T],
    v: &'a mut [T],
    w: &'a mut [T],
    q: &'a mut [T],
}

impl<T: Real> AdamArrays<'_, T> {
    /// One element: the step, the snapshot, the terms.
    #[inline]
    fn element(&mut self, s: &AdamScalars<T>, metric: &Metric, i: usize) -> (T, [f64; 3]) {
        let mut unused = T::ZERO;
        let wi = if s.amsgrad { &mut self.w[i] } else { &mut unused };
        let old = self.p[i];
        let (next, root) = adam_one(s, old, self.g[i], &mut self.m[i], &mut self.v[i], wi);
        self.q[i] = old;
        self.p[i] = next;
        let w = weight(root, metric.scale, metric.epsilon);
        (next, element_terms(old, next, self.g[i], w))
    }

    /// Elements from..len in index order onto `out`.
    fn tail(&mut self, s: &AdamScalars<T>, metric: &Metric, from: usize, out: &mut [f64; 3]) -> bool {
        let mut finite = true;
        for i in from..self.p.len() {
            let (next, t) = self.element(s, metric, i);
            finite &= next.is_finite();
            add_terms(out, t);
        }
        finite
    }
}

/// Scalar reference of one range: the canonical order written out.
fn adam_scalar<T: Real>(mut a: AdamArrays<'_, T>, s: &AdamScalars<T>, metric: &Metric) -> Part {
    let full = a.p.len() / 16 * 16;
    let mut acc = Acc16::new();
    let mut finite = true;
    for block in (0..full).step_by(16) {
        for j in 0..16 {
            let (next, t) = a.element(s, metric, block + j);
            finite &= next.is_finite();
            acc.add(j, t);
        }
    }
    let mut out = acc.combine();
    finite &= a.tail(s, metric, full, &mut out);
    part(out, finite)
}

// ---------------------------------------------------------------------------------
// AVX2: a range's full blocks go tile by tile (TILE elements, a multiple of 16: the tile's
// arrays stay in L1): first the 8-lane step over the tile (crate::optim's lanes), keeping the
// √ of the second moment in a stack buffer, then the tile's sums from what the step stored,
// element 4r + l of each block of 16 into register r lane l (crate::balance's Sums4, as
// update_energy's AVX2 path reads it); each accumulator receives its terms in the canonical
// order. (Summing each element right after its step was slower: the 12 accumulators, the
// step's constants and its long divide chains do not fit the 16 registers, and the step and
// the sums did not overlap; 2.6× the plain step's time against 2× here.) The tail by the
// scalar code.

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{part, sgd_tail, AdamArrays, Metric, Part};
    use crate::balance::avx2::Sums4;
    use crate::optim::avx2::{non_finite, AdamLanes, SgdLanes};
    use crate::optim::{AdamScalars, SgdScalars};
    use std::arch::x86_64::*;

    /// Elements per tile (a multiple of 16): 1 KB per array.
    const TILE: usize = 256;

    /// Adds the terms of the full blocks [start, end) to `sums`: Δ = p − q, the gradient g,
    /// the metric's √ at roots[i − start] when given.
    ///
    /// # Safety
    /// The CPU must support AVX2; q, p, g are valid for reads of [start, end), roots for
    /// end − start values; end − start is a multiple of 16.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tile_sums(
        sums: &mut Sums4,
        q: *const f32,
        p: *const f32,
        g: *const f32,
        roots: Option<*const f32>,
        start: usize,
        end: usize,
    ) {
        let mut i = start;
        while i < end {
            for r in 0..4 {
                let at = i + 4 * r;
                // SAFETY: at + 4 <= end, inside the arrays (the caller's contract).
                unsafe {
                    let root = roots.map(|w| _mm_loadu_ps(w.add(at - start)));
                    sums.add(
                        r,
                        _mm_loadu_ps(q.add(at)),
                        _mm_loadu_ps(p.add(at)),
                        _mm_loadu_ps(g.add(at)),
                        root,
                    );
                }
            }
            i += 16;
        }
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA; g and q have p's length, and b too when μ ≠ 0.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn sgd(p: &mut [f32], g: &[f32], b: &mut [f32], q: &mut [f32], s: &SgdScalars) -> Part {
        // SAFETY: the caller's contract; the flags match the scalars.
        unsafe { crate::optim::sgd_as!(s.form(), sgd_as(p, g, b, q, s)) }
    }

    /// [`sgd`] with its options fixed at compile time (SgdLanes::step_as).
    ///
    /// # Safety
    /// As [`sgd`]; the flags must match the scalars.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn sgd_as<const L2: bool, const MOMENTUM: u8, const NESTEROV: bool>(
        p: &mut [f32],
        g: &[f32],
        b: &mut [f32],
        q: &mut [f32],
        s: &SgdScalars,
    ) -> Part {
        let n = p.len();
        let full = n / 16 * 16;
        let lanes = SgdLanes::new(s);
        let mut sums = Sums4::new(1.0, 0.0);
        let (pp, gp, bp, qp) = (p.as_mut_ptr(), g.as_ptr(), b.as_mut_ptr(), q.as_mut_ptr());
        let mut bad = _mm256_setzero_ps();
        let mut start = 0;
        while start < full {
            let end = (start + TILE).min(full);
            let mut i = start;
            while i < end {
                // SAFETY: i + 8 <= full <= n for p, g, q, and for b when it is used.
                unsafe {
                    let pv = _mm256_loadu_ps(pp.add(i));
                    let next = lanes.step_as::<L2, MOMENTUM, NESTEROV>(
                        pv,
                        _mm256_loadu_ps(gp.add(i)),
                        bp.wrapping_add(i),
                    );
                    _mm256_storeu_ps(qp.add(i), pv);
                    _mm256_storeu_ps(pp.add(i), next);
                    bad = _mm256_or_ps(bad, non_finite(next));
                }
                i += 8;
            }
            // SAFETY: [start, end) is inside the arrays and a multiple of 16 long.
            unsafe { tile_sums(&mut sums, qp, pp, gp, None, start, end) };
            start = end;
        }
        let mut out = sums.reduce();
        let mut finite = _mm256_movemask_ps(bad) == 0;
        sgd_tail(p, g, b, q, s, full, &mut out, &mut finite);
        part(out, finite)
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA; the arrays have p's length (w only with amsgrad).
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn adam(a: AdamArrays<'_>, s: &AdamScalars, metric: &Metric) -> Part {
        // SAFETY: the caller's contract; the flags match the scalars.
        unsafe { crate::optim::adam_as!(s.form(), adam_as(a, s, metric)) }
    }

    /// [`adam`] with its options fixed at compile time (AdamLanes::step_as).
    ///
    /// # Safety
    /// As [`adam`]; the flags must match the scalars.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn adam_as<const DECAY: bool, const L2: bool, const AMS: bool>(
        mut a: AdamArrays<'_>,
        s: &AdamScalars,
        metric: &Metric,
    ) -> Part {
        let n = a.p.len();
        let full = n / 16 * 16;
        let lanes = AdamLanes::new(s);
        let mut sums = Sums4::new(metric.scale, metric.epsilon);
        let (pp, gp, mp, vp, wp, qp) = (
            a.p.as_mut_ptr(),
            a.g.as_ptr(),
            a.m.as_mut_ptr(),
            a.v.as_mut_ptr(),
            a.w.as_mut_ptr(),
            a.q.as_mut_ptr(),
        );
        let mut roots = [0.0f32; TILE];
        let rp = roots.as_mut_ptr();
        let mut bad = _mm256_setzero_ps();
        let mut start = 0;
        while start < full {
            let end = (start + TILE).min(full);
            let mut i = start;
            while i < end {
                // SAFETY: i + 8 <= full <= n for p, g, m, v, q, and for w when it is used;
                // i − start + 8 <= TILE.
                unsafe {
                    let pv = _mm256_loadu_ps(pp.add(i));
                    let (next, root) = lanes.step_as::<DECAY, L2, AMS>(
                        pv,
                        _mm256_loadu_ps(gp.add(i)),
                        mp.add(i),
                        vp.add(i),
                        wp.wrapping_add(i),
                    );
                    _mm256_storeu_ps(qp.add(i), pv);
                    _mm256_storeu_ps(pp.add(i), next);
                    _mm256_storeu_ps(rp.add(i - start), root);
                    bad = _mm256_or_ps(bad, non_finite(next));
                }
                i += 8;
            }
            // SAFETY: [start, end) is inside the arrays and a multiple of 16 long; roots
            // holds its end − start values.
            unsafe { tile_sums(&mut sums, qp, pp, gp, Some(rp.cast_const()), start, end) };
            start = end;
        }
        let mut out = sums.reduce();
        let finite = _mm256_movemask_ps(bad) == 0;
        let tail = a.tail(s, metric, full, &mut out);
        part(out, finite && tail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balance::{update_energy_on, Update};
    use crate::cpu::best_path;
    use crate::optim::tests::{adam_variants, bits, sgd_variants, values};
    use crate::optim::{adam_step, sgd_step};

    fn sum_bits(s: [f64; 3]) -> [u64; 3] {
        s.map(f64::to_bits)
    }

    /// Around the block width 16, the SIMD width 8, and the split's ranges (2¹⁵ each,
    /// threaded from 2¹⁸).
    const LENGTHS: [usize; 16] = [
        0,
        1,
        7,
        8,
        9,
        15,
        16,
        17,
        31,
        33,
        1000,
        1003,
        32_768 + 5,
        100_003,
        (1 << 18) + 17,
        300_017,
    ];

    /// Every path of the measured SGD step equals the copy + sgd_step + update_energy path
    /// bit for bit: parameters, buffer, snapshot, finiteness and the three sums.
    #[test]
    fn sgd_measured_equals_the_generic_path() {
        for n in LENGTHS {
            for h in sgd_variants() {
                let g = values(n, 1, 4.0);
                let (p0, b0) = (values(n, 2, 4.0), values(n, 3, 1.0));
                let (mut p, mut b) = (p0.clone(), b0.clone());
                let finite = sgd_step(&mut p, &g, &mut b, &h).unwrap();
                let u = Update {
                    before: &p0,
                    after: &p,
                    grads: &g,
                    metric: &[],
                    metric_scale: 1.0,
                    epsilon: 0.0,
                };
                let want = update_energy_on(SimdPath::Scalar, &u).unwrap();
                for path in [SimdPath::Scalar, best_path()] {
                    let (mut p2, mut b2, mut q) = (p0.clone(), b0.clone(), vec![f32::NAN; n]);
                    let got = sgd_step_measured_on(path, &mut p2, &g, &mut b2, &mut q, &h).unwrap();
                    assert_eq!(
                        (bits(&p2), bits(&b2), bits(&q), got.finite, sum_bits(got.sums)),
                        (bits(&p), bits(&b), bits(&p0), finite, sum_bits(want)),
                        "n={n} {path:?} {h:?}"
                    );
                }
            }
        }
    }

    /// The same for Adam / AdamW: the metric is the second moment the step used.
    #[test]
    fn adam_measured_equals_the_generic_path() {
        let metric = Metric {
            scale: 1.0 / (1.0 - 0.999f64.powi(3)).sqrt(),
            epsilon: 1e-8,
        };
        for n in LENGTHS {
            for h in adam_variants() {
                let g = values(n, 4, 4.0);
                let p0 = values(n, 5, 4.0);
                let m0 = values(n, 6, 0.5);
                let v0: Vec<f32> = values(n, 7, 1.0).iter().map(|x| x * x).collect();
                let w0: Vec<f32> = values(n, 8, 1.0).iter().map(|x| x * x).collect();
                let (mut p, mut m, mut v, mut w) = (p0.clone(), m0.clone(), v0.clone(), w0.clone());
                let finite = adam_step(&mut p, &g, &mut m, &mut v, &mut w, &h).unwrap();
                let u = Update {
                    before: &p0,
                    after: &p,
                    grads: &g,
                    metric: if h.amsgrad { &w } else { &v },
                    metric_scale: metric.scale,
                    epsilon: metric.epsilon,
                };
                let want = update_energy_on(SimdPath::Scalar, &u).unwrap();
                for path in [SimdPath::Scalar, best_path()] {
                    let (mut p2, mut m2, mut v2, mut w2) = (p0.clone(), m0.clone(), v0.clone(), w0.clone());
                    let mut q = vec![f32::NAN; n];
                    let got = adam_step_measured_on(
                        path, &mut p2, &g, &mut m2, &mut v2, &mut w2, &mut q, &h, &metric,
                    )
                    .unwrap();
                    assert_eq!(
                        (bits(&p2), bits(&m2), bits(&v2), bits(&w2), bits(&q)),
                        (bits(&p), bits(&m), bits(&v), bits(&w), bits(&p0)),
                        "n={n} {path:?} {h:?}"
                    );
                    assert_eq!(
                        (got.finite, sum_bits(got.sums)),
                        (finite, sum_bits(want)),
                        "n={n} {path:?} {h:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_non_finite_update_is_reported_and_completes() {
        for path in [SimdPath::Scalar, best_path()] {
            for n in [1, 16, 17, 40] {
                let mut p = vec![1.0f32; n];
                p[n - 1] = f32::MAX;
                let mut g = vec![0.0f32; n];
                g[n - 1] = -1e10;
                let h = Sgd {
                    learning_rate: 1e30,
                    momentum: 0.0,
                    dampening: 0.0,
                    weight_decay: 0.0,
                    nesterov: false,
                    maximize: false,
                    first_step: true,
                };
                let mut q = vec![0.0f32; n];
                let r = sgd_step_measured_on(path, &mut p, &g, &mut [], &mut q, &h).unwrap();
                assert!(!r.finite, "n={n} {path:?}");
                assert_eq!((p[n - 1], q[n - 1]), (f32::INFINITY, f32::MAX));
            }
        }
    }

    #[test]
    fn errors_name_the_parameter() {
        let h = sgd_variants()[1];
        let short = |q: usize| {
            sgd_step_measured(&mut [0.0; 3], &[0.0; 3], &mut [0.0; 3], &mut vec![0.0; q], &h)
                .map_err(|e| e.param)
        };
        assert_eq!(short(2), Err("before"));
        assert!(short(3).is_ok());
        let e = sgd_step_measured(&mut [0.0; 3], &[0.0; 3], &mut [], &mut [0.0; 3], &h).unwrap_err();
        assert_eq!(e.param, "momentumBuffer");
        let a = adam_variants()[2];
        let metric = Metric {
            scale: 1.0,
            epsilon: 0.0,
        };
        let call = |m: usize, w: usize, q: usize| {
            adam_step_measured(
                &mut [0.0; 3],
                &[0.0; 3],
                &mut vec![0.0; m],
                &mut [0.0; 3],
                &mut vec![0.0; w],
                &mut vec![0.0; q],
                &a,
                &metric,
            )
            .map_err(|e| e.param)
        };
        assert_eq!(call(2, 3, 3), Err("m"));
        assert_eq!(call(3, 0, 3), Err("vMax"));
        assert_eq!(call(3, 3, 4), Err("before"));
        assert!(call(3, 3, 3).is_ok());
        let e = adam_step_measured(
            &mut [0.0; 3],
            &[0.0; 3],
            &mut [0.0; 3],
            &mut [0.0; 3],
            &mut [],
            &mut [0.0; 2],
            &adam_variants()[0],
            &metric,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Expected an array of length 3 (the length of params) for before but received an array of length 2"
        );
    }
}

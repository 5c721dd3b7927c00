//! Prodigy's two passes (docs/theory.md, "Prodigy"; Mishchenko & Defazio 2023, as the
//! authors' prodigyopt 1.1.2 implements it). The optimizer (lib/optim/prodigy.ts) calls
//! [`prodigy_accumulate`] on every tensor, forms d from the summed reductions, then calls
//! [`prodigy_update`] on every tensor.
//!
//! - Pass 1 reads p, g, p0 and reads/writes m, v, s: 7 f32 streams, 28 bytes per element;
//!   it returns Σ g·(p0 − p) and Σ |s| (the new s).
//! - Pass 2 reads m, v and reads/writes p: 4 streams, 16 bytes per element.
//!
//! 44 bytes per element per step in all, against Adam's 28 (one pass): the reductions must
//! be complete before any parameter moves, so p is read twice and written once.
//!
//! Precision: element operations in the parameters' dtype (f32 or f64, [`Real`]), unfused, in
//! prodigyopt's order (as crate::optim); both dtypes take the same code, autovectorized on AVX2;
//! the sums are f64 (the products g·(p0 − p) of two f32 values are exact in f64) in one
//! fixed order that does not depend on the thread count: units of [`prodigy_unit`]`(n)`
//! elements, 8 lanes per unit (element i of a unit adds to lane i mod 8), lanes combined
//! ((0+1)+(2+3))+((4+5)+(6+7)), units added in order. lib/backends/js/optim.ts and
//! native/src/prodigy.cpp use the same order, so all backends agree bit for bit.
//!
//! SIMD: the loops are written lane-wise so that the compiler vectorizes them; on AVX2
//! machines the same code is compiled a second time with AVX2 enabled (no FMA: Rust never
//! contracts a·b + c, so both copies give the same bits).

use crate::cpu::{simd_path, SimdPath};
use crate::error::KernelError;
use crate::optim::{all_ranges, check_len, Base, PARALLEL_MIN};
use crate::parallel;
use crate::real::Real;

/// Reduction block: units are multiples of it.
pub const PRODIGY_BLOCK: usize = 8192;
/// At most this many units (one pair of sums each, on the stack).
pub const PRODIGY_MAX_UNITS: usize = 64;

/// The reduction unit for n elements (a multiple of 8; at most [`PRODIGY_MAX_UNITS`] units).
pub fn prodigy_unit(n: usize) -> usize {
    PRODIGY_BLOCK * n.div_ceil(PRODIGY_BLOCK * PRODIGY_MAX_UNITS).max(1)
}

/// Scalars of pass 1, as the caller forms them in f64 (rounded to the dtype here).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProdigyAccumulate {
    pub beta1: f64,
    pub beta2: f64,
    pub beta3: f64,
    /// d(1 − β₁).
    pub moment_scale: f64,
    /// d²(1 − β₂).
    pub variance_scale: f64,
    /// (d/d₀)·dlr, or (d/d₀)·d with the safeguard.
    pub s_scale: f64,
    /// Coupled decay λ (0 when decoupled).
    pub weight_decay: f64,
}

/// Scalars of pass 2.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProdigyUpdate {
    /// dlr.
    pub step_size: f64,
    /// d·ε.
    pub epsilon: f64,
    /// −λ·dlr (decoupled decay), or 0.
    pub decay: f64,
}

#[derive(Clone, Copy)]
struct AccScalars<T> {
    b1: T,
    b2: T,
    b3: T,
    c1: T,
    c2: T,
    cs: T,
    wd: T,
}

#[inline(always)]
fn lanes(a: &[f64; 8]) -> f64 {
    ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]))
}

/// One element of pass 1 (lane j of its group of 8).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn accumulate_one<T: Real, const WD: bool>(
    pi: T,
    g: T,
    p0: T,
    m: &mut T,
    v: &mut T,
    s: &mut T,
    k: &AccScalars<T>,
    dot: &mut f64,
    l1: &mut f64,
) {
    let gi = if WD { g + k.wd * pi } else { g };
    *dot += gi.to_f64() * (p0 - pi).to_f64();
    *m = *m * k.b1 + k.c1 * gi;
    *v = *v * k.b2 + k.c2 * gi * gi;
    let si = *s * k.b3 + k.cs * gi;
    *s = si;
    *l1 += si.abs().to_f64();
}

/// One unit of pass 1: updates m, v, s and returns the unit's two sums. Groups of 8 with a
/// fixed-length inner loop (the compiler turns each into vector operations), then the tail.
#[inline(always)]
fn accumulate_lanes<T: Real, const WD: bool>(
    p: &[T],
    g: &[T],
    p0: &[T],
    m: &mut [T],
    v: &mut [T],
    s: &mut [T],
    k: &AccScalars<T>,
) -> (f64, f64) {
    let mut dot = [0.0f64; 8];
    let mut l1 = [0.0f64; 8];
    let n = p.len();
    let full = n - n % 8;
    let (g, p0, m, v, s) = (&g[..n], &p0[..n], &mut m[..n], &mut v[..n], &mut s[..n]);
    let mut start = 0;
    while start < full {
        let pc: &[T; 8] = p[start..start + 8].try_into().unwrap();
        let gc: &[T; 8] = g[start..start + 8].try_into().unwrap();
        let qc: &[T; 8] = p0[start..start + 8].try_into().unwrap();
        let mc: &mut [T; 8] = (&mut m[start..start + 8]).try_into().unwrap();
        let vc: &mut [T; 8] = (&mut v[start..start + 8]).try_into().unwrap();
        let sc: &mut [T; 8] = (&mut s[start..start + 8]).try_into().unwrap();
        for j in 0..8 {
            accumulate_one::<T, WD>(
                pc[j],
                gc[j],
                qc[j],
                &mut mc[j],
                &mut vc[j],
                &mut sc[j],
                k,
                &mut dot[j],
                &mut l1[j],
            );
        }
        start += 8;
    }
    for j in 0..n - full {
        let i = full + j;
        accumulate_one::<T, WD>(
            p[i],
            g[i],
            p0[i],
            &mut m[i],
            &mut v[i],
            &mut s[i],
            k,
            &mut dot[j],
            &mut l1[j],
        );
    }
    (lanes(&dot), lanes(&l1))
}

#[inline(always)]
fn accumulate_body<T: Real>(
    p: &[T],
    g: &[T],
    p0: &[T],
    m: &mut [T],
    v: &mut [T],
    s: &mut [T],
    k: &AccScalars<T>,
) -> (f64, f64) {
    if k.wd != T::ZERO {
        accumulate_lanes::<T, true>(p, g, p0, m, v, s, k)
    } else {
        accumulate_lanes::<T, false>(p, g, p0, m, v, s, k)
    }
}

// The arrays go down to the loops as separate slice parameters, not bundled in a struct:
// as parameters they tell LLVM that m, v and s overlap none of the other arrays (noalias),
// which vectorizing the 8-lane groups needs. Bundled in one struct, both paths lost their
// vector code (seen in the emitted assembly), so the parameter lists stay repeated.
fn accumulate_scalar<T: Real>(
    p: &[T],
    g: &[T],
    p0: &[T],
    m: &mut [T],
    v: &mut [T],
    s: &mut [T],
    k: &AccScalars<T>,
) -> (f64, f64) {
    accumulate_body(p, g, p0, m, v, s, k)
}

/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn accumulate_avx2<T: Real>(
    p: &[T],
    g: &[T],
    p0: &[T],
    m: &mut [T],
    v: &mut [T],
    s: &mut [T],
    k: &AccScalars<T>,
) -> (f64, f64) {
    accumulate_body(p, g, p0, m, v, s, k)
}

#[allow(clippy::too_many_arguments)]
fn accumulate_unit<T: Real>(
    path: SimdPath,
    p: &[T],
    g: &[T],
    p0: &[T],
    m: &mut [T],
    v: &mut [T],
    s: &mut [T],
    k: &AccScalars<T>,
) -> (f64, f64) {
    match path {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
        SimdPath::Avx2Fma => unsafe { accumulate_avx2(p, g, p0, m, v, s, k) },
        _ => accumulate_scalar(p, g, p0, m, v, s, k),
    }
}

/// Pass 1 over one tensor: m, v, s updated in place; returns (Σ g·(p0 − p), Σ |s|).
pub fn prodigy_accumulate<T: Real>(
    params: &[T],
    grads: &[T],
    p0: &[T],
    m: &mut [T],
    v: &mut [T],
    s: &mut [T],
    h: &ProdigyAccumulate,
) -> Result<(f64, f64), KernelError> {
    prodigy_accumulate_on(simd_path(), params, grads, p0, m, v, s, h)
}

#[allow(clippy::too_many_arguments)]
fn prodigy_accumulate_on<T: Real>(
    path: SimdPath,
    params: &[T],
    grads: &[T],
    p0: &[T],
    m: &mut [T],
    v: &mut [T],
    s: &mut [T],
    h: &ProdigyAccumulate,
) -> Result<(f64, f64), KernelError> {
    let n = params.len();
    check_len("grads", n, grads.len())?;
    check_len("p0", n, p0.len())?;
    check_len("m", n, m.len())?;
    check_len("v", n, v.len())?;
    check_len("s", n, s.len())?;
    let k = AccScalars {
        b1: T::from_f64(h.beta1),
        b2: T::from_f64(h.beta2),
        b3: T::from_f64(h.beta3),
        c1: T::from_f64(h.moment_scale),
        c2: T::from_f64(h.variance_scale),
        cs: T::from_f64(h.s_scale),
        wd: T::from_f64(h.weight_decay),
    };
    let unit = prodigy_unit(n);
    let units = n.div_ceil(unit);
    let mut sums = [(0.0f64, 0.0f64); PRODIGY_MAX_UNITS];
    let (mb, vb, sb) = (Base::of(m), Base::of(v), Base::of(s));
    let body = |u: usize| {
        let (start, end) = (u * unit, ((u + 1) * unit).min(n));
        // SAFETY: units are disjoint ranges inside the arrays (lengths checked above).
        let (m, v, s) = unsafe { (mb.range(start, end), vb.range(start, end), sb.range(start, end)) };
        let r = start..end;
        accumulate_unit(path, &params[r.clone()], &grads[r.clone()], &p0[r], m, v, s, &k)
    };
    if n < PARALLEL_MIN {
        for (u, slot) in sums[..units].iter_mut().enumerate() {
            *slot = body(u);
        }
    } else {
        parallel::for_each_chunk_mut(&mut sums[..units], 1, |u, slot| slot[0] = body(u));
    }
    // Units added in order from 0, whichever thread computed them.
    let mut dot = 0.0;
    let mut l1 = 0.0;
    for &(d, a) in &sums[..units] {
        dot += d;
        l1 += a;
    }
    Ok((dot, l1))
}

#[derive(Clone, Copy)]
struct UpdScalars<T> {
    step: T,
    eps: T,
    decay: T,
}

#[inline(always)]
fn update_body<T: Real>(p: &mut [T], m: &[T], v: &[T], k: &UpdScalars<T>) -> bool {
    let mut finite = true;
    for i in 0..p.len() {
        let mut pi = p[i];
        if k.decay != T::ZERO {
            pi += k.decay * pi;
        }
        let denom = v[i].sqrt() + k.eps;
        let next = pi + k.step * m[i] / denom;
        p[i] = next;
        finite &= next.is_finite();
    }
    finite
}

/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn update_avx2<T: Real>(p: &mut [T], m: &[T], v: &[T], k: &UpdScalars<T>) -> bool {
    update_body(p, m, v, k)
}

fn update_range<T: Real>(path: SimdPath, p: &mut [T], m: &[T], v: &[T], k: &UpdScalars<T>) -> bool {
    match path {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
        SimdPath::Avx2Fma => unsafe { update_avx2(p, m, v, k) },
        _ => update_body(p, m, v, k),
    }
}

/// Pass 2 over one tensor: p ← p + a·p (a = decay ≠ 0); p ← p + (−dlr·m) / (√v + d·ε).
/// Returns whether every updated parameter is finite.
pub fn prodigy_update<T: Real>(
    params: &mut [T],
    m: &[T],
    v: &[T],
    h: &ProdigyUpdate,
) -> Result<bool, KernelError> {
    prodigy_update_on(simd_path(), params, m, v, h)
}

fn prodigy_update_on<T: Real>(
    path: SimdPath,
    params: &mut [T],
    m: &[T],
    v: &[T],
    h: &ProdigyUpdate,
) -> Result<bool, KernelError> {
    let n = params.len();
    check_len("m", n, m.len())?;
    check_len("v", n, v.len())?;
    let k = UpdScalars {
        step: T::from_f64(-h.step_size),
        eps: T::from_f64(h.epsilon),
        decay: T::from_f64(h.decay),
    };
    let p = Base::of(params);
    Ok(all_ranges(n, |start, end| {
        // SAFETY: disjoint ranges inside params.
        let p = unsafe { p.range(start, end) };
        update_range(path, p, &m[start..end], &v[start..end], &k)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::best_path;

    fn data(n: usize, seed: u32) -> Vec<f32> {
        let mut x = seed.wrapping_mul(2654435761).max(1);
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x as f32 / u32::MAX as f32) * 2.0 - 1.0
            })
            .collect()
    }

    const H: ProdigyAccumulate = ProdigyAccumulate {
        beta1: 0.9,
        beta2: 0.999,
        beta3: 0.999499874,
        moment_scale: 1e-7,
        variance_scale: 1e-15,
        s_scale: 1e-6,
        weight_decay: 0.0,
    };

    #[test]
    fn units_are_fixed_by_the_length() {
        assert_eq!(prodigy_unit(0), PRODIGY_BLOCK);
        assert_eq!(prodigy_unit(PRODIGY_BLOCK * PRODIGY_MAX_UNITS), PRODIGY_BLOCK);
        assert_eq!(
            prodigy_unit(PRODIGY_BLOCK * PRODIGY_MAX_UNITS + 1),
            2 * PRODIGY_BLOCK
        );
        for n in [1usize, 1000, 10_000_000] {
            assert!(n.div_ceil(prodigy_unit(n)) <= PRODIGY_MAX_UNITS);
        }
    }

    #[test]
    fn paths_and_threads_agree_bit_for_bit() {
        for n in [0, 7, 13, 1000, PARALLEL_MIN * 2 + 13] {
            let (p, g, p0) = (data(n, 1), data(n, 2), data(n, 3));
            let run = |path| {
                let mut m = data(n, 4);
                let mut v: Vec<f32> = data(n, 5).iter().map(|x| x * x).collect();
                let mut s = data(n, 6);
                let h = ProdigyAccumulate {
                    weight_decay: 0.1,
                    ..H
                };
                let sums = prodigy_accumulate_on(path, &p, &g, &p0, &mut m, &mut v, &mut s, &h).unwrap();
                let mut q = p.clone();
                let u = ProdigyUpdate {
                    step_size: 1e-3,
                    epsilon: 1e-8,
                    decay: -1e-4,
                };
                let ok = prodigy_update_on(path, &mut q, &m, &v, &u).unwrap();
                (sums.0.to_bits(), sums.1.to_bits(), m, v, s, q, ok)
            };
            let a = run(SimdPath::Scalar);
            let b = run(best_path());
            assert_eq!(a.0, b.0);
            assert_eq!(a.1, b.1);
            assert_eq!(a.2, b.2);
            assert_eq!(a.3, b.3);
            assert_eq!(a.4, b.4);
            assert_eq!(a.5, b.5);
            assert!(a.6 && b.6);
            // The sums are close to plain sequential f64 sums.
            let l1: f64 = a.4.iter().map(|x| x.abs() as f64).sum();
            assert!((f64::from_bits(a.1) - l1).abs() <= 1e-12 * l1.max(1.0));
        }
    }

    #[test]
    fn lengths_are_checked() {
        let (p, g) = (vec![0.0f32; 4], vec![0.0f32; 3]);
        let (mut m, mut v, mut s) = (vec![0.0f32; 4], vec![0.0f32; 4], vec![0.0f32; 4]);
        let e = prodigy_accumulate(&p, &g, &p, &mut m, &mut v, &mut s, &H).unwrap_err();
        assert!(e.to_string().contains("grads"), "{e}");
        let mut q = vec![0.0f32; 4];
        let e = prodigy_update(
            &mut q,
            &m[..2],
            &v,
            &ProdigyUpdate {
                step_size: 1.0,
                epsilon: 1e-8,
                decay: 0.0,
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains('m'), "{e}");
    }
}

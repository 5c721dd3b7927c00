//! Fused optimizer updates (docs/theory.md, "Optimizers"): one pass over flat f32 or f64
//! buffers per parameter tensor and step, in place, no allocation.
//!
//! - [`sgd_step`]: torch.optim.SGD (momentum, dampening, Nesterov, weight decay, maximize).
//! - [`adam_step`]: torch.optim.Adam (L2 weight decay) and AdamW (decoupled decay),
//!   amsgrad optional.
//! - [`first_non_finite`]: the gradient check the optimizers run before any update.
//! - [`memory_copy`]: the benchmark's copy-bandwidth probe (kept minimal; a shared probe
//!   may replace it). On AVX2 it copies with streaming (non-temporal) stores, so the
//!   destination is not read first: 8 bytes of memory traffic per element, as counted.
//!
//! Precision: f32 storage and f32 arithmetic, as PyTorch does on f32 tensors. Each
//! operation is a separate IEEE f32 operation in PyTorch's order, with no FMA (Rust
//! never contracts a·b + c on its own, and the AVX2 path uses separate multiply and
//! add), so the scalar path, the AVX2 path and the JS reference (which rounds every f64
//! operation to f32) agree bit for bit. PyTorch itself fuses its add-with-alpha and
//! addcmul steps on AVX2 builds, so it differs from these by about an ulp per fused
//! operation; the fixtures test that agreement to 1e-6 relative.
//!
//! f64 (docs/theory.md, "Float64 parameters"): the same code, generic over [`Real`], does
//! the same operations in f64 (the scalars rounded to f64, i.e. kept), bit-identical to the
//! JS reference on Float64Arrays. The AVX2 paths are f32's; f64 runs the scalar code
//! ([`OptimReal`] says which path a dtype has).
//!
//! Every element's update reads and writes only that element, so splitting the arrays
//! over threads never changes a result.

use crate::cpu::{simd_path, SimdPath};
use crate::error::KernelError;
use crate::parallel;
use crate::real::Real;

/// Elements from which helper threads are used (1 MB per f32 array: over 0.1 ms at
/// memory speed, well above the cost of waking a helper).
pub const PARALLEL_MIN: usize = 1 << 18;
/// Smallest work unit (elements) of a parallel call.
const UNIT: usize = 1 << 16;
/// A parallel call keeps one result per unit on the stack: at most this many units.
const MAX_UNITS: usize = 256;

/// Hyperparameters of one SGD step (torch.optim.SGD's names in camelCase on the JS side).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sgd {
    pub learning_rate: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
    pub maximize: bool,
    /// The momentum buffer is initialized to the gradient (PyTorch: `buf is None`).
    pub first_step: bool,
}

/// Hyperparameters of one Adam/AdamW step. `step_size` = η / (1 − β₁ᵗ) and
/// `bc2_sqrt` = √(1 − β₂ᵗ) are computed by the caller in f64 (as PyTorch does in Python).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adam {
    pub beta1: f64,
    pub beta2: f64,
    pub step_size: f64,
    pub bc2_sqrt: f64,
    pub epsilon: f64,
    /// Adam's L2 coefficient λ (0 for AdamW).
    pub weight_decay: f64,
    /// AdamW's decoupled factor 1 − ηλ (1 for Adam).
    pub decay: f64,
    pub amsgrad: bool,
    pub maximize: bool,
}

/// The scalars of an SGD step in the dtype T, rounded once from the f64 hyperparameters.
#[derive(Debug, Clone, Copy)]
pub struct SgdScalars<T: Real = f32> {
    lr: T,
    pub(crate) mu: T,
    damp: T,
    wd: T,
    nesterov: bool,
    maximize: bool,
    first: bool,
}

impl<T: Real> SgdScalars<T> {
    /// Which optional parts run: (L2 term, momentum: 0 none, 1 the first step's b = d, 2
    /// heavy ball; Nesterov).
    pub(crate) fn form(&self) -> (bool, u8, bool) {
        let momentum = match (self.mu != T::ZERO, self.first) {
            (false, _) => 0,
            (true, true) => 1,
            (true, false) => 2,
        };
        (self.wd != T::ZERO, momentum, momentum != 0 && self.nesterov)
    }

    pub(crate) fn new(h: &Sgd) -> Self {
        Self {
            lr: T::from_f64(h.learning_rate),
            mu: T::from_f64(h.momentum),
            // PyTorch passes alpha = 1 − dampening, a Python (f64) float, rounded to the dtype.
            damp: T::from_f64(1.0 - h.dampening),
            wd: T::from_f64(h.weight_decay),
            nesterov: h.nesterov,
            maximize: h.maximize,
            first: h.first_step,
        }
    }
}

/// The scalars of an Adam step in the dtype T, rounded once from the f64 hyperparameters.
#[derive(Debug, Clone, Copy)]
pub struct AdamScalars<T: Real = f32> {
    b1: T,
    b2: T,
    c1: T,
    c2: T,
    step: T,
    bc2: T,
    eps: T,
    wd: T,
    decay: T,
    pub(crate) amsgrad: bool,
    maximize: bool,
}

impl<T: Real> AdamScalars<T> {
    /// Which optional parts run: (decoupled decay, L2 term, AMSGrad).
    pub(crate) fn form(&self) -> (bool, bool, bool) {
        (self.decay != T::ONE, self.wd != T::ZERO, self.amsgrad)
    }

    pub(crate) fn new(h: &Adam) -> Self {
        Self {
            b1: T::from_f64(h.beta1),
            b2: T::from_f64(h.beta2),
            c1: T::from_f64(1.0 - h.beta1),
            c2: T::from_f64(1.0 - h.beta2),
            step: T::from_f64(h.step_size),
            bc2: T::from_f64(h.bc2_sqrt),
            eps: T::from_f64(h.epsilon),
            wd: T::from_f64(h.weight_decay),
            decay: T::from_f64(h.decay),
            amsgrad: h.amsgrad,
            maximize: h.maximize,
        }
    }
}

pub(crate) fn check_len(name: &'static str, n: usize, got: usize) -> Result<(), KernelError> {
    if got == n {
        return Ok(());
    }
    Err(KernelError::new(
        name,
        format!("an array of length {n} (the length of params)"),
        format!("an array of length {got}"),
    ))
}

// ---------------------------------------------------------------------------------
// Parallel driver.

/// A raw base pointer shared by the threads of one call; each thread only makes a
/// slice of its own disjoint range.
#[derive(Clone, Copy)]
pub(crate) struct Base<T = f32>(*mut T);
// SAFETY: only used to hand disjoint ranges of arrays that outlive the call to threads.
unsafe impl<T> Send for Base<T> {}
unsafe impl<T> Sync for Base<T> {}

impl<T> Base<T> {
    pub(crate) fn of(s: &mut [T]) -> Self {
        Base(s.as_mut_ptr())
    }

    /// # Safety
    /// [start, end) must be inside the array and no other live slice may overlap it.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn range<'a>(self, start: usize, end: usize) -> &'a mut [T] {
        std::slice::from_raw_parts_mut(self.0.add(start), end - start)
    }
}

/// Runs `body(start, end)` over [0, n) and returns the results' AND: one call for small
/// n, else disjoint ranges (at most [`MAX_UNITS`], each at least [`UNIT`] long) on the
/// caller and the helper threads.
pub(crate) fn all_ranges(n: usize, body: impl Fn(usize, usize) -> bool + Sync) -> bool {
    if n < PARALLEL_MIN {
        return body(0, n);
    }
    let unit = UNIT.max(n.div_ceil(MAX_UNITS));
    let units = n.div_ceil(unit);
    let mut results = [true; MAX_UNITS];
    parallel::for_each_chunk_mut(&mut results[..units], 1, |u, slot| {
        let start = u * unit;
        slot[0] = body(start, (start + unit).min(n));
    });
    results[..units].iter().all(|&ok| ok)
}

// ---------------------------------------------------------------------------------
// SGD.

/// One torch.optim.SGD step over one tensor, in place. `momentum_buffer` must have the
/// params' length when the momentum is not 0 (it is not touched otherwise). Returns
/// whether every updated parameter is finite.
pub fn sgd_step<T: OptimReal>(
    params: &mut [T],
    grads: &[T],
    momentum_buffer: &mut [T],
    h: &Sgd,
) -> Result<bool, KernelError> {
    sgd_step_on(simd_path(), params, grads, momentum_buffer, h)
}

fn sgd_step_on<T: OptimReal>(
    path: SimdPath,
    params: &mut [T],
    grads: &[T],
    momentum_buffer: &mut [T],
    h: &Sgd,
) -> Result<bool, KernelError> {
    let n = params.len();
    check_len("grads", n, grads.len())?;
    let s = SgdScalars::<T>::new(h);
    if s.mu != T::ZERO {
        check_len("momentumBuffer", n, momentum_buffer.len())?;
    }
    let (p, b) = (Base::of(params), Base::of(momentum_buffer));
    Ok(all_ranges(n, |start, end| {
        // SAFETY: the ranges of one call are disjoint and inside the arrays (b only when
        // μ ≠ 0, where its length was checked).
        let (p, b) = unsafe {
            let b = if s.mu != T::ZERO {
                b.range(start, end)
            } else {
                &mut [][..]
            };
            (p.range(start, end), b)
        };
        T::sgd_range(path, p, &grads[start..end], b, &s)
    }))
}

/// The paths a dtype's optimizer kernels take over one range: f32 has AVX2 loops (8 lanes,
/// the scalar code's operations); f64 runs the scalar code on every path.
pub trait OptimReal: Real {
    #[doc(hidden)]
    fn sgd_range(path: SimdPath, p: &mut [Self], g: &[Self], b: &mut [Self], s: &SgdScalars<Self>) -> bool;
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    fn adam_range(
        path: SimdPath,
        p: &mut [Self],
        g: &[Self],
        m: &mut [Self],
        v: &mut [Self],
        w: &mut [Self],
        s: &AdamScalars<Self>,
    ) -> bool;
    #[doc(hidden)]
    fn first_non_finite_range(path: SimdPath, x: &[Self]) -> Option<usize>;
}

impl OptimReal for f32 {
    fn sgd_range(path: SimdPath, p: &mut [f32], g: &[f32], b: &mut [f32], s: &SgdScalars) -> bool {
        match path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
            SimdPath::Avx2Fma => unsafe { avx2::sgd(p, g, b, s) },
            _ => sgd_scalar(p, g, b, s),
        }
    }

    fn adam_range(
        path: SimdPath,
        p: &mut [f32],
        g: &[f32],
        m: &mut [f32],
        v: &mut [f32],
        w: &mut [f32],
        s: &AdamScalars,
    ) -> bool {
        match path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
            SimdPath::Avx2Fma => unsafe { avx2::adam(p, g, m, v, w, s) },
            _ => adam_scalar(p, g, m, v, w, s),
        }
    }

    fn first_non_finite_range(path: SimdPath, x: &[f32]) -> Option<usize> {
        match path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
            SimdPath::Avx2Fma => unsafe { avx2::first_non_finite(x) },
            _ => x.iter().position(|v| !v.is_finite()),
        }
    }
}

impl OptimReal for f64 {
    fn sgd_range(path: SimdPath, p: &mut [f64], g: &[f64], b: &mut [f64], s: &SgdScalars<f64>) -> bool {
        match path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
            SimdPath::Avx2Fma => unsafe { avx2_f64::sgd(p, g, b, s) },
            _ => sgd_scalar(p, g, b, s),
        }
    }

    fn adam_range(
        path: SimdPath,
        p: &mut [f64],
        g: &[f64],
        m: &mut [f64],
        v: &mut [f64],
        w: &mut [f64],
        s: &AdamScalars<f64>,
    ) -> bool {
        match path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
            SimdPath::Avx2Fma => unsafe { avx2_f64::adam(p, g, m, v, w, s) },
            _ => adam_scalar(p, g, m, v, w, s),
        }
    }

    fn first_non_finite_range(_: SimdPath, x: &[f64]) -> Option<usize> {
        x.iter().position(|v| !v.is_finite())
    }
}

/// One element of the SGD step (the formula of the module comment): p's new value; `b`
/// (the element's momentum buffer) is written when μ ≠ 0.
#[inline]
pub(crate) fn sgd_one<T: Real>(s: &SgdScalars<T>, p: T, g: T, b: &mut T) -> T {
    let mut d = if s.maximize { -g } else { g };
    if s.wd != T::ZERO {
        d += s.wd * p;
    }
    if s.mu != T::ZERO {
        let bi = if s.first { d } else { *b * s.mu + s.damp * d };
        *b = bi;
        d = if s.nesterov { d + s.mu * bi } else { bi };
    }
    p - s.lr * d
}

/// Scalar reference: the formula of the module comment, element by element.
pub(crate) fn sgd_scalar<T: Real>(p: &mut [T], g: &[T], b: &mut [T], s: &SgdScalars<T>) -> bool {
    let mut finite = true;
    let mut unused = T::ZERO;
    for i in 0..p.len() {
        let bi = if s.mu != T::ZERO { &mut b[i] } else { &mut unused };
        let next = sgd_one(s, p[i], g[i], bi);
        p[i] = next;
        finite &= next.is_finite();
    }
    finite
}

// ---------------------------------------------------------------------------------
// Adam / AdamW.

/// One torch.optim.Adam / AdamW step over one tensor, in place. `m` and `v` must have
/// the params' length, and `v_max` too with amsgrad (it is not touched otherwise).
/// Returns whether every updated parameter is finite.
pub fn adam_step<T: OptimReal>(
    params: &mut [T],
    grads: &[T],
    m: &mut [T],
    v: &mut [T],
    v_max: &mut [T],
    h: &Adam,
) -> Result<bool, KernelError> {
    adam_step_on(simd_path(), params, grads, m, v, v_max, h)
}

fn adam_step_on<T: OptimReal>(
    path: SimdPath,
    params: &mut [T],
    grads: &[T],
    m: &mut [T],
    v: &mut [T],
    v_max: &mut [T],
    h: &Adam,
) -> Result<bool, KernelError> {
    let n = params.len();
    check_len("grads", n, grads.len())?;
    check_len("m", n, m.len())?;
    check_len("v", n, v.len())?;
    if h.amsgrad {
        check_len("vMax", n, v_max.len())?;
    }
    let s = AdamScalars::<T>::new(h);
    let (p, m, v, w) = (Base::of(params), Base::of(m), Base::of(v), Base::of(v_max));
    Ok(all_ranges(n, |start, end| {
        // SAFETY: disjoint ranges inside the arrays (v_max only with amsgrad, where its
        // length was checked).
        let (p, m, v, w) = unsafe {
            let w = if s.amsgrad {
                w.range(start, end)
            } else {
                &mut [][..]
            };
            (p.range(start, end), m.range(start, end), v.range(start, end), w)
        };
        T::adam_range(path, p, &grads[start..end], m, v, w, &s)
    }))
}

/// One element of the Adam step (the formula of the module comment): p's new value and the
/// f32 √ of the second moment it used (v, or v̂ with amsgrad); m, v and `w` (v̂, used only
/// with amsgrad) are written.
#[inline]
pub(crate) fn adam_one<T: Real>(s: &AdamScalars<T>, p: T, g: T, m: &mut T, v: &mut T, w: &mut T) -> (T, T) {
    let mut pi = p;
    if s.decay != T::ONE {
        pi *= s.decay;
    }
    let mut d = if s.maximize { -g } else { g };
    if s.wd != T::ZERO {
        d += s.wd * pi;
    }
    let mi = *m * s.b1 + s.c1 * d;
    let vi = *v * s.b2 + s.c2 * d * d;
    *m = mi;
    *v = vi;
    let mut second = vi;
    if s.amsgrad {
        second = if vi > *w { vi } else { *w };
        *w = second;
    }
    let root = second.sqrt();
    let denom = root / s.bc2 + s.eps;
    (pi - s.step * mi / denom, root)
}

/// Scalar reference: the formula of the module comment, element by element.
pub(crate) fn adam_scalar<T: Real>(
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    w: &mut [T],
    s: &AdamScalars<T>,
) -> bool {
    let mut finite = true;
    let mut unused = T::ZERO;
    for i in 0..p.len() {
        let wi = if s.amsgrad { &mut w[i] } else { &mut unused };
        let (next, _) = adam_one(s, p[i], g[i], &mut m[i], &mut v[i], wi);
        p[i] = next;
        finite &= next.is_finite();
    }
    finite
}

// ---------------------------------------------------------------------------------
// The gradient check and the copy probe.

/// The index of the first NaN or ±∞ in `x`, if any.
pub fn first_non_finite<T: OptimReal>(x: &[T]) -> Option<usize> {
    first_non_finite_on(simd_path(), x)
}

fn first_non_finite_on<T: OptimReal>(path: SimdPath, x: &[T]) -> Option<usize> {
    let scan = |s: &[T]| T::first_non_finite_range(path, s);
    let n = x.len();
    if n < PARALLEL_MIN {
        return scan(x);
    }
    let unit = UNIT.max(n.div_ceil(MAX_UNITS));
    let units = n.div_ceil(unit);
    let mut found = [None; MAX_UNITS];
    parallel::for_each_chunk_mut(&mut found[..units], 1, |u, slot| {
        let start = u * unit;
        slot[0] = scan(&x[start..(start + unit).min(n)]).map(|i| start + i);
    });
    found[..units].iter().find_map(|&i| i)
}

/// dst ← src on the kernels' threads: the copy bandwidth probe of the benchmark.
pub fn memory_copy(src: &[f32], dst: &mut [f32]) -> Result<(), KernelError> {
    if src.len() != dst.len() {
        return Err(KernelError::new(
            "dst",
            format!("an array of length {} (the length of src)", src.len()),
            format!("an array of length {}", dst.len()),
        ));
    }
    let path = simd_path();
    let d = Base::of(dst);
    all_ranges(src.len(), |start, end| {
        // SAFETY: disjoint ranges inside dst.
        let (s, d) = (&src[start..end], unsafe { d.range(start, end) });
        match path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
            SimdPath::Avx2Fma => unsafe { avx2::stream_copy(s, d) },
            _ => d.copy_from_slice(s),
        }
        true
    });
    Ok(())
}

// ---------------------------------------------------------------------------------
// AVX2: 8 lanes, the same operations as the scalar path (no FMA), the tail by the
// scalar path.

/// `$f::<L2, MOMENTUM, NESTEROV>($args)` with the flags of an [`SgdScalars::form`], so that
/// the loops of `$f` have no branch on them.
#[cfg(target_arch = "x86_64")]
macro_rules! sgd_as {
    ($form:expr, $f:ident($($arg:expr),*)) => {
        match $form {
            (false, 0, _) => $f::<false, 0, false>($($arg),*),
            (true, 0, _) => $f::<true, 0, false>($($arg),*),
            (false, 1, false) => $f::<false, 1, false>($($arg),*),
            (false, 1, true) => $f::<false, 1, true>($($arg),*),
            (true, 1, false) => $f::<true, 1, false>($($arg),*),
            (true, 1, true) => $f::<true, 1, true>($($arg),*),
            (false, _, false) => $f::<false, 2, false>($($arg),*),
            (false, _, true) => $f::<false, 2, true>($($arg),*),
            (true, _, false) => $f::<true, 2, false>($($arg),*),
            (true, _, true) => $f::<true, 2, true>($($arg),*),
        }
    };
}

/// `$f::<DECAY, L2, AMS>($args)` with the flags of an [`AdamScalars::form`], so that the
/// loops of `$f` have no branch on them.
#[cfg(target_arch = "x86_64")]
macro_rules! adam_as {
    ($form:expr, $f:ident($($arg:expr),*)) => {
        match $form {
            (false, false, false) => $f::<false, false, false>($($arg),*),
            (false, false, true) => $f::<false, false, true>($($arg),*),
            (false, true, false) => $f::<false, true, false>($($arg),*),
            (false, true, true) => $f::<false, true, true>($($arg),*),
            (true, false, false) => $f::<true, false, false>($($arg),*),
            (true, false, true) => $f::<true, false, true>($($arg),*),
            (true, true, false) => $f::<true, true, false>($($arg),*),
            (true, true, true) => $f::<true, true, true>($($arg),*),
        }
    };
}
#[cfg(target_arch = "x86_64")]
pub(crate) use {adam_as, sgd_as};

/// The f64 steps on AVX2: the scalar code's per-element functions ([`sgd_one`],
/// [`adam_one`]) in loops whose options are compile-time flags (sgd_as!/adam_as!) and that
/// carry no per-element branch, compiled for AVX2 so that LLVM vectorizes them (4 lanes of
/// f64). Separate multiplies and adds (Rust never contracts to FMA), the same IEEE operations
/// in the same order: bit-identical to the scalar path (tests/optim-f64 and the unit tests).
#[cfg(target_arch = "x86_64")]
mod avx2_f64 {
    use super::{adam_one, sgd_one, AdamScalars, SgdScalars};

    /// # Safety
    /// The CPU must support AVX2; `g` has p's length, and `b` too when s.mu ≠ 0.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn sgd(p: &mut [f64], g: &[f64], b: &mut [f64], s: &SgdScalars<f64>) -> bool {
        super::sgd_as!(s.form(), sgd_as(p, g, b, s))
    }

    #[inline(always)]
    fn sgd_as<const L2: bool, const MOMENTUM: u8, const NESTEROV: bool>(
        p: &mut [f64],
        g: &[f64],
        b: &mut [f64],
        s: &SgdScalars<f64>,
    ) -> bool {
        let n = p.len();
        let g = &g[..n];
        let mut bad = 0u64;
        if MOMENTUM == 0 {
            let mut unused = 0.0;
            for i in 0..n {
                let next = sgd_one(s, p[i], g[i], &mut unused);
                p[i] = next;
                bad |= u64::from(!next.is_finite());
            }
        } else {
            let b = &mut b[..n];
            for i in 0..n {
                let next = sgd_one(s, p[i], g[i], &mut b[i]);
                p[i] = next;
                bad |= u64::from(!next.is_finite());
            }
        }
        bad == 0
    }

    /// # Safety
    /// The CPU must support AVX2; g, m, v have p's length, and w too with amsgrad.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn adam(
        p: &mut [f64],
        g: &[f64],
        m: &mut [f64],
        v: &mut [f64],
        w: &mut [f64],
        s: &AdamScalars<f64>,
    ) -> bool {
        super::adam_as!(s.form(), adam_as(p, g, m, v, w, s))
    }

    #[inline(always)]
    fn adam_as<const DECAY: bool, const L2: bool, const AMS: bool>(
        p: &mut [f64],
        g: &[f64],
        m: &mut [f64],
        v: &mut [f64],
        w: &mut [f64],
        s: &AdamScalars<f64>,
    ) -> bool {
        let n = p.len();
        let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
        let mut bad = 0u64;
        if AMS {
            let w = &mut w[..n];
            for i in 0..n {
                let (next, _) = adam_one(s, p[i], g[i], &mut m[i], &mut v[i], &mut w[i]);
                p[i] = next;
                bad |= u64::from(!next.is_finite());
            }
        } else {
            let mut unused = 0.0;
            for i in 0..n {
                let (next, _) = adam_one(s, p[i], g[i], &mut m[i], &mut v[i], &mut unused);
                p[i] = next;
                bad |= u64::from(!next.is_finite());
            }
        }
        bad == 0
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2 {
    use super::{adam_scalar, sgd_scalar, AdamScalars, SgdScalars};
    use std::arch::x86_64::*;

    pub(crate) const LANES: usize = 8;

    /// All-ones lanes where x is NaN or ±∞: !(|x| < ∞).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(crate) fn non_finite(x: __m256) -> __m256 {
        let abs = _mm256_andnot_ps(_mm256_set1_ps(-0.0), x);
        _mm256_cmp_ps::<_CMP_NLT_UQ>(abs, _mm256_set1_ps(f32::INFINITY))
    }

    /// The SGD scalars broadcast to 8 lanes.
    pub(crate) struct SgdLanes {
        lr: __m256,
        mu: __m256,
        damp: __m256,
        wd: __m256,
        sign: __m256,
    }

    impl SgdLanes {
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        pub(crate) fn new(s: &SgdScalars) -> Self {
            SgdLanes {
                lr: _mm256_set1_ps(s.lr),
                mu: _mm256_set1_ps(s.mu),
                damp: _mm256_set1_ps(s.damp),
                wd: _mm256_set1_ps(s.wd),
                sign: _mm256_set1_ps(if s.maximize { -0.0 } else { 0.0 }),
            }
        }

        /// 8 elements of the SGD step (the scalar path's operations): p's new values; the
        /// momentum buffer at `bp` is written when MOMENTUM ≠ 0 and read when it is 2. The
        /// options are fixed at compile time (SgdScalars::form), so that a loop over it has no
        /// branch.
        ///
        /// # Safety
        /// When MOMENTUM ≠ 0, `bp` must be valid for 8 reads and writes; the flags must match
        /// the scalars.
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        pub(crate) unsafe fn step_as<const L2: bool, const MOMENTUM: u8, const NESTEROV: bool>(
            &self,
            pv: __m256,
            gv: __m256,
            bp: *mut f32,
        ) -> __m256 {
            let mut d = _mm256_xor_ps(gv, self.sign);
            if L2 {
                d = _mm256_add_ps(d, _mm256_mul_ps(self.wd, pv));
            }
            if MOMENTUM != 0 {
                let bv = if MOMENTUM == 1 {
                    d
                } else {
                    // SAFETY: the caller's contract.
                    let b = unsafe { _mm256_loadu_ps(bp) };
                    _mm256_add_ps(_mm256_mul_ps(b, self.mu), _mm256_mul_ps(self.damp, d))
                };
                // SAFETY: the caller's contract.
                unsafe { _mm256_storeu_ps(bp, bv) };
                d = if NESTEROV {
                    _mm256_add_ps(d, _mm256_mul_ps(self.mu, bv))
                } else {
                    bv
                };
            }
            _mm256_sub_ps(pv, _mm256_mul_ps(self.lr, d))
        }
    }

    /// The Adam scalars broadcast to 8 lanes.
    pub(crate) struct AdamLanes {
        b1: __m256,
        b2: __m256,
        c1: __m256,
        c2: __m256,
        step: __m256,
        bc2: __m256,
        eps: __m256,
        wd: __m256,
        decay: __m256,
        sign: __m256,
    }

    impl AdamLanes {
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        pub(crate) fn new(s: &AdamScalars) -> Self {
            AdamLanes {
                b1: _mm256_set1_ps(s.b1),
                b2: _mm256_set1_ps(s.b2),
                c1: _mm256_set1_ps(s.c1),
                c2: _mm256_set1_ps(s.c2),
                step: _mm256_set1_ps(s.step),
                bc2: _mm256_set1_ps(s.bc2),
                eps: _mm256_set1_ps(s.eps),
                wd: _mm256_set1_ps(s.wd),
                decay: _mm256_set1_ps(s.decay),
                sign: _mm256_set1_ps(if s.maximize { -0.0 } else { 0.0 }),
            }
        }

        /// 8 elements of the Adam step (the scalar path's operations): p's new values and the
        /// f32 √ of the second moment used; m, v (and v̂ at `wp` with amsgrad) are written.
        /// The options are fixed at compile time (DECAY: s.decay ≠ 1, L2: s.wd ≠ 0, AMS:
        /// s.amsgrad), so that a loop over it has no branch.
        ///
        /// # Safety
        /// `mp` and `vp` must be valid for 8 reads and writes, and `wp` too with amsgrad; the
        /// flags must match the scalars.
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        pub(crate) unsafe fn step_as<const DECAY: bool, const L2: bool, const AMS: bool>(
            &self,
            pv: __m256,
            gv: __m256,
            mp: *mut f32,
            vp: *mut f32,
            wp: *mut f32,
        ) -> (__m256, __m256) {
            let mut pv = pv;
            if DECAY {
                pv = _mm256_mul_ps(pv, self.decay);
            }
            let mut d = _mm256_xor_ps(gv, self.sign);
            if L2 {
                d = _mm256_add_ps(d, _mm256_mul_ps(self.wd, pv));
            }
            // SAFETY (every load and store below): the caller's contract.
            let mv = _mm256_add_ps(
                _mm256_mul_ps(unsafe { _mm256_loadu_ps(mp) }, self.b1),
                _mm256_mul_ps(self.c1, d),
            );
            let vv = _mm256_add_ps(
                _mm256_mul_ps(unsafe { _mm256_loadu_ps(vp) }, self.b2),
                _mm256_mul_ps(_mm256_mul_ps(self.c2, d), d),
            );
            unsafe {
                _mm256_storeu_ps(mp, mv);
                _mm256_storeu_ps(vp, vv);
            }
            let mut second = vv;
            if AMS {
                // max_ps(a, b) = a > b ? a : b, as the scalar path.
                second = _mm256_max_ps(vv, unsafe { _mm256_loadu_ps(wp) });
                unsafe { _mm256_storeu_ps(wp, second) };
            }
            let root = _mm256_sqrt_ps(second);
            let denom = _mm256_add_ps(_mm256_div_ps(root, self.bc2), self.eps);
            let next = _mm256_sub_ps(pv, _mm256_div_ps(_mm256_mul_ps(self.step, mv), denom));
            (next, root)
        }
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA; `g` has p's length, and `b` too when s.mu ≠ 0.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn sgd(p: &mut [f32], g: &[f32], b: &mut [f32], s: &SgdScalars) -> bool {
        // SAFETY: the caller's contract; the flags match the scalars.
        unsafe { super::sgd_as!(s.form(), sgd_as(p, g, b, s)) }
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
        s: &SgdScalars,
    ) -> bool {
        let n = p.len();
        let body = n - n % LANES;
        let lanes = SgdLanes::new(s);
        let (pp, gp, bp) = (p.as_mut_ptr(), g.as_ptr(), b.as_mut_ptr());
        let mut bad = _mm256_setzero_ps();
        let mut i = 0;
        while i < body {
            // SAFETY: i + LANES <= n for p and g, and for b when it is used.
            unsafe {
                let next = lanes.step_as::<L2, MOMENTUM, NESTEROV>(
                    _mm256_loadu_ps(pp.add(i)),
                    _mm256_loadu_ps(gp.add(i)),
                    bp.wrapping_add(i),
                );
                _mm256_storeu_ps(pp.add(i), next);
                bad = _mm256_or_ps(bad, non_finite(next));
            }
            i += LANES;
        }
        let tail_b = if s.mu != 0.0 { &mut b[body..] } else { &mut [][..] };
        let tail = sgd_scalar(&mut p[body..], &g[body..], tail_b, s);
        _mm256_movemask_ps(bad) == 0 && tail
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA; g, m, v have p's length, and w too with amsgrad.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn adam(
        p: &mut [f32],
        g: &[f32],
        m: &mut [f32],
        v: &mut [f32],
        w: &mut [f32],
        s: &AdamScalars,
    ) -> bool {
        // SAFETY: the caller's contract; the flags match the scalars.
        unsafe { super::adam_as!(s.form(), adam_as(p, g, m, v, w, s)) }
    }

    /// [`adam`] with its options fixed at compile time (see [`AdamLanes::step_as`]).
    ///
    /// # Safety
    /// As [`adam`]; the flags must match the scalars.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn adam_as<const DECAY: bool, const L2: bool, const AMS: bool>(
        p: &mut [f32],
        g: &[f32],
        m: &mut [f32],
        v: &mut [f32],
        w: &mut [f32],
        s: &AdamScalars,
    ) -> bool {
        let n = p.len();
        let body = n - n % LANES;
        let lanes = AdamLanes::new(s);
        let (pp, gp, mp, vp, wp) = (
            p.as_mut_ptr(),
            g.as_ptr(),
            m.as_mut_ptr(),
            v.as_mut_ptr(),
            w.as_mut_ptr(),
        );
        let mut bad = _mm256_setzero_ps();
        let mut i = 0;
        while i < body {
            // SAFETY: i + LANES <= n for p, g, m, v, and for w when it is used.
            unsafe {
                let (next, _) = lanes.step_as::<DECAY, L2, AMS>(
                    _mm256_loadu_ps(pp.add(i)),
                    _mm256_loadu_ps(gp.add(i)),
                    mp.add(i),
                    vp.add(i),
                    wp.wrapping_add(i),
                );
                _mm256_storeu_ps(pp.add(i), next);
                bad = _mm256_or_ps(bad, non_finite(next));
            }
            i += LANES;
        }
        let tail_w = if s.amsgrad { &mut w[body..] } else { &mut [][..] };
        let tail = adam_scalar(
            &mut p[body..],
            &g[body..],
            &mut m[body..],
            &mut v[body..],
            tail_w,
            s,
        );
        _mm256_movemask_ps(bad) == 0 && tail
    }

    /// dst ← src with streaming stores (no read of dst's lines), the copy bandwidth probe.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA; `src` and `dst` have the same length.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn stream_copy(src: &[f32], dst: &mut [f32]) {
        let n = dst.len();
        // scalar head up to a 32-byte aligned destination, as streaming stores need
        let head = dst.as_ptr().align_offset(32).min(n);
        let body = head + (n - head) / LANES * LANES;
        dst[..head].copy_from_slice(&src[..head]);
        let (sp, dp) = (src.as_ptr(), dst.as_mut_ptr());
        let mut i = head;
        while i < body {
            // SAFETY: i + LANES <= n, and dp + i is 32-byte aligned.
            unsafe { _mm256_stream_ps(dp.add(i), _mm256_loadu_ps(sp.add(i))) };
            i += LANES;
        }
        dst[body..].copy_from_slice(&src[body..]);
        _mm_sfence();
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn first_non_finite(x: &[f32]) -> Option<usize> {
        let body = x.len() - x.len() % LANES;
        let mut i = 0;
        while i < body {
            // SAFETY: i + LANES <= x.len().
            let mask = _mm256_movemask_ps(non_finite(unsafe { _mm256_loadu_ps(x.as_ptr().add(i)) }));
            if mask != 0 {
                return Some(i + mask.trailing_zeros() as usize);
            }
            i += LANES;
        }
        x[body..].iter().position(|v| !v.is_finite()).map(|k| body + k)
    }
}

// ---------------------------------------------------------------------------------
// The measured steps: an SGD or Adam step and update_energy's sums in one pass

// The measured steps: an SGD or Adam step and update_energy's sums in one pass (the former `measured` module, kept as one inline module so that its SIMD
// paths and tests keep their names)
mod measured {
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
                        let (mut p2, mut m2, mut v2, mut w2) =
                            (p0.clone(), m0.clone(), v0.clone(), w0.clone());
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
}
pub use measured::{adam_step_measured, sgd_step_measured, AdamArrays, Measured, MeasuredReal, Metric};

// ---------------------------------------------------------------------------------
// The optimizers' reductions: gradient norm, zeroing, scaling (the former part of reduce.rs)
mod reductions {
    //! The optimizers' reductions and in-place updates (design.md §2 eq. 11, seed 002 §4.2):
    //! the gradient norm ‖∇L‖, zeroing non-finite gradient entries, and scaling a gradient in
    //! place. Sums are accumulated in f64 over [`crate::reduce::split`]'s fixed ranges, added in
    //! index order, so the value does not depend on the number of threads (only on the SIMD path,
    //! through the order inside a range). An f32 squared in f64 is exact, so l2 norms differ from
    //! the JS reference only by the order of the additions. f64 gradients (Float64Array
    //! parameters) take the same code generic over [`Real`]; the AVX2 loops are f32's, f64 runs
    //! the scalar code ([`ReduceReal`]).

    use crate::cpu::{simd_path, SimdPath};
    use crate::parallel;
    use crate::real::Real;
    use crate::reduce::{split, split_sum, MAX_UNITS, MIN_UNIT, PARALLEL_MIN};

    /// ‖x‖₂ accumulated in f64; NaN or +∞ when x holds a non-finite value.
    pub fn l2_norm<T: ReduceReal>(x: &[T]) -> f64 {
        l2_norm_on(simd_path(), x)
    }

    fn l2_norm_on<T: ReduceReal>(path: SimdPath, x: &[T]) -> f64 {
        let [s] = split_sum(x.len(), |r| [T::sum_squares(path, &x[r])]);
        s.sqrt()
    }

    /// The paths a dtype's gradient reductions take: f32 has AVX2 loops; f64 runs the scalar
    /// code on every path.
    pub trait ReduceReal: Real {
        #[doc(hidden)]
        fn sum_squares(path: SimdPath, x: &[Self]) -> f64;
        #[doc(hidden)]
        fn zero_non_finite_range(path: SimdPath, x: &mut [Self]) -> usize;
        #[doc(hidden)]
        fn scale_range(path: SimdPath, x: &mut [Self], s: f64);
    }

    impl ReduceReal for f32 {
        fn sum_squares(path: SimdPath, x: &[f32]) -> f64 {
            match path {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
                SimdPath::Avx2Fma => unsafe { avx2::sum_squares(x) },
                _ => scalar::sum_squares(x),
            }
        }

        fn zero_non_finite_range(path: SimdPath, x: &mut [f32]) -> usize {
            match path {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
                SimdPath::Avx2Fma => unsafe { avx2::zero_non_finite(x) },
                _ => scalar::zero_non_finite(x),
            }
        }

        fn scale_range(path: SimdPath, x: &mut [f32], s: f64) {
            match path {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
                SimdPath::Avx2Fma => unsafe { avx2::scale(x, s) },
                _ => scalar::scale(x, s),
            }
        }
    }

    impl ReduceReal for f64 {
        fn sum_squares(_: SimdPath, x: &[f64]) -> f64 {
            scalar::sum_squares(x)
        }

        fn zero_non_finite_range(_: SimdPath, x: &mut [f64]) -> usize {
            scalar::zero_non_finite(x)
        }

        fn scale_range(_: SimdPath, x: &mut [f64], s: f64) {
            scalar::scale(x, s)
        }
    }

    /// Sets every NaN and ±∞ to 0; returns how many were set. Finite values are not written,
    /// so the usual (all finite) call only reads.
    pub fn zero_non_finite<T: ReduceReal>(x: &mut [T]) -> usize {
        zero_non_finite_on(simd_path(), x)
    }

    fn zero_non_finite_on<T: ReduceReal>(path: SimdPath, x: &mut [T]) -> usize {
        let run = |c: &mut [T]| T::zero_non_finite_range(path, c);
        if x.len() < PARALLEL_MIN {
            return run(x);
        }
        let (chunk, units) = split(x.len());
        let mut counts = [0usize; MAX_UNITS];
        let base = SyncPtr(x.as_mut_ptr());
        let len = x.len();
        parallel::for_each_chunk_mut(&mut counts[..units], 1, |u, slot| {
            let start = u * chunk;
            let n = chunk.min(len - start);
            // SAFETY: each unit u is run once, ranges [u·chunk, u·chunk + n) are disjoint and
            // inside x, which stays mutably borrowed until for_each_chunk_mut returns.
            let piece = unsafe { std::slice::from_raw_parts_mut(base.get().add(start), n) };
            slot[0] = run(piece);
        });
        counts[..units].iter().sum()
    }

    struct SyncPtr<T>(*mut T);
    // SAFETY: only used to hand disjoint ranges of a `&mut [T]` to other threads.
    unsafe impl<T> Sync for SyncPtr<T> {}
    impl<T> SyncPtr<T> {
        fn get(&self) -> *mut T {
            self.0
        }
    }

    /// x_i ← (x_i · s) rounded to x's dtype (the product in f64, as JS computes it).
    pub fn scale_in_place<T: ReduceReal>(x: &mut [T], s: f64) {
        scale_in_place_on(simd_path(), x, s)
    }

    fn scale_in_place_on<T: ReduceReal>(path: SimdPath, x: &mut [T], s: f64) {
        let run = |c: &mut [T]| T::scale_range(path, c, s);
        if x.len() >= PARALLEL_MIN {
            parallel::for_each_chunk_mut(x, MIN_UNIT, |_, c| run(c));
        } else {
            run(x);
        }
    }

    mod scalar {
        use crate::real::Real;

        pub fn sum_squares<T: Real>(x: &[T]) -> f64 {
            x.iter().map(|&v| v.to_f64() * v.to_f64()).sum()
        }

        pub fn zero_non_finite<T: Real>(x: &mut [T]) -> usize {
            let mut count = 0;
            for v in x.iter_mut().filter(|v| !v.is_finite()) {
                *v = T::ZERO;
                count += 1;
            }
            count
        }

        pub fn scale<T: Real>(x: &mut [T], s: f64) {
            for v in x {
                *v = T::from_f64(v.to_f64() * s);
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    mod avx2 {
        use crate::vmath::avx2::hsum;
        use std::arch::x86_64::*;

        #[inline]
        #[target_feature(enable = "avx2,fma")]
        fn reduce(a: [__m256d; 4]) -> f64 {
            hsum(_mm256_add_pd(
                _mm256_add_pd(a[0], a[1]),
                _mm256_add_pd(a[2], a[3]),
            ))
        }

        /// Σ x² with each f32 widened to f64.
        ///
        /// # Safety
        /// The CPU must support AVX2 and FMA.
        #[target_feature(enable = "avx2,fma")]
        pub unsafe fn sum_squares(x: &[f32]) -> f64 {
            let mut acc = [_mm256_setzero_pd(); 4];
            let mut blocks = x.chunks_exact(16);
            for b in &mut blocks {
                for h in 0..2 {
                    // SAFETY: b has 16 values; this reads 8 of them.
                    let v = _mm256_loadu_ps(b.as_ptr().add(8 * h));
                    let lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
                    let hi = _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(v));
                    acc[2 * h] = _mm256_fmadd_pd(lo, lo, acc[2 * h]);
                    acc[2 * h + 1] = _mm256_fmadd_pd(hi, hi, acc[2 * h + 1]);
                }
            }
            let mut s = reduce(acc);
            for &v in blocks.remainder() {
                s += v as f64 * v as f64;
            }
            s
        }

        /// # Safety
        /// The CPU must support AVX2 and FMA.
        #[target_feature(enable = "avx2,fma")]
        pub unsafe fn zero_non_finite(x: &mut [f32]) -> usize {
            // Non-finite ⟺ all exponent bits set.
            let exp = _mm256_set1_epi32(0x7f80_0000);
            let mut count = 0usize;
            let mut blocks = x.chunks_exact_mut(8);
            for b in &mut blocks {
                // SAFETY: b has 8 values.
                let v = _mm256_loadu_si256(b.as_ptr() as *const __m256i);
                let bad = _mm256_cmpeq_epi32(_mm256_and_si256(v, exp), exp);
                let mask = _mm256_movemask_ps(_mm256_castsi256_ps(bad));
                if mask != 0 {
                    count += mask.count_ones() as usize;
                    _mm256_storeu_si256(b.as_mut_ptr() as *mut __m256i, _mm256_andnot_si256(bad, v));
                }
            }
            count + super::scalar::zero_non_finite(blocks.into_remainder())
        }

        /// # Safety
        /// The CPU must support AVX2 and FMA.
        #[target_feature(enable = "avx2,fma")]
        pub unsafe fn scale(x: &mut [f32], s: f64) {
            let sv = _mm256_set1_pd(s);
            let mut blocks = x.chunks_exact_mut(8);
            for b in &mut blocks {
                let p = b.as_mut_ptr();
                // SAFETY: b has 8 values.
                let v = _mm256_loadu_ps(p);
                let lo = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), sv));
                let hi = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtps_pd(_mm256_extractf128_ps::<1>(v)), sv));
                _mm256_storeu_ps(p, _mm256_set_m128(hi, lo));
            }
            super::scalar::scale(blocks.into_remainder(), s);
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::cpu::best_path;
        use crate::reduce::test_support::{exact_sum, values};

        #[test]
        fn simd_matches_scalar_and_the_definition() {
            // Tolerance: a sum of n positive terms in any order is within (n − 1)·ε relative
            // of the exact sum; Σ x is held to n·ε·Σ|x|.
            for n in [0, 1, 7, 15, 16, 17, 33, 1000, 100_003, 300_001] {
                let x = values(n, n as u32);
                let tol = (n.max(1) as f64) * f64::EPSILON;
                let exact = exact_sum(x.iter().map(|&v| v as f64 * v as f64));
                for path in [SimdPath::Scalar, best_path()] {
                    let got = l2_norm_on(path, &x);
                    assert!((got * got - exact).abs() <= (tol + 4e-16) * exact, "n={n}");
                }
            }
        }

        #[test]
        fn non_finite_values() {
            let mut x = values(37, 3);
            x[0] = f32::NAN;
            x[9] = f32::INFINITY;
            x[36] = f32::NEG_INFINITY;
            assert!(l2_norm(&x).is_nan());
            x[0] = 1.0;
            assert_eq!(l2_norm(&x), f64::INFINITY);
            for path in [SimdPath::Scalar, best_path()] {
                let mut y = x.clone();
                y[20] = f32::NAN;
                assert_eq!(zero_non_finite_on(path, &mut y), 3);
                assert!(y.iter().all(|v| v.is_finite()));
                assert_eq!((y[9], y[20], y[36]), (0.0, 0.0, 0.0));
                assert_eq!(y[1], x[1]);
                assert_eq!(zero_non_finite_on(path, &mut y), 0);
            }
            let mut big = values(1_000_001, 4);
            for i in (0..big.len()).step_by(9999) {
                big[i] = f32::NAN;
            }
            assert_eq!(zero_non_finite(&mut big), 1_000_001usize.div_ceil(9999));
        }

        #[test]
        fn scale_matches_the_js_rounding_bitwise() {
            for n in [0, 1, 7, 8, 9, 1000, 300_001] {
                let x = values(n, 9);
                for s in [0.5, -1.0, 0.1, 1.0 / 3.0, 1e-30] {
                    let want: Vec<f32> = x.iter().map(|&v| (v as f64 * s) as f32).collect();
                    for path in [SimdPath::Scalar, best_path()] {
                        let mut y = x.clone();
                        scale_in_place_on(path, &mut y, s);
                        assert_eq!(y, want, "n={n} s={s}");
                    }
                }
            }
        }

        #[test]
        fn sums_do_not_depend_on_threads() {
            // The split is fixed by the length; the parallel path must give the serial bits.
            let x = values(1_000_003, 5);
            let (chunk, units) = split(x.len());
            let serial: f64 = (0..units)
                .map(|u| {
                    let r = u * chunk..((u + 1) * chunk).min(x.len());
                    match simd_path() {
                        #[cfg(target_arch = "x86_64")]
                        SimdPath::Avx2Fma => unsafe { avx2::sum_squares(&x[r]) },
                        _ => scalar::sum_squares(&x[r]),
                    }
                })
                .sum();
            assert_eq!(l2_norm(&x), serial.sqrt());
        }
    }
}
pub use reductions::{l2_norm, scale_in_place, zero_non_finite, ReduceReal};

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::cpu::best_path;

    /// Deterministic values: params and moments in ±2, gradients spanning magnitudes.
    pub(crate) fn values(n: usize, seed: u32, scale: f32) -> Vec<f32> {
        let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let u = (x >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
                u * scale * if i % 7 == 0 { 1e-3 } else { 1.0 }
            })
            .collect()
    }

    pub(crate) fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    const LENGTHS: [usize; 10] = [0, 1, 3, 7, 8, 9, 15, 17, 1000, 1003];

    pub(crate) fn sgd_variants() -> Vec<Sgd> {
        let base = Sgd {
            learning_rate: 0.05,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            maximize: false,
            first_step: false,
        };
        vec![
            base,
            Sgd {
                momentum: 0.9,
                ..base
            },
            Sgd {
                momentum: 0.9,
                first_step: true,
                ..base
            },
            Sgd {
                momentum: 0.9,
                dampening: 0.1,
                weight_decay: 1e-2,
                ..base
            },
            Sgd {
                momentum: 0.9,
                nesterov: true,
                maximize: true,
                ..base
            },
            Sgd {
                weight_decay: 0.3,
                maximize: true,
                ..base
            },
        ]
    }

    pub(crate) fn adam_variants() -> Vec<Adam> {
        let t = 3.0f64;
        let base = Adam {
            beta1: 0.9,
            beta2: 0.999,
            step_size: 1e-3 / (1.0 - 0.9f64.powf(t)),
            bc2_sqrt: (1.0 - 0.999f64.powf(t)).sqrt(),
            epsilon: 1e-8,
            weight_decay: 0.0,
            decay: 1.0,
            amsgrad: false,
            maximize: false,
        };
        vec![
            base,
            Adam {
                weight_decay: 0.1,
                ..base
            },
            Adam {
                amsgrad: true,
                ..base
            },
            Adam {
                decay: 1.0 - 1e-3 * 1e-2,
                amsgrad: true,
                maximize: true,
                ..base
            },
        ]
    }

    /// Hand-computed SGD with momentum and Nesterov over two steps (values exact in f32).
    #[test]
    fn sgd_by_hand() {
        let h = Sgd {
            learning_rate: 0.5,
            momentum: 0.5,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: true,
            maximize: false,
            first_step: true,
        };
        let mut p = [1.0f32];
        let mut b = [0.0f32];
        // step 1: b = g = 2, d = g + μb = 3, p = 1 − 0.5·3 = −0.5
        assert!(sgd_step(&mut p, &[2.0], &mut b, &h).unwrap());
        assert_eq!((p[0], b[0]), (-0.5, 2.0));
        // step 2: b = 0.5·2 + 1·4 = 5, d = 4 + 2.5 = 6.5, p = −0.5 − 3.25 = −3.75
        let h2 = Sgd {
            first_step: false,
            ..h
        };
        assert!(sgd_step(&mut p, &[4.0], &mut b, &h2).unwrap());
        assert_eq!((p[0], b[0]), (-3.75, 5.0));
    }

    /// Adam's first step moves each parameter by about η·sign(g) (m̂ = g, v̂ = g²).
    #[test]
    fn f64_steps_are_the_formula_in_f64() {
        // The generic code in f64: each operation an f64 operation in PyTorch's order, nothing
        // rounded to f32 (docs/theory.md, "Float64 parameters").
        let h = adam_variants()[1];
        let g: Vec<f64> = values(37, 3, 2.0)
            .iter()
            .map(|&x| x as f64 * (1.0 + 1e-9))
            .collect();
        let p0: Vec<f64> = values(37, 4, 2.0).iter().map(|&x| x as f64 + 1e-10).collect();
        let mut p = p0.clone();
        let (mut m, mut v) = (vec![0.0f64; 37], vec![0.0f64; 37]);
        assert!(adam_step(&mut p, &g, &mut m, &mut v, &mut [], &h).unwrap());
        for i in 0..37 {
            let mut pi = p0[i] * h.decay;
            let mut d = if h.maximize { -g[i] } else { g[i] };
            d += h.weight_decay * pi;
            let mi = (1.0 - h.beta1) * d;
            let vi = (1.0 - h.beta2) * d * d;
            pi -= h.step_size * mi / (vi.sqrt() / h.bc2_sqrt + h.epsilon);
            assert_eq!(
                (p[i].to_bits(), m[i].to_bits(), v[i].to_bits()),
                (pi.to_bits(), mi.to_bits(), vi.to_bits())
            );
        }
        assert!(p.iter().any(|&x| x as f32 as f64 != x));
        let s = sgd_variants()[3];
        let (mut q, mut b) = (p0.clone(), vec![0.0f64; 37]);
        assert!(sgd_step(&mut q, &g, &mut b, &s).unwrap());
        let mut unused = 0.0;
        let sc = SgdScalars::<f64>::new(&s);
        for i in 0..37 {
            let mut bi = 0.0;
            let want = sgd_one(
                &sc,
                p0[i],
                g[i],
                if s.momentum != 0.0 { &mut bi } else { &mut unused },
            );
            assert_eq!(q[i].to_bits(), want.to_bits());
        }
    }

    #[test]
    fn adam_first_step_is_lr_times_sign() {
        let h = Adam {
            beta1: 0.9,
            beta2: 0.999,
            step_size: 0.01 / (1.0 - 0.9),
            bc2_sqrt: (1.0f64 - 0.999).sqrt(),
            epsilon: 0.0,
            weight_decay: 0.0,
            decay: 1.0,
            amsgrad: false,
            maximize: false,
        };
        let g = values(101, 9, 4.0);
        let mut p = vec![1.0f32; 101];
        let (mut m, mut v) = (vec![0.0; 101], vec![0.0; 101]);
        assert!(adam_step(&mut p, &g, &mut m, &mut v, &mut [], &h).unwrap());
        for (pi, gi) in p.iter().zip(&g) {
            let want = 1.0 - 0.01 * gi.signum();
            assert!((pi - want).abs() < 1e-6, "{pi} vs {want} (g = {gi})");
        }
    }

    #[test]
    fn simd_matches_scalar_bit_for_bit() {
        let path = best_path();
        for n in LENGTHS {
            for h in sgd_variants() {
                let g = values(n, 1, 4.0);
                let (mut p1, mut b1) = (values(n, 2, 4.0), values(n, 3, 1.0));
                let (mut p2, mut b2) = (p1.clone(), b1.clone());
                let f1 = sgd_step_on(SimdPath::Scalar, &mut p1, &g, &mut b1, &h).unwrap();
                let f2 = sgd_step_on(path, &mut p2, &g, &mut b2, &h).unwrap();
                assert_eq!(
                    (bits(&p1), bits(&b1), f1),
                    (bits(&p2), bits(&b2), f2),
                    "n={n} {h:?}"
                );
            }
            for h in adam_variants() {
                let g = values(n, 4, 4.0);
                let p = values(n, 5, 4.0);
                let m = values(n, 6, 0.5);
                let v: Vec<f32> = values(n, 7, 1.0).iter().map(|x| x * x).collect();
                let w: Vec<f32> = values(n, 8, 1.0).iter().map(|x| x * x).collect();
                let (mut p1, mut m1, mut v1, mut w1) = (p.clone(), m.clone(), v.clone(), w.clone());
                let (mut p2, mut m2, mut v2, mut w2) = (p, m, v, w);
                let f1 = adam_step_on(SimdPath::Scalar, &mut p1, &g, &mut m1, &mut v1, &mut w1, &h).unwrap();
                let f2 = adam_step_on(path, &mut p2, &g, &mut m2, &mut v2, &mut w2, &h).unwrap();
                assert_eq!(
                    (bits(&p1), bits(&m1), bits(&v1), bits(&w1), f1),
                    (bits(&p2), bits(&m2), bits(&v2), bits(&w2), f2),
                    "n={n} {h:?}"
                );
            }
        }
    }

    #[test]
    fn threads_do_not_change_results() {
        // Above PARALLEL_MIN (threaded when CIMM_THREADS allows): same bits as one range.
        let n = PARALLEL_MIN * 2 + 13;
        let h = adam_variants()[3];
        let g = values(n, 1, 2.0);
        let (mut p1, mut m1, mut v1, mut w1) = (values(n, 2, 2.0), vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        let (mut p2, mut m2, mut v2, mut w2) = (p1.clone(), m1.clone(), v1.clone(), w1.clone());
        adam_step(&mut p1, &g, &mut m1, &mut v1, &mut w1, &h).unwrap();
        f32::adam_range(
            simd_path(),
            &mut p2,
            &g,
            &mut m2,
            &mut v2,
            &mut w2,
            &AdamScalars::new(&h),
        );
        assert_eq!(
            (bits(&p1), bits(&m1), bits(&v1)),
            (bits(&p2), bits(&m2), bits(&v2))
        );
        let s = sgd_variants()[3];
        let (mut q1, mut b1) = (values(n, 3, 2.0), values(n, 4, 1.0));
        let (mut q2, mut b2) = (q1.clone(), b1.clone());
        sgd_step(&mut q1, &g, &mut b1, &s).unwrap();
        f32::sgd_range(simd_path(), &mut q2, &g, &mut b2, &SgdScalars::new(&s));
        assert_eq!((bits(&q1), bits(&b1)), (bits(&q2), bits(&b2)));
    }

    #[test]
    fn non_finite_parameters_are_reported() {
        for path in [SimdPath::Scalar, best_path()] {
            for n in [1, 8, 9, 20] {
                let mut p = vec![1.0f32; n];
                p[n - 1] = f32::MAX;
                let h = Sgd {
                    learning_rate: 1e30,
                    momentum: 0.0,
                    dampening: 0.0,
                    weight_decay: 0.0,
                    nesterov: false,
                    maximize: false,
                    first_step: true,
                };
                let g = vec![0.0f32; n];
                // zero gradient: nothing moves, all finite
                assert!(sgd_step_on(path, &mut p, &g, &mut [], &h).unwrap());
                let mut g = g;
                g[n - 1] = -1e10;
                assert!(!sgd_step_on(path, &mut p, &g, &mut [], &h).unwrap(), "n={n}");
                assert_eq!(p[n - 1], f32::INFINITY);
            }
        }
    }

    #[test]
    fn first_non_finite_finds_the_first() {
        for path in [SimdPath::Scalar, best_path()] {
            for n in [0, 1, 7, 8, 9, 100, 1003] {
                let mut x = values(n, 1, 1e30);
                assert_eq!(first_non_finite_on(path, &x), None);
                for (k, bad) in [(n / 2, f32::NAN), (n.saturating_sub(1), f32::NEG_INFINITY)] {
                    if n > 0 {
                        x[k] = bad;
                        assert_eq!(first_non_finite_on(path, &x), Some(n / 2), "n={n}");
                    }
                }
            }
        }
        let mut big = vec![0.0f32; PARALLEL_MIN * 3];
        big[PARALLEL_MIN * 2 + 5] = f32::INFINITY;
        big[PARALLEL_MIN * 3 - 1] = f32::NAN;
        assert_eq!(first_non_finite(&big), Some(PARALLEL_MIN * 2 + 5));
    }

    #[test]
    fn memory_copy_copies() {
        for n in [0, 5, 8, 9, 33, 1000, PARALLEL_MIN + 3] {
            for offset in 0..4 {
                let src = values(n, 3, 1.0);
                let mut dst = vec![0.0; n + offset];
                memory_copy(&src, &mut dst[offset..]).unwrap();
                assert_eq!(bits(&src), bits(&dst[offset..]), "n={n} offset={offset}");
            }
        }
        assert_eq!(memory_copy(&[1.0], &mut []).unwrap_err().param, "dst");
    }

    #[test]
    fn errors_name_the_parameter() {
        let h = sgd_variants()[1];
        let e = sgd_step(&mut [0.0; 3], &[0.0; 2], &mut [0.0; 3], &h).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Expected an array of length 3 (the length of params) for grads but received an array of length 2"
        );
        assert_eq!(
            sgd_step(&mut [0.0; 3], &[0.0; 3], &mut [], &h).unwrap_err().param,
            "momentumBuffer"
        );
        // without momentum the buffer is not used
        sgd_step(&mut [0.0; 3], &[0.0; 3], &mut [], &sgd_variants()[0]).unwrap();
        let a = adam_variants()[2];
        let (mut p, g) = ([0.0f32; 3], [0.0f32; 3]);
        let ok = |m: usize, v: usize, w: usize| {
            adam_step(
                &mut p.clone(),
                &g,
                &mut vec![0.0; m],
                &mut vec![0.0; v],
                &mut vec![0.0; w],
                &a,
            )
            .map_err(|e| e.param)
        };
        assert_eq!(ok(2, 3, 3), Err("m"));
        assert_eq!(ok(3, 4, 3), Err("v"));
        assert_eq!(ok(3, 3, 0), Err("vMax"));
        assert!(ok(3, 3, 3).is_ok());
        adam_step(
            &mut p,
            &g,
            &mut [0.0; 3],
            &mut [0.0; 3],
            &mut [],
            &adam_variants()[0],
        )
        .unwrap();
    }
}

//! Energy flow, design.md §2 eq. 10 (seed 002 §4.1), one explicit step on a 2-D grid:
//!
//!   out = E + dt·(κ·S + β∇²E + γ∇·(E∇Ψ))
//!
//! The grid is nx × ny, row-major (cell (i, j) at j·nx + i), spacing h. Every cell has
//! four faces: west (i − 1), east (i + 1), south (j − 1), north (j + 1). A periodic face
//! wraps; a zero-flux face takes the cell itself as its neighbour, which makes both
//! E_n − E_i and Ψ_n − Ψ_i exactly 0, so nothing crosses it.
//!
//! Per face, a = γ(Ψ_n − Ψ_i)/h²; the drift into cell i is the upwind flux
//! max(a, 0)·E_n + min(a, 0)·E_i (energy is carried from the upstream cell, down the
//! gradient of Ψ for γ > 0). What one cell loses across a face its neighbour gains, so
//! the scheme conserves Σ E; with dt ≤ [`energy_flow_max_step`] every weight of the
//! update is ≥ 0, so it is monotone (E ≥ 0 stays ≥ 0, Σ|E| does not grow).
//!
//! The same cell formula runs on every path and in the JS reference
//! (lib/backends/js/flow.ts); the AVX2 path fuses multiply-adds, so it agrees to a few
//! ulps of max|E| + dt·|κS|. SIMD runs along a row (4 cells per vector, the two edge
//! cells scalar); large grids are split into bands of rows across threads. Each output
//! cell depends only on the inputs, so the split never changes a result.

use crate::cpu::{simd_path, SimdPath};
use crate::error::KernelError;
use crate::parallel;
use crate::primes::format_number;
use crate::stop::{self, Completion};
use std::sync::atomic::AtomicBool;

/// Cells from which helper threads are used (256 × 256 and up).
const PARALLEL_MIN_CELLS: usize = 1 << 16;
/// Cells per parallel work unit (whole rows).
const UNIT_CELLS: usize = 1 << 15;
/// Largest accepted nx·ny (typed arrays beyond this are not practical here).
const MAX_CELLS: usize = 1 << 32;

/// The grid's boundary condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boundary {
    Periodic,
    ZeroFlux,
}

impl Boundary {
    /// Parses the JS name: `"periodic"` or `"zeroFlux"`.
    pub fn parse(name: &str) -> Result<Self, KernelError> {
        match name {
            "periodic" => Ok(Boundary::Periodic),
            "zeroFlux" => Ok(Boundary::ZeroFlux),
            other => Err(KernelError::new(
                "boundary",
                "one of \"periodic\", \"zeroFlux\"",
                format!("{other:?}"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Boundary::Periodic => "periodic",
            Boundary::ZeroFlux => "zeroFlux",
        }
    }

    /// The neighbour one cell back along an axis of n cells.
    #[inline(always)]
    fn before(self, k: usize, n: usize) -> usize {
        if k > 0 {
            k - 1
        } else if self == Boundary::Periodic {
            n - 1
        } else {
            0
        }
    }

    /// The neighbour one cell forward along an axis of n cells.
    #[inline(always)]
    fn after(self, k: usize, n: usize) -> usize {
        if k + 1 < n {
            k + 1
        } else if self == Boundary::Periodic {
            0
        } else {
            n - 1
        }
    }
}

/// Coefficients of one step (design eq. 10).
#[derive(Debug, Clone, Copy)]
pub struct FlowParams {
    /// Grid spacing, > 0.
    pub h: f64,
    /// Time step, ≥ 0 (the caller keeps it within [`energy_flow_max_step`]).
    pub dt: f64,
    /// Diffusion coefficient β ≥ 0 of +β∇²E.
    pub beta: f64,
    /// Drift coefficient γ of γ∇·(E∇Ψ).
    pub gamma: f64,
    /// κ(t) at the step's start time.
    pub kappa: f64,
    pub boundary: Boundary,
}

/// Converts a JS number into a grid dimension: an integer ≥ 1.
pub fn grid_dim(v: f64, param: &'static str) -> Result<usize, KernelError> {
    if !(v.is_finite() && v >= 1.0 && v.fract() == 0.0 && v <= MAX_CELLS as f64) {
        return Err(KernelError::new(param, "an integer >= 1", format_number(v)));
    }
    Ok(v as usize)
}

fn check_cells(nx: usize, ny: usize) -> Result<usize, KernelError> {
    if nx == 0 {
        return Err(KernelError::new("nx", "an integer >= 1", "0"));
    }
    if ny == 0 {
        return Err(KernelError::new("ny", "an integer >= 1", "0"));
    }
    match nx.checked_mul(ny) {
        Some(n) if n <= MAX_CELLS => Ok(n),
        _ => Err(KernelError::new(
            "ny",
            format!("an integer with nx·ny <= {MAX_CELLS}"),
            ny.to_string(),
        )),
    }
}

fn check_len(param: &'static str, len: usize, nx: usize, ny: usize) -> Result<(), KernelError> {
    if len != nx * ny {
        return Err(KernelError::new(
            param,
            format!("an array of length {} (nx·ny = {nx}×{ny})", nx * ny),
            format!("an array of length {len}"),
        ));
    }
    Ok(())
}

fn check_finite(param: &'static str, v: f64) -> Result<f64, KernelError> {
    if !v.is_finite() {
        return Err(KernelError::new(param, "a finite number", format_number(v)));
    }
    Ok(v)
}

fn check_positive(param: &'static str, v: f64) -> Result<f64, KernelError> {
    if !(v.is_finite() && v > 0.0) {
        return Err(KernelError::new(param, "a finite number > 0", format_number(v)));
    }
    Ok(v)
}

fn check_non_negative(param: &'static str, v: f64) -> Result<f64, KernelError> {
    if !(v.is_finite() && v >= 0.0) {
        return Err(KernelError::new(param, "a finite number >= 0", format_number(v)));
    }
    Ok(v)
}

/// The per-step constants every path uses.
#[derive(Clone, Copy)]
struct Coef {
    /// β/h².
    b: f64,
    /// γ/h².
    g: f64,
    dt: f64,
    kappa: f64,
}

/// The three rows a row of output reads: centre, south (j − 1) and north (j + 1).
#[derive(Clone, Copy)]
struct Rows<'a> {
    e: &'a [f64],
    e_s: &'a [f64],
    e_n: &'a [f64],
    p: &'a [f64],
    p_s: &'a [f64],
    p_n: &'a [f64],
    src: &'a [f64],
}

impl<'a> Rows<'a> {
    fn at(
        energy: &'a [f64],
        potential: &'a [f64],
        source: &'a [f64],
        nx: usize,
        ny: usize,
        j: usize,
        bc: Boundary,
    ) -> Self {
        let row = |a: &'a [f64], r: usize| &a[r * nx..(r + 1) * nx];
        let (s, n) = (bc.before(j, ny), bc.after(j, ny));
        Rows {
            e: row(energy, j),
            e_s: row(energy, s),
            e_n: row(energy, n),
            p: row(potential, j),
            p_s: row(potential, s),
            p_n: row(potential, n),
            src: row(source, j),
        }
    }
}

/// Eq. 10, one forward-Euler step into `out` (which the borrow rules keep apart from the
/// inputs). Errors name the JS parameter.
pub fn energy_flow_step(
    energy: &[f64],
    potential: &[f64],
    source: &[f64],
    nx: usize,
    ny: usize,
    params: &FlowParams,
    out: &mut [f64],
) -> Result<(), KernelError> {
    energy_flow_step_on(simd_path(), energy, potential, source, nx, ny, params, out)
}

/// The checks of [`energy_flow_step`] less its output's: the grid, the three input
/// lengths and the coefficients (h > 0, dt ≥ 0, β ≥ 0, γ and κ finite). Returns nx·ny.
pub fn check_step(
    energy: &[f64],
    potential: &[f64],
    source: &[f64],
    nx: usize,
    ny: usize,
    params: &FlowParams,
) -> Result<usize, KernelError> {
    let cells = check_cells(nx, ny)?;
    check_len("energy", energy.len(), nx, ny)?;
    check_len("potential", potential.len(), nx, ny)?;
    check_len("source", source.len(), nx, ny)?;
    check_positive("h", params.h)?;
    check_non_negative("dt", params.dt)?;
    check_non_negative("beta", params.beta)?;
    check_finite("gamma", params.gamma)?;
    check_finite("kappa", params.kappa)?;
    Ok(cells)
}

#[allow(clippy::too_many_arguments)]
fn energy_flow_step_on(
    path: SimdPath,
    energy: &[f64],
    potential: &[f64],
    source: &[f64],
    nx: usize,
    ny: usize,
    params: &FlowParams,
    out: &mut [f64],
) -> Result<(), KernelError> {
    let cells = check_step(energy, potential, source, nx, ny, params)?;
    check_len("out", out.len(), nx, ny)?;
    let FlowParams {
        h,
        dt,
        beta,
        gamma,
        kappa,
        ..
    } = *params;
    let k = Coef {
        b: beta / (h * h),
        g: gamma / (h * h),
        dt,
        kappa,
    };
    let bc = params.boundary;
    let band = |j0: usize, piece: &mut [f64]| {
        for (r, o) in piece.chunks_exact_mut(nx).enumerate() {
            let rows = Rows::at(energy, potential, source, nx, ny, j0 + r, bc);
            flow_row(path, &rows, &k, bc, o);
        }
    };
    if cells >= PARALLEL_MIN_CELLS {
        let rows_per_unit = (UNIT_CELLS / nx).max(1);
        parallel::for_each_chunk_mut(out, rows_per_unit * nx, |u, piece| band(u * rows_per_unit, piece));
    } else {
        band(0, out);
    }
    Ok(())
}

/// `kappas.len()` steps of [`energy_flow_step`] with `params` (its dt per step) and κ
/// = kappas[s] at step s, double-buffered: each step reads `current` and writes
/// `previous`, then the two swap, so at the end `current` holds E after the last step and
/// `previous` E before it. `stop` is checked before each step; `Stopped` leaves both
/// grids mid-run. Each step is `energy_flow_step` itself, so a run is bit for bit the
/// same steps taken one call at a time.
#[allow(clippy::too_many_arguments)]
pub fn energy_flow_run(
    current: &mut Vec<f64>,
    previous: &mut Vec<f64>,
    potential: &[f64],
    source: &[f64],
    nx: usize,
    ny: usize,
    params: &FlowParams,
    kappas: &[f64],
    stop: &AtomicBool,
) -> Result<Completion, KernelError> {
    for &kappa in kappas {
        if stop::raised(stop) {
            return Ok(Completion::Stopped);
        }
        let p = FlowParams { kappa, ..*params };
        energy_flow_step(current, potential, source, nx, ny, &p, previous)?;
        std::mem::swap(current, previous);
    }
    Ok(Completion::Done)
}

/// Dispatcher: one output row.
fn flow_row(path: SimdPath, r: &Rows, k: &Coef, bc: Boundary, out: &mut [f64]) {
    match path {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
        SimdPath::Avx2Fma => unsafe { avx2::flow_row(r, k, bc, out) },
        _ => flow_row_scalar(r, k, bc, out),
    }
}

/// One cell of eq. 10 with its west and east neighbours at columns w and e, in the JS
/// reference's order of operations.
#[inline(always)]
fn flow_cell(r: &Rows, k: &Coef, i: usize, w: usize, e: usize) -> f64 {
    let ec = r.e[i];
    let pc = r.p[i];
    let (ew, ee, es, en) = (r.e[w], r.e[e], r.e_s[i], r.e_n[i]);
    let a_w = k.g * (r.p[w] - pc);
    let a_e = k.g * (r.p[e] - pc);
    let a_s = k.g * (r.p_s[i] - pc);
    let a_n = k.g * (r.p_n[i] - pc);
    let laplacian = ew + ee + (es + en) - 4.0 * ec;
    let inflow = a_w.max(0.0) * ew + a_e.max(0.0) * ee + a_s.max(0.0) * es + a_n.max(0.0) * en;
    let outflow = a_w.min(0.0) + a_e.min(0.0) + (a_s.min(0.0) + a_n.min(0.0));
    ec + k.dt * (k.kappa * r.src[i] + k.b * laplacian + (inflow + outflow * ec))
}

/// Scalar path: every cell through [`flow_cell`].
fn flow_row_scalar(r: &Rows, k: &Coef, bc: Boundary, out: &mut [f64]) {
    let nx = out.len();
    for (i, o) in out.iter_mut().enumerate() {
        *o = flow_cell(r, k, i, bc.before(i, nx), bc.after(i, nx));
    }
}

/// The largest dt for which [`energy_flow_step`] is monotone:
/// 1 / max_i (4β/h² + Σ_faces max(0, γ(Ψ_i − Ψ_n))/h²), +∞ when that maximum is 0.
/// (Only recomputed when Ψ or the coefficients change, so it stays scalar; the order
/// of operations is the JS reference's, so both give the same bits.)
pub fn energy_flow_max_step(
    potential: &[f64],
    nx: usize,
    ny: usize,
    h: f64,
    beta: f64,
    gamma: f64,
    bc: Boundary,
) -> Result<f64, KernelError> {
    check_cells(nx, ny)?;
    check_len("potential", potential.len(), nx, ny)?;
    let h = check_positive("h", h)?;
    let beta = check_non_negative("beta", beta)?;
    let gamma = check_finite("gamma", gamma)?;
    let diffusion = (4.0 * beta) / (h * h);
    let g = gamma / (h * h);
    let mut worst = 0.0f64;
    for j in 0..ny {
        let row = &potential[j * nx..(j + 1) * nx];
        let south = &potential[bc.before(j, ny) * nx..][..nx];
        let north = &potential[bc.after(j, ny) * nx..][..nx];
        for i in 0..nx {
            let psi = row[i];
            let leaving = (g * (psi - row[bc.before(i, nx)])).max(0.0)
                + (g * (psi - row[bc.after(i, nx)])).max(0.0)
                + ((g * (psi - south[i])).max(0.0) + (g * (psi - north[i])).max(0.0));
            let rate = diffusion + leaving;
            if rate > worst {
                worst = rate;
            }
        }
    }
    Ok(if worst > 0.0 { 1.0 / worst } else { f64::INFINITY })
}

/// ∇²E by the 5-point stencil, (E_w + E_e + E_s + E_n − 4E)/h², into `out`.
pub fn laplacian(
    energy: &[f64],
    nx: usize,
    ny: usize,
    h: f64,
    bc: Boundary,
    out: &mut [f64],
) -> Result<(), KernelError> {
    laplacian_on(simd_path(), energy, nx, ny, h, bc, out)
}

fn laplacian_on(
    path: SimdPath,
    energy: &[f64],
    nx: usize,
    ny: usize,
    h: f64,
    bc: Boundary,
    out: &mut [f64],
) -> Result<(), KernelError> {
    let cells = check_cells(nx, ny)?;
    check_len("energy", energy.len(), nx, ny)?;
    check_len("out", out.len(), nx, ny)?;
    let inv_h2 = 1.0 / (check_positive("h", h)? * h);
    let band = |j0: usize, piece: &mut [f64]| {
        for (r, o) in piece.chunks_exact_mut(nx).enumerate() {
            let j = j0 + r;
            let row = |k: usize| &energy[k * nx..(k + 1) * nx];
            let (c, s, n) = (row(j), row(bc.before(j, ny)), row(bc.after(j, ny)));
            match path {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
                SimdPath::Avx2Fma => unsafe { avx2::laplacian_row(c, s, n, inv_h2, bc, o) },
                _ => laplacian_row_scalar(c, s, n, inv_h2, bc, o),
            }
        }
    };
    if cells >= PARALLEL_MIN_CELLS {
        let rows_per_unit = (UNIT_CELLS / nx).max(1);
        parallel::for_each_chunk_mut(out, rows_per_unit * nx, |u, piece| band(u * rows_per_unit, piece));
    } else {
        band(0, out);
    }
    Ok(())
}

#[inline(always)]
fn laplacian_cell(c: &[f64], s: &[f64], n: &[f64], inv_h2: f64, i: usize, w: usize, e: usize) -> f64 {
    (c[w] + c[e] + (s[i] + n[i]) - 4.0 * c[i]) * inv_h2
}

fn laplacian_row_scalar(c: &[f64], s: &[f64], n: &[f64], inv_h2: f64, bc: Boundary, out: &mut [f64]) {
    let nx = out.len();
    for (i, o) in out.iter_mut().enumerate() {
        *o = laplacian_cell(c, s, n, inv_h2, i, bc.before(i, nx), bc.after(i, nx));
    }
}

// ---------------------------------------------------------------------------------
// AVX2 + FMA: 4 cells per vector along a row. The interior columns 1..nx−1 run in
// vectors; the last vector is shifted back to end at column nx − 2 (it recomputes a
// few cells with identical results), and columns 0 and nx − 1 take the scalar formula.

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{flow_cell, flow_row_scalar, laplacian_cell, laplacian_row_scalar, Boundary, Coef, Rows};
    use std::arch::x86_64::*;

    const LANES: usize = 4;

    /// Four f64 of `a` from column `i` (a macro, not a closure, so it is compiled with
    /// the caller's target features).
    macro_rules! ld {
        ($a:expr, $i:expr) => {
            _mm256_loadu_pd($a.as_ptr().add($i))
        };
    }

    /// Vector start columns covering 1..=nx−2 (nx ≥ LANES + 2), the last one shifted back.
    #[inline(always)]
    fn starts(nx: usize) -> impl Iterator<Item = usize> {
        let last = nx - 1 - LANES;
        (1..last).step_by(LANES).chain(std::iter::once(last))
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA; every row of `r` has out.len() cells.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn flow_row(r: &Rows, k: &Coef, bc: Boundary, out: &mut [f64]) {
        let nx = out.len();
        if nx < LANES + 2 {
            return flow_row_scalar(r, k, bc, out);
        }
        debug_assert!([r.e, r.e_s, r.e_n, r.p, r.p_s, r.p_n, r.src]
            .iter()
            .all(|a| a.len() == nx));
        out[0] = flow_cell(r, k, 0, bc.before(0, nx), 1);
        out[nx - 1] = flow_cell(r, k, nx - 1, nx - 2, bc.after(nx - 1, nx));
        let zero = _mm256_setzero_pd();
        let g = _mm256_set1_pd(k.g);
        let b = _mm256_set1_pd(k.b);
        let dt = _mm256_set1_pd(k.dt);
        let kappa = _mm256_set1_pd(k.kappa);
        let four = _mm256_set1_pd(4.0);
        for i in starts(nx) {
            // SAFETY (all loads and the store): 1 ≤ i and i + LANES ≤ nx − 1, so columns
            // i − 1 ..= i + LANES are inside every row.
            let (ec, ew, ee, es, en) = (
                ld!(r.e, i),
                ld!(r.e, i - 1),
                ld!(r.e, i + 1),
                ld!(r.e_s, i),
                ld!(r.e_n, i),
            );
            let pc = ld!(r.p, i);
            let a_w = _mm256_mul_pd(g, _mm256_sub_pd(ld!(r.p, i - 1), pc));
            let a_e = _mm256_mul_pd(g, _mm256_sub_pd(ld!(r.p, i + 1), pc));
            let a_s = _mm256_mul_pd(g, _mm256_sub_pd(ld!(r.p_s, i), pc));
            let a_n = _mm256_mul_pd(g, _mm256_sub_pd(ld!(r.p_n, i), pc));
            let sum = _mm256_add_pd(_mm256_add_pd(ew, ee), _mm256_add_pd(es, en));
            let laplacian = _mm256_fnmadd_pd(four, ec, sum);
            let mut inflow = _mm256_mul_pd(_mm256_max_pd(a_w, zero), ew);
            inflow = _mm256_fmadd_pd(_mm256_max_pd(a_e, zero), ee, inflow);
            inflow = _mm256_fmadd_pd(_mm256_max_pd(a_s, zero), es, inflow);
            inflow = _mm256_fmadd_pd(_mm256_max_pd(a_n, zero), en, inflow);
            let outflow = _mm256_add_pd(
                _mm256_add_pd(_mm256_min_pd(a_w, zero), _mm256_min_pd(a_e, zero)),
                _mm256_add_pd(_mm256_min_pd(a_s, zero), _mm256_min_pd(a_n, zero)),
            );
            let drift = _mm256_fmadd_pd(outflow, ec, inflow);
            let rate = _mm256_add_pd(
                _mm256_fmadd_pd(b, laplacian, _mm256_mul_pd(kappa, ld!(r.src, i))),
                drift,
            );
            _mm256_storeu_pd(out.as_mut_ptr().add(i), _mm256_fmadd_pd(dt, rate, ec));
        }
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA; c, s, n have out.len() cells.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn laplacian_row(c: &[f64], s: &[f64], n: &[f64], inv_h2: f64, bc: Boundary, out: &mut [f64]) {
        let nx = out.len();
        if nx < LANES + 2 {
            return laplacian_row_scalar(c, s, n, inv_h2, bc, out);
        }
        debug_assert!(c.len() == nx && s.len() == nx && n.len() == nx);
        out[0] = laplacian_cell(c, s, n, inv_h2, 0, bc.before(0, nx), 1);
        out[nx - 1] = laplacian_cell(c, s, n, inv_h2, nx - 1, nx - 2, bc.after(nx - 1, nx));
        let f = _mm256_set1_pd(inv_h2);
        let four = _mm256_set1_pd(4.0);
        for i in starts(nx) {
            // SAFETY: as in flow_row.
            let sum = _mm256_add_pd(
                _mm256_add_pd(ld!(c, i - 1), ld!(c, i + 1)),
                _mm256_add_pd(ld!(s, i), ld!(n, i)),
            );
            let v = _mm256_mul_pd(_mm256_fnmadd_pd(four, ld!(c, i), sum), f);
            _mm256_storeu_pd(out.as_mut_ptr().add(i), v);
        }
    }
}

// ---------------------------------------------------------------------------------
// Eq. 11's grid sums (the former part of reduce.rs)
mod sums {
    //! Eq. 11's grid integrals and norm: Σ E, Σ |E|, Σ E² in f64 over [`crate::reduce::split`]'s
    //! fixed ranges, added in index order (the same value on any number of threads).

    use crate::cpu::{simd_path, SimdPath};
    use crate::reduce::split_sum;

    /// [Σ x, Σ |x|, Σ x²].
    pub fn grid_sums(x: &[f64]) -> [f64; 3] {
        grid_sums_on(simd_path(), x)
    }

    fn grid_sums_on(path: SimdPath, x: &[f64]) -> [f64; 3] {
        split_sum(x.len(), |r| match path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the Avx2Fma path is only chosen when the CPU reports avx2 and fma.
            SimdPath::Avx2Fma => unsafe { avx2::grid_sums(&x[r]) },
            _ => scalar::grid_sums(&x[r]),
        })
    }

    mod scalar {
        pub fn grid_sums(x: &[f64]) -> [f64; 3] {
            let (mut s, mut a, mut q) = (0.0, 0.0, 0.0);
            for &v in x {
                s += v;
                a += v.abs();
                q += v * v;
            }
            [s, a, q]
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

        /// # Safety
        /// The CPU must support AVX2 and FMA.
        #[target_feature(enable = "avx2,fma")]
        pub unsafe fn grid_sums(x: &[f64]) -> [f64; 3] {
            let abs_mask = _mm256_castsi256_pd(_mm256_set1_epi64x(i64::MAX));
            let (mut s, mut a, mut q) = (
                [_mm256_setzero_pd(); 4],
                [_mm256_setzero_pd(); 4],
                [_mm256_setzero_pd(); 4],
            );
            let mut blocks = x.chunks_exact(16);
            for b in &mut blocks {
                for u in 0..4 {
                    // SAFETY: b has 16 values; this reads 4 of them.
                    let v = _mm256_loadu_pd(b.as_ptr().add(4 * u));
                    s[u] = _mm256_add_pd(s[u], v);
                    a[u] = _mm256_add_pd(a[u], _mm256_and_pd(v, abs_mask));
                    q[u] = _mm256_fmadd_pd(v, v, q[u]);
                }
            }
            let mut out = [reduce(s), reduce(a), reduce(q)];
            for &v in blocks.remainder() {
                out[0] += v;
                out[1] += v.abs();
                out[2] += v * v;
            }
            out
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::cpu::best_path;
        use crate::reduce::test_support::{exact_sum, values};

        #[test]
        fn grid_sums_simd_matches_scalar_and_the_definition() {
            // Tolerance: a sum of n positive terms in any order is within (n − 1)·ε relative
            // of the exact sum; Σ x is held to n·ε·Σ|x|.
            for n in [0, 1, 7, 15, 16, 17, 33, 1000, 100_003, 300_001] {
                let x = values(n, n as u32);
                let tol = (n.max(1) as f64) * f64::EPSILON;
                let exact = exact_sum(x.iter().map(|&v| v as f64 * v as f64));
                let g: Vec<f64> = x.iter().map(|&v| v as f64).collect();
                let abs = exact_sum(g.iter().map(|v| v.abs()));
                let sum = exact_sum(g.iter().copied());
                for path in [SimdPath::Scalar, best_path()] {
                    let [s, a, q] = grid_sums_on(path, &g);
                    assert!((s - sum).abs() <= tol * abs, "n={n}");
                    assert!(
                        (a - abs).abs() <= tol * abs && (q - exact).abs() <= tol * exact,
                        "n={n}"
                    );
                }
            }
        }
    }
}
pub use sums::grid_sums;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::best_path;

    /// A deterministic pseudo-random grid in [lo, hi).
    fn grid(n: usize, seed: u64, lo: f64, hi: f64) -> Vec<f64> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                lo + (hi - lo) * ((s >> 11) as f64 / (1u64 << 53) as f64)
            })
            .collect()
    }

    fn params(bc: Boundary, dt: f64) -> FlowParams {
        FlowParams {
            h: 0.5,
            dt,
            beta: 0.25,
            gamma: 0.35,
            kappa: 0.7,
            boundary: bc,
        }
    }

    fn max_abs(a: &[f64]) -> f64 {
        a.iter().fold(0.0, |m, v| m.max(v.abs()))
    }

    #[test]
    fn simd_matches_scalar() {
        // Tolerance: 1e-14 × (max|E| + dt·|κ|·max|S|); the paths differ only by FMA
        // roundings (observed ≤ 4e-16).
        for bc in [Boundary::Periodic, Boundary::ZeroFlux] {
            for (nx, ny) in [
                (1, 1),
                (1, 7),
                (5, 3),
                (6, 2),
                (7, 7),
                (9, 4),
                (10, 3),
                (33, 17),
                (64, 5),
            ] {
                let n = nx * ny;
                let (e, p, s) = (grid(n, 1, 0.0, 2.0), grid(n, 2, -1.0, 1.0), grid(n, 3, -1.0, 1.0));
                let dt = energy_flow_max_step(&p, nx, ny, 0.5, 0.25, 0.35, bc).unwrap();
                let prm = params(bc, dt);
                let mut a = vec![f64::NAN; n];
                let mut b = vec![f64::NAN; n];
                energy_flow_step_on(SimdPath::Scalar, &e, &p, &s, nx, ny, &prm, &mut a).unwrap();
                energy_flow_step_on(best_path(), &e, &p, &s, nx, ny, &prm, &mut b).unwrap();
                let tol = 1e-14 * (max_abs(&e) + dt * 0.7 * max_abs(&s));
                for i in 0..n {
                    assert!(
                        (a[i] - b[i]).abs() <= tol,
                        "{bc:?} {nx}x{ny} cell {i}: {} vs {}",
                        a[i],
                        b[i]
                    );
                }
                let mut la = vec![f64::NAN; n];
                let mut lb = vec![f64::NAN; n];
                laplacian_on(SimdPath::Scalar, &e, nx, ny, 0.5, bc, &mut la).unwrap();
                laplacian_on(best_path(), &e, nx, ny, 0.5, bc, &mut lb).unwrap();
                for i in 0..n {
                    assert!(
                        (la[i] - lb[i]).abs() <= 1e-14 * 16.0 * max_abs(&e),
                        "laplacian {i}"
                    );
                }
            }
        }
    }

    #[test]
    fn parallel_matches_serial_bitwise() {
        let (nx, ny) = (301, 257);
        let n = nx * ny;
        let (e, p, s) = (grid(n, 4, 0.0, 1.0), grid(n, 5, -1.0, 1.0), grid(n, 6, -1.0, 1.0));
        for bc in [Boundary::Periodic, Boundary::ZeroFlux] {
            let prm = params(bc, 0.05);
            let mut par = vec![0.0; n];
            energy_flow_step(&e, &p, &s, nx, ny, &prm, &mut par).unwrap();
            let k = Coef {
                b: prm.beta / (prm.h * prm.h),
                g: prm.gamma / (prm.h * prm.h),
                dt: prm.dt,
                kappa: prm.kappa,
            };
            let mut ser = vec![0.0; n];
            for (j, o) in ser.chunks_exact_mut(nx).enumerate() {
                flow_row(simd_path(), &Rows::at(&e, &p, &s, nx, ny, j, bc), &k, bc, o);
            }
            assert_eq!(par, ser);
        }
    }

    #[test]
    fn conserves_total_energy_and_stays_positive() {
        // No source: Σ E is conserved up to rounding, and E ≥ 0 stays so at the limit.
        for path in [SimdPath::Scalar, best_path()] {
            for bc in [Boundary::Periodic, Boundary::ZeroFlux] {
                let (nx, ny) = (23, 19);
                let n = nx * ny;
                let mut e = grid(n, 7, 0.0, 1.0);
                let p = grid(n, 8, -2.0, 2.0);
                let s = vec![0.0; n];
                let dt = energy_flow_max_step(&p, nx, ny, 0.5, 0.25, 0.35, bc).unwrap();
                let prm = FlowParams {
                    kappa: 1.0,
                    ..params(bc, dt)
                };
                let total: f64 = e.iter().sum();
                let mut next = vec![0.0; n];
                for _ in 0..500 {
                    energy_flow_step_on(path, &e, &p, &s, nx, ny, &prm, &mut next).unwrap();
                    std::mem::swap(&mut e, &mut next);
                }
                let after: f64 = e.iter().sum();
                assert!(
                    (after - total).abs() <= 1e-12 * total,
                    "{bc:?}: {total} → {after}"
                );
                assert!(e.iter().all(|&v| v >= 0.0), "{bc:?}: positivity");
            }
        }
    }

    #[test]
    fn max_step_is_the_diffusion_limit_without_drift() {
        let p = vec![3.0; 12];
        let dt = energy_flow_max_step(&p, 4, 3, 0.5, 0.25, 1.0, Boundary::Periodic).unwrap();
        assert_eq!(dt, 0.25 / (4.0 * 0.25)); // h²/(4β)
        assert_eq!(
            energy_flow_max_step(&p, 4, 3, 0.5, 0.0, 1.0, Boundary::ZeroFlux).unwrap(),
            f64::INFINITY
        );
        // A linear Ψ (slope 1 along x, h = 1), γ = 2, β = 0: one downhill face per
        // interior cell, outflow rate γ·1/h² = 2, so dt_max = 1/2.
        let p: Vec<f64> = (0..5).map(|i| i as f64).collect();
        let dt = energy_flow_max_step(&p, 5, 1, 1.0, 0.0, 2.0, Boundary::ZeroFlux).unwrap();
        assert_eq!(dt, 0.5);
    }

    #[test]
    fn errors_name_the_parameter() {
        let (e, mut out) = (vec![0.0; 6], vec![0.0; 6]);
        let prm = params(Boundary::Periodic, 0.1);
        let err = |r: Result<(), KernelError>| r.unwrap_err();
        assert_eq!(
            err(energy_flow_step(&e, &e, &e, 2, 3, &prm, &mut out[..5])).param,
            "out"
        );
        assert_eq!(
            err(energy_flow_step(&e[..5], &e, &e, 2, 3, &prm, &mut out)).param,
            "energy"
        );
        assert_eq!(
            err(energy_flow_step(&e, &e[..4], &e, 2, 3, &prm, &mut out)).param,
            "potential"
        );
        assert_eq!(
            err(energy_flow_step(&e, &e, &e, 3, 3, &prm, &mut out)).param,
            "energy"
        );
        let e2 = err(energy_flow_step(&e, &e, &e[..1], 2, 3, &prm, &mut out));
        assert_eq!(
            e2.to_string(),
            "Expected an array of length 6 (nx·ny = 2×3) for source but received an array of length 1"
        );
        let bad = |f: fn(&mut FlowParams)| {
            let mut q = prm;
            f(&mut q);
            let mut o = vec![0.0; 6];
            energy_flow_step(&e, &e, &e, 2, 3, &q, &mut o).unwrap_err().param
        };
        assert_eq!(bad(|q| q.h = 0.0), "h");
        assert_eq!(bad(|q| q.dt = -1.0), "dt");
        assert_eq!(bad(|q| q.beta = -0.1), "beta");
        assert_eq!(bad(|q| q.gamma = f64::NAN), "gamma");
        assert_eq!(bad(|q| q.kappa = f64::INFINITY), "kappa");
        assert_eq!(
            Boundary::parse("neumann").unwrap_err().to_string(),
            "Expected one of \"periodic\", \"zeroFlux\" for boundary but received \"neumann\""
        );
        assert_eq!(
            grid_dim(1.5, "nx").unwrap_err().to_string(),
            "Expected an integer >= 1 for nx but received 1.5"
        );
        assert_eq!(grid_dim(0.0, "ny").unwrap_err().param, "ny");
        assert_eq!(grid_dim(7.0, "nx").unwrap(), 7);
        assert_eq!(
            err(laplacian(&e, 2, 3, 1.0, Boundary::ZeroFlux, &mut out[..2])).param,
            "out"
        );
        assert_eq!(
            energy_flow_max_step(&e, 2, 3, 1.0, -1.0, 0.0, Boundary::ZeroFlux)
                .unwrap_err()
                .param,
            "beta"
        );
    }

    #[test]
    fn a_run_is_its_steps_and_a_raised_flag_stops() {
        let (nx, ny) = (13, 7);
        let e0 = grid(nx * ny, 1, 0.0, 1.0);
        let psi = grid(nx * ny, 2, -1.0, 1.0);
        let src = grid(nx * ny, 3, -0.5, 0.5);
        let p = params(Boundary::ZeroFlux, 0.05);
        let kappas = [0.3, -0.2, 0.9];
        let (mut cur, mut prev) = (e0.clone(), vec![0.0; nx * ny]);
        let never = AtomicBool::new(false);
        let done = energy_flow_run(&mut cur, &mut prev, &psi, &src, nx, ny, &p, &kappas, &never).unwrap();
        assert_eq!(done, Completion::Done);
        let mut steps = vec![e0.clone()];
        for &kappa in &kappas {
            let mut next = vec![0.0; nx * ny];
            let last = steps.last().unwrap();
            energy_flow_step(last, &psi, &src, nx, ny, &FlowParams { kappa, ..p }, &mut next).unwrap();
            steps.push(next);
        }
        assert_eq!(cur, steps[3]);
        assert_eq!(prev, steps[2]);
        let raised = AtomicBool::new(true);
        let (mut cur, mut prev) = (e0.clone(), vec![0.0; nx * ny]);
        let stopped = energy_flow_run(&mut cur, &mut prev, &psi, &src, nx, ny, &p, &kappas, &raised).unwrap();
        assert_eq!(stopped, Completion::Stopped);
        assert_eq!(cur, e0);
    }
}

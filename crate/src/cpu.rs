//! Runtime CPU feature detection and the choice of kernel path.
//!
//! The prebuilt binary targets the baseline ISA (x86-64 v1, aarch64 + NEON), so the
//! wider paths are picked at run time, once per process. `CIMM_SIMD=scalar` forces the
//! scalar reference path (for debugging and for cross-checking results).

use std::sync::OnceLock;

/// The kernel path every dispatcher in this crate follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimdPath {
    /// x86-64 with AVX2 and FMA: 4 × f64 lanes with fused multiply-add.
    Avx2Fma,
    /// aarch64 NEON: 2 × f64 lanes with fused multiply-add.
    Neon,
    /// Portable scalar reference.
    Scalar,
}

impl SimdPath {
    pub fn as_str(self) -> &'static str {
        match self {
            SimdPath::Avx2Fma => "avx2+fma",
            SimdPath::Neon => "neon",
            SimdPath::Scalar => "scalar",
        }
    }
}

/// Features detected on this CPU (independent of `CIMM_SIMD`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuFeatures {
    pub sse41: bool,
    pub avx2: bool,
    pub fma: bool,
    pub neon: bool,
}

impl CpuFeatures {
    /// Names in a stable order, e.g. `["sse4.1", "avx2", "fma"]`.
    pub fn names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.sse41 {
            v.push("sse4.1");
        }
        if self.avx2 {
            v.push("avx2");
        }
        if self.fma {
            v.push("fma");
        }
        if self.neon {
            v.push("neon");
        }
        v
    }
}

fn detect() -> CpuFeatures {
    #[allow(unused_mut)]
    let mut f = CpuFeatures::default();
    #[cfg(target_arch = "x86_64")]
    {
        f.sse41 = std::arch::is_x86_feature_detected!("sse4.1");
        f.avx2 = std::arch::is_x86_feature_detected!("avx2");
        f.fma = std::arch::is_x86_feature_detected!("fma");
    }
    #[cfg(target_arch = "aarch64")]
    {
        f.neon = std::arch::is_aarch64_feature_detected!("neon");
    }
    f
}

/// The CPU's features, detected once.
pub fn cpu_features() -> CpuFeatures {
    static FEATURES: OnceLock<CpuFeatures> = OnceLock::new();
    *FEATURES.get_or_init(detect)
}

/// Picks the path from the detected features and the `CIMM_SIMD` override
/// (`scalar` forces the reference path; any other value is ignored).
fn choose(features: CpuFeatures, simd_env: Option<&str>) -> SimdPath {
    if simd_env.is_some_and(|v| v.trim().eq_ignore_ascii_case("scalar")) {
        return SimdPath::Scalar;
    }
    if features.avx2 && features.fma {
        SimdPath::Avx2Fma
    } else if features.neon {
        SimdPath::Neon
    } else {
        SimdPath::Scalar
    }
}

/// The path the kernels take in this process; `CIMM_SIMD` is read once.
pub fn simd_path() -> SimdPath {
    static PATH: OnceLock<SimdPath> = OnceLock::new();
    *PATH.get_or_init(|| choose(cpu_features(), std::env::var("CIMM_SIMD").ok().as_deref()))
}

/// The best path the CPU supports, ignoring `CIMM_SIMD` (tests compare it with scalar).
pub fn best_path() -> SimdPath {
    choose(cpu_features(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_forces_scalar() {
        let all = CpuFeatures {
            sse41: true,
            avx2: true,
            fma: true,
            neon: false,
        };
        assert_eq!(choose(all, None), SimdPath::Avx2Fma);
        assert_eq!(choose(all, Some("scalar")), SimdPath::Scalar);
        assert_eq!(choose(all, Some(" SCALAR ")), SimdPath::Scalar);
        assert_eq!(choose(all, Some("avx2")), SimdPath::Avx2Fma);
        let no_fma = CpuFeatures { fma: false, ..all };
        assert_eq!(choose(no_fma, None), SimdPath::Scalar);
        let arm = CpuFeatures {
            neon: true,
            ..CpuFeatures::default()
        };
        assert_eq!(choose(arm, None), SimdPath::Neon);
    }

    #[test]
    fn names_are_consistent() {
        let f = cpu_features();
        let names = f.names();
        assert_eq!(names.contains(&"avx2"), f.avx2);
        assert!(["avx2+fma", "neon", "scalar"].contains(&simd_path().as_str()));
    }
}

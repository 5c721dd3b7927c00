//! The two parameter dtypes of the optimizer kernels: f32 and f64 (lib/kernels.ts, `Real`).
//!
//! The optimizer kernels ([`crate::optim`], [`crate::prodigy`],
//! [`crate::balance`]) are written once, generic over [`Real`]: every operation is the IEEE
//! operation of the parameters' dtype, unfused (Rust never contracts a·b + c on its own), so
//! an f64 step is the f32 step's operations in f64, in the same order, bit-identical to the
//! JS reference (which computes in f64 and rounds to f32 only for f32). Hyperparameters
//! arrive in f64 and are rounded once to the dtype with [`Real::from_f64`]; sums are
//! accumulated in f64 in both dtypes.

use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub};

/// f32 or f64: what the optimizer kernels need of a dtype.
pub trait Real:
    Copy
    + Send
    + Sync
    + Debug
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + MulAssign
    + 'static
{
    const ZERO: Self;
    const ONE: Self;
    /// The JS array of this dtype ("Float32Array", "Float64Array"), for error messages.
    const ARRAY: &'static str;
    /// x rounded to the dtype (round to nearest even; the identity for f64).
    fn from_f64(x: f64) -> Self;
    /// The value in f64 (exact).
    fn to_f64(self) -> f64;
    /// The correctly rounded square root in the dtype.
    fn sqrt(self) -> Self;
    fn abs(self) -> Self;
    fn is_finite(self) -> bool;
}

macro_rules! real {
    ($t:ty, $array:literal) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const ARRAY: &'static str = $array;
            #[inline(always)]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
        }
    };
}

real!(f32, "Float32Array");
real!(f64, "Float64Array");

//! Run-time selection of the instruction set, for the element-wise kernels and the
//! GEMM alike.
//!
//! `LAYERWISE_ISA=avx2` (or `baseline`) caps the choice below what the CPU has, so the
//! AVX2 path can be measured on an AVX-512 machine; it never raises it.

use std::sync::OnceLock;

/// The instruction sets the kernels are compiled for, best last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    Baseline,
    Avx2,
    Avx512,
}

impl Isa {
    pub fn name(self) -> &'static str {
        match self {
            Isa::Baseline => "baseline x86-64",
            Isa::Avx2 => "AVX2+FMA",
            Isa::Avx512 => "AVX-512",
        }
    }
}

/// The best instruction set this CPU has, capped by `LAYERWISE_ISA`.
pub fn isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(|| {
        let cap = match std::env::var("LAYERWISE_ISA").as_deref() {
            Ok("baseline") => Isa::Baseline,
            Ok("avx2") => Isa::Avx2,
            _ => Isa::Avx512,
        };
        detected().min(cap)
    })
}

fn detected() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512vl")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512dq")
            && std::is_x86_feature_detected!("bmi2")
        {
            return Isa::Avx512;
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return Isa::Avx2;
        }
    }
    Isa::Baseline
}

/// Defines `pub fn $name` that runs its body compiled for the instruction set `isa()`
/// picks. The body must be plain safe Rust over slices; LLVM vectorises it per set.
macro_rules! dispatch {
    ($(#[$m:meta])* pub fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$m])*
        #[allow(clippy::too_many_arguments)]
        pub fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn body($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            match $crate::simd::isa() {
                $crate::simd::Isa::Avx512 => {
                    #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,bmi2")]
                    fn v4($($arg: $ty),*) $(-> $ret)? { body($($arg),*) }
                    // SAFETY: `isa()` only says Avx512 when the CPU has these features.
                    return unsafe { v4($($arg),*) };
                }
                $crate::simd::Isa::Avx2 => {
                    #[target_feature(enable = "avx2,fma")]
                    fn v3($($arg: $ty),*) $(-> $ret)? { body($($arg),*) }
                    // SAFETY: `isa()` only says Avx2 when the CPU has AVX2 and FMA.
                    return unsafe { v3($($arg),*) };
                }
                $crate::simd::Isa::Baseline => {}
            }
            body($($arg),*)
        }
    };
}

pub(crate) use dispatch;

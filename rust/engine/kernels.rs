//! The arithmetic of operations and filters: binary and unary ops, checked ops, lookups, kept-set
//! helpers.

use super::*;

#[inline(always)]
pub(crate) fn bin(op: BinOp, x: f64, y: f64) -> f64 {
    let b = |c: bool| if c { 1.0 } else { 0.0 };
    match op {
        BinOp::Add => x + y,
        BinOp::Sub => x - y,
        BinOp::Mul => x * y,
        BinOp::Div => x / y,
        BinOp::Pow => x.powf(y),
        BinOp::Lt => b(x < y),
        BinOp::Le => b(x <= y),
        BinOp::Gt => b(x > y),
        BinOp::Ge => b(x >= y),
        BinOp::Eq => b(x == y),
        BinOp::Ne => b(x != y),
        BinOp::And => b(x != 0.0 && y != 0.0),
        BinOp::Or => b(x != 0.0 || y != 0.0),
        BinOp::Min => x.min(y),
        BinOp::Max => x.max(y),
        BinOp::Coalesce => if x.is_nan() { y } else { x },
    }
}

/// A checked op of a user's expression: min and max pass a missing value (NaN) on instead of
/// skipping it; everything else as `bin`.
#[inline(always)]
pub(crate) fn bin_checked(op: BinOp, x: f64, y: f64) -> f64 {
    match op {
        BinOp::Min | BinOp::Max if x.is_nan() || y.is_nan() => f64::NAN,
        _ => bin(op, x, y),
    }
}

/// The rule of expressions (the same in `costspec.expr.arith`, with the same words): a value
/// computed from operands that all have values must be finite; a missing operand (NaN) gives a
/// missing result. Returns why `r = op(x, y)` breaks the rule, if it does.
pub(crate) fn checked(op: Option<BinOp>, un_op: Option<UnOp>, x: f64, y: f64, r: f64) -> Option<&'static str> {
    if r.is_finite() || x.is_nan() || y.is_nan() {
        return None;
    }
    Some(match (op, un_op) {
        (Some(BinOp::Div), _) if y == 0.0 => "division by zero",
        (Some(BinOp::Pow), _) if x == 0.0 => "zero to a negative power",
        (Some(BinOp::Pow), _) if r.is_nan() => "a negative number to a fractional power",
        (_, Some(UnOp::Log)) => "log of a number <= 0",
        (_, Some(UnOp::Sqrt)) => "square root of a negative number",
        _ => "overflow (beyond ±1.8e308)",
    })
}

/// Whether every value is finite: a branch-free pass over the exponent bits with no compare, so
/// that it vectorises on baseline x86-64 (SSE2 has 64-bit and, add and or, but no 64-bit compare).
/// The exponent field is all ones exactly for inf and NaN, and only then does adding one to it
/// carry into the sign bit.
#[inline]
pub(crate) fn all_finite(v: &[f64]) -> bool {
    const EXP: u64 = 0x7ff0_0000_0000_0000;
    const ONE: u64 = 0x0010_0000_0000_0000;
    let mut acc = [0u64; 4];
    let chunks = v.chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, x) in acc.iter_mut().zip(c) {
            *a |= (x.to_bits() & EXP) + ONE;
        }
    }
    let tail = rest.iter().fold(0u64, |a, x| a | ((x.to_bits() & EXP) + ONE));
    (acc[0] | acc[1] | acc[2] | acc[3] | tail) >> 63 == 0
}

#[inline(always)]
pub(crate) fn un(op: UnOp, x: f64) -> f64 {
    match op {
        UnOp::Neg => -x,
        UnOp::Not => {
            if x == 0.0 {
                1.0
            } else {
                0.0
            }
        }
        UnOp::Log => x.ln(),
        UnOp::Exp => x.exp(),
        UnOp::Sqrt => x.sqrt(),
        UnOp::Ceil => x.ceil(),
        UnOp::Floor => x.floor(),
    }
}


/// Keep the positions of `kept` that are also in `cand` (both ascending).
pub(crate) fn intersect(kept: &mut Vec<u32>, cand: &[u32]) {
    let mut c = 0;
    kept.retain(|&j| {
        while c < cand.len() && cand[c] < j {
            c += 1;
        }
        c < cand.len() && cand[c] == j
    });
}

/// Append the positions of `x` where `f` holds. Eight at a time with a branch-free test first, so a
/// filter that keeps little costs about one vectorised comparison per point.
#[inline(always)]
pub(crate) fn keep_where(kept: &mut Vec<u32>, x: &[f64], f: impl Fn(f64) -> bool) {
    keep_where_from(kept, x, 0, f)
}

/// `keep_where` over a slice that starts at position `base` of the block.
pub(crate) fn keep_where_from(kept: &mut Vec<u32>, x: &[f64], base: u32, f: impl Fn(f64) -> bool) {
    let mut chunks = x.chunks_exact(8);
    let mut base = base;
    for chunk in &mut chunks {
        let mut any = false;
        for &v in chunk {
            any |= f(v);
        }
        if any {
            for (k, &v) in chunk.iter().enumerate() {
                if f(v) {
                    kept.push(base + k as u32);
                }
            }
        }
        base += 8;
    }
    for (k, &v) in chunks.remainder().iter().enumerate() {
        if f(v) {
            kept.push(base + k as u32);
        }
    }
}

pub(crate) fn lookup(t: &TableSpec, a: f64, b: f64) -> f64 {
    let rows = t.values.len() / t.cols;
    if a >= 0.0 && b >= 0.0 && (a as usize) < rows && (b as usize) < t.cols {
        t.values[a as usize * t.cols + b as usize]
    } else {
        f64::NAN
    }
}

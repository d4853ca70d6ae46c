use super::*;

/// Columnar output into caller-provided buffers (one per output, by kind), from row `row` on.
pub struct Columns {
    pub ptrs: Vec<*mut u8>,
    pub kinds: Vec<OutKind>,
    pub row: usize,
    pub capacity: usize,
}

unsafe impl Send for Columns {}

impl Sink for Columns {
    fn emit(&mut self, kept: &[u32], all: bool, columns: &[Source<'_>], _index0: u64) {
        let n = kept.len();
        assert!(self.row + n <= self.capacity, "output buffer overflow");
        for ((&ptr, &kind), src) in self.ptrs.iter().zip(&self.kinds).zip(columns) {
            match kind {
                OutKind::F64 => {
                    // SAFETY: the caller guarantees `capacity` rows of writable memory per column.
                    let col = unsafe { std::slice::from_raw_parts_mut((ptr as *mut f64).add(self.row), n) };
                    match src {
                        Source::Scalar(v) => col.fill(*v),
                        Source::Vector(v) if all => col.copy_from_slice(&v[..n]),
                        Source::Vector(v) => {
                            for (d, &j) in col.iter_mut().zip(kept) {
                                *d = v[j as usize];
                            }
                        }
                    }
                }
                OutKind::I64 => {
                    // SAFETY: as for F64, 8 bytes a row.
                    let col = unsafe { std::slice::from_raw_parts_mut((ptr as *mut i64).add(self.row), n) };
                    let whole = |x: f64| if x.is_nan() { i64::MIN } else { x as i64 };
                    match src {
                        Source::Scalar(v) => col.fill(whole(*v)),
                        Source::Vector(v) => {
                            for (d, &j) in col.iter_mut().zip(kept) {
                                *d = whole(v[j as usize]);
                            }
                        }
                    }
                }
                OutKind::I32 => {
                    let col = unsafe { std::slice::from_raw_parts_mut((ptr as *mut i32).add(self.row), n) };
                    match src {
                        // (a category index; NaN, no value, as -1)
                        Source::Scalar(v) => col.fill(if v.is_nan() { -1 } else { *v as i32 }),
                        Source::Vector(v) => {
                            for (d, &j) in col.iter_mut().zip(kept) {
                                let x = v[j as usize];
                                *d = if x.is_nan() { -1 } else { x as i32 };
                            }
                        }
                    }
                }
                OutKind::Bool => {
                    for (r, &j) in kept.iter().enumerate() {
                        let bit = self.row + r;
                        let v = src.at(j as usize);
                        // SAFETY: bit < capacity; regions of different sinks start on byte boundaries.
                        unsafe {
                            let byte = ptr.add(bit / 8);
                            if v != 0.0 && !v.is_nan() {
                                *byte |= 1 << (bit % 8);
                            } else {
                                *byte &= !(1 << (bit % 8));
                            }
                        }
                    }
                }
            }
        }
        self.row += n;
    }
}


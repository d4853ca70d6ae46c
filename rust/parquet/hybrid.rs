//! Parquet's RLE / bit-packing hybrid encoding (definition levels and dictionary indices), fed
//! whole runs: a run of eight or more equal values is one RLE run, shorter ones are bit-packed in
//! groups of eight. The engine's columns come in long runs (a value computed at an outer loop level
//! repeats over the inner axes), so encoding costs per run, not per value.
//!
//! Format (parquet-format, Encodings.md): `rle-run := varint(len << 1), value in ceil(w/8) bytes
//! little-endian`; `bit-packed-run := varint(groups << 1 | 1), groups × w bytes`, values packed
//! least-significant bit first.

/// At most this many groups of eight per bit-packed run (as Arrow's C++ writer: a one-byte header).
const MAX_GROUPS: usize = 63;

pub struct Hybrid {
    out: Vec<u8>,
    width: u32,
    /// Values waiting to be bit-packed (fewer than 8 · MAX_GROUPS).
    literals: Vec<u32>,
    /// The run being extended (consecutive calls with the same value make one run).
    pending: (u32, usize),
}

impl Hybrid {
    pub fn new(width: u32) -> Hybrid {
        debug_assert!(width <= 32);
        Hybrid { out: Vec::new(), width, literals: Vec::with_capacity(8 * MAX_GROUPS), pending: (0, 0) }
    }

    /// `n` copies of `value` (< 2^width).
    pub fn run(&mut self, value: u32, n: usize) {
        if n == 0 {
            return;
        }
        if self.pending.0 == value || self.pending.1 == 0 {
            self.pending = (value, self.pending.1 + n);
        } else {
            let (v, m) = std::mem::replace(&mut self.pending, (value, n));
            self.emit(v, m);
        }
    }

    /// Each of `values` in turn (equal neighbours as runs).
    pub fn put_slice(&mut self, values: &[u32]) {
        let mut i = 0;
        while i < values.len() {
            let v = values[i];
            let mut j = i + 1;
            while j < values.len() && values[j] == v {
                j += 1;
            }
            self.run(v, j - i);
            i = j;
        }
    }

    fn emit(&mut self, value: u32, mut n: usize) {
        if n == 0 {
            return;
        }
        // Literals pending: fill their last group of eight from this run first (a bit-packed run
        // holds whole groups), then the rest is a run of its own if long enough.
        if !self.literals.is_empty() {
            let pad = (8 - self.literals.len() % 8) % 8;
            let take = pad.min(n);
            self.literals.extend(std::iter::repeat_n(value, take));
            n -= take;
            if self.literals.len() % 8 == 0 && (n >= 8 || self.literals.len() == 8 * MAX_GROUPS) {
                self.flush_literals();
            }
            if n == 0 {
                return;
            }
        }
        if n >= 8 && self.literals.is_empty() {
            self.rle(value, n);
        } else {
            for _ in 0..n {
                self.literals.push(value);
                if self.literals.len() == 8 * MAX_GROUPS {
                    self.flush_literals();
                }
            }
        }
    }

    /// The encoded bytes; a last partial group is padded with zeros (readers stop at the page's
    /// value count).
    pub fn finish(mut self) -> Vec<u8> {
        let (v, m) = std::mem::take(&mut self.pending);
        self.emit(v, m);
        if !self.literals.is_empty() {
            let pad = (8 - self.literals.len() % 8) % 8;
            self.literals.extend(std::iter::repeat_n(0, pad));
            self.flush_literals();
        }
        self.out
    }

    fn rle(&mut self, value: u32, n: usize) {
        varint(&mut self.out, (n as u64) << 1);
        let bytes = self.width.div_ceil(8) as usize;
        self.out.extend_from_slice(&value.to_le_bytes()[..bytes]);
    }

    fn flush_literals(&mut self) {
        debug_assert!(self.literals.len() % 8 == 0);
        let groups = self.literals.len() / 8;
        varint(&mut self.out, ((groups as u64) << 1) | 1);
        let mut acc: u64 = 0;
        let mut bits = 0u32;
        for &v in &self.literals {
            acc |= (v as u64) << bits;
            bits += self.width;
            while bits >= 8 {
                self.out.push(acc as u8);
                acc >>= 8;
                bits -= 8;
            }
        }
        debug_assert_eq!(bits, 0); // (8 values × width bits is whole bytes)
        self.literals.clear();
    }
}

/// PLAIN booleans: bits, least significant first.
pub struct Bitmap {
    out: Vec<u8>,
    bits: u32,
}

impl Hybrid {
    pub fn bitmap() -> Bitmap {
        Bitmap { out: Vec::new(), bits: 0 }
    }
}

impl Bitmap {
    pub fn push(&mut self, b: bool) {
        if self.bits % 8 == 0 {
            self.out.push(0);
        }
        if b {
            *self.out.last_mut().unwrap() |= 1 << (self.bits % 8);
        }
        self.bits += 1;
    }

    pub fn finish(self) -> Vec<u8> {
        self.out
    }
}

pub fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Bits needed for indices below `n` (at least 1).
pub fn width_for(n: usize) -> u32 {
    if n <= 2 {
        1
    } else {
        usize::BITS - (n - 1).leading_zeros()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain decoder of the hybrid format, as the format document states it.
    fn decode(mut b: &[u8], width: u32, count: usize) -> Vec<u32> {
        let mut out = Vec::new();
        while out.len() < count {
            let mut h: u64 = 0;
            let mut shift = 0;
            loop {
                let byte = b[0];
                b = &b[1..];
                h |= ((byte & 0x7f) as u64) << shift;
                shift += 7;
                if byte < 0x80 {
                    break;
                }
            }
            if h & 1 == 0 {
                let n = (h >> 1) as usize;
                let bytes = width.div_ceil(8) as usize;
                let mut v = [0u8; 4];
                v[..bytes].copy_from_slice(&b[..bytes]);
                b = &b[bytes..];
                out.extend(std::iter::repeat_n(u32::from_le_bytes(v), n));
            } else {
                let groups = (h >> 1) as usize;
                let nbytes = groups * width as usize;
                let (packed, rest) = b.split_at(nbytes);
                b = rest;
                for i in 0..groups * 8 {
                    let mut v = 0u32;
                    for k in 0..width as usize {
                        let bit = i * width as usize + k;
                        v |= (((packed[bit / 8] >> (bit % 8)) & 1) as u32) << k;
                    }
                    out.push(v);
                }
            }
        }
        out.truncate(count);
        out
    }

    fn check(runs: &[(u32, usize)], width: u32) {
        let mut h = Hybrid::new(width);
        let mut want = Vec::new();
        for &(v, n) in runs {
            h.run(v, n);
            want.extend(std::iter::repeat_n(v, n));
        }
        let got = decode(&h.finish(), width, want.len());
        assert_eq!(got, want, "runs {runs:?} width {width}");
    }

    #[test]
    fn runs_round_trip() {
        check(&[(1, 1000)], 1);
        check(&[(0, 3), (1, 2), (0, 1), (1, 100), (0, 7), (1, 9)], 1);
        check(&[(5, 1), (6, 1), (7, 1)], 3);
        let mut many = Vec::new();
        for i in 0..5000u32 {
            many.push((i % 70_000, (i as usize * 7919) % 13 + 1));
        }
        check(&many, 17);
        check(&many.iter().map(|&(v, n)| (v & 0xff, n)).collect::<Vec<_>>(), 8);
        check(&[(u32::MAX, 3), (0, 20), (u32::MAX, 9)], 32);
        // Many short runs in a row: bit-packed runs split at 63 groups.
        check(&(0..2000u32).map(|i| (i % 2, 1)).collect::<Vec<_>>(), 1);
    }

    #[test]
    fn slices_round_trip() {
        let values: Vec<u32> = (0..3000u32).map(|i| if i % 97 < 40 { 5 } else { i % 50 }).collect();
        let mut h = Hybrid::new(6);
        h.put_slice(&values[..1234]);
        h.put_slice(&values[1234..]);
        assert_eq!(decode(&h.finish(), 6, values.len()), values);
    }

    #[test]
    fn widths() {
        assert_eq!(width_for(1), 1);
        assert_eq!(width_for(2), 1);
        assert_eq!(width_for(3), 2);
        assert_eq!(width_for(256), 8);
        assert_eq!(width_for(257), 9);
    }
}

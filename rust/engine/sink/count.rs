use super::*;

/// Counts kept points without writing them (evaluation alone).
pub struct Count(pub usize);

impl Sink for Count {
    fn emit(&mut self, kept: &[u32], _all: bool, _columns: &[Source<'_>], _index0: u64) {
        self.0 += kept.len();
    }
}


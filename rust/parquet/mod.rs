//! Parquet part files written from the engine's output buffers, in the calling thread (no Python
//! here). The `parquet` crate (Apache Arrow's Rust implementation) writes the file: magic, page
//! headers, row-group and footer metadata. What this module adds is the choice of encoding from
//! the engine's structure: a value computed at an outer loop level repeats over the inner axes, so
//! most columns are long runs. A column whose runs are long (on average `MIN_RUN` values or more)
//! is written as a dictionary of its runs' values with run-length encoded indices — no hashing, a
//! few bytes per run — and the others plain; every page zstd-compressed with one reused context.
//! A run's value may recur in the dictionary (a later run of the same value): Parquet readers
//! look indices up, they do not need a dictionary of distinct values.
//!
//! Values follow the engine's conventions for "no value": NaN for doubles and flags, i64::MIN for
//! whole numbers, -1 for category indices; they are written as nulls (definition level 0).

pub mod arrow_schema;
mod cheapest;
pub mod footer;
mod hybrid;

pub use cheapest::{Cheapest, View};

use std::sync::Arc;

use bytes::Bytes;
use parquet::basic::{Compression, Encoding, LogicalType, Repetition, Type as Physical, ZstdLevel};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::data_type::ByteArray;
use parquet::file::metadata::{ColumnChunkMetaData, KeyValue};
use parquet::file::properties::{WriterProperties, WriterVersion};
use parquet::file::statistics::Statistics;
use parquet::file::writer::{SerializedFileWriter, SerializedPageWriter, TrackedWrite};
use parquet::schema::types::{ColumnDescPtr, Type};

use hybrid::{width_for, Hybrid};

/// Rows per data page (256 KB of doubles: zstd's level 1 compresses inputs of this size better than
/// 1 MB ones, 4.7 against 5.0 bytes a value for a sweep's wall-clock days).
pub const PAGE_ROWS: usize = 32_768;
/// Most rows per row group `write_range` takes (its buffers hold two row groups per column).
pub const MAX_GROUP_ROWS: usize = 1 << 24;
/// A column is dictionary-encoded by runs when its runs average at least this many values.
pub const MIN_RUN: usize = 8;

/// What a column holds, as the engine writes it.
#[derive(Clone, Debug)]
pub enum Kind {
    /// Doubles; NaN is no value when the flag says so (else NaN is written as a value).
    F64(bool),
    /// Whole numbers; i64::MIN: no value.
    I64,
    /// An index into these category names; -1: no value.
    Category(Vec<String>),
    /// A flag as a double: nonzero true, 0 false, NaN no value.
    Flag,
}

#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    pub kind: Kind,
    /// Declared OPTIONAL (may hold nulls) or REQUIRED.
    pub nullable: bool,
}

/// One column's rows for a row group: consecutive slices of the engine's buffer (8 bytes a row, or
/// 4 for categories), in row order.
pub enum Rows<'a> {
    Wide(Vec<&'a [u64]>),
    Narrow(Vec<&'a [i32]>),
}

/// Why `write_range` stopped.
#[derive(Debug)]
pub enum WriteError<E> {
    /// A point the model cannot evaluate, or the run was stopped (`PointError::STOPPED`).
    Point(crate::engine::PointError),
    Encode(String),
    /// What `emit` returned.
    Emit(E),
}

/// A part file being written: row groups in, encoded bytes out (the caller writes them where it
/// wants, in order).
pub struct PartWriter {
    writer: SerializedFileWriter<Vec<u8>>,
    columns: Vec<Column>,
    zstd: Zstd,
    level: i32,
}

/// zstd with one context reused page after page. One-shot compression at the level (zstd picks
/// its parameters from the level and the page's size, as Arrow's C++ writer calls it).
struct Zstd {
    cctx: zstd::zstd_safe::CCtx<'static>,
    level: i32,
}

impl Zstd {
    fn new(level: i32) -> Zstd {
        Zstd { cctx: zstd::zstd_safe::CCtx::create(), level }
    }

    fn compress(&mut self, raw: &[u8]) -> Result<Bytes, String> {
        let mut out: Vec<u8> = Vec::with_capacity(zstd::zstd_safe::compress_bound(raw.len()));
        self.cctx.compress(&mut out, raw, self.level).map_err(|code| zstd::zstd_safe::get_error_name(code).to_string())?;
        Ok(Bytes::from(out))
    }
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl PartWriter {
    /// A part with these columns, key-value metadata and zstd level.
    pub fn new(columns: Vec<Column>, metadata: Vec<(String, String)>, level: i32) -> Result<PartWriter, String> {
        let fields = columns
            .iter()
            .map(|c| {
                let (physical, logical) = match c.kind {
                    Kind::F64(_) => (Physical::DOUBLE, None),
                    Kind::I64 => (Physical::INT64, Some(LogicalType::Integer { bit_width: 64, is_signed: true })),
                    Kind::Category(_) => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
                    Kind::Flag => (Physical::BOOLEAN, None),
                };
                let rep = if c.nullable { Repetition::OPTIONAL } else { Repetition::REQUIRED };
                Type::primitive_type_builder(&c.name, physical)
                    .with_logical_type(logical)
                    .with_repetition(rep)
                    .build()
                    .map(Arc::new)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        let schema = Arc::new(Type::group_type_builder("schema").with_fields(fields).build().map_err(err)?);
        let level = level.clamp(1, 22);
        let props = WriterProperties::builder()
            .set_writer_version(WriterVersion::PARQUET_1_0)
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(level).map_err(err)?))
            .set_key_value_metadata(Some(metadata.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect()))
            .set_created_by(format!("costspec {} (parquet-rs)", env!("CARGO_PKG_VERSION")))
            .build();
        let writer = SerializedFileWriter::new(Vec::new(), schema, Arc::new(props)).map_err(err)?;
        let zstd = Zstd::new(level);
        Ok(PartWriter { writer, columns, zstd, level })
    }

    /// Encode one row group (every column the same number of rows) and return the file's bytes
    /// so far not yet returned.
    pub fn row_group(&mut self, rows: &[Rows<'_>]) -> Result<Vec<u8>, String> {
        if rows.len() != self.columns.len() {
            return Err(format!("expected {} columns, got {}", self.columns.len(), rows.len()));
        }
        let n = rows.first().map_or(0, len);
        if rows.iter().any(|r| len(r) != n) {
            return Err("columns of different lengths".into());
        }
        if n > 0 {
            let schema = self.writer.schema_descr().clone();
            let descrs: Vec<ColumnDescPtr> = (0..schema.num_columns()).map(|i| schema.column(i)).collect();
            let mut rg = self.writer.next_row_group().map_err(err)?;
            let mut scratch = Vec::new();
            for ((col, r), descr) in self.columns.iter().zip(rows).zip(descrs) {
                let chunk = encode_column(col, r, descr, &mut self.zstd, self.level, &mut scratch)?;
                let (buf, close) = chunk;
                rg.append_column(&Bytes::from(buf), close).map_err(err)?;
            }
            rg.close().map_err(err)?;
        }
        self.writer.flush().map_err(err)?;
        Ok(std::mem::take(self.writer.inner_mut()))
    }

    /// Evaluate points `[start, end)` of `program` on this thread and encode the kept rows in row
    /// groups of `group_rows` (the last one shorter), with the engine writing straight into this
    /// part's buffers (reused: `2 · group_rows` rows per column). After each engine call of
    /// `group_rows` points, `emit(bytes, points, rows)` gets the file's new bytes (often none) and
    /// the points evaluated and rows kept; an error from it stops the run. `cheapest` sees every
    /// kept row. Returns the rows kept.
    pub fn write_range<E>(
        &mut self,
        program: &crate::engine::Program,
        (start, end): (u64, u64),
        group_rows: usize,
        stop: &std::sync::atomic::AtomicBool,
        mut cheapest: Option<&mut Cheapest>,
        mut emit: impl FnMut(Vec<u8>, u64, usize) -> Result<(), E>,
    ) -> Result<u64, WriteError<E>> {
        use crate::engine::{Columns, OutKind};
        if group_rows == 0 || group_rows > MAX_GROUP_ROWS {
            return Err(WriteError::Encode(format!("group_rows must be 1..={MAX_GROUP_ROWS}")));
        }
        let g = group_rows;
        let kinds: Vec<OutKind> = program.outputs().iter().map(|o| o.kind).collect();
        if kinds.contains(&OutKind::Bool) {  // (plans hand flags over as doubles)
            return Err(WriteError::Encode("a bit-packed output column: flags come as doubles".into()));
        }
        if kinds.len() != self.columns.len() {
            return Err(WriteError::Encode(format!("{} columns for {} outputs", self.columns.len(), kinds.len())));
        }
        let cap = 2 * g;
        let mut wide: Vec<Vec<u64>> = kinds.iter().map(|k| if *k == OutKind::I32 { Vec::new() } else { vec![0; cap] }).collect();
        let mut narrow: Vec<Vec<i32>> = kinds.iter().map(|k| if *k == OutKind::I32 { vec![0; cap] } else { Vec::new() }).collect();
        let (end, mut a, mut rows, mut total) = (end.min(program.total()), start, 0usize, 0u64);
        while a < end || rows > 0 {
            let b = (a + g as u64).min(end);
            let mut new = 0;
            if a < b {
                let ptrs = kinds
                    .iter()
                    .enumerate()
                    .map(|(c, k)| if *k == OutKind::I32 { narrow[c].as_mut_ptr() as *mut u8 } else { wide[c].as_mut_ptr() as *mut u8 })
                    .collect();
                let mut sink = Columns { ptrs, kinds: kinds.clone(), row: rows, capacity: cap };
                program.run_until(a, b, &mut sink, stop).map_err(WriteError::Point)?;
                new = sink.row - rows;
                if let Some(c) = cheapest.as_deref_mut() {
                    let (w, nw) = (&wide, &narrow);
                    let view = |col: usize| {
                        if kinds[col] == OutKind::I32 {
                            View::Narrow(&nw[col][rows..rows + new])
                        } else {
                            View::Wide(&w[col][rows..rows + new])
                        }
                    };
                    let val = |col: usize, r: usize| {
                        if kinds[col] == OutKind::I32 {
                            let x = nw[col][rows + r];
                            if x < 0 { f64::NAN } else { x as f64 }
                        } else if kinds[col] == OutKind::I64 {
                            let x = w[col][rows + r] as i64;
                            if x == i64::MIN { f64::NAN } else { x as f64 }
                        } else {
                            f64::from_bits(w[col][rows + r])
                        }
                    };
                    let bits = |col: usize, r: usize| {
                        if kinds[col] == OutKind::I32 { nw[col][rows + r] as i64 as u64 } else { w[col][rows + r] }
                    };
                    c.add(new, kinds.len(), view, val, bits);
                }
                rows = sink.row;
                total += new as u64;
            }
            // Full row groups go out; at the end, what is left.
            let mut out = Vec::new();
            while rows >= g || (b == end && rows > 0) {
                let take = rows.min(g);
                let cols: Vec<Rows<'_>> = kinds
                    .iter()
                    .enumerate()
                    .map(|(c, k)| if *k == OutKind::I32 { Rows::Narrow(vec![&narrow[c][..take]]) } else { Rows::Wide(vec![&wide[c][..take]]) })
                    .collect();
                out.extend(self.row_group(&cols).map_err(WriteError::Encode)?);
                for v in wide.iter_mut().filter(|v| !v.is_empty()) {
                    v.copy_within(take..rows, 0);
                }
                for v in narrow.iter_mut().filter(|v| !v.is_empty()) {
                    v.copy_within(take..rows, 0);
                }
                rows -= take;
            }
            emit(out, b.saturating_sub(a), new).map_err(WriteError::Emit)?;
            a = b;
            if a >= end && rows == 0 {
                break;
            }
        }
        Ok(total)
    }

    /// Write the footer; the last bytes of the file.
    pub fn finish(mut self) -> Result<Vec<u8>, String> {
        self.writer.finish().map_err(err)?;
        self.writer.flush().map_err(err)?;
        Ok(std::mem::take(self.writer.inner_mut()))
    }
}

fn len(r: &Rows<'_>) -> usize {
    match r {
        Rows::Wide(s) => s.iter().map(|x| x.len()).sum(),
        Rows::Narrow(s) => s.iter().map(|x| x.len()).sum(),
    }
}

/// A column's values as u64 (doubles by their bits) with their "no value" test, contiguous.
fn values<'a>(r: &'a Rows<'_>, scratch: &'a mut Vec<u64>) -> &'a [u64] {
    match r {
        Rows::Wide(s) if s.len() == 1 => s[0],
        Rows::Wide(s) => {
            scratch.clear();
            s.iter().for_each(|x| scratch.extend_from_slice(x));
            scratch
        }
        Rows::Narrow(s) => {
            scratch.clear();
            s.iter().for_each(|x| scratch.extend(x.iter().map(|&v| v as i64 as u64)));
            scratch
        }
    }
}

fn is_null(kind: &Kind, v: u64) -> bool {
    match kind {
        Kind::F64(true) | Kind::Flag => f64::from_bits(v).is_nan(),
        Kind::F64(false) => false,
        Kind::I64 => v as i64 == i64::MIN,
        Kind::Category(_) => (v as i64) < 0,
    }
}

/// Runs of equal values: (value, length), in order.
fn runs(v: &[u64]) -> Vec<(u64, usize)> {
    runs_below(v, usize::MAX).unwrap_or_default() // (fewer than usize::MAX changes: always)
}

/// How many values from the start of `v` equal `x` (eight at a time: the compiler vectorises the
/// comparison of a block, and runs are long).
pub(crate) fn run_len(v: &[u64], x: u64) -> usize {
    let mut i = 0;
    for block in v.chunks_exact(8) {
        if block.iter().fold(0, |acc, &y| acc | (y ^ x)) != 0 {
            break;
        }
        i += 8;
    }
    i + v[i..].iter().position(|&y| y != x).unwrap_or(v.len() - i)
}

/// How a column chunk's values are written.
enum Encoded {
    /// A dictionary page (its PLAIN bytes, its entry count) and each row's index into it (`NULL`:
    /// no value).
    Dict { page: Vec<u8>, entries: usize, index: Index },
    /// The values themselves.
    Plain,
}

/// The rows' dictionary indices: as runs (index, length), or one per row.
enum Index {
    Runs(Vec<(u32, usize)>),
    Each(Vec<u32>),
}

/// A run's index when the rows have no value.
const NULL: u32 = u32::MAX;

/// At most this many distinct values make a dictionary of a column without long runs (an axis that
/// varies fastest: a few GPU counts over and over).
const SMALL_DICT: usize = 1024;

/// The encoding of a column's values `v`, chosen from their runs and distinct values.
fn choose(kind: &Kind, v: &[u64]) -> Result<Encoded, String> {
    match kind {
        Kind::Flag => Ok(Encoded::Plain),
        Kind::Category(names) => {
            let runs = runs(v);
            if let Some(&(x, _)) = runs.iter().find(|&&(x, _)| !is_null(kind, x) && x as usize >= names.len()) {
                return Err(format!("category index {} of {} names", x as i64, names.len()));
            }
            let mut page = Vec::new();
            for s in names {
                page.extend_from_slice(&(s.len() as u32).to_le_bytes());
                page.extend_from_slice(s.as_bytes());
            }
            let runs = runs.into_iter().map(|(x, l)| (if is_null(kind, x) { NULL } else { x as u32 }, l)).collect();
            Ok(Encoded::Dict { page, entries: names.len(), index: Index::Runs(runs) })
        }
        _ => {
            if let Some(r) = runs_below(v, v.len() / MIN_RUN) {
                // A dictionary of the runs' values, in order (a value may recur: readers only look
                // indices up).
                let mut page = Vec::with_capacity(r.len() * 8);
                let mut runs = Vec::with_capacity(r.len());
                for (x, l) in r {
                    if is_null(kind, x) {
                        runs.push((NULL, l));
                    } else {
                        runs.push(((page.len() / 8) as u32, l));
                        page.extend_from_slice(&x.to_le_bytes());
                    }
                }
                let entries = page.len() / 8;
                return Ok(Encoded::Dict { page, entries, index: Index::Runs(runs) });
            }
            Ok(small_dict(kind, v).unwrap_or(Encoded::Plain))
        }
    }
}

/// Values as PLAIN bytes (little-endian): on a little-endian machine the memory itself.
fn le_bytes(v: &[u64]) -> std::borrow::Cow<'_, [u8]> {
    if cfg!(target_endian = "little") {
        // SAFETY: u64s are 8 initialised bytes each, u8 has no alignment requirement.
        std::borrow::Cow::Borrowed(unsafe { std::slice::from_raw_parts(v.as_ptr() as *const u8, v.len() * 8) })
    } else {
        std::borrow::Cow::Owned(v.iter().flat_map(|x| x.to_le_bytes()).collect())
    }
}

/// How many times a value differs from the one before it (the runs, less one): vectorised.
/// The runs of `v` if it changes value fewer than `limit` times, else None — found by stepping over
/// whole runs (eight values a compare) and stopped once there are too many: a column of runs is
/// not also counted value by value, a column of distinct values is decided after `limit` of them.
fn runs_below(v: &[u64], limit: usize) -> Option<Vec<(u64, usize)>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < v.len() {
        if out.len() == limit {
            return None; // (this run would be change number `limit`)
        }
        let len = run_len(&v[start..], v[start]);
        out.push((v[start], len));
        start += len;
    }
    if v.is_empty() && limit == 0 {
        None // (no change is not fewer than none)
    } else {
        Some(out)
    }
}

/// A dictionary of the distinct values, if there are at most SMALL_DICT and at most half as many as
/// values (an open-addressing table
/// of their bits; -0.0 and 0.0 stay distinct, as the bits are written).
fn small_dict(kind: &Kind, v: &[u64]) -> Option<Encoded> {
    const SLOTS: usize = 4 * SMALL_DICT; // (a power of two)
    let mut table = vec![(0u64, NULL); SLOTS];
    let mut page = Vec::new();
    let mut index: Vec<u32> = Vec::with_capacity(v.len());
    let mut last: Option<(u64, u32)> = None;
    for &x in v {
        if let Some((y, k)) = last {
            if y == x {
                index.push(k);
                continue;
            }
        }
        let k = if is_null(kind, x) {
            NULL
        } else {
            let mut h = (x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 52) as usize; // (12 bits: SLOTS)
            loop {
                let (key, k) = table[h];
                if k == NULL {
                    if page.len() / 8 == SMALL_DICT {
                        return None;
                    }
                    let k = (page.len() / 8) as u32;
                    page.extend_from_slice(&x.to_le_bytes());
                    table[h] = (x, k);
                    break k;
                }
                if key == x {
                    break k;
                }
                h = (h + 1) % SLOTS;
            }
        };
        last = Some((x, k));
        index.push(k);
    }
    let entries = page.len() / 8;
    // (worth it when values recur: on average at least twice)
    (2 * entries <= v.len()).then_some(Encoded::Dict { page, entries, index: Index::Each(index) })
}

/// One column chunk: its pages in a buffer, and the metadata `append_column` takes.
fn encode_column(
    col: &Column,
    rows: &Rows<'_>,
    descr: ColumnDescPtr,
    zstd: &mut Zstd,
    level: i32,
    scratch: &mut Vec<u64>,
) -> Result<(Vec<u8>, ColumnCloseResult), String> {
    let v = values(rows, scratch);
    let n = v.len();
    let kind = &col.kind;
    let encoded = choose(kind, v)?;
    let nulls = match &encoded {
        Encoded::Dict { index: Index::Runs(runs), .. } => runs.iter().filter(|r| r.0 == NULL).map(|r| r.1).sum(),
        Encoded::Dict { index: Index::Each(each), .. } => each.iter().filter(|&&k| k == NULL).count(),
        Encoded::Plain => v.iter().filter(|&&x| is_null(kind, x)).count(),
    };
    if nulls > 0 && !col.nullable {
        return Err(format!("column {}: a missing value in a column declared required", col.name));
    }

    let mut sink = TrackedWrite::new(Vec::new());
    let mut pages = SerializedPageWriter::new(&mut sink);
    let (mut total_unc, mut total_comp) = (0i64, 0i64);
    let mut dict_offset = None;
    let mut encodings = vec![Encoding::PLAIN, Encoding::RLE];
    let mut compress = |raw: &[u8]| zstd.compress(raw);

    if let Encoded::Dict { page, entries, .. } = &encoded {
        let buf = compress(page)?;
        let dict = Page::DictionaryPage { buf, num_values: *entries as u32, encoding: Encoding::PLAIN, is_sorted: false };
        let spec = pages.write_page(CompressedPage::new(dict, page.len())).map_err(err)?;
        dict_offset = Some(spec.offset as i64);
        total_unc += spec.uncompressed_size as i64;
        total_comp += spec.compressed_size as i64;
        encodings.push(Encoding::RLE_DICTIONARY);
    }

    // Data pages of PAGE_ROWS rows: [definition levels] then values.
    let mut data_offset = None;
    let (mut run_i, mut run_used) = (0usize, 0usize); // (a dictionary's: where the page starts)
    let mut raw = Vec::new();
    for page_start in (0..n).step_by(PAGE_ROWS) {
        let rows_in = PAGE_ROWS.min(n - page_start);
        raw.clear();
        let mut lv_bytes = Vec::new(); // (a v2 page: levels uncompressed, ahead of the values)
        let mut page_nulls = 0usize;
        let encoding = match &encoded {
            Encoded::Dict { index, entries, .. } => {
                let width = width_for((*entries).max(1));
                let mut levels = col.nullable.then(|| Hybrid::new(1));
                let mut idx = Hybrid::new(width);
                match index {
                    Index::Runs(runs) => {
                        let mut left = rows_in;
                        while left > 0 {
                            let (k, l) = runs[run_i];
                            let take = (l - run_used).min(left);
                            if let Some(lv) = levels.as_mut() {
                                lv.run(u32::from(k != NULL), take);
                            }
                            if k != NULL {
                                idx.run(k, take);
                            } else {
                                page_nulls += take;
                            }
                            left -= take;
                            run_used += take;
                            if run_used == l {
                                run_i += 1;
                                run_used = 0;
                            }
                        }
                    }
                    Index::Each(each) => {
                        let page = &each[page_start..page_start + rows_in];
                        if nulls == 0 {
                            if let Some(lv) = levels.as_mut() {
                                lv.run(1, rows_in);
                            }
                            idx.put_slice(page);
                        } else {
                            for &k in page {
                                if let Some(lv) = levels.as_mut() {
                                    lv.run(u32::from(k != NULL), 1);
                                }
                                if k != NULL {
                                    idx.run(k, 1);
                                } else {
                                    page_nulls += 1;
                                }
                            }
                        }
                    }
                }
                if let Some(lv) = levels {
                    lv_bytes = lv.finish();
                }
                raw.push(width as u8);
                raw.extend_from_slice(&idx.finish());
                Encoding::RLE_DICTIONARY
            }
            Encoded::Plain => {
                let page = &v[page_start..page_start + rows_in];
                page_nulls = if nulls == 0 { 0 } else { page.iter().filter(|&&x| is_null(kind, x)).count() };
                if col.nullable {
                    let mut lv = Hybrid::new(1);
                    let mut i = 0;
                    while i < rows_in {
                        let null = page_nulls > 0 && is_null(kind, page[i]);
                        let l = if page_nulls == 0 {
                            rows_in
                        } else {
                            page[i..].iter().position(|&y| is_null(kind, y) != null).unwrap_or(rows_in - i)
                        };
                        lv.run(u32::from(!null), l);
                        i += l;
                    }
                    lv_bytes = lv.finish();
                }
                if let Kind::Flag = kind {
                    let mut bits = Hybrid::bitmap();
                    for &x in page.iter().filter(|&&x| !is_null(kind, x)) {
                        bits.push(f64::from_bits(x) != 0.0);
                    }
                    raw.extend_from_slice(&bits.finish());
                } else if page_nulls == 0 {
                    raw.extend_from_slice(&le_bytes(page));
                } else {
                    page.iter().filter(|&&x| !is_null(kind, x)).for_each(|x| raw.extend_from_slice(&x.to_le_bytes()));
                }
                Encoding::PLAIN
            }
        };
        let values = compress(&raw)?;
        let mut buf = Vec::with_capacity(lv_bytes.len() + values.len());
        buf.extend_from_slice(&lv_bytes);
        buf.extend_from_slice(&values);
        let data = Page::DataPageV2 {
            buf: Bytes::from(buf),
            num_values: rows_in as u32,
            encoding,
            num_nulls: page_nulls as u32,
            num_rows: rows_in as u32,
            def_levels_byte_len: lv_bytes.len() as u32,
            rep_levels_byte_len: 0,
            is_compressed: true,
            statistics: None,
        };
        let spec = pages.write_page(CompressedPage::new(data, lv_bytes.len() + raw.len())).map_err(err)?;
        data_offset.get_or_insert(spec.offset as i64);
        total_unc += spec.uncompressed_size as i64;
        total_comp += spec.compressed_size as i64;
    }
    drop(pages);

    let mut b = ColumnChunkMetaData::builder(descr)
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(level).map_err(err)?))
        .set_encodings(encodings)
        .set_num_values(n as i64)
        .set_total_compressed_size(total_comp)
        .set_total_uncompressed_size(total_unc)
        .set_data_page_offset(data_offset.unwrap_or(0))
        .set_dictionary_page_offset(dict_offset);
    if n > 0 {
        b = b.set_statistics(statistics(kind, v, &encoded, nulls as u64));
    }
    let metadata = b.build().map_err(err)?;
    let buf = sink.into_inner().map_err(err)?;
    let close = ColumnCloseResult {
        bytes_written: total_comp as u64,
        rows_written: n as u64,
        metadata,
        bloom_filter: None,
        column_index: None,
        offset_index: None,
    };
    Ok((buf, close))
}

/// Chunk statistics: min, max (values with no value left out) and the null count.
fn statistics(kind: &Kind, v: &[u64], encoded: &Encoded, nulls: u64) -> Statistics {
    // (a dictionary's entries are the values there are: for categories, those some run uses)
    let entries: Vec<u64>;
    let vals: &[u64] = match (encoded, kind) {
        (Encoded::Dict { index: Index::Runs(runs), .. }, Kind::Category(_)) => {
            entries = runs.iter().filter(|r| r.0 != NULL).map(|r| r.0 as u64).collect();
            &entries
        }
        (Encoded::Dict { page, .. }, _) => {
            entries = page.chunks_exact(8).map(|b| u64::from_le_bytes(b.try_into().unwrap())).collect();
            &entries
        }
        (Encoded::Plain, _) => v,
    };
    match kind {
        Kind::F64(_) => {
            let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
            for &x in vals {
                let x = f64::from_bits(x);
                lo = lo.min(x); // (min and max pass NaN over)
                hi = hi.max(x);
            }
            let any = lo <= hi;
            // (as Arrow's writers: a zero minimum is -0.0 and a zero maximum +0.0)
            let lo = if lo == 0.0 { -0.0 } else { lo };
            let hi = if hi == 0.0 { 0.0 } else { hi };
            Statistics::double(any.then_some(lo), any.then_some(hi), None, Some(nulls), false)
        }
        Kind::I64 => {
            let (mut lo, mut hi) = (i64::MAX, i64::MIN);
            for &x in vals {
                let x = x as i64;
                if x != i64::MIN {
                    lo = lo.min(x);
                    hi = hi.max(x);
                }
            }
            let any = lo <= hi;
            Statistics::int64(any.then_some(lo), any.then_some(hi), None, Some(nulls), false)
        }
        Kind::Category(names) => {
            let mut seen: Vec<&str> = vals.iter().map(|&x| names[x as usize].as_str()).collect();
            seen.sort_unstable();
            let (lo, hi) = (seen.first().copied(), seen.last().copied());
            Statistics::byte_array(lo.map(ByteArray::from), hi.map(ByteArray::from), None, Some(nulls), false)
        }
        Kind::Flag => {
            let (mut f, mut t) = (false, false);
            for &x in vals {
                let x = f64::from_bits(x);
                t |= x != 0.0 && !x.is_nan();
                f |= x == 0.0;
            }
            let any = f || t;
            Statistics::boolean(any.then_some(!f), any.then_some(t), None, Some(nulls), false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(v: &[u64]) -> usize {
        v.windows(2).map(|w| usize::from(w[0] != w[1])).sum()
    }

    #[test]
    fn runs_below_is_the_full_count_compared() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..400 {
            let n = (next() % 20_000) as usize;
            let p = next() % 64; // (how often the value changes: 1 in p + 1)
            let mut v = Vec::with_capacity(n);
            let mut x = 0u64;
            for _ in 0..n {
                if next() % (p + 1) == 0 {
                    x = next() % 5;
                }
                v.push(x);
            }
            let full = changes(&v);
            for limit in [0, 1, full.saturating_sub(1), full, full + 1, n / MIN_RUN, n] {
                let got = runs_below(&v, limit);
                assert_eq!(got.is_some(), full < limit, "n {n} limit {limit} changes {full}");
                if let Some(r) = got {
                    assert_eq!(r, runs(&v));
                }
            }
        }
        assert!(runs_below(&[], 0).is_none() && runs_below(&[], 1) == Some(vec![]));
        assert!(runs_below(&[7], 1) == Some(vec![(7, 1)]) && runs_below(&[7], 0).is_none());
    }
}

//! A Parquet file's key-value metadata, read from its footer's bytes: what tells a part costspec
//! wrote from any other file (`costspec.targets`, which reads the bytes), without pyarrow.
//!
//! The footer is any file's that sits where an output goes, so it is read by a walker of Thrift's
//! compact protocol written for hostile input: every length is checked against the bytes that
//! remain before it is used, nothing is allocated from a claimed count, nesting is bounded; only
//! `FileMetaData`'s key-value list (field 5) is decoded, every other field skipped. (The `parquet`
//! crate's decoder reserves what a footer claims — a crafted footer aborted the process on a
//! 200 GB allocation — and panics on some truncations.)

type Result<T> = std::result::Result<T, String>;

const MAX_DEPTH: u32 = 64;

// Compact protocol types.
const STOP: u8 = 0;
const TRUE: u8 = 1;
const FALSE: u8 = 2;
const BYTE: u8 = 3;
const I16: u8 = 4;
const I32: u8 = 5;
const I64: u8 = 6;
const DOUBLE: u8 = 7;
const BINARY: u8 = 8;
const LIST: u8 = 9;
const SET: u8 = 10;
const MAP: u8 = 11;
const STRUCT: u8 = 12;
const UUID: u8 = 13;

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn left(&self) -> usize {
        self.b.len() - self.at
    }

    fn byte(&mut self) -> Result<u8> {
        let v = *self.b.get(self.at).ok_or("the footer ends early")?;
        self.at += 1;
        Ok(v)
    }

    fn advance(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.left() {
            return Err("the footer ends early".into());
        }
        let s = &self.b[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("a number too long".into())
    }

    fn zigzag(&mut self) -> Result<i64> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn binary(&mut self) -> Result<&'a [u8]> {
        let n = usize::try_from(self.varint()?).map_err(|_| "a length too large")?;
        self.advance(n)
    }

    /// A list's or set's header: (how many, element type), the count no more than the bytes left
    /// (every element takes at least one).
    fn list_header(&mut self) -> Result<(usize, u8)> {
        let h = self.byte()?;
        let mut n = u64::from(h >> 4);
        if n == 15 {
            n = self.varint()?;
        }
        if n > self.left() as u64 {
            return Err("a list longer than the footer".into());
        }
        Ok((n as usize, h & 0x0f))
    }

    /// A field's header: (type, id); STOP ends a struct.
    fn field(&mut self, last: &mut i64) -> Result<(u8, i64)> {
        let h = self.byte()?;
        let ty = h & 0x0f;
        if ty == STOP {
            return Ok((STOP, 0));
        }
        let delta = i64::from(h >> 4);
        *last = if delta == 0 { self.zigzag()? } else { last.saturating_add(delta) };
        Ok((ty, *last))
    }

    /// Skip a list element of `ty` (a boolean element is one byte).
    fn skip_element(&mut self, ty: u8, depth: u32) -> Result<()> {
        if ty == TRUE || ty == FALSE {
            self.byte().map(|_| ())
        } else {
            self.skip(ty, depth)
        }
    }

    fn skip(&mut self, ty: u8, depth: u32) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err("nested too deeply".into());
        }
        match ty {
            TRUE | FALSE => Ok(()), // (a field's boolean is in its type)
            BYTE => self.byte().map(|_| ()),
            I16 | I32 | I64 => self.varint().map(|_| ()),
            DOUBLE => self.advance(8).map(|_| ()),
            BINARY => self.binary().map(|_| ()),
            UUID => self.advance(16).map(|_| ()),
            LIST | SET => {
                let (n, elem) = self.list_header()?;
                (0..n).try_for_each(|_| self.skip_element(elem, depth + 1))
            }
            MAP => {
                let n = self.varint()?;
                if n == 0 {
                    return Ok(());
                }
                if n > self.left() as u64 {
                    return Err("a map longer than the footer".into());
                }
                let kv = self.byte()?;
                (0..n).try_for_each(|_| {
                    self.skip_element(kv >> 4, depth + 1)?;
                    self.skip_element(kv & 0x0f, depth + 1)
                })
            }
            STRUCT => self.skip_struct(depth + 1),
            _ => Err(format!("unknown type {ty}")),
        }
    }

    fn skip_struct(&mut self, depth: u32) -> Result<()> {
        let mut last = 0;
        loop {
            match self.field(&mut last)? {
                (STOP, _) => return Ok(()),
                (ty, _) => self.skip(ty, depth)?,
            }
        }
    }

    fn key_value(&mut self) -> Result<(String, Option<String>)> {
        let (mut key, mut value) = (None, None);
        let mut last = 0;
        loop {
            match self.field(&mut last)? {
                (STOP, _) => break,
                (BINARY, 1) => key = Some(String::from_utf8_lossy(self.binary()?).into_owned()),
                (BINARY, 2) => value = Some(String::from_utf8_lossy(self.binary()?).into_owned()),
                (ty, _) => self.skip(ty, 1)?,
            }
        }
        Ok((key.ok_or("a key-value entry without its key")?, value))
    }
}

/// The key-value pairs of a footer's `FileMetaData` (the Thrift bytes between the data and the
/// final length and magic; a value may be absent), or why they are not one: the struct must end
/// and carry the fields every Parquet file has (version, schema, row count, row groups).
pub fn key_value_metadata(footer: &[u8]) -> Result<Vec<(String, Option<String>)>> {
    let mut r = Reader { b: footer, at: 0 };
    let mut pairs = Vec::new();
    let mut seen = [false; 4];
    let mut last = 0;
    loop {
        match r.field(&mut last)? {
            (STOP, _) => break,
            (LIST, 5) => {
                let (n, elem) = r.list_header()?;
                if elem != STRUCT {
                    return Err("key-value metadata that is not a list of entries".into());
                }
                for _ in 0..n {
                    pairs.push(r.key_value()?);
                }
            }
            (ty, id) => {
                if (1..=4).contains(&id) {
                    seen[id as usize - 1] = true;
                }
                r.skip(ty, 1)?;
            }
        }
    }
    if seen.contains(&false) {
        return Err("not a Parquet footer (a required field is missing)".into());
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_claimed_lengths_are_errors_not_allocations() {
        // A list of 2^35 key-value entries in 9 bytes (the parquet crate tried to reserve 200 GB).
        let footer = [0x15, 0x02, 0x19, 0xfc, 0xff, 0xff, 0xff, 0xff, 0x07];
        assert!(key_value_metadata(&footer).is_err());
        // A string of 2^62 bytes.
        assert!(key_value_metadata(&[0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f]).is_err());
    }

    #[test]
    fn every_prefix_of_a_footer_is_an_error_and_never_a_panic() {
        // version 1, schema [], num_rows 0, row_groups [], key_value_metadata [{"k": "v"}, {"x"}]
        let footer = [
            0x15, 0x02, 0x19, 0x0c, 0x16, 0x00, 0x19, 0x0c, 0x19, 0x2c, 0x18, 0x01, b'k', 0x18, 0x01, b'v', 0x00, 0x18,
            0x01, b'x', 0x00, 0x00,
        ];
        assert_eq!(
            key_value_metadata(&footer).unwrap(),
            vec![("k".to_string(), Some("v".to_string())), ("x".to_string(), None)]
        );
        for n in 0..footer.len() {
            assert!(key_value_metadata(&footer[..n]).is_err(), "{n}");
        }
        for i in 0..footer.len() {
            for bit in 0..8 {
                let mut f = footer;
                f[i] ^= 1 << bit;
                let _ = key_value_metadata(&f);
            }
        }
    }

    #[test]
    fn deep_nesting_is_an_error() {
        let mut footer = vec![0x1c]; // field 1: a struct
        footer.extend(std::iter::repeat_n(0x1c, 10_000)); // ... nested 10,000 deep
        assert!(key_value_metadata(&footer).is_err());
    }
}

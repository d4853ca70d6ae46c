//! The Arrow schema of a part, as Arrow's IPC format frames it (what pyarrow's
//! `Schema.serialize()` returns, and what Arrow writers store base64-encoded as a Parquet file's
//! `ARROW:schema` metadata): an encapsulated `Message` whose header is a `Schema`, flatbuffers as
//! `format/Schema.fbs` and `format/Message.fbs` of the Arrow specification declare them. With it
//! Arrow readers (pyarrow, pandas, polars) get a category back as a dictionary of strings and each
//! column's unit as its field metadata; writing it here keeps pyarrow out of a sweep's start-up.

use flatbuffers::{FlatBufferBuilder, ForwardsUOffset, TableFinishedWIPOffset, Vector, WIPOffset};

use super::Kind;

/// One field: its name, kind, whether it may hold no value, and its unit (field metadata "unit").
pub struct Field<'a> {
    pub name: &'a str,
    pub kind: &'a Kind,
    pub nullable: bool,
    pub unit: Option<&'a str>,
}

// Union tags and enum values (Schema.fbs, Message.fbs).
const TYPE_INT: u8 = 2;
const TYPE_FLOATING_POINT: u8 = 3;
const TYPE_UTF8: u8 = 5;
const TYPE_BOOL: u8 = 6;
const PRECISION_DOUBLE: i16 = 2;
const HEADER_SCHEMA: u8 = 1;
const METADATA_V5: i16 = 4;

/// A table field's vtable offset: 4 + 2 × its index in the declaration.
const fn slot(index: u16) -> u16 {
    4 + 2 * index
}

type Table = WIPOffset<TableFinishedWIPOffset>;

fn int_type(fbb: &mut FlatBufferBuilder, bits: i32) -> Table {
    let t = fbb.start_table();
    fbb.push_slot::<i32>(slot(0), bits, 0); // bitWidth
    fbb.push_slot::<bool>(slot(1), true, false); // is_signed
    fbb.end_table(t)
}

fn empty_table(fbb: &mut FlatBufferBuilder) -> Table {
    let t = fbb.start_table();
    fbb.end_table(t)
}

fn key_values<'a>(fbb: &mut FlatBufferBuilder<'a>, pairs: &[(&str, &str)])
                  -> WIPOffset<Vector<'a, ForwardsUOffset<TableFinishedWIPOffset>>> {
    let items: Vec<Table> = pairs
        .iter()
        .map(|(k, v)| {
            let (k, v) = (fbb.create_string(k), fbb.create_string(v));
            let t = fbb.start_table();
            fbb.push_slot_always(slot(0), k);
            fbb.push_slot_always(slot(1), v);
            fbb.end_table(t)
        })
        .collect();
    fbb.create_vector(&items)
}

/// The encapsulated IPC message of the schema: 0xFFFFFFFF, the flatbuffer's length (padded to 8
/// bytes with the prefix), the flatbuffer, zero padding; no body.
pub fn ipc_schema(fields: &[Field], metadata: &[(&str, &str)]) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::new();
    let mut dictionary_id = 0i64;
    let mut offsets = Vec::with_capacity(fields.len());
    for f in fields {
        let name = fbb.create_string(f.name);
        let (tag, ty) = match f.kind {
            Kind::F64(_) => {
                let t = fbb.start_table();
                fbb.push_slot::<i16>(slot(0), PRECISION_DOUBLE, 0);
                (TYPE_FLOATING_POINT, fbb.end_table(t))
            }
            Kind::I64 => (TYPE_INT, int_type(&mut fbb, 64)),
            Kind::Flag => (TYPE_BOOL, empty_table(&mut fbb)),
            Kind::Category(_) => (TYPE_UTF8, empty_table(&mut fbb)),
        };
        let dictionary = match f.kind {
            Kind::Category(_) => {
                let index = int_type(&mut fbb, 32);
                let t = fbb.start_table();
                fbb.push_slot::<i64>(slot(0), dictionary_id, 0); // id: in field order, as Arrow numbers them
                fbb.push_slot_always(slot(1), index); // indexType
                dictionary_id += 1;
                Some(fbb.end_table(t)) // (isOrdered false, dictionaryKind DenseArray: the defaults)
            }
            _ => None,
        };
        let children = fbb.create_vector::<Table>(&[]); // (Arrow's readers require the vector)
        let meta = f.unit.map(|u| key_values(&mut fbb, &[("unit", u)]));
        let t = fbb.start_table();
        fbb.push_slot_always(slot(0), name);
        fbb.push_slot::<bool>(slot(1), f.nullable, false);
        fbb.push_slot::<u8>(slot(2), tag, 0);
        fbb.push_slot_always(slot(3), ty);
        if let Some(d) = dictionary {
            fbb.push_slot_always(slot(4), d);
        }
        fbb.push_slot_always(slot(5), children);
        if let Some(m) = meta {
            fbb.push_slot_always(slot(6), m);
        }
        offsets.push(fbb.end_table(t));
    }
    let fields_vec = fbb.create_vector(&offsets);
    let meta = key_values(&mut fbb, metadata);
    let schema = {
        let t = fbb.start_table();
        fbb.push_slot_always(slot(1), fields_vec); // (endianness: Little, the default)
        fbb.push_slot_always(slot(2), meta);
        fbb.end_table(t)
    };
    let message = {
        let t = fbb.start_table();
        fbb.push_slot::<i16>(slot(0), METADATA_V5, 0);
        fbb.push_slot::<u8>(slot(1), HEADER_SCHEMA, 0);
        fbb.push_slot_always(slot(2), schema);
        fbb.push_slot::<i64>(slot(3), 0, 0); // bodyLength
        fbb.end_table(t)
    };
    fbb.finish(message, None);
    let data = fbb.finished_data();
    let padded = (8 + data.len()).div_ceil(8) * 8 - 8;
    let mut out = Vec::with_capacity(8 + padded);
    out.extend_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
    out.extend_from_slice(&(padded as i32).to_le_bytes());
    out.extend_from_slice(data);
    out.resize(8 + padded, 0);
    out
}

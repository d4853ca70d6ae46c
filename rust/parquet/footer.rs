//! A Parquet file's key-value metadata, decoded from its footer's bytes: what tells a part
//! costspec wrote from any other file (`costspec.targets`, which reads the bytes), without pyarrow.

use parquet::file::metadata::ParquetMetaDataReader;

/// The key-value pairs of a footer's `FileMetaData` (the thrift bytes between the data and the
/// final length and magic; a value may be absent), or why they do not decode.
pub fn key_value_metadata(footer: &[u8]) -> Result<Vec<(String, Option<String>)>, String> {
    let meta = ParquetMetaDataReader::decode_metadata(footer).map_err(|e| e.to_string())?;
    Ok(meta
        .file_metadata()
        .key_value_metadata()
        .map(|kv| kv.iter().map(|e| (e.key.clone(), e.value.clone())).collect())
        .unwrap_or_default())
}

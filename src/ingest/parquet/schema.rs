//! The file's schema as the readers see it: which top-level column holds each contract
//! field, and whether its type can hold what the field needs.

use super::parquet_error;
use crate::ingest::error::{IngestError, ParquetProblem};
use ::parquet::basic::{Compression, ConvertedType, LogicalType, TimeUnit, Type as Physical};
use ::parquet::file::reader::{ChunkReader, FileReader, SerializedFileReader};
use ::parquet::schema::types::ColumnDescriptor;
use std::fmt::Write as _;
use std::path::Path;

/// How a column's values are stored, as far as the readers care. Derived once per file
/// from the physical type and its logical (or legacy converted) annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// BYTE_ARRAY holding text (STRING, ENUM, JSON or no annotation).
    Text,
    /// INT32 or INT64, signed.
    Int,
    /// INT32 or INT64 annotated unsigned.
    UInt,
    /// DECIMAL with this scale, stored in INT32, INT64, BYTE_ARRAY or FIXED_LEN_BYTE_ARRAY.
    Decimal(i32),
    /// FLOAT or DOUBLE.
    Float,
    /// BOOLEAN.
    Bool,
    /// INT64 TIMESTAMP in units of 1/this of a second.
    Timestamp(i64),
    /// Legacy INT96 timestamp (Hive, Impala, older Spark and Athena).
    Int96,
    /// INT32 DATE: days since 1970-01-01.
    Date,
    /// Anything else (TIME, INTERVAL, UUID, FLOAT16, ...).
    Other,
}

fn kind_of(d: &ColumnDescriptor) -> Kind {
    use ConvertedType as C;
    let logical = d.logical_type_ref();
    let converted = d.converted_type();
    let decimal = match logical {
        Some(LogicalType::Decimal(t)) => Some(t.scale),
        _ if converted == C::DECIMAL => Some(d.type_scale()),
        _ => None,
    };
    let unsigned = matches!(logical, Some(LogicalType::Integer(t)) if !t.is_signed)
        || matches!(converted, C::UINT_8 | C::UINT_16 | C::UINT_32 | C::UINT_64);
    let plain_int = matches!(logical, None | Some(LogicalType::Integer(_)))
        && matches!(
            converted,
            C::NONE
                | C::INT_8
                | C::INT_16
                | C::INT_32
                | C::INT_64
                | C::UINT_8
                | C::UINT_16
                | C::UINT_32
                | C::UINT_64
        );
    match d.physical_type() {
        Physical::BOOLEAN => Kind::Bool,
        Physical::FLOAT | Physical::DOUBLE => Kind::Float,
        Physical::INT96 => Kind::Int96,
        Physical::INT32 | Physical::INT64 if decimal.is_some() => match decimal {
            Some(s) if s >= 0 => Kind::Decimal(s),
            _ => Kind::Other,
        },
        Physical::INT32 if matches!(logical, Some(LogicalType::Date)) || converted == C::DATE => {
            Kind::Date
        }
        Physical::INT64 => match (logical, converted) {
            (Some(LogicalType::Timestamp(t)), _) => Kind::Timestamp(match t.unit {
                TimeUnit::MILLIS => 1_000,
                TimeUnit::MICROS => 1_000_000,
                TimeUnit::NANOS => 1_000_000_000,
            }),
            (None, C::TIMESTAMP_MILLIS) => Kind::Timestamp(1_000),
            (None, C::TIMESTAMP_MICROS) => Kind::Timestamp(1_000_000),
            _ if plain_int && unsigned => Kind::UInt,
            _ if plain_int => Kind::Int,
            _ => Kind::Other,
        },
        Physical::INT32 if plain_int && unsigned => Kind::UInt,
        Physical::INT32 if plain_int => Kind::Int,
        Physical::BYTE_ARRAY | Physical::FIXED_LEN_BYTE_ARRAY if decimal.is_some() => {
            // Wider than 16 bytes does not fit an i128; no exporter writes that.
            let fits = d.physical_type() == Physical::BYTE_ARRAY || d.type_length() <= 16;
            match decimal {
                Some(s) if s >= 0 && fits => Kind::Decimal(s),
                _ => Kind::Other,
            }
        }
        Physical::BYTE_ARRAY => match (logical, converted) {
            (
                None | Some(LogicalType::String | LogicalType::Enum | LogicalType::Json),
                C::NONE | C::UTF8 | C::ENUM | C::JSON,
            ) => Kind::Text,
            _ => Kind::Other,
        },
        _ => Kind::Other,
    }
}

/// The column's type as a message shows it: `INT64 TIMESTAMP(MICROS)`, `BOOLEAN`, ...
fn describe(d: &ColumnDescriptor) -> String {
    let mut s = format!("{}", d.physical_type());
    if d.physical_type() == Physical::FIXED_LEN_BYTE_ARRAY {
        let _ = write!(s, "({})", d.type_length());
    }
    match d.logical_type_ref() {
        Some(LogicalType::Timestamp(t)) => {
            let _ = write!(s, " TIMESTAMP({})", unit_name(&t.unit));
        }
        Some(LogicalType::Time(t)) => {
            let _ = write!(s, " TIME({})", unit_name(&t.unit));
        }
        Some(LogicalType::Decimal(t)) => {
            let _ = write!(s, " DECIMAL({}, {})", t.precision, t.scale);
        }
        Some(LogicalType::Integer(t)) => {
            let sign = if t.is_signed { "INT" } else { "UINT" };
            let _ = write!(s, " {sign}{}", t.bit_width);
        }
        Some(other) => {
            let name = format!("{other:?}");
            let _ = write!(
                s,
                " {}",
                name.split('(').next().unwrap_or("").to_uppercase()
            );
        }
        None if d.converted_type() != ConvertedType::NONE => {
            let _ = write!(s, " {}", d.converted_type());
        }
        None => {}
    }
    s
}

fn unit_name(u: &TimeUnit) -> &'static str {
    match u {
        TimeUnit::MILLIS => "MILLIS",
        TimeUnit::MICROS => "MICROS",
        TimeUnit::NANOS => "NANOS",
    }
}

/// What a column is used for, and so which kinds it may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// An id or name: text, or integers written in decimal.
    Id,
    /// The event time.
    Timestamp,
    /// A quantity or price.
    Number,
    /// The event type name.
    Text,
    /// The items file's `available` flag.
    Flag,
    /// A customer attribute: any scalar, as text.
    Attribute,
}

impl Role {
    fn accepts(self, k: Kind) -> bool {
        use Kind::*;
        match self {
            Role::Id => matches!(k, Text | Int | UInt | Decimal(0)),
            Role::Timestamp => matches!(k, Text | Timestamp(_) | Int96 | Date),
            Role::Number => matches!(k, Text | Int | UInt | Decimal(_) | Float),
            Role::Text => k == Text,
            Role::Flag => matches!(k, Text | Int | UInt | Bool),
            Role::Attribute => !matches!(k, Other),
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Role::Id => "a string or an integer",
            Role::Timestamp => {
                "a string (RFC 3339 or YYYY-MM-DD), a TIMESTAMP, a DATE or an INT96 timestamp"
            }
            Role::Number => "an integer, a float, a DECIMAL or a numeric string",
            Role::Text => "a string",
            Role::Flag => "a boolean, a 0/1 integer or a string",
            Role::Attribute => "a string, number, boolean, date or timestamp",
        }
    }
}

/// A top-level column the reader uses.
#[derive(Debug, Clone)]
pub(crate) struct Col {
    /// Name as the file spells it (messages use it).
    pub name: String,
    /// Leaf column index.
    pub leaf: usize,
    /// Storage kind.
    pub kind: Kind,
    /// 0 for a required column, 1 for an optional one.
    pub max_def: i16,
}

/// The file's top-level fields: name and, for a flat (non-nested, non-repeated) column,
/// its leaf index.
pub(crate) struct Fields {
    fields: Vec<(String, Option<usize>)>,
}

impl Fields {
    pub(crate) fn of<R: ChunkReader + 'static>(file: &SerializedFileReader<R>) -> Fields {
        let schema = file.metadata().file_metadata().schema_descr();
        let mut fields: Vec<(String, Option<usize>)> = schema
            .root_schema()
            .get_fields()
            .iter()
            .map(|f| (f.name().to_string(), None))
            .collect();
        for leaf in 0..schema.num_columns() {
            let d = schema.column(leaf);
            if d.path().parts().len() == 1 && d.max_rep_level() == 0 {
                let root = schema.get_column_root_idx(leaf);
                if let Some(f) = fields.get_mut(root) {
                    f.1 = Some(leaf);
                }
            }
        }
        Fields { fields }
    }

    /// Every top-level name, in schema order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|(n, _)| n.as_str())
    }

    /// Finds `name` (ASCII case-insensitive, like CSV headers) and checks its type for
    /// `role`; refuses duplicates, nested and repeated columns.
    pub(crate) fn find<R: ChunkReader + 'static>(
        &self,
        file: &SerializedFileReader<R>,
        path: &Path,
        name: &str,
        role: Role,
    ) -> Result<Option<Col>, IngestError> {
        let mut hits = self
            .fields
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name));
        let Some((found, leaf)) = hits.next() else {
            return Ok(None);
        };
        if hits.next().is_some() {
            return Err(parquet_error(
                path,
                None,
                Some(name),
                ParquetProblem::DuplicateColumn,
            ));
        }
        let Some(leaf) = *leaf else {
            return Err(super::with_hint(
                parquet_error(
                    path,
                    None,
                    Some(found),
                    ParquetProblem::Nested {
                        expected: role.expected(),
                    },
                ),
                "flatten it to a plain column in the export query",
            ));
        };
        let d = file.metadata().file_metadata().schema_descr().column(leaf);
        let kind = kind_of(&d);
        if !role.accepts(kind) {
            return Err(super::with_hint(
                parquet_error(
                    path,
                    None,
                    Some(found),
                    ParquetProblem::WrongType {
                        found: describe(&d),
                        expected: role.expected(),
                    },
                ),
                "cast the column in the export query (CAST(x AS STRING) always works)",
            ));
        }
        Ok(Some(Col {
            name: found.clone(),
            leaf,
            kind,
            max_def: d.max_def_level(),
        }))
    }

    /// Like [`Fields::find`] but the column must exist.
    pub(crate) fn require<R: ChunkReader + 'static>(
        &self,
        file: &SerializedFileReader<R>,
        path: &Path,
        name: &'static str,
        role: Role,
    ) -> Result<Col, IngestError> {
        self.find(file, path, name, role)?.ok_or_else(|| {
            parquet_error(
                path,
                None,
                Some(name),
                ParquetProblem::MissingColumn {
                    found: self.names().collect::<Vec<_>>().join(", "),
                },
            )
        })
    }

    /// Top-level names that are none of `known` (ASCII case-insensitive).
    pub(crate) fn unknown(&self, known: &[&str]) -> Vec<String> {
        self.names()
            .filter(|n| !known.iter().any(|k| n.eq_ignore_ascii_case(k)))
            .map(str::to_string)
            .collect()
    }
}

/// Refuses, before reading anything, column chunks compressed with a codec this build
/// does not include (the `parquet` crate's own message would not say what to do) or whose
/// place in the file is impossible (the crate asserts on that).
pub(crate) fn check_chunks<R: ChunkReader + 'static>(
    file: &SerializedFileReader<R>,
    path: &Path,
    cols: &[Col],
) -> Result<(), IngestError> {
    for (g, rg) in file.metadata().row_groups().iter().enumerate() {
        for c in cols {
            let Some(chunk) = rg.columns().get(c.leaf) else {
                return Err(parquet_error(
                    path,
                    Some(g),
                    Some(&c.name),
                    ParquetProblem::BadMetadata(
                        "the row group has no chunk for this column".into(),
                    ),
                ));
            };
            let start = chunk
                .dictionary_page_offset()
                .unwrap_or_else(|| chunk.data_page_offset());
            if start < 0 || chunk.compressed_size() < 0 {
                return Err(parquet_error(
                    path,
                    Some(g),
                    Some(&c.name),
                    ParquetProblem::BadMetadata(
                        "the column chunk has a negative offset or size".into(),
                    ),
                ));
            }
            let codec = chunk.compression();
            if !matches!(
                codec,
                Compression::UNCOMPRESSED | Compression::SNAPPY | Compression::ZSTD(_)
            ) {
                return Err(super::with_hint(
                    parquet_error(
                        path,
                        Some(g),
                        Some(&c.name),
                        ParquetProblem::Codec {
                            // The crate prints `GZIP(GzipLevel(6))`; the level is noise.
                            codec: codec
                                .to_string()
                                .split('(')
                                .next()
                                .unwrap_or("")
                                .to_string(),
                        },
                    ),
                    "export with compression SNAPPY (the usual default) or ZSTD",
                ));
            }
        }
    }
    Ok(())
}

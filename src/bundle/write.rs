//! Building a bundle and writing it atomically.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use super::METADATA_SECTION;
use super::error::BundleError;
use super::format::{FOOTER_LEN, FORMAT_VERSION, Footer, HEADER_LEN, Header, MAGIC, align_up};
use super::manifest::{Manifest, Metadata, SectionEntry, SectionKind};
use crate::progress::{Stage, Unit};

/// Section contents waiting to be written; arrays are borrowed, not copied.
enum Data<'a> {
    Bytes(Vec<u8>),
    F32(&'a [f32]),
    U32(&'a [u32]),
    I64(&'a [i64]),
}

struct Pending<'a> {
    name: String,
    shape: Vec<u64>,
    data: Data<'a>,
}

/// Collects the sections of a bundle, then writes them in one go.
///
/// Arrays are borrowed until the write, so large factor matrices are never copied.
#[derive(Default)]
pub struct BundleWriter<'a> {
    sections: Vec<Pending<'a>>,
    metadata: Option<Metadata>,
}

impl<'a> BundleWriter<'a> {
    /// An empty bundle; [`BundleWriter::metadata`] must be set before writing.
    pub fn new() -> BundleWriter<'a> {
        BundleWriter::default()
    }

    /// Sets the metadata section (required).
    pub fn metadata(&mut self, metadata: Metadata) -> &mut Self {
        self.metadata = Some(metadata);
        self
    }

    /// Records the journal seq the models were trained up to ([`super::JOURNAL_SECTION`]).
    pub fn journal_seq(&mut self, seq: u64) -> Result<&mut Self, BundleError> {
        self.put_struct(super::JOURNAL_SECTION, &super::JournalMark { seq })
    }

    /// Adds a postcard-encoded structure under `name`.
    pub fn put_struct<T: Serialize + ?Sized>(
        &mut self,
        name: &str,
        value: &T,
    ) -> Result<&mut Self, BundleError> {
        self.check_name(name)?;
        let bytes = postcard::to_stdvec(value).map_err(|source| BundleError::Encode {
            name: name.to_string(),
            source,
        })?;
        self.sections.push(Pending {
            name: name.to_string(),
            shape: vec![bytes.len() as u64],
            data: Data::Bytes(bytes),
        });
        Ok(self)
    }

    /// Adds a dense `f32` array of the given row-major `shape` under `name`.
    pub fn put_array_f32(
        &mut self,
        name: &str,
        values: &'a [f32],
        shape: &[usize],
    ) -> Result<&mut Self, BundleError> {
        self.put_array(name, Data::F32(values), values.len(), shape)
    }

    /// Adds a dense `u32` array of the given row-major `shape` under `name`.
    pub fn put_array_u32(
        &mut self,
        name: &str,
        values: &'a [u32],
        shape: &[usize],
    ) -> Result<&mut Self, BundleError> {
        self.put_array(name, Data::U32(values), values.len(), shape)
    }

    /// Adds a dense `i64` array of the given row-major `shape` under `name`.
    pub fn put_array_i64(
        &mut self,
        name: &str,
        values: &'a [i64],
        shape: &[usize],
    ) -> Result<&mut Self, BundleError> {
        self.put_array(name, Data::I64(values), values.len(), shape)
    }

    /// Shared tail of the typed `put_array_*` methods: checks the shape, queues the section.
    fn put_array(
        &mut self,
        name: &str,
        data: Data<'a>,
        len: usize,
        shape: &[usize],
    ) -> Result<&mut Self, BundleError> {
        let shape = self.check_array(name, len, shape)?;
        self.sections.push(Pending {
            name: name.to_string(),
            shape,
            data,
        });
        Ok(self)
    }

    fn check_name(&self, name: &str) -> Result<(), BundleError> {
        if name == METADATA_SECTION || self.sections.iter().any(|s| s.name == name) {
            return Err(BundleError::NameTaken {
                name: name.to_string(),
            });
        }
        Ok(())
    }

    fn check_array(
        &self,
        name: &str,
        len: usize,
        shape: &[usize],
    ) -> Result<Vec<u64>, BundleError> {
        self.check_name(name)?;
        let product = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
        if product != Some(len) {
            return Err(BundleError::Shape {
                name: name.to_string(),
                len,
                shape: shape.iter().map(|&d| d as u64).collect(),
            });
        }
        Ok(shape.iter().map(|&d| d as u64).collect())
    }

    /// Writes the bundle to `path` atomically and returns the metadata as written (with
    /// its model version filled in).
    ///
    /// Through [`crate::fsutil::atomic_write_with`]: a crash at any point leaves either the
    /// old file or the complete new one under `path`, never a half-written bundle, and
    /// servers that mapped the old file keep a valid map of it.
    pub fn write_atomic(&self, path: &Path) -> Result<Metadata, BundleError> {
        if self.metadata.is_none() {
            return Err(BundleError::NoMetadata);
        }
        crate::fsutil::atomic_write_with(path, |file| {
            let stage = Stage::start("write bundle", 0, Unit::Bytes);
            let metadata = self.write_to(stage.writer(file), path)?;
            stage.finish();
            Ok(metadata)
        })
    }

    /// The bundle as bytes (for in-memory bundles and tests); see [`Self::write_atomic`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, BundleError> {
        let mut out = Vec::new();
        self.write_to(&mut out, Path::new("<memory>"))?;
        Ok(out)
    }

    fn write_to<W: Write>(&self, out: W, path: &Path) -> Result<Metadata, BundleError> {
        let mut metadata = self.metadata.clone().ok_or(BundleError::NoMetadata)?;
        let io = |source| BundleError::Io {
            op: "writing",
            path: path.to_path_buf(),
            source,
        };
        let mut w = CrcWriter::new(out);
        let header = Header {
            magic: MAGIC,
            format_version: FORMAT_VERSION,
            flags: 0,
        };
        w.write_all(&header.encode()).map_err(io)?;
        debug_assert_eq!(w.pos, HEADER_LEN as u64);

        let mut entries = Vec::with_capacity(self.sections.len() + 1);
        for s in &self.sections {
            let entry = write_section(&mut w, &s.name, &s.shape, &s.data).map_err(io)?;
            entries.push(entry);
        }

        metadata.format_version = FORMAT_VERSION;
        metadata.trainer_version = env!("CARGO_PKG_VERSION").to_string();
        if metadata.model_version.is_empty() {
            metadata.model_version = default_model_version(metadata.created_at, &entries);
        }
        let meta_bytes = postcard::to_stdvec(&metadata).map_err(|source| BundleError::Encode {
            name: METADATA_SECTION.to_string(),
            source,
        })?;
        let meta_shape = [meta_bytes.len() as u64];
        let entry = write_section(
            &mut w,
            METADATA_SECTION,
            &meta_shape,
            &Data::Bytes(meta_bytes),
        )
        .map_err(io)?;
        entries.push(entry);

        let manifest = postcard::to_stdvec(&Manifest { sections: entries }).map_err(|source| {
            BundleError::Encode {
                name: "manifest".to_string(),
                source,
            }
        })?;
        w.pad_to(align_up(w.pos)).map_err(io)?;
        let mut footer = Footer {
            manifest_offset: w.pos,
            manifest_len: manifest.len() as u64,
            manifest_crc: crc32fast::hash(&manifest),
            format_version: FORMAT_VERSION,
            file_crc: 0,
            magic: MAGIC,
        };
        w.write_all(&manifest).map_err(io)?;
        w.write_all(&footer.encode_checked()).map_err(io)?;
        footer.file_crc = w.file.clone().finalize();
        w.write_all(&footer.encode_unchecked()).map_err(io)?;
        debug_assert_eq!(
            w.pos,
            footer.manifest_offset + footer.manifest_len + FOOTER_LEN as u64
        );
        w.inner.flush().map_err(io)?;
        Ok(metadata)
    }
}

/// `YYYYMMDDTHHMMSSZ-xxxxxxxx`: readable creation time plus a checksum over every
/// section, so two models built in the same second still differ.
fn default_model_version(created_at: i64, entries: &[SectionEntry]) -> String {
    let mut h = crc32fast::Hasher::new();
    for e in entries {
        h.update(e.name.as_bytes());
        h.update(&e.crc32.to_le_bytes());
    }
    let stamp: String = crate::time::format_rfc3339(created_at)
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    format!("{stamp}-{:08x}", h.finalize())
}

fn write_section<W: Write>(
    w: &mut CrcWriter<W>,
    name: &str,
    shape: &[u64],
    data: &Data<'_>,
) -> std::io::Result<SectionEntry> {
    w.pad_to(align_up(w.pos))?;
    let offset = w.pos;
    w.section = crc32fast::Hasher::new();
    let kind = match data {
        Data::Bytes(b) => {
            w.write_all(b)?;
            SectionKind::Struct
        }
        Data::F32(v) => {
            write_le(w, v, |x| x.to_le_bytes())?;
            SectionKind::F32
        }
        Data::U32(v) => {
            write_le(w, v, |x| x.to_le_bytes())?;
            SectionKind::U32
        }
        Data::I64(v) => {
            write_le(w, v, |x| x.to_le_bytes())?;
            SectionKind::I64
        }
    };
    Ok(SectionEntry {
        name: name.to_string(),
        kind,
        offset,
        len: w.pos - offset,
        shape: shape.to_vec(),
        crc32: w.section.clone().finalize(),
    })
}

/// Encodes in chunks so writing never needs a view of the array as bytes (no `unsafe`).
fn write_le<W: Write, T: Copy, const N: usize>(
    w: &mut CrcWriter<W>,
    values: &[T],
    to_le: impl Fn(T) -> [u8; N],
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(16 * 1024);
    for chunk in values.chunks(4096) {
        buf.clear();
        for &v in chunk {
            buf.extend_from_slice(&to_le(v));
        }
        w.write_all(&buf)?;
    }
    Ok(())
}

/// Computes the whole-file and current-section CRCs while writing (tantivy's
/// `FooterProxy`), so the data is never read back.
struct CrcWriter<W> {
    inner: W,
    file: crc32fast::Hasher,
    section: crc32fast::Hasher,
    pos: u64,
}

impl<W: Write> CrcWriter<W> {
    fn new(inner: W) -> Self {
        CrcWriter {
            inner,
            file: crc32fast::Hasher::new(),
            section: crc32fast::Hasher::new(),
            pos: 0,
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.inner.write_all(bytes)?;
        self.file.update(bytes);
        self.section.update(bytes);
        self.pos += bytes.len() as u64;
        Ok(())
    }

    fn pad_to(&mut self, target: u64) -> std::io::Result<()> {
        const ZEROS: [u8; 64] = [0; 64];
        while self.pos < target {
            let n = ((target - self.pos) as usize).min(ZEROS.len());
            self.write_all(&ZEROS[..n])?;
        }
        Ok(())
    }
}

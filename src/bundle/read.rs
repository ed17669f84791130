//! Opening and verifying a bundle, and zero-copy access to its sections.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use serde::Deserialize;

use super::METADATA_SECTION;
use super::error::{BundleError, SectionFault};
use super::format::{
    FOOTER_LEN, FOOTER_UNCHECKED_LEN, FORMAT_VERSION, Footer, HEADER_LEN, Header, MAGIC,
    OLDEST_SUPPORTED_FORMAT_VERSION, SECTION_ALIGN,
};
use super::manifest::{Manifest, Metadata, SectionEntry, SectionKind};
use super::section::{Plain, cast_slice, map_copy, map_file};

/// An opened, fully verified bundle. Arrays are views into the memory map.
pub struct Bundle {
    map: Mmap,
    path: PathBuf,
    format_version: u32,
    sections: Vec<SectionEntry>,
    by_name: HashMap<String, usize>,
    metadata: Metadata,
}

impl std::fmt::Debug for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bundle")
            .field("path", &self.path)
            .field("model_version", &self.metadata.model_version)
            .field("sections", &self.sections.len())
            .finish()
    }
}

impl Bundle {
    /// Maps the file at `path` and verifies magic, version, every section checksum and
    /// the whole-file checksum; refuses anything else with a [`BundleError`] saying which.
    pub fn open(path: &Path) -> Result<Bundle, BundleError> {
        let io = |op| {
            let path = path.to_path_buf();
            move |source| BundleError::Io { op, path, source }
        };
        let file = File::open(path).map_err(io("opening"))?;
        let meta = file.metadata().map_err(io("reading metadata of"))?;
        if !meta.is_file() {
            return Err(BundleError::NotAFile {
                path: path.to_path_buf(),
                kind: if meta.is_dir() {
                    "a directory"
                } else {
                    "not a regular file"
                },
            });
        }
        let len_bytes = meta.len();
        if len_bytes < (HEADER_LEN + FOOTER_LEN) as u64 {
            return Err(BundleError::Truncated {
                path: path.to_path_buf(),
                len_bytes,
            });
        }
        let map = map_file(&file).map_err(io("memory-mapping"))?;
        Bundle::verify(map, path.to_path_buf())
    }

    /// Verifies a bundle held in memory (copied into page-aligned storage), e.g. one built
    /// with [`super::BundleWriter::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Bundle, BundleError> {
        let path = PathBuf::from("<memory>");
        if bytes.len() < HEADER_LEN + FOOTER_LEN {
            return Err(BundleError::Truncated {
                path,
                len_bytes: bytes.len() as u64,
            });
        }
        let map = map_copy(bytes).map_err(|source| BundleError::Io {
            op: "allocating",
            path: path.clone(),
            source,
        })?;
        Bundle::verify(map, path)
    }

    fn verify(map: Mmap, path: PathBuf) -> Result<Bundle, BundleError> {
        let bytes: &[u8] = &map;
        let len = bytes.len();
        let corrupt = |what| BundleError::Corrupt {
            path: path.clone(),
            what,
        };
        if len < HEADER_LEN + FOOTER_LEN {
            return Err(BundleError::Truncated {
                path,
                len_bytes: len as u64,
            });
        }
        let header = Header::decode(bytes[..HEADER_LEN].try_into().expect("length checked"));
        if header.magic != MAGIC {
            return Err(BundleError::NotABundle { path });
        }
        let footer_start = len - FOOTER_LEN;
        let footer = Footer::decode(bytes[footer_start..].try_into().expect("length checked"));
        if footer.magic != MAGIC {
            // A cut file has arbitrary bytes where the footer should be; a whole file with
            // only its last bytes damaged still has a footer that points to a section table
            // matching its checksum.
            let manifest_fits = footer.manifest_offset >= HEADER_LEN as u64
                && footer.manifest_offset.checked_add(footer.manifest_len)
                    == Some(footer_start as u64);
            let whole = manifest_fits
                && footer.format_version == header.format_version
                && crc32fast::hash(&bytes[footer.manifest_offset as usize..footer_start])
                    == footer.manifest_crc;
            if whole {
                return Err(corrupt(
                    "the magic bytes at the end of the file are damaged (the file is complete)",
                ));
            }
            return Err(BundleError::Truncated {
                path,
                len_bytes: len as u64,
            });
        }
        if header.format_version != footer.format_version {
            return Err(corrupt("header and footer disagree on the format version"));
        }
        let version = header.format_version;
        if !(OLDEST_SUPPORTED_FORMAT_VERSION..=FORMAT_VERSION).contains(&version) {
            return Err(BundleError::Incompatible {
                path,
                found: version,
                oldest: OLDEST_SUPPORTED_FORMAT_VERSION,
                newest: FORMAT_VERSION,
            });
        }
        if header.flags != 0 {
            return Err(corrupt("unknown header flags"));
        }
        let manifest_end = footer.manifest_offset.checked_add(footer.manifest_len);
        if footer.manifest_offset < HEADER_LEN as u64 || manifest_end != Some(footer_start as u64) {
            return Err(corrupt("footer points to a section table outside the file"));
        }
        let manifest_bytes = &bytes[footer.manifest_offset as usize..footer_start];
        if crc32fast::hash(manifest_bytes) != footer.manifest_crc {
            return Err(corrupt("section table checksum mismatch"));
        }
        let manifest: Manifest =
            postcard::from_bytes(manifest_bytes).map_err(|source| BundleError::Manifest {
                path: path.clone(),
                source,
            })?;

        let mut by_name = HashMap::with_capacity(manifest.sections.len());
        for (i, s) in manifest.sections.iter().enumerate() {
            let fault = |fault| BundleError::Section {
                path: path.clone(),
                section: s.name.clone(),
                fault,
            };
            if by_name.insert(s.name.clone(), i).is_some() {
                return Err(fault(SectionFault::Duplicate));
            }
            check_section(s, footer.manifest_offset, bytes).map_err(fault)?;
        }

        // Sections and the table are fine; this catches damage in padding, header flags
        // and footer fields that the checks above do not cover.
        let mut file_crc = crc32fast::Hasher::new();
        file_crc.update(&bytes[..len - FOOTER_UNCHECKED_LEN]);
        if file_crc.finalize() != footer.file_crc {
            return Err(corrupt("whole-file checksum mismatch"));
        }

        let Some(&meta_idx) = by_name.get(METADATA_SECTION) else {
            return Err(corrupt("no metadata section"));
        };
        let meta_entry = &manifest.sections[meta_idx];
        if meta_entry.kind != SectionKind::Struct {
            return Err(corrupt("metadata section is not a struct"));
        }
        let metadata: Metadata =
            postcard::from_bytes(section_bytes(bytes, meta_entry)).map_err(|source| {
                BundleError::Decode {
                    name: METADATA_SECTION.to_string(),
                    source,
                }
            })?;
        if metadata.format_version != version {
            return Err(corrupt(
                "metadata and header disagree on the format version",
            ));
        }
        Ok(Bundle {
            map,
            path,
            format_version: version,
            sections: manifest.sections,
            by_name,
            metadata,
        })
    }

    /// The file this bundle was opened from (`<memory>` for [`Bundle::from_bytes`]).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Format version the bundle was written in.
    pub fn format_version(&self) -> u32 {
        self.format_version
    }

    /// Size of the bundle in bytes.
    pub fn len_bytes(&self) -> u64 {
        self.map.len() as u64
    }

    /// The decoded metadata section.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The section table, in file order.
    pub fn sections(&self) -> &[SectionEntry] {
        &self.sections
    }

    /// Names of all sections, in file order.
    pub fn section_names(&self) -> impl Iterator<Item = &str> {
        self.sections.iter().map(|s| s.name.as_str())
    }

    /// The journal seq this bundle was trained up to; `None` when trained without a journal.
    pub fn journal_seq(&self) -> Result<Option<u64>, BundleError> {
        if !self.by_name.contains_key(super::JOURNAL_SECTION) {
            return Ok(None);
        }
        let mark: super::JournalMark = self.get_struct(super::JOURNAL_SECTION)?;
        Ok(Some(mark.seq))
    }

    /// The section table entry called `name`.
    pub fn section(&self, name: &str) -> Result<&SectionEntry, BundleError> {
        self.by_name
            .get(name)
            .map(|&i| &self.sections[i])
            .ok_or_else(|| BundleError::MissingSection {
                name: name.to_string(),
            })
    }

    /// Decodes the struct section `name`; borrowed fields (`&str`) point into the map.
    pub fn get_struct<'a, T: Deserialize<'a>>(&'a self, name: &str) -> Result<T, BundleError> {
        let entry = self.typed_section(name, SectionKind::Struct)?;
        postcard::from_bytes(section_bytes(&self.map, entry)).map_err(|source| {
            BundleError::Decode {
                name: name.to_string(),
                source,
            }
        })
    }

    /// The `f32` array section `name`, without copying.
    pub fn array_f32(&self, name: &str) -> Result<&[f32], BundleError> {
        self.array(name, SectionKind::F32)
    }

    /// The `u32` array section `name`, without copying.
    pub fn array_u32(&self, name: &str) -> Result<&[u32], BundleError> {
        self.array(name, SectionKind::U32)
    }

    /// The `i64` array section `name`, without copying.
    pub fn array_i64(&self, name: &str) -> Result<&[i64], BundleError> {
        self.array(name, SectionKind::I64)
    }

    /// The row-major shape an array section was written with.
    pub fn shape(&self, name: &str) -> Result<&[u64], BundleError> {
        Ok(&self.section(name)?.shape)
    }

    fn typed_section(&self, name: &str, kind: SectionKind) -> Result<&SectionEntry, BundleError> {
        let entry = self.section(name)?;
        if entry.kind != kind {
            return Err(BundleError::WrongKind {
                name: name.to_string(),
                expected: kind,
                found: entry.kind,
            });
        }
        Ok(entry)
    }

    fn array<T: Plain>(&self, name: &str, kind: SectionKind) -> Result<&[T], BundleError> {
        let entry = self.typed_section(name, kind)?;
        // Offsets are checked to be 64-byte aligned within a page-aligned map and lengths
        // to be whole elements when the bundle is opened, so the cast cannot fail here.
        Ok(cast_slice(section_bytes(&self.map, entry))
            .expect("section alignment and length verified at open"))
    }
}

fn section_bytes<'a>(bytes: &'a [u8], s: &SectionEntry) -> &'a [u8] {
    &bytes[s.offset as usize..(s.offset + s.len) as usize]
}

fn check_section(s: &SectionEntry, data_end: u64, bytes: &[u8]) -> Result<(), SectionFault> {
    let end = s.offset.checked_add(s.len);
    if s.offset < HEADER_LEN as u64 || end.is_none_or(|e| e > data_end) {
        return Err(SectionFault::OutOfBounds {
            offset: s.offset,
            len: s.len,
        });
    }
    if !s.offset.is_multiple_of(SECTION_ALIGN as u64) {
        return Err(SectionFault::Misaligned { offset: s.offset });
    }
    let expected = match s.kind {
        // A struct's shape is its byte length.
        SectionKind::Struct if s.shape.len() == 1 => Some(s.shape[0]),
        SectionKind::Struct => None,
        SectionKind::F32 | SectionKind::U32 | SectionKind::I64 => s
            .shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .and_then(|n| n.checked_mul(s.kind.element_bytes())),
    };
    if expected != Some(s.len) {
        return Err(SectionFault::LengthMismatch {
            expected: expected.unwrap_or(u64::MAX),
            found: s.len,
        });
    }
    let found = crc32fast::hash(section_bytes(bytes, s));
    if found != s.crc32 {
        return Err(SectionFault::Checksum {
            expected: s.crc32,
            found,
        });
    }
    Ok(())
}

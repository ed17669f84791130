//! The `.gbdt` container: `magic, format version, payload length, postcard payload, crc32`.
//! Reading refuses short files, foreign files, other versions, truncation and corruption,
//! each with its own error.

use super::booster::FORMAT_VERSION;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// First bytes of every model file.
pub const MAGIC: &[u8; 8] = b"PRPGBDT\0";
const HEADER: usize = 8 + 4 + 8;
const FOOTER: usize = 4;

/// Why a model file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelFileError {
    /// Shorter than header + footer.
    #[error("file is {len} bytes, too short to be a model file")]
    TooShort {
        /// File length.
        len: usize,
    },
    /// Does not start with the magic bytes.
    #[error("not a propensity GBDT model file (bad magic bytes)")]
    BadMagic,
    /// Written by another format version.
    #[error(
        "model format version {found} is not supported (this build reads version {supported}); hint: retrain or use a matching build"
    )]
    Version {
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
    /// Declared payload length disagrees with the file length (truncated or padded).
    #[error(
        "payload length {declared} does not match the file ({actual} bytes available); the file is truncated or corrupted"
    )]
    Length {
        /// Length in the header.
        declared: u64,
        /// Bytes actually there.
        actual: u64,
    },
    /// The payload's checksum does not match.
    #[error(
        "checksum mismatch (stored {stored:08x}, computed {computed:08x}); the file is corrupted"
    )]
    Checksum {
        /// CRC in the file.
        stored: u32,
        /// CRC of the bytes read.
        computed: u32,
    },
    /// The payload could not be encoded or decoded.
    #[error("model payload cannot be (de)serialized")]
    Codec(#[source] postcard::Error),
}

/// Serializes `payload` into a framed, checksummed model file image.
pub fn encode_model_file<T: Serialize>(payload: &T) -> Result<Vec<u8>, ModelFileError> {
    let body = postcard::to_stdvec(payload).map_err(ModelFileError::Codec)?;
    let mut out = Vec::with_capacity(HEADER + body.len() + FOOTER);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    Ok(out)
}

/// Checks the frame of a model file image and decodes its payload.
pub fn decode_model_file<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ModelFileError> {
    if bytes.len() < HEADER + FOOTER {
        return Err(ModelFileError::TooShort { len: bytes.len() });
    }
    if &bytes[..8] != MAGIC {
        return Err(ModelFileError::BadMagic);
    }
    let word = |at: usize| -> [u8; 4] { [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]] };
    let version = u32::from_le_bytes(word(8));
    if version != FORMAT_VERSION {
        return Err(ModelFileError::Version {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let mut len_bytes = [0u8; 8];
    len_bytes.copy_from_slice(&bytes[12..20]);
    let declared = u64::from_le_bytes(len_bytes);
    let actual = (bytes.len() - HEADER - FOOTER) as u64;
    if declared != actual {
        return Err(ModelFileError::Length { declared, actual });
    }
    let body = &bytes[HEADER..bytes.len() - FOOTER];
    let stored = u32::from_le_bytes(word(bytes.len() - FOOTER));
    let computed = crc32fast::hash(body);
    if stored != computed {
        return Err(ModelFileError::Checksum { stored, computed });
    }
    postcard::from_bytes(body).map_err(ModelFileError::Codec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_refusal() {
        let payload = (String::from("model"), vec![1.5f64, -2.0]);
        let bytes = encode_model_file(&payload).expect("encodes");
        let back: (String, Vec<f64>) = decode_model_file(&bytes).expect("decodes");
        assert_eq!(back, payload);

        let short = decode_model_file::<(String, Vec<f64>)>(&bytes[..10]);
        assert!(matches!(short, Err(ModelFileError::TooShort { .. })));
        let mut foreign = bytes.clone();
        foreign[0] = b'X';
        assert!(matches!(
            decode_model_file::<(String, Vec<f64>)>(&foreign),
            Err(ModelFileError::BadMagic)
        ));
        let mut newer = bytes.clone();
        newer[8] = 99;
        assert!(matches!(
            decode_model_file::<(String, Vec<f64>)>(&newer),
            Err(ModelFileError::Version { found: 99, .. })
        ));
        let truncated = &bytes[..bytes.len() - 3];
        assert!(matches!(
            decode_model_file::<(String, Vec<f64>)>(truncated),
            Err(ModelFileError::Length { .. })
        ));
        let mut flipped = bytes.clone();
        flipped[HEADER + 2] ^= 0x40;
        assert!(matches!(
            decode_model_file::<(String, Vec<f64>)>(&flipped),
            Err(ModelFileError::Checksum { .. })
        ));
    }
}

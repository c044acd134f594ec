//! The model file: a versioned header, then the model (postcard), written atomically. A shard
//! (`train --shard`, [`super::shard`]) is framed the same way under its own magic.
//!
//! ```text
//! "LOGSIEVE-MODEL\n\0"   16 bytes, magic ("LOGSIEVE-SHARD\n\0" for a shard)
//! format version         u32 little-endian
//! payload length         u64 little-endian
//! payload CRC-32         u32 little-endian
//! payload                postcard-encoded Model
//! ```
//!
//! A file that is not a model, from another format version, truncated, or corrupt is refused with
//! a message that says which. The encoding is deterministic (every map is saved sorted), so
//! training twice on the same input gives byte-identical files.

use std::io::Write;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::shard::Shard;
use super::Model;

const MAGIC: &[u8; 16] = b"LOGSIEVE-MODEL\n\0";
const SHARD_MAGIC: &[u8; 16] = b"LOGSIEVE-SHARD\n\0";
/// The model format this build reads and writes.
pub const FORMAT_VERSION: u32 = 8;
const HEADER: usize = 16 + 4 + 8 + 4;

/// Why a model file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// It cannot be read.
    #[error("{path}: cannot read {kind}: {source}")]
    Read {
        /// What the file should hold: `model` or `shard`.
        kind: &'static str,
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// It does not start with the magic bytes.
    #[error("{path}: not a logsieve {kind} (no {kind} header)")]
    NotAModel {
        /// What the file should hold.
        kind: &'static str,
        /// The file.
        path: String,
    },
    /// Another format version.
    #[error(
        "{path}: {kind} format version {found}, but this logsieve reads version {FORMAT_VERSION}: retrain the {kind} with this version"
    )]
    Version {
        /// What the file should hold.
        kind: &'static str,
        /// The file.
        path: String,
        /// Its version.
        found: u32,
    },
    /// Shorter than its header says.
    #[error("{path}: {kind} is truncated: {found} of {expected} bytes")]
    Truncated {
        /// What the file should hold.
        kind: &'static str,
        /// The file.
        path: String,
        /// Bytes the header announces.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// The checksum or the decoding failed.
    #[error("{path}: {kind} is corrupt: {what}")]
    Corrupt {
        /// What the file should hold.
        kind: &'static str,
        /// The file.
        path: String,
        /// What failed.
        what: String,
    },
    /// The place to write it does not exist, or is a directory.
    #[error("{path}: cannot write {kind} there: {why}")]
    Destination {
        /// What the file should hold.
        kind: &'static str,
        /// The file.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// Writing failed.
    #[error("{path}: cannot write {kind}: {source}")]
    Write {
        /// What the file should hold.
        kind: &'static str,
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Encodes a model with its header.
pub fn encode(model: &Model) -> Vec<u8> {
    frame(MAGIC, model)
}

/// Decodes a model file's bytes; `path` names it in errors.
pub fn decode(bytes: &[u8], path: &str) -> Result<Model, ModelError> {
    let mut model: Model = unframe(bytes, path, MAGIC, "model")?;
    if let Some(what) = model.problem() {
        return Err(ModelError::Corrupt { kind: "model", path: path.to_owned(), what });
    }
    model.rebuild();
    Ok(model)
}

/// Reads a model file.
pub fn load(path: &Path) -> Result<Model, ModelError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ModelError::Read { kind: "model", path: name.clone(), source })?;
    decode(&bytes, &name)
}

/// Writes a model atomically: to a temporary file in the same directory, synced, then renamed.
pub fn save(model: &Model, path: &Path) -> Result<(), ModelError> {
    write_atomic(&encode(model), path, "model")
}

/// Reads a shard file (`train --shard`).
pub fn load_shard(path: &Path) -> Result<Shard, ModelError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ModelError::Read { kind: "shard", path: name.clone(), source })?;
    decode_shard(&bytes, &name)
}

/// Decodes a shard file's bytes; `path` names it in errors.
pub fn decode_shard(bytes: &[u8], path: &str) -> Result<Shard, ModelError> {
    let shard: Shard = unframe(bytes, path, SHARD_MAGIC, "shard")?;
    match shard.problem() {
        Some(what) => Err(ModelError::Corrupt { kind: "shard", path: path.to_owned(), what }),
        None => Ok(shard),
    }
}

/// Encodes a shard with its header.
pub fn encode_shard(shard: &Shard) -> Vec<u8> {
    frame(SHARD_MAGIC, shard)
}

/// Writes a shard atomically.
pub fn save_shard(shard: &Shard, path: &Path) -> Result<(), ModelError> {
    write_atomic(&encode_shard(shard), path, "shard")
}

/// A raw payload behind a valid header (a shard's when `shard`): lets fuzzing reach the decoder
/// past the checksum.
#[doc(hidden)]
pub fn frame_raw(shard: bool, payload: &[u8]) -> Vec<u8> {
    frame_bytes(if shard { SHARD_MAGIC } else { MAGIC }, payload)
}

/// The header for `payload` under `magic`, then the payload.
fn frame_bytes(magic: &[u8; 16], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(magic);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// The header and the postcard payload.
fn frame(magic: &[u8; 16], value: &impl Serialize) -> Vec<u8> {
    frame_bytes(magic, &postcard::to_stdvec(value).unwrap_or_default())
}

/// Checks the header and decodes the payload; `kind` names what the file should hold.
fn unframe<T: DeserializeOwned>(bytes: &[u8], path: &str, magic: &[u8; 16], kind: &'static str) -> Result<T, ModelError> {
    let path = path.to_owned();
    if bytes.len() < magic.len() || &bytes[..magic.len()] != magic {
        if magic.starts_with(bytes) && !bytes.is_empty() {
            return Err(ModelError::Truncated { kind, path, expected: HEADER as u64, found: bytes.len() as u64 });
        }
        return Err(ModelError::NotAModel { kind, path });
    }
    if bytes.len() < HEADER {
        return Err(ModelError::Truncated { kind, path, expected: HEADER as u64, found: bytes.len() as u64 });
    }
    let u32_at = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let version = u32_at(16);
    if version != FORMAT_VERSION {
        return Err(ModelError::Version { kind, path, found: version });
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&bytes[20..28]);
    let len = u64::from_le_bytes(len);
    let crc = u32_at(28);
    let payload = &bytes[HEADER..];
    if (payload.len() as u64) < len {
        return Err(ModelError::Truncated { kind, path, expected: HEADER as u64 + len, found: bytes.len() as u64 });
    }
    if payload.len() as u64 > len {
        return Err(ModelError::Corrupt { kind, path, what: format!("{} bytes after the {kind}'s end", payload.len() as u64 - len) });
    }
    if crc32fast::hash(payload) != crc {
        return Err(ModelError::Corrupt { kind, path, what: "checksum mismatch".into() });
    }
    postcard::from_bytes(payload).map_err(|e| ModelError::Corrupt { kind, path, what: e.to_string() })
}

/// The directory a model or shard at `path` goes to.
fn parent(path: &Path) -> std::path::PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    }
}

/// Checks that a model (`kind` "model") or shard can be written at `path` before the work that
/// makes it: its directory exists (it is not created: a mistyped path should not make one), and
/// the path is not a directory.
pub fn check_destination(path: &Path, kind: &'static str) -> Result<(), ModelError> {
    let bad = |why: String| ModelError::Destination { kind, path: path.display().to_string(), why };
    let dir = parent(path);
    if !dir.is_dir() {
        return Err(bad(format!("no directory {}", dir.display())));
    }
    if path.is_dir() {
        return Err(bad("it is a directory; name a file in it".into()));
    }
    Ok(())
}

/// Writes `bytes` atomically: to a temporary file in the same directory, synced, then renamed.
fn write_atomic(bytes: &[u8], path: &Path, kind: &'static str) -> Result<(), ModelError> {
    let name = path.display().to_string();
    let err = |source| ModelError::Write { kind, path: name.clone(), source };
    check_destination(path, kind)?;
    let dir = parent(path);
    let file_name = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| kind.into());
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_model() -> Model {
        let sessions: Vec<crate::model::components::Featured> = (0..20u32)
            .map(|i| crate::model::components::Featured {
                key: String::new(),
                states: vec![0, 1 + i % 3, 4],
                params: vec![("user".into(), format!("u{}", i % 2))],
            })
            .collect();
        let states = crate::session::States::from_names(&["a", "b", "c", "d", "e"].map(String::from));
        Model::train(&crate::model::shard::each_once(sessions), &states, crate::model::TrainOptions::default().check().unwrap()).unwrap()
    }

    #[test]
    fn a_decodable_but_inconsistent_model_is_refused() {
        let mut m = small_model();
        m.ngrams = Default::default();
        let e = decode(&encode(&m), "m").unwrap_err().to_string();
        assert!(e.contains("model is corrupt: n-gram length 0"), "{e}");
    }

    #[test]
    fn every_truncation_and_bit_flip_is_refused() {
        let bytes = encode(&small_model());
        assert!(decode(&bytes, "m").is_ok());
        for cut in 0..bytes.len() {
            let e = decode(&bytes[..cut], "m").unwrap_err();
            assert!(matches!(e, ModelError::Truncated { .. } | ModelError::NotAModel { .. }), "cut {cut}: {e}");
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            assert!(decode(&b, "m").is_err(), "flip at {i} accepted");
        }
        let mut future = bytes.clone();
        future[16] = 9;
        assert!(decode(&future, "m").unwrap_err().to_string().contains("version 9"));
        assert!(decode(b"hello", "m").unwrap_err().to_string().contains("not a logsieve model"));
    }

    #[test]
    fn a_shard_is_refused_like_a_model_and_not_taken_for_one() {
        let sessions: Vec<crate::model::components::Featured> = (0..6u32)
            .map(|i| crate::model::components::Featured { key: String::new(), states: vec![0, 1 + i % 2], params: Vec::new() })
            .collect();
        let states = crate::session::States::from_names(&["a", "b", "c"].map(String::from));
        let mut miner = crate::normalize::miner::Miner::default();
        miner.add("disk sda1 full");
        let shard = Shard::new(
            crate::model::shard::each_once(sessions),
            &states,
            crate::model::TrainOptions::default(),
            Some(miner),
            Default::default(),
            Default::default(),
            Default::default(),
        );
        let bytes = encode_shard(&shard);
        assert!(decode_shard(&bytes, "s").is_ok());
        for cut in 0..bytes.len() {
            assert!(decode_shard(&bytes[..cut], "s").is_err(), "cut {cut}");
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            assert!(decode_shard(&b, "s").is_err(), "flip at {i} accepted");
        }
        assert!(decode(&bytes, "s").unwrap_err().to_string().contains("s: not a logsieve model"));
        assert!(decode_shard(&encode(&small_model()), "m").unwrap_err().to_string().contains("m: not a logsieve shard"));
    }
}

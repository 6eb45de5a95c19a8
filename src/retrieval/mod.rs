//! Retrieval: Chinese-aware lexical vectors, article chunking, the vector index
//! port with its embedded (qdrant-edge) and remote (qdrant-client) adapters,
//! ranking, the classifier learned from the KB's similar questions and the
//! confidence calibrated on them.

pub mod calibrate; // a KB's confidence, cross-validated on its own wordings
pub mod chunk; // article chunks by headings and sentence ends
pub mod classifier; // softmax regression over question embeddings
pub mod edge; // embedded Qdrant (qdrant-edge) in the data dir
pub use crate::ports::vector_index as index; // the port its adapters implement
pub mod lexical; // jieba + Snowball tokens, BM25-style sparse vectors
pub mod rank; // per-entry fusion of dense, lexical and classifier signals
pub mod remote; // a Qdrant server through qdrant-client
pub mod small_talk; // chit-chat as the classifier's "none of the entries" class
pub mod suggest; // typo-tolerant question suggestions

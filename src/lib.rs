//! Xiaoer (店小二): chatbot-first customer service for e-commerce shops.

pub mod bench; // load generators for `xiaoer bench`
pub mod cli; // command-line interface
pub mod commerce; // the Commerce port over HTTP (a real shop)
pub mod config; // typed Settings from flags, env and TOML
pub mod crypto; // encryption at rest, tokens, password hashing
pub mod domain; // pure types and rules
pub mod eval; // offline evaluation (`xiaoer eval faq`)
pub mod http; // axum routes, extractors, error mapping, WebSockets
pub mod llm; // local models: fetch, generation, embeddings
pub mod net; // outgoing HTTP clients (one TLS set-up)
pub mod ports; // traits the services need from outside
pub mod retrieval; // lexical vectors, chunking, Qdrant adapters, ranking
pub mod services; // use cases
pub mod startup; // wiring of concrete adapters; the server's lifecycle
pub mod storage; // SQLite and PostgreSQL adapters
pub mod telemetry; // tracing set-up

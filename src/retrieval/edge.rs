//! The embedded index: qdrant-edge (Qdrant's in-process engine) on disk in the data dir.
//!
//! The shard's calls block, so they run on the blocking pool. Writes and flushes
//! are serialised by a lock: the engine's `flush` panics if it meets a concurrent
//! writer, and one writer at a time is all a knowledge base needs.

use super::index::*;
use super::lexical::SparseVector;
use async_trait::async_trait;
use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::{
    Condition, CreateIndex, Distance, EdgeConfigBuilder, EdgeOptimizersConfig, EdgeShard,
    EdgeSparseVectorParamsBuilder, EdgeVectorParamsBuilder, FieldCondition, FieldIndexOperations,
    Filter, JsonPath, Match, Modifier, NamedQuery, PayloadFieldSchema, PayloadSchemaType, PointId,
    PointInsertOperations, PointOperations, QueryEnum, QueryRequest, Range, ScoredPoint,
    ScoringQuery, ScrollRequest, SearchParams, UpdateOperation, VectorInternal,
    WithPayloadInterface, WithVector,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::Mutex;

pub struct EdgeIndex {
    shard: Arc<EdgeShard>,
    path: PathBuf,
    writer: Mutex<()>,
    /// An exclusive lock on `PATH/xiaoer.lock`, held while the index is open: one
    /// process per directory (the kernel drops it when the process dies).
    _owner: std::fs::File,
}

/// Takes the directory's lock, or says who cannot have it.
fn lock_dir(path: &Path) -> Result<std::fs::File, IndexError> {
    std::fs::create_dir_all(path).map_err(engine)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path.join("xiaoer.lock"))
        .map_err(engine)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(IndexError::Engine(format!(
            "the index directory {} is in use by another xiaoer process: give each node its \
             own --index-dir, or share a Qdrant server (QDRANT_URL) between nodes",
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(err)) => Err(engine(err)),
    }
}

fn engine(err: impl std::fmt::Display) -> IndexError {
    IndexError::Engine(err.to_string())
}

/// The engine flushes a shard when its last handle goes, and panics if its
/// directory has gone meanwhile (a test's temporary data dir removed before the
/// server's tasks let go): such a shard is left unflushed (there is nothing to
/// flush it to) rather than aborting the process.
impl Drop for EdgeIndex {
    fn drop(&mut self) {
        if !self.path.join("edge_config.json").exists() {
            std::mem::forget(self.shard.clone());
        }
    }
}

impl EdgeIndex {
    /// Opens the shard at `path`, creating it for `dim`-dimensional dense vectors.
    pub fn open(path: &Path, dim: usize) -> Result<EdgeIndex, IndexError> {
        let owner = lock_dir(path)?;
        let exists = path.join("edge_config.json").exists();
        let shard = if exists {
            EdgeShard::load(path, None).map_err(engine)?
        } else {
            std::fs::create_dir_all(path).map_err(engine)?;
            let config = EdgeConfigBuilder::new()
                .vector(
                    DENSE,
                    EdgeVectorParamsBuilder::new(dim, Distance::Cosine).build(),
                )
                .sparse_vector(
                    LEXICAL,
                    EdgeSparseVectorParamsBuilder::new()
                        .modifier(Modifier::Idf)
                        .build(),
                )
                .optimizers(EdgeOptimizersConfig {
                    // Build the graph for any non-trivial segment when asked to.
                    indexing_threshold: Some(1),
                    ..EdgeOptimizersConfig::default()
                })
                .build();
            let shard = EdgeShard::new(path, config).map_err(engine)?;
            for field in ["entry_id", "kind", "category", "locale", "products"] {
                create_index(&shard, field, PayloadSchemaType::Keyword)?;
            }
            for field in ["valid_from", "valid_to"] {
                create_index(&shard, field, PayloadSchemaType::Integer)?;
            }
            shard
        };
        Ok(EdgeIndex {
            shard: Arc::new(shard),
            path: path.to_owned(),
            writer: Mutex::new(()),
            _owner: owner,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&EdgeShard) -> Result<T, IndexError> + Send + 'static,
    ) -> Result<T, IndexError> {
        let shard = self.shard.clone();
        tokio::task::spawn_blocking(move || f(&shard))
            .await
            .map_err(engine)?
    }
}

fn create_index(shard: &EdgeShard, field: &str, kind: PayloadSchemaType) -> Result<(), IndexError> {
    let op = FieldIndexOperations::CreateIndex(CreateIndex {
        field_name: path(field),
        field_schema: Some(PayloadFieldSchema::FieldType(kind)),
    });
    shard
        .update(UpdateOperation::FieldIndexOperation(op))
        .map_err(engine)
}

fn path(field: &str) -> JsonPath {
    field
        .parse()
        .expect("a plain field name is a valid JSON path")
}

fn keyword(field: &str, value: &str) -> Condition {
    Condition::Field(FieldCondition::new_match(
        path(field),
        Match::from(value.to_owned()),
    ))
}

fn range(field: &str, r: Range<OrderedFloat<f64>>) -> Condition {
    Condition::Field(FieldCondition::new_range(path(field), r))
}

pub(crate) fn edge_filter(f: &IndexFilter) -> Option<Filter> {
    let mut must = Vec::new();
    if let Some(c) = &f.category {
        must.push(keyword("category", c));
    }
    if let Some(l) = &f.locale {
        must.push(keyword("locale", l));
    }
    if let Some(p) = &f.product {
        must.push(keyword("products", p));
    }
    if let Some(day) = f.day {
        let day = OrderedFloat(day as f64);
        let none = Range {
            lt: None,
            gt: None,
            gte: None,
            lte: None,
        };
        must.push(range(
            "valid_from",
            Range {
                lte: Some(day),
                ..none
            },
        ));
        must.push(range(
            "valid_to",
            Range {
                gte: Some(day),
                ..none
            },
        ));
    }
    (!must.is_empty()).then(|| Filter {
        must: Some(must),
        ..Filter::default()
    })
}

fn to_point(p: IndexPoint) -> qdrant_edge::PointStructPersisted {
    let sparse = edge_sparse(p.sparse.indices, p.sparse.values);
    let vectors = qdrant_edge::NamedVectors::default()
        .add_vector(DENSE, p.dense)
        .add_vector(LEXICAL, sparse);
    let payload = serde_json::to_value(&p.payload).expect("payload serialises");
    qdrant_edge::PointStruct::new(PointId::NumId(p.id), vectors, payload).into()
}

fn to_hit(p: ScoredPoint) -> Option<IndexHit> {
    let payload = p.payload?;
    let entry_id = payload.0.get("entry_id")?.as_str()?.to_owned();
    let kind = serde_json::from_value(payload.0.get("kind")?.clone()).ok()?;
    let PointId::NumId(point_id) = p.id else {
        return None;
    };
    Some(IndexHit {
        point_id,
        entry_id,
        kind,
        score: p.score,
    })
}

fn payload_fields() -> WithPayloadInterface {
    WithPayloadInterface::Fields(vec![path("entry_id"), path("kind")])
}

fn run_query(
    shard: &EdgeShard,
    vector: VectorInternal,
    using: &str,
    q: &IndexQuery,
) -> Result<Vec<IndexHit>, IndexError> {
    let params = match q.mode {
        SearchMode::Exact => SearchParams {
            exact: true,
            ..SearchParams::default()
        },
        SearchMode::Approximate { ef } => SearchParams {
            hnsw_ef: Some(ef),
            ..SearchParams::default()
        },
    };
    let request = QueryRequest {
        prefetches: vec![],
        query: Some(ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery::new(
            vector, using,
        )))),
        filter: edge_filter(&q.filter),
        score_threshold: None,
        limit: q.limit,
        offset: 0,
        params: Some(params),
        with_vector: WithVector::Bool(false),
        with_payload: payload_fields(),
    };
    let points = shard.query(request).map_err(engine)?;
    Ok(points.into_iter().filter_map(to_hit).collect())
}

pub(crate) fn sparse_internal(s: &SparseVector) -> VectorInternal {
    VectorInternal::from(edge_sparse(s.indices.clone(), s.values.clone()))
}

/// Our sparse vectors come from a map, so their indices are unique.
fn edge_sparse(indices: Vec<u32>, values: Vec<f32>) -> qdrant_edge::SparseVector {
    qdrant_edge::SparseVector::new(indices, values).expect("unique indices, one value each")
}

#[async_trait]
impl VectorIndex for EdgeIndex {
    async fn upsert(&self, points: Vec<IndexPoint>) -> Result<(), IndexError> {
        if points.is_empty() {
            return Ok(());
        }
        let _w = self.writer.lock().await;
        self.blocking(move |shard| {
            let points = points.into_iter().map(to_point).collect();
            let op = PointOperations::UpsertPoints(PointInsertOperations::PointsList(points));
            shard
                .update(UpdateOperation::PointOperation(op))
                .map_err(engine)
        })
        .await
    }

    async fn delete_entry(&self, entry_id: &str) -> Result<(), IndexError> {
        let _w = self.writer.lock().await;
        let filter = Filter::new_must(keyword("entry_id", entry_id));
        self.blocking(move |shard| {
            let op = PointOperations::DeletePointsByFilter(filter);
            shard
                .update(UpdateOperation::PointOperation(op))
                .map_err(engine)
        })
        .await
    }

    async fn clear(&self) -> Result<(), IndexError> {
        let _w = self.writer.lock().await;
        let filter = Filter::new_must_not(keyword("entry_id", "\u{0}"));
        self.blocking(move |shard| {
            let op = PointOperations::DeletePointsByFilter(filter);
            shard
                .update(UpdateOperation::PointOperation(op))
                .map_err(engine)
        })
        .await
    }

    async fn count(&self) -> Result<usize, IndexError> {
        self.blocking(|shard| {
            let request = qdrant_edge::CountRequest {
                filter: None,
                exact: true,
            };
            shard.count(request).map_err(engine)
        })
        .await
    }

    async fn search(&self, q: IndexQuery) -> Result<IndexResults, IndexError> {
        // The two searches are independent: on two cores they run side by side.
        let q = Arc::new(q);
        let (dq, sq) = (q.clone(), q);
        let dense = self.blocking(move |shard| match &dq.dense {
            Some(v) => run_query(shard, VectorInternal::from(v.clone()), DENSE, &dq),
            None => Ok(Vec::new()),
        });
        let sparse = self.blocking(move |shard| match &sq.sparse {
            Some(s) if !s.is_empty() => run_query(shard, sparse_internal(s), LEXICAL, &sq),
            _ => Ok(Vec::new()),
        });
        let (dense, sparse) = tokio::try_join!(dense, sparse)?;
        Ok(IndexResults { dense, sparse })
    }

    async fn vectors(&self, kind: PointKind) -> Result<Vec<StoredVectors>, IndexError> {
        let kind = serde_json::to_value(kind).expect("kind serialises");
        let kind = kind.as_str().expect("kind is a string").to_owned();
        self.blocking(move |shard| scroll_vectors(shard, &kind))
            .await
    }

    async fn optimize(&self) -> Result<(), IndexError> {
        let _w = self.writer.lock().await;
        self.blocking(|shard| {
            shard.optimize().map_err(engine)?;
            shard.flush();
            Ok(())
        })
        .await
    }

    async fn flush(&self) -> Result<(), IndexError> {
        let _w = self.writer.lock().await;
        self.blocking(|shard| {
            shard.flush();
            Ok(())
        })
        .await
    }
}

fn scroll_vectors(shard: &EdgeShard, kind: &str) -> Result<Vec<StoredVectors>, IndexError> {
    let mut out = Vec::new();
    let mut offset = None;
    loop {
        let request = ScrollRequest {
            offset,
            limit: Some(1_000),
            filter: Some(Filter::new_must(keyword("kind", kind))),
            with_payload: Some(payload_fields()),
            with_vector: WithVector::Selector(vec![DENSE.into(), LEXICAL.into()]),
            order_by: None,
        };
        let (records, next) = shard.scroll(request).map_err(engine)?;
        for r in records {
            let entry = r
                .payload
                .as_ref()
                .and_then(|p| p.0.get("entry_id"))
                .and_then(|v| v.as_str())
                .map(str::to_owned);
            let Some(qdrant_edge::VectorStructInternal::Named(mut named)) = r.vector else {
                continue;
            };
            let dense = match named.remove(DENSE) {
                Some(VectorInternal::Dense(d)) => d,
                _ => continue,
            };
            // A point whose text had no lexical terms has an empty sparse vector.
            let sparse = match named.remove(LEXICAL) {
                Some(VectorInternal::Sparse(s)) => SparseVector {
                    indices: s.indices,
                    values: s.values,
                },
                _ => SparseVector::default(),
            };
            if let Some(entry_id) = entry {
                out.push(StoredVectors {
                    entry_id,
                    dense,
                    sparse,
                });
            }
        }
        match next {
            Some(n) => offset = Some(n),
            None => return Ok(out),
        }
    }
}

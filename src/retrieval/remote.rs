//! The remote index: a Qdrant server (or cluster) through qdrant-client, for shops
//! that outgrow one machine. Same collection layout and payload as the embedded
//! engine, so `rank` sees identical candidate lists from either.

use super::index::*;
use async_trait::async_trait;
use qdrant_client::Qdrant;
use qdrant_client::qdrant::{
    Condition, CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder,
    DeletePointsBuilder, Distance, FieldType, Filter, Modifier, PointId, PointStruct, Query,
    QueryPointsBuilder, Range, ScoredPoint, ScrollPointsBuilder, SearchParamsBuilder,
    SparseVectorParamsBuilder, SparseVectorsConfigBuilder, UpsertPointsBuilder, Vector,
    VectorParamsBuilder, VectorsConfigBuilder, point_id::PointIdOptions,
    vector_output::Vector as OutputVector, vectors_output::VectorsOptions,
};
use std::collections::HashMap;

pub struct RemoteIndex {
    client: Qdrant,
    collection: String,
}

fn unreachable(e: impl std::fmt::Display) -> IndexError {
    IndexError::Unreachable(e.to_string())
}

impl RemoteIndex {
    /// Connects and creates the collection (dense + sparse with IDF) if missing.
    pub async fn connect(
        url: &str,
        collection: &str,
        dim: usize,
    ) -> Result<RemoteIndex, IndexError> {
        Self::connect_with_key(url, None, collection, dim).await
    }

    /// As `connect`, with the API key of a managed Qdrant. The key is sent only
    /// over TLS: with a plain `http://` URL it is refused, never sent.
    pub async fn connect_with_key(
        url: &str,
        api_key: Option<&str>,
        collection: &str,
        dim: usize,
    ) -> Result<RemoteIndex, IndexError> {
        // qdrant-client 1.20 warns against servers more than one minor version
        // apart; the calls made here are held to the contract test against a
        // 1.18 server (scripts/test.sh), so the check only adds noise.
        let mut builder = Qdrant::from_url(url).skip_compatibility_check();
        if let Some(key) = api_key {
            if !url.starts_with("https://") {
                return Err(IndexError::Unreachable(
                    "a Qdrant API key is sent only over TLS: use an https:// URL".into(),
                ));
            }
            builder = builder.api_key(key.to_owned());
        }
        let client = builder.build().map_err(unreachable)?;
        let exists = client
            .collection_exists(collection)
            .await
            .map_err(unreachable)?;
        if !exists {
            let mut vectors = VectorsConfigBuilder::default();
            vectors.add_named_vector_params(
                DENSE,
                VectorParamsBuilder::new(dim as u64, Distance::Cosine),
            );
            let mut sparse = SparseVectorsConfigBuilder::default();
            sparse.add_named_vector_params(
                LEXICAL,
                SparseVectorParamsBuilder::default().modifier(Modifier::Idf),
            );
            client
                .create_collection(
                    CreateCollectionBuilder::new(collection)
                        .vectors_config(vectors)
                        .sparse_vectors_config(sparse),
                )
                .await
                .map_err(unreachable)?;
            for (field, kind) in [
                ("entry_id", FieldType::Keyword),
                ("kind", FieldType::Keyword),
                ("category", FieldType::Keyword),
                ("locale", FieldType::Keyword),
                ("products", FieldType::Keyword),
                ("valid_from", FieldType::Integer),
                ("valid_to", FieldType::Integer),
            ] {
                client
                    .create_field_index(
                        CreateFieldIndexCollectionBuilder::new(collection, field, kind).wait(true),
                    )
                    .await
                    .map_err(unreachable)?;
            }
        }
        Ok(RemoteIndex {
            client,
            collection: collection.to_owned(),
        })
    }
}

fn remote_filter(f: &IndexFilter) -> Option<Filter> {
    let mut must = Vec::new();
    if let Some(c) = &f.category {
        must.push(Condition::matches("category", c.clone()));
    }
    if let Some(l) = &f.locale {
        must.push(Condition::matches("locale", l.clone()));
    }
    if let Some(p) = &f.product {
        must.push(Condition::matches("products", p.clone()));
    }
    if let Some(day) = f.day {
        let day = day as f64;
        must.push(Condition::range(
            "valid_from",
            Range {
                lte: Some(day),
                ..Default::default()
            },
        ));
        must.push(Condition::range(
            "valid_to",
            Range {
                gte: Some(day),
                ..Default::default()
            },
        ));
    }
    (!must.is_empty()).then(|| Filter::must(must))
}

fn to_hit(p: ScoredPoint) -> Option<IndexHit> {
    let entry_id = p.payload.get("entry_id")?.as_str()?.to_string();
    let kind = match p.payload.get("kind")?.as_str()?.as_str() {
        "question" => PointKind::Question,
        "answer" => PointKind::Answer,
        "product" => PointKind::Product,
        _ => PointKind::Chunk,
    };
    let point_id = match p.id?.point_id_options? {
        PointIdOptions::Num(n) => n,
        PointIdOptions::Uuid(_) => return None,
    };
    Some(IndexHit {
        point_id,
        entry_id,
        kind,
        score: p.score,
    })
}

impl RemoteIndex {
    async fn query(
        &self,
        query: Query,
        using: &str,
        q: &IndexQuery,
    ) -> Result<Vec<IndexHit>, IndexError> {
        let params = match q.mode {
            SearchMode::Exact => SearchParamsBuilder::default().exact(true),
            SearchMode::Approximate { ef } => SearchParamsBuilder::default().hnsw_ef(ef as u64),
        };
        let mut request = QueryPointsBuilder::new(&self.collection)
            .query(query)
            .using(using)
            .limit(q.limit as u64)
            .params(params)
            .with_payload(qdrant_client::qdrant::PayloadIncludeSelector::from(vec![
                "entry_id".to_string(),
                "kind".to_string(),
            ]));
        if let Some(f) = remote_filter(&q.filter) {
            request = request.filter(f);
        }
        let response = self.client.query(request).await.map_err(unreachable)?;
        Ok(response.result.into_iter().filter_map(to_hit).collect())
    }
}

#[async_trait]
impl VectorIndex for RemoteIndex {
    async fn upsert(&self, points: Vec<IndexPoint>) -> Result<(), IndexError> {
        if points.is_empty() {
            return Ok(());
        }
        let points: Vec<PointStruct> = points
            .into_iter()
            .map(|p| {
                let mut vectors: HashMap<String, Vector> = HashMap::new();
                vectors.insert(DENSE.into(), Vector::new_dense(p.dense));
                vectors.insert(
                    LEXICAL.into(),
                    Vector::new_sparse(p.sparse.indices, p.sparse.values),
                );
                let serde_json::Value::Object(map) =
                    serde_json::to_value(&p.payload).expect("payload serialises")
                else {
                    unreachable!("a struct serialises to an object")
                };
                let payload = qdrant_client::Payload::from(map);
                PointStruct::new(p.id, vectors, payload)
            })
            .collect();
        self.client
            .upsert_points(UpsertPointsBuilder::new(&self.collection, points).wait(true))
            .await
            .map_err(unreachable)?;
        Ok(())
    }

    async fn delete_entry(&self, entry_id: &str) -> Result<(), IndexError> {
        let filter = Filter::must([Condition::matches("entry_id", entry_id.to_owned())]);
        self.client
            .delete_points(
                DeletePointsBuilder::new(&self.collection)
                    .points(filter)
                    .wait(true),
            )
            .await
            .map_err(unreachable)?;
        Ok(())
    }

    async fn clear(&self) -> Result<(), IndexError> {
        let filter = Filter::must_not([Condition::matches("entry_id", "\u{0}".to_owned())]);
        self.client
            .delete_points(
                DeletePointsBuilder::new(&self.collection)
                    .points(filter)
                    .wait(true),
            )
            .await
            .map_err(unreachable)?;
        Ok(())
    }

    async fn count(&self) -> Result<usize, IndexError> {
        let r = self
            .client
            .count(CountPointsBuilder::new(&self.collection).exact(true))
            .await
            .map_err(unreachable)?;
        Ok(r.result.map(|c| c.count as usize).unwrap_or(0))
    }

    async fn search(&self, q: IndexQuery) -> Result<IndexResults, IndexError> {
        // Two independent requests, in flight together.
        let dense = async {
            match &q.dense {
                Some(v) => self.query(Query::new_nearest(v.clone()), DENSE, &q).await,
                None => Ok(Vec::new()),
            }
        };
        let sparse = async {
            match &q.sparse {
                Some(s) if !s.is_empty() => {
                    let input = qdrant_client::qdrant::VectorInput::new_sparse(
                        s.indices.clone(),
                        s.values.clone(),
                    );
                    self.query(Query::new_nearest(input), LEXICAL, &q).await
                }
                _ => Ok(Vec::new()),
            }
        };
        let (dense, sparse) = tokio::try_join!(dense, sparse)?;
        Ok(IndexResults { dense, sparse })
    }

    async fn vectors(&self, kind: PointKind) -> Result<Vec<StoredVectors>, IndexError> {
        let kind = match kind {
            PointKind::Question => "question",
            PointKind::Answer => "answer",
            PointKind::Chunk => "chunk",
            PointKind::Product => "product",
        };
        let mut out = Vec::new();
        let mut offset: Option<PointId> = None;
        loop {
            let mut request = ScrollPointsBuilder::new(&self.collection)
                .filter(Filter::must([Condition::matches("kind", kind.to_owned())]))
                .limit(1_000)
                .with_payload(true)
                .with_vectors(qdrant_client::qdrant::VectorsSelector::from(vec![
                    DENSE.to_string(),
                    LEXICAL.to_string(),
                ]));
            if let Some(o) = offset.take() {
                request = request.offset(o);
            }
            let page = self.client.scroll(request).await.map_err(unreachable)?;
            for point in page.result {
                let entry = point
                    .payload
                    .get("entry_id")
                    .and_then(|v| v.as_str())
                    .map(|s| s.to_string());
                let named = point.vectors.and_then(|v| match v.vectors_options? {
                    VectorsOptions::Vectors(named) => Some(named.vectors),
                    VectorsOptions::Vector(_) => None,
                });
                let Some(mut named) = named else { continue };
                // Servers since 1.16 fill the typed `vector` field and leave the
                // deprecated flat fields empty; `into_vector` reads either form.
                let dense = match named.remove(DENSE).map(|v| v.into_vector()) {
                    Some(OutputVector::Dense(d)) => d.data,
                    _ => continue,
                };
                let Some(entry_id) = entry else { continue };
                // A point whose text had no lexical terms has an empty sparse vector.
                let sparse = match named.remove(LEXICAL).map(|v| v.into_vector()) {
                    Some(OutputVector::Sparse(s)) => crate::retrieval::lexical::SparseVector {
                        indices: s.indices,
                        values: s.values,
                    },
                    _ => Default::default(),
                };
                out.push(StoredVectors {
                    entry_id,
                    dense,
                    sparse,
                });
            }
            match page.next_page_offset {
                Some(next) => offset = Some(next),
                None => return Ok(out),
            }
        }
    }

    /// The server builds its graph by itself.
    async fn optimize(&self) -> Result<(), IndexError> {
        Ok(())
    }

    /// Every write waits for the server (`wait`), which logs it durably first.
    async fn flush(&self) -> Result<(), IndexError> {
        Ok(())
    }
}

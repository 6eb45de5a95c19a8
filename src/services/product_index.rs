//! The catalogue in the vector index: one point per product in the `products`
//! collection (the e5 vector of its title, category and description), and each product's
//! nearest products by content, for the recommendations
//! (`domain::recommend::ContentNeighbours`).
//!
//! A product is embedded again only when its text changed; the first call of a
//! process embeds the whole catalogue (a few seconds for a few hundred
//! products on two cores), later ones only what is new, and products gone from
//! the catalogue leave the collection.

use crate::domain::catalogue::Product;
use crate::domain::recommend::{CONTENT_KEPT, ContentNeighbours};
use crate::ports::vector_index::{
    IndexError, IndexFilter, IndexPoint, IndexQuery, OPEN_FUTURE, OPEN_PAST, PointKind,
    PointPayload, SearchMode, SparseVector, VectorIndex, point_id,
};
use crate::ports::{EmbedKind, Embedder, ModelError};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Mutex;

/// Products embedded per model call.
const EMBED_BATCH: usize = 32;
/// Up to this many products each is compared with every other; a larger
/// catalogue searches the collection's HNSW graph.
const EXACT_UP_TO: usize = 2_000;

#[derive(Debug, thiserror::Error)]
pub enum ProductIndexError {
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// A product's embedded text and its vector, by sku.
type Embedded = HashMap<String, (String, Vec<f32>)>;

pub struct ProductIndex {
    index: Arc<dyn VectorIndex>,
    embedder: Arc<dyn Embedder>,
    /// What the collection holds, by sku: the embedded text and its vector.
    /// Empty at start: the first call clears the collection and fills it.
    indexed: Mutex<Option<Embedded>>,
}

/// The text a product is embedded from: its title, category and description.
fn text_of(product: &Product) -> String {
    let text = format!("{}（{}）", product.title, product.category);
    if product.description.is_empty() {
        text
    } else {
        format!("{text} {}", product.description)
    }
}

impl ProductIndex {
    pub fn new(index: Arc<dyn VectorIndex>, embedder: Arc<dyn Embedder>) -> Self {
        Self {
            index,
            embedder,
            indexed: Mutex::new(None),
        }
    }

    /// Brings the collection in step with `products` and returns each
    /// product's nearest products by content. One caller at a time.
    pub async fn neighbours(
        &self,
        products: &[Product],
    ) -> Result<ContentNeighbours, ProductIndexError> {
        let mut guard = self.indexed.lock().await;
        if guard.is_none() {
            // What an earlier process left may name products since removed.
            self.index.clear().await?;
        }
        let indexed = guard.get_or_insert_with(HashMap::new);
        let stale: Vec<&Product> = products
            .iter()
            .filter(|p| {
                indexed
                    .get(&p.sku)
                    .is_none_or(|(text, _)| *text != text_of(p))
            })
            .collect();
        for batch in stale.chunks(EMBED_BATCH) {
            let texts: Vec<String> = batch.iter().map(|p| text_of(p)).collect();
            let vectors = self
                .embedder
                .embed(texts.clone(), EmbedKind::Passage)
                .await?;
            let points = batch
                .iter()
                .zip(&vectors)
                .map(|(product, dense)| IndexPoint {
                    id: point_id(&product.sku, 0),
                    dense: dense.clone(),
                    sparse: SparseVector::default(),
                    payload: PointPayload {
                        entry_id: product.sku.clone(),
                        kind: PointKind::Product,
                        category: vec![product.category.clone()],
                        locale: "zh".into(),
                        products: vec![product.sku.clone()],
                        valid_from: OPEN_PAST,
                        valid_to: OPEN_FUTURE,
                    },
                })
                .collect();
            self.index.upsert(points).await?;
            for ((product, text), dense) in batch.iter().zip(texts).zip(vectors) {
                indexed.insert(product.sku.clone(), (text, dense));
            }
        }
        let listed: std::collections::HashSet<&str> =
            products.iter().map(|p| p.sku.as_str()).collect();
        let gone: Vec<String> = indexed
            .keys()
            .filter(|sku| !listed.contains(sku.as_str()))
            .cloned()
            .collect();
        for sku in gone {
            self.index.delete_entry(&sku).await?;
            indexed.remove(&sku);
        }
        let exact = indexed.len() <= EXACT_UP_TO;
        if !stale.is_empty() {
            if exact {
                self.index.flush().await?;
            } else {
                self.index.optimize().await?;
            }
        }
        let mode = if exact {
            SearchMode::Exact
        } else {
            SearchMode::Approximate { ef: 128 }
        };
        let mut similar = HashMap::with_capacity(indexed.len());
        for (sku, (_, dense)) in indexed.iter() {
            let found = self
                .index
                .search(IndexQuery {
                    dense: Some(dense.clone()),
                    sparse: None,
                    filter: IndexFilter::default(),
                    limit: CONTENT_KEPT + 1,
                    mode,
                })
                .await?;
            let near = found
                .dense
                .into_iter()
                .map(|hit| (hit.entry_id, hit.score))
                .collect();
            similar.insert(sku.clone(), near);
        }
        Ok(ContentNeighbours::from_similar(similar))
    }
}

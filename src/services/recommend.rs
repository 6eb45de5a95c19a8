//! Product recommendations for a buyer: item-to-item from co-view (the product
//! pages of the shop's visits) and co-buy (the Commerce port's orders), learned
//! again at most once a minute and kept in memory, so a recommendation is a
//! lookup (a stale model keeps serving while the next one is learned in the
//! background, off the request path). The demo store also learns from the generated demo logs
//! (`storage::demo_logs`), so the demo shop recommends from the start.
//! Content similarity (the catalogue's e5 vectors in the vector index's
//! `products` collection, `services::product_index`) is blended in at each
//! learning (the first model serves co-occurrence alone while the catalogue
//! is embedded); if it fails (the index unreachable), co-occurrence serves alone.

use super::chat::{Actor, ChatError, ChatService};
use super::product_index::ProductIndex;
use super::staff::StaffUser;
use crate::domain::catalogue::{Product, Sku};
use crate::domain::conversation::ConversationId;
use crate::domain::recommend::{Basket, CONTENT_PRIOR, CONTENT_WEIGHT, ItemToItem};
use crate::ports::repositories::{RepoError, ShoppingHistory};
use crate::ports::{Clock, Commerce, CommerceError};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// How long a learned model serves before it is learned again.
const RELEARN_AFTER_MS: i64 = 60_000;
/// Visits and orders the model learns from (the newest).
const LEARN_FROM_VISITS: i64 = 20_000;
const LEARN_FROM_ORDERS: i64 = 20_000;
/// How far back visits count.
const LEARN_WINDOW_MS: i64 = 30 * 24 * 3_600_000;
/// Products of the buyer's own history that seed a recommendation.
const MAX_SEEDS: usize = 12;
/// Products a recommendation lists.
pub const RECOMMENDED: usize = 10;
/// The catalogue is read for content similarity this many products a call,
/// up to `CATALOGUE_MAX` products.
const CATALOGUE_PAGE: i64 = 1_000;
const CATALOGUE_MAX: usize = 50_000;

#[derive(Debug, thiserror::Error)]
pub enum RecommendError {
    #[error(transparent)]
    Commerce(#[from] CommerceError),
    #[error(transparent)]
    Chat(#[from] ChatError),
    #[error(transparent)]
    Records(#[from] RepoError),
}

/// A model and when it was learned.
type Learned = (i64, Arc<ItemToItem>);

pub struct Recommender {
    history: Arc<dyn ShoppingHistory>,
    commerce: Arc<dyn Commerce>,
    chat: Arc<ChatService>,
    clock: Arc<dyn Clock>,
    /// Baskets learned on top of the shop's own (the demo logs), if any.
    seeded: Arc<Vec<Basket>>,
    content: Option<Arc<ProductIndex>>,
    model: Arc<Mutex<Option<Learned>>>,
    /// A background relearning is under way.
    learning: Arc<AtomicBool>,
}

impl Recommender {
    pub fn new(
        history: Arc<dyn ShoppingHistory>,
        commerce: Arc<dyn Commerce>,
        chat: Arc<ChatService>,
        clock: Arc<dyn Clock>,
        seeded: Vec<Basket>,
        content: Option<Arc<ProductIndex>>,
    ) -> Self {
        Self {
            history,
            commerce,
            chat,
            clock,
            seeded: Arc::new(seeded),
            content,
            model: Arc::default(),
            learning: Arc::default(),
        }
    }

    /// Products recommended for the buyer of a conversation the agent may see:
    /// related to what the buyer is looking at, has in the cart and bought;
    /// sold-out products and those already in the cart are left out.
    pub async fn for_conversation(
        &self,
        staff: &StaffUser,
        id: &ConversationId,
    ) -> Result<Vec<Product>, RecommendError> {
        let conversation = self.chat.visible(Actor::Staff(staff), id).await?;
        self.for_visitor(&conversation.visitor_id).await
    }

    /// Products recommended for a buyer (the bot offers them in the chat).
    pub async fn for_visitor(&self, visitor_id: &str) -> Result<Vec<Product>, RecommendError> {
        let (seeds, in_cart) = self.seeds(visitor_id).await?;
        self.products(&seeds, &in_cart).await
    }

    /// Products recommended for a buyer who looked at `seeds` (most telling first).
    pub async fn products(
        &self,
        seeds: &[String],
        exclude: &HashSet<String>,
    ) -> Result<Vec<Product>, RecommendError> {
        let model = self.model().await?;
        // Ask for more than shown: some may be sold out or gone from the shop.
        let skus = model.recommend(seeds, exclude, RECOMMENDED * 2);
        let mut out = Vec::with_capacity(RECOMMENDED);
        for sku in skus {
            let Ok(sku) = Sku::parse(&sku) else { continue };
            if let Some(product) = self.commerce.product(&sku).await?
                && product.stock > 0
            {
                out.push(product);
                if out.len() == RECOMMENDED {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// The catalogue categories of the buyer's products (pages viewed, cart,
    /// orders), most frequent first, ties to the most telling; at most three.
    pub async fn interests(&self, visitor_id: &str) -> Result<Vec<String>, RecommendError> {
        let (seeds, _) = self.seeds(visitor_id).await?;
        let mut counts: Vec<(String, usize)> = Vec::new();
        for sku in seeds {
            let Ok(sku) = Sku::parse(&sku) else { continue };
            let Some(product) = self.commerce.product(&sku).await? else {
                continue;
            };
            match counts.iter_mut().find(|(c, _)| *c == product.category) {
                Some(entry) => entry.1 += 1,
                None => counts.push((product.category, 1)),
            }
        }
        // Stable: equal counts keep the order of the most telling product.
        counts.sort_by_key(|c| std::cmp::Reverse(c.1));
        Ok(counts.into_iter().take(3).map(|(c, _)| c).collect())
    }

    /// The buyer's products, most telling first: the current page and the
    /// pages before it (newest visit first, then the chat's context), the cart,
    /// then past orders. Also the cart's skus (not recommended again).
    async fn seeds(
        &self,
        visitor_id: &str,
    ) -> Result<(Vec<String>, HashSet<String>), RecommendError> {
        let mut seeds: Vec<String> = Vec::new();
        let mut cart = HashSet::new();
        for state in self.history.visits_of(visitor_id, 5).await? {
            for page in state.pages.iter().rev() {
                if let Some(sku) = Sku::of_page(&page.url) {
                    add_once(sku.as_str().to_owned(), &mut seeds);
                }
            }
            cart.extend(state.cart.into_iter().map(|item| item.sku));
        }
        let buyer = self.history.buyer_context(visitor_id).await?;
        if let Some(context) = buyer.context {
            let pages = context
                .current_page
                .iter()
                .chain(context.pages_viewed.iter().rev().map(|p| &p.url));
            for url in pages {
                if let Some(sku) = Sku::of_page(url) {
                    add_once(sku.as_str().to_owned(), &mut seeds);
                }
            }
            cart.extend(context.cart.into_iter().map(|item| item.sku));
        }
        let mut in_cart: Vec<&String> = cart.iter().collect();
        in_cart.sort();
        for sku in in_cart {
            add_once(sku.clone(), &mut seeds);
        }
        if let Some(account) = buyer.shop_account_id.as_deref() {
            for order in self.commerce.recent_orders(account, 5).await? {
                for line in order.lines {
                    add_once(line.sku, &mut seeds);
                }
            }
        }
        seeds.truncate(MAX_SEEDS);
        Ok((seeds, cart))
    }

    /// The model. The first is learned on the spot from co-occurrence alone
    /// (seconds of arithmetic at most), and a background task blends in
    /// content similarity at once: that embeds the whole catalogue on the
    /// first learning, which no buyer waits for. One older than a minute keeps
    /// serving while a background task learns the next.
    async fn model(&self) -> Result<Arc<ItemToItem>, RecommendError> {
        let now = self.clock.now_ms();
        let current = self.model.lock().expect("model lock").clone();
        let Some((at, model)) = current else {
            let model = Arc::new(self.learner().co_occurrence(now).await?);
            *self.model.lock().expect("model lock") = Some((now, model.clone()));
            if self.content.is_some() {
                self.learn_in_background(now);
            }
            return Ok(model);
        };
        if now - at >= RELEARN_AFTER_MS {
            self.learn_in_background(now);
        }
        Ok(model)
    }

    /// Learns the next model off the request path, unless one is being learned.
    fn learn_in_background(&self, now: i64) {
        if self.learning.swap(true, Ordering::AcqRel) {
            return;
        }
        let (learner, slot, learning) = (self.learner(), self.model.clone(), self.learning.clone());
        tokio::spawn(async move {
            match learner.learn(now).await {
                Ok(model) => *slot.lock().expect("model lock") = Some((now, Arc::new(model))),
                Err(error) => tracing::warn!(%error, "recommendations not learned again"),
            }
            learning.store(false, Ordering::Release);
        });
    }

    fn learner(&self) -> Learner {
        Learner {
            history: self.history.clone(),
            commerce: self.commerce.clone(),
            seeded: self.seeded.clone(),
            content: self.content.clone(),
        }
    }
}

/// What a model is learned from.
struct Learner {
    history: Arc<dyn ShoppingHistory>,
    commerce: Arc<dyn Commerce>,
    seeded: Arc<Vec<Basket>>,
    content: Option<Arc<ProductIndex>>,
}

impl Learner {
    /// Co-occurrence blended with content similarity (when the index answers).
    async fn learn(self, now: i64) -> Result<ItemToItem, RecommendError> {
        let learned = self.co_occurrence(now).await?;
        Ok(match self.content_neighbours().await {
            Some(content) => learned.with_content(content, CONTENT_WEIGHT, CONTENT_PRIOR),
            None => learned,
        })
    }

    /// The baskets of the shop's recent visits and orders (and the seeded
    /// ones), related on a blocking thread (it is seconds of arithmetic).
    async fn co_occurrence(&self, now: i64) -> Result<ItemToItem, RecommendError> {
        let mut baskets = self.seeded.as_ref().clone();
        for state in self
            .history
            .visits_since(now - LEARN_WINDOW_MS, LEARN_FROM_VISITS)
            .await?
        {
            let skus: Vec<String> = state
                .pages
                .iter()
                .filter_map(|p| Sku::of_page(&p.url))
                .map(|s| s.as_str().to_owned())
                .collect();
            if skus.len() > 1 {
                baskets.push(Basket::viewed(skus));
            }
        }
        for order in self.commerce.order_baskets(LEARN_FROM_ORDERS).await? {
            if order.len() > 1 {
                baskets.push(Basket::bought(order));
            }
        }
        Ok(
            tokio::task::spawn_blocking(move || ItemToItem::learn(&baskets))
                .await
                .expect("learning does not panic"),
        )
    }

    /// The catalogue's nearest products by content, when the shop lists its
    /// products and the index answers.
    async fn content_neighbours(&self) -> Option<crate::domain::recommend::ContentNeighbours> {
        let index = self.content.as_ref()?;
        let mut products: Vec<crate::domain::catalogue::Product> = Vec::new();
        loop {
            let after = products.last().map(|p| p.sku.as_str());
            match self.commerce.catalogue_page(after, CATALOGUE_PAGE).await {
                Ok(page) => {
                    let last = page.len() < CATALOGUE_PAGE as usize;
                    products.extend(page);
                    if last || products.len() >= CATALOGUE_MAX {
                        break;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "catalogue not read for content similarity");
                    return None;
                }
            }
        }
        if products.is_empty() {
            return None;
        }
        match index.neighbours(&products).await {
            Ok(content) => Some(content),
            Err(error) => {
                tracing::warn!(%error, "content similarity left out of the recommendations");
                None
            }
        }
    }
}

fn add_once(sku: String, seeds: &mut Vec<String>) {
    if !seeds.contains(&sku) {
        seeds.push(sku);
    }
}

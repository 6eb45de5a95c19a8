//! Offline recommendation quality on the generated demo logs
//! (`storage::demo_logs`): hit-rate@k on each shopper's held-out last visit of
//! item-to-item from co-view and co-buy, of content similarity alone (the e5
//! vectors of the product titles, through the same `products` collection code
//! the server runs, in a temporary embedded index), of the two blended, and of
//! the popularity baseline.
//!
//! The blend's weight is fitted here without looking at the held-out visits:
//! each shopper's last *training* visit is a validation case, the model learns
//! from the other training visits, and the weight with the best validation
//! hit-rate is reported (`fitted_content_weight`); the shipped
//! `CONTENT_WEIGHT` is what this printed. A thin-data run (one shopper in ten
//! for training, as a new shop has) shows what content adds when few visits
//! relate the products.

use crate::config::Settings;
use crate::domain::recommend::{
    CONTENT_PRIOR, CONTENT_WEIGHT, ContentNeighbours, HeldOut, ItemToItem, hit_rate,
};
use crate::ports::Embedder;
use crate::retrieval::edge::EdgeIndex;
use crate::services::product_index::ProductIndex;
use crate::storage::demo_catalogue;
use crate::storage::demo_logs::{self, GeneratedVisit, ShoppingLogs};
use serde::Serialize;
use std::collections::HashSet;
use std::sync::Arc;

/// The blend weights and priors tried on the validation split.
const WEIGHTS: [f32; 8] = [0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0];
const PRIORS: [f32; 6] = [1.0, 3.0, 10.0, 30.0, 100.0, 1_000.0];

#[derive(clap::Args, Debug)]
pub struct RecommendEvalArgs {
    /// How many products a recommendation lists.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
}

#[derive(Debug, Serialize)]
pub struct RecommendReport {
    pub k: usize,
    pub train_visits: usize,
    pub held_out_cases: usize,
    pub products_known: usize,
    /// Share of held-out cases whose next product was in the top k.
    pub item_to_item_hit_rate: f64,
    pub content_hit_rate: f64,
    /// Item-to-item with content at the shipped `CONTENT_WEIGHT` and `CONTENT_PRIOR`.
    pub blended_hit_rate: f64,
    pub popularity_hit_rate: f64,
    pub shipped_content_weight: f32,
    pub shipped_content_prior: f32,
    /// The weight and prior with the best hit-rate on the validation split
    /// (ties to the smaller weight, then prior), and the validation hit-rate of
    /// each pair tried as (weight, prior, hit-rate).
    pub fitted_content_weight: f32,
    pub fitted_content_prior: f32,
    pub validation_hit_rate_without_content: f64,
    pub validation_hit_rate_fitted: f64,
    pub validation: Vec<(f32, f32, f64)>,
    /// One shopper in ten for training, the same held-out visits.
    pub thin: ThinReport,
}

#[derive(Debug, Serialize)]
pub struct ThinReport {
    pub train_visits: usize,
    pub item_to_item_hit_rate: f64,
    pub blended_hit_rate: f64,
    pub popularity_hit_rate: f64,
}

pub async fn run(args: &RecommendEvalArgs, settings: &Settings) -> anyhow::Result<RecommendReport> {
    let embedder: Arc<dyn Embedder> =
        Arc::new(crate::llm::load_embedder(&settings.embed_model, 64)?);
    let content = content_of_the_catalogue(embedder).await?;
    Ok(evaluate(args.k.max(1), &demo_logs::generate(), &content))
}

/// The demo catalogue's nearest products by content, through a temporary
/// embedded `products` collection.
pub async fn content_of_the_catalogue(
    embedder: Arc<dyn Embedder>,
) -> anyhow::Result<ContentNeighbours> {
    let dir = tempfile::tempdir()?;
    let index = Arc::new(EdgeIndex::open(
        &dir.path().join("products"),
        embedder.dim(),
    )?);
    let products = ProductIndex::new(index, embedder);
    Ok(products.neighbours(&demo_catalogue::generate()).await?)
}

pub fn evaluate(k: usize, logs: &ShoppingLogs, content: &ContentNeighbours) -> RecommendReport {
    let none = HashSet::new();
    let at = |model: &ItemToItem, cases: &[HeldOut]| {
        hit_rate(cases, k, |seed| {
            model.recommend(&[seed.to_owned()], &none, k)
        })
    };
    let blend = |logs: &ShoppingLogs, weight: f32, prior: f32| {
        ItemToItem::learn(&logs.training_baskets()).with_content(content.clone(), weight, prior)
    };

    let validation_split = validation(logs);
    let validation_cases = validation_split.held_out_cases();
    let validation_model = ItemToItem::learn(&validation_split.training_baskets());
    let mut validation = Vec::new();
    for &weight in &WEIGHTS {
        for &prior in &PRIORS {
            let model = validation_model
                .clone()
                .with_content(content.clone(), weight, prior);
            validation.push((weight, prior, at(&model, &validation_cases)));
        }
    }
    let (fitted_weight, fitted_prior, fitted_rate) =
        validation
            .iter()
            .fold((0.0f32, 0.0f32, -1.0f64), |best, &(w, p, rate)| {
                if rate > best.2 { (w, p, rate) } else { best }
            });

    let cases = logs.held_out_cases();
    let plain = ItemToItem::learn(&logs.training_baskets());
    let content_only = ItemToItem::learn(&[]).with_content(content.clone(), 1.0, 1.0);
    let thin_logs = ShoppingLogs {
        train: logs
            .train
            .iter()
            .filter(|v| v.shopper % 10 == 0)
            .cloned()
            .collect(),
        held_out: logs.held_out.clone(),
    };
    let thin_plain = ItemToItem::learn(&thin_logs.training_baskets());
    RecommendReport {
        k,
        train_visits: logs.train.len(),
        held_out_cases: cases.len(),
        products_known: plain.len(),
        item_to_item_hit_rate: at(&plain, &cases),
        content_hit_rate: at(&content_only, &cases),
        blended_hit_rate: at(&blend(logs, CONTENT_WEIGHT, CONTENT_PRIOR), &cases),
        popularity_hit_rate: hit_rate(&cases, k, |seed| plain.most_popular(&[seed.to_owned()], k)),
        shipped_content_weight: CONTENT_WEIGHT,
        shipped_content_prior: CONTENT_PRIOR,
        fitted_content_weight: fitted_weight,
        fitted_content_prior: fitted_prior,
        validation_hit_rate_without_content: at(&validation_model, &validation_cases),
        validation_hit_rate_fitted: fitted_rate,
        validation,
        thin: ThinReport {
            train_visits: thin_logs.train.len(),
            item_to_item_hit_rate: at(&thin_plain, &cases),
            blended_hit_rate: at(&blend(&thin_logs, CONTENT_WEIGHT, CONTENT_PRIOR), &cases),
            popularity_hit_rate: hit_rate(&cases, k, |seed| {
                thin_plain.most_popular(&[seed.to_owned()], k)
            }),
        },
    }
}

/// The training visits split again: each shopper's last training visit is
/// held out for validation (shoppers with one training visit keep it).
fn validation(logs: &ShoppingLogs) -> ShoppingLogs {
    let mut last_of: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
    let mut count_of: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
    for (i, visit) in logs.train.iter().enumerate() {
        last_of.insert(visit.shopper, i);
        *count_of.entry(visit.shopper).or_default() += 1;
    }
    let mut train: Vec<GeneratedVisit> = Vec::new();
    let mut held_out: Vec<GeneratedVisit> = Vec::new();
    for (i, visit) in logs.train.iter().enumerate() {
        if last_of[&visit.shopper] == i && count_of[&visit.shopper] > 1 {
            held_out.push(visit.clone());
        } else {
            train.push(visit.clone());
        }
    }
    ShoppingLogs { train, held_out }
}

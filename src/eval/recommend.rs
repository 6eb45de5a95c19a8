//! Offline recommendation quality on the generated demo logs
//! (`storage::demo_logs`): item-to-item from co-view and co-buy against the
//! popularity baseline, hit-rate@10 on each shopper's held-out last visit.

use crate::domain::recommend::{ItemToItem, hit_rate};
use crate::storage::demo_logs;
use serde::Serialize;
use std::collections::HashSet;

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
    pub popularity_hit_rate: f64,
}

pub fn run(args: &RecommendEvalArgs) -> RecommendReport {
    let logs = demo_logs::generate();
    let model = ItemToItem::learn(&logs.training_baskets());
    let cases = logs.held_out_cases();
    let none = HashSet::new();
    let k = args.k.max(1);
    RecommendReport {
        k,
        train_visits: logs.train.len(),
        held_out_cases: cases.len(),
        products_known: model.len(),
        item_to_item_hit_rate: hit_rate(&cases, k, |seed| {
            model.recommend(&[seed.to_owned()], &none, k)
        }),
        popularity_hit_rate: hit_rate(&cases, k, |seed| model.most_popular(&[seed.to_owned()], k)),
    }
}

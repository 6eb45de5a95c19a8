//! A deterministic generator of browsing and order logs for the demo catalogue,
//! to train the demo shop's recommendations and to measure them offline
//! (`xiaoer eval recommend`).
//!
//! How it is made: 3,000 shoppers (a fixed-seed generator, so every run is the
//! same), each with two to five visits. A visit starts on an anchor product
//! drawn with a popularity skew (the catalogue order, rotated per category, is
//! the popularity rank; p ∝ 1/(rank+8)) and views three to eight products: half
//! the time another variant of the product just viewed (same base item: other
//! colours and sizes), a third of the time a product of a neighbouring base item
//! of the same category (T-shirt → shirt, earphones → power bank), otherwise any
//! product drawn by popularity (noise). One visit in three ends in an order of
//! one or two of the products viewed. A shopper keeps to one category across
//! visits two times in three.
//!
//! Split: each shopper's last visit is held out; the rest is training. A held-out
//! case is the visit's first product (the seed) and the next different product
//! the shopper viewed (what a recommendation should have offered).

use super::demo_catalogue;
use crate::domain::catalogue::Product;
use crate::domain::recommend::{Basket, HeldOut};

const SHOPPERS: u64 = 3_000;

/// One generated visit: products in viewing order, and those ordered.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedVisit {
    pub shopper: u64,
    pub viewed: Vec<String>,
    pub bought: Vec<String>,
}

/// The logs split for training and evaluation.
#[derive(Debug, Clone)]
pub struct ShoppingLogs {
    pub train: Vec<GeneratedVisit>,
    pub held_out: Vec<GeneratedVisit>,
}

impl ShoppingLogs {
    /// The training visits as baskets: one viewed basket per visit, one bought
    /// basket per order.
    pub fn training_baskets(&self) -> Vec<Basket> {
        let mut out = Vec::with_capacity(self.train.len() * 2);
        for visit in &self.train {
            out.push(Basket::viewed(visit.viewed.clone()));
            if !visit.bought.is_empty() {
                out.push(Basket::bought(visit.bought.clone()));
            }
        }
        out
    }

    /// Held-out cases: each held-out visit's first product and the next
    /// different one viewed.
    pub fn held_out_cases(&self) -> Vec<HeldOut> {
        self.held_out
            .iter()
            .filter_map(|visit| {
                let seed = visit.viewed.first()?;
                let next = visit.viewed.iter().find(|s| *s != seed)?;
                Some(HeldOut {
                    seed: seed.clone(),
                    next: next.clone(),
                })
            })
            .collect()
    }
}

/// The same fixed-seed generator as the catalogue's.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True with probability `num`/`den`.
    fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }
}

/// A base item: its sku prefix and the indexes of its variants.
type BaseItem = (String, Vec<usize>);

/// The catalogue grouped: categories, each a list of base items, each the
/// indexes of its variants.
struct Shelves {
    categories: Vec<Vec<Vec<usize>>>,
    /// Cumulative popularity weights over all products (for draws).
    cumulative: Vec<u64>,
    /// (category, base item) of each product.
    places: Vec<(usize, usize)>,
}

impl Shelves {
    fn of(products: &[Product]) -> Self {
        let mut categories: Vec<(String, Vec<BaseItem>)> = Vec::new();
        for (i, p) in products.iter().enumerate() {
            let prefix = p.sku.split('-').next().unwrap_or_default().to_owned();
            let at = match categories.iter().position(|(c, _)| *c == p.category) {
                Some(at) => at,
                None => {
                    categories.push((p.category.clone(), Vec::new()));
                    categories.len() - 1
                }
            };
            let items = &mut categories[at].1;
            match items.iter_mut().find(|(pre, _)| *pre == prefix) {
                Some((_, variants)) => variants.push(i),
                None => items.push((prefix, vec![i])),
            }
        }
        // Popularity rank: within each category products in catalogue order,
        // the categories interleaved, so every category has best-sellers.
        let mut weight = vec![0u64; products.len()];
        for (_, items) in &categories {
            let flat: Vec<usize> = items.iter().flat_map(|(_, v)| v.iter().copied()).collect();
            for (rank, &i) in flat.iter().enumerate() {
                weight[i] = 100_000 / (rank as u64 + 8);
            }
        }
        let mut total = 0;
        let cumulative = weight
            .iter()
            .map(|w| {
                total += w;
                total
            })
            .collect();
        let mut places = vec![(0, 0); products.len()];
        for (c, (_, items)) in categories.iter().enumerate() {
            for (b, (_, variants)) in items.iter().enumerate() {
                for &i in variants {
                    places[i] = (c, b);
                }
            }
        }
        Self {
            categories: categories
                .into_iter()
                .map(|(_, items)| items.into_iter().map(|(_, v)| v).collect())
                .collect(),
            cumulative,
            places,
        }
    }

    fn popular(&self, rng: &mut Lcg) -> usize {
        let total = *self.cumulative.last().unwrap_or(&1);
        let pick = rng.below(total);
        self.cumulative.partition_point(|&c| c <= pick)
    }

    /// (category, base item) of a product.
    fn place(&self, product: usize) -> (usize, usize) {
        self.places[product]
    }

    /// A product of the category drawn by popularity (a few tries, then any).
    fn popular_in(&self, category: usize, rng: &mut Lcg) -> usize {
        for _ in 0..20 {
            let p = self.popular(rng);
            if self.place(p).0 == category {
                return p;
            }
        }
        let items = &self.categories[category];
        let item = &items[rng.below(items.len() as u64) as usize];
        item[rng.below(item.len() as u64) as usize]
    }

    /// The next product a shopper views after `from`.
    fn next_view(&self, from: usize, rng: &mut Lcg) -> usize {
        let (c, b) = self.place(from);
        let items = &self.categories[c];
        let roll = rng.below(100);
        if roll < 50 {
            let variants = &items[b];
            variants[rng.below(variants.len() as u64) as usize]
        } else if roll < 83 {
            let step = if rng.chance(1, 2) { 1 } else { items.len() - 1 };
            let variants = &items[(b + step) % items.len()];
            variants[rng.below(variants.len() as u64) as usize]
        } else {
            self.popular(rng)
        }
    }
}

/// The demo catalogue's logs, the same on every run.
pub fn generate() -> ShoppingLogs {
    generate_for(&demo_catalogue::generate(), SHOPPERS)
}

pub fn generate_for(products: &[Product], shoppers: u64) -> ShoppingLogs {
    let shelves = Shelves::of(products);
    let mut rng = Lcg(20_261_201);
    let mut train = Vec::new();
    let mut held_out = Vec::new();
    for shopper in 0..shoppers {
        let visits = 2 + rng.below(4);
        let mut category = None;
        for v in 0..visits {
            let anchor = match category {
                Some(c) if rng.chance(2, 3) => shelves.popular_in(c, &mut rng),
                _ => shelves.popular(&mut rng),
            };
            category = Some(shelves.place(anchor).0);
            let mut viewed = vec![anchor];
            for _ in 0..2 + rng.below(6) {
                let last = *viewed.last().unwrap_or(&anchor);
                viewed.push(shelves.next_view(last, &mut rng));
            }
            let mut bought = Vec::new();
            if rng.chance(1, 3) {
                for _ in 0..1 + rng.below(2) {
                    let pick = viewed[rng.below(viewed.len() as u64) as usize];
                    if !bought.contains(&pick) {
                        bought.push(pick);
                    }
                }
            }
            let sku = |i: &usize| products[*i].sku.clone();
            let visit = GeneratedVisit {
                shopper,
                viewed: viewed.iter().map(sku).collect(),
                bought: bought.iter().map(sku).collect(),
            };
            if v + 1 == visits {
                held_out.push(visit);
            } else {
                train.push(visit);
            }
        }
    }
    ShoppingLogs { train, held_out }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::recommend::{ItemToItem, hit_rate};
    use std::collections::HashSet;

    #[test]
    fn the_logs_are_the_same_every_run_and_split_per_shopper() {
        let products = demo_catalogue::generate();
        let a = generate_for(&products, 200);
        let b = generate_for(&products, 200);
        assert_eq!(a.train, b.train);
        assert_eq!(a.held_out.len(), 200, "one held-out visit per shopper");
        assert!(a.train.len() >= 200, "at least one training visit each");
        let known: HashSet<&str> = products.iter().map(|p| p.sku.as_str()).collect();
        assert!(
            a.train
                .iter()
                .flat_map(|v| v.viewed.iter().chain(&v.bought))
                .all(|s| known.contains(s.as_str()))
        );
        assert!(a.train.iter().any(|v| !v.bought.is_empty()), "some orders");
    }

    #[test]
    fn co_occurrence_beats_popularity_on_the_held_out_visits() {
        let logs = generate_for(&demo_catalogue::generate(), 600);
        let model = ItemToItem::learn(&logs.training_baskets());
        let cases = logs.held_out_cases();
        let none = HashSet::new();
        let item = hit_rate(&cases, 10, |seed| {
            model.recommend(&[seed.to_owned()], &none, 10)
        });
        let popular = hit_rate(&cases, 10, |seed| {
            model.most_popular(&[seed.to_owned()], 10)
        });
        assert!(
            item > popular * 1.5,
            "item-to-item {item} vs popularity {popular}"
        );
    }
}

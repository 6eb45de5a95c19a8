//! Item-to-item recommendations from co-occurrence: products seen in the same
//! visit (co-view) or bought in the same order (co-buy) are related, a co-buy
//! counting more. Pure: the service feeds it baskets and asks it for products.
//!
//! The relatedness of two products is the cosine of their basket vectors: the
//! weighted baskets holding both, over the square root of the product of the
//! weighted baskets holding each, so a best-seller does not relate to
//! everything. Recommending for several seeds (the page a buyer is on, the cart,
//! past orders) sums each candidate's relatedness to the seeds; too few related
//! products are filled with the most popular ones.

use std::collections::{HashMap, HashSet};

/// How much a co-buy counts against a co-view.
pub const BUY_WEIGHT: f32 = 3.0;
/// Related products kept per product (the rest never reach a top ten).
const NEIGHBOURS_KEPT: usize = 50;
/// A basket with more products than this is truncated (a crawler's visit).
const BASKET_MAX: usize = 50;

/// Products seen together in one visit, or bought together in one order.
#[derive(Debug, Clone, PartialEq)]
pub struct Basket {
    pub skus: Vec<String>,
    pub weight: f32,
}

impl Basket {
    pub fn viewed(skus: Vec<String>) -> Self {
        Self { skus, weight: 1.0 }
    }

    pub fn bought(skus: Vec<String>) -> Self {
        Self {
            skus,
            weight: BUY_WEIGHT,
        }
    }
}

/// The learned relations: for each product its most related ones, best first,
/// and every product by popularity.
#[derive(Debug, Clone, Default)]
pub struct ItemToItem {
    neighbours: HashMap<String, Vec<(String, f32)>>,
    popular: Vec<String>,
}

impl ItemToItem {
    pub fn learn<'a>(baskets: impl IntoIterator<Item = &'a Basket>) -> Self {
        let mut weight_of: HashMap<&str, f32> = HashMap::new();
        let mut pairs: HashMap<(&str, &str), f32> = HashMap::new();
        for basket in baskets {
            let mut seen = HashSet::new();
            let skus: Vec<&str> = basket
                .skus
                .iter()
                .map(String::as_str)
                .filter(|s| seen.insert(*s))
                .take(BASKET_MAX)
                .collect();
            for (i, &a) in skus.iter().enumerate() {
                *weight_of.entry(a).or_default() += basket.weight;
                for &b in &skus[i + 1..] {
                    let key = if a < b { (a, b) } else { (b, a) };
                    *pairs.entry(key).or_default() += basket.weight;
                }
            }
        }
        let mut neighbours: HashMap<String, Vec<(String, f32)>> = HashMap::new();
        for ((a, b), together) in pairs {
            let score = together / (weight_of[a] * weight_of[b]).sqrt();
            neighbours
                .entry(a.to_owned())
                .or_default()
                .push((b.to_owned(), score));
            neighbours
                .entry(b.to_owned())
                .or_default()
                .push((a.to_owned(), score));
        }
        for list in neighbours.values_mut() {
            sort_best_first(list);
            list.truncate(NEIGHBOURS_KEPT);
        }
        let mut popular: Vec<(String, f32)> = weight_of
            .into_iter()
            .map(|(sku, w)| (sku.to_owned(), w))
            .collect();
        sort_best_first(&mut popular);
        Self {
            neighbours,
            popular: popular.into_iter().map(|(sku, _)| sku).collect(),
        }
    }

    /// Up to `k` products for a buyer who looked at or bought `seeds` (most
    /// telling first), never a seed nor an excluded product.
    pub fn recommend(&self, seeds: &[String], exclude: &HashSet<String>, k: usize) -> Vec<String> {
        let mut scores: HashMap<&str, f32> = HashMap::new();
        for (rank, seed) in seeds.iter().enumerate() {
            // The first seeds (the page the buyer is on) tell more than the last.
            let pull = 1.0 / (1.0 + rank as f32 * 0.5);
            for (sku, score) in self.neighbours.get(seed).into_iter().flatten() {
                *scores.entry(sku.as_str()).or_default() += score * pull;
            }
        }
        let skip = |sku: &str| seeds.iter().any(|s| s == sku) || exclude.contains(sku);
        let mut ranked: Vec<(String, f32)> = scores
            .into_iter()
            .filter(|(sku, _)| !skip(sku))
            .map(|(sku, score)| (sku.to_owned(), score))
            .collect();
        sort_best_first(&mut ranked);
        let mut out: Vec<String> = ranked.into_iter().map(|(sku, _)| sku).take(k).collect();
        for sku in &self.popular {
            if out.len() >= k {
                break;
            }
            if !skip(sku) && !out.contains(sku) {
                out.push(sku.clone());
            }
        }
        out
    }

    /// The popularity baseline: the `k` most seen or bought products.
    pub fn most_popular(&self, seeds: &[String], k: usize) -> Vec<String> {
        self.popular
            .iter()
            .filter(|sku| !seeds.contains(sku))
            .take(k)
            .cloned()
            .collect()
    }

    /// Products the model knows (seen in at least one basket).
    pub fn len(&self) -> usize {
        self.popular.len()
    }

    pub fn is_empty(&self) -> bool {
        self.popular.is_empty()
    }
}

/// Highest score first; equal scores by sku, so results are the same every run.
fn sort_best_first(list: &mut [(String, f32)]) {
    list.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
}

/// Whether a buyer's message asks for a suggestion or an alternative ("推荐一款",
/// "有没有类似的", "这个码没货了", "something similar?"), not for a size chart
/// ("推荐什么尺码") or a referral code.
pub fn asks_for_suggestion(text: &str) -> bool {
    const ASKS: &[&str] = &[
        "推荐",
        "类似",
        "差不多的",
        "别的款",
        "其他款",
        "换一款",
        "替代",
        "没货",
        "缺货",
        "suggest",
        "recommend",
        "alternative",
        "similar",
        "out of stock",
    ];
    const NOT: &[&str] = &["尺码", "码数", "推荐码", "推荐人", "size"];
    let lower = text.to_lowercase();
    ASKS.iter().any(|a| lower.contains(a)) && !NOT.iter().any(|n| lower.contains(n))
}

/// One held-out case: the buyer looked at `seed`; did the top ten hold `next`?
#[derive(Debug, Clone, PartialEq)]
pub struct HeldOut {
    pub seed: String,
    pub next: String,
}

/// The share of cases whose `next` product is in the top `k` that `rank` gives.
pub fn hit_rate(cases: &[HeldOut], k: usize, rank: impl Fn(&str) -> Vec<String>) -> f64 {
    if cases.is_empty() {
        return 0.0;
    }
    let hits = cases
        .iter()
        .filter(|case| rank(&case.seed).iter().take(k).any(|s| *s == case.next))
        .count();
    hits as f64 / cases.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skus(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn products_seen_together_are_recommended_before_popular_strangers() {
        let mut baskets = vec![
            Basket::viewed(skus(&["TS-1", "JN-1"])),
            Basket::viewed(skus(&["TS-1", "JN-1", "TS-2"])),
            Basket::bought(skus(&["TS-1", "JN-2"])),
        ];
        // MG-1 is the best-seller, never seen with a T-shirt.
        for _ in 0..10 {
            baskets.push(Basket::viewed(skus(&["MG-1", "TW-1"])));
        }
        let model = ItemToItem::learn(&baskets);
        let got = model.recommend(&skus(&["TS-1"]), &HashSet::new(), 4);
        assert_eq!(&got[..3], &skus(&["JN-2", "JN-1", "TS-2"])[..], "{got:?}");
        assert_eq!(got[3], "MG-1", "filled with the most popular");
        assert_eq!(model.most_popular(&skus(&["TS-1"]), 1), skus(&["MG-1"]));
    }

    #[test]
    fn seeds_and_excluded_products_are_never_recommended() {
        let baskets = [Basket::viewed(skus(&["A", "B", "C", "D"]))];
        let model = ItemToItem::learn(&baskets);
        let exclude: HashSet<String> = ["C".to_owned()].into();
        let got = model.recommend(&skus(&["A", "B"]), &exclude, 10);
        assert_eq!(got, skus(&["D"]));
    }

    #[test]
    fn a_repeated_product_in_a_basket_counts_once() {
        let baskets = [
            Basket::viewed(skus(&["A", "A", "A", "B"])),
            Basket::viewed(skus(&["C", "D"])),
            Basket::viewed(skus(&["C", "E"])),
        ];
        let model = ItemToItem::learn(&baskets);
        assert_eq!(model.most_popular(&[], 1), skus(&["C"]));
    }

    #[test]
    fn asking_for_a_suggestion_or_an_alternative_is_told_from_a_size_question() {
        for text in [
            "推荐一款耳机",
            "有没有类似的？",
            "这个颜色没货了，还有别的款吗",
            "Can you suggest something similar?",
            "any alternative? it's out of stock",
        ] {
            assert!(asks_for_suggestion(text), "{text}");
        }
        for text in [
            "推荐什么尺码",
            "What size do you recommend?",
            "怎么退货",
            "有推荐码吗",
        ] {
            assert!(!asks_for_suggestion(text), "{text}");
        }
    }

    #[test]
    fn hit_rate_counts_the_cases_found_in_the_top_k() {
        let cases = [
            HeldOut {
                seed: "A".into(),
                next: "B".into(),
            },
            HeldOut {
                seed: "A".into(),
                next: "Z".into(),
            },
        ];
        let rate = hit_rate(&cases, 10, |_| skus(&["B", "C"]));
        assert!((rate - 0.5).abs() < 1e-9);
        assert_eq!(hit_rate(&[], 10, |_| Vec::new()), 0.0);
    }
}

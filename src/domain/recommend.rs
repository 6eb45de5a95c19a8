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
//!
//! Content similarity is blended in: each product's nearest products by the e5
//! vectors of their titles (the vector index's `products` collection) add
//! their rescaled similarity to a candidate's score, times a trust that shrinks
//! as the seed's own evidence grows: `CONTENT_WEIGHT * CONTENT_PRIOR /
//! (CONTENT_PRIOR + n)`, `n` the weighted baskets holding the seed. It relates a
//! new product, or one rarely viewed, to its look-alikes before any visit
//! does, and leaves a well-known product to what buyers did. The similarity is rescaled per product: its nearest neighbour
//! counts 1, its `CONTENT_KEPT`-th 0 (raw e5 cosines of short titles all sit
//! between 0.8 and 0.95, so only their order and spread tell).

use std::collections::{HashMap, HashSet};

/// How much a co-buy counts against a co-view.
pub const BUY_WEIGHT: f32 = 3.0;
/// Related products kept per product (the rest never reach a top ten).
const NEIGHBOURS_KEPT: usize = 50;
/// A basket with more products than this is truncated (a crawler's visit).
const BASKET_MAX: usize = 50;
/// Nearest products by content kept per product.
pub const CONTENT_KEPT: usize = 20;
/// What a product's content neighbours add against its co-occurrence
/// relatedness, for a product no basket holds yet; and the weighted baskets at
/// which that has halved. Both fitted by `xiaoer eval recommend` on a
/// validation split of the training logs (each shopper's last training visit),
/// never on the held-out visits it then reports; see README, Recommendations.
pub const CONTENT_WEIGHT: f32 = 1.0;
pub const CONTENT_PRIOR: f32 = 10.0;

/// Products close by content: for each product its nearest ones, best first,
/// with a score from 1 (the nearest) down to 0 (the `CONTENT_KEPT`-th).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContentNeighbours {
    nearest: HashMap<String, Vec<(String, f32)>>,
}

impl ContentNeighbours {
    /// From each product's nearest products and their raw similarity (any
    /// order; the product itself is ignored), rescaled between the nearest and
    /// the `CONTENT_KEPT`-th.
    pub fn from_similar(similar: HashMap<String, Vec<(String, f32)>>) -> Self {
        let mut nearest = HashMap::with_capacity(similar.len());
        for (sku, mut list) in similar {
            list.retain(|(other, _)| *other != sku);
            sort_best_first(&mut list);
            list.truncate(CONTENT_KEPT);
            let (Some(top), Some(floor)) = (list.first().map(|l| l.1), list.last().map(|l| l.1))
            else {
                continue;
            };
            let spread = top - floor;
            let scaled = list
                .into_iter()
                .map(|(other, sim)| {
                    let score = if spread > f32::EPSILON {
                        (sim - floor) / spread
                    } else {
                        1.0
                    };
                    (other, score)
                })
                .collect();
            nearest.insert(sku, scaled);
        }
        Self { nearest }
    }

    pub fn of(&self, sku: &str) -> &[(String, f32)] {
        self.nearest.get(sku).map(Vec::as_slice).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.nearest.is_empty()
    }
}

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
    /// Weighted baskets holding each product.
    seen: HashMap<String, f32>,
    content: ContentNeighbours,
    content_weight: f32,
    content_prior: f32,
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
            seen: popular.iter().cloned().collect(),
            popular: popular.into_iter().map(|(sku, _)| sku).collect(),
            content: ContentNeighbours::default(),
            content_weight: 0.0,
            content_prior: CONTENT_PRIOR,
        }
    }

    /// The same model with content similarity blended in at `weight`, halved
    /// for a seed `prior` weighted baskets hold.
    pub fn with_content(self, content: ContentNeighbours, weight: f32, prior: f32) -> Self {
        Self {
            content,
            content_weight: weight,
            content_prior: prior,
            ..self
        }
    }

    /// How much content counts for this seed.
    fn content_trust(&self, seed: &str) -> f32 {
        let n = self.seen.get(seed).copied().unwrap_or(0.0);
        self.content_weight * self.content_prior / (self.content_prior + n)
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
            let trust = self.content_trust(seed);
            if trust > 0.0 {
                for (sku, score) in self.content.of(seed) {
                    *scores.entry(sku.as_str()).or_default() += score * trust * pull;
                }
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
/// ("推荐什么尺码") or a referral code. A size that is gone ("L码没货了，有别的尺码吗")
/// asks for an alternative even though it names a size.
pub fn asks_for_suggestion(text: &str) -> bool {
    const ASKS: &[&str] = &[
        "推荐",
        "类似",
        "差不多的",
        "别的款",
        "其他款",
        "换一款",
        "替代",
        "suggest",
        "recommend",
        "alternative",
        "similar",
    ];
    const GONE: &[&str] = &["没货", "缺货", "断货", "卖完", "out of stock", "sold out"];
    const NOT: &[&str] = &["尺码", "码数", "推荐码", "推荐人", "size"];
    let lower = text.to_lowercase();
    let has = |list: &[&str]| list.iter().any(|w| lower.contains(w));
    has(GONE) || (has(ASKS) && !has(NOT))
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

    fn similar(list: &[(&str, &[(&str, f32)])]) -> HashMap<String, Vec<(String, f32)>> {
        list.iter()
            .map(|(sku, near)| {
                let near = near.iter().map(|(s, v)| ((*s).to_owned(), *v)).collect();
                ((*sku).to_owned(), near)
            })
            .collect()
    }

    #[test]
    fn content_similarity_is_rescaled_from_the_nearest_to_the_last_kept() {
        let content = ContentNeighbours::from_similar(similar(&[
            ("A", &[("A", 1.0), ("C", 0.84), ("B", 0.90), ("D", 0.81)]),
            ("E", &[("F", 0.9), ("G", 0.9)]),
            ("H", &[]),
        ]));
        let a = content.of("A");
        assert_eq!(a.len(), 3, "the product itself is not its neighbour");
        assert_eq!((a[0].0.as_str(), a[0].1), ("B", 1.0));
        // (0.84 - 0.81) / (0.90 - 0.81) = 1/3
        assert_eq!(a[1].0, "C");
        assert!((a[1].1 - 1.0 / 3.0).abs() < 1e-5, "{a:?}");
        assert_eq!((a[2].0.as_str(), a[2].1), ("D", 0.0));
        assert!(
            content.of("E").iter().all(|(_, s)| *s == 1.0),
            "no spread: all count"
        );
        assert!(content.of("H").is_empty() && content.of("Z").is_empty());
    }

    #[test]
    fn content_neighbours_relate_a_product_no_visit_has_seen_yet() {
        let baskets = [
            Basket::viewed(skus(&["TS-1", "JN-1"])),
            Basket::viewed(skus(&["TS-1", "JN-1"])),
            Basket::viewed(skus(&["TS-1", "MG-1"])),
        ];
        // TS-9 is new: no basket holds it, its title is much like TS-1's.
        let content = ContentNeighbours::from_similar(similar(&[(
            "TS-1",
            &[("TS-9", 0.95), ("MG-1", 0.90), ("JN-1", 0.80)],
        )]));
        let plain = ItemToItem::learn(&baskets);
        assert!(
            !plain
                .recommend(&skus(&["TS-1"]), &HashSet::new(), 3)
                .contains(&"TS-9".to_owned())
        );
        // TS-1 is in 3 baskets: trust 0.5 * 1 / (1 + 3) = 0.125.
        let blended = ItemToItem::learn(&baskets).with_content(content.clone(), 0.5, 1.0);
        // JN-1: co-view 2/sqrt(3*2) = 0.816; MG-1: 1/sqrt(3*1) = 0.577 + 0.125 * 2/3
        // = 0.661; TS-9: 0.125 * 1.
        let got = blended.recommend(&skus(&["TS-1"]), &HashSet::new(), 3);
        assert_eq!(got, skus(&["JN-1", "MG-1", "TS-9"]));
        // With a prior of 100 baskets the trust is 0.5 * 100 / 103 = 0.485:
        // MG-1 0.577 + 0.324 = 0.901, then JN-1 0.816, then TS-9 0.485.
        let trusting = ItemToItem::learn(&baskets).with_content(content.clone(), 0.5, 100.0);
        assert_eq!(
            trusting.recommend(&skus(&["TS-1"]), &HashSet::new(), 3),
            skus(&["MG-1", "JN-1", "TS-9"])
        );
        // A seed no basket holds is recommended its look-alikes at full weight.
        let cold = ContentNeighbours::from_similar(similar(&[(
            "TS-9",
            &[("TS-1", 0.95), ("MG-1", 0.90), ("JN-1", 0.80)],
        )]));
        let model = ItemToItem::learn(&baskets).with_content(cold, 0.5, 1.0);
        assert_eq!(
            model.recommend(&skus(&["TS-9"]), &HashSet::new(), 2),
            skus(&["TS-1", "MG-1"])
        );
    }

    #[test]
    fn asking_for_a_suggestion_or_an_alternative_is_told_from_a_size_question() {
        for text in [
            "推荐一款耳机",
            "有没有类似的？",
            "这个颜色没货了，还有别的款吗",
            "Can you suggest something similar?",
            "any alternative? it's out of stock",
            "L码没货了，有别的尺码吗",
            "这个尺码缺货，还有别的吗",
            "M码断货了",
            "尺码37卖完了，有类似的吗",
            "Size M is sold out, anything else?",
            "my size is out of stock",
        ] {
            assert!(asks_for_suggestion(text), "{text}");
        }
        for text in [
            "推荐什么尺码",
            "What size do you recommend?",
            "怎么退货",
            "有推荐码吗",
            "尺码怎么选",
            "码数偏大吗",
            "Which size should I get?",
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

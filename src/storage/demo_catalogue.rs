//! The demo store's catalogue generator: a realistic, deterministic set of
//! products (Chinese titles, categories, prices, stock) for product cards and
//! the demo shop's product pages (`/demo/?sku=...`).
//!
//! How it is made: each of the seven categories lists base items, each with a
//! sku prefix and a typical price; every base item gets six variants, each a
//! style word (纯棉, 轻薄, 复古...) and a colour or size from the category's list.
//! A variant's price is the base price times 0.8-1.5, ending in 9 (¥79, ¥129.9);
//! its stock is 0-480 with about one in twelve sold out, so cards show "缺货".
//! A fixed-seed linear congruential generator makes every run produce the same
//! catalogue (the same sku always names the same product). The four products
//! the seeded orders refer to come first, with the same skus and prices.
//! 37 base items x 6 variants + the 4 order products = 226 products.

use crate::domain::catalogue::Product;

const FIRST: [(&str, &str, &str, i64); 4] = [
    ("TS-001", "纯棉圆领T恤 白色 L", "服装", 7900),
    ("JK-002", "轻薄羽绒服 黑色 M", "服装", 39900),
    ("EB-003", "无线蓝牙耳机 Pro", "数码", 19900),
    ("MG-004", "保温杯 500ml", "家居", 8900),
];

/// (category, styles, variants, base items as (sku prefix, name, typical price in 分)).
type Category = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static [(&'static str, &'static str, i64)],
);

const CATEGORIES: &[Category] = &[
    (
        "服装",
        &["纯棉", "轻薄", "加厚", "韩版", "复古", "简约"],
        &["白色 M", "黑色 L", "灰色 XL", "藏青 M", "卡其 L", "米白 S"],
        &[
            ("TS", "圆领T恤", 7900),
            ("SH", "长袖衬衫", 12900),
            ("HD", "连帽卫衣", 15900),
            ("JK", "羽绒服", 39900),
            ("JN", "直筒牛仔裤", 16900),
            ("DR", "连衣裙", 19900),
            ("CT", "风衣外套", 29900),
        ],
    ),
    (
        "数码",
        &["新款", "便携", "高端", "超薄", "快充", "降噪"],
        &["白色", "黑色", "远峰蓝", "午夜绿", "樱花粉", "星空灰"],
        &[
            ("EB", "蓝牙耳机", 19900),
            ("PB", "充电宝 20000mAh", 12900),
            ("CB", "Type-C 数据线", 2900),
            ("PC", "手机壳", 3900),
            ("SW", "智能手表", 59900),
            ("KB", "机械键盘", 29900),
        ],
    ),
    (
        "家居",
        &["北欧", "简约", "大容量", "加厚", "日式", "可折叠"],
        &["米白", "浅灰", "原木色", "雾霾蓝", "豆沙粉", "墨绿"],
        &[
            ("MG", "保温杯 500ml", 8900),
            ("PL", "抱枕", 4900),
            ("BX", "收纳盒", 3900),
            ("BD", "床品四件套", 29900),
            ("LP", "护眼台灯", 15900),
            ("TW", "纯棉毛巾", 2900),
        ],
    ),
    (
        "美妆",
        &["滋润", "持妆", "温和", "补水", "控油", "修护"],
        &[
            "01 正红",
            "02 豆沙",
            "03 奶茶",
            "清爽型",
            "滋润型",
            "旅行装",
        ],
        &[
            ("LS", "口红", 16900),
            ("FC", "面霜 50g", 25900),
            ("CL", "氨基酸洗面奶", 8900),
            ("MK", "补水面膜 10片", 9900),
            ("SS", "防晒霜 SPF50", 12900),
        ],
    ),
    (
        "食品",
        &["精选", "原味", "低糖", "手工", "礼盒装", "家庭装"],
        &["250g", "500g", "1kg", "混合口味", "罐装", "袋装"],
        &[
            ("NT", "每日坚果", 6900),
            ("TE", "西湖龙井", 19900),
            ("CF", "咖啡豆", 8900),
            ("BJ", "牛肉干", 5900),
            ("HN", "土蜂蜜", 7900),
        ],
    ),
    (
        "母婴",
        &["超薄", "透气", "防胀气", "有机", "安全", "柔软"],
        &["S 码", "M 码", "L 码", "XL 码", "150ml", "240ml"],
        &[
            ("DP", "纸尿裤", 12900),
            ("BT", "奶瓶", 8900),
            ("BW", "婴儿湿巾 80抽", 2900),
            ("BC", "婴儿连体衣", 9900),
        ],
    ),
    (
        "运动",
        &["防滑", "轻量", "专业", "透气", "加厚", "速干"],
        &["黑色", "紫色", "蓝色", "36码", "40码", "42码"],
        &[
            ("YM", "瑜伽垫", 9900),
            ("RS", "跑步鞋", 39900),
            ("WB", "运动水壶 750ml", 4900),
            ("SB", "运动背包", 15900),
        ],
    ),
];

/// A tiny fixed-seed generator: the catalogue must be the same on every run.
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
        self.next() % n
    }
}

fn product(sku: String, title: String, category: &str, price_cents: i64, stock: i64) -> Product {
    Product {
        link: format!("/demo/?sku={sku}"),
        image_url: "/demo/product.svg".into(),
        sku,
        title,
        category: category.into(),
        price_cents,
        stock,
    }
}

/// The whole catalogue, in sku order of generation.
pub fn generate() -> Vec<Product> {
    let mut rng = Lcg(20_261_111);
    let mut out: Vec<Product> = FIRST
        .iter()
        .map(|(sku, title, category, price)| {
            product((*sku).into(), (*title).into(), category, *price, 120)
        })
        .collect();
    for (category, styles, variants, items) in CATEGORIES {
        for (prefix, name, base) in *items {
            for v in 0..6 {
                let style = styles[rng.below(styles.len() as u64) as usize];
                let variant = variants[v];
                let factor = 80 + rng.below(71) as i64; // 0.80 to 1.50
                let yuan = (base * factor / 100 / 100).max(1);
                let price = yuan * 100 - 100 + 90; // ends in .9: ¥78.9
                let stock = if rng.below(12) == 0 {
                    0
                } else {
                    rng.below(481) as i64
                };
                let sku = format!("{prefix}-{:03}", 100 + out.len());
                out.push(product(
                    sku,
                    format!("{style}{name} {variant}"),
                    category,
                    price.max(990),
                    stock,
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_is_large_varied_and_the_same_every_time() {
        let products = generate();
        assert!(products.len() >= 200, "{}", products.len());
        assert_eq!(products, generate());
        let skus: std::collections::HashSet<_> = products.iter().map(|p| &p.sku).collect();
        assert_eq!(skus.len(), products.len(), "skus are unique");
        let categories: std::collections::HashSet<_> =
            products.iter().map(|p| &p.category).collect();
        assert_eq!(categories.len(), 7);
        assert!(products.iter().any(|p| p.stock == 0), "some are sold out");
        assert!(products.iter().all(|p| p.price_cents > 0));
        assert_eq!(products[0].sku, "TS-001");
    }
}

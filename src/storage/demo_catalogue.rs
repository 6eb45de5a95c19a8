//! The demo store's catalogue generator: a realistic, deterministic set of
//! products (Chinese titles, categories, prices, stock) for product cards and
//! the demo shop's product pages (`/demo/?sku=...`).
//!
//! How it is made: each of the seven categories lists base items, each with a
//! sku prefix and a typical price; every base item gets six variants, each a
//! style word (纯棉, 轻薄, 复古...) and a colour or size from the category's list,
//! and the base item's description (what it is and is for) after its style word.
//! A variant's price is the base price times 0.8-1.5, ending in 9 (¥79, ¥129.9);
//! its stock is 0-480 with about one in twelve sold out, so cards show "缺货".
//! A fixed-seed linear congruential generator makes every run produce the same
//! catalogue (the same sku always names the same product). The four products
//! the seeded orders refer to come first, with the same skus and prices.
//! 37 base items x 6 variants + the 4 order products = 226 products.

use crate::domain::catalogue::Product;

/// (sku, title, category, price, the base item whose description it has).
const FIRST: [(&str, &str, &str, i64, &str); 4] = [
    ("TS-001", "纯棉圆领T恤 白色 L", "服装", 7900, "圆领T恤"),
    ("JK-002", "轻薄羽绒服 黑色 M", "服装", 39900, "羽绒服"),
    ("EB-003", "无线蓝牙耳机 Pro", "数码", 19900, "蓝牙耳机"),
    ("MG-004", "保温杯 500ml", "家居", 8900, "保温杯 500ml"),
];

/// (category, styles, variants, base items as (sku prefix, name, typical
/// price in 分, what it is and is for)).
type Category = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static [(&'static str, &'static str, i64, &'static str)],
);

const CATEGORIES: &[Category] = &[
    (
        "服装",
        &["纯棉", "轻薄", "加厚", "韩版", "复古", "简约"],
        &["白色 M", "黑色 L", "灰色 XL", "藏青 M", "卡其 L", "米白 S"],
        &[
            (
                "TS",
                "圆领T恤",
                7900,
                "短袖上衣，领口加固不易变形，日常通勤和运动都能穿",
            ),
            (
                "SH",
                "长袖衬衫",
                12900,
                "翻领长袖，面料挺括少褶皱，上班和正式场合都合适",
            ),
            (
                "HD",
                "连帽卫衣",
                15900,
                "带帽套头款，内里柔软，春秋单穿冬天可以叠穿",
            ),
            (
                "JK",
                "羽绒服",
                39900,
                "白鸭绒填充，保暖不臃肿，冬季出门御寒",
            ),
            (
                "JN",
                "直筒牛仔裤",
                16900,
                "直筒版型修饰腿型，弹力面料活动自如",
            ),
            ("DR", "连衣裙", 19900, "收腰设计显身材，约会度假都好搭配"),
            ("CT", "风衣外套", 29900, "中长款，防风挡小雨，春秋换季外套"),
        ],
    ),
    (
        "数码",
        &["新款", "便携", "高端", "超薄", "快充", "降噪"],
        &["白色", "黑色", "远峰蓝", "午夜绿", "樱花粉", "星空灰"],
        &[
            (
                "EB",
                "蓝牙耳机",
                19900,
                "真无线入耳式，蓝牙5.3连接稳定，通话降噪，续航约30小时",
            ),
            (
                "PB",
                "充电宝 20000mAh",
                12900,
                "大容量移动电源，可给手机和平板充电，支持双口输出",
            ),
            (
                "CB",
                "Type-C 数据线",
                2900,
                "USB转Type-C充电线，支持快充和数据传输，线身编织耐弯折",
            ),
            ("PC", "手机壳", 3900, "四角防摔保护套，贴合机身，按键灵敏"),
            (
                "SW",
                "智能手表",
                59900,
                "心率睡眠监测，运动模式多，消息提醒，防水可戴着洗手",
            ),
            (
                "KB",
                "机械键盘",
                29900,
                "有线机械轴键盘，手感清脆，适合打字和游戏",
            ),
        ],
    ),
    (
        "家居",
        &["北欧", "简约", "大容量", "加厚", "日式", "可折叠"],
        &["米白", "浅灰", "原木色", "雾霾蓝", "豆沙粉", "墨绿"],
        &[
            (
                "MG",
                "保温杯 500ml",
                8900,
                "不锈钢真空保温杯，保温保冷，一键开盖方便单手喝水",
            ),
            ("PL", "抱枕", 4900, "沙发靠垫，填充蓬松回弹，外套可拆洗"),
            (
                "BX",
                "收纳盒",
                3900,
                "桌面衣柜整理盒，可叠放，分类收纳小物件",
            ),
            (
                "BD",
                "床品四件套",
                29900,
                "被套床单枕套一套，亲肤透气，适合1.5米到1.8米床",
            ),
            (
                "LP",
                "护眼台灯",
                15900,
                "无频闪LED台灯，亮度色温可调，学习阅读不累眼",
            ),
            ("TW", "纯棉毛巾", 2900, "全棉洗脸毛巾，吸水柔软不掉毛"),
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
            ("LS", "口红", 16900, "唇膏，显色持久，质地顺滑不拔干"),
            (
                "FC",
                "面霜 50g",
                25900,
                "保湿面霜，滋润不油腻，改善干燥起皮",
            ),
            (
                "CL",
                "氨基酸洗面奶",
                8900,
                "温和洁面乳，泡沫细腻，洗后不紧绷，敏感肌可用",
            ),
            (
                "MK",
                "补水面膜 10片",
                9900,
                "片状面膜，一盒十片，急救补水提亮肤色",
            ),
            (
                "SS",
                "防晒霜 SPF50",
                12900,
                "高倍防晒乳，防紫外线晒黑晒伤，户外出行用",
            ),
        ],
    ),
    (
        "食品",
        &["精选", "原味", "低糖", "手工", "礼盒装", "家庭装"],
        &["250g", "500g", "1kg", "混合口味", "罐装", "袋装"],
        &[
            (
                "NT",
                "每日坚果",
                6900,
                "混合坚果果干小包装，一天一包，办公室零食",
            ),
            (
                "TE",
                "西湖龙井",
                19900,
                "绿茶，明前采摘，清香回甘，可以送礼",
            ),
            (
                "CF",
                "咖啡豆",
                8900,
                "阿拉比卡烘焙咖啡豆，可现磨手冲或用咖啡机",
            ),
            ("BJ", "牛肉干", 5900, "风干牛肉条，肉质有嚼劲，追剧零食"),
            ("HN", "土蜂蜜", 7900, "农家蜂蜜，冲水喝或抹面包"),
        ],
    ),
    (
        "母婴",
        &["超薄", "透气", "防胀气", "有机", "安全", "柔软"],
        &["S 码", "M 码", "L 码", "XL 码", "150ml", "240ml"],
        &[
            ("DP", "纸尿裤", 12900, "婴儿尿不湿，干爽不闷，夜用不侧漏"),
            ("BT", "奶瓶", 8900, "新生儿宽口径奶瓶，防呛奶，耐高温可消毒"),
            (
                "BW",
                "婴儿湿巾 80抽",
                2900,
                "宝宝手口湿纸巾，无香配方，擦屁屁擦手",
            ),
            (
                "BC",
                "婴儿连体衣",
                9900,
                "宝宝爬服，纯棉柔软，按扣开合换尿布方便",
            ),
        ],
    ),
    (
        "运动",
        &["防滑", "轻量", "专业", "透气", "加厚", "速干"],
        &["黑色", "紫色", "蓝色", "36码", "40码", "42码"],
        &[
            (
                "YM",
                "瑜伽垫",
                9900,
                "健身垫，回弹好不打滑，在家做瑜伽和拉伸",
            ),
            (
                "RS",
                "跑步鞋",
                39900,
                "缓震运动鞋，鞋底耐磨，跑步健走都轻便",
            ),
            (
                "WB",
                "运动水壶 750ml",
                4900,
                "大容量运动水杯，带吸管防漏，健身骑行随身带",
            ),
            (
                "SB",
                "运动背包",
                15900,
                "双肩包，装鞋仓干湿分离，健身出游通勤",
            ),
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

fn product(
    sku: String,
    title: String,
    category: &str,
    description: String,
    price_cents: i64,
    stock: i64,
) -> Product {
    Product {
        link: format!("/demo/?sku={sku}"),
        image_url: "/demo/product.svg".into(),
        sku,
        title,
        category: category.into(),
        description,
        price_cents,
        stock,
    }
}

/// The description of a base item (the same words for all its variants).
fn described(name: &str) -> &'static str {
    CATEGORIES
        .iter()
        .flat_map(|(_, _, _, items)| items.iter())
        .find(|(_, item, _, _)| *item == name)
        .map_or("", |(_, _, _, description)| description)
}

/// The whole catalogue, in sku order of generation.
pub fn generate() -> Vec<Product> {
    let mut rng = Lcg(20_261_111);
    let mut out: Vec<Product> = FIRST
        .iter()
        .map(|(sku, title, category, price, item)| {
            let description = described(item).to_owned();
            product(
                (*sku).into(),
                (*title).into(),
                category,
                description,
                *price,
                120,
            )
        })
        .collect();
    for (category, styles, variants, items) in CATEGORIES {
        for (prefix, name, base, description) in *items {
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
                    format!("{style}{name}：{description}。"),
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
        assert!(
            products.iter().all(|p| !p.description.is_empty()),
            "every product says what it is"
        );
        assert_eq!(products[0].sku, "TS-001");
    }
}

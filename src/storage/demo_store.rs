//! The demo shop behind the Commerce port: its own SQLite file in the data dir,
//! seeded once with products, orders and shipments for a few demo buyers, so the
//! bot's order tools work out of the box. A real shop plugs in over HTTP instead.

use crate::domain::catalogue::{Product, Sku};
use crate::domain::commerce::{Order, OrderLine, OrderNumber, Shipment, TrackingEvent};
use crate::domain::coupon::{Claim, Coupon, CouponId};
use crate::ports::{Commerce, CommerceError};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use std::path::Path;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS products (sku TEXT PRIMARY KEY, name TEXT NOT NULL, price_cents INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    order_no TEXT PRIMARY KEY, buyer_account TEXT NOT NULL, status TEXT NOT NULL,
    placed_at INTEGER NOT NULL, total_cents INTEGER NOT NULL, delivered_at INTEGER,
    returnable BOOLEAN NOT NULL);
CREATE INDEX IF NOT EXISTS orders_by_buyer ON orders(buyer_account, placed_at);
CREATE TABLE IF NOT EXISTS order_lines (
    order_no TEXT NOT NULL REFERENCES orders(order_no), sku TEXT NOT NULL REFERENCES products(sku),
    quantity INTEGER NOT NULL, unit_price_cents INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS shipments (
    order_no TEXT PRIMARY KEY REFERENCES orders(order_no), carrier TEXT NOT NULL, tracking_no TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tracking_events (
    order_no TEXT NOT NULL REFERENCES shipments(order_no), at INTEGER NOT NULL,
    location TEXT NOT NULL, description TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS coupons (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, discount_cents INTEGER NOT NULL,
    min_spend_cents INTEGER NOT NULL, valid_until INTEGER NOT NULL, remaining INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS coupon_claims (
    coupon_id TEXT NOT NULL REFERENCES coupons(id), buyer_account TEXT NOT NULL,
    claimed_at INTEGER NOT NULL, PRIMARY KEY (coupon_id, buyer_account));
CREATE TABLE IF NOT EXISTS catalogue (
    sku TEXT PRIMARY KEY, title TEXT NOT NULL, category TEXT NOT NULL, price_cents INTEGER NOT NULL,
    stock INTEGER NOT NULL, image_url TEXT NOT NULL, link TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '');
";

/// The demo buyers' member levels (a real shop answers from its member system).
const MEMBER_LEVELS: [(&str, &str); 2] = [("demo_buyer_1", "gold"), ("demo_buyer_2", "regular")];

/// The demo shop's member ladder, lowest first.
const LEVEL_LADDER: [&str; 5] = ["regular", "silver", "gold", "platinum", "diamond"];

/// Demo buyers: log in to the widget with one of these shop account ids.
pub const DEMO_BUYERS: [&str; 2] = ["demo_buyer_1", "demo_buyer_2"];

const HOUR: i64 = 3600 * 1000;
const DAY: i64 = 24 * HOUR;

/// One seeded order; days are counted back from the seeding time.
struct SeedOrder {
    no: &'static str,
    buyer: &'static str,
    status: &'static str,
    placed: i64,
    delivered: Option<i64>,
    sku: &'static str,
    qty: i64,
}

const fn seed(
    no: &'static str,
    buyer: &'static str,
    status: &'static str,
    placed: i64,
    delivered: Option<i64>,
    sku: &'static str,
    qty: i64,
) -> SeedOrder {
    SeedOrder {
        no,
        buyer,
        status,
        placed,
        delivered,
        sku,
        qty,
    }
}

pub struct DemoStore {
    pool: SqlitePool,
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    order_no: String,
    buyer_account: String,
    status: String,
    placed_at: i64,
    total_cents: i64,
    delivered_at: Option<i64>,
    returnable: bool,
}

impl DemoStore {
    /// Opens (creating and seeding on first use) `demo_store.db` in `data_dir`.
    /// Dates are seeded relative to `now`, so the demo reads the same any day.
    pub async fn open(data_dir: &Path, now: i64) -> Result<DemoStore, sqlx::Error> {
        let options = SqliteConnectOptions::new()
            .filename(data_dir.join("demo_store.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::raw_sql(SCHEMA).execute(&pool).await?;
        // A demo store made before products had descriptions gets the column.
        let (described,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM pragma_table_info('catalogue') WHERE name = 'description'",
        )
        .fetch_one(&pool)
        .await?;
        if described == 0 {
            sqlx::query("ALTER TABLE catalogue ADD COLUMN description TEXT NOT NULL DEFAULT ''")
                .execute(&pool)
                .await?;
        }
        let store = DemoStore { pool };
        let (orders,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM orders")
            .fetch_one(&store.pool)
            .await?;
        if orders == 0 {
            store.seed(now).await?;
        }
        let (products,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM catalogue")
            .fetch_one(&store.pool)
            .await?;
        if products == 0 {
            store.seed_catalogue().await?;
        } else {
            store.describe_catalogue().await?;
        }
        let (coupons,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM coupons")
            .fetch_one(&store.pool)
            .await?;
        if coupons == 0 {
            store.seed_coupons(now).await?;
        }
        Ok(store)
    }

    /// Three coupons valid for 30 days from the first start: a shop-wide one, a
    /// no-minimum one, and a flash one of which a single coupon is left.
    async fn seed_coupons(&self, now: i64) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let coupons = [
            ("SHOP20", "全店满减券", 2000, 19900, 500),
            ("NEW5", "新客无门槛券", 500, 0, 200),
            ("FLASH30", "限量秒杀券", 3000, 9900, 1),
        ];
        for (id, title, discount, min_spend, remaining) in coupons {
            sqlx::query(
                "INSERT INTO coupons (id, title, discount_cents, min_spend_cents, valid_until, remaining) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(title)
            .bind(discount)
            .bind(min_spend)
            .bind(now + 30 * DAY)
            .bind(remaining)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    async fn seed(&self, now: i64) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let products = [
            ("TS-001", "纯棉圆领T恤 白色 L", 7900),
            ("JK-002", "轻薄羽绒服 黑色 M", 39900),
            ("EB-003", "无线蓝牙耳机 Pro", 19900),
            ("MG-004", "保温杯 500ml", 8900),
        ];
        for (sku, name, price) in products {
            sqlx::query("INSERT INTO products (sku, name, price_cents) VALUES ($1, $2, $3)")
                .bind(sku)
                .bind(name)
                .bind(price)
                .execute(&mut *tx)
                .await?;
        }
        let orders = [
            seed(
                "XE20261101001",
                "demo_buyer_1",
                "shipped",
                3,
                None,
                "JK-002",
                1,
            ),
            seed(
                "XE20261101002",
                "demo_buyer_1",
                "delivered",
                6,
                Some(2),
                "TS-001",
                2,
            ),
            seed(
                "XE20261101003",
                "demo_buyer_1",
                "delivered",
                30,
                Some(25),
                "EB-003",
                1,
            ),
            seed(
                "XE20261101004",
                "demo_buyer_2",
                "shipped",
                2,
                None,
                "EB-003",
                1,
            ),
            seed(
                "XE20261101005",
                "demo_buyer_2",
                "paid",
                1,
                None,
                "MG-004",
                3,
            ),
        ];
        for SeedOrder {
            no,
            buyer,
            status,
            placed,
            delivered,
            sku,
            qty,
        } in orders
        {
            let (price,): (i64,) =
                sqlx::query_as("SELECT price_cents FROM products WHERE sku = $1")
                    .bind(sku)
                    .fetch_one(&mut *tx)
                    .await?;
            sqlx::query("INSERT INTO orders (order_no, buyer_account, status, placed_at, total_cents, delivered_at, returnable) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(no).bind(buyer).bind(status).bind(now - placed * DAY).bind(price * qty)
                .bind(delivered.map(|d| now - d * DAY)).bind(true)
                .execute(&mut *tx).await?;
            sqlx::query("INSERT INTO order_lines (order_no, sku, quantity, unit_price_cents) VALUES ($1, $2, $3, $4)")
                .bind(no).bind(sku).bind(qty).bind(price)
                .execute(&mut *tx).await?;
            if status == "paid" {
                continue;
            }
            let tracking = format!("SF{}", &no[2..]);
            sqlx::query("INSERT INTO shipments (order_no, carrier, tracking_no) VALUES ($1, '顺丰速运', $2)")
                .bind(no).bind(&tracking).execute(&mut *tx).await?;
            let shipped = now - (placed - 1) * DAY;
            let mut steps = vec![
                (shipped, "杭州市", "快件已被顺丰揽收"),
                (shipped + 8 * HOUR, "杭州转运中心", "快件已到达杭州转运中心"),
                (
                    shipped + 20 * HOUR,
                    "上海转运中心",
                    "快件已到达上海转运中心",
                ),
            ];
            if let Some(d) = delivered {
                steps.push((now - d * DAY - 3 * HOUR, "上海市浦东新区", "快件正在派送中"));
                steps.push((now - d * DAY, "上海市浦东新区", "快件已签收，签收人：本人"));
            }
            for (at, location, description) in steps {
                sqlx::query("INSERT INTO tracking_events (order_no, at, location, description) VALUES ($1, $2, $3, $4)")
                    .bind(no).bind(at).bind(location).bind(description)
                    .execute(&mut *tx).await?;
            }
        }
        tx.commit().await
    }

    /// A buyer's order of `quantity` of one of the demo products (TS-001,
    /// JK-002, EB-003, MG-004), placed at `placed_at`: how the demo shop (and a
    /// test) records a sale the chat may have led to. Returns its total.
    pub async fn place_order(
        &self,
        order_no: &OrderNumber,
        buyer_account: &str,
        status: crate::domain::commerce::OrderStatus,
        placed_at: i64,
        sku: &str,
        quantity: i64,
    ) -> Result<i64, sqlx::Error> {
        let status = serde_json::to_value(status).expect("status serialises");
        let mut tx = self.pool.begin().await?;
        let (price,): (i64,) = sqlx::query_as("SELECT price_cents FROM products WHERE sku = $1")
            .bind(sku)
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO orders (order_no, buyer_account, status, placed_at, total_cents, delivered_at, returnable) \
             VALUES ($1, $2, $3, $4, $5, NULL, TRUE)",
        )
        .bind(order_no.as_str())
        .bind(buyer_account)
        .bind(status.as_str())
        .bind(placed_at)
        .bind(price * quantity)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO order_lines (order_no, sku, quantity, unit_price_cents) VALUES ($1, $2, $3, $4)",
        )
        .bind(order_no.as_str())
        .bind(sku)
        .bind(quantity)
        .bind(price)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(price * quantity)
    }

    /// The generated catalogue (see demo_catalogue), seeded once.
    async fn seed_catalogue(&self) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        for p in super::demo_catalogue::generate() {
            sqlx::query(
                "INSERT INTO catalogue (sku, title, category, price_cents, stock, image_url, link, description) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&p.sku)
            .bind(&p.title)
            .bind(&p.category)
            .bind(p.price_cents)
            .bind(p.stock)
            .bind(&p.image_url)
            .bind(&p.link)
            .bind(&p.description)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    /// Gives the generated products of a catalogue seeded before products had
    /// descriptions theirs (by sku; the rest of each product stays as it is).
    async fn describe_catalogue(&self) -> Result<(), sqlx::Error> {
        let (bare,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM catalogue WHERE description = ''")
                .fetch_one(&self.pool)
                .await?;
        if bare == 0 {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for p in super::demo_catalogue::generate() {
            sqlx::query(
                "UPDATE catalogue SET description = $2 WHERE sku = $1 AND description = ''",
            )
            .bind(&p.sku)
            .bind(&p.description)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    async fn load_order(&self, row: OrderRow) -> Result<Order, CommerceError> {
        let lines: Vec<(String, String, i64, i64)> = sqlx::query_as(
            "SELECT l.sku, p.name, l.quantity, l.unit_price_cents FROM order_lines l \
             JOIN products p ON p.sku = l.sku WHERE l.order_no = $1 ORDER BY l.rowid",
        )
        .bind(&row.order_no)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        let bad = |what: &str| CommerceError::BadResponse(format!("demo store: {what}"));
        Ok(Order {
            order_no: OrderNumber::parse(&row.order_no).map_err(|_| bad("order number"))?,
            buyer_account: row.buyer_account,
            status: serde_json::from_value(serde_json::Value::String(row.status))
                .map_err(|_| bad("status"))?,
            placed_at: row.placed_at,
            total_cents: row.total_cents,
            lines: lines
                .into_iter()
                .map(|(sku, name, quantity, unit_price_cents)| OrderLine {
                    sku,
                    name,
                    quantity,
                    unit_price_cents,
                })
                .collect(),
            delivered_at: row.delivered_at,
            returnable: row.returnable,
        })
    }
}

fn coupon_of(row: (String, String, i64, i64, i64, i64)) -> Coupon {
    let (id, title, discount_cents, min_spend_cents, valid_until, remaining) = row;
    Coupon {
        id,
        title,
        discount_cents,
        min_spend_cents,
        valid_until,
        remaining,
    }
}

fn unavailable(e: sqlx::Error) -> CommerceError {
    CommerceError::Unavailable(format!("demo store: {e}"))
}

const ORDER_COLUMNS: &str =
    "order_no, buyer_account, status, placed_at, total_cents, delivered_at, returnable";

#[async_trait::async_trait]
impl Commerce for DemoStore {
    async fn order(
        &self,
        buyer_account: &str,
        order_no: &OrderNumber,
    ) -> Result<Option<Order>, CommerceError> {
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE order_no = $1 AND buyer_account = $2"
        );
        let row: Option<OrderRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(order_no.as_str())
            .bind(buyer_account)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        match row {
            Some(row) => Ok(Some(self.load_order(row).await?)),
            None => Ok(None),
        }
    }

    async fn shipment(
        &self,
        buyer_account: &str,
        order_no: &OrderNumber,
    ) -> Result<Option<Shipment>, CommerceError> {
        let head: Option<(String, String)> = sqlx::query_as(
            "SELECT s.carrier, s.tracking_no FROM shipments s JOIN orders o ON o.order_no = s.order_no \
             WHERE s.order_no = $1 AND o.buyer_account = $2",
        )
        .bind(order_no.as_str())
        .bind(buyer_account)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        let Some((carrier, tracking_no)) = head else {
            return Ok(None);
        };
        let events: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT at, location, description FROM tracking_events WHERE order_no = $1 ORDER BY at",
        )
        .bind(order_no.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(Some(Shipment {
            carrier,
            tracking_no,
            events: events
                .into_iter()
                .map(|(at, location, description)| TrackingEvent {
                    at,
                    location,
                    description,
                })
                .collect(),
        }))
    }

    async fn recent_orders(
        &self,
        buyer_account: &str,
        limit: i64,
    ) -> Result<Vec<Order>, CommerceError> {
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE buyer_account = $1 ORDER BY placed_at DESC LIMIT $2"
        );
        let rows: Vec<OrderRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(buyer_account)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        let mut orders = Vec::with_capacity(rows.len());
        for row in rows {
            orders.push(self.load_order(row).await?);
        }
        Ok(orders)
    }

    async fn product(&self, sku: &Sku) -> Result<Option<Product>, CommerceError> {
        let sql = format!("SELECT {PRODUCT_COLUMNS} FROM catalogue WHERE sku = $1");
        let row: Option<ProductRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(sku.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(row.map(ProductRow::into_product))
    }

    async fn search_products(
        &self,
        query: &str,
        limit: i64,
    ) -> Result<Vec<Product>, CommerceError> {
        let sql = format!(
            "SELECT {PRODUCT_COLUMNS} FROM catalogue WHERE instr(title, $1) > 0 OR instr(category, $1) > 0 \
             OR instr(lower(sku), lower($1)) > 0 ORDER BY rowid LIMIT $2"
        );
        let rows: Vec<ProductRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(query.trim())
            .bind(limit.clamp(1, 100))
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(rows.into_iter().map(ProductRow::into_product).collect())
    }

    async fn catalogue_page(
        &self,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Product>, CommerceError> {
        let sql =
            format!("SELECT {PRODUCT_COLUMNS} FROM catalogue WHERE sku > $1 ORDER BY sku LIMIT $2");
        let rows: Vec<ProductRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(after.unwrap_or_default())
            .bind(limit.clamp(1, 1_000))
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(rows.into_iter().map(ProductRow::into_product).collect())
    }

    async fn order_baskets(&self, limit: i64) -> Result<Vec<Vec<String>>, CommerceError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT l.order_no, l.sku FROM order_lines l WHERE l.order_no IN \
             (SELECT order_no FROM orders ORDER BY placed_at DESC LIMIT $1) ORDER BY l.order_no, l.sku",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        let mut baskets: Vec<(String, Vec<String>)> = Vec::new();
        for (order_no, sku) in rows {
            match baskets.last_mut() {
                Some((last, skus)) if *last == order_no => skus.push(sku),
                _ => baskets.push((order_no, vec![sku])),
            }
        }
        Ok(baskets.into_iter().map(|(_, skus)| skus).collect())
    }

    async fn member_level(&self, buyer_account: &str) -> Result<Option<String>, CommerceError> {
        Ok(MEMBER_LEVELS
            .iter()
            .find(|(account, _)| *account == buyer_account)
            .map(|(_, level)| (*level).to_owned()))
    }

    async fn member_levels(&self) -> Result<Vec<String>, CommerceError> {
        Ok(LEVEL_LADDER.map(String::from).to_vec())
    }

    async fn coupons(&self) -> Result<Vec<Coupon>, CommerceError> {
        sqlx::query_as::<_, (String, String, i64, i64, i64, i64)>(
            "SELECT id, title, discount_cents, min_spend_cents, valid_until, remaining \
             FROM coupons ORDER BY valid_until DESC, id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)
        .map(|rows| rows.into_iter().map(coupon_of).collect())
    }

    async fn coupon(&self, id: &CouponId) -> Result<Option<Coupon>, CommerceError> {
        sqlx::query_as::<_, (String, String, i64, i64, i64, i64)>(
            "SELECT id, title, discount_cents, min_spend_cents, valid_until, remaining \
             FROM coupons WHERE id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)
        .map(|row| row.map(coupon_of))
    }

    async fn claimed_coupons(&self, buyer_account: &str) -> Result<Vec<CouponId>, CommerceError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT coupon_id FROM coupon_claims WHERE buyer_account = $1 ORDER BY claimed_at, coupon_id",
        )
        .bind(buyer_account)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        // Ids this store wrote itself; one it cannot read is skipped, not fatal.
        Ok(rows
            .into_iter()
            .filter_map(|(id,)| CouponId::parse(&id).ok())
            .collect())
    }

    async fn claim_coupon(
        &self,
        buyer_account: &str,
        id: &CouponId,
        now_ms: i64,
    ) -> Result<Claim, CommerceError> {
        // The write comes first, so the transaction holds the store's write
        // lock from its first statement (two buyers racing for the last one
        // queue up instead of failing on a stale read).
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let taken = sqlx::query(
            "UPDATE coupons SET remaining = remaining - 1 \
             WHERE id = $1 AND remaining > 0 AND valid_until > $2",
        )
        .bind(id.as_str())
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        let held: Option<(i64,)> = sqlx::query_as(
            "SELECT claimed_at FROM coupon_claims WHERE coupon_id = $1 AND buyer_account = $2",
        )
        .bind(id.as_str())
        .bind(buyer_account)
        .fetch_optional(&mut *tx)
        .await
        .map_err(unavailable)?;
        if held.is_some() {
            // Dropping the transaction gives the coupon taken above back.
            return Ok(Claim::AlreadyClaimed);
        }
        if taken.rows_affected() == 0 {
            let coupon: Option<(i64,)> =
                sqlx::query_as("SELECT valid_until FROM coupons WHERE id = $1")
                    .bind(id.as_str())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(unavailable)?;
            return Ok(match coupon {
                None => Claim::Unknown,
                Some((valid_until,)) if now_ms >= valid_until => Claim::Expired,
                Some(_) => Claim::SoldOut,
            });
        }
        sqlx::query(
            "INSERT INTO coupon_claims (coupon_id, buyer_account, claimed_at) VALUES ($1, $2, $3)",
        )
        .bind(id.as_str())
        .bind(buyer_account)
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(Claim::Claimed)
    }
}

const PRODUCT_COLUMNS: &str =
    "sku, title, category, price_cents, stock, image_url, link, description";

#[derive(sqlx::FromRow)]
struct ProductRow {
    sku: String,
    title: String,
    category: String,
    price_cents: i64,
    stock: i64,
    image_url: String,
    link: String,
    description: String,
}

impl ProductRow {
    fn into_product(self) -> Product {
        Product {
            sku: self.sku,
            title: self.title,
            category: self.category,
            description: self.description,
            price_cents: self.price_cents,
            stock: self.stock,
            image_url: self.image_url,
            link: self.link,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::commerce::OrderStatus;

    #[tokio::test]
    async fn a_coupon_is_claimed_once_per_buyer_while_some_are_left_and_until_it_expires() {
        let dir = tempfile::tempdir().unwrap();
        let now = 1_800_000_000_000;
        let store = DemoStore::open(dir.path(), now).await.unwrap();
        let all = store.coupons().await.unwrap();
        assert_eq!(all.len(), 3);
        let flash = CouponId::parse("FLASH30").unwrap();
        let shop = CouponId::parse("SHOP20").unwrap();
        let left = |c: Option<Coupon>| c.unwrap().remaining;
        assert_eq!(left(store.coupon(&flash).await.unwrap()), 1);

        let claim = |account: &'static str, id: &CouponId, at: i64| {
            let (store, id) = (&store, id.clone());
            async move { store.claim_coupon(account, &id, at).await.unwrap() }
        };
        assert_eq!(claim("demo_buyer_1", &flash, now).await, Claim::Claimed);
        assert_eq!(
            claim("demo_buyer_1", &flash, now).await,
            Claim::AlreadyClaimed
        );
        assert_eq!(claim("demo_buyer_2", &flash, now).await, Claim::SoldOut);
        assert_eq!(left(store.coupon(&flash).await.unwrap()), 0);

        let before = left(store.coupon(&shop).await.unwrap());
        assert_eq!(claim("demo_buyer_2", &shop, now).await, Claim::Claimed);
        // A repeated claim gives nothing more and takes nothing from the stock.
        assert_eq!(
            claim("demo_buyer_2", &shop, now).await,
            Claim::AlreadyClaimed
        );
        assert_eq!(left(store.coupon(&shop).await.unwrap()), before - 1);
        let expired_at = now + 30 * DAY;
        assert_eq!(
            claim("demo_buyer_1", &shop, expired_at).await,
            Claim::Expired
        );
        assert_eq!(left(store.coupon(&shop).await.unwrap()), before - 1);
        let nope = CouponId::parse("NOPE").unwrap();
        assert_eq!(claim("demo_buyer_1", &nope, now).await, Claim::Unknown);
    }

    #[tokio::test]
    async fn a_buyer_sees_their_orders_and_never_another_buyers() {
        let dir = tempfile::tempdir().unwrap();
        let store = DemoStore::open(dir.path(), 1_800_000_000_000)
            .await
            .unwrap();
        let mine = OrderNumber::parse("XE20261101001").unwrap();
        let theirs = OrderNumber::parse("XE20261101004").unwrap();
        let order = store.order("demo_buyer_1", &mine).await.unwrap().unwrap();
        assert_eq!(order.status, OrderStatus::Shipped);
        assert_eq!(order.lines[0].name, "轻薄羽绒服 黑色 M");
        assert!(
            store
                .order("demo_buyer_1", &theirs)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .shipment("demo_buyer_1", &theirs)
                .await
                .unwrap()
                .is_none()
        );
        let track = store
            .shipment("demo_buyer_1", &mine)
            .await
            .unwrap()
            .unwrap();
        assert!(track.events.len() >= 3);
        assert_eq!(
            store.recent_orders("demo_buyer_1", 10).await.unwrap().len(),
            3
        );
        // Opening again does not seed twice.
        drop(store);
        let again = DemoStore::open(dir.path(), 1_800_000_000_000)
            .await
            .unwrap();
        assert_eq!(
            again.recent_orders("demo_buyer_2", 10).await.unwrap().len(),
            2
        );
    }
}

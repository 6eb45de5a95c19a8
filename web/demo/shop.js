// The demo shop's product page and cart. `/demo/?sku=JK-002` shows that
// product of the demo store's catalogue (GET /api/v1/demo/products/{sku});
// `/demo/` the cotton T-shirt. Each cart change is handed to the chat widget
// (Xiaoer.setCart), so an agent sees what the buyer is about to buy, and a
// product card's "加入购物车" in the chat comes back through Xiaoer.onAddToCart.
// And its sign-in: a real shop's server signs the signed-in buyer's identity;
// here the demo store signs for its own demo buyer (GET /api/v1/demo/identity,
// only while the server runs the demo store with an identity secret set).
const cart = [];
let product = { sku: "TS-001-M", name: "纯棉T恤 M", unit_price_cents: 7900 };
const yuan = (cents) => `¥${(cents / 100).toFixed(2)}`;
const $ = (sel) => document.querySelector(sel);

const sku = new URLSearchParams(location.search).get("sku");
if (sku) {
  fetch(`/api/v1/demo/products/${encodeURIComponent(sku)}`)
    .then((res) => (res.ok ? res.json() : null))
    .then((p) => {
      if (!p) return;
      product = { sku: p.sku, name: p.title, unit_price_cents: p.price_cents };
      document.title = `示例小店 · ${p.title}`;
      $("[data-testid=product-title]").textContent = p.title;
      $("[data-testid=product-price]").textContent = yuan(p.price_cents);
      $("[data-testid=product-stock]").textContent = p.stock > 0 ? `库存 ${p.stock} 件 In stock` : "缺货 Sold out";
    })
    .catch(() => {});
}

function addToCart(line) {
  const existing = cart.find((c) => c.sku === line.sku);
  if (existing) existing.quantity += 1;
  else cart.push({ ...line, quantity: 1 });
  const count = cart.reduce((n, c) => n + c.quantity, 0);
  $("[data-testid=cart-count]").textContent = `购物车 ${count} 件`;
  $("[data-testid=cart-lines]").replaceChildren(
    ...cart.map((c) => {
      const li = document.createElement("li");
      li.dataset.sku = c.sku;
      li.textContent = `${c.name} × ${c.quantity} · ${yuan(c.unit_price_cents)}`;
      return li;
    }),
  );
  window.Xiaoer.setCart(cart);
}

$("[data-testid=add-to-cart]").addEventListener("click", () => addToCart(product));
window.Xiaoer.onAddToCart(({ sku, title, price_cents }) => addToCart({ sku, name: title, unit_price_cents: price_cents }));

const DEMO_BUYER = "demo_buyer_1";
let signedIn = false;
const account = document.querySelector("[data-testid=demo-account]");
const signIn = document.querySelector("[data-testid=demo-sign-in]");
signIn.addEventListener("click", async () => {
  if (signedIn) {
    window.Xiaoer.identify(null);
    signedIn = false;
    account.textContent = "未登录（匿名）Not signed in (anonymous)";
    signIn.textContent = "以示例买家登录 Sign in as the demo buyer";
    return;
  }
  const res = await fetch(`/api/v1/demo/identity?account=${DEMO_BUYER}`).catch(() => null);
  if (!res || !res.ok) {
    account.textContent =
      "演示登录不可用：请以 XIAOER_IDENTITY_SECRET 启动服务器 · Demo sign-in needs the server started with XIAOER_IDENTITY_SECRET";
    return;
  }
  window.Xiaoer.identify(await res.json());
  signedIn = true;
  account.textContent = `已登录 Signed in: ${DEMO_BUYER}`;
  signIn.textContent = "退出登录 Sign out";
});

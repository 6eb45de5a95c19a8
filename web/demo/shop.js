// The demo shop's cart: each change is handed to the chat widget
// (Xiaoer.setCart), so an agent sees what the buyer is about to buy. And its
// sign-in: a real shop's server signs the signed-in buyer's identity; here the
// demo store signs for its own demo buyer (GET /api/v1/demo/identity, only while
// the server runs the demo store with an identity secret set).
const cart = [];
document.querySelector("[data-testid=add-to-cart]").addEventListener("click", () => {
  const line = cart.find((c) => c.sku === "TS-001-M");
  if (line) line.quantity += 1;
  else cart.push({ sku: "TS-001-M", name: "纯棉T恤 M", quantity: 1, unit_price_cents: 7900 });
  const count = cart.reduce((n, c) => n + c.quantity, 0);
  document.querySelector("[data-testid=cart-count]").textContent = `购物车 ${count} 件`;
  window.Xiaoer.setCart(cart);
});

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

// The demo shop's cart: each change is handed to the chat widget
// (Xiaoer.setCart), so an agent sees what the buyer is about to buy.
const cart = [];
document.querySelector("[data-testid=add-to-cart]").addEventListener("click", () => {
  const line = cart.find((c) => c.sku === "TS-001-M");
  if (line) line.quantity += 1;
  else cart.push({ sku: "TS-001-M", name: "纯棉T恤 M", quantity: 1, unit_price_cents: 7900 });
  const count = cart.reduce((n, c) => n + c.quantity, 0);
  document.querySelector("[data-testid=cart-count]").textContent = `购物车 ${count} 件`;
  window.Xiaoer.setCart(cart);
});

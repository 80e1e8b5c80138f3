// A product: pictures at the width the screen needs, price, stock, related products, and
// placing an order. Each attempt at an order has one Idempotency-Key, kept if the attempt is
// retried, so a double click or a retry after a lost answer orders once.

import { api, newIdempotencyKey, SignedOut } from "../api.js";
import { degradedNotice, h, pageTitle, problemPanel, ratingText } from "../dom.js";
import { cardList, orderHeader } from "./common.js";

function picture(product) {
  const images = [...product.images].sort((a, b) => a.width - b.width);
  if (images.length === 0) return h("div", { class: "no-image", role: "img", "aria-label": `${product.title}: no picture` });
  const fallback = images.find((image) => image.width >= 480) || images[images.length - 1];
  return h("img", {
    class: "product-image",
    src: fallback.url,
    srcset: images.map((image) => `${image.url} ${image.width}w`).join(", "),
    sizes: "(min-width: 48rem) 24rem, 90vw",
    width: fallback.width,
    height: fallback.height,
    alt: product.title,
  });
}

function availability(product, degraded) {
  if (degraded.has("availability") || product.availability === null) return degradedNotice("Stock levels");
  const { inStock, label } = product.availability;
  return h("p", { class: inStock ? "stock in-stock" : "stock out-of-stock" }, label);
}

function attributes(product) {
  const entries = Object.entries(product.attributes || {});
  if (entries.length === 0) return null;
  return h("dl", { class: "attributes" }, entries.flatMap(([name, value]) => [
    h("dt", {}, name.charAt(0).toUpperCase() + name.slice(1)), h("dd", {}, String(value))]));
}

function orderForm(product) {
  const outOfStock = product.availability !== null && !product.availability.inStock;
  const quantity = h("input", { id: "quantity", name: "quantity", type: "number", min: 1, max: 99, value: 1, required: true, inputmode: "numeric" });
  const button = h("button", { type: "submit", id: "place-order", disabled: outOfStock }, "Place order");
  const result = h("div", { id: "order-result", "aria-live": "polite" });
  let attempt = null;
  let pending = false;

  async function place(event) {
    event.preventDefault();
    if (pending) return;
    const count = Number(quantity.value);
    if (!Number.isInteger(count) || count < 1 || count > 99) {
      result.replaceChildren(h("p", { class: "notice", role: "alert" }, "Choose a quantity from 1 to 99."));
      return;
    }
    if (attempt === null || attempt.count !== count) attempt = { key: newIdempotencyKey(), count };
    pending = true;
    button.disabled = true;
    button.textContent = "Placing order…";
    result.replaceChildren(h("p", { class: "muted" }, "Placing your order…"));
    try {
      const order = await api("/api/orders", {
        method: "POST",
        headers: { "Idempotency-Key": attempt.key },
        body: { lines: [{ productId: product.id, quantity: count }] },
      });
      attempt = null;
      result.replaceChildren(h("div", { class: "order-placed", role: "status" },
        h("p", { class: "success" }, "Thank you, your order is placed."),
        orderHeader(order),
        h("p", {}, h("a", { href: "/orders" }, "See your orders"))));
    } catch (error) {
      if (!(error instanceof SignedOut)) result.replaceChildren(problemPanel(error));
    } finally {
      pending = false;
      button.disabled = false;
      button.textContent = "Place order";
    }
  }

  return h("form", { class: "order-form", onsubmit: place, "aria-label": "Order this product" },
    h("label", { for: "quantity" }, "Quantity"), quantity, button,
    outOfStock ? h("p", { class: "muted" }, "Out of stock: it cannot be ordered now.") : null,
    result);
}

export async function productPage({ id }) {
  const product = await api(`/api/products/${encodeURIComponent(id)}`);
  const degraded = new Set(product.degraded || []);
  let related;
  if (degraded.has("related")) related = degradedNotice("Related products");
  else if (product.related.length === 0) related = h("p", { class: "muted" }, "Nothing related yet.");
  else related = cardList(product.related, "Related products");

  return [
    h("nav", { "aria-label": "Breadcrumb", class: "breadcrumb" },
      h("a", { href: "/" }, "Home"), " › ", h("span", { "aria-current": "page" }, product.title)),
    h("article", { class: "product", "aria-labelledby": "page-title" },
      h("div", { class: "product-media" }, picture(product)),
      h("div", { class: "product-info" },
        pageTitle(product.title),
        h("p", { class: "price big" }, product.priceLabel),
        ratingText(product.rating, product.ratingCount),
        availability(product, degraded),
        h("p", {}, product.description),
        attributes(product),
        orderForm(product))),
    h("section", { "aria-labelledby": "related-heading", id: "related" },
      h("h2", { id: "related-heading" }, "You may also like"), related),
  ];
}

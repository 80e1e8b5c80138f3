// What several pages show the same way: an order with its lines, a list of product cards.

import { h, productCard } from "../dom.js";

export function cardList(cards, label) {
  return h("ul", { class: "cards", "aria-label": label }, cards.map(productCard));
}

export function orderHeader(order) {
  return h("div", { class: "order-header" },
    h("span", { class: "order-id" }, `Order ${order.id}`),
    h("time", { datetime: order.placedAt }, order.placedAtLabel),
    h("span", { class: `status status-${order.status}` }, order.statusLabel),
    h("strong", { class: "order-total" }, order.totalLabel));
}

export function orderLines(order) {
  return h("ul", { class: "order-lines" }, order.lines.map((line) => {
    const title = line.title || `Product ${line.productId}`;
    return h("li", {},
      line.imageUrl ? h("img", { src: line.imageUrl, alt: title, width: 64, height: 64, loading: "lazy" }) : null,
      h("a", { href: `/products/${encodeURIComponent(line.productId)}` }, title),
      h("span", { class: "muted" }, ` ${line.quantity} × ${line.unitPriceLabel}`),
      h("span", { class: "line-total" }, line.lineTotalLabel));
  }));
}

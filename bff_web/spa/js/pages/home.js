// Home: the greeting (required), the last orders and the recommendations (each may be missing:
// then a notice says so in its place and the rest of the page still works).

import { api } from "../api.js";
import { degradedNotice, h, pageTitle } from "../dom.js";
import { cardList } from "./common.js";

function recentOrder(order) {
  return h("li", { class: "recent-order" },
    h("div", { class: "thumbs" }, order.thumbnails.slice(0, 3).map((url) => h("img", { src: url, alt: "", width: 48, height: 48 }))),
    h("div", {},
      h("time", { datetime: order.placedAt }, order.placedAtLabel),
      h("span", { class: `status status-${order.status}` }, order.statusLabel)),
    h("div", { class: "muted" }, `${order.itemCount} ${order.itemCount === 1 ? "item" : "items"}`),
    h("strong", {}, order.totalLabel));
}

export async function homePage() {
  const home = await api("/api/home");
  const degraded = new Set(home.degraded || []);
  const user = home.user;
  let orders;
  if (degraded.has("orders")) orders = degradedNotice("Your recent orders");
  else if (home.recentOrders.length === 0) orders = h("p", { class: "muted" }, "No orders yet.");
  else orders = h("ul", { class: "recent-orders" }, home.recentOrders.map(recentOrder));
  let recommendations;
  if (degraded.has("recommendations")) recommendations = degradedNotice("Recommendations");
  else recommendations = cardList(home.recommendations, "Recommended products");

  return [
    h("div", { class: "greeting" },
      user.avatarUrl ? h("img", { class: "avatar", src: user.avatarUrl, alt: "", width: 48, height: 48 }) : null,
      h("div", {}, pageTitle(home.greeting, "Home"), h("p", { class: "muted tier" }, `${user.tier.charAt(0).toUpperCase()}${user.tier.slice(1)} member`))),
    h("section", { "aria-labelledby": "recent-heading", id: "recent-orders" },
      h("div", { class: "section-heading" },
        h("h2", { id: "recent-heading" }, "Your recent orders"),
        h("a", { href: "/orders" }, "All orders")),
      orders),
    h("section", { "aria-labelledby": "recommended-heading", id: "recommendations" },
      h("h2", { id: "recommended-heading" }, "Recommended for you"),
      recommendations),
  ];
}

// Order history, newest first, ten at a time: "Load more" follows the cursor the BFF returned.

import { api, SignedOut } from "../api.js";
import { degradedNotice, h, pageTitle, problemPanel } from "../dom.js";
import { orderHeader, orderLines } from "./common.js";

const PAGE_SIZE = 10;

function orderItem(order) {
  return h("li", { class: "order", tabindex: "-1" }, orderHeader(order), orderLines(order));
}

export async function ordersPage() {
  const first = await api(`/api/orders?limit=${PAGE_SIZE}`);
  const list = h("ul", { class: "orders", id: "order-list" }, first.items.map(orderItem));
  const notices = h("div", {});
  const more = h("button", { type: "button", id: "load-more", class: "secondary" }, "Load more");
  let cursor = first.nextCursor;
  more.hidden = !cursor;

  function showDegraded(page) {
    if ((page.degraded || []).includes("products")) {
      notices.replaceChildren(degradedNotice("Some product names and pictures"));
    }
  }
  showDegraded(first);

  more.addEventListener("click", async () => {
    more.disabled = true;
    more.textContent = "Loading…";
    try {
      const page = await api(`/api/orders?limit=${PAGE_SIZE}&cursor=${encodeURIComponent(cursor)}`);
      const items = page.items.map(orderItem);
      list.append(...items);
      cursor = page.nextCursor;
      more.hidden = !cursor;
      showDegraded(page);
      if (items.length > 0) items[0].focus();
    } catch (error) {
      if (!(error instanceof SignedOut)) notices.replaceChildren(problemPanel(error));
    } finally {
      more.disabled = false;
      more.textContent = "Load more";
    }
  });

  return [
    pageTitle("Your orders"),
    notices,
    first.items.length === 0 ? h("p", { class: "muted" }, "You have not ordered anything yet.") : list,
    h("p", {}, more),
  ];
}

// Building the page from data: elements and text nodes only, never HTML strings, so nothing the
// services return can become markup.

export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return node;
}

export function byId(id) {
  return document.getElementById(id);
}

/** The page's heading: focused after each navigation so screen readers announce the new page. */
export function pageTitle(text, documentTitle = text) {
  document.title = `${documentTitle} · Shop`;
  return h("h1", { id: "page-title", tabindex: "-1" }, text);
}

/** A section that could not be loaded: said in place, the rest of the page still works. */
export function degradedNotice(what) {
  return h("p", { class: "notice degraded", role: "status" },
    `${what} are not available right now. The rest of the page works; try again in a moment.`);
}

/** An error as a problem document describes it: its title, and the trace id to quote. */
export function problemPanel(problem, retry) {
  return h("div", { class: "problem", role: "alert" },
    h("p", { class: "problem-title" }, problem.title || "Something went wrong"),
    problem.detail && problem.detail !== problem.title ? h("p", {}, problem.detail) : null,
    problem.traceId
      ? h("p", { class: "trace" }, "Trace id: ", h("code", { "data-trace-id": problem.traceId }, problem.traceId),
        " — quote it if you contact support.")
      : null,
    retry ? h("button", { type: "button", onclick: retry }, "Try again") : null);
}

export function signInUrl(returnPath) {
  return `/bff/login?returnUrl=${encodeURIComponent(returnPath)}`;
}

export function currentPath() {
  return `${location.pathname}${location.search}`;
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const STEPS = [[60, "second"], [60, "minute"], [24, "hour"], [7, "day"], [4.35, "week"], [12, "month"], [Infinity, "year"]];

/** "2 minutes ago" for a time in epoch seconds. */
export function timeAgo(epochSeconds, now = Date.now() / 1000) {
  let amount = epochSeconds - now;
  for (const [size, unit] of STEPS) {
    if (Math.abs(amount) < size) return relative.format(Math.round(amount), unit);
    amount /= size;
  }
  return "";
}

/** "Alpine Mug, 4.3 out of 5 stars (120 reviews)" and its visible short form. */
export function ratingText(rating, count) {
  return h("span", { class: "rating" }, `★ ${rating.toFixed(1)}`,
    h("span", { class: "muted" }, ` (${count.toLocaleString()})`),
    h("span", { class: "visually-hidden" }, ` — ${rating.toFixed(1)} out of 5 stars from ${count} reviews`));
}

/** A product card linking to its page; the image's alt text is the product's name. */
export function productCard(card) {
  return h("li", { class: "card" },
    h("a", { href: `/products/${encodeURIComponent(card.id)}`, class: "card-link" },
      card.imageUrl
        ? h("img", { src: card.imageUrl, alt: card.title, width: 320, height: 320, loading: "lazy" })
        : h("div", { class: "no-image", role: "img", "aria-label": `${card.title}: no picture` }),
      h("span", { class: "card-title" }, card.title)),
    h("span", { class: "price" }, card.priceLabel),
    ratingText(card.rating, card.ratingCount));
}

// Client-side routing with real paths (the gateway serves the app at each of them, so a link or
// a reload lands on the same page) and working back/forward through the History API.

const routes = [];
let renderCurrent = null;
let generation = 0;
let shownPath = null;

function pathKey() {
  return `${location.pathname}${location.search}`;
}

/** ``pattern`` like "/products/:id"; ``page(params, signal)`` renders into the view. */
export function route(pattern, page) {
  const names = [];
  const source = pattern.replace(/:(\w+)/g, (_, name) => {
    names.push(name);
    return "([^/]+)";
  });
  routes.push({ regex: new RegExp(`^${source}/?$`), names, page });
}

export function match(pathname) {
  for (const { regex, names, page } of routes) {
    const found = regex.exec(pathname);
    if (found) {
      const params = Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(found[i + 1])]));
      return { page, params };
    }
  }
  return null;
}

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  shownPath = pathKey();
  return renderCurrent();
}

/** A token per navigation: a page whose data arrives after the user moved on draws nothing. */
export function isCurrent(token) {
  return token === generation;
}

export function nextGeneration() {
  generation += 1;
  return generation;
}

function isAppLink(anchor, event) {
  if (event.defaultPrevented || event.button !== 0) return false;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return false;
  if (anchor.target || anchor.hasAttribute("download")) return false;
  if (anchor.getAttribute("href").startsWith("#")) return false; // in-page: the skip link
  const url = new URL(anchor.href, location.href);
  return url.origin === location.origin && !url.pathname.startsWith("/bff/") && match(url.pathname) !== null;
}

export function startRouter(render) {
  renderCurrent = render;
  document.addEventListener("click", (event) => {
    const anchor = event.target.closest("a[href]");
    if (!anchor || !isAppLink(anchor, event)) return;
    event.preventDefault();
    const url = new URL(anchor.href, location.href);
    navigate(url.pathname + url.search);
  });
  shownPath = pathKey();
  window.addEventListener("popstate", () => {
    if (pathKey() === shownPath) return; // only the #fragment moved (the skip link): same page
    shownPath = pathKey();
    render();
  });
}

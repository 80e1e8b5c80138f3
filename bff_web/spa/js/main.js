// The app's start: who is signed in, then the page for the current path.

import { Problem, SignedOut } from "./api.js";
import { byId, currentPath, h, pageTitle, problemPanel, signInUrl } from "./dom.js";
import { homePage } from "./pages/home.js";
import { ordersPage } from "./pages/orders.js";
import { productPage } from "./pages/product.js";
import { devicesPage } from "./pages/devices.js";
import { isCurrent, match, nextGeneration, route, startRouter } from "./router.js";
import { currentUser, loadUser, onSessionEnded, renderHeader, startSessionWatch } from "./session.js";

route("/", homePage);
route("/products/:id", productPage);
route("/orders", ordersPage);
route("/devices", devicesPage);

function signInView() {
  return [
    pageTitle("You are signed out"),
    h("p", {}, "Sign in to see your orders, recommendations and devices."),
    h("p", {}, h("a", { class: "button", href: signInUrl(currentPath()) }, "Sign in")),
  ];
}

function notFoundView() {
  return [pageTitle("Page not found"), h("p", {}, h("a", { href: "/" }, "Go to the home page"))];
}

/** Draw the page for the current path into the view, then move focus to its heading. */
async function render(moveFocus = true) {
  const token = nextGeneration();
  const view = byId("view");
  const loading = byId("loading");
  renderHeader();
  const found = match(location.pathname);
  if (currentUser() === null) {
    view.replaceChildren(...signInView());
  } else if (found === null) {
    view.replaceChildren(...notFoundView());
  } else {
    loading.hidden = false;
    try {
      const nodes = await found.page(found.params, () => isCurrent(token));
      if (!isCurrent(token)) return;
      view.replaceChildren(...nodes);
    } catch (error) {
      if (!isCurrent(token)) return;
      if (error instanceof SignedOut) {
        view.replaceChildren(...signInView());
      } else {
        const problem = error instanceof Problem ? error : new Problem(0, { title: "Something went wrong" });
        const heading = problem.status === 404 ? "Not found" : "Something went wrong";
        view.replaceChildren(pageTitle(heading), problemPanel(problem, () => render()));
      }
    }
  }
  loading.hidden = true;
  const heading = byId("page-title");
  if (moveFocus && heading) heading.focus({ preventScroll: true });
}

async function start() {
  startSessionWatch();
  onSessionEnded(() => render());
  try {
    await loadUser();
  } catch (error) {
    const problem = error instanceof Problem ? error : new Problem(0, { title: "Something went wrong" });
    byId("loading").hidden = true;
    byId("view").replaceChildren(pageTitle("Something went wrong"), problemPanel(problem, () => location.reload()));
    return;
  }
  startRouter(render);
  await render(false);
}

// Back from another site to a page kept in the back/forward cache: ask the BFF again rather
// than trust what the page showed then (the session may have ended meanwhile).
window.addEventListener("pageshow", (event) => {
  if (event.persisted) location.reload();
});

start();

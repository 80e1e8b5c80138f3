// The one door to the BFF: same-origin calls with the session cookie and the anti-forgery header.
// The app never sees a token. A 401 means the session is gone; any other error is a problem
// document (title, detail, traceId) that the page shows where the data would have been.

const signedOutListeners = new Set();

export class Problem extends Error {
  constructor(status, body) {
    super(body.title || `HTTP ${status}`);
    this.status = status;
    this.title = body.title || "Something went wrong";
    this.detail = body.detail || "";
    this.traceId = body.traceId || "";
    this.type = body.type || "about:blank";
  }
}

export class SignedOut extends Error {}

/** The route needs a more recent login: the app is on its way to the IdP (see ``api``). */
export class SteppingUp extends SignedOut {}

const STEP_UP = "/step-up-required";

export function onSignedOut(listener) {
  signedOutListeners.add(listener);
}

export async function api(path, { method = "GET", body, headers = {} } = {}) {
  const init = {
    method,
    credentials: "same-origin",
    cache: "no-store",
    headers: { "X-CSRF": "1", Accept: "application/json", ...headers },
  };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new Problem(0, { title: "The shop cannot be reached", detail: "Check your connection and try again." });
  }
  if (response.status === 401) {
    const text = await response.text(); // read to the end: an unread body counts as aborted
    const loginUrl = stepUpLoginUrl(text);
    if (loginUrl !== null) {
      // A login too old for this route: a fresh one at the IdP, back to this very page.
      const back = `${location.pathname}${location.search}`;
      location.assign(`${loginUrl}&returnUrl=${encodeURIComponent(back)}`);
      throw new SteppingUp("signing in again");
    }
    for (const listener of signedOutListeners) listener();
    throw new SignedOut("signed out");
  }
  const json = (response.headers.get("content-type") || "").includes("json");
  const data = response.status === 204 || !json ? null : await response.json();
  if (!response.ok) throw new Problem(response.status, data || { title: response.statusText });
  return data;
}

/** The gateway's own login URL from a step-up problem, or null for any other 401. */
function stepUpLoginUrl(text) {
  try {
    const problem = JSON.parse(text);
    const url = problem.loginUrl;
    const local = typeof url === "string" && url.startsWith("/bff/login?") && !url.startsWith("//");
    return String(problem.type || "").endsWith(STEP_UP) && local ? url : null;
  } catch {
    return null;
  }
}

/** A fresh key for one attempt at placing an order: retries of that attempt reuse it. */
export function newIdempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

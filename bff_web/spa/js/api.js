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
    await response.text(); // read to the end: a body left unread is reported as an aborted request
    for (const listener of signedOutListeners) listener();
    throw new SignedOut("signed out");
  }
  const json = (response.headers.get("content-type") || "").includes("json");
  const data = response.status === 204 || !json ? null : await response.json();
  if (!response.ok) throw new Problem(response.status, data || { title: response.statusText });
  return data;
}

/** A fresh key for one attempt at placing an order: retries of that attempt reuse it. */
export function newIdempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

// The signed-in user and the life of the session: the header shows who is signed in; activity
// keeps the session alive (the BFF slides its idle timeout on each call); a session about to
// expire with no activity gets a warning, and one that has expired ends cleanly: the private
// page is cleared and "Sign in" brings the user back to where they were.

import { api, onSignedOut, SignedOut } from "./api.js";
import { byId, currentPath, h, signInUrl } from "./dom.js";

const CHECK_EVERY_MS = 10_000;
const WARN_BEFORE_S = 60;
const EXTEND_AT_MOST_EVERY_MS = 60_000;

let user = null;
let expiresAt = 0;
let lastActivity = 0;
let lastExtended = 0;
let timer = null;
const endedListeners = new Set();

export function currentUser() {
  return user;
}

export function onSessionEnded(listener) {
  endedListeners.add(listener);
}

/** Who is signed in, or null. Loading it also extends the session (it is activity). */
export async function loadUser() {
  try {
    accept(await api("/bff/user"));
  } catch (error) {
    if (!(error instanceof SignedOut)) throw error;
    user = null;
  }
  renderHeader();
  return user;
}

function accept(info) {
  user = info;
  expiresAt = Date.now() + info.sessionExpiresIn * 1000;
  lastExtended = Date.now();
  hideNotice();
  if (timer === null) timer = setInterval(check, CHECK_EVERY_MS);
}

function displayName() {
  const claims = user.claims || {};
  return claims.name || claims.email || claims.sub;
}

export function renderHeader() {
  const signedIn = user !== null;
  byId("site-nav").hidden = !signedIn;
  byId("user-name").hidden = !signedIn;
  byId("user-name").textContent = signedIn ? displayName() : "";
  const signOut = byId("sign-out");
  signOut.hidden = !signedIn;
  if (signedIn) signOut.href = user.logoutUrl;
  const signIn = byId("sign-in");
  signIn.hidden = signedIn;
  signIn.href = signInUrl(currentPath());
}

/** Sign out: nothing private stays in this document (nor in the back/forward cache), then the
 * BFF ends the session, revokes the tokens and goes through the IdP's logout. */
export function signOut(event) {
  event.preventDefault();
  const target = user ? user.logoutUrl : "/bff/logout";
  forget();
  location.assign(target);
}

function forget() {
  user = null;
  if (timer !== null) clearInterval(timer);
  timer = null;
  byId("view").replaceChildren();
  renderHeader();
}

function noteActivity() {
  lastActivity = Date.now();
}

/** Errors other than a 401 (the network, a 5xx) leave things as they are until the next check. */
async function extend() {
  try {
    accept(await api("/bff/user"));
  } catch {
    // SignedOut has ended the session already; anything else is retried on the next check.
  }
}

async function check() {
  try {
    await checkOnce();
  } catch {
    // The gateway could not be asked; the next check asks again.
  }
}

async function checkOnce() {
  if (user === null) return;
  const now = Date.now();
  const remainingS = Math.round((expiresAt - now) / 1000);
  if (lastActivity > lastExtended && now - lastExtended >= EXTEND_AT_MOST_EVERY_MS) {
    await extend();
  } else if (remainingS <= 0) {
    // Another tab may have kept it alive: ask without extending it.
    try {
      const info = await api("/bff/user?slide=false");
      user = info;
      expiresAt = Date.now() + info.sessionExpiresIn * 1000;
    } catch (error) {
      if (!(error instanceof SignedOut)) throw error;
    }
  } else if (remainingS <= WARN_BEFORE_S) {
    showWarning(remainingS);
  }
}

function showWarning(remainingS) {
  const notice = byId("session-notice");
  notice.replaceChildren(
    h("span", {}, `You will be signed out in about ${remainingS} seconds for inactivity.`),
    h("button", { type: "button", onclick: () => extend() }, "Stay signed in"));
  notice.hidden = false;
}

function hideNotice() {
  const notice = byId("session-notice");
  notice.hidden = true;
  notice.replaceChildren();
}

/** The session is gone (expired, ended from another device, signed out elsewhere). */
function ended() {
  if (user === null && timer === null) return;
  forget();
  const notice = byId("session-notice");
  notice.replaceChildren(h("span", {}, "Your session has ended."));
  notice.hidden = false;
  for (const listener of endedListeners) listener();
}

export function startSessionWatch() {
  onSignedOut(ended);
  for (const type of ["pointerdown", "keydown"]) {
    document.addEventListener(type, noteActivity, { passive: true });
  }
  byId("sign-out").addEventListener("click", signOut);
}

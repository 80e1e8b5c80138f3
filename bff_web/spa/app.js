"use strict";
// The SPA never sees a token: it calls its own origin with the HttpOnly session cookie and the
// anti-forgery header, and renders the display-ready view models the BFF returns.

const CSRF = { "X-CSRF": "1" };

async function api(path, options = {}) {
  const response = await fetch(path, {
    credentials: "same-origin",
    ...options,
    headers: { ...CSRF, ...(options.headers || {}) },
  });
  if (response.status === 401) {
    const problem = await response.json().catch(() => null);
    if (problem && String(problem.type).endsWith("/step-up-required") && problem.loginUrl) {
      // A recent login is needed: log in again, then come back to this very page.
      const here = location.pathname + location.search;
      location.assign(`${problem.loginUrl}&returnUrl=${encodeURIComponent(here)}`);
      return { stepUp: true };
    }
    return { unauthenticated: true };
  }
  const body = response.status === 204 ? null : await response.json();
  return { ok: response.ok, status: response.status, body, response };
}

function show(id, visible = true) { document.getElementById(id).hidden = !visible; }
function text(id, value) { document.getElementById(id).textContent = value; }

function listItem(content) {
  const li = document.createElement("li");
  li.textContent = content;
  return li;
}

async function renderHome() {
  const result = await api("/api/home");
  if (!result.ok) return;
  const home = result.body;
  text("greeting", home.greeting);
  const degraded = home.degraded || [];
  show("degraded", degraded.length > 0);
  text("degraded", degraded.length ? `Some sections are unavailable right now: ${degraded.join(", ")}` : "");
  const orders = document.getElementById("orders");
  orders.replaceChildren(...(home.recentOrders || []).map(
    (o) => listItem(`${o.placedAtLabel} · ${o.statusLabel} · ${o.totalLabel}`)));
  const recs = document.getElementById("recommendations");
  recs.replaceChildren(...(home.recommendations || []).map((p) => {
    const li = document.createElement("li");
    const img = document.createElement("img");
    img.src = p.imageUrl; img.alt = p.title;
    const title = document.createElement("div");
    title.textContent = `${p.title} — ${p.priceLabel}`;
    li.append(img, title);
    return li;
  }));
  show("home");
}

async function renderSessions() {
  const result = await api("/bff/sessions");
  if (!result.ok) return;
  const list = document.getElementById("sessions");
  list.replaceChildren(...result.body.map((s) => {
    const li = listItem(`${s.kind} · ${s.userAgent || "unknown device"}${s.current ? " (this one)" : ""} `);
    if (!s.current) {
      const end = document.createElement("button");
      end.textContent = "End";
      end.addEventListener("click", async () => {
        await api(`/bff/sessions/${encodeURIComponent(s.id)}`, { method: "DELETE" });
        renderSessions();
      });
      li.append(end);
    }
    return li;
  }));
  show("sessions-section");
}

// Support staff: /?support=<sub> lists that user's sessions and can end them all. The server
// decides who may (the support role and a recent login); this only shows the answers.
async function renderSupport(sub) {
  show("support-section");
  document.getElementById("support-sub").value = sub;
  const path = `/api/admin/users/${encodeURIComponent(sub)}/sessions`;
  const result = await api(path);
  if (result.stepUp) return;
  if (!result.ok) {
    text("support-status", result.status === 403 ? "You may not do this." : "Please try again.");
    return;
  }
  text("support-status", `${result.body.length} session(s) of ${sub}`);
  const list = document.getElementById("support-sessions");
  list.replaceChildren(...result.body.map((s) => listItem(`${s.kind} · ${s.userAgent || "unknown device"}`)));
  const endAll = document.getElementById("support-end-all");
  endAll.hidden = result.body.length === 0;
  endAll.onclick = async () => {
    const ended = await api(path, { method: "DELETE" });
    if (ended.ok) {
      list.replaceChildren();
      endAll.hidden = true;
      text("support-status", `Ended ${ended.body.ended} session(s) of ${sub}`);
    }
  };
}

async function main() {
  const result = await api("/bff/user");
  if (result.unauthenticated) {
    text("status", "You are not logged in.");
    show("login");
    return;
  }
  const user = result.body;
  const name = user.claims.name || user.claims.email || user.claims.sub;
  text("user-name", name);
  show("user-name");
  const logout = document.getElementById("logout");
  logout.href = user.logoutUrl;
  show("logout");
  text("status", `Logged in as ${name}.`);
  const supportSub = new URLSearchParams(location.search).get("support");
  if (supportSub) {
    await renderSupport(supportSub);
    return;
  }
  await Promise.all([renderHome(), renderSessions()]);
}

main().catch(() => text("status", "Something went wrong. Please reload."));

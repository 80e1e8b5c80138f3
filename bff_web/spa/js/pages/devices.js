// "Your devices": every session of this user, web and mobile, with a readable device name and
// when it was last used. Ending one signs that device out at once.

import { api, SignedOut } from "../api.js";
import { deviceName } from "../devices.js";
import { h, pageTitle, problemPanel, timeAgo } from "../dom.js";

function isoTime(epochSeconds) {
  return new Date(epochSeconds * 1000).toISOString();
}

function sessionItem(session, onEnd) {
  const name = deviceName(session.userAgent, session.kind);
  const ended = h("span", { class: "muted", role: "status" });
  const end = session.current
    ? null
    : h("button", {
      type: "button",
      class: "secondary",
      "aria-label": `End the session on ${name}`,
      onclick: () => onEnd(session, end, ended),
    }, "End session");
  return h("li", { class: "device", "data-kind": session.kind },
    h("div", {},
      h("strong", { class: "device-name" }, name),
      session.current ? h("span", { class: "badge" }, "This device") : null),
    h("div", { class: "muted" },
      session.kind === "mobile" ? "Mobile app" : "Web browser",
      " · last used ", h("time", { datetime: isoTime(session.lastSeenAt) }, timeAgo(session.lastSeenAt)),
      " · signed in ", h("time", { datetime: isoTime(session.createdAt) }, timeAgo(session.createdAt))),
    end, ended);
}

export async function devicesPage() {
  const sessions = await api("/bff/sessions");
  const problems = h("div", {});
  const list = h("ul", { class: "devices", id: "device-list" });

  async function endSession(session, button, status) {
    button.disabled = true;
    try {
      await api(`/bff/sessions/${encodeURIComponent(session.id)}`, { method: "DELETE" });
      button.remove();
      status.textContent = "Signed out";
      status.closest("li").classList.add("ended");
    } catch (error) {
      button.disabled = false;
      if (!(error instanceof SignedOut)) problems.replaceChildren(problemPanel(error));
    }
  }

  sessions.sort((a, b) => Number(b.current) - Number(a.current) || b.lastSeenAt - a.lastSeenAt);
  list.append(...sessions.map((session) => sessionItem(session, endSession)));
  return [
    pageTitle("Your devices"),
    h("p", {}, "Where you are signed in. End a session you do not recognise: that device is signed out at once."),
    problems,
    list,
  ];
}

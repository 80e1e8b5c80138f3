// Support staff: one user's sessions on every device, and ending them all ("/support/<sub>").
// The routes need the support role and a recent login: a login too old is followed by a fresh
// one at the IdP (``api`` does that), which comes back here.

import { api, SignedOut } from "../api.js";
import { h, pageTitle, problemPanel } from "../dom.js";

export async function supportPage({ sub }) {
  const path = `/api/admin/users/${encodeURIComponent(sub)}/sessions`;
  const sessions = await api(path);
  const status = h("p", { role: "status", id: "support-status" }, `${sessions.length} session(s) of ${sub}`);
  const problems = h("div", {});
  const end = h("button", {
    type: "button",
    onclick: async () => {
      end.disabled = true;
      try {
        const answer = await api(path, { method: "DELETE" });
        status.textContent = `Ended ${answer.ended} session(s) of ${sub}`;
      } catch (error) {
        end.disabled = false;
        if (!(error instanceof SignedOut)) problems.replaceChildren(problemPanel(error));
      }
    },
  }, "End all sessions");
  return [pageTitle(`Support: ${sub}`), status, problems, h("p", {}, end)];
}

// `/invite/{token}` (src/http/invite_page.rs): the link from a real invitation email, opened
// in Chromium, accepted through the page's plain form (no JavaScript needed), checked through /v1.
import { check } from "../harness.mjs";

const PASSWORD = "correct horse battery";

/// An owner with a workspace who has invited `invitee` through /v1; the link from the email.
async function invited({ api, mail, unique, base }, invitee) {
  const owner = await api.signup(unique("owner"), "Owner");
  const ws = await api.call("POST", "/v1/workspaces", { token: owner.access, body: { name: "Browser Ops" } });
  check(ws.status === 201, `create workspace: ${ws.status}`);
  const inv = await api.call("POST", `/v1/workspaces/${ws.body.id}/invitations`, {
    token: owner.access,
    body: { email: invitee, role: "editor" },
  });
  check(inv.status === 201, `invite: ${inv.status} ${JSON.stringify(inv.body)}`);
  const message = await mail.waitFor(invitee, (m) => m.links.some((l) => l.includes("/invite/")));
  const link = message.links.find((l) => l.includes("/invite/"));
  check(link.startsWith(`${base}/invite/`), `the email links to this service: ${link}`);
  return { owner, ws: ws.body.id, link, token: link.slice(link.lastIndexOf("/") + 1) };
}

async function pendingInvitations(api, owner, ws) {
  const r = await api.call("GET", `/v1/workspaces/${ws}/invitations?status=pending`, { token: owner.access });
  check(r.status === 200, `list invitations: ${r.status}`);
  return r.body.data;
}

export const stories = [
  {
    name: "the emailed link opens the page, its form creates the account and joins the workspace",
    async run(ctx) {
      const { page, api, serverLog } = ctx;
      const invitee = ctx.unique("invitee");
      const { owner, ws, link, token } = await invited(ctx, invitee);

      const response = await page.goto(link);
      check(response.status() === 200, `the page answers 200, not ${response.status()}`);
      const headers = response.headers();
      check(headers["referrer-policy"] === "no-referrer", `Referrer-Policy: ${headers["referrer-policy"]}`);
      check(headers["cache-control"] === "no-store", `Cache-Control: ${headers["cache-control"]}`);
      check((await page.textContent("body")).includes(invitee), "the page names the invited address");

      await page.fill("#name", "Invited Person");
      await page.fill("#password", PASSWORD);
      const [answer] = await Promise.all([
        page.waitForNavigation(),
        page.click("button:has-text('Accept invitation')"),
      ]);
      check(answer.status() === 200, `accepting answers 200, not ${answer.status()}: ${await page.textContent("body")}`);
      check((await page.textContent("h1")).includes("You're in"), `the page says so: ${await page.textContent("h1")}`);

      const login = await api.login(invitee, PASSWORD);
      check(login.status === 200, `the invitee signs in: ${login.status}`);
      const members = await api.call("GET", `/v1/workspaces/${ws}/members`, { token: owner.access });
      const row = members.body.data.find((m) => m.email === invitee);
      check(row && row.role === "editor", `the invitee is a member: ${JSON.stringify(members.body)}`);
      check((await pendingInvitations(api, owner, ws)).length === 0, "the invitation is used");

      const log = serverLog();
      check(log.includes("/invite/{token}"), "the server logged the page's requests (by route)");
      check(!log.includes(token), "the token is not in the server's log");
    },
  },
  {
    name: "a form another site posts is refused and changes nothing",
    async run(ctx) {
      const { page, api, context } = ctx;
      const invitee = ctx.unique("target");
      const { owner, ws, link } = await invited(ctx, invitee);

      // A page on another origin whose form posts to the invitation, submitted by Chromium.
      await context.route("http://attacker.test/**", (route) =>
        route.fulfill({
          contentType: "text/html",
          body: `<form method="post" action="${link}">
                   <input name="action" value="accept"><input name="name" value="Mallory">
                   <input name="password" value="${PASSWORD}"><button>go</button></form>`,
        }),
      );
      await page.goto("http://attacker.test/");
      const [answer] = await Promise.all([page.waitForNavigation(), page.click("button")]);
      check(answer.status() === 403, `a cross-site post is 403, not ${answer.status()}`);
      check((await page.textContent("h1")).includes("Request refused"), "the page says why");

      // Without Fetch Metadata, a foreign Origin is refused too.
      const forged = await api.call("POST", new URL(link).pathname, {
        form: { action: "decline" },
        headers: { origin: "http://attacker.test" },
      });
      check(forged.status === 403, `a foreign Origin is 403, not ${forged.status}`);

      const pending = await pendingInvitations(api, owner, ws);
      check(pending.length === 1 && pending[0].email === invitee, "the invitation is still pending");
      check((await api.login(invitee, PASSWORD)).status === 401, "no account was created");
    },
  },
];

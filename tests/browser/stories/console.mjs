// `/console` (src/http/console/): the web console, clicked through in Chromium. The stories
// walk what a workspace owner does, check every outcome through /v1 as well as on the page,
// scan every page with axe-core, take screenshots at a laptop's and a phone's width (into
// ROSTER_SCREENSHOTS, outside the repository), and check the CSRF guard and the session cookie.
import { readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { check } from "../harness.mjs";

const PASSWORD = "correct horse battery";
const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const SHOTS = process.env.ROSTER_SCREENSHOTS;

/// Clicks a submit button and waits for the page it leads to.
async function submit(page, selector) {
  const [response] = await Promise.all([page.waitForNavigation(), page.click(selector)]);
  return response;
}

/// Accepts the confirmation a destructive action asks for.
function acceptDialogs(page) {
  page.on("dialog", (d) => d.accept());
}

async function signUpInConsole(page, base, email, name) {
  const shown = await page.goto(`${base}/console/sign-up`);
  check(shown.status() === 200, `the sign-up page answers 200, not ${shown.status()}`);
  await page.fill("#name", name);
  await page.fill("#email", email);
  await page.fill("#password", PASSWORD);
  const r = await submit(page, "button:has-text('Create account')");
  check(r.status() === 200, `signing up lands on a page: ${r.status()} ${await page.textContent("main")}`);
}

async function signInToConsole(page, base, email, password = PASSWORD) {
  await page.goto(`${base}/console/sign-in`);
  await page.fill("#email", email);
  await page.fill("#password", password);
  const r = await submit(page, "button:has-text('Sign in')");
  check(r.status() === 200, `signing in lands on a page: ${r.status()} ${await page.textContent("main")}`);
}

async function flash(page) {
  return (await page.textContent(".flash")) || "";
}

/// The console's cookie in a browser context.
async function sessionCookie(context) {
  const cookies = await context.cookies();
  return cookies.find((c) => c.name === "roster_console");
}

/// A native API token for the person signed in, to check what the console did through /v1.
async function token(api, email) {
  const r = await api.login(email, PASSWORD);
  check(r.status === 200, `API sign-in of ${email}: ${r.status}`);
  return r.body.access_token;
}

/// axe-core's serious and critical findings on the page now shown.
async function axe(page) {
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 3) }));
  });
  return result.filter((v) => v.impact === "serious" || v.impact === "critical");
}

/// Scans `path` with axe (in a context that lets the test inject its script) and screenshots it
/// at 1280 and 390 px wide.
async function inspect(browser, storage, base, path, name) {
  const context = await browser.newContext({ bypassCSP: true, storageState: storage });
  try {
    const page = await context.newPage();
    for (const [width, label] of [[1280, "laptop"], [390, "phone"]]) {
      await page.setViewportSize({ width, height: 900 });
      const r = await page.goto(`${base}${path}`);
      check(r.status() === 200, `${path} answers 200 at ${width} px, not ${r.status()}`);
      if (SHOTS) {
        mkdirSync(SHOTS, { recursive: true });
        await page.screenshot({ path: join(SHOTS, `${name}-${label}.png`), fullPage: true });
      }
      if (label === "laptop") {
        const found = await axe(page);
        check(found.length === 0, `axe on ${path}: ${JSON.stringify(found)}`);
      } else {
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        check(overflow <= 1, `${path} fits a phone's width (overflows by ${overflow} px)`);
      }
    }
  } finally {
    await context.close();
  }
}

export const stories = [
  {
    name: "an owner signs up, invites two people, promotes one who invites a third, removes them, and the audit log shows it all",
    async run(ctx) {
      const { page, api, base, browser, mail } = ctx;
      acceptDialogs(page);
      const errors = [];
      page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
      const owner = ctx.unique("owner");
      const [ann, bob, cat] = [ctx.unique("ann"), ctx.unique("bob"), ctx.unique("cat")];

      await signUpInConsole(page, base, owner, "Olive Owner");
      const cookie = await sessionCookie(ctx.context);
      check(cookie && cookie.httpOnly && cookie.sameSite === "Lax", `the session cookie is HttpOnly and SameSite=Lax: ${JSON.stringify(cookie)}`);

      // A workspace of their own.
      await page.goto(`${base}/console/workspaces`);
      await page.fill("#ws-name", "Harbour Ops");
      await submit(page, "button:has-text('Create workspace')");
      check((await flash(page)).includes("Harbour Ops"), `created: ${await flash(page)}`);
      const ws = new URL(page.url()).pathname.split("/")[3];
      const ownerToken = await token(api, owner);
      const created = await api.call("GET", `/v1/workspaces/${ws}`, { token: ownerToken });
      check(created.status === 200 && created.body.name === "Harbour Ops", `the workspace exists: ${created.status}`);

      // Two invitations at once, pasted.
      await page.goto(`${base}/console/w/${ws}/invitations`);
      await page.fill("#emails", `${ann}\n${bob}`);
      await page.selectOption("#invite-role", "editor");
      await submit(page, "button:has-text('Send invitations')");
      check((await flash(page)).includes("2 invitations sent"), `both sent: ${await flash(page)}`);
      check((await page.locator(`tr[data-email="${ann}"] .badge`).textContent()) === "pending", "Ann's invitation is listed as pending");
      const pending = await api.call("GET", `/v1/workspaces/${ws}/invitations?status=pending`, { token: ownerToken });
      check(pending.body.data.length === 2, `two pending invitations: ${JSON.stringify(pending.body)}`);

      // Ann accepts from the link in the real email, then signs in to the console in her own browser.
      const message = await mail.waitFor(ann, (m) => m.links.some((l) => l.includes("/invite/")));
      const link = message.links.find((l) => l.includes("/invite/"));
      const annContext = await browser.newContext();
      const annPage = await annContext.newPage();
      acceptDialogs(annPage);
      await annPage.goto(link);
      await annPage.fill("#name", "Ann Able");
      await annPage.fill("#password", PASSWORD);
      await submit(annPage, "button:has-text('Accept invitation')");
      check((await annPage.textContent("h1")).includes("You're in"), "Ann joined");
      await signInToConsole(annPage, base, ann);
      check(annPage.url().includes(`/console/w/`), `Ann lands in a workspace: ${annPage.url()}`);

      // The owner makes Ann an admin.
      await page.goto(`${base}/console/w/${ws}/members`);
      const annRow = page.locator(`tr[data-email="${ann}"]`);
      await annRow.locator("select").selectOption("admin");
      await Promise.all([page.waitForNavigation(), annRow.locator("button:has-text('Change role')").click()]);
      check((await flash(page)).includes("admin"), `role changed: ${await flash(page)}`);
      const annMember = (await api.call("GET", `/v1/workspaces/${ws}/members?q=${encodeURIComponent(ann)}`, { token: ownerToken })).body.data[0];
      check(annMember.role === "admin", `Ann is admin through /v1: ${JSON.stringify(annMember)}`);

      // Ann, now admin, invites a third person.
      await annPage.goto(`${base}/console/w/${ws}/invitations`);
      await annPage.fill("#emails", cat);
      await submit(annPage, "button:has-text('Send invitations')");
      check((await flash(annPage)).includes(`Invitation sent to ${cat}`), `Ann invited Cat: ${await flash(annPage)}`);
      await mail.waitFor(cat);

      // The owner removes Ann; her open tab is refused on its next click.
      await page.goto(`${base}/console/w/${ws}/members`);
      await Promise.all([page.waitForNavigation(), page.locator(`tr[data-email="${ann}"] button:has-text('Remove')`).click()]);
      check((await flash(page)).includes("removed"), `removed: ${await flash(page)}`);
      const refused = await annPage.goto(`${base}/console/w/${ws}/members`);
      check(refused.status() === 404, `Ann's next click is refused (404), not ${refused.status()}`);
      const gone = await api.call("GET", `/v1/workspaces/${ws}/members?q=${encodeURIComponent(ann)}`, { token: ownerToken });
      check(gone.body.data.length === 0, "Ann is no longer a member through /v1");
      await annContext.close();

      // The audit page shows each of these events, and exports them.
      await page.goto(`${base}/console/w/${ws}/audit`);
      const log = await page.textContent("table.audit");
      for (const action of ["workspace.created", "invitation.created", "invitation.accepted", "member.role_changed", "member.removed"]) {
        check(log.includes(action), `the audit page shows ${action}`);
      }
      await page.fill("#action", "member.removed");
      await submit(page, "button:has-text('Filter')");
      check((await page.locator("table.audit tbody tr").count()) === 1, "filtering by action keeps the one removal");
      const [download] = await Promise.all([page.waitForEvent("download"), page.click("a:has-text('Export')")]);
      const csv = readFileSync(await download.path(), "utf8");
      check(csv.startsWith("id,created_at,action") && csv.includes("member.removed") && !csv.includes("member.role_changed"),
        `the export holds the filtered events: ${csv.slice(0, 300)}`);
      check(errors.length === 0, `no script or policy errors in the console: ${errors.join("; ")}`);
    },
  },
  {
    name: "an owner creates an API key, sees its secret once, and revokes it",
    async run(ctx) {
      const { page, api, base } = ctx;
      acceptDialogs(page);
      const owner = ctx.unique("keys");
      await signUpInConsole(page, base, owner, "Key Keeper");
      await page.goto(`${base}/console/workspaces`);
      await page.fill("#ws-name", "Key Shop");
      await submit(page, "button:has-text('Create workspace')");
      const ws = new URL(page.url()).pathname.split("/")[3];

      await page.goto(`${base}/console/w/${ws}/api-keys`);
      await page.fill("#key-name", "deploys");
      await page.check("input[value='members:list']");
      await submit(page, "button:has-text('Create key')");
      const secret = await page.inputValue("#secret");
      check(secret.startsWith("rkw_"), `a secret is shown: ${secret.slice(0, 6)}…`);
      const used = await api.call("GET", `/v1/workspaces/${ws}/members`, { token: secret });
      check(used.status === 200, `the key works: ${used.status}`);
      const found = await axe(page);
      check(found.length === 0, `axe on the page that shows the secret: ${JSON.stringify(found)}`);

      await page.goto(`${base}/console/w/${ws}/api-keys`);
      check(!(await page.content()).includes(secret), "the list never shows the secret again");
      await Promise.all([page.waitForNavigation(), page.locator("tr[data-key='deploys'] button:has-text('Revoke')").click()]);
      check((await flash(page)).includes("revoked"), `revoked: ${await flash(page)}`);
      const after = await api.call("GET", `/v1/workspaces/${ws}/members`, { token: secret });
      check(after.status === 401, `the revoked key is refused: ${after.status}`);
      await page.goto(`${base}/console/w/${ws}/audit`);
      const log = await page.textContent("table.audit");
      check(log.includes("api_key.created") && log.includes("api_key.revoked"), "the audit page shows the key's creation and revocation");
    },
  },
  {
    name: "a viewer sees the members but no role controls, and a forged role change is refused",
    async run(ctx) {
      const { page, api, base } = ctx;
      const owner = await api.signup(ctx.unique("vowner"), "Vera Owner");
      const viewer = await api.signup(ctx.unique("viewer"), "Vic Viewer");
      const ws = await api.call("POST", "/v1/workspaces", { token: owner.access, body: { name: "Look Only" } });
      const added = await api.call("POST", `/v1/workspaces/${ws.body.id}/members`, {
        token: owner.access, body: { email: viewer.email, role: "viewer" },
      });
      check(added.status === 201, `viewer added: ${added.status} ${JSON.stringify(added.body)}`);

      await signInToConsole(page, base, viewer.email, viewer.password);
      const shown = await page.goto(`${base}/console/w/${ws.body.id}/members`);
      check(shown.status() === 200, `the viewer may list members: ${shown.status()}`);
      check((await page.locator("table.members tbody tr").count()) === 2, "both members are listed");
      check((await page.locator("table.members select").count()) === 0, "no role control is offered");
      const buttons = await page.locator("table.members button").allTextContents();
      check(buttons.length === 1 && buttons[0] === "Leave", `only leaving is offered: ${JSON.stringify(buttons)}`);
      check((await page.locator("nav.sections a:has-text('Invitations')").count()) === 0, "no invitations section is offered");
      check((await page.locator("nav.sections a:has-text('API keys')").count()) === 0, "no API keys section is offered");

      // Posting the form anyway (with this session's own token) is the domain's refusal.
      const csrf = await page.evaluate(() => document.querySelector("input[name=csrf]").value);
      // Through the context's own requests: its cookies, as a forged form would carry them.
      const posted = await ctx.context.request.post(`${base}/console/w/${ws.body.id}/members/${owner.id}/role`, {
        form: { csrf, role: "viewer" },
      });
      const r = { status: posted.status(), text: await posted.text() };
      check(r.status === 200 && r.text.includes("flash error"), `the refusal is shown as a message: ${r.status}`);
      const members = await api.call("GET", `/v1/workspaces/${ws.body.id}/members`, { token: owner.access });
      check(members.body.data.find((m) => m.user_id === owner.id).role === "owner", "the owner is still owner");
    },
  },
  {
    name: "a form without this session's CSRF token changes nothing, and a session ended by the API opens no page",
    async run(ctx) {
      const { page, api, base, browser } = ctx;
      const owner = await api.signup(ctx.unique("csrf"), "Carl Csrf");
      const ws = await api.call("POST", "/v1/workspaces", { token: owner.access, body: { name: "Guarded" } });
      await signInToConsole(page, base, owner.email, owner.password);
      const mine = await page.goto(`${base}/console/w/${ws.body.id}/settings`);
      check(mine.status() === 200, `settings open: ${mine.status()}`);

      // Another session's token, from a second browser signed in as the same person.
      const other = await browser.newContext();
      const otherPage = await other.newPage();
      await signInToConsole(otherPage, base, owner.email, owner.password);
      await otherPage.goto(`${base}/console/w/${ws.body.id}/settings`);
      const foreign = await otherPage.evaluate(() => document.querySelector("input[name=csrf]").value);
      await other.close();

      const post = async (csrf) => {
        const form = { name: "Hijacked" };
        if (csrf !== null) form.csrf = csrf;
        const r = await ctx.context.request.post(`${base}/console/w/${ws.body.id}/settings`, { form, maxRedirects: 0 });
        return r.status();
      };
      check((await post(null)) === 403, "a post without the token is 403");
      check((await post(foreign)) === 403, "a post with another session's token is 403");
      const still = await api.call("GET", `/v1/workspaces/${ws.body.id}`, { token: owner.access });
      check(still.body.name === "Guarded", `nothing changed: ${still.body.name}`);

      // The API signs the person out everywhere: the console's cookie opens nothing any more.
      const ended = await api.call("POST", "/v1/me/sessions/revoke-all", { token: owner.access, body: {} });
      check(ended.status === 200 || ended.status === 204, `signed out everywhere: ${ended.status} ${JSON.stringify(ended.body)}`);
      for (const path of [`/console/w/${ws.body.id}/members`, "/console/account", "/console/workspaces"]) {
        const r = await page.goto(`${base}${path}`);
        check(new URL(page.url()).pathname === "/console/sign-in", `${path} sends the ended session to sign in (at ${page.url()}, ${r.status()})`);
      }
    },
  },
  {
    name: "every console page passes axe and fits a laptop and a phone",
    async run(ctx) {
      const { page, api, base, browser, context } = ctx;
      const owner = await api.signup(ctx.unique("axe"), "Ada Axe");
      const ws = await api.call("POST", "/v1/workspaces", { token: owner.access, body: { name: "Accessible" } });
      const id = ws.body.id;
      await api.call("POST", `/v1/workspaces/${id}/invitations`, { token: owner.access, body: { email: ctx.unique("inv"), role: "editor" } });
      await api.call("POST", `/v1/workspaces/${id}/api-keys`, { token: owner.access, body: { name: "ci", permissions: ["workspace:read"] } });
      await api.call("POST", `/v1/workspaces/${id}/roles`, { token: owner.access, body: { key: "billing", name: "Billing", base: "viewer", permissions: ["usage:read"] } });
      const key = await api.call("POST", "/v1/me/api-keys", { token: owner.access, body: { name: "meter" } });
      const used = await api.call("POST", `/v1/workspaces/${id}/usage/events`, {
        token: key.body.secret, body: { events: [{ meter: "location_events" }, { meter: "location_events" }] },
      });
      check(used.status < 300, `usage recorded: ${used.status} ${JSON.stringify(used.body)}`);
      for (const [path, name] of [["/console/sign-in", "sign-in"], ["/console/sign-up", "sign-up"], ["/console/forgot-password", "forgot-password"]]) {
        await inspect(browser, undefined, base, path, name);
      }
      await signInToConsole(page, base, owner.email, owner.password);
      const hook = await api.call("POST", `/v1/workspaces/${id}/webhooks`, { token: owner.access, body: { url: "https://hooks.example.com/roster" } });
      check(hook.status === 201, `webhook endpoint: ${hook.status} ${JSON.stringify(hook.body)}`);
      // The page that shows the authenticator's QR code (a form's answer, so scanned here).
      await page.goto(`${base}/console/account`);
      await submit(page, "button:has-text('Set up two-factor authentication')");
      check((await page.locator("img.qr").count()) === 1, "the QR code is shown");
      const enrolFindings = await axe(page);
      check(enrolFindings.length === 0, `axe on the MFA set-up page: ${JSON.stringify(enrolFindings)}`);
      const storage = await context.storageState();
      for (const [path, name] of [
        [`/console/w/${id}/members`, "members"],
        [`/console/w/${id}/invitations`, "invitations"],
        [`/console/w/${id}/api-keys`, "api-keys"],
        [`/console/w/${id}/audit`, "audit"],
        [`/console/w/${id}/roles`, "roles"],
        [`/console/w/${id}/webhooks`, "webhooks"],
        [`/console/w/${id}/usage`, "usage"],
        [`/console/w/${id}/settings`, "settings"],
        ["/console/workspaces", "workspaces"],
        ["/console/account", "account"],
        [`/console/w/${id}/webhooks/${hook.body.id}`, "webhook"],
      ]) {
        await inspect(browser, storage, base, path, name);
      }
    },
  },
  {
    name: "/docs renders the API reference with every non-local request blocked",
    async run(ctx) {
      const { page, base, context } = ctx;
      const blocked = [];
      await context.route("**/*", (route) => {
        const url = new URL(route.request().url());
        if (url.origin === base) return route.continue();
        blocked.push(url.href);
        return route.abort();
      });
      const r = await page.goto(`${base}/docs`);
      check(r.status() === 200, `/docs answers 200, not ${r.status()}`);
      await page.waitForSelector("text=Workspaces, members, roles", { timeout: 20000 });
      const text = await page.textContent("body");
      check(text.includes("/v1/workspaces"), "the reference lists the API's paths");
      check(blocked.length === 0, `the page asked for nothing elsewhere: ${blocked.join(", ")}`);
    },
  },
];

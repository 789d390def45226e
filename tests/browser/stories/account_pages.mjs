// `/verify-email/{token}` and `/reset-password/{token}` (src/http/account_pages.rs): the links
// from the real sign-up and forgot-password emails, opened in Chromium, used through the pages'
// plain forms (no JavaScript needed), then checked by signing in through /v1.
import { check } from "../harness.mjs";

const NEW_PASSWORD = "a brand new passphrase";

/// The link to `page` in the latest email to `address` that carries one.
async function emailedLink({ mail, base }, address, page) {
  const message = await mail.waitFor(address, (m) => m.links.some((l) => l.includes(`/${page}/`)));
  const link = message.links.find((l) => l.includes(`/${page}/`));
  check(link.startsWith(`${base}/${page}/`), `the email links to this service: ${link}`);
  return { link, token: link.slice(link.lastIndexOf("/") + 1) };
}

function checkPrivate(response) {
  const headers = response.headers();
  check(headers["referrer-policy"] === "no-referrer", `Referrer-Policy: ${headers["referrer-policy"]}`);
  check(headers["cache-control"] === "no-store", `Cache-Control: ${headers["cache-control"]}`);
  check((headers["content-security-policy"] || "").includes("frame-ancestors 'none'"), "the page cannot be framed");
}

export const stories = [
  {
    name: "the sign-up email's link opens a page whose button verifies the address",
    async run(ctx) {
      const { page, api, serverLog } = ctx;
      const person = await api.signup(ctx.unique("verify"), "Verifying Person");
      const before = await api.call("GET", "/v1/me", { token: person.access });
      check(before.status === 200 && before.body.email_verified === false, `unverified at first: ${JSON.stringify(before.body)}`);
      const { link, token } = await emailedLink(ctx, person.email, "verify-email");

      const shown = await page.goto(link);
      check(shown.status() === 200, `the page answers 200, not ${shown.status()}`);
      checkPrivate(shown);
      const still = await api.call("GET", "/v1/me", { token: person.access });
      check(still.body.email_verified === false, "opening the link alone verifies nothing");

      const [answer] = await Promise.all([
        page.waitForNavigation(),
        page.click("button:has-text('Verify my email address')"),
      ]);
      check(answer.status() === 200, `verifying answers 200, not ${answer.status()}: ${await page.textContent("body")}`);
      check((await page.textContent("h1")).includes("verified"), `the page says so: ${await page.textContent("h1")}`);
      const after = await api.call("GET", "/v1/me", { token: person.access });
      check(after.body.email_verified === true, `the address is verified: ${JSON.stringify(after.body)}`);

      const again = await page.goto(link);
      check(again.status() === 410, `the link works once: ${again.status()}`);
      check(!serverLog().includes(token), "the token is not in the server's log");
    },
  },
  {
    name: "the forgot-password email's link opens a page that sets a new password and signs everyone out",
    async run(ctx) {
      const { page, api, serverLog } = ctx;
      const person = await api.signup(ctx.unique("reset"), "Forgetful Person");
      const other = await api.login(person.email, person.password);
      check(other.status === 200, `a second session: ${other.status}`);
      const asked = await api.call("POST", "/v1/auth/forgot-password", { body: { email: person.email } });
      check(asked.status === 202, `forgot-password answers 202, not ${asked.status}`);
      const { link, token } = await emailedLink(ctx, person.email, "reset-password");

      const shown = await page.goto(link);
      check(shown.status() === 200, `the page answers 200, not ${shown.status()}`);
      checkPrivate(shown);

      // Two different passwords: the form again, with the reason, and nothing changed.
      await page.fill("#password", NEW_PASSWORD);
      await page.fill("#confirm", "not the same one");
      const [mismatch] = await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
      check(mismatch.status() === 422, `mismatched passwords are 422, not ${mismatch.status()}`);
      check((await page.textContent(".error")).includes("not the same"), "the page says why");
      check((await api.login(person.email, person.password)).status === 200, "the old password still works");

      await page.fill("#password", NEW_PASSWORD);
      await page.fill("#confirm", NEW_PASSWORD);
      const [answer] = await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
      check(answer.status() === 200, `resetting answers 200, not ${answer.status()}: ${await page.textContent("body")}`);
      check((await page.textContent("h1")).includes("Password changed"), `the page says so: ${await page.textContent("h1")}`);

      check((await api.call("GET", "/v1/me", { token: person.access })).status === 401, "the first session ended");
      check((await api.call("GET", "/v1/me", { token: other.body.access_token })).status === 401, "the second session ended");
      check((await api.login(person.email, person.password)).status === 401, "the old password no longer works");
      const signedIn = await api.login(person.email, NEW_PASSWORD);
      check(signedIn.status === 200, `the new password signs in: ${signedIn.status}`);
      const me = await api.call("GET", "/v1/me", { token: signedIn.body.access_token });
      check(me.body.email_verified === true, "a reset proves the address too");

      const again = await page.goto(link);
      check(again.status() === 410, `the link works once: ${again.status()}`);
      check(!serverLog().includes(token), "the token is not in the server's log");
    },
  },
];

// What a browser story gets: the service's base URL, the real emails the SMTP sink received,
// calls to the native API, the server's log, and a fresh Chromium context and page.
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

// Debian's Chromium, as root in a container: no sandbox, no GPU, nothing fetched on its own.
export function launch() {
  return chromium.launch({
    executablePath: process.env.ROSTER_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

export class StoryFailure extends Error {}

export function check(cond, what) {
  if (!cond) throw new StoryFailure(what);
}

/// A message as the sink stored it, with its text decoded (quoted-printable soft breaks and
/// `=XX` escapes undone) and the links it carries.
function parse(raw) {
  const text = raw
    .replace(/=\r?\n/g, "")
    .replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
  const to = (/^To:\s*(.*)$/im.exec(raw) || [])[1] || "";
  const subject = (/^Subject:\s*(.*)$/im.exec(raw) || [])[1] || "";
  const links = [...new Set(text.match(/https?:\/\/[^\s"'<>]+/g) || [])];
  return { raw, text, to, subject, links };
}

export class Mailbox {
  constructor(dir) {
    this.dir = dir;
  }

  /// Every message received so far, in order.
  all() {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((f) => f.endsWith(".eml"))
      .sort()
      .map((f) => parse(readFileSync(join(this.dir, f), "utf8")));
  }

  /// The first message to `address` (optionally also matching `pred`), waiting for the outbox
  /// to deliver it (at most `timeoutMs`).
  async waitFor(address, pred = () => true, timeoutMs = 30000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.all().find((m) => m.to.includes(address) && pred(m));
      if (found) return found;
      if (Date.now() > deadline) throw new StoryFailure(`no email to ${address} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export class Api {
  constructor(base) {
    this.base = base;
  }

  /// A request to the service: `{status, headers, body}` (`body` JSON when it is JSON).
  async call(method, path, { token, body, headers = {}, form } = {}) {
    const h = { ...headers };
    if (token) h.authorization = `Bearer ${token}`;
    let payload;
    if (form) {
      h["content-type"] = "application/x-www-form-urlencoded";
      payload = new URLSearchParams(form).toString();
    } else if (body !== undefined) {
      h["content-type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const r = await fetch(this.base + path, { method, headers: h, body: payload, redirect: "manual" });
    const text = await r.text();
    let parsed = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: the text itself
    }
    return { status: r.status, headers: r.headers, body: parsed };
  }

  /// Signs up through /v1 and answers `{id, email, password, access}`.
  async signup(email, name, password = "correct horse battery") {
    const r = await this.call("POST", "/v1/auth/signup", { body: { email, password, name } });
    check(r.status === 201, `signup of ${email}: ${r.status} ${JSON.stringify(r.body)}`);
    return { id: r.body.user.id, email, password, access: r.body.access_token };
  }

  /// Signs in through /v1: the status and body.
  login(email, password) {
    return this.call("POST", "/v1/auth/login", { body: { email, password } });
  }
}

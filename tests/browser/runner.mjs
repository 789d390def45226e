// Runs every story in stories/*.mjs against one running Roster, in one Chromium: prints each
// story PASS, FAIL or NOT RUN and exits non-zero unless every story passed. A story file
// exports `stories`: an array of `{ name, run(ctx) }`; see README.md beside this file.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Api, Mailbox, check, launch } from "./harness.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const base = process.env.ROSTER_URL;
const inbox = process.env.ROSTER_INBOX;
const logFile = process.env.ROSTER_LOG;
const only = process.env.ROSTER_STORY; // optional: run the stories whose name contains it
if (!base || !inbox || !logFile) {
  console.error("set ROSTER_URL, ROSTER_INBOX and ROSTER_LOG (tests/browser/run does)");
  process.exit(2);
}

const results = []; // [status, name, detail]
const pending = [];
for (const file of readdirSync(join(here, "stories")).filter((f) => f.endsWith(".mjs")).sort()) {
  try {
    const mod = await import(pathToFileURL(join(here, "stories", file)).href);
    check(Array.isArray(mod.stories) && mod.stories.length > 0, "exports no `stories`");
    for (const s of mod.stories) {
      if (!only || s.name.includes(only)) pending.push({ file, ...s });
    }
  } catch (e) {
    results.push(["FAIL", `${file} (loading)`, e.message]);
  }
}

let browser;
try {
  browser = await launch();
} catch (e) {
  console.error(`Chromium did not start: ${e.message}`);
}

let run = 0;
for (const story of pending) {
  const name = `${story.file}: ${story.name}`;
  if (!browser) {
    results.push(["NOT RUN", name, "no browser"]);
    continue;
  }
  const context = await browser.newContext();
  const page = await context.newPage();
  const ctx = {
    base,
    browser,
    context,
    page,
    api: new Api(base),
    mail: new Mailbox(inbox),
    serverLog: () => readFileSync(logFile, "utf8"),
    unique: (who) => `${who}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}@example.com`,
  };
  const started = Date.now();
  try {
    await story.run(ctx);
    run += 1;
    results.push(["PASS", name, `${Date.now() - started} ms`]);
  } catch (e) {
    results.push(["FAIL", name, e.stack || String(e)]);
  } finally {
    await context.close().catch(() => {});
  }
}
if (browser) await browser.close();

for (const [status, name, detail] of results) {
  console.log(`${status.padEnd(7)} ${name}${status === "PASS" ? ` (${detail})` : `\n        ${detail}`}`);
}
const passed = results.filter((r) => r[0] === "PASS").length;
console.log(`${passed} of ${results.length} browser stories passed`);
process.exit(passed === results.length && run === pending.length && results.length > 0 ? 0 : 1);

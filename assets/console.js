// Roster's console: progressive enhancement only; every page works without this script.
// - forms with data-confirm ask before they are sent (destructive actions);
// - buttons with data-copy copy the named field's value (a new secret);
// - <time datetime> elements show the viewer's own time zone.
"use strict";
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) event.preventDefault();
});
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const field = document.getElementById(button.getAttribute("data-copy"));
  if (!field) return;
  field.select();
  try {
    await navigator.clipboard.writeText(field.value);
    button.textContent = "Copied";
  } catch (_) {
    button.textContent = "Select and copy";
  }
});
document.addEventListener("DOMContentLoaded", () => {
  const format = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  for (const t of document.querySelectorAll("time[datetime]")) {
    const at = new Date(t.getAttribute("datetime"));
    if (!Number.isNaN(at.getTime())) {
      t.title = t.textContent;
      t.textContent = format.format(at);
    }
  }
});

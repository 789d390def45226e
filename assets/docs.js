// /docs: renders the native API's OpenAPI document with the embedded Redoc bundle.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("reference");
  window.Redoc.init(root.getAttribute("data-spec"), { hideDownloadButton: false, disableSearch: false }, root);
});

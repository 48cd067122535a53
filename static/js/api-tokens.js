// API token pages: copy a newly created token to the clipboard (loaded as a file: no inline script).
"use strict";

document.querySelectorAll("[data-copy-target]").forEach((button) => {
  button.addEventListener("click", async () => {
    const field = document.getElementById(button.dataset.copyTarget);
    field.select();
    try {
      await navigator.clipboard.writeText(field.value);
    } catch {
      document.execCommand("copy");  // older browsers, or clipboard access refused
    }
    button.textContent = button.dataset.copiedLabel;
  });
});

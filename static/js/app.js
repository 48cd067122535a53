// Saintara Admin behaviour. Loaded as a file: the Content-Security-Policy forbids inline script.
"use strict";

// Forms marked data-confirm="question" ask before they submit (destructive actions).
document.addEventListener("submit", (event) => {
  const question = event.target.dataset ? event.target.dataset.confirm : undefined;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// Forms marked data-autosubmit submit as soon as a choice changes (the language switcher);
// their button stays for browsers without script and is hidden once this runs.
document.querySelectorAll("form[data-autosubmit]").forEach((form) => {
  form.classList.add("autosubmit-ready");
  form.addEventListener("change", () => form.requestSubmit());
});

// Buttons marked data-print print the page (the records of processing).
document.querySelectorAll("button[data-print]").forEach((button) => {
  button.addEventListener("click", () => window.print());
});

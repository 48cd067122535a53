// Saintara Admin behaviour. Loaded as a file: the Content-Security-Policy forbids inline script.
"use strict";

// Forms marked data-confirm="question" ask before they submit (destructive actions).
document.addEventListener("submit", (event) => {
  const question = event.target.dataset ? event.target.dataset.confirm : undefined;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

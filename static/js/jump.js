// The jump box: Ctrl-K / Cmd-K (or "/" outside a field) opens a dialog with a combobox that
// finds a user, customer, institution, transaction or audit entry (GET /jump.json), within
// what the signed-in person may open. Arrow keys choose, Enter opens, Esc closes and gives
// the focus back. Without JavaScript the navbar link opens the plain results page.
// Loaded as a file: the Content-Security-Policy forbids inline script.
"use strict";

(() => {
  const dialog = document.getElementById("jump-dialog");
  if (!dialog || !window.bootstrap) {
    return;
  }
  const input = document.getElementById("jump-input");
  const listbox = document.getElementById("jump-listbox");
  const status = document.getElementById("jump-status");
  const form = dialog.querySelector("[data-jump-form]");
  const modal = window.bootstrap.Modal.getOrCreateInstance(dialog);
  const DEBOUNCE_MS = 200;
  let options = [];
  let active = -1;
  let shownQuery = null; // the query the listed options answer
  let timer = null;
  let controller = null;
  let lastQuery = null;
  let returnFocusTo = null;

  function isTyping(target) {
    if (!(target instanceof HTMLElement)) {
      return false;
    }
    return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
  }

  let opened = false;

  function open() {
    if (dialog.classList.contains("show")) {
      input.select();
      return;
    }
    returnFocusTo = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    modal.show();
  }

  function setExpanded(expanded) {
    input.setAttribute("aria-expanded", expanded ? "true" : "false");
  }

  function setActive(index) {
    options.forEach((option, i) => {
      const selected = i === index;
      option.setAttribute("aria-selected", selected ? "true" : "false");
      option.classList.toggle("active", selected);
    });
    active = index;
    if (index >= 0) {
      input.setAttribute("aria-activedescendant", options[index].id);
      options[index].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle("text-danger", Boolean(isError));
    status.classList.toggle("text-body-secondary", !isError);
  }

  function clear() {
    listbox.replaceChildren();
    options = [];
    shownQuery = null;
    setActive(-1);
    setExpanded(false);
  }

  function render(results, query) {
    // An answer that arrives after the person moved through the list keeps their choice.
    const chosen = active >= 0 && options[active] ? options[active].dataset.url : null;
    clear();
    shownQuery = query;
    results.forEach((result, i) => {
      const option = document.createElement("li");
      option.id = `jump-option-${i}`;
      option.className = "list-group-item list-group-item-action";
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      option.dataset.url = result.url;
      const kind = document.createElement("span");
      kind.className = "badge text-bg-secondary me-2";
      kind.textContent = result.kind_label;
      const label = document.createElement("span");
      label.className = "fw-semibold";
      label.textContent = result.label;
      const detail = document.createElement("div");
      detail.className = "small text-body-secondary text-truncate";
      detail.textContent = result.detail;
      option.append(kind, label, detail);
      option.addEventListener("mousedown", (event) => event.preventDefault()); // keep the focus in the field
      option.addEventListener("click", () => go(i));
      listbox.append(option);
      options.push(option);
    });
    setExpanded(options.length > 0);
    if (chosen !== null) {
      const again = options.findIndex((option) => option.dataset.url === chosen);
      if (again >= 0) {
        setActive(again);
      }
    }
    if (options.length === 0) {
      say(dialog.dataset.textNone, false);
    } else if (options.length === 1) {
      say(dialog.dataset.textCountOne, false);
    } else {
      say(dialog.dataset.textCountMany.replace("{count}", String(options.length)), false);
    }
  }

  function go(index) {
    const option = options[index];
    if (option) {
      window.location.assign(option.dataset.url);
    }
  }

  async function search(query) {
    if (controller) {
      controller.abort();
    }
    if (query === "") {
      lastQuery = "";
      clear();
      say("", false);
      return;
    }
    if (query === shownQuery) {
      lastQuery = query; // the list already answers it (the same text typed again): keep it as it is
      return;
    }
    controller = new AbortController();
    lastQuery = query;
    say(dialog.dataset.textSearching, false);
    let body;
    let ok;
    try {
      const response = await fetch(`${dialog.dataset.source}?q=${encodeURIComponent(query)}`, {
        headers: { Accept: "application/json" }, credentials: "same-origin", signal: controller.signal,
      });
      ok = response.ok;
      body = await response.json();
    } catch (error) {
      if (error.name === "AbortError") {
        return;
      }
      ok = false;
      body = null;
    }
    if (query !== lastQuery) {
      return; // a later query is on its way
    }
    if (ok && body && Array.isArray(body.results)) {
      render(body.results, query);
    } else {
      clear();
      say(body && body.error ? body.error.message : dialog.dataset.textFailed, true);
    }
  }

  function scheduleSearch() {
    window.clearTimeout(timer);
    const query = input.value.trim();
    timer = window.setTimeout(() => search(query), DEBOUNCE_MS);
  }

  document.addEventListener("keydown", (event) => {
    const key = event.key.toLowerCase();
    if ((event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey && key === "k") {
      event.preventDefault();
      open();
    } else if (key === "/" && !event.ctrlKey && !event.metaKey && !event.altKey && !isTyping(event.target)) {
      event.preventDefault();
      open();
    }
  });

  document.querySelectorAll("[data-jump-open]").forEach((opener) => {
    opener.addEventListener("click", (event) => {
      event.preventDefault();
      open();
    });
  });

  input.addEventListener("input", scheduleSearch);

  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown") {
      event.preventDefault();
      if (options.length) {
        setActive(active < options.length - 1 ? active + 1 : 0);
      }
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      if (options.length) {
        setActive(active > 0 ? active - 1 : options.length - 1);
      }
    } else if (event.key === "Home" && options.length && event.ctrlKey) {
      event.preventDefault();
      setActive(0);
    } else if (event.key === "End" && options.length && event.ctrlKey) {
      event.preventDefault();
      setActive(options.length - 1);
    } else if (event.key === "Enter" && active >= 0) {
      event.preventDefault(); // open the chosen result; without one, the form opens the results page
      go(active);
    }
  });

  form.addEventListener("submit", (event) => {
    if (input.value.trim() === "") {
      event.preventDefault();
    }
  });

  dialog.addEventListener("shown.bs.modal", () => {
    setExpanded(options.length > 0);
    input.focus();
    input.select();
  });

  // Bootstrap adds "show" only once the backdrop has faded in, so the dialog's own state says
  // whether it is open: a close that finishes after the box was opened again must not touch it.
  dialog.addEventListener("show.bs.modal", () => {
    opened = true;
  });
  dialog.addEventListener("hide.bs.modal", () => {
    opened = false;
  });

  dialog.addEventListener("hidden.bs.modal", () => {
    if (opened) {
      return; // opened again while this close was finishing: keep the new opener
    }
    window.clearTimeout(timer);
    if (controller) {
      controller.abort();
    }
    setActive(-1);
    setExpanded(false);
    if (returnFocusTo && document.contains(returnFocusTo)) {
      returnFocusTo.focus();
    }
    returnFocusTo = null;
  });
})();

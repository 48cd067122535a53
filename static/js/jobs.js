// Background job progress (templates/_partials/job_progress.html): keeps each running job's
// panel current by polling its JSON status (GET /jobs/<id>), and reloads the page when the
// job ends (the page then shows the result). Loaded as a file: the Content-Security-Policy
// forbids inline script.
"use strict";

(() => {
function watchJob(panel) {
  const bar = panel.querySelector("[data-job-progress]");
  const percent = panel.querySelector("[data-job-percent]");
  const stage = panel.querySelector("[data-job-stage]");
  let failures = 0;

  function render(job) {
    const value = Math.round(job.percent);
    bar.value = job.percent;
    bar.textContent = `${value}%`;
    percent.textContent = `${value}%`;
    stage.textContent = job.stage_label;
  }

  async function poll() {
    let job;
    try {
      // A restore keeps the database busy: this request may wait until it is done.
      const response = await fetch(panel.dataset.jobUrl, {
        headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store",
      });
      if (!response.ok) {
        throw new Error(`status ${response.status}`);
      }
      job = await response.json();
      failures = 0;
    } catch (error) {
      failures += 1;
      window.setTimeout(poll, Math.min(10000, 1000 * 2 ** failures));
      return;
    }
    render(job);
    if (job.finished) {
      window.location.reload();
      return;
    }
    window.setTimeout(poll, 1000);
  }

  window.setTimeout(poll, 500);
}

document.querySelectorAll("[data-job-url][data-job-active='true']").forEach(watchJob);
})();

/* Export jobs in the admin (members/templates/admin/export_jobs/_table.html; config/exports.py).
 * Every row of table#exports that is queued or running polls its data-progress-url once a second
 * (JSON {status, status_display, written, total, percent, error, download_url}) and updates its
 * <progress> and text; once done, a download link fills its .download cell; a failed job shows
 * its error. A request that fails is tried again a few times, more slowly. Plain ES2019. */
(function () {
  "use strict";
  var table = document.getElementById("exports");
  if (!table) return;
  var label = table.dataset.downloadLabel || "Download";
  var MAX_FAILURES = 5;

  function show(row, data) {
    row.dataset.status = data.status;
    row.querySelector("progress").value = data.percent;
    row.querySelector(".progress-text").textContent =
      data.written + "/" + data.total + " · " + (data.status_display || data.status);
    var cell = row.querySelector(".download");
    if (data.download_url) {
      var link = document.createElement("a");
      link.href = data.download_url;
      link.textContent = label;
      cell.replaceChildren(link);
    } else if (data.status === "failed") {
      cell.textContent = data.error || "";
    }
  }

  function poll(row, failures) {
    fetch(row.dataset.progressUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        show(row, data);
        if (data.status === "queued" || data.status === "running") {
          setTimeout(function () { poll(row, 0); }, 1000);
        }
      })
      .catch(function () {
        if (failures + 1 < MAX_FAILURES) {
          setTimeout(function () { poll(row, failures + 1); }, 3000 * (failures + 1));
        }
      });
  }

  table.querySelectorAll("tr[data-export]").forEach(function (row) {
    if (row.dataset.status === "queued" || row.dataset.status === "running") poll(row, 0);
  });
})();

// Progressive enhancement of the parameters page: filter the rows shown as one types.
// Without this script the filter form works the same way through a GET request.
"use strict";
(function () {
  function filterRows(input) {
    var needle = input.value.trim().toLowerCase();
    var shown = 0;
    document.querySelectorAll("tr.parameter").forEach(function (row) {
      var match = !needle || row.textContent.toLowerCase().indexOf(needle) !== -1 ||
        row.getAttribute("data-name").toLowerCase().indexOf(needle) !== -1;
      row.classList.toggle("hidden", !match);
      if (match) { shown += 1; }
    });
    document.querySelectorAll("section.category").forEach(function (section) {
      section.classList.toggle("hidden", !section.querySelector("tr.parameter:not(.hidden)"));
    });
    var counter = document.getElementById("shown");
    if (counter) { counter.textContent = shown + " shown"; }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var input = document.getElementById("q");
    if (!input || !document.querySelector("tr.parameter")) { return; }
    input.addEventListener("input", function () { filterRows(input); });
  });
})();

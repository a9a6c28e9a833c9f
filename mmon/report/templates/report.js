// Filter and sort the feature panels, sort tables by a header click. The page reads the same without it.
(function () {
  "use strict";
  var box = document.getElementById("filter"), order = document.getElementById("order");
  var grid = document.getElementById("panels"), count = document.getElementById("shown");
  function apply() {
    if (!grid) return;
    var q = box ? box.value.toLowerCase() : "", only = document.getElementById("onlybad");
    var panels = Array.prototype.slice.call(grid.children), shown = 0;
    panels.forEach(function (p) {
      var ok = p.getAttribute("data-name").toLowerCase().indexOf(q) >= 0 &&
        (!only || !only.checked || p.getAttribute("data-bad") === "1");
      p.classList.toggle("hidden", !ok);
      if (ok) shown++;
    });
    if (count) count.textContent = shown + " of " + panels.length;
  }
  function sortPanels() {
    if (!grid || !order) return;
    var key = order.value, panels = Array.prototype.slice.call(grid.children);
    panels.sort(function (a, b) {
      if (key === "name") return a.getAttribute("data-name") < b.getAttribute("data-name") ? -1 : 1;
      if (key === "distance") return parseFloat(b.getAttribute("data-distance")) - parseFloat(a.getAttribute("data-distance"));
      return parseInt(a.getAttribute("data-rank"), 10) - parseInt(b.getAttribute("data-rank"), 10);
    });
    panels.forEach(function (p) { grid.appendChild(p); });
  }
  ["filter", "onlybad"].forEach(function (id) {
    var el = document.getElementById(id);
    if (el) el.addEventListener("input", apply);
  });
  if (order) order.addEventListener("change", sortPanels);
  // report.html#filter=age opens with the filter set (a link to one feature's panel).
  if (box && location.hash.indexOf("#filter=") === 0) box.value = decodeURIComponent(location.hash.slice(8));
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable th"), function (th, _, all) {
    th.addEventListener("click", function () {
      var table = th.closest("table"), body = table.tBodies[0], col = th.cellIndex;
      var dir = th.getAttribute("data-dir") === "asc" ? -1 : 1;
      th.setAttribute("data-dir", dir === 1 ? "asc" : "desc");
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute("data-v") || a.cells[col].textContent;
        var y = b.cells[col].getAttribute("data-v") || b.cells[col].textContent;
        var nx = parseFloat(x), ny = parseFloat(y);
        if (!isNaN(nx) && !isNaN(ny)) return (nx - ny) * dir;
        return x.localeCompare(y) * dir;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
  apply();
})();

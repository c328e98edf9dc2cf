/* Pagefind UI, served from this site (no request leaves it). */
(function () {
  "use strict";
  function start() {
    var el = document.getElementById("search");
    if (!el || typeof PagefindUI === "undefined") return;
    var ui = new PagefindUI({
      element: "#search",
      bundlePath: el.getAttribute("data-bundle"),
      baseUrl: el.getAttribute("data-base"),
      showSubResults: true,
      showImages: false,
      resetStyles: false,
      pageSize: 10,
      excerptLength: 24
    });
    var q = new URLSearchParams(location.search).get("q");
    if (q) ui.triggerSearch(q);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

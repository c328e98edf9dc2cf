/* Site search on Pagefind's JavaScript API (pagefind.js + its WebAssembly, served from this site:
   no request leaves it). A small UI of our own instead of Pagefind's 120 KB default one: results
   are plain links; excerpts are rebuilt from text nodes (only <mark> is kept), never inserted as HTML.
   Transcript passages list the moments that matched, each linking to its paragraph (#t-<seconds>). */
(function () {
  "use strict";
  var root = document.getElementById("search");
  if (!root) return;
  var bundle = root.getAttribute("data-bundle");
  var base = root.getAttribute("data-base");
  var form = root.querySelector("form");
  var input = root.querySelector("input[type=search]");
  var type = root.querySelector("select[name=type]");
  var status = root.querySelector(".search-status");
  var list = root.querySelector("ol.search-results");
  var more = root.querySelector("button.search-more");
  var PAGE = 10;
  var engine = null;
  var current = { results: [], shown: 0, seq: 0 };

  function pagefind() {
    if (!engine) {
      engine = import(bundle + "pagefind.js").then(function (pf) {
        // noWorker: search on the page's own thread, sparing the 41 KB worker script per visit
        return pf.options({ baseUrl: base, excerptLength: 24, noWorker: true }).then(function () { return pf; });
      });
    }
    return engine;
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  }

  function copyText(from, into) {
    from.childNodes.forEach(function (n) {
      if (n.nodeType === 3) into.appendChild(document.createTextNode(n.textContent));
      else if (n.nodeType === 1 && n.tagName === "MARK") into.appendChild(el("mark", null, n.textContent));
      else if (n.nodeType === 1) copyText(n, into);
    });
  }

  function excerpt(html) {
    var p = el("p", "search-excerpt");
    copyText(new DOMParser().parseFromString("<p>" + (html || "") + "</p>", "text/html").body, p);
    return p;
  }

  function link(url, anchor) {
    var path = url.split("#")[0].split("?")[0];
    return anchor ? path + "#" + anchor : path;
  }

  function render(data) {
    var li = el("li", "search-result");
    var kind = (data.filters && data.filters.type && data.filters.type[0]) || "";
    if (data.meta && data.meta.passage) {
      li.appendChild(el("p", "search-title", data.meta.title));
      var moments = el("ul", "search-moments");
      (data.sub_results || []).filter(function (s) { return s.anchor && s.anchor.id; }).slice(0, 3).forEach(function (s) {
        var m = el("li");
        var a = el("a", "result-link", s.title);
        a.href = link(data.url, s.anchor.id);
        m.appendChild(a);
        m.appendChild(excerpt(s.excerpt));
        moments.appendChild(m);
      });
      li.appendChild(moments);
    } else {
      var a = el("a", "result-link", (data.meta && data.meta.title) || data.url);
      a.href = link(data.url);
      var h = el("p", "search-title");
      h.appendChild(a);
      if (kind) h.appendChild(el("span", "search-kind", kind));
      li.appendChild(h);
      li.appendChild(excerpt(data.excerpt));
    }
    return li;
  }

  function showMore() {
    var seq = current.seq;
    var next = current.results.slice(current.shown, current.shown + PAGE);
    current.shown += next.length;
    more.hidden = current.shown >= current.results.length;
    return Promise.all(next.map(function (r) { return r.data(); })).then(function (items) {
      if (seq !== current.seq) return;
      items.forEach(function (d) { list.appendChild(render(d)); });
    });
  }

  function search() {
    var q = input.value.trim();
    var seq = ++current.seq;
    list.textContent = "";
    more.hidden = true;
    if (!q) { status.textContent = ""; return Promise.resolve(); }
    status.textContent = "Searching…";
    var opts = type.value ? { filters: { type: type.value } } : {};
    return pagefind().then(function (pf) { return pf.search(q, opts); }).then(function (res) {
      if (seq !== current.seq) return;
      current.results = res.results;
      current.shown = 0;
      var n = res.results.length;
      status.textContent = n === 0 ? "No results for “" + q + "”." : n + (n === 1 ? " result" : " results") + " for “" + q + "”.";
      return showMore();
    }).catch(function () {
      status.textContent = "Search is not available (the index could not be loaded).";
    });
  }

  var timer = null;
  input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(search, 250); });
  type.addEventListener("change", search);
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var params = new URLSearchParams();
    params.set("q", input.value);
    if (type.value) params.set("type", type.value);
    history.replaceState(null, "", "?" + params.toString());
    search();
  });
  more.addEventListener("click", showMore);

  var params = new URLSearchParams(location.search);
  input.value = params.get("q") || "";
  if (params.get("type")) type.value = params.get("type");
  pagefind().then(function (pf) { return pf.filters(); }).then(function (filters) {
    Object.keys((filters && filters.type) || {}).sort().forEach(function (k) {
      if (!type.querySelector("option[value='" + k + "']")) type.appendChild(el("option", null, k)).value = k;
    });
    if (params.get("type")) type.value = params.get("type");
  }).catch(function () {});
  if (input.value) search();
})();

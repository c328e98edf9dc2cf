/* Site search on recap's static index (search-index/, written by pipeline/site/search.py): a query
   downloads meta.json, the shard of each of its words (t/<first 4 letters>.json) and the documents
   of the results shown (d/<n>.json). Nothing leaves the site, nothing is inserted as HTML: results
   and excerpts are built from text nodes, with <mark> around the words that matched.
   The tokenizer below mirrors pipeline/site/tokens.py (Tokenizer, s_stem); tests/test_search.py runs
   both on the same words. Ranking: BM25 over the documents that hold every word of the query (the
   last word also matches as a prefix, so results come while typing). */
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
  var PAGE = 10, K1 = 1.2, B = 0.75, EXCERPT_WORDS = 24;
  var cache = {};
  var current = { results: [], shown: 0, seq: 0, terms: [] };

  function json(path) {
    if (!cache[path]) {
      cache[path] = fetch(bundle + path).then(function (r) {
        if (r.status === 404) return null;
        if (!r.ok) throw new Error(path + ": " + r.status);
        return r.json();
      });
    }
    return cache[path];
  }

  function meta() { return json("meta.json"); }

  // -- tokens (as pipeline/site/tokens.py) ---------------------------------------------------------
  function sStem(w) {
    if (w.length < 4 || !/^\p{L}+$/u.test(w)) return w;
    if (/ies$/.test(w) && !/[ea]ies$/.test(w)) return w.slice(0, -3) + "y";
    if (/es$/.test(w) && !/[aeo]es$/.test(w)) return w.slice(0, -1);
    if (/s$/.test(w) && !/(us|ss)$/.test(w)) return w.slice(0, -1);
    return w;
  }

  function terms(text, m) {
    var s = text.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase();
    var out = [], words = s.match(/[\p{L}\p{N}]+/gu) || [];
    var stop = m.stopSet || (m.stopSet = new Set(m.stop));
    words.forEach(function (w) {
      if (!stop.has(w)) out.push(m.stem === "en" ? sStem(w) : w);
    });
    return out;
  }

  function shardFile(key) {
    if (/^[a-z0-9]+$/.test(key)) return key;
    return "_" + Array.from(new TextEncoder().encode(key), function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  // -- ranking -------------------------------------------------------------------------------------
  // postings of one query word: doc -> [tf, length, type]; the last word also as a prefix
  function postings(term, prefix, m) {
    var key = Array.from(term).slice(0, m.key).join("");
    return json("t/" + shardFile(key) + ".json").then(function (shard) {
      var out = new Map(), matched = [];
      if (!shard) return { docs: out, matched: matched };
      Object.keys(shard).forEach(function (t) {
        if (t !== term && !(prefix && term.length >= m.key && t.indexOf(term) === 0)) return;
        matched.push(t);
        var flat = shard[t];
        for (var i = 0; i < flat.length; i += 4) {
          var prev = out.get(flat[i]);
          if (prev) prev[0] += flat[i + 1];
          else out.set(flat[i], [flat[i + 1], flat[i + 2], flat[i + 3]]);
        }
      });
      return { docs: out, matched: matched };
    });
  }

  function rank(q, kind, m) {
    var words = terms(q, m);
    if (!words.length) return Promise.resolve({ results: [], matched: [] });
    var wanted = kind ? m.types.indexOf(kind) : -1;
    return Promise.all(words.map(function (w, i) { return postings(w, i === words.length - 1, m); })).then(function (lists) {
      var scores = new Map(), matched = [];
      lists.forEach(function (l, i) {
        matched = matched.concat(l.matched);
        var idf = Math.log(1 + (m.docs - l.docs.size + 0.5) / (l.docs.size + 0.5));
        l.docs.forEach(function (p, doc) {
          if (wanted >= 0 && p[2] !== wanted) return;
          if (i > 0 && !scores.has(doc)) return;  // every word of the query
          var s = idf * p[0] * (K1 + 1) / (p[0] + K1 * (1 - B + B * p[1] / m.avg));
          scores.set(doc, (i > 0 ? scores.get(doc) : 0) + s);
        });
        if (i > 0) scores.forEach(function (_, doc) { if (!l.docs.has(doc)) scores.delete(doc); });
      });
      var results = Array.from(scores.entries()).sort(function (a, b) { return b[1] - a[1] || a[0] - b[0]; });
      return { results: results.map(function (r) { return r[0]; }), matched: matched };
    });
  }

  // -- rendering -----------------------------------------------------------------------------------
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  }

  function hits(word, m) {
    return terms(word, m).some(function (t) { return current.terms.has(t); });
  }

  function excerpt(text, m) {
    var p = el("p", "search-excerpt");
    var words = text.split(/\s+/).filter(Boolean);
    var at = words.findIndex(function (w) { return hits(w, m); });
    var from = Math.max(0, (at < 0 ? 0 : at) - Math.floor(EXCERPT_WORDS / 3));
    var part = words.slice(from, from + EXCERPT_WORDS);
    if (from > 0) p.appendChild(document.createTextNode("… "));
    part.forEach(function (w, i) {
      if (i) p.appendChild(document.createTextNode(" "));
      p.appendChild(hits(w, m) ? el("mark", null, w) : document.createTextNode(w));
    });
    if (from + EXCERPT_WORDS < words.length) p.appendChild(document.createTextNode(" …"));
    return p;
  }

  function render(doc, m) {
    var li = el("li", "search-result");
    var sections = doc.s || [];
    if (sections.length && sections[0][0]) {  // a transcript passage: its matching moments
      li.appendChild(el("p", "search-title", doc.t));
      var moments = el("ul", "search-moments");
      var matching = sections.filter(function (s) { return s[2].split(/\s+/).some(function (w) { return hits(w, m); }); });
      (matching.length ? matching : sections).slice(0, 3).forEach(function (s) {
        var item = el("li");
        var a = el("a", "result-link", s[1] || doc.t);
        a.href = base + doc.u + "#" + s[0];
        item.appendChild(a);
        item.appendChild(excerpt(s[2], m));
        moments.appendChild(item);
      });
      li.appendChild(moments);
    } else {
      var h = el("p", "search-title");
      var link = el("a", "result-link", doc.t || doc.u);
      link.href = base + doc.u;
      h.appendChild(link);
      h.appendChild(el("span", "search-kind", doc.k));
      li.appendChild(h);
      li.appendChild(excerpt(sections.map(function (s) { return s[2]; }).join(" "), m));
    }
    return li;
  }

  function showMore() {
    var seq = current.seq;
    var next = current.results.slice(current.shown, current.shown + PAGE);
    current.shown += next.length;
    more.hidden = current.shown >= current.results.length;
    return Promise.all([meta()].concat(next.map(function (n) { return json("d/" + n + ".json"); }))).then(function (docs) {
      if (seq !== current.seq) return;
      var m = docs.shift();
      docs.forEach(function (d) { if (d) list.appendChild(render(d, m)); });
    });
  }

  function search() {
    var q = input.value.trim();
    var seq = ++current.seq;
    list.textContent = "";
    more.hidden = true;
    if (!q) { status.textContent = ""; return Promise.resolve(); }
    status.textContent = "Searching…";
    return meta().then(function (m) {
      return rank(q, type.value, m).then(function (res) {
        if (seq !== current.seq) return;
        current.results = res.results;
        current.terms = new Set(res.matched);
        current.shown = 0;
        var n = res.results.length;
        status.textContent = n === 0 ? "No results for “" + q + "”." : n + (n === 1 ? " result" : " results") + " for “" + q + "”.";
        return showMore();
      });
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
  meta().then(function (m) {
    (m.present || []).forEach(function (k) {
      if (!type.querySelector("option[value='" + k + "']")) type.appendChild(el("option", null, k)).value = k;
    });
    if (params.get("type")) type.value = params.get("type");
    if (input.value) search();
  }).catch(function () {
    status.textContent = "Search is not available (the index could not be loaded).";
  });
  window.recapSearchTerms = function (text) { return meta().then(function (m) { return terms(text, m); }); };
})();

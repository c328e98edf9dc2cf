/* recap: seeking and small enhancements. The pages work without it (links jump to the
   transcript paragraph); with it, a timestamp also moves the audio player there. */
(function () {
  "use strict";
  var audio = document.querySelector("audio.player");
  var paras = null;

  function paragraphs() {
    if (!paras) {
      paras = Array.prototype.map.call(document.querySelectorAll("p.para"), function (p) {
        var a = p.querySelector("a.ts");
        return { el: p, t: a ? parseFloat(a.getAttribute("data-t")) : 0 };
      });
    }
    return paras;
  }

  function paragraphAt(t) {
    var list = paragraphs(), lo = 0, hi = list.length - 1, best = null;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (list[mid].t <= t + 0.001) { best = list[mid]; lo = mid + 1; } else { hi = mid - 1; }
    }
    return best || list[0] || null;
  }

  var current = null;
  function mark(p) {
    if (current === p) return;
    if (current) current.classList.remove("current");
    current = p;
    if (p) p.classList.add("current");
  }

  function seek(t, play) {
    if (!audio || isNaN(t)) return;
    audio.currentTime = t;
    if (audio.readyState < 1) {  // before metadata: apply again once the player knows the duration
      audio.addEventListener("loadedmetadata", function () { audio.currentTime = t; }, { once: true });
    }
    if (play) {
      var r = audio.play();
      if (r && r.catch) r.catch(function () {});
    }
  }

  document.addEventListener("click", function (e) {
    var a = e.target.closest ? e.target.closest("a[data-t]") : null;
    if (!a || !audio) return;
    var href = a.getAttribute("href") || "";
    if (href.charAt(0) !== "#") return; // another page: it seeks when it opens
    clicked = parseFloat(a.getAttribute("data-t"));
    seek(clicked, true);
    if (href === location.hash) fromHash();  // same anchor again: no hashchange event
  });

  var clicked = null;  // the exact time of the link just clicked (its anchor is the paragraph)
  function fromHash() {
    var m = /^#t[-=](\d+(?:\.\d+)?)/.exec(location.hash);
    if (!m) return;
    var t = parseFloat(m[1]), exactTime = clicked;
    clicked = null;
    var exact = document.getElementById(location.hash.slice(1));
    var p = exact && exact.classList.contains("para") ? { el: exact } : paragraphAt(t);
    if (p && p.el) {
      var ts = p.el.querySelector("a.ts");
      if (exact && ts) t = parseFloat(ts.getAttribute("data-t"));
      if (exactTime !== null) t = exactTime;
      mark(p.el);
      var el = p.el;
      // paragraphs off screen are not laid out yet (content-visibility): scroll, then again once
      // the paragraphs around the target have their real height
      var userMoved = false;
      var stopFollow = function () { userMoved = true; };
      ["wheel", "touchstart", "keydown", "mousedown"].forEach(function (ev) {
        window.addEventListener(ev, stopFollow, { once: true, passive: true });
      });
      var settle = function () { if (!userMoved) el.scrollIntoView({ block: "center", behavior: "instant" }); };
      settle();
      [50, 150, 300, 600, 1000].forEach(function (ms) { setTimeout(settle, ms); });
    }
    seek(t, false);
  }
  window.addEventListener("hashchange", fromHash);
  fromHash();

  if (audio) {
    var last = 0;
    audio.addEventListener("timeupdate", function () {
      if (audio.paused) return;  // follow the transcript only while playing
      var now = Date.now();
      if (now - last < 500) return;
      last = now;
      var p = paragraphAt(audio.currentTime);
      if (p) mark(p.el);
    });
  }

  /* Paper lists: sort by date or title (the server-rendered order is newest first). */
  var lists = document.querySelectorAll("ol.sortable");
  if (lists.length) {
    var bar = document.createElement("div");
    bar.className = "sort-bar";
    bar.setAttribute("role", "group");
    bar.setAttribute("aria-label", "Sort papers");
    [["date", "Newest first"], ["title", "Title A–Z"]].forEach(function (opt, i) {
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = opt[1];
      b.setAttribute("aria-pressed", i === 0 ? "true" : "false");
      b.addEventListener("click", function () {
        bar.querySelectorAll("button").forEach(function (x) { x.setAttribute("aria-pressed", "false"); });
        b.setAttribute("aria-pressed", "true");
        lists.forEach(function (ol) {
          var items = Array.prototype.slice.call(ol.children);
          items.sort(function (x, y) {
            var a = x.getAttribute("data-" + opt[0]), c = y.getAttribute("data-" + opt[0]);
            return opt[0] === "date" ? (a < c ? 1 : a > c ? -1 : 0) : a.localeCompare(c);
          });
          items.forEach(function (li) { ol.appendChild(li); });
        });
      });
      bar.appendChild(b);
    });
    var head = document.querySelector(".page-head .wrap");
    if (head) head.appendChild(bar);
  }
})();

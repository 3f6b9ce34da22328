/* gradcli graph --format html: a cursor over the steps of one sweep.
   Every step is an <li> of the sweep's <ol>; its data attributes say which node it writes
   (data-n) and with what text (data-t; data-p: the text before, when not the sweep's start),
   which nodes it reads (data-v) and edges it follows (data-e), and whose line it comes from
   (data-s).  Moving the cursor applies or undoes one step at a time, so a step costs the
   same on a graph of five nodes or five thousand. */
(function () {
  "use strict";
  var root = document.getElementById("gradcli");
  if (!root) return;
  function el(id) { return document.getElementById("gc-" + id); }
  function node(i) { return document.getElementById("gc-n" + i); }
  var select = el("mode"), now = el("now"), where = el("where"), count = el("count");
  var about = el("about"), playBtn = el("play"), scroller = el("scroll"), src = el("src");
  var svg = el("svg"), nodes = svg.querySelectorAll(".gc-node");
  // a picture up to half again as wide as its box is shrunk to fit; a bigger one scrolls
  function fit() { svg.classList.toggle("gc-fit", svg.width.baseVal.value <= 1.5 * scroller.clientWidth); }
  fit();
  window.addEventListener("resize", fit);
  var list = null, items = [], pos = -1, timer = null, seen = {}, marked = [], init = "";

  function initText(g) {
    if (!init || g.getAttribute("data-live") !== "1") return "";
    return init.replace("%", g.getAttribute("data-name"));
  }
  function setSweep(g, text) {
    var t = g.querySelector(".gc-sw");
    if (t) t.textContent = text;
  }
  function ids(li, name) {
    var v = li.getAttribute(name);
    return v ? v.split(",") : [];
  }
  function mark(e, cls) {
    if (!e) return;
    e.classList.add(cls);
    marked.push([e, cls]);
  }

  function load(mode) {
    stop();
    if (list) list.hidden = true;
    list = el("steps-" + mode);
    list.hidden = false;
    items = list.children;
    init = list.getAttribute("data-init") || "";
    about.textContent = list.getAttribute("data-about") || "";
    seen = {};
    for (var i = 0; i < nodes.length; i++) {
      setSweep(nodes[i], initText(nodes[i]));
      nodes[i].classList.remove("gc-seen");
    }
    root.classList.toggle("gc-sweeping", mode === "values");
    pos = -1;
    show();
  }

  function apply(li, dir) {
    var n = li.getAttribute("data-n"), g = node(n);
    if (dir > 0) {
      if (li.hasAttribute("data-t")) setSweep(g, li.getAttribute("data-t"));
      seen[n] = (seen[n] || 0) + 1;
      g.classList.add("gc-seen");
    } else {
      if (li.hasAttribute("data-t"))
        setSweep(g, li.hasAttribute("data-p") ? li.getAttribute("data-p") : initText(g));
      seen[n] -= 1;
      if (!seen[n]) g.classList.remove("gc-seen");
    }
  }

  function into(box, top, height) {
    if (top < box.scrollTop || top + height > box.scrollTop + box.clientHeight)
      box.scrollTop = Math.max(0, top - (box.clientHeight - height) / 2);
  }

  function show() {
    for (var k = 0; k < marked.length; k++) {
      marked[k][0].classList.remove(marked[k][1]);
      if (marked[k][1] === "gc-current") marked[k][0].removeAttribute("aria-current");
    }
    marked = [];
    var n = items.length;
    count.textContent = "step " + (pos + 1) + " of " + n;
    el("back").disabled = el("reset").disabled = pos < 0;
    el("step").disabled = pos >= n - 1;
    if (pos < 0) {
      now.innerHTML = '<span class="gc-main">Press Step (or →) to start: ' + n + " steps.</span>";
      where.textContent = "";
      return;
    }
    var li = items[pos];
    mark(li, "gc-current");
    li.setAttribute("aria-current", "step");
    now.innerHTML = li.innerHTML;
    var g = node(li.getAttribute("data-n"));
    mark(g, "gc-current");
    ids(li, "data-v").forEach(function (v) { if (v !== li.getAttribute("data-n")) mark(node(v), "gc-via"); });
    ids(li, "data-e").forEach(function (e) { mark(el("e" + e), "gc-hi"); });
    var s = node(li.getAttribute("data-s")), span = s.getAttribute("data-span").split(",").map(Number);
    for (var l = span[0]; l <= span[2]; l++) mark(el("L" + l), "gc-current");
    var line = el("L" + span[0]), text = line ? line.textContent : "";
    var code = document.createElement("code");
    if (span[0] === span[2] && span[3] > span[1]) {
      var m = document.createElement("mark");
      m.textContent = text.slice(span[1] - 1, span[3] - 1);
      code.append(text.slice(0, span[1] - 1), m, text.slice(span[3] - 1));
    } else {
      code.textContent = text;
    }
    where.textContent = "line " + span[0] + (span[2] > span[0] ? "–" + span[2] : "") + ": ";
    where.appendChild(code);
    into(list, li.offsetTop, li.offsetHeight);
    if (line) into(src, line.offsetTop, line.offsetHeight);
    var k = svg.getBoundingClientRect().width / svg.width.baseVal.value || 1;
    var b = g.getAttribute("data-box").split(",").map(function (v) { return Number(v) * k; });
    into(scroller, b[1], b[3]);
    if (b[0] < scroller.scrollLeft || b[0] + b[2] > scroller.scrollLeft + scroller.clientWidth)
      scroller.scrollLeft = Math.max(0, b[0] - (scroller.clientWidth - b[2]) / 2);
  }

  function go(j) {
    j = Math.max(-1, Math.min(items.length - 1, j));
    while (pos < j) apply(items[++pos], 1);
    while (pos > j) apply(items[pos--], -1);
    show();
  }

  function stop() {
    if (timer !== null) clearInterval(timer);
    timer = null;
    playBtn.setAttribute("aria-pressed", "false");
    playBtn.textContent = "▶ Play";
  }
  function play() {
    if (timer !== null) { stop(); return; }
    if (pos >= items.length - 1) go(-1);
    playBtn.setAttribute("aria-pressed", "true");
    playBtn.textContent = "Pause";
    timer = setInterval(function () {
      if (pos >= items.length - 1) stop(); else go(pos + 1);
    }, 700);
  }

  el("step").addEventListener("click", function () { go(pos + 1); });
  el("back").addEventListener("click", function () { go(pos - 1); });
  el("reset").addEventListener("click", function () { stop(); go(-1); });
  playBtn.addEventListener("click", play);
  select.addEventListener("change", function () { load(select.value); });
  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    var t = e.target, tag = t && t.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (t && t.isContentEditable)) return;
    if (t !== document.body && t !== document.documentElement && !root.contains(t)) return;
    switch (e.key) {
      case "ArrowRight": go(pos + 1); break;
      case "ArrowLeft": go(pos - 1); break;
      case " ": case "Spacebar": play(); break;
      case "Home": stop(); go(-1); break;
      case "End": stop(); go(items.length - 1); break;
      default: return;
    }
    e.preventDefault();
  });
  // space on a focused button would also click it (on key up): the key already played
  document.addEventListener("keyup", function (e) {
    if ((e.key === " " || e.key === "Spacebar") && e.target && e.target.tagName === "BUTTON") e.preventDefault();
  });
  load(select.value || root.getAttribute("data-start"));
})();

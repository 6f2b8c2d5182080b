/**
 * The inline scripts and styles of the interactive attention pages (viz/attention-view.ts,
 * viz/graph-view.ts). Plain browser JavaScript, no libraries; they read the page's data from
 * `<script type="application/json" id="qkv-data">`, draw on canvases, set
 * `document.body.dataset.ready = "1"` and `window.qkvReadyMs` when the first drawing is done, and
 * expose `window.qkvView` (the current selection and `select(...)`) for tests.
 */

export const VIEW_CSS = `
:root { color-scheme: light; }
body { margin: 20px; font: 13px system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222; background: #fafafa; }
h1 { font-size: 19px; margin: 0 0 4px; }
h2 { font-size: 15px; margin: 0 0 8px; }
p.sub { margin: 0 0 14px; color: #555; }
section { background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; padding: 12px 14px; margin-bottom: 16px; }
.controls { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; margin-bottom: 10px; }
.heads { display: inline-flex; gap: 4px; }
.head { width: 22px; height: 18px; border: 2px solid transparent; border-radius: 3px; cursor: pointer; font-size: 10px; color: #fff; text-align: center; line-height: 18px; padding: 0; }
.head.off { opacity: 0.2; }
.scroll { max-height: 720px; overflow: auto; border: 1px solid #eee; }
.grid { display: grid; gap: 6px; align-items: start; }
.thumb { cursor: pointer; text-align: center; font-size: 10px; color: #555; }
.thumb canvas { display: block; border: 1px solid #ddd; }
.thumb.sel canvas { border-color: #e33; }
.mats { display: flex; flex-wrap: wrap; gap: 18px; }
table.stats { border-collapse: collapse; font-size: 12px; }
table.stats td, table.stats th { border-bottom: 1px solid #eee; padding: 2px 8px; text-align: right; }
table.stats th:first-child, table.stats td:first-child { text-align: left; }
#tip { position: fixed; pointer-events: none; background: #222; color: #fff; padding: 2px 6px; border-radius: 3px; font-size: 11px; display: none; }
`.trim();

/** Head view, model view and matrices of viz/attention-view.ts. */
export const ATTENTION_SCRIPT = String.raw`
(function () {
  "use strict";
  var t0 = performance.now();
  var data = JSON.parse(document.getElementById("qkv-data").textContent);
  var COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939"];
  var ROW = 16, LEFT = 170, GAP = 120, THRESH = 0.01;
  function decode(b64) {
    var s = atob(b64), n = s.length >> 1, out = new Float32Array(n);
    for (var i = 0; i < n; i++) out[i] = (s.charCodeAt(2 * i) | (s.charCodeAt(2 * i + 1) << 8)) / 65535;
    return out;
  }
  function headW(layer, h) { layer._w = layer._w || []; return layer._w[h] || (layer._w[h] = decode(layer.heads[h])); }
  function viridis(t) {
    var st = [[68,1,84],[72,36,117],[65,68,135],[53,95,141],[42,120,142],[33,145,140],[34,168,132],[68,191,112],[122,209,81],[189,223,38],[253,231,37]];
    t = Math.max(0, Math.min(1, t)) * 10; var i = Math.min(9, Math.floor(t)), f = t - i, a = st[i], b = st[i + 1];
    return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
  }
  var state = { group: 0, layer: 0, heads: [0], hover: null };
  var gsel = document.getElementById("group"), lsel = document.getElementById("layer"), hbox = document.getElementById("heads");
  var hv = document.getElementById("hv"), tip = document.getElementById("tip");
  data.groups.forEach(function (g, i) { var o = document.createElement("option"); o.value = i; o.textContent = g.name; gsel.appendChild(o); });
  function group() { return data.groups[state.group]; }
  function fillLayers() {
    lsel.innerHTML = "";
    group().layers.forEach(function (l, i) { var o = document.createElement("option"); o.value = i; o.textContent = l.name; lsel.appendChild(o); });
    lsel.value = state.layer;
  }
  function fillHeads() {
    hbox.innerHTML = "";
    group().layers[state.layer].heads.forEach(function (_, h) {
      var b = document.createElement("button");
      b.className = "head" + (state.heads.indexOf(h) < 0 ? " off" : "");
      b.style.background = COLORS[h % COLORS.length];
      b.textContent = h; b.title = "head " + h + " (click: toggle, double-click: only this one)";
      b.dataset.head = h;
      b.onclick = function () { var k = state.heads.indexOf(h); if (k < 0) state.heads.push(h); else state.heads.splice(k, 1); render(); };
      b.ondblclick = function () { state.heads = [h]; render(); };
      hbox.appendChild(b);
    });
  }
  function drawHeadView() {
    var g = group(), L = g.rows.length, S = g.cols.length, n = Math.max(L, S);
    var W = LEFT * 2 + GAP, H = n * ROW + 10;
    if (hv.width !== W || hv.height !== H) { hv.width = W; hv.height = H; }
    var ctx = hv.getContext("2d");
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
    ctx.font = "12px sans-serif"; ctx.textBaseline = "middle";
    var hov = state.hover, layer = g.layers[state.layer];
    var x0 = LEFT, x1 = LEFT + GAP;
    state.heads.forEach(function (h) {
      var w = headW(layer, h), col = COLORS[h % COLORS.length];
      var buckets = [];
      for (var i = 0; i < L; i++) {
        if (hov && hov.side === "row" && hov.i !== i) continue;
        for (var j = 0; j < S; j++) {
          if (hov && hov.side === "col" && hov.i !== j) continue;
          var v = w[i * S + j];
          if (v < THRESH) continue;
          var b = Math.min(19, Math.floor(v * 20));
          (buckets[b] = buckets[b] || []).push(i, j);
        }
      }
      ctx.strokeStyle = col; ctx.lineWidth = 2;
      buckets.forEach(function (list, b) {
        ctx.globalAlpha = Math.min(1, (b + 1) / 20 / Math.max(1, state.heads.length * 0.6));
        ctx.beginPath();
        for (var k = 0; k < list.length; k += 2) { ctx.moveTo(x0, 5 + (list[k] + 0.5) * ROW); ctx.lineTo(x1, 5 + (list[k + 1] + 0.5) * ROW); }
        ctx.stroke();
      });
    });
    ctx.globalAlpha = 1;
    function label(text, x, y, align, on) {
      if (on) { ctx.fillStyle = "#ffe08a"; var tw = Math.min(LEFT - 8, ctx.measureText(text).width + 6); ctx.fillRect(align === "right" ? x - tw + 2 : x - 3, y - ROW / 2 + 1, tw, ROW - 2); }
      ctx.fillStyle = "#222"; ctx.textAlign = align; ctx.fillText(text, x, y, LEFT - 12);
    }
    g.rows.forEach(function (t, i) { label(t, x0 - 6, 5 + (i + 0.5) * ROW, "right", hov && hov.side === "row" && hov.i === i); });
    g.cols.forEach(function (t, j) { label(t, x1 + 6, 5 + (j + 0.5) * ROW, "left", hov && hov.side === "col" && hov.i === j); });
  }
  function heat(canvas, w, L, S, size) {
    var bw = Math.max(1, Math.round(size * Math.min(1, S / Math.max(L, S)))), bh = Math.max(1, Math.round(size * Math.min(1, L / Math.max(L, S))));
    canvas.width = bw; canvas.height = bh;
    var ctx = canvas.getContext("2d"), img = ctx.createImageData(bw, bh), max = 0;
    for (var k = 0; k < w.length; k++) if (w[k] > max) max = w[k];
    for (var y = 0; y < bh; y++) {
      var i0 = Math.floor(y * L / bh), i1 = Math.max(i0 + 1, Math.floor((y + 1) * L / bh));
      for (var x = 0; x < bw; x++) {
        var j0 = Math.floor(x * S / bw), j1 = Math.max(j0 + 1, Math.floor((x + 1) * S / bw)), m = 0;
        for (var i = i0; i < i1; i++) for (var j = j0; j < j1; j++) if (w[i * S + j] > m) m = w[i * S + j];
        var c = viridis(max > 0 ? m / max : 0), p = 4 * (y * bw + x);
        img.data[p] = c[0]; img.data[p + 1] = c[1]; img.data[p + 2] = c[2]; img.data[p + 3] = 255;
      }
    }
    ctx.putImageData(img, 0, 0);
  }
  function drawModelView() {
    var grid = document.getElementById("grid");
    if (!grid.dataset.built || grid.dataset.built !== String(state.group)) {
      grid.innerHTML = "";
      var g = group(), H = 0;
      g.layers.forEach(function (l) { H = Math.max(H, l.heads.length); });
      grid.style.gridTemplateColumns = "repeat(" + H + ", 92px)";
      g.layers.forEach(function (l, li) {
        l.heads.forEach(function (hd, h) {
          var d = document.createElement("div"); d.className = "thumb"; d.dataset.layer = li; d.dataset.head = h;
          var c = document.createElement("canvas"); d.appendChild(c);
          var cap = document.createElement("div"); cap.textContent = "L" + li + " H" + h; d.appendChild(cap);
          d.title = l.name + ", head " + h + " (click: show in the head view)";
          d.onclick = function () { select(state.group, li, [h]); document.getElementById("head-view").scrollIntoView(); };
          heat(c, headW(l, h), g.rows.length, g.cols.length, 88);
          grid.appendChild(d);
        });
        for (var k = l.heads.length; k < H; k++) grid.appendChild(document.createElement("div"));
      });
      grid.dataset.built = String(state.group);
    }
    Array.prototype.forEach.call(grid.children, function (d) {
      if (!d.dataset || d.dataset.layer === undefined) return;
      var on = Number(d.dataset.layer) === state.layer && state.heads.indexOf(Number(d.dataset.head)) >= 0;
      d.className = "thumb" + (on ? " sel" : "");
    });
  }
  function drawMatrices() {
    (data.matrices || []).forEach(function (m, k) {
      var c = document.getElementById("mat-" + k);
      if (c) heat(c, decode(m.values), m.rows.length, m.cols.length, Math.min(360, Math.max(120, 6 * Math.max(m.rows.length, m.cols.length))));
    });
  }
  function render() {
    if (state.layer >= group().layers.length) state.layer = 0;
    fillLayers(); fillHeads(); drawHeadView(); drawModelView();
  }
  function select(g, l, heads) {
    state.group = g; state.layer = l; state.heads = heads.slice(); state.hover = null; gsel.value = g; render();
  }
  gsel.onchange = function () { select(Number(gsel.value), 0, [0]); };
  lsel.onchange = function () { state.layer = Number(lsel.value); render(); };
  hv.onmousemove = function (e) {
    var r = hv.getBoundingClientRect(), x = e.clientX - r.left, y = e.clientY - r.top, i = Math.floor((y - 5) / ROW);
    var g = group(), hov = null;
    if (x < LEFT && i >= 0 && i < g.rows.length) hov = { side: "row", i: i };
    else if (x > LEFT + GAP && i >= 0 && i < g.cols.length) hov = { side: "col", i: i };
    var same = (hov === null && state.hover === null) || (hov && state.hover && hov.side === state.hover.side && hov.i === state.hover.i);
    if (!same) { state.hover = hov; drawHeadView(); }
    if (hov) {
      var layer = g.layers[state.layer], parts = [];
      state.heads.forEach(function (h) {
        var w = headW(layer, h), S = g.cols.length, best = -1, bv = -1;
        if (hov.side === "row") { for (var j = 0; j < S; j++) if (w[hov.i * S + j] > bv) { bv = w[hov.i * S + j]; best = j; } parts.push("head " + h + ": most on " + JSON.stringify(g.cols[best]) + " (" + bv.toFixed(3) + ")"); }
        else { var s = 0; for (var i = 0; i < g.rows.length; i++) s += w[i * S + hov.i]; parts.push("head " + h + ": received " + s.toFixed(3)); }
      });
      tip.textContent = (hov.side === "row" ? g.rows[hov.i] : g.cols[hov.i]) + " | " + parts.join("; ");
      tip.style.display = "block"; tip.style.left = (e.clientX + 12) + "px"; tip.style.top = (e.clientY + 12) + "px";
    } else tip.style.display = "none";
  };
  hv.onmouseleave = function () { tip.style.display = "none"; if (state.hover) { state.hover = null; drawHeadView(); } };
  render(); drawMatrices();
  window.qkvView = { state: state, select: select, render: render };
  window.qkvReadyMs = performance.now() - t0;
  document.body.dataset.ready = "1";
})();
`;

/** Graph view of viz/graph-view.ts. */
export const GRAPH_SCRIPT = String.raw`
(function () {
  "use strict";
  var t0 = performance.now();
  var data = JSON.parse(document.getElementById("qkv-data").textContent);
  var COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];
  var cv = document.getElementById("gv"), lsel = document.getElementById("layer"), hsel = document.getElementById("head"), tip = document.getElementById("tip");
  var N = data.nodes.length, SIZE = 560, R = SIZE / 2 - 60, cx = SIZE / 2, cy = SIZE / 2;
  var pos = data.nodes.map(function (_, i) { var a = -Math.PI / 2 + 2 * Math.PI * i / N; return [cx + R * Math.cos(a), cy + R * Math.sin(a)]; });
  var state = { layer: 0, head: 0, hover: -1 };
  data.layers.forEach(function (l, i) { var o = document.createElement("option"); o.value = i; o.textContent = l.name; lsel.appendChild(o); });
  function fillHeads() {
    hsel.innerHTML = "";
    var H = data.layers[state.layer].heads;
    for (var h = 0; h < H; h++) { var o = document.createElement("option"); o.value = h; o.textContent = "head " + h; hsel.appendChild(o); }
    var o2 = document.createElement("option"); o2.value = -1; o2.textContent = "mean of heads"; hsel.appendChild(o2);
    hsel.value = state.head;
  }
  function alpha(l, e) {
    if (state.head >= 0) return l.alpha[e * l.heads + state.head];
    var s = 0; for (var h = 0; h < l.heads; h++) s += l.alpha[e * l.heads + h]; return s / l.heads;
  }
  function draw() {
    cv.width = SIZE; cv.height = SIZE;
    var ctx = cv.getContext("2d"), l = data.layers[state.layer], E = l.src.length;
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, SIZE, SIZE);
    var col = state.head >= 0 ? COLORS[state.head % COLORS.length] : "#333";
    for (var e = 0; e < E; e++) {
      var s = l.src[e], t = l.dst[e], a = alpha(l, e);
      if (state.hover >= 0 && t !== state.hover) continue;
      ctx.globalAlpha = Math.max(0.06, Math.min(1, a)); ctx.strokeStyle = col; ctx.fillStyle = col; ctx.lineWidth = 1 + 5 * a;
      if (s === t) { ctx.beginPath(); var p = pos[s], dx = p[0] - cx, dy = p[1] - cy, d = Math.hypot(dx, dy) || 1; ctx.arc(p[0] + 18 * dx / d, p[1] + 18 * dy / d, 9, 0, 2 * Math.PI); ctx.stroke(); continue; }
      var a0 = pos[s], a1 = pos[t], ux = a1[0] - a0[0], uy = a1[1] - a0[1], len = Math.hypot(ux, uy) || 1;
      ux /= len; uy /= len;
      var ex = a1[0] - 13 * ux, ey = a1[1] - 13 * uy;
      ctx.beginPath(); ctx.moveTo(a0[0] + 13 * ux, a0[1] + 13 * uy); ctx.lineTo(ex, ey); ctx.stroke();
      ctx.beginPath(); ctx.moveTo(ex, ey); ctx.lineTo(ex - 8 * ux - 4 * uy, ey - 8 * uy + 4 * ux); ctx.lineTo(ex - 8 * ux + 4 * uy, ey - 8 * uy - 4 * ux); ctx.closePath(); ctx.fill();
    }
    ctx.globalAlpha = 1; ctx.font = "12px sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "middle";
    pos.forEach(function (p, i) {
      ctx.beginPath(); ctx.arc(p[0], p[1], 11, 0, 2 * Math.PI); ctx.fillStyle = i === state.hover ? "#ffe08a" : "#eef2f7"; ctx.fill(); ctx.strokeStyle = "#567"; ctx.lineWidth = 1; ctx.stroke();
      ctx.fillStyle = "#222"; var dx = p[0] - cx, dy = p[1] - cy, d = Math.hypot(dx, dy) || 1;
      ctx.fillText(data.nodes[i], p[0] + 30 * dx / d, p[1] + 30 * dy / d, 90);
    });
  }
  function render() { fillHeads(); draw(); }
  function select(layer, head) { state.layer = layer; state.head = head; state.hover = -1; lsel.value = layer; render(); }
  lsel.onchange = function () { select(Number(lsel.value), 0); };
  hsel.onchange = function () { state.head = Number(hsel.value); draw(); };
  cv.onmousemove = function (e) {
    var r = cv.getBoundingClientRect(), x = e.clientX - r.left, y = e.clientY - r.top, hit = -1;
    pos.forEach(function (p, i) { if (Math.hypot(p[0] - x, p[1] - y) < 13) hit = i; });
    if (hit !== state.hover) { state.hover = hit; draw(); }
    if (hit >= 0) {
      var l = data.layers[state.layer], parts = [];
      for (var e2 = 0; e2 < l.src.length; e2++) if (l.dst[e2] === hit) parts.push(data.nodes[l.src[e2]] + " " + alpha(l, e2).toFixed(3));
      tip.textContent = data.nodes[hit] + " attends to: " + parts.join(", ");
      tip.style.display = "block"; tip.style.left = (e.clientX + 12) + "px"; tip.style.top = (e.clientY + 12) + "px";
    } else tip.style.display = "none";
  };
  render();
  window.qkvView = { state: state, select: select };
  window.qkvReadyMs = performance.now() - t0;
  document.body.dataset.ready = "1";
})();
`;

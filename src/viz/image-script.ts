/**
 * The inline script and styles of the image view (viz/image-view.ts). Plain browser JavaScript,
 * no libraries; it reads the page's data from `<script type="application/json" id="qkv-data">`,
 * draws on canvases, sets `document.body.dataset.ready = "1"` and `window.qkvReadyMs` when the
 * first drawing is done, and exposes `window.qkvView` (the current selection, `select(key)` and
 * `value(key, cell)`) for tests. Map keys: "o:k" overlay k, "a:l:h" / "g:l:h" attention /
 * attention × gradient of layer l, head h ("m" for the mean of the layer's heads).
 */

export const IMAGE_CSS = `
.pair { display: flex; flex-wrap: wrap; gap: 18px; }
.pair figure { margin: 0; }
.pair canvas, .thumb canvas { image-rendering: pixelated; }
.note { max-width: 380px; color: #555; font-size: 12px; margin-top: 4px; }
figcaption { font-size: 12px; color: #333; margin-bottom: 4px; }
`.trim();

export const IMAGE_SCRIPT = String.raw`
(function () {
  "use strict";
  var t0 = performance.now();
  var data = JSON.parse(document.getElementById("qkv-data").textContent);
  var im = data.image, GH = data.grid[0], GW = data.grid[1], CELLS = GH * GW;
  var BIG = 336, THUMB = 84;
  function decode(b64) {
    var s = atob(b64), n = s.length >> 1, out = new Float32Array(n);
    for (var i = 0; i < n; i++) out[i] = (s.charCodeAt(2 * i) | (s.charCodeAt(2 * i + 1) << 8)) / 65535;
    return out;
  }
  function viridis(t) {
    var st = [[68,1,84],[72,36,117],[65,68,135],[53,95,141],[42,120,142],[33,145,140],[34,168,132],[68,191,112],[122,209,81],[189,223,38],[253,231,37]];
    t = Math.max(0, Math.min(1, t)) * 10; var i = Math.min(9, Math.floor(t)), f = t - i, a = st[i], b = st[i + 1];
    return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
  }
  // the image at its own size on an offscreen canvas
  var src = document.createElement("canvas"); src.width = im.w; src.height = im.h;
  (function () {
    var s = atob(im.px), ctx = src.getContext("2d"), d = ctx.createImageData(im.w, im.h);
    for (var p = 0; p < im.w * im.h; p++) {
      for (var c = 0; c < 3; c++) d.data[4 * p + c] = s.charCodeAt(im.c === 3 ? 3 * p + c : p);
      d.data[4 * p + 3] = 255;
    }
    ctx.putImageData(d, 0, 0);
  })();
  // maps: { values (Float32Array [CELLS], true values), max, name, note }
  var cache = {};
  function full(m) { var v = decode(m.v), out = new Float32Array(CELLS); for (var i = 0; i < CELLS; i++) out[i] = v[i] * m.max; return out; }
  function meanOf(layer) {
    var out = new Float32Array(CELLS);
    layer.heads.forEach(function (h) { var v = full(h); for (var i = 0; i < CELLS; i++) out[i] += v[i] / layer.heads.length; });
    return out;
  }
  function map(key) {
    if (cache[key]) return cache[key];
    var p = key.split(":"), m;
    if (p[0] === "o") { var o = data.overlays[Number(p[1])]; m = { values: full(o), name: o.name, note: o.note }; }
    else {
      var ls = p[0] === "g" ? data.gradLayers : data.layers, l = ls[Number(p[1])], what = p[0] === "g" ? "attention × gradient" : "attention";
      m = p[2] === "m" ? { values: meanOf(l), name: l.name + ", mean of heads (" + what + ")" } : { values: full(l.heads[Number(p[2])]), name: l.name + ", head " + p[2] + " (" + what + ")" };
      m.note = "";
    }
    var max = 0; for (var i = 0; i < CELLS; i++) if (m.values[i] > max) max = m.values[i];
    m.max = max;
    return (cache[key] = m);
  }
  function draw(canvas, key, size, alpha) {
    var scale = size / Math.max(im.w, im.h), W = Math.max(1, Math.round(im.w * scale)), H = Math.max(1, Math.round(im.h * scale));
    if (canvas.width !== W || canvas.height !== H) { canvas.width = W; canvas.height = H; }
    var ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.globalAlpha = 1; ctx.drawImage(src, 0, 0, W, H);
    if (key === null) return;
    var m = map(key);
    ctx.globalAlpha = alpha;
    for (var r = 0; r < GH; r++) {
      for (var c = 0; c < GW; c++) {
        var col = viridis(m.max > 0 ? m.values[r * GW + c] / m.max : 0);
        var x0 = Math.round(c * W / GW), x1 = Math.round((c + 1) * W / GW), y0 = Math.round(r * H / GH), y1 = Math.round((r + 1) * H / GH);
        ctx.fillStyle = "rgb(" + Math.round(col[0]) + "," + Math.round(col[1]) + "," + Math.round(col[2]) + ")";
        ctx.fillRect(x0, y0, x1 - x0, y1 - y0);
      }
    }
    ctx.globalAlpha = 1;
  }
  var keys = [];
  var msel = document.getElementById("map"), kind = document.getElementById("kind"), alphaIn = document.getElementById("alpha");
  var ov = document.getElementById("ov"), tip = document.getElementById("tip");
  function option(parent, key, text) { var o = document.createElement("option"); o.value = key; o.textContent = text; parent.appendChild(o); keys.push(key); }
  data.overlays.forEach(function (o, k) { option(msel, "o:" + k, o.name); });
  [["a", data.layers, "attention"], ["g", data.gradLayers, "attention × gradient"]].forEach(function (spec) {
    if (!spec[1]) return;
    spec[1].forEach(function (l, li) {
      var og = document.createElement("optgroup"); og.label = l.name + " (" + spec[2] + ")"; msel.appendChild(og);
      option(og, spec[0] + ":" + li + ":m", l.name + ", mean of heads");
      l.heads.forEach(function (_, h) { option(og, spec[0] + ":" + li + ":" + h, l.name + ", head " + h); });
    });
  });
  var state = { map: keys[0], kind: "attn", alpha: Number(alphaIn.value) / 100 };
  function drawMain() {
    draw(document.getElementById("img"), null, BIG, 0);
    draw(ov, state.map, BIG, state.alpha);
    var m = map(state.map);
    document.getElementById("map-name").textContent = m.name + " (largest " + m.max.toPrecision(3) + ")";
    document.getElementById("map-note").textContent = m.note || "";
  }
  function buildGrid() {
    var grid = document.getElementById("grid"), ls = state.kind === "grad" ? data.gradLayers : data.layers, p = state.kind === "grad" ? "g" : "a", H = 0;
    grid.innerHTML = "";
    ls.forEach(function (l) { H = Math.max(H, l.heads.length); });
    grid.style.gridTemplateColumns = "repeat(" + (H + 1) + ", " + (THUMB + 6) + "px)";
    ls.forEach(function (l, li) {
      var cells = l.heads.map(function (_, h) { return [String(h), "L" + li + " H" + h]; });
      for (var k = l.heads.length; k < H; k++) cells.push(null);
      cells.push(["m", "L" + li + " mean"]);
      cells.forEach(function (cell) {
        if (!cell) { grid.appendChild(document.createElement("div")); return; }
        var key = p + ":" + li + ":" + cell[0];
        var d = document.createElement("div"); d.className = "thumb"; d.dataset.key = key; d.title = map(key).name + " (click: show it above)";
        var cv = document.createElement("canvas"); d.appendChild(cv);
        var cap = document.createElement("div"); cap.textContent = cell[1]; d.appendChild(cap);
        d.onclick = function () { select(key); document.getElementById("image-view").scrollIntoView(); };
        draw(cv, key, THUMB, 0.75);
        grid.appendChild(d);
      });
    });
    markGrid();
  }
  function markGrid() {
    Array.prototype.forEach.call(document.getElementById("grid").children, function (d) {
      if (d.dataset && d.dataset.key) d.className = "thumb" + (d.dataset.key === state.map ? " sel" : "");
    });
  }
  function select(key) {
    if (keys.indexOf(key) < 0) throw new Error("no map " + key);
    state.map = key; msel.value = key;
    var k = key.charAt(0) === "g" ? "grad" : key.charAt(0) === "a" ? "attn" : state.kind;
    if (k !== state.kind) { state.kind = k; if (kind) kind.value = k; buildGrid(); }
    drawMain(); markGrid();
  }
  function value(key, cell) { return map(key).values[cell]; }
  msel.onchange = function () { select(msel.value); };
  alphaIn.oninput = function () { state.alpha = Number(alphaIn.value) / 100; drawMain(); };
  if (kind) kind.onchange = function () { state.kind = kind.value; buildGrid(); };
  ov.onmousemove = function (e) {
    var r = ov.getBoundingClientRect(), c = Math.floor((e.clientX - r.left) / r.width * GW), row = Math.floor((e.clientY - r.top) / r.height * GH);
    if (c < 0 || c >= GW || row < 0 || row >= GH) { tip.style.display = "none"; return; }
    var m = map(state.map), v = m.values[row * GW + c];
    tip.textContent = "patch (row " + row + ", column " + c + "): " + v.toPrecision(3) + (m.max > 0 ? " (" + Math.round(100 * v / m.max) + "% of the largest)" : "");
    tip.style.display = "block"; tip.style.left = (e.clientX + 12) + "px"; tip.style.top = (e.clientY + 12) + "px";
  };
  ov.onmouseleave = function () { tip.style.display = "none"; };
  if (data.layers.length) buildGrid(); else document.getElementById("layers-view").style.display = "none";
  drawMain();
  window.qkvView = { state: state, select: select, value: value, keys: keys };
  window.qkvReadyMs = performance.now() - t0;
  document.body.dataset.ready = "1";
})();
`;

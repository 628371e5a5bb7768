// chart.js: a small SVG line chart over a time window (no library).

const NS = 'http://www.w3.org/2000/svg';
const W = 600, H = 180, L = 64, R = 8, T = 10, B = 22;

function svg(tag, attrs) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  return el;
}

// niceMax rounds up to 1, 2 or 5 times a power of ten.
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

// lineChart({series: [name...], format, windowSec}) → {el, update(samples, now), setWindow(sec)}
// where samples are [{t (ms), values: [number|null per series]}]. A gap
// longer than maxGapMs between samples breaks the line.
export function lineChart({ label, series, format = String, windowSec = 300, maxGapMs = 15000 }) {
  let win = windowSec;
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label });
  const grid = svg('g');
  const lines = series.map((_, i) => svg('path', { class: 's' + i, 'data-series': i }));
  root.append(grid, ...lines);

  function update(samples, now) {
    const from = now - win * 1000;
    const shown = samples.filter((s) => s.t >= from);
    let max = 0;
    for (const s of shown) for (const v of s.values) if (v !== null && v > max) max = v;
    max = niceMax(max);
    const x = (t) => L + ((t - from) / (win * 1000)) * (W - L - R);
    const y = (v) => T + (1 - v / max) * (H - T - B);

    grid.replaceChildren();
    for (let i = 0; i <= 4; i++) {
      const v = (max * i) / 4;
      grid.append(svg('line', { class: 'grid', x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      const t = svg('text', { class: 'axis', x: L - 6, y: y(v) + 4, 'text-anchor': 'end' });
      t.textContent = format(v);
      grid.append(t);
    }
    const ago = (s) => (s >= 120 ? `−${s / 60} min` : `−${s} s`);
    for (const [frac, text] of [[0, ago(win)], [0.5, ago(win / 2)], [1, 'now']]) {
      const t = svg('text', { class: 'axis', x: L + frac * (W - L - R), y: H - 6, 'text-anchor': frac === 0 ? 'start' : frac === 1 ? 'end' : 'middle' });
      t.textContent = text;
      grid.append(t);
    }
    lines.forEach((path, i) => {
      let d = '', prevT = null;
      for (const s of shown) {
        const v = s.values[i];
        if (v === null || v === undefined) { prevT = null; continue; }
        const cmd = prevT === null || s.t - prevT > maxGapMs ? 'M' : 'L';
        d += `${cmd}${x(s.t).toFixed(1)},${y(v).toFixed(1)} `;
        prevT = s.t;
      }
      path.setAttribute('d', d.trim() || 'M0,0');
      path.dataset.points = String((d.match(/[ML]/g) || []).length);
    });
  }
  // setWindow changes the time window (seconds); call update after it.
  const setWindow = (sec) => { win = sec; };
  return { el: root, update, setWindow };
}

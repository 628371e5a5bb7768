// prom.js: the little of the Prometheus text format the overview needs.

// parse returns Map(name → [{labels, value}]) for the samples of text.
export function parse(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[2]) {
      for (const l of m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
      }
    }
    if (!out.has(m[1])) out.set(m[1], []);
    out.get(m[1]).push({ labels, value: number(m[3]) });
  }
  return out;
}

function number(s) {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return Number(s);
}

// value is the first sample of name (0 when absent).
export function value(metrics, name) {
  const s = metrics.get(name);
  return s && s.length ? s[0].value : 0;
}

// histogram reads name's buckets, sum and count:
// {buckets: [[le, cumulativeCount]...] (le ascending), sum, count}.
export function histogram(metrics, name) {
  const buckets = (metrics.get(name + '_bucket') || [])
    .map((s) => [number(s.labels.le), s.value])
    .sort((x, y) => x[0] - y[0]);
  return { buckets, sum: value(metrics, name + '_sum'), count: value(metrics, name + '_count') };
}

// delta is histogram b minus a (the observations between two scrapes); a
// counter that went down (a restart) counts from zero.
export function delta(a, b) {
  if (!a || b.count < a.count) return b;
  const prev = new Map(a.buckets);
  return {
    buckets: b.buckets.map(([le, c]) => [le, c - (prev.get(le) || 0)]),
    sum: b.sum - a.sum,
    count: b.count - a.count,
  };
}

// quantile estimates the q-quantile of a (delta) histogram as Prometheus'
// histogram_quantile does: linear inside the bucket that holds the rank.
export function quantile(q, hist) {
  const total = hist.count;
  if (!total) return null;
  const rank = q * total;
  let lower = 0, below = 0;
  for (const [le, c] of hist.buckets) {
    if (c >= rank) {
      if (le === Infinity) return lower; // above the last finite bound
      return lower + (le - lower) * ((rank - below) / Math.max(c - below, 1e-9));
    }
    lower = le;
    below = c;
  }
  return lower;
}

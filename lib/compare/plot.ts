/**
 * Line charts as standalone SVG: a small, dependency-free writer (axes, ticks, legend,
 * optional log-x). Each series is a list of (x, y) points; non-finite points break the
 * line. Text is XML-escaped, so the output is well-formed XML.
 */
export interface Series {
  name: string;
  points: { x: number; y: number }[];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  logX?: boolean;
  /** Log-scale y (points with y ≤ 0 are skipped). */
  logY?: boolean;
  width?: number;
  height?: number;
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22'];

export function escapeXml(s: string): string {
  return s.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string,
  );
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-2 ? v.toExponential(0) : Number(v.toPrecision(3)).toString();
}

function ticks(lo: number, hi: number, count: number): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

export function lineChart(series: Series[], o: ChartOptions): string {
  const W = o.width ?? 640;
  const H = o.height ?? 360;
  const m = { l: 64, r: 170, t: 32, b: 48 };
  const tx = (x: number) => (o.logX ? Math.log10(x) : x);
  const ty = (y: number) => (o.logY ? Math.log10(y) : y);
  const ok = (p: { x: number; y: number }) => Number.isFinite(ty(p.y)) && Number.isFinite(tx(p.x));
  const pts = series.flatMap((s) => s.points).filter(ok);
  let x0 = Math.min(...pts.map((p) => tx(p.x)));
  let x1 = Math.max(...pts.map((p) => tx(p.x)));
  let y0 = Math.min(...pts.map((p) => ty(p.y)));
  let y1 = Math.max(...pts.map((p) => ty(p.y)));
  if (!pts.length) [x0, x1, y0, y1] = [0, 1, 0, 1];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const px = (x: number) => m.l + ((tx(x) - x0) / (x1 - x0)) * (W - m.l - m.r);
  // py takes a value already on the (possibly log) y axis
  const py = (v: number) => H - m.b - ((v - y0) / (y1 - y0)) * (H - m.t - m.b);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">${escapeXml(o.title)}</text>`,
    `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="black"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="black"/>`,
  ];
  const xt = o.logX
    ? ticks(Math.floor(x0), Math.ceil(x1), Math.ceil(x1) - Math.floor(x0) || 1).filter(
        (v) => v >= x0 - 1e-9 && v <= x1 + 1e-9,
      )
    : ticks(x0, x1, 6);
  for (const v of xt) {
    const x = o.logX ? 10 ** v : v;
    const X = px(x).toFixed(1);
    out.push(`<line x1="${X}" y1="${H - m.b}" x2="${X}" y2="${H - m.b + 4}" stroke="black"/>`);
    out.push(`<text x="${X}" y="${H - m.b + 16}" text-anchor="middle">${escapeXml(fmt(x))}</text>`);
  }
  const yt = o.logY
    ? ticks(Math.ceil(y0), Math.floor(y1), Math.max(1, Math.floor(y1) - Math.ceil(y0)))
    : ticks(y0, y1, 5);
  for (const v of yt) {
    const Y = py(v).toFixed(1);
    out.push(`<line x1="${m.l - 4}" y1="${Y}" x2="${m.l}" y2="${Y}" stroke="black"/>`);
    out.push(`<line x1="${m.l}" y1="${Y}" x2="${W - m.r}" y2="${Y}" stroke="#eee"/>`);
    out.push(
      `<text x="${m.l - 6}" y="${Y}" text-anchor="end" dominant-baseline="middle">${escapeXml(fmt(o.logY ? 10 ** v : v))}</text>`,
    );
  }
  out.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 10}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`);
  out.push(
    `<text x="14" y="${(m.t + H - m.b) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(m.t + H - m.b) / 2})">${escapeXml(o.yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    let d = '';
    let pen = false;
    for (const p of s.points) {
      if (!ok(p)) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${px(p.x).toFixed(1)},${py(ty(p.y)).toFixed(1)}`;
      pen = true;
    }
    if (d) out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
    const ly = m.t + 12 + i * 16;
    out.push(
      `<line x1="${W - m.r + 10}" y1="${ly}" x2="${W - m.r + 28}" y2="${ly}" stroke="${color}" stroke-width="2"/>`,
    );
    out.push(`<text x="${W - m.r + 32}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

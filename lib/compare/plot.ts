/**
 * Line charts for the comparison report, drawn by a real plotting library: each chart is a
 * vega-lite spec (declarative, so it can be written beside the SVG and re-rendered or
 * tweaked in any vega-lite tool), compiled to vega and rendered headless to SVG with
 * `View.toSVG()` and renderer 'none', so no canvas or browser is needed.
 *
 * vega and vega-lite (~18 MB) are optional peer dependencies, loaded only when a plot is
 * rendered: a consumer that only trains never installs them. Without them `renderSvg`
 * throws PlotLibrariesMissing, and the report says how to get the plots.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { integer } from '../is.js';
import { packageRoot } from '../paths.js';

export interface Series {
  name: string;
  points: { x: number; y: number }[];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Log-scale x (points with x ≤ 0 are dropped). */
  logX?: boolean;
  /** Log-scale y (points with y ≤ 0 are dropped). */
  logY?: boolean;
  /** Size of the plot area in pixels (the title, axes and legend come on top). */
  width?: number;
  height?: number;
}

/** A fixed schema URL for editors; nothing is fetched from it. */
const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/**
 * Log axes: vega's default labels mix 1e-7 with 0.000001; write small and large values in
 * e-notation. Labels vega leaves blank (to avoid crowding) stay blank.
 */
const LOG_AXIS = {
  labelExpr: "datum.label && format(datum.value, datum.value < 1e-3 || datum.value >= 1e4 ? '.0e' : '~g')",
};

/** Longest series still drawn with a marker at each point. */
const MAX_MARKED_POINTS = 25;

/** Finite, and positive on a log axis (log 0 has no place on the plot). */
function drawable(v: number, log: boolean | undefined): boolean {
  return Number.isFinite(v) && (!log || v > 0);
}

/**
 * The vega-lite spec of a line chart, one colour per series, with a marker at each point
 * when the series are short (≤ 25 points: a sweep; a 100-point curve reads better, and
 * its SVG is a tenth the size, without). The data is inline, to 7 significant digits; series keep their given order in the legend and the palette (tableau10).
 * Non-finite points, and non-positive ones on a log axis, are dropped; a series left
 * with no points is left out of the legend, and a chart with none says "no data".
 */
export function lineChartSpec(series: Series[], o: ChartOptions): TopLevelSpec {
  const width = integer('width', o.width ?? 480, { min: 50 });
  const height = integer('height', o.height ?? 300, { min: 50 });
  const values = series.flatMap((s) =>
    s.points
      .filter((p) => drawable(p.x, o.logX) && drawable(p.y, o.logY))
      .map((p) => ({ series: s.name, x: Number(p.x.toPrecision(7)), y: Number(p.y.toPrecision(7)) })),
  );
  const markers = Math.max(0, ...series.map((s) => s.points.length)) <= MAX_MARKED_POINTS;
  const domain = [...new Set(values.map((v) => v.series))];
  return {
    $schema: SCHEMA,
    title: values.length ? o.title : { text: o.title, subtitle: 'no data' },
    width,
    height,
    data: { values },
    mark: markers ? { type: 'line', point: { size: 24 }, strokeWidth: 1.5 } : { type: 'line', strokeWidth: 1.5 },
    encoding: {
      x: {
        field: 'x',
        type: 'quantitative',
        title: o.xLabel,
        scale: o.logX ? { type: 'log' } : { zero: false },
        axis: o.logX ? LOG_AXIS : {},
      },
      y: {
        field: 'y',
        type: 'quantitative',
        title: o.yLabel,
        scale: o.logY ? { type: 'log' } : { zero: false },
        axis: o.logY ? LOG_AXIS : {},
      },
      color: {
        field: 'series',
        type: 'nominal',
        title: null,
        sort: null,
        scale: { domain, scheme: 'tableau10' },
      },
    },
    config: {
      background: 'white',
      font: 'sans-serif',
      padding: 8,
      title: { fontSize: 14, subtitleFontSize: 12, anchor: 'start' },
      axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal' },
      legend: { labelFontSize: 11, labelLimit: 280, orient: 'right' },
    },
  };
}

/** The optional peer dependencies the plots need, as package.json pins their ranges. */
export const PLOT_LIBRARIES = ['vega', 'vega-lite'] as const;

/** The command that installs the plotting libraries, with package.json's peer ranges. */
export function plotInstallCommand(): string {
  let peers: Record<string, string> = {};
  try {
    peers = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).peerDependencies ?? {};
  } catch {}
  return `npm install ${PLOT_LIBRARIES.map((p) => (peers[p] ? `${p}@${peers[p]}` : p)).join(' ')}`;
}

/** Thrown by renderSvg when vega or vega-lite is not installed. */
export class PlotLibrariesMissing extends Error {
  readonly code = 'ERR_CIMM_PLOT_LIBRARIES';
  constructor(cause: unknown) {
    super(`the plots need the optional peer dependencies vega and vega-lite: ${plotInstallCommand()}`, { cause });
    this.name = 'PlotLibrariesMissing';
  }
}

type Vega = typeof import('vega');
type VegaLite = typeof import('vega-lite');
let libraries: Promise<{ vega: Vega; vegaLite: VegaLite; offline: ReturnType<Vega['loader']> }> | undefined;

/** Import vega and vega-lite once; a missing one becomes PlotLibrariesMissing. */
function plotLibraries() {
  libraries ??= (async () => {
    try {
      const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
      // a loader that refuses every URL or file: a chart's data is inline, so nothing is fetched
      const offline = vega.loader();
      offline.sanitize = async (uri: string) => {
        throw new Error(`cimm plots load nothing at render time (asked for ${uri})`);
      };
      return { vega, vegaLite, offline };
    } catch (error) {
      libraries = undefined;
      const code = (error as { code?: string })?.code;
      if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') throw new PlotLibrariesMissing(error);
      throw error;
    }
  })();
  return libraries;
}

/** True when vega and vega-lite load (the plots can be rendered). */
export async function canRenderPlots(): Promise<boolean> {
  try {
    await plotLibraries();
    return true;
  } catch (error) {
    if (error instanceof PlotLibrariesMissing) return false;
    throw error;
  }
}

/**
 * Render a vega-lite spec to an SVG string, headless. Same spec, same bytes. Throws
 * PlotLibrariesMissing when vega or vega-lite is not installed.
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const { vega, vegaLite, offline } = await plotLibraries();
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none', loader: offline });
  try {
    return `${await view.toSVG()}\n`;
  } finally {
    view.finalize();
  }
}

/** A line chart as a standalone SVG string. */
export async function lineChart(series: Series[], o: ChartOptions): Promise<string> {
  return await renderSvg(lineChartSpec(series, o));
}

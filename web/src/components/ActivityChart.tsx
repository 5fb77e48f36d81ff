import { useEffect, useId, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export type DayCount = { day: number; uses: number; refused: number };

const DAY_S = 86_400;
const dayLabel = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
export const formatDay = (day: number) => dayLabel.format(new Date(day * DAY_S * 1000));

function cssVar(el: Element, name: string, fallback: string): string {
  return getComputedStyle(el).getPropertyValue(name).trim() || fallback;
}

/** uPlot's options for a chart in `el`: the theme's colours (its CSS variables), day ticks, and the two series as side-by-side bars. */
function chartOptions(el: HTMLElement): uPlot.Options {
  const accent = cssVar(el, "--accent", "#4338ca");
  const bad = cssVar(el, "--bad", "#b42318");
  const muted = cssVar(el, "--muted", "#5d6673");
  const grid = cssVar(el, "--border", "#dfe3e8");
  const axis: uPlot.Axis = { stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
  const bars = (align: -1 | 1) => uPlot.paths.bars!({ size: [0.4, 24], align });
  return {
    width: Math.max(280, el.clientWidth),
    height: 200,
    legend: { show: false },
    cursor: { show: false },
    // Half a day of room on each side, so the first and last days' bars are not cut off.
    scales: { x: { time: true, range: (_u, min, max) => [min - DAY_S / 2, max + DAY_S / 2] }, y: { range: (_u, _min, max) => [0, Math.max(4, Math.ceil(max * 1.15))] } },
    axes: [{ ...axis, values: (_u, splits) => splits.map((s) => formatDay(Math.round(s / DAY_S))) }, { ...axis, size: 40 }],
    series: [
      {},
      { label: "Minutes with use", stroke: accent, fill: accent, width: 0, paths: bars(-1), points: { show: false } },
      { label: "Refused", stroke: bad, fill: bad, width: 0, paths: bars(1), points: { show: false } },
    ],
  };
}

/** Draws `days` with uPlot into the returned ref's element, resizing with it; redraws only when the numbers change. */
function useBarChart(days: DayCount[]) {
  const box = useRef<HTMLDivElement>(null);
  const key = JSON.stringify(days);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const data: uPlot.AlignedData = [days.map((d) => d.day * DAY_S), days.map((d) => d.uses), days.map((d) => d.refused)];
    const plot = new uPlot(chartOptions(el), data, el);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(280, el.clientWidth), height: 200 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
    // Redraw only when the numbers change (`key` is their JSON).
  }, [key]);
  return box;
}

/**
 * Requests per day (minutes with recorded use) and refused attempts, as
 * side-by-side bars drawn by uPlot on a canvas. The canvas is an image with
 * a summary for screen readers; the numbers are also in a table.
 */
export default function ActivityChart({ days, title }: { days: DayCount[]; title: string }) {
  const box = useBarChart(days);
  const captionId = useId();
  const uses = days.reduce((s, d) => s + d.uses, 0);
  const refused = days.reduce((s, d) => s + d.refused, 0);
  const first = days[0];
  const last = days.at(-1);
  const span = first && last ? `${formatDay(first.day)} – ${formatDay(last.day)}` : "";
  return (
    <figure className="chart" aria-labelledby={captionId}>
      <figcaption id={captionId}>
        <strong>{title}</strong> <span className="muted small">{span} (UTC days)</span>
      </figcaption>
      <ul className="chart-legend">
        <li>
          <span className="swatch swatch-uses" aria-hidden="true" /> Minutes with use: <strong>{uses}</strong>
        </li>
        <li>
          <span className="swatch swatch-refused" aria-hidden="true" /> Refused: <strong>{refused}</strong>
        </li>
      </ul>
      <div
        ref={box}
        className="chart-canvas"
        role="img"
        aria-label={`Bar chart, ${span}: ${uses} minutes with recorded use and ${refused} refused requests in total.`}
        data-testid="activity-chart"
      />
      <ChartNumbers days={days} title={title} />
    </figure>
  );
}

/** The chart's numbers as a table, behind "Show the numbers". */
function ChartNumbers({ days, title }: { days: DayCount[]; title: string }) {
  return (
    <details className="chart-data">
      <summary>Show the numbers</summary>
      <div className="table-wrap">
        <table className="table">
          <caption className="sr-only">{title} by day</caption>
          <thead>
            <tr>
              <th scope="col">Day (UTC)</th>
              <th scope="col">Minutes with use</th>
              <th scope="col">Refused</th>
            </tr>
          </thead>
          <tbody>
            {days.map((d) => (
              <tr key={d.day}>
                <td>{formatDay(d.day)}</td>
                <td>{d.uses}</td>
                <td>{d.refused}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}

import type { TrendPoint as TrendDay } from '../../protocol/schemas';
import { h, svg } from './dom';
import { fmt } from './format';

export interface BarRow {
  key: string;
  label: string;
  value: number;
  /** A CSS class picking the bar colour, e.g. `tone-completed`. */
  tone: string;
}

/** Horizontal bars with their numbers; widths are set through CSSOM, which the CSP allows. */
export function barList(rows: BarRow[], total: number, kind: string): HTMLElement {
  const max = Math.max(1, ...rows.map((r) => r.value));
  const list = h('ul', { class: 'bars', attrs: { 'data-chart': kind } });
  for (const row of rows) {
    const fill = h('span', { class: `bar-fill ${row.tone}` });
    fill.style.width = `${(row.value / max) * 100}%`;
    const share = total > 0 ? (row.value / total) * 100 : 0;
    const shareText = share > 0 && share < 1 ? '<1%' : `${Math.round(share)}%`;
    list.append(
      h(
        'li',
        { class: 'bar-row', attrs: { 'data-key': row.key } },
        h('span', { class: 'bar-label', attrs: { title: row.label } }, row.label),
        h('span', { class: 'bar-track' }, fill),
        h('span', { class: 'bar-value', attrs: { 'data-value': String(row.value) } }, fmt(row.value)),
        h('span', { class: 'bar-share' }, shareText),
      ),
    );
  }
  return list;
}

/** A round step (1, 2 or 5 × 10^k) giving at most five gridlines above zero. */
function axisStep(max: number): number {
  let magnitude = 1;
  for (;;) {
    for (const step of [1, 2, 5]) {
      if (Math.ceil(max / (step * magnitude)) <= 5) return step * magnitude;
    }
    magnitude *= 10;
  }
}

const shortDate = (iso: string) =>
  new Date(`${iso.slice(0, 10)}T00:00:00Z`).toLocaleDateString('en-GB', {
    day: 'numeric',
    month: 'short',
    timeZone: 'UTC',
  });

/**
 * Created vs completed per day as two lines over a light grid. Drawn at the container's
 * pixel width (redrawn on resize) so the labels keep their size on a phone.
 */
export function trendChart(days: TrendDay[], width: number): SVGSVGElement {
  const height = 210;
  const pad = { top: 12, right: 12, bottom: 26, left: 36 };
  const innerW = Math.max(10, width - pad.left - pad.right);
  const innerH = height - pad.top - pad.bottom;
  const max = Math.max(1, ...days.map((d) => Math.max(d.created, d.completed)));
  const step = axisStep(max);
  const ticks = Math.max(1, Math.ceil(max / step));
  const top = step * ticks;
  const n = Math.max(1, days.length - 1);
  const x = (i: number) => pad.left + (innerW * i) / n;
  const y = (v: number) => pad.top + innerH - (innerH * v) / top;

  const chart = svg('svg', {
    class: 'trend-svg',
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': 'Tasks created and completed per day, last 30 days',
  });

  for (let i = 0; i <= ticks; i++) {
    const value = step * i;
    chart.append(
      svg('line', { class: 'grid', x1: pad.left, x2: pad.left + innerW, y1: y(value), y2: y(value) }),
      svg('text', { class: 'axis', x: pad.left - 6, y: y(value) + 4, 'text-anchor': 'end' }, fmt(value)),
    );
  }
  const labelEvery = innerW < 360 ? 10 : 5;
  days.forEach((d, i) => {
    if ((days.length - 1 - i) % labelEvery === 0) {
      chart.append(
        svg(
          'text',
          {
            class: 'axis',
            x: x(i),
            y: height - 8,
            'text-anchor': i === days.length - 1 ? 'end' : i === 0 ? 'start' : 'middle',
          },
          shortDate(d.date),
        ),
      );
    }
  });

  const line = (key: 'created' | 'completed') =>
    days.map((d, i) => `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(d[key]).toFixed(1)}`).join('');
  const area = (key: 'created' | 'completed') =>
    `${line(key)}L${x(days.length - 1).toFixed(1)},${y(0)}L${x(0).toFixed(1)},${y(0)}Z`;
  if (days.length > 0) {
    chart.append(
      svg('path', { class: 'area area-created', d: area('created') }),
      svg('path', { class: 'line line-created', d: line('created') }),
      svg('path', { class: 'line line-completed', d: line('completed') }),
    );
  }
  // One invisible column per day carries a native tooltip with that day's numbers.
  const slot = innerW / Math.max(1, days.length);
  days.forEach((d, i) => {
    chart.append(
      svg(
        'rect',
        {
          class: 'hover-slot',
          x: Math.max(pad.left, x(i) - slot / 2),
          y: pad.top,
          width: slot,
          height: innerH,
        },
        svg('title', {}, `${shortDate(d.date)}: ${d.created} created, ${d.completed} completed`),
      ),
    );
  });
  return chart;
}

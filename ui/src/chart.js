// A horizontal bar chart drawn as SVG (no library): one bar a row, the
// value at its end. Colours come from CSS classes (the CSP forbids inline
// styles), sizes from attributes.
import { html } from "./html.js";

const ROW = 26;
const LABEL = 180;
const WIDTH = 640;

export function BarChart({ rows, label, series }) {
  const max = Math.max(1, ...rows.map((r) => series.reduce((sum, s) => sum + (r[s.key] || 0), 0)));
  const scale = (WIDTH - LABEL - 90) / max;
  const height = rows.length * ROW + 8;
  return html`
    <svg class="chart" role="img" aria-label=${label} viewBox=${`0 0 ${WIDTH} ${height}`} width="100%"
      preserveAspectRatio="xMinYMin meet">
      <title>${label}</title>
      ${rows.map((r, i) => {
        let x = LABEL;
        const y = i * ROW + 4;
        const total = series.reduce((sum, s) => sum + (r[s.key] || 0), 0);
        return html`<g class="bar-row" data-label=${r.label}>
          <text class="chart-label" x=${LABEL - 8} y=${y + 15} text-anchor="end">${truncate(r.label)}</text>
          ${series.map((s) => {
            const w = Math.max((r[s.key] || 0) * scale, r[s.key] ? 1 : 0);
            const rect = html`<rect class=${`bar ${s.className}`} x=${x} y=${y} width=${w} height=${ROW - 8}>
              <title>${`${r.label} · ${s.name}: ${r[s.key] || 0}`}</title></rect>`;
            x += w;
            return rect;
          })}
          <text class="chart-value" x=${x + 6} y=${y + 15}>${total.toLocaleString()}</text>
        </g>`;
      })}
    </svg>
  `;
}

function truncate(text) {
  const value = String(text ?? "");
  return value.length > 24 ? `${value.slice(0, 23)}…` : value;
}

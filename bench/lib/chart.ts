/** One bar group of the chart: a label and one value per series. */
export interface ChartGroup {
  readonly label: string;
  readonly values: Readonly<Record<string, number | undefined>>;
}

const COLORS = ["#2f6fdf", "#e0822b", "#3aa35b", "#b04ac7", "#8a8a8a", "#c93c3c"];

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function fmt(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (v >= 1e4) return `${(v / 1e3).toFixed(0)}k`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return v.toFixed(v < 10 ? 2 : 0);
}

/**
 * Renders grouped horizontal bars as a self-contained SVG: one panel per
 * metric, one bar per series, each bar labelled with its value.
 */
export function renderBarChart(
  title: string,
  panels: readonly { title: string; unit: string; groups: readonly ChartGroup[]; log?: boolean }[],
  series: readonly string[],
): string {
  const width = 900;
  const barH = 16;
  const labelW = 220;
  const plotW = width - labelW - 90;
  let y = 50;
  const parts: string[] = [];
  for (const panel of panels) {
    parts.push(
      `<text x="10" y="${y}" font-size="15" font-weight="bold">${escape(panel.title)} (${escape(panel.unit)})</text>`,
    );
    y += 12;
    const max = Math.max(1, ...panel.groups.flatMap((g) => series.map((s) => g.values[s] ?? 0)));
    for (const group of panel.groups) {
      const present = series.filter((s) => group.values[s] !== undefined);
      const groupH = present.length * (barH + 2) + 10;
      parts.push(
        `<text x="${labelW - 8}" y="${y + groupH / 2 + 4}" font-size="12" text-anchor="end">${escape(group.label)}</text>`,
      );
      present.forEach((s, i) => {
        const v = group.values[s]!;
        const ratio = panel.log ? Math.log10(1 + v) / Math.log10(1 + max) : v / max;
        const w = Math.max(1, ratio * plotW);
        const by = y + 4 + i * (barH + 2);
        const color = COLORS[series.indexOf(s) % COLORS.length];
        parts.push(`<rect x="${labelW}" y="${by}" width="${w.toFixed(1)}" height="${barH}" fill="${color}"/>`);
        parts.push(`<text x="${labelW + w + 4}" y="${by + 12}" font-size="11">${fmt(v)}</text>`);
      });
      y += groupH;
    }
    y += 24;
  }
  const legend = series
    .map(
      (s, i) =>
        `<rect x="${10 + i * 150}" y="${y}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>` +
        `<text x="${28 + i * 150}" y="${y + 11}" font-size="12">${escape(s)}</text>`,
    )
    .join("");
  const height = y + 30;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="24" font-size="18" font-weight="bold">${escape(title)}</text>`,
    ...parts,
    legend,
    `</svg>`,
    "",
  ].join("\n");
}

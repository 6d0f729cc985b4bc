// What the benchmarks' reports are made of (bench:ingest, bench:loop): numbers as they are
// read in BENCHMARKS.md, and Markdown tables to paste there.

/** `value` with `digits` decimals and thousands separators (en-US); '–' for NaN or ±Infinity. */
export const fmt = (value: number, digits = 0) =>
  Number.isFinite(value)
    ? value.toLocaleString('en-US', {
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
      })
    : '–';

/** A Markdown table, each column as wide as its widest cell so that it reads as text too. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
  return [
    line(headers),
    `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}

/** The same table unpadded, as it goes into BENCHMARKS.md. */
export const compactTable = (headers: string[], rows: string[][]): string =>
  [headers, headers.map(() => '---'), ...rows]
    .map((cells) => `| ${cells.join(' | ')} |`)
    .join('\n');

const ANSI = /\u001b\[[0-9;]*m/g;

/** Printed width of `s`, ignoring colour codes. */
export function visibleWidth(s: string): number {
  return s.replace(ANSI, '').length;
}

export interface TableOptions {
  /** Columns (by index) aligned to the right, e.g. counts. */
  alignRight?: number[];
  /** Applied to the header cells (e.g. bold). */
  header?: (s: string) => string;
  /** Indent of every line. Default two spaces. */
  indent?: string;
}

/** Columns separated by two spaces, padded to the widest cell, header underlined with dashes. */
export function renderTable(header: string[], rows: string[][], opts: TableOptions = {}): string {
  const right = new Set(opts.alignRight ?? []);
  const indent = opts.indent ?? '  ';
  const widths = header.map((h, i) => Math.max(visibleWidth(h), ...rows.map((r) => visibleWidth(r[i] ?? ''))));
  const pad = (cell: string, i: number) => {
    const fill = ' '.repeat(widths[i]! - visibleWidth(cell));
    return right.has(i) ? fill + cell : cell + fill;
  };
  const line = (cells: string[]) =>
    indent +
    cells
      .map((c, i) => pad(c, i))
      .join('  ')
      .trimEnd();
  const head = opts.header ?? ((s: string) => s);
  return [
    indent +
      header
        .map((h, i) => head(pad(h, i)))
        .join('  ')
        .trimEnd(),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
  ].join('\n');
}

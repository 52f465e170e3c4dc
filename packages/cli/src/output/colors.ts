import pc from 'picocolors';

export type Colors = ReturnType<typeof pc.createColors>;

/**
 * Colours on when stdout is a terminal, unless `NO_COLOR` is set (non-empty)
 * or `--no-color` was given; `FORCE_COLOR` or `--color` turns them on.
 */
export function chooseColors(opts: {
  isTTY: boolean | undefined;
  env: Record<string, string | undefined>;
  flag: boolean | undefined;
}): Colors {
  let enabled = Boolean(opts.isTTY) && !opts.env.NO_COLOR && opts.env.TERM !== 'dumb';
  if (opts.env.FORCE_COLOR && opts.env.FORCE_COLOR !== '0') enabled = true;
  if (opts.env.NO_COLOR) enabled = false;
  if (opts.flag !== undefined) enabled = opts.flag;
  return pc.createColors(enabled);
}

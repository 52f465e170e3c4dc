/** What the scheduler knows of a step. */
export interface SchedulableStep {
  index: number;
  prereqs: readonly number[];
}

export type StepOutcome =
  | { state: 'done'; value?: unknown }
  | { state: 'failed'; error: Error }
  | { state: 'skipped'; reason: string };

/**
 * Run steps respecting prerequisites, at most `concurrency` at a time; the
 * ready step with the lowest index goes first (so concurrency 1 is the plan
 * order). After a failure: without `continueOnError` nothing new starts;
 * with it, only steps depending (transitively) on the failure are skipped.
 */
export async function runScheduled<S extends SchedulableStep>(
  steps: readonly S[],
  run: (step: S) => Promise<void>,
  opts: { concurrency: number; continueOnError: boolean; describe?: (step: S) => string },
): Promise<StepOutcome[]> {
  const outcomes: (StepOutcome | undefined)[] = steps.map(() => undefined);
  const pos = new Map(steps.map((s, i) => [s.index, i]));
  const remaining = steps.map((s) => s.prereqs.filter((p) => pos.has(p)).length);
  const dependents: number[][] = steps.map(() => []);
  steps.forEach((s, i) => {
    for (const p of s.prereqs) {
      const pi = pos.get(p);
      if (pi !== undefined) dependents[pi]!.push(i);
    }
  });
  const ready: number[] = [];
  remaining.forEach((n, i) => {
    if (n === 0) ready.push(i);
  });
  let running = 0;
  let stopped = false;

  const skipDependents = (i: number) => {
    const stack = [...dependents[i]!];
    while (stack.length) {
      const j = stack.pop()!;
      if (outcomes[j]) continue;
      outcomes[j] = {
        state: 'skipped',
        reason: `${opts.describe?.(steps[i]!) ?? `step ${steps[i]!.index}`} did not complete`,
      };
      stack.push(...dependents[j]!);
    }
  };

  await new Promise<void>((resolveAll) => {
    const pump = () => {
      if (!stopped) {
        ready.sort((a, b) => b - a);
        while (running < opts.concurrency && ready.length > 0) {
          const i = ready.pop()!;
          if (outcomes[i]) continue;
          running++;
          run(steps[i]!).then(
            () => finish(i, { state: 'done' }),
            (error: Error) => finish(i, { state: 'failed', error }),
          );
        }
      }
      if (running === 0) resolveAll();
    };
    const finish = (i: number, o: StepOutcome) => {
      running--;
      outcomes[i] = o;
      if (o.state === 'done') {
        for (const j of dependents[i]!) if (--remaining[j]! === 0) ready.push(j);
      } else {
        skipDependents(i);
        if (!opts.continueOnError) stopped = true;
      }
      pump();
    };
    pump();
  });
  return outcomes.map(
    (o) =>
      o ?? {
        state: 'skipped',
        reason: stopped ? 'the run stopped after a failure' : 'a prerequisite did not complete',
      },
  );
}

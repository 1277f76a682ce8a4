/** Polling an API call while a component is shown. */
import { useEffect, type DependencyList } from 'react';

/**
 * Runs `load` now and every `ms` until the component unmounts or `deps` change; `use` gets each
 * result and `fail` each error, never after that. No `load`: nothing runs.
 */
export function usePoll<T>(
  load: (() => Promise<T>) | undefined,
  ms: number,
  deps: DependencyList,
  use: (value: T) => void,
  fail: (err: Error) => void = () => undefined,
): void {
  useEffect(() => {
    if (!load) return;
    let live = true;
    const run = () =>
      load().then(
        (v) => live && use(v),
        (err: Error) => live && fail(err),
      );
    void run();
    const timer = setInterval(() => void run(), ms);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, deps);
}

import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export interface Loaded<T> {
  data: T | undefined;
  error: string;
  reload: () => void;
}

// Loads `fetcher` when `key` changes and, with `everyMs`, again on that period while the
// page is shown: live pages poll every 2 s.
export function useLoad<T>(fetcher: () => Promise<T>, key: string, everyMs = 0): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState('');
  const [tick, setTick] = useState(0);
  const current = useRef(fetcher);
  current.current = fetcher;
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    let live = true;
    current
      .current()
      .then((d) => {
        if (live) {
          setData(d);
          setError('');
        }
      })
      .catch((e: Error) => live && setError(e.message));
    return () => {
      live = false;
    };
  }, [key, tick]);
  useEffect(() => {
    if (!everyMs) return undefined;
    const timer = setInterval(reload, everyMs);
    return () => clearInterval(timer);
  }, [key, everyMs]);
  return { data, error, reload };
}

export const LIVE_MS = 2000;

// Each page has its own URL; links change it with the History API, so a device's page can
// be pasted into a ticket and opens the same page (the server answers every page URL).
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';

const listeners = new Set<() => void>();

export function navigate(href: string): void {
  history.pushState(null, '', href);
  listeners.forEach((l) => l());
}

export function useLocation(): string {
  const [where, setWhere] = useState(location.pathname + location.search);
  useEffect(() => {
    const update = () => setWhere(location.pathname + location.search);
    listeners.add(update);
    addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      removeEventListener('popstate', update);
    };
  }, []);
  return where;
}

export function Link(props: { href: string; children: ComponentChildren; class?: string; current?: boolean }) {
  return (
    <a
      href={props.href}
      class={props.class}
      aria-current={props.current ? 'page' : undefined}
      onClick={(e) => {
        if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        navigate(props.href);
      }}
    >
      {props.children}
    </a>
  );
}

export function queryParam(name: string): string {
  return new URLSearchParams(location.search).get(name) ?? '';
}

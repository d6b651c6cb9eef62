import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

export function ErrorLine(props: { error: string }) {
  return props.error ? (
    <p class="error" role="alert">
      {props.error}
    </p>
  ) : null;
}

export function Loading(props: { when: unknown }) {
  return props.when === undefined ? <p class="muted">Loading…</p> : null;
}

// "2025-01-01T00:00:00Z" as the browser's local time; "" stays "".
export function when(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  return isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function Status(props: { value: string }) {
  return <span class={'status status-' + props.value.replace(/[^a-z]/gi, '')}>{props.value}</span>;
}

const FOCUSABLE = 'button, [href], input, select, textarea, [tabindex]:not([tabindex="-1"])';

// A modal dialog (HTML <dialog> opened with showModal(): the page behind is inert); Tab
// and Shift+Tab cycle inside it, Esc closes it, and focus returns to what opened it.
export function Dialog(props: { title: string; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current!;
    const opener = document.activeElement as HTMLElement | null;
    dialog.showModal();
    const first = dialog.querySelector<HTMLElement>(FOCUSABLE);
    first?.focus();
    return () => {
      if (dialog.open) dialog.close();
      opener?.focus();
    };
  }, []);
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      props.onClose();
      return;
    }
    if (e.key !== 'Tab') return;
    const items = Array.from(ref.current!.querySelectorAll<HTMLElement>(FOCUSABLE)).filter((el) => !el.hasAttribute('disabled'));
    if (items.length === 0) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  };
  return (
    <dialog
      ref={ref}
      aria-labelledby="dialog-title"
      onKeyDown={onKeyDown}
      onCancel={(e) => {
        e.preventDefault();
        props.onClose();
      }}
    >
      <h2 id="dialog-title">{props.title}</h2>
      {props.children}
    </dialog>
  );
}

export function Pager(props: { offset: number; limit: number; total?: number; count: number; onPage: (offset: number) => void }) {
  const { offset, limit, total, count } = props;
  const end = offset + count;
  return (
    <div class="pager">
      <button disabled={offset === 0} onClick={() => props.onPage(Math.max(0, offset - limit))}>
        ← Previous
      </button>
      <span>
        {count === 0 ? 'none' : `${offset + 1}–${end}`}
        {total !== undefined ? ` of ${total}` : ''}
      </span>
      <button disabled={total !== undefined ? end >= total : count < limit} onClick={() => props.onPage(offset + limit)}>
        Next →
      </button>
    </div>
  );
}

import { useState } from 'preact/hooks';
import { enc, get } from '../api';
import { ErrorLine, Loading, Pager, when } from '../components';
import { LIVE_MS, useLoad } from '../hooks';
import { Link, navigate } from '../router';
import type { Event } from '../types';

// The filters of `portcullis events`.
const FILTERS = ['device', 'mac', 'nas', 'serial', 'kind', 'outcome', 'since'] as const;
const LIMIT = 100;

export function Events() {
  const params = new URLSearchParams(location.search);
  const offset = Number(params.get('offset') ?? 0) || 0;
  const values: Record<string, string> = {};
  for (const f of FILTERS) values[f] = params.get(f) ?? '';
  const [form, setForm] = useState(values);
  const list = useLoad(() => get<{ events: Event[] }>('/events', { ...values, limit: LIMIT, offset }), location.search, offset ? 0 : LIVE_MS);
  const go = (v: Record<string, string>, at: number) => {
    const q = new URLSearchParams();
    for (const [k, x] of Object.entries(v)) if (x) q.set(k, x);
    if (at) q.set('offset', String(at));
    navigate('/events' + (q.toString() ? '?' + q : ''));
  };
  return (
    <section>
      <h1>Events</h1>
      <form class="filters" onSubmit={(e) => { e.preventDefault(); go(form, 0); }}>
        {FILTERS.map((f) => (
          <label key={f}>
            {f}
            <input name={f} value={form[f]} placeholder={f === 'since' ? '15m' : ''}
              onInput={(e) => setForm({ ...form, [f]: (e.target as HTMLInputElement).value })} />
          </label>
        ))}
        <button type="submit">Filter</button>
      </form>
      <ErrorLine error={list.error} />
      <Loading when={list.data} />
      {list.data && (
        <>
          <table>
            <thead><tr><th>Time</th><th>Kind</th><th>Outcome</th><th>Device</th><th>MAC</th><th>NAS</th><th>User-Name</th><th>Why</th></tr></thead>
            <tbody>
              {list.data.events.map((e) => (
                <tr key={e.id} class={'outcome-' + e.outcome}>
                  <td>{when(e.time)}</td><td>{e.kind}</td><td>{e.outcome}</td>
                  <td>{e.device ? <Link href={'/devices/' + enc(e.device)}>{e.device}</Link> : ''}</td>
                  <td>{e.mac}</td><td>{e.nas}</td><td>{e.user_name}</td><td>{e.text || e.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager offset={offset} limit={LIMIT} count={list.data.events.length} onPage={(at) => go(values, at)} />
        </>
      )}
    </section>
  );
}

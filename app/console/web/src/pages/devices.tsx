import { useState } from 'preact/hooks';
import { enc, get } from '../api';
import { ErrorLine, Loading, Pager, when } from '../components';
import { useLoad } from '../hooks';
import { Link, navigate, queryParam } from '../router';
import type { Device } from '../types';

const LIMIT = 50;

interface DeviceList {
  devices: Device[];
  total?: number;
  limit: number;
  offset: number;
}

const FIELDS = ['search', 'group', 'mac', 'serial', 'enabled'] as const;

// Search and paging run on the server (the ledger answers one page), so the page stays
// quick with 100,000 devices; the filters live in the URL.
export function Devices() {
  const params = new URLSearchParams(location.search);
  const offset = Number(params.get('offset') ?? 0) || 0;
  const filters: Record<string, string> = {};
  for (const f of FIELDS) filters[f] = params.get(f) ?? '';
  const [form, setForm] = useState(filters);
  const key = location.search;
  const list = useLoad(() => get<DeviceList>('/devices', { ...filters, limit: LIMIT, offset }), key);

  const go = (values: Record<string, string>, at: number) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(values)) if (v) q.set(k, v);
    if (at) q.set('offset', String(at));
    const s = q.toString();
    navigate('/devices' + (s ? '?' + s : ''));
  };
  const field = (name: (typeof FIELDS)[number], label: string, placeholder: string) => (
    <label>
      {label}
      <input name={name} value={form[name]} placeholder={placeholder}
        onInput={(e) => setForm({ ...form, [name]: (e.target as HTMLInputElement).value })} />
    </label>
  );
  return (
    <section>
      <h1>Devices</h1>
      <form class="filters" role="search" onSubmit={(e) => { e.preventDefault(); go(form, 0); }}>
        {field('search', 'Name or owner', 'laptop-7')}
        {field('group', 'Group', 'staff')}
        {field('mac', 'MAC', '02:00:5e:10:00:01')}
        {field('serial', 'Serial', '1A2B…')}
        <label>
          Enabled
          <select name="enabled" value={form.enabled} onChange={(e) => setForm({ ...form, enabled: (e.target as HTMLSelectElement).value })}>
            <option value="">any</option>
            <option value="true">enabled</option>
            <option value="false">disabled</option>
          </select>
        </label>
        <button type="submit">Search</button>
      </form>
      <ErrorLine error={list.error} />
      <Loading when={list.data} />
      {list.data && (
        <>
          <table>
            <thead>
              <tr><th>Name</th><th>Owner</th><th>Groups</th><th>Enabled</th><th>Created</th></tr>
            </thead>
            <tbody>
              {list.data.devices.map((d) => (
                <tr key={d.id}>
                  <td><Link href={'/devices/' + enc(d.name)}>{d.name}</Link></td>
                  <td>{d.owner}</td>
                  <td>{d.groups.join(', ')}</td>
                  <td>{d.enabled ? 'yes' : 'no'}</td>
                  <td>{when(d.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager offset={offset} limit={LIMIT} total={list.data.total} count={list.data.devices.length} onPage={(at) => go(filters, at)} />
        </>
      )}
    </section>
  );
}

export { queryParam };

import { get } from '../api';
import { ErrorLine, Loading, when } from '../components';
import { LIVE_MS, useLoad } from '../hooks';

interface Nas {
  name: string;
  transport: string;
  address: string;
  groups: string[];
  last_seen: string | null;
  counters: { requests: number; accepts: number; rejects: number; dropped: number; accounting: number };
  connections?: number;
}

export function NasPage() {
  const list = useLoad(() => get<{ nas: Nas[] }>('/nas'), 'nas', LIVE_MS);
  return (
    <section>
      <h1>NAS clients</h1>
      <ErrorLine error={list.error} />
      <Loading when={list.data} />
      {list.data && (
        <table>
          <thead><tr><th>Name</th><th>Transport</th><th>Address</th><th>Groups</th><th>Last seen</th><th>Requests</th><th>Accepts</th><th>Rejects</th><th>Dropped</th><th>Accounting</th><th>Connections</th></tr></thead>
          <tbody>
            {list.data.nas.map((n) => (
              <tr key={n.name}>
                <td>{n.name}</td><td>{n.transport}</td><td>{n.address}</td><td>{n.groups.join(', ')}</td>
                <td>{n.last_seen ? when(n.last_seen) : 'never'}</td>
                <td>{n.counters.requests}</td><td>{n.counters.accepts}</td><td>{n.counters.rejects}</td>
                <td>{n.counters.dropped}</td><td>{n.counters.accounting}</td><td>{n.connections ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

import { useState } from 'preact/hooks';
import { enc, get, post } from '../api';
import { ErrorLine, Loading, when } from '../components';
import { LIVE_MS, useLoad } from '../hooks';
import { Link, navigate } from '../router';
import type { Session } from '../types';

export function Sessions() {
  const params = new URLSearchParams(location.search);
  const nas = params.get('nas') ?? '';
  const ssid = params.get('ssid') ?? '';
  const [form, setForm] = useState({ nas, ssid });
  const [notice, setNotice] = useState('');
  const [error, setError] = useState('');
  const list = useLoad(() => get<{ sessions: Session[] }>('/sessions', { live: 'true', nas, ssid, limit: 500 }), location.search, LIVE_MS);
  const disconnect = async (s: Session) => {
    try {
      await post('/sessions/' + enc(String(s.id)) + '/disconnect');
      setNotice(`Disconnect-Request sent for ${s.acct_session_id} at ${s.nas}.`);
      setError('');
      list.reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <section>
      <h1>Live sessions</h1>
      <form class="filters" onSubmit={(e) => {
        e.preventDefault();
        const q = new URLSearchParams();
        if (form.nas) q.set('nas', form.nas);
        if (form.ssid) q.set('ssid', form.ssid);
        navigate('/sessions' + (q.toString() ? '?' + q : ''));
      }}>
        <label>NAS<input name="nas" value={form.nas} onInput={(e) => setForm({ ...form, nas: (e.target as HTMLInputElement).value })} /></label>
        <label>SSID<input name="ssid" value={form.ssid} onInput={(e) => setForm({ ...form, ssid: (e.target as HTMLInputElement).value })} /></label>
        <button type="submit">Filter</button>
      </form>
      <ErrorLine error={list.error || error} />
      {notice && <p class="notice" role="status">{notice}</p>}
      <Loading when={list.data} />
      {list.data && (
        <table>
          <thead><tr><th>Device</th><th>NAS</th><th>MAC</th><th>SSID</th><th>User-Name</th><th>Since</th><th>Dynamic authorization</th><th></th></tr></thead>
          <tbody>
            {list.data.sessions.map((s) => (
              <tr key={s.nas + s.acct_session_id}>
                <td>{s.device ? <Link href={'/devices/' + enc(s.device)}>{s.device}</Link> : ''}</td>
                <td>{s.nas}</td><td>{s.calling_station_id}</td><td>{s.ssid ?? ''}</td><td>{s.user_name}</td>
                <td>{when(s.started_at)}</td><td>{s.dynauth}</td>
                <td>{s.id !== undefined && <button onClick={() => disconnect(s)}>Disconnect</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

import { useState } from 'preact/hooks';
import { enc, get, post, put } from '../api';
import { Dialog, ErrorLine, Loading, Status, when } from '../components';
import { LIVE_MS, useLoad } from '../hooks';
import type { Certificate, Device, Event as LedgerEvent, Session } from '../types';

type DeviceDetail = Device & { certificates: Certificate[] };

const REASONS = ['unspecified', 'keyCompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation'];

// Its events by name, and those its MACs sent without naming it (a certificate from
// another CA names no device of ours), newest first.
async function timeline(name: string): Promise<LedgerEvent[]> {
  const own = (await get<{ events: LedgerEvent[] }>('/events', { device: name, limit: 50 })).events;
  const macs = [...new Set(own.map((e) => e.mac).filter((m) => m))].slice(0, 3);
  const byMac = await Promise.all(macs.map((mac) => get<{ events: LedgerEvent[] }>('/events', { mac, limit: 50 })));
  const all = new Map<number, LedgerEvent>();
  for (const e of [...own, ...byMac.flatMap((r) => r.events)]) all.set(e.id, e);
  return [...all.values()].sort((a, b) => (a.time === b.time ? b.id - a.id : a.time < b.time ? 1 : -1));
}

async function liveSessions(name: string): Promise<Session[]> {
  return (await get<{ sessions: Session[] }>('/sessions', { live: 'true', device: name, limit: 100 })).sessions;
}

function GroupsEditor(props: { device: DeviceDetail; onSaved: () => void }) {
  const [text, setText] = useState(props.device.groups.join(', '));
  const [error, setError] = useState('');
  const save = async (e: Event) => {
    e.preventDefault();
    const groups = text.split(',').map((g) => g.trim()).filter((g) => g);
    try {
      await put('/devices/' + enc(props.device.name) + '/groups', { groups });
      setError('');
      props.onSaved();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <form class="inline" onSubmit={save}>
      <label for="groups">Groups</label>
      <input id="groups" value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
      <button type="submit">Save groups</button>
      <ErrorLine error={error} />
    </form>
  );
}

function RevokeDialog(props: { device: string; sessions: number; onClose: () => void; onDone: (message: string) => void }) {
  const [reason, setReason] = useState('keyCompromise');
  const [confirmed, setConfirmed] = useState(false);
  const [error, setError] = useState('');
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      const r = await post<{ revoked: Certificate[] }>('/devices/' + enc(props.device) + '/revoke', { reason });
      props.onDone(`Revoked ${r.revoked.length} certificate(s); disconnecting ${props.sessions} live session(s).`);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <Dialog title={'Revoke and disconnect ' + props.device} onClose={props.onClose}>
      <form onSubmit={submit}>
        <p>
          Every valid certificate of this device is revoked, and its {props.sessions} live session(s) get a
          Disconnect-Request at their NAS.
        </p>
        <label for="revoke-reason">Reason</label>
        <select id="revoke-reason" value={reason} onChange={(e) => setReason((e.target as HTMLSelectElement).value)}>
          {REASONS.map((r) => <option value={r}>{r}</option>)}
        </select>
        <label class="check">
          <input id="revoke-confirm" type="checkbox" checked={confirmed} onChange={(e) => setConfirmed((e.target as HTMLInputElement).checked)} />
          I am sure: this cannot be undone
        </label>
        <ErrorLine error={error} />
        <div class="buttons">
          <button type="button" onClick={props.onClose}>Cancel</button>
          <button type="submit" class="danger" disabled={!confirmed}>Revoke and disconnect</button>
        </div>
      </form>
    </Dialog>
  );
}

export function DevicePage(props: { name: string }) {
  const name = props.name;
  const device = useLoad(() => get<DeviceDetail>('/devices/' + enc(name)), name, LIVE_MS);
  const sessions = useLoad(() => liveSessions(name), name, LIVE_MS);
  const events = useLoad(() => timeline(name), name, LIVE_MS);
  const [dialog, setDialog] = useState(false);
  const [notice, setNotice] = useState('');
  const [error, setError] = useState('');
  const [challenge, setChallenge] = useState('');
  const [ssid, setSsid] = useState('');

  const act = async (what: () => Promise<unknown>, message: string) => {
    try {
      await what();
      setNotice(message);
      setError('');
      device.reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const d = device.data;
  const live = sessions.data ?? [];
  return (
    <section>
      <h1>Device {name}</h1>
      <ErrorLine error={device.error || error} />
      {notice && <p class="notice" role="status">{notice}</p>}
      <Loading when={d} />
      {d && (
        <>
          <dl class="facts">
            <dt>Display name</dt><dd>{d.display_name}</dd>
            <dt>Owner</dt><dd>{d.owner}</dd>
            <dt>Enabled</dt><dd>{d.enabled ? 'yes' : 'no'}</dd>
            <dt>Created</dt><dd>{when(d.created_at)}</dd>
          </dl>
          <GroupsEditor key={d.groups.join(',')} device={d} onSaved={() => { setNotice('Groups saved.'); device.reload(); }} />
          <div class="actions">
            <button class="danger" onClick={() => setDialog(true)}>Revoke and disconnect…</button>
            {d.enabled ? (
              <button onClick={() => act(() => post('/devices/' + enc(name) + '/disable'), 'Disabled.')}>Disable</button>
            ) : (
              <button onClick={() => act(() => post('/devices/' + enc(name) + '/enable'), 'Enabled.')}>Enable</button>
            )}
            <button onClick={() => act(async () => {
              const r = await post<{ challenge: string }>('/challenges', { device: name });
              setChallenge(r.challenge);
            }, 'A one-time enrollment challenge was minted.')}>Mint an enrollment challenge</button>
          </div>
          <div class="inline">
            <label for="profile-ssid">Wi-Fi SSID</label>
            <input id="profile-ssid" value={ssid} placeholder="corp-wifi" onInput={(e) => setSsid((e.target as HTMLInputElement).value)} />
            {ssid ? (
              <a class="button" download
                href={'/api/v1/devices/' + enc(name) + '/profile/apple?ssid=' + enc(ssid)}>
                Download the Apple profile
              </a>
            ) : (
              <button disabled title="Type the SSID the profile joins">Download the Apple profile</button>
            )}
          </div>
          {challenge && <p class="challenge">Challenge: <code>{challenge}</code></p>}
          <h2>Certificates</h2>
          <table>
            <thead><tr><th>Serial</th><th>Profile</th><th>Status</th><th>Valid from</th><th>Valid until</th><th>Revoked</th></tr></thead>
            <tbody>
              {d.certificates.map((c) => (
                <tr key={c.serial}>
                  <td><code>{c.serial}</code></td><td>{c.profile}</td><td><Status value={c.status} /></td>
                  <td>{when(c.not_before)}</td><td>{when(c.not_after)}</td>
                  <td>{c.revoked_at ? `${when(c.revoked_at)} (${c.revocation_reason})` : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <h2>Live sessions</h2>
      <ErrorLine error={sessions.error} />
      {live.length === 0 ? (
        <p class="muted" id="no-live-sessions">No live session.</p>
      ) : (
        <table id="live-sessions">
          <thead><tr><th>NAS</th><th>MAC</th><th>SSID</th><th>Since</th><th>Session</th><th>Dynamic authorization</th></tr></thead>
          <tbody>
            {live.map((s) => (
              <tr key={s.nas + s.acct_session_id}>
                <td>{s.nas}</td><td>{s.calling_station_id}</td><td>{s.ssid ?? ''}</td><td>{when(s.started_at)}</td>
                <td>{s.acct_session_id}</td><td>{s.dynauth}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Timeline</h2>
      <ErrorLine error={events.error} />
      <ol class="timeline">
        {(events.data ?? []).map((e) => (
          <li key={e.id} class={'outcome-' + e.outcome}>
            <time>{when(e.time)}</time> <strong>{e.kind} {e.outcome}</strong> {e.nas && `at ${e.nas}`} {e.mac && `from ${e.mac}`}
            {e.user_name && <> as <code>{e.user_name}</code></>}
            <p class="why">{e.text || e.reason}</p>
            {e.detail && !(e.text ?? '').includes(e.detail) && <p class="detail">{e.detail}</p>}
          </li>
        ))}
      </ol>
      {dialog && (
        <RevokeDialog device={name} sessions={live.length} onClose={() => setDialog(false)}
          onDone={(message) => { setDialog(false); setNotice(message); device.reload(); sessions.reload(); }} />
      )}
    </section>
  );
}

import { useState } from 'preact/hooks';
import { get, post } from '../api';
import { ErrorLine, Loading, when } from '../components';
import { LIVE_MS, useLoad } from '../hooks';
import type { HeldRequest } from '../types';

export function Approvals() {
  const list = useLoad(() => get<{ requests: HeldRequest[] }>('/requests', { status: 'pending' }), 'pending', LIVE_MS);
  const [notice, setNotice] = useState('');
  const [error, setError] = useState('');
  // Typed reasons by request id, so that the 2 s refresh does not wipe what is being typed.
  const [reasons, setReasons] = useState<Record<number, string>>({});
  const reasonOf = (r: HeldRequest) => (reasons[r.id] ?? '').trim();
  const decide = async (r: HeldRequest, approve: boolean) => {
    try {
      await post(`/requests/${r.id}/${approve ? 'approve' : 'reject'}`, approve ? {} : { reason: reasonOf(r) });
      setNotice(`Request ${r.id} for ${r.device} ${approve ? 'approved' : 'rejected'}.`);
      setError('');
      list.reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <section>
      <h1>Pending approvals</h1>
      <p class="muted">SCEP requests held for an administrator (RFC 8894 §3.3.2): the device's next poll gets the outcome.</p>
      <ErrorLine error={list.error || error} />
      {notice && <p class="notice" role="status">{notice}</p>}
      <Loading when={list.data} />
      {list.data && (list.data.requests.length === 0 ? <p class="muted">Nothing is waiting.</p> : (
        <table>
          <thead><tr><th>#</th><th>Device</th><th>Subject</th><th>Profile</th><th>Transaction</th><th>Asked</th><th></th></tr></thead>
          <tbody>
            {list.data.requests.map((r) => (
              <tr key={r.id}>
                <td>{r.id}</td><td>{r.device}</td><td>{r.subject}</td><td>{r.profile}</td>
                <td><code>{r.transaction_id}</code></td><td>{when(r.created_at)}</td>
                <td>
                  <button onClick={() => decide(r, true)}>Approve</button>{' '}
                  {/* A rejection is final for the request: it needs the reason the device's owner will be told. */}
                  <input aria-label={`Reason to reject ${r.device}`} placeholder="reason to reject" maxLength={200}
                         value={reasons[r.id] ?? ''}
                         onInput={(e) => setReasons({ ...reasons, [r.id]: (e.target as HTMLInputElement).value })} />{' '}
                  <button class="danger" disabled={reasonOf(r) === ''} onClick={() => decide(r, false)}>Reject</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ))}
    </section>
  );
}

import { enc, get } from '../api';
import { ErrorLine, Loading, Pager, Status, when } from '../components';
import { useLoad } from '../hooks';
import { Link, navigate } from '../router';
import type { Certificate } from '../types';

const LIMIT = 100;
const VIEWS: Record<string, Record<string, string>> = {
  valid: { status: 'valid' },
  expiring: { expiring_within: String(30 * 86400) },
  revoked: { status: 'revoked' },
  expired: { status: 'expired' },
};

export function Certificates() {
  const params = new URLSearchParams(location.search);
  const view = params.get('view') ?? 'valid';
  const offset = Number(params.get('offset') ?? 0) || 0;
  const list = useLoad(() => get<{ certificates: Certificate[] }>('/certificates', { ...(VIEWS[view] ?? VIEWS.valid), limit: LIMIT, offset }), location.search);
  return (
    <section>
      <h1>Certificates</h1>
      <nav class="tabs" aria-label="Certificate status">
        {Object.keys(VIEWS).map((v) => (
          <Link key={v} href={'/certificates?view=' + v} class={v === view ? 'current' : ''}>
            {v === 'expiring' ? 'expiring within 30 days' : v}
          </Link>
        ))}
      </nav>
      <ErrorLine error={list.error} />
      <Loading when={list.data} />
      {list.data && (
        <>
          <table>
            <thead><tr><th>Serial</th><th>Device</th><th>Subject</th><th>Profile</th><th>Status</th><th>Valid until</th></tr></thead>
            <tbody>
              {list.data.certificates.map((c) => (
                <tr key={c.serial}>
                  <td><code>{c.serial}</code></td>
                  <td><Link href={'/devices/' + enc(c.device)}>{c.device}</Link></td>
                  <td>{c.subject}</td><td>{c.profile}</td><td><Status value={c.status} /></td><td>{when(c.not_after)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager offset={offset} limit={LIMIT} count={list.data.certificates.length}
            onPage={(at) => navigate(`/certificates?view=${view}&offset=${at}`)} />
        </>
      )}
    </section>
  );
}

import { useState } from 'preact/hooks';
import { get, post } from '../api';
import { ErrorLine, Loading } from '../components';
import { LIVE_MS, useLoad } from '../hooks';
import type { Rule } from '../types';

interface Policy {
  origin: string;
  file: string;
  rules: Rule[];
  default_matches: number;
}

// The inputs of `portcullis policy test` (--device, --nas, --ssid, --nas-port-type, --at).
const TEST_FIELDS: [string, string, string][] = [
  ['device', 'Device', 'laptop-7'],
  ['nas', 'NAS', 'loopback'],
  ['ssid', 'SSID', 'corp-wifi'],
  ['nas_port_type', 'NAS-Port-Type', 'Wireless-802.11'],
  ['at', 'At', '2025-01-07T10:30Z'],
];

export function PolicyPage() {
  const policy = useLoad(() => get<Policy>('/policy'), 'policy', LIVE_MS);
  const [notice, setNotice] = useState('');
  const [error, setError] = useState('');
  const [attrs, setAttrs] = useState<Record<string, string>>({});
  const [answer, setAnswer] = useState('');
  const reload = async () => {
    try {
      const r = await post<{ rules: number }>('/policy/reload');
      setNotice(`Reloaded: ${r.rules} rule(s).`);
      setError('');
      policy.reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const test = async (e: Event) => {
    e.preventDefault();
    try {
      setAnswer(JSON.stringify(await post('/policy/test', { attributes: Object.fromEntries(Object.entries(attrs).filter(([, v]) => v)) }), null, 2));
      setError('');
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const p = policy.data;
  return (
    <section>
      <h1>Access policy</h1>
      <ErrorLine error={policy.error || error} />
      {notice && <p class="notice" role="status">{notice}</p>}
      <Loading when={p} />
      {p && (
        <>
          <p>From <code>{p.origin || '(no policy file: every authenticated device is accepted)'}</code></p>
          <button onClick={reload}>Reload the policy file</button>
          <table>
            <thead><tr><th>#</th><th>Rule</th><th>Line</th><th>What it does</th><th>Matches</th></tr></thead>
            <tbody>
              {p.rules.map((r, i) => (
                <tr key={r.name}><td>{i + 1}</td><td>{r.name}</td><td>{r.line}</td><td>{r.summary}</td><td>{r.matches}</td></tr>
              ))}
              <tr><td></td><td>(default)</td><td></td><td>no rule matched</td><td>{p.default_matches}</td></tr>
            </tbody>
          </table>
        </>
      )}
      <h2>Test</h2>
      <form class="filters" onSubmit={test}>
        {TEST_FIELDS.map(([name, label, example]) => (
          <label key={name}>
            {label}
            <input name={name} placeholder={example} value={attrs[name] ?? ''}
              onInput={(e) => setAttrs({ ...attrs, [name]: (e.target as HTMLInputElement).value })} />
          </label>
        ))}
        <button type="submit">Test</button>
      </form>
      {answer && <pre class="answer">{answer}</pre>}
    </section>
  );
}

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

// The inputs of `portcullis policy test`; NAS-Port-Type goes as a request attribute.
const TEST_FIELDS: [string, string, string][] = [
  ['device', 'Device', 'laptop-7'],
  ['groups', 'Or groups (comma-separated)', 'staff, byod'],
  ['nas', 'NAS', 'loopback'],
  ['ssid', 'SSID', 'corp-wifi'],
  ['nas_port_type', 'NAS-Port-Type', 'Wireless-802.11'],
  ['at', 'At', '2025-01-07T10:30:00Z'],
];

interface TestAnswer {
  accept: boolean;
  rule: string | null;
  reason?: string;
  reply?: { name: string; value: string }[];
}

function testBody(form: Record<string, string>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const key of ['device', 'nas', 'ssid', 'at']) if (form[key]) body[key] = form[key];
  if (form.groups) body.groups = form.groups.split(',').map((g) => g.trim()).filter((g) => g);
  if (form.nas_port_type) body.attributes = { 'NAS-Port-Type': form.nas_port_type };
  return body;
}

export function PolicyPage() {
  const policy = useLoad(() => get<Policy>('/policy'), 'policy', LIVE_MS);
  const [notice, setNotice] = useState('');
  const [error, setError] = useState('');
  const [attrs, setAttrs] = useState<Record<string, string>>({});
  const [answer, setAnswer] = useState<TestAnswer | null>(null);
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
      setAnswer(await post<TestAnswer>('/policy/test', testBody(attrs)));
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
      {answer && (
        <div class="answer" role="status">
          <p>
            <strong>{answer.accept ? 'Accepted' : 'Rejected'}</strong>
            {answer.rule ? ` by rule ${answer.rule}` : ''}
            {answer.reason ? `: ${answer.reason}` : ''}
          </p>
          {answer.reply && answer.reply.length > 0 && (
            <ul>{answer.reply.map((a) => <li key={a.name + a.value}><code>{a.name} = {a.value}</code></li>)}</ul>
          )}
          <details><summary>As `portcullis policy test --json` prints it</summary><pre>{JSON.stringify(answer, null, 2)}</pre></details>
        </div>
      )}
    </section>
  );
}

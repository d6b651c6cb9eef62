import { useState } from 'preact/hooks';
import { signIn } from '../api';
import { navigate, queryParam } from '../router';

// Only a path on this site: "/x", never "//host" or "https://…".
function safeNext(next: string): string {
  return next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : '/';
}

export function SignIn(props: { onSignedIn: (actor: string, csrf: string) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const me = await signIn(token);
      setToken('');
      props.onSignedIn(me.actor, me.csrf);
      navigate(safeNext(queryParam('next')));
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>Portcullis</h1>
      <form onSubmit={submit}>
        <label for="token">Admin token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)} required />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        {error && <p class="error" role="alert">{error}</p>}
      </form>
    </main>
  );
}

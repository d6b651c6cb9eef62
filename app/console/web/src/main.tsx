// The operator console: one page per URL, drawn by Preact from the admin API's JSON.
// Preact sets text as text nodes, so names and User-Names from the network never become
// markup; the Content-Security-Policy forbids inline script besides.
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { session, setCsrf, signInUrl, signOut } from './api';
import { Link, navigate, useLocation } from './router';
import { Approvals } from './pages/approvals';
import { Certificates } from './pages/certificates';
import { DevicePage } from './pages/device';
import { Devices } from './pages/devices';
import { Events } from './pages/events';
import { NasPage } from './pages/nas';
import { OverviewPage } from './pages/overview';
import { PolicyPage } from './pages/policy';
import { Sessions } from './pages/sessions';
import { SignIn } from './pages/signin';

const NAV: [string, string][] = [
  ['/', 'Overview'],
  ['/devices', 'Devices'],
  ['/sessions', 'Sessions'],
  ['/events', 'Events'],
  ['/certificates', 'Certificates'],
  ['/policy', 'Policy'],
  ['/approvals', 'Approvals'],
  ['/nas', 'NAS'],
];

function Page(props: { path: string }) {
  const path = props.path;
  if (path.startsWith('/devices/')) return <DevicePage name={decodeURIComponent(path.slice('/devices/'.length))} />;
  switch (path) {
    case '/devices': return <Devices />;
    case '/sessions': return <Sessions />;
    case '/events': return <Events />;
    case '/certificates': return <Certificates />;
    case '/policy': return <PolicyPage />;
    case '/approvals': return <Approvals />;
    case '/nas': return <NasPage />;
    default: return <OverviewPage />;
  }
}

function App() {
  const where = useLocation();
  const path = where.split('?')[0];
  const [actor, setActor] = useState('');
  useEffect(() => {
    if (path === '/signin' || actor) return;
    session()
      .then((me) => {
        setCsrf(me.csrf);
        setActor(me.actor);
      })
      .catch(() => location.assign(signInUrl()));
  }, [path, actor]);
  if (path === '/signin') {
    return <SignIn onSignedIn={(a, csrf) => { setCsrf(csrf); setActor(a); }} />;
  }
  if (!actor) return <p class="muted">Loading…</p>;
  const current = (href: string) => (href === '/' ? path === '/' : path.startsWith(href));
  return (
    <>
      <header>
        <span class="brand">Portcullis</span>
        <nav aria-label="Pages">
          {NAV.map(([href, label]) => (
            <Link key={href} href={href} class={current(href) ? 'current' : ''} current={current(href)}>{label}</Link>
          ))}
        </nav>
        <span class="who">{actor}</span>
        <button onClick={async () => { await signOut().catch(() => undefined); setActor(''); navigate('/signin'); }}>Sign out</button>
      </header>
      <main>
        <Page key={where} path={path} />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);

import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { get } from '../api';
import { ErrorLine, Loading } from '../components';
import { LIVE_MS, useLoad } from '../hooks';
import { Link } from '../router';

interface NodeState {
  name: string;
  state: string; // ok | degraded | stopped | silent
  reason: string;
  version: string;
  started_at: string;
  seen_at: string;
  seen_seconds_ago: number;
  uptime_seconds: number | null;
  this: boolean;
}

interface Overview {
  node: { name: string; status: string; reason: string; uptime_seconds: number; ledger_backend: string };
  nodes: NodeState[];
  auth_per_minute: { start_unix: number; step: number; accepted: number[]; rejected: number[] };
  top_reject_reasons: { reason: string; count: number; nases: { nas: string; count: number }[] }[];
  enrollments: { issued: number; refused: number; pending: number };
  expiring_30d: number;
  pending_approvals: number;
}

function uptime(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return (d ? `${d} d ` : '') + `${h} h ${m} min`;
}

// Accepted and rejected authentications per minute over the last 24 h (uPlot).
function AuthChart(props: { series: Overview['auth_per_minute'] }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const { start_unix, step, accepted, rejected } = props.series;
  useEffect(() => {
    const times = accepted.map((_, i) => start_unix + i * step);
    const data: uPlot.AlignedData = [times, accepted, rejected];
    if (plot.current) {
      plot.current.setData(data);
      return;
    }
    plot.current = new uPlot(
      {
        width: Math.max(320, box.current!.clientWidth),
        height: 220,
        series: [
          {},
          { label: 'accepted', stroke: '#2a7d2e', width: 1.5 },
          { label: 'rejected', stroke: '#b3261e', width: 1.5 },
        ],
        axes: [{}, { label: 'per minute' }],
      },
      data,
      box.current!,
    );
  }, [start_unix, accepted, rejected]);
  useEffect(() => () => plot.current?.destroy(), []);
  return <div class="chart" ref={box} role="img" aria-label="Authentications per minute, accepted and rejected, last 24 hours" />;
}

// Every node serving from this ledger, from their heartbeats: the one that went silent is
// the one to look at.
function NodesTable(props: { nodes: NodeState[] }) {
  return (
    <table class="nodes">
      <thead><tr><th>Node</th><th>State</th><th>Last heartbeat</th><th>Up</th><th>Version</th><th>Why</th></tr></thead>
      <tbody>
        {props.nodes.map((n) => (
          <tr key={n.name}>
            <td>{n.name}{n.this && <span class="muted"> (this node)</span>}</td>
            <td class={'health-' + n.state}>{n.state}</td>
            <td>{n.this ? 'now' : `${n.seen_seconds_ago} s ago`}</td>
            <td>{n.uptime_seconds === null ? '' : uptime(n.uptime_seconds)}</td>
            <td>{n.version}</td>
            <td>{n.reason}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function OverviewPage() {
  const o = useLoad(() => get<Overview>('/overview'), 'overview', LIVE_MS);
  const v = o.data;
  return (
    <section>
      <h1>Overview</h1>
      <ErrorLine error={o.error} />
      <Loading when={v} />
      {v && (
        <>
          <div class="cards">
            <div class="card"><h2>Node {v.node.name}</h2><p class={'health-' + v.node.status}>{v.node.status}</p>
              {v.node.reason && <p>{v.node.reason}</p>}
              <p class="muted">up {uptime(v.node.uptime_seconds)}, ledger {v.node.ledger_backend}</p></div>
            <div class="card"><h2>Enrollments</h2><p>{v.enrollments.issued} issued, {v.enrollments.refused} refused, {v.enrollments.pending} pending</p></div>
            <div class="card"><h2>Expiring within 30 days</h2><p><Link href="/certificates?view=expiring">{v.expiring_30d} certificate(s)</Link></p></div>
            <div class="card"><h2>Pending approvals</h2><p><Link href="/approvals">{v.pending_approvals}</Link></p></div>
          </div>
          {v.nodes.length > 1 && (<><h2>Nodes on this ledger</h2><NodesTable nodes={v.nodes} /></>)}
          <h2>Authentications per minute, last 24 h</h2>
          <AuthChart series={v.auth_per_minute} />
          <h2>Top reject reasons</h2>
          {v.top_reject_reasons.length === 0 ? <p class="muted">No rejects.</p> : (
            <table>
              <thead><tr><th>Reason</th><th>Count</th><th>From NASes</th></tr></thead>
              <tbody>
                {v.top_reject_reasons.map((r) => (
                  <tr key={r.reason}><td>{r.reason}</td><td>{r.count}</td><td>{r.nases.map((n) => `${n.nas} (${n.count})`).join(', ')}</td></tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}

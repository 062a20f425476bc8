import type { UsageReport } from '@glm-gateway/shared';
import { UsageChart, type DayPoint } from './usage-chart';

const DAY = 86_400_000;

/** Every one of the last 30 UTC days, zero where nothing happened, so the chart's x axis is honest. */
function dailySeries(report: UsageReport, now = new Date()): DayPoint[] {
  const points: DayPoint[] = [];
  for (let i = 29; i >= 0; i--) {
    const day = new Date(now.getTime() - i * DAY).toISOString().slice(0, 10);
    const rows = report.days.filter((r) => r.day === day);
    points.push({ day: day.slice(5), requests: rows.reduce((n, r) => n + r.requests, 0), tokens: rows.reduce((n, r) => n + r.totalTokens, 0) });
  }
  return points;
}

export function UsagePanel({ report }: { report: UsageReport }) {
  const byModel = new Map<string, { requests: number; tokens: number }>();
  for (const r of report.days) {
    const m = byModel.get(r.model) ?? { requests: 0, tokens: 0 };
    m.requests += r.requests;
    m.tokens += r.totalTokens;
    byModel.set(r.model, m);
  }
  const used = Math.min(100, (report.today.tokens / Math.max(1, report.today.limit)) * 100);
  return (
    <section className="card" aria-labelledby="usage-title">
      <h2 id="usage-title">Usage</h2>
      <div className="quota">
        <span>
          Today: <strong>{report.today.tokens.toLocaleString('en')}</strong> of {report.today.limit.toLocaleString('en')} tokens ({report.today.requests} {report.today.requests === 1 ? 'request' : 'requests'})
        </span>
        <div className="bar" role="progressbar" aria-valuenow={Math.round(used)} aria-valuemin={0} aria-valuemax={100} aria-label="Today's token quota used">
          <div style={{ width: `${used}%` }} />
        </div>
      </div>
      <UsageChart points={dailySeries(report)} />
      <h3>By model, last 30 days</h3>
      {byModel.size === 0 ? (
        <p className="muted">No requests yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Model</th>
              <th>Requests</th>
              <th>Tokens</th>
            </tr>
          </thead>
          <tbody>
            {[...byModel].map(([model, m]) => (
              <tr key={model}>
                <td>{model}</td>
                <td>{m.requests.toLocaleString('en')}</td>
                <td>{m.tokens.toLocaleString('en')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>Recent requests</h3>
      {report.recent.length === 0 ? (
        <p className="muted">No requests yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Time (UTC)</th>
              <th>Model</th>
              <th>Tokens</th>
              <th>Latency</th>
              <th>Status</th>
              <th>Count</th>
            </tr>
          </thead>
          <tbody>
            {report.recent.map((e) => (
              <tr key={e.id}>
                <td>{e.at.slice(0, 19).replace('T', ' ')}</td>
                <td>{e.model}</td>
                <td>{e.totalTokens.toLocaleString('en')}</td>
                <td>{e.latencyMs} ms</td>
                <td>{e.aborted ? 'aborted' : e.status}</td>
                <td>{e.estimated ? 'estimated' : 'exact'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

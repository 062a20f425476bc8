'use client';

import { Bar, CartesianGrid, ComposedChart, Legend, Line, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';

export interface DayPoint {
  day: string;
  requests: number;
  tokens: number;
}

/** Tokens (bars) and requests (line) per day. */
export function UsageChart({ points }: { points: DayPoint[] }) {
  return (
    <div className="chart" aria-label="Requests and tokens per day, last 30 days">
      <ResponsiveContainer width="100%" height={240}>
        <ComposedChart data={points} margin={{ top: 8, right: 16, bottom: 0, left: 8 }}>
          <CartesianGrid strokeDasharray="3 3" opacity={0.3} />
          <XAxis dataKey="day" fontSize={11} interval={4} />
          <YAxis yAxisId="tokens" fontSize={11} />
          <YAxis yAxisId="requests" orientation="right" fontSize={11} allowDecimals={false} />
          <Tooltip />
          <Legend />
          <Bar yAxisId="tokens" dataKey="tokens" name="Tokens" fill="#2f6feb" isAnimationActive={false} />
          <Line yAxisId="requests" dataKey="requests" name="Requests" stroke="#d29922" dot={false} isAnimationActive={false} />
        </ComposedChart>
      </ResponsiveContainer>
    </div>
  );
}

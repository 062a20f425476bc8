import type { ReactNode } from 'react';
import './globals.css';

export const metadata = { title: 'glm-gateway', description: 'Your personal gateway to the team model.' };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}

// Small inline SVG icons (no emoji font needed; style-src 'self' allows SVG attributes).
const P = { fill: 'none', stroke: 'currentColor', 'stroke-width': 2, 'stroke-linecap': 'round', 'stroke-linejoin': 'round' } as const;
export const LockIcon = () => (
  <svg width="16" height="16" viewBox="0 0 24 24" {...P}>
    <rect x="4" y="11" width="16" height="10" rx="2" />
    <path d="M8 11V7a4 4 0 0 1 8 0v4" />
  </svg>
);
export const ClipIcon = () => (
  <svg width="20" height="20" viewBox="0 0 24 24" {...P}>
    <path d="M21 12.5l-8.5 8.5a5 5 0 0 1-7-7L14 5.5a3.5 3.5 0 0 1 5 5L10.5 19a2 2 0 0 1-3-3L15 8.5" />
  </svg>
);
export const FileIcon = ({ kind }: { kind: 'image' | 'video' | 'doc' }) => (
  <svg width="26" height="26" viewBox="0 0 24 24" {...P}>
    {kind === 'image' ? (
      <>
        <rect x="3" y="4" width="18" height="16" rx="2" />
        <circle cx="9" cy="10" r="2" />
        <path d="M21 17l-5-5-8 8" />
      </>
    ) : kind === 'video' ? (
      <>
        <rect x="3" y="5" width="14" height="14" rx="2" />
        <path d="M17 10l4-3v10l-4-3" />
      </>
    ) : (
      <>
        <path d="M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z" />
        <path d="M14 3v5h5M9 13h6M9 17h6" />
      </>
    )}
  </svg>
);

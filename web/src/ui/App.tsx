import { useEffect, useState } from 'preact/hooks';
import { ParleyClient } from '../app/client';
import { type Session, loadSession, saveSession } from '../app/session';
import { Auth } from './Auth';
import { Chat } from './Chat';
import { DevicesPanel, GroupPanel, SafetyPanel } from './Panels';
import { NewChat, NewGroup, type Panel, Sidebar } from './Sidebar';
import { errorText } from './hooks';

type Phase = { kind: 'auth' } | { kind: 'opening' } | { kind: 'locked'; session: Session; waiting: boolean } | { kind: 'ready'; client: ParleyClient } | { kind: 'error'; message: string };

export function App() {
  const [phase, setPhase] = useState<Phase>(() => (loadSession() ? { kind: 'opening' } : { kind: 'auth' }));

  const open = async (s: Session, wait = false) => {
    setPhase(wait ? { kind: 'locked', session: s, waiting: true } : { kind: 'opening' });
    try {
      const client = await ParleyClient.open(s, wait);
      if (!client) {
        setPhase({ kind: 'locked', session: s, waiting: false });
        return;
      }
      client.onSignedOut = () => setPhase({ kind: 'auth' });
      await client.start();
      setPhase({ kind: 'ready', client });
    } catch (e) {
      setPhase({ kind: 'error', message: errorText(e) });
    }
  };

  useEffect(() => {
    const s = loadSession();
    if (s) void open(s);
  }, []);

  switch (phase.kind) {
    case 'auth':
      return <Auth onSession={(s) => void open(s)} />;
    case 'opening':
      return <div class="splash">Opening your encrypted messages…</div>;
    case 'locked':
      return (
        <div class="splash" data-testid="locked">
          <h2>Parley is open in another tab</h2>
          <p class="muted">Your encryption keys can be used by one tab at a time. Close the other tab, or use Parley here once it is closed.</p>
          <button class="primary" disabled={phase.waiting} onClick={() => void open(phase.session, true)}>
            {phase.waiting ? 'Waiting for the other tab to close…' : 'Use Parley here'}
          </button>
        </div>
      );
    case 'error':
      return (
        <div class="splash">
          <h2>Something went wrong</h2>
          <p class="error">{phase.message}</p>
          <button
            class="primary"
            onClick={() => {
              const s = loadSession();
              if (s) void open(s);
              else setPhase({ kind: 'auth' });
            }}
          >
            Try again
          </button>
          <button
            class="ghost"
            onClick={() => {
              saveSession(null);
              setPhase({ kind: 'auth' });
            }}
          >
            Sign out
          </button>
        </div>
      );
    case 'ready':
      return (
        <Main
          client={phase.client}
          onSignOut={async () => {
            await phase.client.logout();
            location.reload();
          }}
        />
      );
  }
}

const PANEL_TITLES: Record<Exclude<Panel, null>, string> = {
  'new-chat': 'New chat',
  'new-group': 'New group',
  devices: 'Your devices',
  group: 'Group info',
  safety: 'Safety number',
};

function Main({ client, onSignOut }: { client: ParleyClient; onSignOut: () => void }) {
  const [selected, setSelected] = useState<string | null>(() => sessionStorage.getItem('parley.selected'));
  const [focusSeq, setFocusSeq] = useState<number | undefined>();
  const [panel, setPanel] = useState<Panel>(null);
  const select = (id: string, seq?: number) => {
    setSelected(id);
    setFocusSeq(seq);
    sessionStorage.setItem('parley.selected', id);
    if (panel === 'group' || panel === 'safety') setPanel(null);
  };
  const conv = selected ? client.state.conversations.get(selected) : undefined;
  return (
    <div class={selected ? 'app has-chat' : 'app'}>
      <Sidebar client={client} selected={selected} onSelect={select} onPanel={setPanel} onSignOut={onSignOut} />
      <main class="main">
        {selected && conv ? (
          <Chat key={selected} client={client} conversationId={selected} focusSeq={focusSeq} onPanel={setPanel} />
        ) : (
          <div class="empty-chat">
            <div class="logo big">P</div>
            <h2>Welcome, {client.me.username}</h2>
            <p class="muted">Pick a conversation, or start a new one. Messages and files are end-to-end encrypted.</p>
          </div>
        )}
      </main>
      {panel && (
        <div class="drawer" role="dialog" aria-label={PANEL_TITLES[panel]} data-testid={`panel-${panel}`}>
          <header>
            <h3>{PANEL_TITLES[panel]}</h3>
            <button class="icon" aria-label="Close" onClick={() => setPanel(null)} data-testid="close-panel">
              ✕
            </button>
          </header>
          {panel === 'new-chat' && (
            <NewChat
              client={client}
              onDone={(id) => {
                setPanel(null);
                select(id);
              }}
            />
          )}
          {panel === 'new-group' && (
            <NewGroup
              client={client}
              onDone={(id) => {
                setPanel(null);
                select(id);
              }}
            />
          )}
          {panel === 'devices' && <DevicesPanel client={client} />}
          {panel === 'group' && selected && <GroupPanel client={client} conversationId={selected} onLeft={() => setPanel(null)} />}
          {panel === 'safety' && conv?.peerUserId && <SafetyPanel client={client} peerUserId={conv.peerUserId} />}
        </div>
      )}
    </div>
  );
}

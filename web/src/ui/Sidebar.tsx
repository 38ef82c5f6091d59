import { useEffect, useState } from 'preact/hooks';
import type { ConvView, ParleyClient } from '../app/client';
import type { LocalMessage } from '../app/db';
import { errorText, initials, timeLabel, useClientState } from './hooks';

export type Panel = null | 'new-chat' | 'new-group' | 'devices' | 'group' | 'safety';

export function Sidebar(props: { client: ParleyClient; selected: string | null; onSelect: (id: string, focusSeq?: number) => void; onPanel: (p: Panel) => void; onSignOut: () => void }) {
  const { client } = props;
  const state = useClientState(client);
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<LocalMessage[] | null>(null);

  useEffect(() => {
    const q = query.trim();
    if (!q) {
      setResults(null);
      return;
    }
    const t = setTimeout(() => void client.search(q).then(setResults), 150);
    return () => clearTimeout(t);
  }, [query, state.version]);

  const convs = client.sortedConversations();
  return (
    <aside class="sidebar">
      <header class="side-head">
        <div class="me">
          <div class="avatar small">{initials(client.me.username)}</div>
          <div>
            <div class="me-name" data-testid="me-name">
              {client.me.username}
            </div>
            <div class={state.connected ? 'conn ok' : 'conn'} data-testid="connection">
              {state.connected ? 'Connected' : state.connectionDetail === 'connecting' ? 'Connecting…' : 'Offline — reconnecting…'}
            </div>
          </div>
        </div>
        <div class="side-actions">
          <button class="icon" title="New chat" aria-label="New chat" onClick={() => props.onPanel('new-chat')} data-testid="new-chat">
            ✎
          </button>
          <button class="icon" title="New group" aria-label="New group" onClick={() => props.onPanel('new-group')} data-testid="new-group">
            ⊕
          </button>
          <button class="icon" title="Devices" aria-label="Devices" onClick={() => props.onPanel('devices')} data-testid="devices">
            ⚙
          </button>
          <button class="icon" title="Sign out" aria-label="Sign out" onClick={props.onSignOut} data-testid="sign-out">
            ⎋
          </button>
        </div>
      </header>
      <div class="search">
        <input type="search" placeholder="Search messages" value={query} onInput={(e) => setQuery(e.currentTarget.value)} data-testid="search" aria-label="Search messages" />
      </div>
      {results ? (
        <div class="list" data-testid="search-results">
          {results.length === 0 && <div class="empty small">No messages match “{query}”.</div>}
          {results.map((m) => (
            <button
              class="row result"
              key={m.message_id}
              data-testid="search-result"
              onClick={() => {
                setQuery('');
                props.onSelect(m.conversation_id, m.seq);
              }}
            >
              <div class="row-main">
                <div class="row-top">
                  <span class="title">{state.conversations.get(m.conversation_id)?.title ?? 'Conversation'}</span>
                  <span class="time">{timeLabel(m.created_at)}</span>
                </div>
                <div class="preview">
                  <b>{client.name(m.sender_id)}:</b> {m.text}
                </div>
              </div>
            </button>
          ))}
        </div>
      ) : (
        <div class="list" data-testid="conversation-list">
          {convs.length === 0 && (
            <div class="empty">
              <p>No conversations yet.</p>
              <button class="primary" onClick={() => props.onPanel('new-chat')}>
                Start a chat
              </button>
            </div>
          )}
          {convs.map((c) => (
            <ConvRow key={c.id} c={c} client={client} selected={props.selected === c.id} onClick={() => props.onSelect(c.id)} />
          ))}
        </div>
      )}
    </aside>
  );
}

function ConvRow({ c, client, selected, onClick }: { c: ConvView; client: ParleyClient; selected: boolean; onClick: () => void }) {
  const presence = c.peerUserId ? client.state.presence.get(c.peerUserId)?.status : undefined;
  const typing = client.typingIn(c.id);
  return (
    <button class={selected ? 'row selected' : 'row'} onClick={onClick} data-testid="conversation" data-title={c.title}>
      <div class="avatar">
        {c.type === 'group' ? '#' : initials(c.title)}
        {presence && <span class={`dot ${presence}`} data-testid="presence-dot" data-status={presence} />}
      </div>
      <div class="row-main">
        <div class="row-top">
          <span class="title">{c.title}</span>
          <span class="time">{timeLabel(c.lastAt)}</span>
        </div>
        <div class="row-bottom">
          <span class="preview" data-testid="preview">
            {typing.length ? <i>typing…</i> : c.lastText || <span class="muted">No messages yet</span>}
          </span>
          {c.unread > 0 && !selected && (
            <span class="badge" data-testid="unread">
              {c.unread}
            </span>
          )}
        </div>
      </div>
    </button>
  );
}

export function NewChat({ client, onDone }: { client: ParleyClient; onDone: (id: string) => void }) {
  const [name, setName] = useState('');
  const [error, setError] = useState('');
  return (
    <form
      class="panel-body"
      onSubmit={async (e) => {
        e.preventDefault();
        setError('');
        try {
          const c = await client.startDirect(name);
          onDone(c.id);
        } catch (err) {
          setError(errorText(err));
        }
      }}
    >
      <label>
        Username
        <input autoFocus value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="e.g. alice" data-testid="new-chat-username" />
      </label>
      {error && <div class="error">{error}</div>}
      <button class="primary" type="submit" data-testid="new-chat-start">
        Start chat
      </button>
    </form>
  );
}

export function NewGroup({ client, onDone }: { client: ParleyClient; onDone: (id: string) => void }) {
  const [name, setName] = useState('');
  const [members, setMembers] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  return (
    <form
      class="panel-body"
      onSubmit={async (e) => {
        e.preventDefault();
        setError('');
        setBusy(true);
        try {
          const g = await client.createGroup(name.trim(), members.split(/[\s,]+/));
          onDone(g.conversation_id);
        } catch (err) {
          setError(errorText(err));
        } finally {
          setBusy(false);
        }
      }}
    >
      <label>
        Group name
        <input autoFocus value={name} required maxLength={100} onInput={(e) => setName(e.currentTarget.value)} data-testid="group-name" />
      </label>
      <label>
        Members <span class="muted">(usernames, separated by commas)</span>
        <input value={members} onInput={(e) => setMembers(e.currentTarget.value)} placeholder="bob, carol" data-testid="group-members" />
      </label>
      {error && <div class="error">{error}</div>}
      <button class="primary" type="submit" disabled={busy} data-testid="group-create">
        Create group
      </button>
    </form>
  );
}

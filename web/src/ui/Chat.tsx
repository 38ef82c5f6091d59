import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { ParleyClient } from '../app/client';
import type { LocalMessage } from '../app/db';
import { errorText, formatBytes, initials, timeLabel, useClientState } from './hooks';
import type { Panel } from './Sidebar';
import { ClipIcon, FileIcon, LockIcon } from './icons';

export function Chat({ client, conversationId, focusSeq, onPanel }: { client: ParleyClient; conversationId: string; focusSeq?: number; onPanel: (p: Panel) => void }) {
  const state = useClientState(client);
  const conv = state.conversations.get(conversationId);
  const [messages, setMessages] = useState<LocalMessage[]>([]);
  const [hasMore, setHasMore] = useState(true);
  const [loading, setLoading] = useState(false);
  const [text, setText] = useState('');
  const [error, setError] = useState('');
  const listRef = useRef<HTMLDivElement>(null);
  const stickToBottom = useRef(true);
  const fileRef = useRef<HTMLInputElement>(null);

  // Initial load: local first, then the server's newest page.
  useEffect(() => {
    let cancelled = false;
    stickToBottom.current = true;
    setMessages([]);
    setHasMore(true);
    setError('');
    (async () => {
      setMessages(await client.localMessages(conversationId));
      if (conv && conv.lastSeq > 0) {
        const more = await client.loadOlder(conversationId).catch(() => true);
        if (cancelled) return;
        setHasMore(more);
        const fresh = await client.localMessages(conversationId);
        if (!cancelled) setMessages(fresh);
        const lastOwn = [...fresh].reverse().find((m) => m.sender_id === client.me.userId && m.state === 'ok');
        if (lastOwn) void client.refreshReceipts(conversationId, lastOwn);
      } else setHasMore(false);
      if (conv?.groupId) void client.group(conversationId, true).catch(() => undefined);
    })();
    return () => {
      cancelled = true;
    };
  }, [conversationId]);

  // Live updates.
  useEffect(
    () =>
      client.onMessage((m) => {
        if (m.conversation_id !== conversationId) return;
        setMessages((prev) => {
          const without = prev.filter((x) => x.message_id !== m.message_id && x.message_id !== m.client_msg_id);
          if (m.state === 'failed' && m.message_id.startsWith('local-')) {
            setError(m.error ?? 'Sending failed');
            return without;
          }
          return [...without, m].sort((a, b) => a.seq - b.seq);
        });
      }),
    [conversationId],
  );

  // Mark read while visible.
  useEffect(() => {
    if (document.visibilityState === 'visible') client.markRead(conversationId);
  }, [conversationId, conv?.lastSeq, messages.length]);
  useEffect(() => {
    const f = () => document.visibilityState === 'visible' && client.markRead(conversationId);
    document.addEventListener('visibilitychange', f);
    return () => document.removeEventListener('visibilitychange', f);
  }, [conversationId]);

  useLayoutEffect(() => {
    const el = listRef.current;
    if (!el) return;
    if (focusSeq) {
      const target = el.querySelector(`[data-seq="${focusSeq}"]`);
      if (target) {
        target.scrollIntoView({ block: 'center' });
        target.classList.add('flash');
        return;
      }
    }
    if (stickToBottom.current) el.scrollTop = el.scrollHeight;
  }, [messages, focusSeq]);

  const loadOlder = async () => {
    if (loading || !hasMore) return;
    setLoading(true);
    const el = listRef.current!;
    const before = el.scrollHeight;
    try {
      const oldest = messages.find((m) => m.seq > 0 && m.state !== 'outbox')?.seq;
      const more = await client.loadOlder(conversationId, oldest);
      const older = await client.localMessages(conversationId, oldest);
      setHasMore(more);
      setMessages((prev) => [...older.filter((o) => !prev.some((p) => p.message_id === o.message_id)), ...prev].sort((a, b) => a.seq - b.seq));
      requestAnimationFrame(() => (el.scrollTop = el.scrollHeight - before));
    } catch (e) {
      setError(errorText(e));
    } finally {
      setLoading(false);
    }
  };

  const onScroll = () => {
    const el = listRef.current!;
    stickToBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
    if (el.scrollTop < 40) void loadOlder();
  };

  const send = async (e?: Event) => {
    e?.preventDefault();
    const t = text.trim();
    if (!t) return;
    setText('');
    setError('');
    stickToBottom.current = true;
    try {
      await client.sendText(conversationId, t);
    } catch (err) {
      setError(errorText(err));
      setText(t);
    }
  };

  const sendFiles = async (files: FileList | null) => {
    if (!files) return;
    setError('');
    for (const f of Array.from(files)) {
      try {
        await client.sendFile(conversationId, f);
      } catch (err) {
        setError(`${f.name}: ${errorText(err)}`);
      }
    }
    if (fileRef.current) fileRef.current.value = '';
  };

  if (!conv) return <div class="chat empty-chat">Conversation not found.</div>;
  const presence = conv.peerUserId ? state.presence.get(conv.peerUserId) : undefined;
  const typing = client.typingIn(conversationId);
  const changed = state.keyChanges.filter((k) => k.userId === conv.peerUserId || state.groups.get(conversationId)?.members.some((m) => m.user_id === k.userId));
  const group = state.groups.get(conversationId);
  const transfers = [...state.transfers.values()];

  return (
    <section class="chat" data-testid="chat" data-conversation={conversationId}>
      <header class="chat-head">
        <div class="avatar">{conv.type === 'group' ? '#' : initials(conv.title)}</div>
        <div class="chat-title">
          <h2 data-testid="chat-title">{conv.title}</h2>
          <div class="muted small" data-testid="chat-subtitle">
            {typing.length ? (
              <span class="typing" data-testid="typing">
                {typing.map((u) => client.name(u)).join(', ')} {typing.length > 1 ? 'are' : 'is'} typing…
              </span>
            ) : conv.type === 'group' ? (
              `${group?.members.length ?? '…'} members`
            ) : presence ? (
              presence.status === 'online' ? 'online' : presence.last_seen_at ? `last seen ${timeLabel(presence.last_seen_at)}` : presence.status
            ) : (
              'End-to-end encrypted'
            )}
          </div>
        </div>
        <div class="chat-actions">
          {conv.type === 'direct' ? (
            <button class="ghost" onClick={() => onPanel('safety')} data-testid="open-safety">
              <LockIcon /> Verify
            </button>
          ) : (
            <button class="ghost" onClick={() => onPanel('group')} data-testid="open-group">
              Group info
            </button>
          )}
        </div>
      </header>
      {changed.length > 0 && (
        <div class="banner warn" data-testid="key-change">
          {client.name(changed[0].userId)}’s security key changed. <button class="link" onClick={() => onPanel('safety')}>Compare safety numbers</button>
        </div>
      )}
      <div class="messages" ref={listRef} onScroll={onScroll} data-testid="messages">
        {hasMore && (
          <div class="load-older">
            <button class="ghost small" onClick={loadOlder} disabled={loading} data-testid="load-older">
              {loading ? 'Loading…' : 'Load older messages'}
            </button>
          </div>
        )}
        {!hasMore && messages.length === 0 && <div class="empty">No messages yet. Say hello — only the people in this chat can read it.</div>}
        {messages.map((m, i) => (
          <Bubble key={m.message_id} m={m} prev={messages[i - 1]} client={client} group={conv.type === 'group'} />
        ))}
      </div>
      {transfers.map((t, i) => (
        <div class="transfer" key={i} data-testid="transfer">
          <span>{t.label}</span>
          <progress max={t.total || 1} value={t.done} />
        </div>
      ))}
      {error && (
        <div class="error composer-error" role="alert" data-testid="chat-error">
          {error}
        </div>
      )}
      {conv.member ? (
        <form class="composer" onSubmit={send}>
          <input type="file" multiple ref={fileRef} class="hidden" onChange={(e) => void sendFiles(e.currentTarget.files)} data-testid="file-input" />
          <button type="button" class="icon" title="Attach a file" aria-label="Attach a file" onClick={() => fileRef.current?.click()}>
            <ClipIcon />
          </button>
          <textarea
            rows={1}
            placeholder="Write a message"
            value={text}
            data-testid="composer"
            onInput={(e) => {
              setText(e.currentTarget.value);
              client.sendTyping(conversationId);
            }}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && !e.shiftKey) {
                e.preventDefault();
                void send();
              }
            }}
          />
          <button class="primary" type="submit" disabled={!text.trim()} data-testid="send">
            Send
          </button>
        </form>
      ) : (
        <div class="composer muted" data-testid="not-member">
          You are no longer a member of this group.
        </div>
      )}
    </section>
  );
}

function Bubble({ m, prev, client, group }: { m: LocalMessage; prev?: LocalMessage; client: ParleyClient; group: boolean }) {
  if (m.system) {
    return (
      <div class="system" data-testid="system-message" data-seq={m.seq}>
        {m.text}
      </div>
    );
  }
  const mine = m.sender_id === client.me.userId;
  const showName = group && !mine && (!prev || prev.sender_id !== m.sender_id || prev.system);
  const tick = mine ? client.tickFor(m) : null;
  return (
    <div class={mine ? 'bubble-row mine' : 'bubble-row'} data-testid="message" data-seq={m.seq} data-state={m.state}>
      <div class={`bubble ${m.state}${m.plain ? ' plain' : ''}`}>
        {showName && <div class="sender">{client.name(m.sender_id)}</div>}
        {m.media ? <MediaView m={m} client={client} /> : <div class="text" data-testid="message-text">{m.state === 'pending' ? <i>Waiting for this message’s key…</i> : m.state === 'failed' ? <i title={m.error}>This message could not be decrypted.</i> : m.text}</div>}
        <div class="meta">
          {m.plain && (
            <span class="plain-marker" data-testid="plain-marker" title="Sent without end-to-end encryption: the server could read it">
              Not encrypted
            </span>
          )}
          {timeLabel(m.created_at)}
          {tick && (
            <span class={`tick ${tick}`} data-testid="tick" data-tick={tick} title={tick}>
              {tick === 'outbox' ? '…' : tick === 'sent' ? '✓' : '✓✓'}
            </span>
          )}
        </div>
      </div>
    </div>
  );
}

function MediaView({ m, client }: { m: LocalMessage; client: ParleyClient }) {
  const media = m.media!;
  const [url, setUrl] = useState<string | null>(null);
  const [progress, setProgress] = useState<[number, number] | null>(null);
  const [error, setError] = useState('');
  useEffect(() => () => void (url && URL.revokeObjectURL(url)), [url]);
  const fetchIt = async () => {
    setError('');
    setProgress([0, media.size]);
    try {
      const blob = await client.fetchMedia(media, (d, t) => setProgress([d, t]));
      const u = URL.createObjectURL(blob);
      setUrl(u);
      return u;
    } catch (e) {
      setError(errorText(e));
      return null;
    } finally {
      setProgress(null);
    }
  };
  const save = async () => {
    const u = url ?? (await fetchIt());
    if (!u) return;
    const a = document.createElement('a');
    a.href = u;
    a.download = media.file_name;
    a.click();
  };
  const thumb = m.thumbnail ? `data:${m.thumbnail.media_type};base64,${m.thumbnail.data}` : null;
  const isImage = media.media_type.startsWith('image/');
  const isVideo = media.media_type.startsWith('video/');
  return (
    <div class="media" data-testid="media" data-file={media.file_name}>
      {isImage && (url ? <img src={url} alt={media.file_name} class="full" data-testid="media-image" /> : thumb ? <img src={thumb} alt={media.file_name} class="thumb" data-testid="media-thumb" onClick={fetchIt} /> : null)}
      {isVideo && url && <video src={url} controls class="full" data-testid="media-video" />}
      <div class="file">
        <span class="file-icon">
          <FileIcon kind={isImage ? 'image' : isVideo ? 'video' : 'doc'} />
        </span>
        <div class="file-main">
          <div class="file-name">{media.file_name}</div>
          <div class="muted small">{formatBytes(media.size)}</div>
        </div>
        {(isImage || isVideo) && !url && (
          <button class="ghost small" onClick={fetchIt} data-testid="media-open">
            {isVideo ? 'Play' : 'View'}
          </button>
        )}
        <button class="ghost small" onClick={save} data-testid="media-save">
          Save
        </button>
      </div>
      {progress && <progress max={progress[1] || 1} value={progress[0]} data-testid="download-progress" />}
      {error && <div class="error small">{error}</div>}
      {url && <span class="hidden" data-testid="media-ready" />}
    </div>
  );
}

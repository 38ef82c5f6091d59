import { useEffect, useState } from 'preact/hooks';
import type { DeviceInfo } from '../api/types';
import type { ParleyClient } from '../app/client';
import { formatSafetyNumber } from '../protocol/safetyNumber';
import { errorText, initials, timeLabel, useClientState } from './hooks';

export function GroupPanel({ client, conversationId, onLeft }: { client: ParleyClient; conversationId: string; onLeft: () => void }) {
  const state = useClientState(client);
  const group = state.groups.get(conversationId);
  const [error, setError] = useState('');
  const [add, setAdd] = useState('');
  const [name, setName] = useState('');
  useEffect(() => void client.group(conversationId, true).catch((e) => setError(errorText(e))), [conversationId]);
  useEffect(() => setName(group?.name ?? ''), [group?.name]);
  if (!group) return <div class="panel-body">{error ? <div class="error">{error}</div> : 'Loading…'}</div>;
  const myRole = group.members.find((m) => m.user_id === client.me.userId)?.role;
  const canManage = myRole === 'owner' || myRole === 'admin';
  const run = (f: () => Promise<void>) => async () => {
    setError('');
    try {
      await f();
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <div class="panel-body" data-testid="group-panel">
      {canManage ? (
        <form
          class="inline"
          onSubmit={(e) => {
            e.preventDefault();
            void run(() => client.rename(conversationId, name.trim()))();
          }}
        >
          <input value={name} maxLength={100} onInput={(e) => setName(e.currentTarget.value)} aria-label="Group name" data-testid="rename-input" />
          <button class="ghost" type="submit" disabled={!name.trim() || name === group.name} data-testid="rename">
            Rename
          </button>
        </form>
      ) : (
        <h3>{group.name}</h3>
      )}
      <h4>{group.members.length} members</h4>
      <ul class="members">
        {group.members.map((m) => (
          <li key={m.user_id} data-testid="member" data-user={client.name(m.user_id)}>
            <div class="avatar small">{initials(client.name(m.user_id))}</div>
            <span class="grow">{client.name(m.user_id)}</span>
            {canManage && m.role !== 'owner' && m.user_id !== client.me.userId ? (
              <select value={m.role} onChange={(e) => void run(() => client.setRole(conversationId, m.user_id, e.currentTarget.value))()} aria-label="Role" data-testid="role">
                <option value="member">member</option>
                <option value="admin">admin</option>
              </select>
            ) : (
              <span class={`role ${m.role}`}>{m.role}</span>
            )}
            {canManage && m.role !== 'owner' && m.user_id !== client.me.userId && (
              <button class="ghost small danger" onClick={run(() => client.removeMember(conversationId, m.user_id))} data-testid="remove-member">
                Remove
              </button>
            )}
          </li>
        ))}
      </ul>
      {canManage && (
        <form
          class="inline"
          onSubmit={(e) => {
            e.preventDefault();
            void run(async () => {
              await client.addMember(conversationId, add);
              setAdd('');
            })();
          }}
        >
          <input placeholder="Add by username" value={add} onInput={(e) => setAdd(e.currentTarget.value)} data-testid="add-member-input" />
          <button class="ghost" type="submit" disabled={!add.trim()} data-testid="add-member">
            Add
          </button>
        </form>
      )}
      {error && <div class="error">{error}</div>}
      <p class="muted small">Removing someone gives the group new keys: they cannot read anything sent after.</p>
      <button
        class="danger wide"
        onClick={run(async () => {
          await client.leave(conversationId);
          onLeft();
        })}
        data-testid="leave-group"
      >
        Leave group
      </button>
    </div>
  );
}

export function SafetyPanel({ client, peerUserId }: { client: ParleyClient; peerUserId: string }) {
  const [number, setNumber] = useState<string | null>(null);
  const [verified, setVerified] = useState(false);
  const [error, setError] = useState('');
  useEffect(() => {
    client
      .safetyNumber(peerUserId)
      .then(async (n) => {
        setNumber(n);
        setVerified(await client.isVerified(peerUserId, n));
      })
      .catch((e) => setError(errorText(e)));
  }, [peerUserId]);
  const name = client.name(peerUserId);
  return (
    <div class="panel-body" data-testid="safety-panel">
      <p>
        Compare these numbers with {name}, in person or over a call you trust. If they match on both devices, nobody is
        in the middle of your conversation.
      </p>
      {error && <div class="error">{error}</div>}
      {number ? (
        <div class="safety" data-testid="safety-number" data-number={number}>
          {formatSafetyNumber(number).map((g, i) => (
            <span key={i}>{g}</span>
          ))}
        </div>
      ) : (
        !error && <p class="muted">Computing…</p>
      )}
      {number && (
        <button
          class={verified ? 'ghost wide' : 'primary wide'}
          onClick={async () => {
            await client.setVerified(peerUserId, verified ? null : number);
            setVerified(!verified);
          }}
          data-testid="mark-verified"
        >
          {verified ? '✓ Verified — clear' : 'Mark as verified'}
        </button>
      )}
      <p class="muted small">The number changes when {name} or you add or remove a device.</p>
    </div>
  );
}

export function DevicesPanel({ client }: { client: ParleyClient }) {
  const [devices, setDevices] = useState<DeviceInfo[] | null>(null);
  const [error, setError] = useState('');
  const load = () =>
    client.api
      .devices()
      .then((r) => setDevices(r.devices))
      .catch((e) => setError(errorText(e)));
  useEffect(() => void load(), []);
  return (
    <div class="panel-body" data-testid="devices-panel">
      <p class="muted small">Every device has its own keys. Remove a device you no longer use: it stops receiving new messages.</p>
      {error && <div class="error">{error}</div>}
      <ul class="members">
        {(devices ?? []).map((d) => (
          <li key={d.device_id} data-testid="device">
            <span class="grow">
              <b>{d.device_name || 'Device'}</b>
              {(d.current || d.device_id === client.me.deviceId) && <span class="role owner">this browser</span>}
              <div class="muted small">Last seen {timeLabel(d.last_seen_at || d.created_at)}</div>
            </span>
            {!(d.current || d.device_id === client.me.deviceId) && (
              <button
                class="ghost small danger"
                onClick={async () => {
                  try {
                    await client.api.revokeDevice(d.device_id);
                    await load();
                  } catch (e) {
                    setError(errorText(e));
                  }
                }}
              >
                Remove
              </button>
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}

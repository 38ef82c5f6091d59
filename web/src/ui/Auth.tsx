import { useState } from 'preact/hooks';
import { ApiError } from '../api/api';
import { ParleyClient } from '../app/client';
import type { Session } from '../app/session';
import { errorText } from './hooks';

export function Auth({ onSession }: { onSession: (s: Session) => void }) {
  const [mode, setMode] = useState<'login' | 'signup'>('login');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [display, setDisplay] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setError('');
    if (mode === 'signup' && !/^[a-z0-9_.]{3,32}$/.test(username.trim().toLowerCase())) {
      setError('Usernames are 3–32 characters: letters, digits, “_” and “.”.');
      return;
    }
    if (password.length < 8) {
      setError('Passwords have at least 8 characters.');
      return;
    }
    setBusy(true);
    try {
      const s = mode === 'signup' ? await ParleyClient.signup(username.trim().toLowerCase(), password, display.trim()) : await ParleyClient.login(username, password);
      onSession(s);
    } catch (err) {
      const status = err instanceof ApiError ? err.status : -1;
      setError(
        status === 409
          ? 'That username is taken.'
          : status === 401
            ? 'Wrong username or password.'
            : status === 429
              ? 'Too many attempts. Wait a minute and try again.'
              : status === 0
                ? 'Cannot reach the server. Check your connection.'
                : errorText(err),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="auth">
      <form class="auth-card" onSubmit={submit} data-testid="auth-form">
        <div class="brand">
          <div class="logo">P</div>
          <div>
            <h1>Parley</h1>
            <p class="muted">Private messaging, end-to-end encrypted.</p>
          </div>
        </div>
        <div class="tabs" role="tablist">
          <button type="button" class={mode === 'login' ? 'tab active' : 'tab'} onClick={() => setMode('login')} data-testid="tab-login">
            Sign in
          </button>
          <button type="button" class={mode === 'signup' ? 'tab active' : 'tab'} onClick={() => setMode('signup')} data-testid="tab-signup">
            Create account
          </button>
        </div>
        <label>
          Username
          <input name="username" autocomplete="username" value={username} onInput={(e) => setUsername(e.currentTarget.value)} required />
        </label>
        {mode === 'signup' && (
          <label>
            Display name <span class="muted">(optional)</span>
            <input name="display_name" value={display} onInput={(e) => setDisplay(e.currentTarget.value)} />
          </label>
        )}
        <label>
          Password
          <input name="password" type="password" autocomplete={mode === 'signup' ? 'new-password' : 'current-password'} value={password} onInput={(e) => setPassword(e.currentTarget.value)} required />
        </label>
        {error && (
          <div class="error" role="alert" data-testid="auth-error">
            {error}
          </div>
        )}
        <button class="primary wide" type="submit" disabled={busy} data-testid="auth-submit">
          {busy ? 'Please wait…' : mode === 'signup' ? 'Create account' : 'Sign in'}
        </button>
        <p class="muted small">Your keys are created in this browser and never leave it.</p>
      </form>
    </div>
  );
}

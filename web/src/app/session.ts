// The signed-in session, kept in localStorage (tokens, user and device ids, username).
export interface Session {
  userId: string;
  deviceId: string;
  username: string;
  accessToken: string;
  refreshToken: string;
}
const KEY = 'parley.session';
export const loadSession = (): Session | null => {
  try {
    return JSON.parse(localStorage.getItem(KEY) ?? 'null');
  } catch {
    return null;
  }
};
export const saveSession = (s: Session | null) => (s ? localStorage.setItem(KEY, JSON.stringify(s)) : localStorage.removeItem(KEY));
/** The device id this browser registered for a username (so a later login resumes it). */
export const deviceFor = (username: string): string | undefined => localStorage.getItem(`parley.device.${username}`) ?? undefined;
export const rememberDevice = (username: string, deviceId: string) => localStorage.setItem(`parley.device.${username}`, deviceId);

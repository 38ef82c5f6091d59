// One tab at a time holds an account's ratchet state: a Web Lock per account, held while the tab
// lives. A second tab gets `false` and shows "open in another tab"; it can wait for the lock.
export function acquireTabLock(name: string, wait: boolean): Promise<boolean> {
  if (!('locks' in navigator)) return Promise.resolve(true);
  return new Promise((resolve) => {
    void navigator.locks.request(name, { ifAvailable: !wait }, (lock) => {
      if (!lock) {
        resolve(false);
        return undefined;
      }
      resolve(true);
      return new Promise<void>(() => {}); // held until the tab closes
    });
  });
}

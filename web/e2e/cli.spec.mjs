// The C++ CLI (build/parley, PARLEY_CLI_BIN) and a browser user talk through one server: both
// directions of text, and a file from the CLI opened in the browser. Proves byte compatibility
// of X3DH, the Double Ratchet, sender keys, media and the message payload.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { assert, cliBin, expectText, newChat, newUser, openConversation, seesMessage, send, signup, suite, waitFor } from './lib.mjs';
import { gradientPng } from './png.mjs';

const run = promisify(execFile);

export default async () => {
  const bin = cliBin();
  if (!bin) {
    console.log('  ✗ cli › the parley CLI binary is missing (set PARLEY_CLI_BIN or build target parley)');
    return [0, 1];
  }
  const home = mkdtempSync(join(tmpdir(), 'parley-cli-'));
  let server;
  const cli = async (...args) => {
    const r = await run(bin, ['--server', server.api ?? server.base, '--profile', join(home, 'carl'), ...args], { env: { ...process.env, PARLEY_PASSWORD: 'cli password 123' }, timeout: 30000 });
    return r.stdout;
  };
  return suite('cli', [
    [
      'a CLI user and a browser user exchange messages both ways',
      async (ctx) => {
        server = ctx.server;
        await cli('signup', 'carl');
        const web = await newUser(ctx.browser, ctx.server, 'wendy');
        await signup(web);
        ctx.users = { web };
        // CLI → browser (the browser holds no session yet: X3DH from the CLI side).
        await cli('send', 'wendy', 'Hello from the C++ command line');
        const row = web.page.locator('[data-testid=conversation][data-title="carl"]');
        await row.waitFor({ timeout: 15000 });
        await openConversation(web, 'carl');
        await seesMessage(web, 'Hello from the C++ command line');
        // Browser → CLI.
        await send(web, 'Hello back from the browser');
        const out = await waitFor(async () => {
          const s = await cli('--json', 'sync');
          return s.includes('Hello back from the browser') ? s : (await cli('--json', 'history', 'wendy')).includes('Hello back from the browser') && 'history';
        }, 'the CLI to decrypt the browser message', 20000);
        assert(out, 'cli read the message');
        // A second round on the established sessions/chains.
        await cli('send', 'wendy', 'Second message from the CLI');
        await seesMessage(web, 'Second message from the CLI');
        await send(web, 'Second from the browser');
        await waitFor(async () => (await cli('--json', 'history', 'wendy')).includes('Second from the browser'), 'second message on the CLI', 20000);
      },
    ],
    [
      'files cross both ways',
      async ({ users: { web } }) => {
        const png = gradientPng(300, 200);
        const path = join(home, 'cli-photo.png');
        writeFileSync(path, png);
        await cli('send-file', 'wendy', path);
        const media = web.page.locator('[data-testid=media][data-file="cli-photo.png"]');
        await media.waitFor({ timeout: 20000 });
        await media.getByTestId('media-open').click();
        await media.getByTestId('media-image').waitFor({ timeout: 20000 });
        const size = await media.getByTestId('media-image').evaluate((img) => [img.naturalWidth, img.naturalHeight]);
        assert(size[0] === 300 && size[1] === 200, `image from the CLI decrypted in the browser: ${size}`);
        const doc = Buffer.from('A document from the browser\n'.repeat(5000));
        await web.page.getByTestId('file-input').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: doc });
        await waitFor(async () => (await web.page.locator('[data-testid=media][data-file="notes.txt"] >> xpath=ancestor::*[@data-state="ok"]').count()) > 0, 'file sent');
        const hist = await waitFor(async () => {
          const h = await cli('--json', 'history', 'wendy');
          return h.includes('notes.txt') ? h : null;
        }, 'file message on the CLI', 20000);
        const line = hist.split('\n').filter((l) => l.includes('notes.txt')).pop();
        const id = JSON.parse(line).message_id;
        const out = join(home, 'notes-out.txt');
        await cli('get-file', id, '--out', out);
        assert(readFileSync(out).equals(doc), 'the CLI decrypted the browser file byte for byte');
        await expectText(web.page.getByTestId('chat-title'), 'carl');
      },
    ],
  ]);
};

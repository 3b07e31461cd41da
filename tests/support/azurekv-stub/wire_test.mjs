// The Azure Key Vault stand-in against @azure/keyvault-keys (npm, tests/node_modules), Microsoft's
// client, over HTTPS with the stand-in's certificate (tlsOptions.ca): KeyClient.createEcKey and
// getKey (the SDK's challenge authentication: a first request without a token, the 401's
// WWW-Authenticate, then getToken for https://vault.azure.net/.default), CryptographyClient.sign
// (ES256 over a digest; the raw r||s answer checked with node:crypto in ieee-p1363 form against
// the JWK) and verify, a denied key (403 Forbidden), tokens from the managed-identity endpoint and
// from client credentials. Run from tests/; $AZUREKV_STUB is the stand-in. Exit 0/1/77.
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const require = createRequire(path.join(process.cwd(), 'package.json'));
let keys;
try {
  keys = require('@azure/keyvault-keys');
} catch (e) {
  console.log(`npm packages missing (${e.message})`);
  process.exit(process.env.CI === 'true' ? 1 : 77);
}

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
}
async function rejection(p) {
  try {
    await p;
    return null;
  } catch (e) {
    return e;
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'azurekv-wire-'));
const certFile = path.join(dir, 'cert.pem');
const stub = spawn('/usr/bin/python3', [process.env.AZUREKV_STUB, '--port', '0', '--tls-self-signed', certFile,
  '--client', 'app-id:app-secret'], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((resolve, reject) => {
  readline.createInterface({ input: stub.stdout }).once('line', (l) => resolve(l.split(' ').pop()));
  stub.once('exit', (c) => reject(new Error(`stand-in exited ${c}`)));
});
const vaultUrl = `https://127.0.0.1:${port}`;
const ca = fs.readFileSync(certFile);
const call = (method, p, headers, body) => new Promise((resolve, reject) => {
  const req = https.request(vaultUrl + p, { method, ca, headers }, (res) => {
    let data = '';
    res.on('data', (d) => { data += d; });
    res.on('end', () => resolve({ status: res.statusCode, body: data ? JSON.parse(data) : null }));
  });
  req.on('error', reject);
  req.end(body);
});
// A TokenCredential from the managed-identity endpoint, as ManagedIdentityCredential reads IMDS.
let scopesAsked = [];
const credential = {
  async getToken(scopes) {
    scopesAsked = [].concat(scopes);
    const r = await call('GET', '/metadata/identity/oauth2/token?api-version=2018-02-01&resource=' +
      encodeURIComponent(scopesAsked[0].replace(/\/\.default$/, '')), { Metadata: 'true' });
    return { token: r.body.access_token, expiresOnTimestamp: Number(r.body.expires_on) * 1000 };
  },
};
const options = { tlsOptions: { ca }, disableChallengeResourceVerification: true, retryOptions: { maxRetries: 0 } };
try {
  const client = new keys.KeyClient(vaultUrl, credential, options);
  const made = await client.createEcKey('release', { curve: 'P-256' });
  check(scopesAsked[0] === 'https://vault.azure.net/.default', `challenge answered: token for ${scopesAsked[0]}`);
  check(made.key.kty === 'EC' && made.key.crv === 'P-256' && made.properties.version, `createEcKey: ${made.id}`);
  const got = await client.getKey('release');
  check(got.id === made.id, 'getKey: the latest version');
  const jwk = { kty: 'EC', crv: 'P-256', x: Buffer.from(got.key.x).toString('base64url'), y: Buffer.from(got.key.y).toString('base64url') };
  const pub = crypto.createPublicKey({ key: jwk, format: 'jwk' });

  const crypt = new keys.CryptographyClient(got.id, credential, options);
  const message = Buffer.from('DSSEv1 28 application/vnd.in-toto+json 2 {}');
  const digest = crypto.createHash('sha256').update(message).digest();
  const signed = await crypt.sign('ES256', digest);
  check(signed.result.length === 64 && signed.keyID === got.id, 'sign ES256: a 64-byte r||s from the version signed');
  check(crypto.verify('sha256', message, { key: pub, dsaEncoding: 'ieee-p1363' }, Buffer.from(signed.result)),
    'node:crypto verifies it against the JWK');
  const verified = await crypt.verify('ES256', digest, signed.result);
  check(verified.result === true, 'verify accepts it');

  await call('POST', '/__stub/deny', {}, JSON.stringify({ key: 'release' }));
  const denied = await rejection(crypt.sign('ES256', digest));
  check(denied && denied.statusCode === 403 && denied.code === 'Forbidden', `a denied key: ${denied && denied.statusCode} ${denied && denied.code}`);

  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: 'app-id', client_secret: 'app-secret',
    scope: 'https://vault.azure.net/.default' }).toString();
  const cc = await call('POST', '/tenant/oauth2/v2.0/token', { 'Content-Type': 'application/x-www-form-urlencoded' }, form);
  check(cc.status === 200 && cc.body.access_token, 'client credentials: a token');
  const bad = await call('POST', '/tenant/oauth2/v2.0/token', { 'Content-Type': 'application/x-www-form-urlencoded' },
    form.replace('app-secret', 'nope'));
  check(bad.status === 401 && bad.body.error === 'invalid_client', 'a wrong client secret: 401 invalid_client');
  const noToken = await call('GET', '/keys/release?api-version=7.5', {});
  check(noToken.status === 401, 'no token: 401');
} catch (e) {
  check(false, `unexpected: ${e.stack || e}`);
} finally {
  stub.kill();
  fs.rmSync(dir, { recursive: true, force: true });
}
process.exit(failures ? 1 : 0);

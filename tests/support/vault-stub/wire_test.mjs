// The Vault stand-in against node-vault (npm, tests/node_modules), HashiCorp's community client:
// create and read a transit key, sign a digest (prehashed, as sigstore's hashivault client does) and
// verify the signature with node:crypto against the PEM the key read returned, verify through the
// API, a policy granting one key, a denied key, a revoked token, the 5xx fault, and JWT login (a signed token, a forged one). Run from tests/
// (node_modules); $VAULT_STUB is the stand-in. Exit 0 passed, 1 failed, 77 skipped.
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import readline from 'node:readline';

const require = createRequire(path.join(process.cwd(), 'package.json'));
let nodeVault;
try {
  nodeVault = require('node-vault');
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

const stub = spawn('/usr/bin/python3', [process.env.VAULT_STUB, '--port', '0', '--root-token', 'root-t'],
  { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((resolve, reject) => {
  readline.createInterface({ input: stub.stdout }).once('line', (l) => resolve(l.split(' ').pop()));
  stub.once('exit', (c) => reject(new Error(`stand-in exited ${c}`)));
});
const endpoint = `http://127.0.0.1:${port}`;
try {
  const root = nodeVault({ apiVersion: 'v1', endpoint, token: 'root-t' });
  const health = await root.health();
  check(health.initialized === true && health.sealed === false, 'sys/health: initialized, unsealed');

  await root.transitCreateKey({ name: 'release', type: 'ecdsa-p256' });
  const info = await root.transitReadKey({ name: 'release' });
  const latest = info.data.latest_version;
  const pem = info.data.keys[String(latest)].public_key;
  check(latest === 1 && info.data.type === 'ecdsa-p256' && info.data.supports_signing, 'key read: version 1, ecdsa-p256');
  const pub = crypto.createPublicKey(pem);
  check(pub.asymmetricKeyType === 'ec' && pub.asymmetricKeyDetails.namedCurve === 'prime256v1',
    'public_key is a P-256 SPKI PEM');

  const message = Buffer.from('{"payloadType":"application/vnd.in-toto+json"}');
  const digest = crypto.createHash('sha256').update(message).digest();
  const signed = await root.write('transit/sign/release/sha2-256', {
    input: digest.toString('base64'), prehashed: true, key_version: '0', signature_algorithm: 'pkcs1v15',
  });
  const m = /^vault:v(\d+):(.+)$/.exec(signed.data.signature);
  check(m && m[1] === '1' && signed.data.key_version === 1, `signature is vault:v1:<base64> (${signed.data.signature.slice(0, 12)}…)`);
  const der = Buffer.from(m[2], 'base64');
  check(crypto.verify('sha256', message, pub, der), 'node:crypto verifies the DER signature over the message');
  check(!crypto.verify('sha256', Buffer.concat([message, Buffer.from('x')]), pub, der), 'and not over another message');
  const v = await root.write('transit/verify/release/sha2-256',
    { input: digest.toString('base64'), prehashed: true, signature: signed.data.signature });
  check(v.data.valid === true, 'transit/verify accepts it');
  const unhashed = await root.write('transit/sign/release', { input: message.toString('base64') });
  check(crypto.verify('sha256', message, pub, Buffer.from(unhashed.data.signature.split(':')[2], 'base64')),
    'without prehashed Vault hashes the input (sha2-256 by default)');
  const short = await rejection(root.write('transit/sign/release/sha2-256', { input: 'AAAA', prehashed: true }));
  check(short && short.response.statusCode === 400, 'a prehashed input of the wrong length: 400');

  await root.transitCreateKey({ name: 'other', type: 'ecdsa-p256' });
  await root.addPolicy({ name: 'signer', rules: 'path "transit/sign/release*" { capabilities = ["update"] }\n' +
    'path "transit/keys/release" { capabilities = ["read"] }' });
  const made = await root.tokenCreate({ policies: ['signer'] });
  const token = made.auth.client_token;
  root.token = 'root-t';  // node-vault's tokenCreate switches the client to the token it made
  check(typeof token === 'string' && made.auth.policies.includes('signer'), 'token created with the signer policy');
  const limited = nodeVault({ apiVersion: 'v1', endpoint, token });
  const ok = await limited.write('transit/sign/release/sha2-256', { input: digest.toString('base64'), prehashed: true });
  check(ok.data.signature.startsWith('vault:v1:'), 'the policy lets the token sign with release');
  const readOk = await limited.transitReadKey({ name: 'release' });
  check(readOk.data.name === 'release', 'and read its key');
  const other = await rejection(limited.write('transit/sign/other/sha2-256', { input: digest.toString('base64'), prehashed: true }));
  check(other && other.response.statusCode === 403 && other.message === 'permission denied',
    `another key is denied: 403 ${other && other.message}`);
  await root.tokenRevoke({ token });
  const revoked = await rejection(limited.write('transit/sign/release/sha2-256', { input: digest.toString('base64'), prehashed: true }));
  check(revoked && revoked.response.statusCode === 403 && revoked.message === 'permission denied',
    'a revoked token: 403 permission denied');
  const missing = await rejection(root.transitReadKey({ name: 'nope' }));
  check(missing && missing.response.statusCode === 404, 'reading a missing key: 404');
  const nokey = await rejection(root.write('transit/sign/nope/sha2-256', { input: digest.toString('base64'), prehashed: true }));
  check(nokey && nokey.response.statusCode === 400 && /not found/.test(nokey.message), `signing with a missing key: 400 ${nokey && nokey.message}`);

  await fetch(`${endpoint}/__stub/fault`, { method: 'POST', body: JSON.stringify({ fault: '5xx:1' }) });
  const busy = await rejection(root.write('transit/sign/release/sha2-256', { input: digest.toString('base64'), prehashed: true }));
  check(busy && busy.response.statusCode === 500, 'fault 5xx:1: the next sign answers 500');
  const after = await root.write('transit/sign/release/sha2-256', { input: digest.toString('base64'), prehashed: true });
  check(after.data.signature.startsWith('vault:v1:'), 'and the one after succeeds');
  await root.write('transit/keys/release/rotate', {});
  const rotated = await root.transitReadKey({ name: 'release' });
  check(rotated.data.latest_version === 2 && rotated.data.keys['2'].public_key !== pem, 'rotate: version 2 with a new key');

  // JWT auth method (what a Kubernetes service-account token logs in with), static validation keys.
  const { publicKey: jwtPub, privateKey: jwtKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  await root.write('auth/jwt/config', { jwt_validation_pubkeys: [jwtPub.export({ type: 'spki', format: 'pem' })] });
  await root.write('auth/jwt/role/chains', { role_type: 'jwt', bound_audiences: ['vault'], user_claim: 'sub',
    token_policies: ['signer'] });
  const b64u = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${b64u({ alg: 'RS256', typ: 'JWT' })}.${b64u({ sub: 'system:serviceaccount:tekton-chains:c', aud: 'vault', iat: now, exp: now + 600 })}`;
  const jwt = `${unsigned}.${crypto.sign('sha256', Buffer.from(unsigned), jwtKey).toString('base64url')}`;
  const jwtClient = nodeVault({ apiVersion: 'v1', endpoint });
  const login = await jwtClient.jwtLogin({ role: 'chains', jwt });
  check(login.auth.client_token && login.auth.policies.includes('signer'), 'jwtLogin: a token with the role\'s policies');
  const viaJwt = await jwtClient.write('transit/sign/release/sha2-256', { input: digest.toString('base64'), prehashed: true });
  check(viaJwt.data.signature.startsWith('vault:v2:'), 'and it signs (the rotated key\'s version 2)');
  const forged = await rejection(nodeVault({ apiVersion: 'v1', endpoint }).jwtLogin({ role: 'chains', jwt: `${unsigned}.${Buffer.from('x').toString('base64url')}` }));
  check(forged && forged.response.statusCode === 400 && /signature/.test(forged.message), `a forged JWT: 400 ${forged && forged.message}`);
  const noRole = await rejection(nodeVault({ apiVersion: 'v1', endpoint }).jwtLogin({ role: 'other', jwt }));
  check(noRole && noRole.response.statusCode === 400, 'an unknown role: 400');
  const stats = await (await fetch(`${endpoint}/__stub/stats`)).json();
  check(stats.sign.release === 8 && stats.sign.other === 1 && stats.logins === 1 && stats.denied === 2, `stats: ${JSON.stringify(stats.sign)} sign calls, ${stats.denied} denied`);
} catch (e) {
  check(false, `unexpected: ${e.stack || e}`);
} finally {
  stub.kill();
}
process.exit(failures ? 1 : 0);

// The Google Cloud KMS stand-in against @google-cloud/kms (npm, tests/node_modules) in its REST
// fallback mode (google-gax over HTTP/1.1 JSON, numeric enums), pointed at it with apiEndpoint /
// port / protocol, authorised with a token from the stand-in's metadata-server endpoint:
// createKeyRing, createCryptoKey, listCryptoKeyVersions, getPublicKey (pemCrc32c checked here),
// asymmetricSign with digestCrc32c (signatureCrc32c checked here, signature verified by
// node:crypto), a bad digest checksum, a denied key, an unknown token. Run from tests/;
// $GCPKMS_STUB is the stand-in. Exit 0 passed, 1 failed, 77 skipped.
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import readline from 'node:readline';

const require = createRequire(path.join(process.cwd(), 'package.json'));
let kms, authLib;
try {
  kms = require('@google-cloud/kms');
  authLib = require(require.resolve('google-auth-library', { paths: [path.dirname(require.resolve('google-gax'))] }));
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
function crc32c(buf) {
  let crc = 0xFFFFFFFF;
  for (const b of buf) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82F63B78 : crc >>> 1;
  }
  return (crc ^ 0xFFFFFFFF) >>> 0;
}

const stub = spawn('/usr/bin/python3', [process.env.GCPKMS_STUB, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((resolve, reject) => {
  readline.createInterface({ input: stub.stdout }).once('line', (l) => resolve(Number(l.split(' ').pop())));
  stub.once('exit', (c) => reject(new Error(`stand-in exited ${c}`)));
});
const base = `http://127.0.0.1:${port}`;
const clientWith = (token) => {
  const auth = new authLib.OAuth2Client();
  auth.setCredentials({ access_token: token, expiry_date: Date.now() + 3600e3 });
  return new kms.KeyManagementServiceClient({ fallback: true, apiEndpoint: '127.0.0.1', port, protocol: 'http',
    authClient: auth, projectId: 'p' });
};
try {
  const md = await fetch(`${base}/computeMetadata/v1/instance/service-accounts/default/token`,
    { headers: { 'Metadata-Flavor': 'Google' } });
  const token = (await md.json()).access_token;
  check(md.status === 200 && token, 'metadata server: an access token');
  const noFlavor = await fetch(`${base}/computeMetadata/v1/instance/service-accounts/default/token`);
  check(noFlavor.status === 403, 'metadata server without Metadata-Flavor: 403');
  const client = clientWith(token);

  const parent = 'projects/p/locations/global';
  const [ring] = await client.createKeyRing({ parent, keyRingId: 'r' });
  check(ring.name === `${parent}/keyRings/r`, `createKeyRing: ${ring.name}`);
  const [key] = await client.createCryptoKey({ parent: ring.name, cryptoKeyId: 'release',
    cryptoKey: { purpose: 'ASYMMETRIC_SIGN', versionTemplate: { algorithm: 'EC_SIGN_P256_SHA256' } } });
  check(key.name === `${ring.name}/cryptoKeys/release` && key.purpose === 'ASYMMETRIC_SIGN',
    `createCryptoKey: ${key.name} (${key.purpose}, numeric enums decoded)`);
  const [versions] = await client.listCryptoKeyVersions({ parent: key.name, filter: 'state=ENABLED' });
  check(versions.length === 1 && versions[0].state === 'ENABLED' && versions[0].algorithm === 'EC_SIGN_P256_SHA256',
    'listCryptoKeyVersions: one ENABLED EC_SIGN_P256_SHA256 version');
  const name = versions[0].name;
  const [pk] = await client.getPublicKey({ name });
  check(Number(pk.pemCrc32c.value) === crc32c(Buffer.from(pk.pem)), 'getPublicKey: pemCrc32c matches the pem');
  const pub = crypto.createPublicKey(pk.pem);

  const message = Buffer.from('DSSEv1 28 application/vnd.in-toto+json 2 {}');
  const digest = crypto.createHash('sha256').update(message).digest();
  const [signed] = await client.asymmetricSign({ name, digest: { sha256: digest },
    digestCrc32c: { value: crc32c(digest) } });
  const sig = Buffer.from(signed.signature);
  check(signed.verifiedDigestCrc32c === true && signed.name === name, 'asymmetricSign: digest checksum verified');
  check(Number(signed.signatureCrc32c.value) === crc32c(sig), 'signatureCrc32c matches the signature');
  check(crypto.verify('sha256', message, pub, sig), 'node:crypto verifies the DER signature over the message');
  check(!crypto.verify('sha256', Buffer.concat([message, Buffer.from('x')]), pub, sig), 'and not over another message');

  const badCrc = await rejection(client.asymmetricSign({ name, digest: { sha256: digest },
    digestCrc32c: { value: crc32c(digest) ^ 1 } }));
  check(badCrc && badCrc.code === 400, `a wrong digestCrc32c: ${badCrc && badCrc.code} ${badCrc && badCrc.message}`);
  await fetch(`${base}/__stub/deny`, { method: 'POST', body: JSON.stringify({ key: key.name }) });
  const denied = await rejection(client.asymmetricSign({ name, digest: { sha256: digest } }));
  check(denied && denied.code === 403 && /useToSign/.test(denied.message), `a denied key: ${denied && denied.code}`);
  const anon = await rejection(clientWith('ya29.not-issued').getPublicKey({ name }));
  check(anon && anon.code === 401, `a token the server did not issue: ${anon && anon.code}`);
} catch (e) {
  check(false, `unexpected: ${e.stack || e}`);
} finally {
  stub.kill();
}
process.exit(failures ? 1 : 0);

// The Rekor v2 stand-in against Sigstore's own message definitions and verifier (npm,
// tests/node_modules): the request is made with @sigstore/protobuf-specs' CreateEntryRequest, the
// answer read with its TransparencyLogEntry and the body with its rekor v2 Entry (each must
// round-trip unchanged: nothing unknown, every type as protobuf JSON writes it, the body exactly
// JCS of the message), and @sigstore/verify verifies a bundle made from the answer (checkpoint
// signature, inclusion proof, body). Also: 409 with x-log-index, pure Ed25519 refused, the
// checkpoint and tiles of the read API. Run from tests/ (node_modules); $REKOR_V2_STUB is the
// stand-in. Exit 0 passed, 1 failed, 77 skipped (no npm packages; a failure under CI=true).
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const require = createRequire(path.join(process.cwd(), 'package.json'));
let specs, v2, verify, bundleLib;
try {
  specs = require('@sigstore/protobuf-specs');
  v2 = require('@sigstore/protobuf-specs/rekor/v2');
  verify = require('@sigstore/verify');
  bundleLib = require('@sigstore/bundle');
} catch (e) {
  console.log(`npm packages missing (${e.message})`);
  process.exit(process.env.CI === 'true' ? 1 : 77);
}

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
}
const canonical = (v) => (Array.isArray(v) ? `[${v.map(canonical).join(',')}]`
  : v && typeof v === 'object' ? `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`
    : JSON.stringify(v));
const b64 = (b) => Buffer.from(b).toString('base64');
// ts-proto's toJSON leaves out proto3 defaults ("0", "", []); so does protojson.
const dropDefaults = (v) => (Array.isArray(v) ? v.map(dropDefaults)
  : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v)
    .filter(([, x]) => x !== '0' && x !== '' && !(Array.isArray(x) && x.length === 0)).map(([k, x]) => [k, dropDefaults(x)]))
    : v);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rekor-v2-wire-'));
const stub = spawn('/usr/bin/python3', [process.env.REKOR_V2_STUB, '--port', '0', '--checkpoint-interval', '0.2',
  '--public-key-out', path.join(dir, 'log.pub')], { stdio: ['ignore', 'pipe', 'inherit'] });
const line = await new Promise((resolve) => readline.createInterface({ input: stub.stdout }).once('line', resolve));
const port = Number(line.split(' ')[2]);
const url = `http://127.0.0.1:${port}`;
const origin = `127.0.0.1:${port}`;

try {
  const signer = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const artifact = Buffer.from('an artifact ' + Date.now());
  const digest = crypto.createHash('sha256').update(artifact).digest();
  const signature = crypto.sign('sha256', artifact, signer.privateKey);
  const spki = signer.publicKey.export({ type: 'spki', format: 'der' });
  const request = v2.CreateEntryRequest.toJSON({
    spec: {
      $case: 'hashedRekordRequestV002',
      hashedRekordRequestV002: {
        digest,
        signature: {
          content: signature,
          verifier: { verifier: { $case: 'publicKey', publicKey: { rawBytes: spki } },
                      keyDetails: specs.PublicKeyDetails.PKIX_ECDSA_P256_SHA_256 },
        },
      },
    },
  });
  const post = (body) => fetch(`${url}/api/v2/log/entries`, { method: 'POST', body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' } });

  const res = await post(request);
  check(res.status === 201, `POST answers 201 (${res.status})`);
  const answer = await res.json();
  const tle = specs.TransparencyLogEntry.fromJSON(answer);
  check(canonical(specs.TransparencyLogEntry.toJSON(tle)) === canonical(dropDefaults(answer)),
    'the answer is a TransparencyLogEntry, unchanged by a round trip through its message type');
  check(tle.logIndex === '0' && tle.kindVersion.kind === 'hashedrekord' && tle.kindVersion.version === '0.0.2',
    'logIndex 0, kind hashedrekord 0.0.2');
  check(tle.inclusionPromise === undefined && (tle.integratedTime === '0' || tle.integratedTime === undefined),
    'no SET and no integrated time (Rekor v2)');
  const bodyText = tle.canonicalizedBody.toString('utf8');
  const entry = v2.Entry.fromJSON(JSON.parse(bodyText));
  check(canonical(v2.Entry.toJSON(entry)) === bodyText, 'the body is exactly the JCS of a rekor v2 Entry');
  const spec = entry.spec.spec;
  check(spec.$case === 'hashedRekordV002' && Buffer.compare(spec.hashedRekordV002.data.digest, digest) === 0 &&
        Buffer.compare(spec.hashedRekordV002.signature.content, signature) === 0, 'the body records our digest and signature');

  const logPem = fs.readFileSync(path.join(dir, 'log.pub'), 'utf8');
  const logDer = crypto.createPublicKey(logPem).export({ type: 'spki', format: 'der' });
  const keyId = crypto.createHash('sha256').update(logDer).digest();  // ECDSA: the SPKI's hash
  check(Buffer.compare(tle.logId.keyId, keyId) === 0, 'logId is the untruncated checkpoint key ID');
  const root = specs.TrustedRoot.fromJSON({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [{ baseUrl: url, hashAlgorithm: 'SHA2_256',
              publicKey: { rawBytes: b64(logDer), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start: '2000-01-01T00:00:00Z' } },
              logId: { keyId: b64(keyId) }, checkpointKeyId: { keyId: b64(keyId) } }],
    certificateAuthorities: [], ctlogs: [], timestampAuthorities: [],
  });
  const bundle = bundleLib.bundleFromJSON({
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: { publicKey: { hint: 'k' }, tlogEntries: [answer] },
    messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest: b64(digest) }, signature: b64(signature) },
  });
  const trust = verify.toTrustMaterial(root, () => ({ publicKey: signer.publicKey, validFor: () => true }));
  const verifier = new verify.Verifier(trust, { tlogThreshold: 1, ctlogThreshold: 0, timestampThreshold: 0 });
  let verified = true;
  try {
    verifier.verify(verify.toSignedEntity(bundle, artifact));
  } catch (e) {
    verified = false;
    console.log(`  ${e.code} ${e.message}`);
  }
  check(verified, '@sigstore/verify verifies a bundle made from the answer');

  const again = await post(request);
  check(again.status === 409 && again.headers.get('x-log-index') === '0', 'a duplicate gets 409 with x-log-index: 0');
  const err = await again.json();
  check(err.code === 6 && typeof err.message === 'string', 'the error body is grpc-gateway\'s {code, message}');

  const ed = crypto.generateKeyPairSync('ed25519');
  const pure = v2.CreateEntryRequest.toJSON({ spec: { $case: 'hashedRekordRequestV002', hashedRekordRequestV002: {
    digest, signature: { content: crypto.sign(null, digest, ed.privateKey), verifier: {
      verifier: { $case: 'publicKey', publicKey: { rawBytes: ed.publicKey.export({ type: 'spki', format: 'der' }) } },
      keyDetails: specs.PublicKeyDetails.PKIX_ED25519 } } } } });
  check((await post(pure)).status === 400, 'pure Ed25519 is refused with 400');

  const note = await (await fetch(`${url}/api/v2/checkpoint`)).text();
  const [text, sigs] = [note.slice(0, note.lastIndexOf('\n\n') + 1), note.slice(note.lastIndexOf('\n\n') + 2)];
  const m = /^\u2014 (\S+) (\S+)\n$/.exec(sigs);
  const raw = Buffer.from(m[2], 'base64');
  check(m[1] === origin && text.startsWith(`${origin}\n1\n`), 'the checkpoint names the origin and size 1');
  check(Buffer.compare(raw.subarray(0, 4), keyId.subarray(0, 4)) === 0 &&
        crypto.verify('sha256', Buffer.from(text), logPem, raw.subarray(4)), 'the checkpoint signature verifies');
  const tile = Buffer.from(await (await fetch(`${url}/api/v2/tile/0/000.p/1`)).arrayBuffer());
  const leaf = crypto.createHash('sha256').update(Buffer.concat([Buffer.from([0]), tle.canonicalizedBody])).digest();
  check(Buffer.compare(tile, leaf) === 0, 'tile 0/000.p/1 holds the entry\'s leaf hash');
  const entries = Buffer.from(await (await fetch(`${url}/api/v2/tile/entries/000.p/1`)).arrayBuffer());
  check(entries.readUInt16BE(0) === tle.canonicalizedBody.length &&
        Buffer.compare(entries.subarray(2), tle.canonicalizedBody) === 0, 'entry bundle 000.p/1 holds the body, length-prefixed');
  check((await fetch(`${url}/api/v2/tile/0/000`)).status === 404, 'a full tile that does not exist yet is 404');
} finally {
  stub.kill();
  fs.rmSync(dir, { recursive: true, force: true });
}
console.log(failures ? `${failures} failed` : 'all passed');
process.exit(failures ? 1 : 0);

// Independent check of a Sigstore bundle (v0.3 JSON) with @sigstore/verify (tests/node_modules),
// against a trusted root the test builds (its logs, timestamp authorities and CAs).
// Input on stdin: {"bundle", "trustedRoot", "publicKeyPem"? (key-based: the key the bundle's
// hint names), "artifact"? (base64, message signatures), "tlogThreshold", "timestampThreshold"}.
// Prints "verified" and exits 0, or prints the reason and exits 1.
//
// One adaptation, for DSSE bundles whose log entry is hashedrekord 0.0.2 (Rekor v2): their digest
// is SHA-256 of the envelope's PAE. @sigstore/verify learned that in 4.x (sigstore-js#1677,
// compareSignedDigest), which needs Node 22; the 3.1.1 installed here compares SHA-256 of the
// payload. When the installed verifier lacks compareSignedDigest, the digest comparison of such
// entries is done against the PAE, as 4.x does; every other check is the library's own.
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import path from 'node:path';

const require = createRequire(path.join(process.cwd(), 'package.json'));
const { bundleFromJSON } = require('@sigstore/bundle');
const { toSignedEntity, toTrustMaterial, Verifier } = require('@sigstore/verify');
const { TrustedRoot } = require('@sigstore/protobuf-specs');

const input = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));

function pae(type, payload) {
  const t = Buffer.from(type, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${t.length} `), t, Buffer.from(` ${payload.length} `), payload]);
}

try {
  const bundle = bundleFromJSON(input.bundle);
  const artifact = input.artifact ? Buffer.from(input.artifact, 'base64') : undefined;
  const entity = toSignedEntity(bundle, artifact);
  const content = entity.signature;
  const v2Dsse = bundle.content.$case === 'dsseEnvelope' &&
    entity.tlogEntries.some((e) => e.kindVersion.kind === 'hashedrekord' && e.kindVersion.version === '0.0.2');
  if (v2Dsse && typeof content.compareSignedDigest !== 'function') {
    const env = bundle.content.dsseEnvelope;
    const signedDigest = crypto.createHash('sha256').update(pae(env.payloadType, env.payload)).digest();
    content.compareDigest = (digest) => Buffer.compare(Buffer.from(digest), signedDigest) === 0;
  }
  const root = TrustedRoot.fromJSON(input.trustedRoot);
  const keyPem = input.publicKeyPem;
  const keys = (hint) => {
    if (!keyPem) throw new Error(`no public key for hint ${hint}`);
    return { publicKey: crypto.createPublicKey(keyPem), validFor: () => true };
  };
  const verifier = new Verifier(toTrustMaterial(root, keys), {
    tlogThreshold: input.tlogThreshold ?? 1,
    ctlogThreshold: 0,
    timestampThreshold: input.timestampThreshold ?? 1,
  });
  verifier.verify(entity);
  console.log('verified');
} catch (e) {
  console.log(`not verified: ${e.code || ''} ${e.message}`);
  process.exit(1);
}

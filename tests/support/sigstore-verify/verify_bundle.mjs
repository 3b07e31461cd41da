// The one independent Sigstore check of the tests: @sigstore/verify (tests/node_modules) on a
// bundle, against a trusted root, thresholds and an identity policy the test gives.
// Run with the tests folder (the one holding node_modules) as the working directory.
// Input on stdin, a JSON object:
//   what to verify, one of
//     "bundle": a Sigstore bundle (v0.1 or v0.3 JSON), as chainsd or a plugin built it;
//     "entry" + "envelope": a Rekor v1 entry as the log returns it (proof, SET) and the DSSE
//        envelope it logs; with "certPem" the Fulcio leaf is the verification material;
//     "layer": {"mediaType", "content" (base64), "annotations"}: a cosign .sig/.att layer (its
//        certificate/chain annotations the material, its cosign bundle annotation the tlog entry);
//     "envelope" alone, or "payload" + "signature" (base64): no tlog entry;
//   "artifact"? (base64): the signed bytes of a message signature;
//   "tamper"? "set" | "proof" | "payload": a bit flipped before verifying (must then fail);
//   the trust: "trustedRoot" as given, or built from "logPem" (the rekor-stub key) and "caPems"
//     ([intermediate, root] as fulcio-stub serves them); "publicKeyPem" for key-based bundles,
//     "hint"? to accept that key only for that hint;
//   "tlogThreshold"?, "timestampThreshold"? (default 1 each; the SET's integratedTime counts as a
//     timestamp), "san"? + "issuer"?: the identity the certificate must name.
// Prints "verified" and exits 0, or prints the reason and exits 1.
//
// One adaptation, for DSSE bundles whose log entry is hashedrekord 0.0.2 (Rekor v2): their digest
// is SHA-256 of the envelope's PAE. @sigstore/verify learned that in 4.x (sigstore-js#1677,
// compareSignedDigest), which needs Node 22; the 3.1.1 installed here compares SHA-256 of the
// payload. When the installed verifier lacks compareSignedDigest, the digest comparison of such
// entries is done against the PAE, as 4.x does; every other check is the library's own.
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { bundleInput } from './bundle_input.mjs';
import { keyFinder, trustedRootJSON } from './trust_input.mjs';

const require = createRequire(path.join(process.cwd(), 'package.json'));
const { bundleFromJSON } = require('@sigstore/bundle');
const { toSignedEntity, toTrustMaterial, Verifier } = require('@sigstore/verify');
const { TrustedRoot } = require('@sigstore/protobuf-specs');

function pae(type, payload) {
  const t = Buffer.from(type, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${t.length} `), t, Buffer.from(` ${payload.length} `), payload]);
}

function adaptRekorV2Dsse(bundle, entity) {
  const content = entity.signature;
  const v2Dsse = bundle.content.$case === 'dsseEnvelope' &&
    entity.tlogEntries.some((e) => e.kindVersion.kind === 'hashedrekord' && e.kindVersion.version === '0.0.2');
  if (!v2Dsse || typeof content.compareSignedDigest === 'function') return;
  const env = bundle.content.dsseEnvelope;
  const signedDigest = crypto.createHash('sha256').update(pae(env.payloadType, env.payload)).digest();
  content.compareDigest = (digest) => Buffer.compare(Buffer.from(digest), signedDigest) === 0;
}

try {
  const input = JSON.parse(fs.readFileSync(0, 'utf8'));
  const { json, artifact } = bundleInput(input);
  const bundle = bundleFromJSON(json);
  const entity = toSignedEntity(bundle, artifact);
  adaptRekorV2Dsse(bundle, entity);
  const trust = toTrustMaterial(TrustedRoot.fromJSON(trustedRootJSON(input)), keyFinder(input));
  const verifier = new Verifier(trust, {
    tlogThreshold: input.tlogThreshold ?? 1,
    ctlogThreshold: 0,
    timestampThreshold: input.timestampThreshold ?? 1,
  });
  const policy = {};
  if (input.san !== undefined) policy.subjectAlternativeName = input.san;
  if (input.issuer !== undefined) policy.extensions = { issuer: input.issuer };
  verifier.verify(entity, policy);
  console.log('verified');
} catch (e) {
  console.log(`not verified: ${e?.code ? `${e.code} ` : ''}${e?.message ?? e}`);
  process.exit(1);
}

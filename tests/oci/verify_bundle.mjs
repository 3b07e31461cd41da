// Independent check of what the oci plugin stored, with @sigstore/verify and the signer's public
// key as trust material (key-based: no Fulcio or CT log; no transparency-log entry required).
// stdin: {"publicKeyPem": "...", "hint": "...", and one of
//   "bundle": <a Sigstore bundle read back from a referrer>,
//   "envelope": <the DSSE envelope of a cosign .att layer>,
//   "payload"/"signature": <base64 of a cosign .sig layer and of its signature annotation>}
// The cosign layers are turned into bundles here, independently of the plugin's bundle code.
// Exit 0 when it verifies, 1 with the reason otherwise.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
const require = createRequire(process.cwd() + '/');
const { bundleFromJSON } = require('@sigstore/bundle');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');

let input = '';
for await (const chunk of process.stdin) input += chunk;
const a = JSON.parse(input);
try {
  const material = { publicKey: { hint: a.hint } };
  const mediaType = 'application/vnd.dev.sigstore.bundle.v0.3+json';
  let json = a.bundle;
  let artifact;
  if (a.envelope) {
    json = { mediaType, verificationMaterial: material, dsseEnvelope: a.envelope };
  } else if (a.payload) {
    artifact = Buffer.from(a.payload, 'base64');
    const digest = createHash('sha256').update(artifact).digest('base64');
    json = { mediaType, verificationMaterial: material,
             messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest }, signature: a.signature } };
  }
  const bundle = bundleFromJSON(json);
  const root = { certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [] };
  const trust = toTrustMaterial(root, { [a.hint]: { rawBytes: a.publicKeyPem } });
  const verifier = new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
  verifier.verify(toSignedEntity(bundle, artifact));
  console.log('verified');
} catch (e) {
  console.log('not verified: ' + (e && e.message ? e.message : e));
  process.exit(1);
}

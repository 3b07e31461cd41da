// Independent check of what chainsd logged: verifies a Sigstore bundle (v0.3 JSON) with
// @sigstore/verify against a trusted root naming the log's key. The bundle is either given
// ("bundle": one engine/tlog built) or built here from a Rekor entry as the log returns it and
// the DSSE envelope chainsd stored ("entry", "envelope").
// Input on stdin: {"bundle"|("entry","envelope"), "signerPem", "logPem", "artifact"? (base64, for
// message signatures), "tamper": "set"|"proof"|"payload"?}. Exit 0 when verified, 1 otherwise.
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import path from 'node:path';

const require = createRequire(path.join(process.cwd(), 'package.json'));
const { bundleFromJSON } = require('@sigstore/bundle');
const { toSignedEntity, toTrustMaterial, Verifier } = require('@sigstore/verify');
const { TrustedRoot } = require('@sigstore/protobuf-specs');

const input = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
const { signerPem, logPem, tamper } = input;
const hexToB64 = (h) => Buffer.from(h, 'hex').toString('base64');

function fromEntry(entry, envelope) {
const ip = entry.verification.inclusionProof;
const body = JSON.parse(Buffer.from(entry.body, 'base64').toString('utf8'));
const tlogEntry = {
  logIndex: String(entry.logIndex),
  logId: { keyId: hexToB64(entry.logID) },
  kindVersion: { kind: body.kind, version: body.apiVersion },
  integratedTime: String(entry.integratedTime),
  inclusionPromise: { signedEntryTimestamp: entry.verification.signedEntryTimestamp },
  inclusionProof: {
    logIndex: String(ip.logIndex),
    rootHash: hexToB64(ip.rootHash),
    treeSize: String(ip.treeSize),
    hashes: ip.hashes.map(hexToB64),
    checkpoint: { envelope: ip.checkpoint },
  },
  canonicalizedBody: entry.body,
};
const env = { payload: envelope.payload, payloadType: envelope.payloadType,
              signatures: envelope.signatures.map((s) => ({ sig: s.sig, keyid: s.keyid || '' })) };
return {
  mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
  verificationMaterial: { publicKey: { hint: 'chainsd' }, tlogEntries: [tlogEntry] },
  dsseEnvelope: env,
};
}

const json = input.bundle ?? fromEntry(input.entry, input.envelope);
const tlogEntry = json.verificationMaterial.tlogEntries[0];

if (tamper === 'set') {
  const s = Buffer.from(tlogEntry.inclusionPromise.signedEntryTimestamp, 'base64');
  s[s.length - 3] ^= 1;
  tlogEntry.inclusionPromise.signedEntryTimestamp = s.toString('base64');
} else if (tamper === 'proof') {
  if (tlogEntry.inclusionProof.hashes.length > 0) {
    const h = Buffer.from(tlogEntry.inclusionProof.hashes[0], 'base64');
    h[0] ^= 1;
    tlogEntry.inclusionProof.hashes[0] = h.toString('base64');
  } else {
    // A one-leaf tree has an empty proof (and sigstore-js checks against the checkpoint's root,
    // not rootHash): a proof with an extra hash is the tampering left.
    tlogEntry.inclusionProof.hashes.push(Buffer.alloc(32, 1).toString('base64'));
  }
} else if (tamper === 'payload') {
  if (json.dsseEnvelope) {
    const p = Buffer.from(json.dsseEnvelope.payload, 'base64');
    p[p.length - 2] ^= 1;
    json.dsseEnvelope.payload = p.toString('base64');
  } else {
    const a = Buffer.from(input.artifact, 'base64');
    a[a.length - 2] ^= 1;
    input.artifact = a.toString('base64');
  }
}

const bundle = bundleFromJSON(json);
const artifact = input.artifact ? Buffer.from(input.artifact, 'base64') : undefined;

const logDer = crypto.createPublicKey(logPem).export({ type: 'spki', format: 'der' });
// The checkpoint's signer name must appear in the log's base URL (as rekor.sigstore.dev does).
const trustedRoot = TrustedRoot.fromJSON({
  mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  tlogs: [{
    baseUrl: 'https://rekor-stub.invalid',
    hashAlgorithm: 'SHA2_256',
    publicKey: { rawBytes: logDer.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256',
                 validFor: { start: '2000-01-01T00:00:00Z' } },
    logId: { keyId: crypto.createHash('sha256').update(logDer).digest('base64') },
  }],
  certificateAuthorities: [], ctlogs: [], timestampAuthorities: [],
});
const signerKey = crypto.createPublicKey(signerPem);
const trust = toTrustMaterial(trustedRoot, () => ({ publicKey: signerKey, validFor: () => true }));

try {
  new Verifier(trust, { tlogThreshold: 1, ctlogThreshold: 0 }).verify(toSignedEntity(bundle, artifact));
  console.log('verified');
} catch (e) {
  console.log(`not verified: ${e.code || ''} ${e.message}`);
  process.exit(1);
}

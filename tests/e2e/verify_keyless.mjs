// Independent check of a keyless signature: a Sigstore bundle (v0.3) built from the Rekor entry,
// the DSSE envelope and the Fulcio certificate chainsd stored, verified by @sigstore/verify with
// a trusted root naming the fulcio-stub CA and the rekor-stub key, against an identity policy.
// Input on stdin: {"entry", "envelope", "certPem", "chainPems": [intermediate, root], "logPem",
// "san", "issuer"}. Exit 0 when verified, 1 otherwise (the reason on stdout).
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import path from 'node:path';

const require = createRequire(path.join(process.cwd(), 'package.json'));
const { bundleFromJSON } = require('@sigstore/bundle');
const { toSignedEntity, toTrustMaterial, Verifier } = require('@sigstore/verify');
const { TrustedRoot } = require('@sigstore/protobuf-specs');

const input = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
const { entry, envelope, certPem, chainPems, logPem, san, issuer } = input;
const hexToB64 = (h) => Buffer.from(h, 'hex').toString('base64');
const derB64 = (pem) => new crypto.X509Certificate(pem).raw.toString('base64');

const ip = entry.verification.inclusionProof;
const body = JSON.parse(Buffer.from(entry.body, 'base64').toString('utf8'));
const bundle = bundleFromJSON({
  mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
  verificationMaterial: {
    certificate: { rawBytes: derB64(certPem) },
    tlogEntries: [{
      logIndex: String(entry.logIndex),
      logId: { keyId: hexToB64(entry.logID) },
      kindVersion: { kind: body.kind, version: body.apiVersion },
      integratedTime: String(entry.integratedTime),
      inclusionPromise: { signedEntryTimestamp: entry.verification.signedEntryTimestamp },
      inclusionProof: {
        logIndex: String(ip.logIndex), rootHash: hexToB64(ip.rootHash), treeSize: String(ip.treeSize),
        hashes: ip.hashes.map(hexToB64), checkpoint: { envelope: ip.checkpoint },
      },
      canonicalizedBody: entry.body,
    }],
  },
  dsseEnvelope: { payload: envelope.payload, payloadType: envelope.payloadType,
                  signatures: envelope.signatures.map((s) => ({ sig: s.sig, keyid: s.keyid || '' })) },
});

const logDer = crypto.createPublicKey(logPem).export({ type: 'spki', format: 'der' });
const trustedRoot = TrustedRoot.fromJSON({
  mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  tlogs: [{
    baseUrl: 'https://rekor-stub.invalid',
    hashAlgorithm: 'SHA2_256',
    publicKey: { rawBytes: logDer.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256',
                 validFor: { start: '2000-01-01T00:00:00Z' } },
    logId: { keyId: crypto.createHash('sha256').update(logDer).digest('base64') },
  }],
  certificateAuthorities: [{
    subject: { organization: 'fulcio-stub', commonName: 'fulcio-stub intermediate' },
    uri: 'https://fulcio-stub.invalid',
    certChain: { certificates: chainPems.map((p) => ({ rawBytes: derB64(p) })) },
    validFor: { start: '2000-01-01T00:00:00Z' },
  }],
  ctlogs: [], timestampAuthorities: [],
});

try {
  new Verifier(toTrustMaterial(trustedRoot), { tlogThreshold: 1, ctlogThreshold: 0 })
    .verify(toSignedEntity(bundle), { subjectAlternativeName: san, extensions: { issuer } });
  console.log('verified');
} catch (e) {
  console.log(`not verified: ${e.code || ''} ${e.message}`);
  process.exit(1);
}

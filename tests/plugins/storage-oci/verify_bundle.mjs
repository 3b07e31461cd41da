// Independent check of what the oci plugin stored, with @sigstore/verify. The cosign layers are
// turned into Sigstore bundles here, independently of the plugin's bundle code.
// stdin: a JSON object with what to verify, one of
//   "bundle": <a Sigstore bundle read back from a referrer>,
//   "envelope": <the DSSE envelope of a cosign .att layer>,
//   "payload"/"signature": <base64 of a cosign .sig layer and of its signature annotation>,
//   "layer": {"mediaType", "content" (base64), "annotations"}: a cosign .sig or .att layer as the
//            registry holds it; its dev.sigstore.cosign/certificate becomes the verification
//            material and its dev.sigstore.cosign/bundle (Rekor's SET) the tlog entry,
// and the trust, one of
//   "publicKeyPem" + "hint": key-based (no Fulcio, no CT log, no transparency-log entry needed);
//   "keyless": {"caPems": [intermediate, root] as Fulcio serves them, "logPem": the Rekor key,
//               "san", "issuer"}: the certificate must chain to that CA, the SET must verify with
//               that key, its integratedTime must lie within the certificate's validity, and the
//               certificate must name that identity and OIDC issuer.
// Exit 0 when it verifies, 1 with the reason otherwise.
import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import { createRequire } from 'node:module';
const require = createRequire(process.cwd() + '/');
const { bundleFromJSON } = require('@sigstore/bundle');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');
const { TrustedRoot } = require('@sigstore/protobuf-specs');

const V01 = 'application/vnd.dev.sigstore.bundle+json;version=0.1';
const V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const derB64 = (pem) => new X509Certificate(pem).raw.toString('base64');
const pems = (text) => (text || '').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) || [];

// cosign's RekorBundle ({"SignedEntryTimestamp", "Payload": {body, integratedTime, logIndex,
// logID}}) as a bundle tlog entry with an inclusion promise (the SET); no inclusion proof exists
// in that annotation, hence bundle v0.1, which requires the promise.
function tlogEntry(cosignBundle) {
  const b = JSON.parse(cosignBundle);
  const body = JSON.parse(Buffer.from(b.Payload.body, 'base64').toString('utf8'));
  return {
    logIndex: String(b.Payload.logIndex),
    logId: { keyId: Buffer.from(b.Payload.logID, 'hex').toString('base64') },
    kindVersion: { kind: body.kind, version: body.apiVersion },
    integratedTime: String(b.Payload.integratedTime),
    inclusionPromise: { signedEntryTimestamp: b.SignedEntryTimestamp },
    canonicalizedBody: b.Payload.body,
  };
}

function layerBundle(layer, keyMaterial) {
  const ann = layer.annotations || {};
  const content = Buffer.from(layer.content, 'base64');
  let json;
  let artifact;
  if (layer.mediaType === 'application/vnd.dev.cosign.simplesigning.v1+json') {
    artifact = content;
    json = { messageSignature: { messageDigest: { algorithm: 'SHA2_256',
                                                  digest: createHash('sha256').update(content).digest('base64') },
                                 signature: ann['dev.cosignproject.cosign/signature'] } };
  } else if (layer.mediaType === 'application/vnd.dsse.envelope.v1+json') {
    const env = JSON.parse(content.toString('utf8'));
    json = { dsseEnvelope: { payload: env.payload, payloadType: env.payloadType,
                             signatures: env.signatures.map((s) => ({ sig: s.sig, keyid: s.keyid || '' })) } };
  } else {
    throw new Error(`not a cosign layer: ${layer.mediaType}`);
  }
  const tlogEntries = ann['dev.sigstore.cosign/bundle'] ? [tlogEntry(ann['dev.sigstore.cosign/bundle'])] : [];
  const cert = ann['dev.sigstore.cosign/certificate'];
  // As cosign reads the layer: the leaf from the certificate annotation, then the chain annotation.
  const material = cert
    ? { x509CertificateChain: { certificates: [...pems(cert), ...pems(ann['dev.sigstore.cosign/chain'])]
                                  .map((p) => ({ rawBytes: derB64(p) })) } }
    : keyMaterial;
  json.mediaType = tlogEntries.length ? V01 : V03;
  json.verificationMaterial = { ...material, tlogEntries };
  return { json, artifact };
}

function keylessTrust(k) {
  const logDer = createPublicKey(k.logPem).export({ type: 'spki', format: 'der' });
  return toTrustMaterial(TrustedRoot.fromJSON({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [{
      baseUrl: 'https://rekor-stub.invalid', hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: logDer.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256',
                   validFor: { start: '2000-01-01T00:00:00Z' } },
      logId: { keyId: createHash('sha256').update(logDer).digest('base64') },
    }],
    certificateAuthorities: [{
      subject: { organization: 'fulcio-stub', commonName: 'fulcio-stub' }, uri: 'https://fulcio-stub.invalid',
      certChain: { certificates: k.caPems.map((p) => ({ rawBytes: derB64(p) })) },
      validFor: { start: '2000-01-01T00:00:00Z' },
    }],
    ctlogs: [], timestampAuthorities: [],
  }));
}

let input = '';
for await (const chunk of process.stdin) input += chunk;
const a = JSON.parse(input);
try {
  const material = { publicKey: { hint: a.hint } };
  let json = a.bundle;
  let artifact;
  if (a.layer) {
    ({ json, artifact } = layerBundle(a.layer, material));
  } else if (a.envelope) {
    json = { mediaType: V03, verificationMaterial: { ...material, tlogEntries: [] }, dsseEnvelope: a.envelope };
  } else if (a.payload) {
    artifact = Buffer.from(a.payload, 'base64');
    const digest = createHash('sha256').update(artifact).digest('base64');
    json = { mediaType: V03, verificationMaterial: { ...material, tlogEntries: [] },
             messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest }, signature: a.signature } };
  }
  const bundle = bundleFromJSON(json);
  if (a.keyless) {
    new Verifier(keylessTrust(a.keyless), { tlogThreshold: 1, ctlogThreshold: 0, timestampThreshold: 1 })
      .verify(toSignedEntity(bundle, artifact), { subjectAlternativeName: a.keyless.san,
                                                  extensions: { issuer: a.keyless.issuer } });
  } else {
    const root = { certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [] };
    const trust = toTrustMaterial(root, { [a.hint]: { rawBytes: a.publicKeyPem } });
    new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 })
      .verify(toSignedEntity(bundle, artifact));
  }
  console.log('verified');
} catch (e) {
  console.log('not verified: ' + (e && e.code ? e.code + ' ' : '') + (e && e.message ? e.message : e));
  process.exit(1);
}

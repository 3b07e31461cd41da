// The Sigstore bundle (JSON) and artifact a verify_bundle.mjs input describes, built here
// independently of chainsd's own bundle code. See verify_bundle.mjs for the input keys.
import { createHash, X509Certificate } from 'node:crypto';

const V01 = 'application/vnd.dev.sigstore.bundle+json;version=0.1';
const V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const hexToB64 = (h) => Buffer.from(h, 'hex').toString('base64');
export const derB64 = (pem) => new X509Certificate(pem).raw.toString('base64');
const pems = (text) => (text || '').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) || [];
const dsse = (env) => ({ payload: env.payload, payloadType: env.payloadType,
                         signatures: env.signatures.map((s) => ({ sig: s.sig, keyid: s.keyid || '' })) });

// A Rekor v1 entry as the log returns it (inclusion proof and SET) as a bundle tlog entry.
function fromLoggedEntry(entry) {
  const ip = entry.verification.inclusionProof;
  const body = JSON.parse(Buffer.from(entry.body, 'base64').toString('utf8'));
  return {
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
  };
}

// cosign's RekorBundle annotation ({"SignedEntryTimestamp", "Payload": {body, integratedTime,
// logIndex, logID}}) as a tlog entry with an inclusion promise only (no proof: bundle v0.1).
function fromCosignBundle(cosignBundle) {
  const b = JSON.parse(cosignBundle);
  const body = JSON.parse(Buffer.from(b.Payload.body, 'base64').toString('utf8'));
  return {
    logIndex: String(b.Payload.logIndex),
    logId: { keyId: hexToB64(b.Payload.logID) },
    kindVersion: { kind: body.kind, version: body.apiVersion },
    integratedTime: String(b.Payload.integratedTime),
    inclusionPromise: { signedEntryTimestamp: b.SignedEntryTimestamp },
    canonicalizedBody: b.Payload.body,
  };
}

function messageSignature(artifact, signature) {
  const digest = createHash('sha256').update(artifact).digest('base64');
  return { messageDigest: { algorithm: 'SHA2_256', digest }, signature };
}

// A cosign .sig or .att layer as the registry holds it: its certificate (+ chain) annotations are
// the verification material, its cosign bundle annotation the tlog entry.
function fromLayer(layer, keyMaterial) {
  const ann = layer.annotations || {};
  const content = Buffer.from(layer.content, 'base64');
  let json;
  let artifact;
  if (layer.mediaType === 'application/vnd.dev.cosign.simplesigning.v1+json') {
    artifact = content;
    json = { messageSignature: messageSignature(content, ann['dev.cosignproject.cosign/signature']) };
  } else if (layer.mediaType === 'application/vnd.dsse.envelope.v1+json') {
    json = { dsseEnvelope: dsse(JSON.parse(content.toString('utf8'))) };
  } else {
    throw new Error(`not a cosign layer: ${layer.mediaType}`);
  }
  const tlogEntries = ann['dev.sigstore.cosign/bundle'] ? [fromCosignBundle(ann['dev.sigstore.cosign/bundle'])] : [];
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

function flipByte(b64, at) {
  const b = Buffer.from(b64, 'base64');
  b[at(b.length)] ^= 1;
  return b.toString('base64');
}

// "set": a bit of the SET flipped; "proof": a bit of the first proof hash flipped, or an extra
// hash when the proof is empty (a one-leaf tree: sigstore-js checks the checkpoint's root, not
// rootHash); "payload": a bit of the DSSE payload or of the artifact flipped.
function tamper(what, json, artifact) {
  const entry = json.verificationMaterial.tlogEntries[0];
  if (what === 'set') {
    entry.inclusionPromise.signedEntryTimestamp = flipByte(entry.inclusionPromise.signedEntryTimestamp, (n) => n - 3);
  } else if (what === 'proof') {
    const hashes = entry.inclusionProof.hashes;
    if (hashes.length > 0) hashes[0] = flipByte(hashes[0], () => 0);
    else hashes.push(Buffer.alloc(32, 1).toString('base64'));
  } else if (what === 'payload') {
    if (json.dsseEnvelope) json.dsseEnvelope.payload = flipByte(json.dsseEnvelope.payload, (n) => n - 2);
    else artifact[artifact.length - 2] ^= 1;
  } else {
    throw new Error(`unknown tamper: ${what}`);
  }
}

// { json, artifact (Buffer or undefined) } for the input `a`.
export function bundleInput(a) {
  const key = { publicKey: { hint: a.hint ?? 'chainsd' } };
  let json;
  let artifact = a.artifact ? Buffer.from(a.artifact, 'base64') : undefined;
  if (a.bundle) {
    json = structuredClone(a.bundle);
  } else if (a.layer) {
    ({ json, artifact } = fromLayer(a.layer, key));
  } else if (a.entry) {
    const material = a.certPem ? { certificate: { rawBytes: derB64(a.certPem) } } : key;
    json = { mediaType: V03, verificationMaterial: { ...material, tlogEntries: [fromLoggedEntry(a.entry)] },
             dsseEnvelope: dsse(a.envelope) };
  } else if (a.envelope) {
    json = { mediaType: V03, verificationMaterial: { ...key, tlogEntries: [] }, dsseEnvelope: a.envelope };
  } else if (a.payload) {
    artifact = Buffer.from(a.payload, 'base64');
    json = { mediaType: V03, verificationMaterial: { ...key, tlogEntries: [] },
             messageSignature: messageSignature(artifact, a.signature) };
  } else {
    throw new Error('nothing to verify: give bundle, layer, entry+envelope, envelope or payload+signature');
  }
  if (a.tamper) tamper(a.tamper, json, artifact);
  return { json, artifact };
}

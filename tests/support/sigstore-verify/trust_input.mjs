// The trusted root and key lookup a verify_bundle.mjs input describes: given as "trustedRoot", or
// built from "logPem" (a Rekor v1 log, as rekor-stub) and "caPems" (a Fulcio chain, as
// fulcio-stub); "publicKeyPem" (+ "hint") for key-based bundles.
import { createHash, createPublicKey } from 'node:crypto';
import { derB64 } from './bundle_input.mjs';

const SINCE = { start: '2000-01-01T00:00:00Z' };

function rekorV1Log(logPem) {
  const der = createPublicKey(logPem).export({ type: 'spki', format: 'der' });
  // The checkpoint's signer name must appear in the log's base URL (as rekor.sigstore.dev does).
  return { baseUrl: 'https://rekor-stub.invalid', hashAlgorithm: 'SHA2_256',
           publicKey: { rawBytes: der.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: SINCE },
           logId: { keyId: createHash('sha256').update(der).digest('base64') } };
}

function fulcioCa(caPems) {
  return { subject: { organization: 'fulcio-stub', commonName: 'fulcio-stub' }, uri: 'https://fulcio-stub.invalid',
           certChain: { certificates: caPems.map((p) => ({ rawBytes: derB64(p) })) }, validFor: SINCE };
}

export function trustedRootJSON(a) {
  if (a.trustedRoot) return a.trustedRoot;
  return { mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
           tlogs: a.logPem ? [rekorV1Log(a.logPem)] : [],
           certificateAuthorities: a.caPems ? [fulcioCa(a.caPems)] : [],
           ctlogs: [], timestampAuthorities: [] };
}

// The key for a bundle's hint: publicKeyPem, for any hint unless "hint" names the one it is for.
export function keyFinder(a) {
  return (hint) => {
    if (!a.publicKeyPem) throw new Error(`no public key for hint ${hint}`);
    if (a.hint !== undefined && hint !== a.hint) throw new Error(`no public key for hint "${hint}" (only "${a.hint}")`);
    return { publicKey: createPublicKey(a.publicKeyPem), validFor: () => true };
  };
}

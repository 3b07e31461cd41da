// The AWS KMS stand-in against @aws-sdk/client-kms (npm, tests/node_modules), AWS's own client
// (JSON 1.1 protocol, SigV4 by @smithy/signature-v4), pointed at it with `endpoint` over HTTPS:
// CreateKey, CreateAlias, GetPublicKey, Sign with MessageType DIGEST verified by node:crypto
// against the DER public key, Verify, DescribeKey by alias ARN; a wrong secret key is rejected as
// AWS rejects it (InvalidSignatureException), an unknown key id (UnrecognizedClientException), a
// denied key (AccessDeniedException), temporary credentials from STS AssumeRoleWithWebIdentity
// with and without their session token, the 5xx fault. Run from tests/; $AWSKMS_STUB is the
// stand-in. Exit 0 passed, 1 failed, 77 skipped.
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const require = createRequire(path.join(process.cwd(), 'package.json'));
let kmsLib, httpHandler;
try {
  kmsLib = require('@aws-sdk/client-kms');
  httpHandler = require('@smithy/node-http-handler');
} catch (e) {
  console.log(`npm packages missing (${e.message})`);
  process.exit(process.env.CI === 'true' ? 1 : 77);
}
const { KMSClient, CreateKeyCommand, CreateAliasCommand, GetPublicKeyCommand, SignCommand, VerifyCommand,
  DescribeKeyCommand } = kmsLib;

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

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'awskms-wire-'));
const certFile = path.join(dir, 'cert.pem');
const stub = spawn('/usr/bin/python3', [process.env.AWSKMS_STUB, '--port', '0', '--region', 'eu-west-1',
  '--credentials', 'AKIDWIRE:wire-secret', '--tls-self-signed', certFile, '--web-identity-token', 'jwt-ok'],
{ stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((resolve, reject) => {
  readline.createInterface({ input: stub.stdout }).once('line', (l) => resolve(l.split(' ').pop()));
  stub.once('exit', (c) => reject(new Error(`stand-in exited ${c}`)));
});
const endpoint = `https://127.0.0.1:${port}`;
const requestHandler = new httpHandler.NodeHttpHandler({
  httpsAgent: new https.Agent({ ca: fs.readFileSync(certFile) }),
});
const client = (credentials) => new KMSClient({ region: 'eu-west-1', endpoint, credentials, requestHandler,
  maxAttempts: 1 });
const stubPost = (what, doc) => new Promise((resolve, reject) => {
  const req = https.request(`${endpoint}/__stub/${what}`, { method: 'POST', ca: fs.readFileSync(certFile) }, (res) => {
    let body = '';
    res.on('data', (d) => { body += d; });
    res.on('end', () => resolve(body));
  });
  req.on('error', reject);
  req.end(typeof doc === 'string' ? doc : JSON.stringify(doc));
});
try {
  const kms = client({ accessKeyId: 'AKIDWIRE', secretAccessKey: 'wire-secret' });
  const made = await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }));
  const keyId = made.KeyMetadata.KeyId;
  check(made.KeyMetadata.Arn === `arn:aws:kms:eu-west-1:111122223333:key/${keyId}` &&
    made.KeyMetadata.SigningAlgorithms[0] === 'ECDSA_SHA_256', `CreateKey: ${made.KeyMetadata.Arn}`);
  await kms.send(new CreateAliasCommand({ AliasName: 'alias/release', TargetKeyId: keyId }));
  const pk = await kms.send(new GetPublicKeyCommand({ KeyId: 'alias/release' }));
  const pub = crypto.createPublicKey({ key: Buffer.from(pk.PublicKey), format: 'der', type: 'spki' });
  check(pk.KeyId === made.KeyMetadata.Arn && pub.asymmetricKeyDetails.namedCurve === 'prime256v1',
    'GetPublicKey by alias: the key ARN and a P-256 SPKI');
  const message = Buffer.from('DSSEv1 28 application/vnd.in-toto+json 2 {}');
  const digest = crypto.createHash('sha256').update(message).digest();
  const signed = await kms.send(new SignCommand({ KeyId: 'alias/release', Message: digest, MessageType: 'DIGEST',
    SigningAlgorithm: 'ECDSA_SHA_256' }));
  const sig = Buffer.from(signed.Signature);
  check(crypto.verify('sha256', message, pub, sig), 'Sign (DIGEST): node:crypto verifies the DER signature');
  check(!crypto.verify('sha256', Buffer.concat([message, Buffer.from('x')]), pub, sig), 'and not over another message');
  const v = await kms.send(new VerifyCommand({ KeyId: keyId, Message: digest, MessageType: 'DIGEST', Signature: sig,
    SigningAlgorithm: 'ECDSA_SHA_256' }));
  check(v.SignatureValid === true, 'Verify accepts it');
  const d = await kms.send(new DescribeKeyCommand({ KeyId: 'arn:aws:kms:eu-west-1:111122223333:alias/release' }));
  check(d.KeyMetadata.KeyId === keyId, 'DescribeKey by alias ARN');
  const short = await rejection(kms.send(new SignCommand({ KeyId: keyId, Message: digest.subarray(0, 20),
    MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' })));
  check(short && short.name === 'ValidationException', `a short digest: ${short && short.name}`);
  const wrongAlg = await rejection(kms.send(new SignCommand({ KeyId: keyId, Message: digest, MessageType: 'DIGEST',
    SigningAlgorithm: 'RSASSA_PSS_SHA_256' })));
  check(wrongAlg && wrongAlg.name === 'InvalidKeyUsageException', `an algorithm the key lacks: ${wrongAlg && wrongAlg.name}`);
  const nokey = await rejection(kms.send(new GetPublicKeyCommand({ KeyId: 'alias/nope' })));
  check(nokey && nokey.name === 'NotFoundException', `a missing alias: ${nokey && nokey.name}`);

  const badSecret = await rejection(client({ accessKeyId: 'AKIDWIRE', secretAccessKey: 'not-it' })
    .send(new GetPublicKeyCommand({ KeyId: keyId })));
  check(badSecret && badSecret.name === 'InvalidSignatureException' && badSecret.$metadata.httpStatusCode === 400,
    `a wrong secret key: ${badSecret && badSecret.name}`);
  const unknown = await rejection(client({ accessKeyId: 'AKIDNOBODY', secretAccessKey: 'x' })
    .send(new GetPublicKeyCommand({ KeyId: keyId })));
  check(unknown && unknown.name === 'UnrecognizedClientException', `an unknown access key: ${unknown && unknown.name}`);
  const wrongRegion = await rejection(new KMSClient({ region: 'us-west-2', endpoint, requestHandler, maxAttempts: 1,
    credentials: { accessKeyId: 'AKIDWIRE', secretAccessKey: 'wire-secret' } }).send(new GetPublicKeyCommand({ KeyId: keyId })));
  check(wrongRegion && wrongRegion.name === 'InvalidSignatureException', 'a credential scoped to another region');

  await stubPost('deny', { access_key: 'AKIDWIRE', key: 'alias/release' });
  const denied = await rejection(kms.send(new SignCommand({ KeyId: keyId, Message: digest, MessageType: 'DIGEST',
    SigningAlgorithm: 'ECDSA_SHA_256' })));
  check(denied && denied.name === 'AccessDeniedException' && /kms:Sign/.test(denied.message),
    `a denied key: ${denied && denied.name}: ${denied && denied.message}`);

  // Temporary credentials, as IRSA gets them (the STS query API, unsigned, answered in XML).
  const form = new URLSearchParams({ Action: 'AssumeRoleWithWebIdentity', Version: '2011-06-15',
    RoleArn: 'arn:aws:iam::111122223333:role/chains', RoleSessionName: 'wire', WebIdentityToken: 'jwt-ok' });
  const xml = await new Promise((resolve, reject) => {
    const req = https.request(endpoint + '/', { method: 'POST', ca: fs.readFileSync(certFile),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end(form.toString());
  });
  const field = (n) => (new RegExp(`<${n}>([^<]+)</${n}>`).exec(xml) || [])[1];
  check(/^ASIA/.test(field('AccessKeyId') || '') && field('SessionToken'), 'AssumeRoleWithWebIdentity: temporary credentials');
  const temp = { accessKeyId: field('AccessKeyId'), secretAccessKey: field('SecretAccessKey') };
  const noToken = await rejection(client(temp).send(new GetPublicKeyCommand({ KeyId: keyId })));
  check(noToken && noToken.name === 'UnrecognizedClientException', 'temporary credentials without their session token');
  const withToken = await client({ ...temp, sessionToken: field('SessionToken') }).send(new GetPublicKeyCommand({ KeyId: keyId }));
  check(withToken.KeyId === made.KeyMetadata.Arn, 'and with it (X-Amz-Security-Token signed)');

  await stubPost('fault', { fault: '5xx:1' });
  const k2 = await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }));
  const busy = await rejection(kms.send(new SignCommand({ KeyId: k2.KeyMetadata.KeyId, Message: digest,
    MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' })));
  check(busy && busy.name === 'KMSInternalException' && busy.$metadata.httpStatusCode === 500, 'fault 5xx:1: KMSInternalException');
} catch (e) {
  check(false, `unexpected: ${e.stack || e}`);
} finally {
  stub.kill();
  fs.rmSync(dir, { recursive: true, force: true });
}
process.exit(failures ? 1 : 0);

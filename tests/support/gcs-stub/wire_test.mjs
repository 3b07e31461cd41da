// The GCS stand-in against Google's client library (@google-cloud/storage 7, with
// google-auth-library's metadata-server credentials): upload (multipart), list, download with
// crc32c and md5 validation, object metadata; refused tokens, unknown buckets and injected
// 5xx surface as the library's errors. Run by meson (suite integration). Exit 0 passed, 1 failed,
// 77 skipped (no npm packages; a failure under CI=true).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import assert from 'node:assert/strict';
import { createInterface } from 'node:readline';

let Storage;
try {
  ({ Storage } = await import('@google-cloud/storage'));
} catch (e) {
  console.log(`npm packages missing (${e.message})`);
  process.exit(process.env.CI === 'true' ? 1 : 77);
}

const stub = spawn('/usr/bin/python3', [process.env.GCS_STUB, '--port', '0', '--bucket', 'chains'],
  { stdio: ['ignore', 'pipe', 'inherit'] });
const [line] = await once(createInterface({ input: stub.stdout }), 'line');
const port = line.split(' ').pop();
const endpoint = `http://127.0.0.1:${port}`;
process.env.GCE_METADATA_HOST = `127.0.0.1:${port}`;
let failed = 0;
async function test(name, fn) {
  try { await fn(); console.log('ok   ' + name); } catch (e) { failed++; console.log('FAIL ' + name + ': ' + (e.stack || e)); }
}
try {
  const storage = new Storage({ apiEndpoint: endpoint, useAuthWithCustomEndpoint: true, projectId: 'stub-project',
                                retryOptions: { autoRetry: false } });
  const bucket = storage.bucket('chains');
  const bytes = Buffer.from('{"_type":"https://in-toto.io/Statement/v0.1"}\n\u00ff binary \u0000 tail');

  await test('upload (multipart) then download validated with crc32c and md5', async () => {
    await bucket.file('taskrun-ns-a/taskrun-u1.payload').save(bytes, { resumable: false, contentType: 'application/json' });
    const [crc] = await bucket.file('taskrun-ns-a/taskrun-u1.payload').download({ validation: 'crc32c' });
    assert.deepEqual(crc, bytes);
    const [md5] = await bucket.file('taskrun-ns-a/taskrun-u1.payload').download({ validation: 'md5' });
    assert.deepEqual(md5, bytes);
  });
  await test('object metadata: size, contentType, hashes', async () => {
    const [m] = await bucket.file('taskrun-ns-a/taskrun-u1.payload').getMetadata();
    assert.equal(Number(m.size), bytes.length);
    assert.equal(m.contentType, 'application/json');
    assert.ok(m.crc32c && m.md5Hash);
  });
  await test('list with a prefix', async () => {
    await bucket.file('pipelinerun-ns-b/pipelinerun-u2.signature').save('sig', { resumable: false });
    const [files] = await bucket.getFiles({ prefix: 'taskrun-' });
    assert.deepEqual(files.map(f => f.name), ['taskrun-ns-a/taskrun-u1.payload']);
    const [all] = await bucket.getFiles();
    assert.equal(all.length, 2);
  });
  await test('an unknown bucket is a 404 ApiError', async () => {
    await assert.rejects(storage.bucket('nope').file('x').save('x', { resumable: false }), e => e.code === 404);
  });
  await test('a missing object is a 404', async () => {
    await assert.rejects(bucket.file('absent').download(), e => e.code === 404);
  });
  await test('an injected 503 reaches the client as a 503', async () => {
    await fetch(endpoint + '/__stub/fault', { method: 'POST', body: JSON.stringify({ fault: '5xx:1' }) });
    await assert.rejects(bucket.file('y').save('y', { resumable: false }), e => e.code === 503);
  });
  await test('a request without a token is refused with 401', async () => {
    const anon = new Storage({ apiEndpoint: endpoint, projectId: 'stub-project', retryOptions: { autoRetry: false } });
    await assert.rejects(anon.bucket('chains').file('z').save('z', { resumable: false }), e => e.code === 401);
  });
} finally {
  stub.kill();
}
console.log(failed ? `${failed} failed` : 'all passed');
process.exit(failed ? 1 : 0);

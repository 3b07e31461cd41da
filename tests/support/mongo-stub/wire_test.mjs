// The MongoDB stand-in against the official `mongodb` npm driver (6.x): the legacy OP_QUERY
// handshake then OP_MSG, insert (document sequences), find, replaceOne with upsert, a duplicate
// _id as the driver's MongoServerError 11000, SCRAM-SHA-256 accepted and a wrong password refused,
// an injected NotWritablePrimary. Run by meson (suite integration).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import assert from 'node:assert/strict';
import { createInterface } from 'node:readline';
import { MongoClient, Binary } from 'mongodb';

function start(...args) {
  const p = spawn('/usr/bin/python3', [process.env.MONGO_STUB, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return once(createInterface({ input: p.stdout }), 'line').then(([line]) => ({ p, port: line.split(' ').pop() }));
}
const opts = { serverSelectionTimeoutMS: 3000, retryWrites: false, directConnection: true };
let failed = 0;
async function test(name, fn) {
  try { await fn(); console.log('ok   ' + name); } catch (e) { failed++; console.log('FAIL ' + name + ': ' + (e.stack || e)); }
}
const plain = await start();
const authed = await start('--user', 'chains', '--password', 's3cret-pw');
try {
  const client = new MongoClient(`mongodb://127.0.0.1:${plain.port}/`, opts);
  await client.connect();
  const coll = client.db('chains').collection('signatures');
  await test('insert then find reads the document back with its types', async () => {
    await coll.insertOne({ _id: 'k1', Name: 'k1', Signed: new Binary(Buffer.from('{"a":1}')), Object: { a: 1.5, b: [true, null, 'x'] } });
    const d = await coll.findOne({ _id: 'k1' });
    assert.equal(d.Name, 'k1');
    assert.equal(Buffer.from(d.Signed.buffer).toString(), '{"a":1}');
    assert.deepEqual(d.Object, { a: 1.5, b: [true, null, 'x'] });
  });
  await test('a duplicate _id is MongoServerError 11000', async () => {
    await assert.rejects(coll.insertOne({ _id: 'k1' }), e => e.code === 11000);
  });
  await test('replaceOne with upsert inserts, then replaces', async () => {
    let r = await coll.replaceOne({ _id: 'k2' }, { Name: 'k2', v: 1 }, { upsert: true });
    assert.equal(r.upsertedCount, 1);
    r = await coll.replaceOne({ _id: 'k2' }, { Name: 'k2', v: 2 }, { upsert: true });
    assert.equal(r.matchedCount, 1);
    assert.equal((await coll.findOne({ _id: 'k2' })).v, 2);
  });
  await test('find with a filter and toArray', async () => {
    const all = await coll.find({}).toArray();
    assert.deepEqual(all.map(d => d._id).sort(), ['k1', 'k2']);
    assert.deepEqual((await coll.find({ Name: 'k2' }).toArray()).map(d => d._id), ['k2']);
  });
  await test('an injected NotWritablePrimary reaches the driver', async () => {
    await client.db('admin').command({ stubFault: 'not-primary:1' });
    await assert.rejects(coll.insertOne({ _id: 'k3' }), e => e.code === 10107);
    await coll.insertOne({ _id: 'k3' });
  });
  await client.close();

  const good = new MongoClient(`mongodb://chains:s3cret-pw@127.0.0.1:${authed.port}/?authSource=admin`, opts);
  await test('SCRAM-SHA-256 with the right password', async () => {
    await good.connect();
    await good.db('chains').collection('c').insertOne({ _id: 'a' });
    assert.equal((await good.db('chains').collection('c').findOne({ _id: 'a' }))._id, 'a');
  });
  await good.close();
  await test('a wrong password is AuthenticationFailed', async () => {
    const bad = new MongoClient(`mongodb://chains:wrong@127.0.0.1:${authed.port}/?authSource=admin`, opts);
    await assert.rejects(bad.connect(), e => /Authentication failed/.test(e.message));
    await bad.close();
  });
  await test('without credentials, writes are Unauthorized (13)', async () => {
    const anon = new MongoClient(`mongodb://127.0.0.1:${authed.port}/`, opts);
    await anon.connect();
    await assert.rejects(anon.db('chains').collection('c').insertOne({ _id: 'b' }), e => e.code === 13);
    await anon.close();
  });
} finally {
  plain.p.kill();
  authed.p.kill();
}
console.log(failed ? `${failed} failed` : 'all passed');
process.exit(failed ? 1 : 0);

// Reads a collection back with the official `mongodb` driver and prints it as one line of
// canonical Extended JSON (types kept: {"$binary": ...}, {"$numberDouble": ...}), for the e2e tests.
//   node read_docs.mjs MONGODB_URL DATABASE COLLECTION
import { MongoClient } from 'mongodb';
import { EJSON } from 'bson';

const [url, db, coll] = process.argv.slice(2);
const client = new MongoClient(url, { serverSelectionTimeoutMS: 5000, directConnection: true });
try {
  await client.connect();
  const docs = await client.db(db).collection(coll).find({}).toArray();
  console.log(EJSON.stringify(docs, { relaxed: false }));
} finally {
  await client.close();
}

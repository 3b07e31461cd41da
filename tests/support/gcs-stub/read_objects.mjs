// Reads objects back from a GCS endpoint with Google's own client (@google-cloud/storage),
// authenticated through the metadata server (GCE_METADATA_HOST), downloads validated against
// the x-goog-hash the server sends. Usage: node read_objects.mjs ENDPOINT METADATA_HOST BUCKET PREFIX
// Prints one JSON line {objectName: base64 content}.
const [endpoint, metadataHost, bucket, prefix] = process.argv.slice(2);
process.env.GCE_METADATA_HOST = metadataHost;
const { Storage } = await import('@google-cloud/storage');
const storage = new Storage({ apiEndpoint: endpoint, useAuthWithCustomEndpoint: true, projectId: 'stub-project' });
const [files] = await storage.bucket(bucket).getFiles({ prefix });
const out = {};
for (const f of files) {
  const [data] = await f.download({ validation: 'crc32c' });
  out[f.name] = data.toString('base64');
}
console.log(JSON.stringify(out));

// Runs graphql-http's server audit against GRAPHQL_URL (or the first argument) and prints
// one JSON array: [{id, name, status: "ok" | "warn" | "error", reason?}], one entry per audit.
// The name starts with MUST, SHOULD or MAY. Exits 0 whatever the results; the caller judges.
import { auditServer } from 'graphql-http';

const url = process.argv[2] || process.env.GRAPHQL_URL;
if (!url) {
  console.error('usage: node audit.mjs <url of /graphql>');
  process.exit(2);
}
const results = await auditServer({ url });
const report = await Promise.all(results.map(async (result) => {
  const entry = { id: result.id, name: result.name, status: result.status };
  if (result.status !== 'ok') {
    entry.reason = result.reason;
    if (result.response) {
      entry.httpStatus = result.response.status;
      entry.body = await result.response.text().catch(() => '');
    }
  }
  return entry;
}));
console.log(JSON.stringify(report, null, 2));

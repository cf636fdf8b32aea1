// Checks an AsyncAPI document (the chat example's, from `chat asyncapi`) with the official
// AsyncAPI parser: it must parse with no error and no warning. A copy with a broken reference
// must be refused, which shows the parser really checks. Exits non-zero on any failure. Run by
// scripts/test.
import { readFileSync } from 'node:fs';
import { Parser } from '@asyncapi/parser';

const path = process.argv[2];
if (!path) throw new Error('usage: node validate.mjs ASYNCAPI.json');
const text = readFileSync(path, 'utf8');
const parser = new Parser();
const problems = async (source) => {
  const { document, diagnostics } = await parser.parse(source);
  // Severities: 0 error, 1 warning, 2 information, 3 hint.
  const serious = diagnostics.filter((d) => d.severity <= 1);
  return { document, serious, diagnostics };
};

const good = await problems(text);
for (const d of good.diagnostics) {
  console.log(`  ${['error', 'warning', 'info', 'hint'][d.severity]} ${d.code}: ${d.message} at ${d.path.join('.')}`);
}
if (!good.document || good.serious.length > 0) {
  console.error(`asyncapi: ${path} was refused`);
  process.exit(1);
}

const broken = JSON.parse(text);
const [operation] = Object.keys(broken.operations);
broken.operations[operation].messages = [{ $ref: '#/channels/socket/messages/missing' }];
const bad = await problems(JSON.stringify(broken));
if (bad.document || !bad.serious.some((d) => d.code === 'invalid-ref')) {
  console.error('asyncapi: a broken reference was not refused: the check checks nothing');
  process.exit(1);
}
console.log(`asyncapi: ${path} passes the AsyncAPI parser (and a broken copy does not)`);

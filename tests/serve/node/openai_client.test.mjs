// `gpt2 serve` driven by the official `openai` npm package (v6), unmodified:
// models, completions (plain, streamed, echo + logprobs, n, seed, stop), chat
// with the plain template (plain and streamed, with logprobs) and the errors as
// the client raises them. Run by CTest (tests/serve/CMakeLists):
//   node openai_client.test.mjs GPT2_BINARY MODEL_DIR
// Starts the server itself on 127.0.0.1 with a free port and an API key.
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const [binary, modelDir] = process.argv.slice(2);
if (!binary || !modelDir) {
  console.error('usage: node openai_client.test.mjs GPT2_BINARY MODEL_DIR');
  process.exit(2);
}

const server = spawn(binary, ['serve', '--model', modelDir, '--host', '127.0.0.1', '--port', '0',
                              '--api-key', 'node-test-key', '--chat-template', 'plain'], { stdio: ['ignore', 'ignore', 'pipe'] });
let log = '';
const port = await new Promise((resolve, reject) => {
  let port = 0;
  server.stderr.on('data', (d) => {
    log += d.toString();
    const m = log.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
    if (m) port = Number(m[1]);
    if (port && log.includes('gpt2 serve: loaded')) resolve(port);
  });
  server.on('exit', (code) => reject(new Error(`gpt2 serve exited (${code}): ${log}`)));
  setTimeout(() => reject(new Error('gpt2 serve did not start: ' + log)), 60000);
});

const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'node-test-key', maxRetries: 0 });
const PROMPT = 'Hello, my dog is cute';
const tests = [];
const test = (name, fn) => tests.push([name, fn]);

test('models.list and retrieve', async () => {
  const list = await client.models.list();
  const ids = [];
  for await (const m of list) ids.push(m.id);
  assert.deepEqual(ids, ['tiny-ref']);
  const m = await client.models.retrieve('tiny-ref');
  assert.equal(m.object, 'model');
});

let greedy = '';
test('completions: plain greedy', async () => {
  const r = await client.completions.create({ model: 'tiny-ref', prompt: PROMPT, max_tokens: 20, temperature: 0,
                                              ignore_eos: true });
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.prompt_tokens, 6);
  assert.equal(r.usage.completion_tokens, 20);
  greedy = r.choices[0].text;
  assert.ok(greedy.length > 0);
});

test('completions: streamed equals plain, usage last', async () => {
  const stream = await client.completions.create({ model: 'tiny-ref', prompt: PROMPT, max_tokens: 20,
                                                   temperature: 0, ignore_eos: true, stream: true,
                                                   stream_options: { include_usage: true } });
  let text = '';
  let usage = null;
  let finish = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      text += c.text;
      if (c.finish_reason) finish = c.finish_reason;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, greedy);
  assert.equal(finish, 'length');
  assert.equal(usage.completion_tokens, 20);
});

test('completions: echo + logprobs (the log-likelihood request)', async () => {
  const r = await client.completions.create({ model: 'tiny-ref', prompt: PROMPT, max_tokens: 0, echo: true,
                                              logprobs: 1 });
  const lp = r.choices[0].logprobs;
  assert.equal(r.choices[0].text, PROMPT);
  assert.equal(lp.tokens.length, 6);
  assert.equal(lp.token_logprobs[0], null);
  for (let i = 1; i < 6; i++) {
    assert.ok(lp.token_logprobs[i] < 0);
    assert.equal(Object.keys(lp.top_logprobs[i]).length, 1);
  }
  assert.deepEqual(lp.text_offset, [0, 5, 6, 9, 13, 16]);
});

test('completions: n and seed', async () => {
  const req = { model: 'tiny-ref', prompt: 'The quick brown fox', max_tokens: 12, n: 3, seed: 7, temperature: 1,
                ignore_eos: true };
  const a = await client.completions.create(req);
  const b = await client.completions.create(req);
  assert.equal(a.choices.length, 3);
  assert.deepEqual(a.choices.map((c) => c.text), b.choices.map((c) => c.text));
  assert.deepEqual(a.choices.map((c) => c.index), [0, 1, 2]);
  assert.notEqual(a.choices[0].text, a.choices[1].text);
});

test('completions: stop', async () => {
  const m = greedy.slice(1).match(/[A-Za-z]{2}/);  // two ASCII letters past the start
  assert.ok(m, `no ASCII letters in ${JSON.stringify(greedy)}`);
  const stop = m[0];
  const r = await client.completions.create({ model: 'tiny-ref', prompt: PROMPT, max_tokens: 20, temperature: 0,
                                              ignore_eos: true, stop: [stop] });
  assert.equal(r.choices[0].text, greedy.slice(0, greedy.indexOf(stop)));
  assert.equal(r.choices[0].finish_reason, 'stop');
});

test('chat: logprobs in the chat shape, plain and streamed', async () => {
  const req = { model: 'tiny-ref', messages: [{ role: 'user', content: 'Hello there' }], max_tokens: 8,
                temperature: 0, ignore_eos: true, logprobs: true, top_logprobs: 3 };
  const r = await client.chat.completions.create(req);
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices[0].message.role, 'assistant');
  const content = r.choices[0].logprobs.content;
  assert.equal(content.length, r.usage.completion_tokens);
  for (const e of content) {
    assert.ok(e.logprob <= 0);
    assert.ok(Array.isArray(e.bytes));
    assert.equal(e.top_logprobs.length, 3);
    assert.equal(e.top_logprobs[0].logprob, e.logprob);  // greedy: the most likely token
  }
  assert.equal(Buffer.from(content.flatMap((e) => e.bytes)).toString('utf8'), r.choices[0].message.content);
  const stream = await client.chat.completions.create({ ...req, stream: true });
  const streamed = [];
  let text = '';
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      if (c.delta.content) text += c.delta.content;
      if (c.logprobs) streamed.push(...c.logprobs.content);
    }
  }
  assert.equal(text, r.choices[0].message.content);
  assert.deepEqual(streamed, content);
  await assert.rejects(client.chat.completions.create({ ...req, top_logprobs: 21 }),
                       (e) => e instanceof OpenAI.BadRequestError && e.param === 'top_logprobs');
});

test('errors as the client raises them', async () => {
  await assert.rejects(client.completions.create({ model: 'tiny-ref', prompt: PROMPT, temperature: 5 }),
                       (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === 'temperature');
  await assert.rejects(client.completions.create({ model: 'gpt-4', prompt: PROMPT }),
                       (e) => e instanceof OpenAI.BadRequestError && e.code === 'model_not_found');
  await assert.rejects(client.completions.create({ model: 'tiny-ref', prompt: PROMPT, best_of: 3 }),
                       (e) => e instanceof OpenAI.BadRequestError && /best_of/.test(e.message));
  const bad = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'wrong', maxRetries: 0 });
  await assert.rejects(bad.models.list(), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
});

let failed = 0;
for (const [name, fn] of tests) {
  try {
    await fn();
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.stack || e}`);
  }
}
server.kill('SIGTERM');
const code = await new Promise((resolve) => server.on('exit', (c) => resolve(c)));
if (code !== 0) {
  failed++;
  console.log(`FAIL server exit code ${code}: ${log}`);
}
console.log(failed ? `${failed} failed` : 'all passed');
process.exit(failed ? 1 : 0);
